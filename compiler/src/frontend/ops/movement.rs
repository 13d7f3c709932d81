//! More data movement as index maps (wiring, no arithmetic): Trilu (zeros
//! outside the triangle), Split (one gather per output), Resize/Upsample in
//! `nearest` mode, and Where with a constant condition (a gather from
//! `[x, y]`); Where with a computed 0/1 condition is `y + c·(x - y)`.

use crate::error::Result;
use crate::frontend::graph::{Contract, FOp, Terms, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes, for_each_index, norm_axis, numel, strides};
use crate::frontend::ops::elementwise::weighted_sum;
use crate::frontend::{Builder, NodeCtx};

pub fn trilu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    if s.len() < 2 {
        return Err(ctx.shape_err(format!("input must have rank >= 2, got {s:?}")));
    }
    let k = match ctx.opt_input(1) {
        Some(v) => {
            let k = b.const_ints(ctx, v)?;
            *k.first().ok_or_else(|| ctx.shape_err("k is empty"))?
        }
        None => 0,
    };
    let upper = ctx.attrs().int_or("upper", 1) != 0;
    let (n, m) = (s[s.len() - 2], s[s.len() - 1]);
    let map = (0..numel(&s))
        .map(|f| {
            let (i, j) = (((f / m) % n) as i64, (f % m) as i64);
            let keep = if upper { j - i >= k } else { j - i <= k };
            if keep {
                f as u32
            } else {
                ir::ZERO_SRC
            }
        })
        .collect();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], s)?])
}

pub fn split(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let a = ctx.attrs();
    let axis = norm_axis(a.int_or("axis", 0), s.len()).ok_or_else(|| a.err("axis", "out of range"))?;
    let d = s[axis];
    let outputs = ctx.proto.output.len().max(1);
    let sizes: Vec<usize> = match (a.ints("split"), ctx.opt_input(1)) {
        (Some(v), _) => v.iter().map(|&x| x.max(0) as usize).collect(),
        (None, Some(v)) => b.const_ints(ctx, v)?.iter().map(|&x| x.max(0) as usize).collect(),
        (None, None) => {
            let n = a.int("num_outputs").map(|n| n.max(1) as usize).unwrap_or(outputs);
            let chunk = d.div_ceil(n);
            (0..n).map(|i| chunk.min(d.saturating_sub(i * chunk))).collect()
        }
    };
    if sizes.iter().sum::<usize>() != d {
        return Err(ctx.shape_err(format!("split sizes {sizes:?} do not sum to axis {axis}'s size {d}")));
    }
    let st = strides(&s);
    let mut outs = Vec::with_capacity(sizes.len());
    let mut start = 0usize;
    for (k, &len) in sizes.iter().enumerate() {
        let mut out = s.clone();
        out[axis] = len;
        let mut map = Vec::with_capacity(numel(&out));
        for_each_index(&out, |idx| {
            let f: usize =
                idx.iter().enumerate().map(|(dd, &i)| (if dd == axis { i + start } else { i }) * st[dd]).sum();
            map.push(f as u32);
        });
        let name = if k == 0 { ctx.name.clone() } else { ctx.sub(&format!("output{k}")) };
        outs.push(b.push(ctx, &name, FOp::Gather(map), vec![x], out)?);
        start += len;
    }
    Ok(outs)
}

/// Source index of output coordinate `o` along one axis (ONNX Resize, nearest).
fn nearest_src(o: usize, in_len: usize, out_len: usize, scale: f64, ctm: &str, nm: &str) -> Option<usize> {
    let (o, il, ol) = (o as f64, in_len as f64, out_len as f64);
    let x = match ctm {
        "half_pixel" => (o + 0.5) / scale - 0.5,
        "pytorch_half_pixel" => {
            if out_len > 1 {
                (o + 0.5) / scale - 0.5
            } else {
                0.0
            }
        }
        "align_corners" => {
            if out_len > 1 {
                o * (il - 1.0) / (ol - 1.0)
            } else {
                0.0
            }
        }
        "asymmetric" => o / scale,
        "tf_half_pixel_for_nn" => (o + 0.5) / scale,
        _ => return None,
    };
    let r = match nm {
        "round_prefer_floor" => {
            if x.fract() == 0.5 {
                x.floor()
            } else {
                x.round()
            }
        }
        "round_prefer_ceil" => {
            if x.fract() == 0.5 {
                x.ceil()
            } else {
                x.round()
            }
        }
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        // onnxruntime's rule for Upsample and Resize-10: floor when upsampling, ceil when downsampling.
        "simple" => {
            if scale < 1.0 {
                x.ceil()
            } else {
                x.floor()
            }
        }
        _ => return None,
    };
    Some(r.clamp(0.0, il - 1.0) as usize)
}

/// Resize (opset 10+) and Upsample in `nearest` mode; other modes are unsupported.
pub fn resize(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let a = ctx.attrs();
    let mode = a.string("mode").unwrap_or_else(|| "nearest".into());
    if mode != "nearest" {
        return Err(a.err("mode", format!("only \"nearest\" is supported, got {mode:?}")));
    }
    for key in ["antialias", "exclude_outside"] {
        if a.int_or(key, 0) != 0 {
            return Err(a.err(key, "only 0 is supported"));
        }
    }
    if a.string("keep_aspect_ratio_policy").is_some_and(|p| p != "stretch") || a.has("axes") {
        return Err(ctx.shape_err("only resizing every axis with the \"stretch\" policy is supported"));
    }
    // Upsample (opset 7-9) and Resize-10 use onnxruntime's legacy rule: asymmetric, floor/ceil.
    let legacy = ctx.op == "Upsample" || (ctx.proto.input.len() <= 2 && !a.has("coordinate_transformation_mode"));
    let (ctm, nm) = if legacy {
        ("asymmetric".to_string(), "simple".to_string())
    } else {
        (
            a.string("coordinate_transformation_mode").unwrap_or_else(|| "half_pixel".into()),
            a.string("nearest_mode").unwrap_or_else(|| "round_prefer_floor".into()),
        )
    };
    let floats = |v: ValueId| -> Result<Vec<f64>> { Ok(b.konst(v).ok_or_else(|| ctx.unsupported())?.to_f64()) };
    let (scales_in, sizes_in) = if ctx.op == "Upsample" && a.has("scales") {
        (a.floats("scales").map(|v| v.iter().map(|&f| f as f64).collect()), None)
    } else if legacy {
        (Some(floats(ctx.input(1)?)?), None)
    } else {
        let sc = ctx.opt_input(2).map(floats).transpose()?.filter(|v| !v.is_empty());
        let sz = ctx.opt_input(3).map(|v| b.const_ints(ctx, v)).transpose()?.filter(|v| !v.is_empty());
        (sc, sz)
    };
    let (out, scales): (Vec<usize>, Vec<f64>) = match (scales_in, sizes_in) {
        (_, Some(sz)) if sz.len() == s.len() => {
            let out: Vec<usize> = sz.iter().map(|&d| d.max(0) as usize).collect();
            let sc = out.iter().zip(&s).map(|(&o, &i)| if i == 0 { 1.0 } else { o as f64 / i as f64 }).collect();
            (out, sc)
        }
        (Some(sc), None) if sc.len() == s.len() && sc.iter().all(|&v| v > 0.0 && v.is_finite()) => {
            let out = s.iter().zip(&sc).map(|(&i, &f)| (i as f64 * f).floor() as usize).collect();
            (out, sc)
        }
        _ => return Err(ctx.shape_err(format!("scales or sizes must give one positive value per axis of {s:?}"))),
    };
    if !matches!(crate::frontend::index::numel_checked(&out), Some(n) if n <= crate::frontend::tensor::max_elements()) {
        return Err(ctx.shape_err(format!("resized shape {out:?} is too large")));
    }
    let mut src: Vec<Vec<usize>> = Vec::with_capacity(s.len());
    for d in 0..s.len() {
        let axis: Option<Vec<usize>> =
            (0..out[d]).map(|o| nearest_src(o, s[d], out[d], scales[d], &ctm, &nm)).collect();
        match axis {
            Some(v) => src.push(v),
            None if nearest_src(0, 1, 1, 1.0, &ctm, "floor").is_none() => {
                return Err(a.err("coordinate_transformation_mode", format!("{ctm:?} is not supported")))
            }
            None => return Err(a.err("nearest_mode", format!("{nm:?} is not supported"))),
        }
    }
    let st = strides(&s);
    let mut map = Vec::with_capacity(numel(&out));
    for_each_index(&out, |idx| map.push(idx.iter().enumerate().map(|(d, &i)| src[d][i] * st[d]).sum::<usize>() as u32));
    Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], out)?])
}

/// Where(c, x, y): a gather from `[x, y]` for a constant `c`; otherwise
/// `y + c·(x - y)`, exact for a 0/1 condition.
pub fn where_op(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (c, x, y) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?);
    let (sc, sx, sy) = (b.shape(c).to_vec(), b.shape(x).to_vec(), b.shape(y).to_vec());
    let out = broadcast_shapes(&sc, &sx)
        .and_then(|o| broadcast_shapes(&o, &sy))
        .ok_or_else(|| ctx.shape_err(format!("shapes {sc:?}, {sx:?}, {sy:?} do not broadcast")))?;
    let (mc, mx, my) = (broadcast_map(&sc, &out), broadcast_map(&sx, &out), broadcast_map(&sy, &out));
    if let Some(cond) = b.konst(c).map(|t| t.to_f64()) {
        let nx = numel(&sx) as u32;
        let map = (0..mc.len()).map(|o| if cond[mc[o] as usize] != 0.0 { mx[o] } else { nx + my[o] }).collect();
        return Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x, y], out)?]);
    }
    let d = weighted_sum(b, ctx, &ctx.sub("x_minus_y"), x, 1.0, y, -1.0, out.clone())?;
    let mut terms = Terms::new();
    for &i in &mc {
        terms.a_idx.push(i);
        terms.end_row();
    }
    terms.b_idx = (0..mc.len() as u32).collect();
    let p = b.push(ctx, &ctx.sub("select"), FOp::Contract(Contract { terms, bias: None }), vec![c, d], out.clone())?;
    Ok(vec![weighted_sum(b, ctx, &ctx.name, p, 1.0, y, 1.0, out)?])
}
