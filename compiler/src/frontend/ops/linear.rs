//! Products with a reduction: Gemm, MatMul (batched, numpy broadcasting) and
//! Conv (any number of spatial dims, groups, dilations, pads). Each becomes a
//! [`Contract`] whose index terms are computed once here; whichever operand
//! is constant becomes the weights when lowering.

use crate::error::Result;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes, for_each_index, numel, strides};
use crate::frontend::ops::elementwise::weighted_sum;
use crate::frontend::ops::pool::spatial;
use crate::frontend::ops::shape::transpose_map;
use crate::frontend::tensor::Tensor;
use crate::frontend::{Builder, NodeCtx};

/// Most multiply-accumulate terms one product with a constant operand may
/// have (weights: each term is two indices while lowering).
pub const MAX_TERMS: usize = 1 << 28;

/// Why a product of `work` terms is refused.
pub fn too_many_terms(work: u128) -> String {
    format!("{work} multiply-accumulate terms exceed the limit of {MAX_TERMS}")
}

/// The term cap of a product of `a` and `w`: [`MAX_TERMS`] with a constant
/// operand; for two computed tensors (activation x activation), where every
/// term is a circuit product and several words while lowering, the tighter
/// [`ir::limits::max_op_terms`].
fn product_cap(b: &Builder, a: ValueId, w: ValueId) -> (usize, &'static str) {
    if b.is_const(a) || b.is_const(w) {
        (MAX_TERMS, "")
    } else {
        (ir::limits::max_op_terms(), " (products of two computed tensors; raise it with ZKINFER_MAX_OP_TERMS)")
    }
}

/// Index terms of numpy `matmul(a, b)`: `(out_shape, terms)`, refused past
/// `cap` terms (`cap.1` says which cap) before any is built.
pub fn matmul_terms(
    sa: &[usize],
    sb: &[usize],
    cap: (usize, &str),
) -> std::result::Result<(Vec<usize>, Terms), String> {
    let shapes = || format!("cannot multiply {sa:?} by {sb:?}");
    if sa.is_empty() || sb.is_empty() {
        return Err(shapes());
    }
    let a2: Vec<usize> = if sa.len() == 1 { vec![1, sa[0]] } else { sa.to_vec() };
    let b2: Vec<usize> = if sb.len() == 1 { vec![sb[0], 1] } else { sb.to_vec() };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(shapes());
    }
    let (ba, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let batch = broadcast_shapes(ba, bb).ok_or_else(shapes)?;
    let (ma, mb) = (broadcast_map(ba, &batch), broadcast_map(bb, &batch));
    let mut out = batch.clone();
    if sa.len() > 1 {
        out.push(m);
    }
    if sb.len() > 1 {
        out.push(n);
    }
    let work = numel(&batch) as u128 * m as u128 * n as u128 * k as u128;
    if work > cap.0 as u128 {
        return Err(format!("{work} multiply-accumulate terms exceed the limit of {}{}", cap.0, cap.1));
    }
    let rows = numel(&batch) * m * n;
    let mut t = Terms::new();
    t.a_idx.reserve(rows * k);
    t.b_idx.reserve(rows * k);
    for (&oa, &ob) in ma.iter().zip(&mb) {
        let (oa, ob) = (oa as usize * m * k, ob as usize * k * n);
        for i in 0..m {
            for j in 0..n {
                for kk in 0..k {
                    t.a_idx.push((oa + i * k + kk) as u32);
                    t.b_idx.push((ob + kk * n + j) as u32);
                }
                t.end_row();
            }
        }
    }
    Ok((out, t))
}

/// `x * factor` elementwise.
fn scale(b: &mut Builder, ctx: &NodeCtx, x: ValueId, factor: f64) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    let n = numel(&shape);
    let aff = Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: (0..n as u32).collect(),
        weights: vec![factor; n],
        bias: vec![0.0; n],
    };
    b.push(ctx, &ctx.sub("alpha"), FOp::Affine(aff), vec![x], shape)
}

fn scaled_const(b: &mut Builder, ctx: &NodeCtx, v: ValueId, factor: f64) -> Option<ValueId> {
    let t = b.konst(v)?;
    let t = Tensor::float(t.shape.clone(), t.to_f64().iter().map(|x| x * factor).collect());
    Some(b.push_const(&ctx.sub("scaled"), t))
}

pub fn gemm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (mut a, mut w) = (ctx.input(0)?, ctx.input(1)?);
    let attrs = ctx.attrs();
    let (alpha, beta) = (attrs.float_or("alpha", 1.0), attrs.float_or("beta", 1.0));
    for (v, key) in [(&mut a, "transA"), (&mut w, "transB")] {
        let s = b.shape(*v).to_vec();
        if s.len() != 2 {
            return Err(ctx.shape_err(format!("Gemm operands must be 2-D, got {s:?}")));
        }
        if attrs.int_or(key, 0) != 0 {
            let (out, map) = transpose_map(&s, &[1, 0]);
            *v = b.push(ctx, &ctx.sub(key), FOp::Gather(map), vec![*v], out)?;
        }
    }
    let mut post_alpha = false;
    if alpha != 1.0 {
        if let Some(c) = scaled_const(b, ctx, w, alpha) {
            w = c;
        } else if let Some(c) = scaled_const(b, ctx, a, alpha) {
            a = c;
        } else {
            post_alpha = true;
        }
    }
    let (out, terms) = matmul_terms(b.shape(a), b.shape(w), product_cap(b, a, w)).map_err(|why| ctx.shape_err(why))?;
    let c = ctx.opt_input(2);
    let mut bias = None;
    if let Some(c) = c {
        if broadcast_shapes(b.shape(c), &out).as_deref() != Some(&out[..]) {
            return Err(ctx.shape_err(format!("bias {:?} does not broadcast to {out:?}", b.shape(c))));
        }
        if let Some(t) = b.konst(c) {
            let v = t.to_f64();
            bias = Some(broadcast_map(&t.shape, &out).iter().map(|&i| beta * v[i as usize]).collect());
        }
    }
    let mut y = b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias }), vec![a, w], out.clone())?;
    if post_alpha {
        y = scale(b, ctx, y, alpha)?;
    }
    if let Some(c) = c.filter(|&c| !b.is_const(c)) {
        y = weighted_sum(b, ctx, &ctx.sub("bias"), y, 1.0, c, beta, out)?;
    }
    Ok(vec![y])
}

pub fn matmul(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (a, w) = (ctx.input(0)?, ctx.input(1)?);
    let (out, terms) = matmul_terms(b.shape(a), b.shape(w), product_cap(b, a, w)).map_err(|why| ctx.shape_err(why))?;
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![a, w], out)?])
}

pub fn conv(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, w) = (ctx.input(0)?, ctx.input(1)?);
    let (xs, ws) = (b.shape(x).to_vec(), b.shape(w).to_vec());
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(ctx.shape_err(format!(
            "input {xs:?} and weights {ws:?} must be [N, C, spatial...] and [M, C/group, kernel...]"
        )));
    }
    let group = ctx.attrs().int_or("group", 1);
    let group =
        usize::try_from(group).ok().filter(|&g| g > 0).ok_or_else(|| ctx.attrs().err("group", "must be positive"))?;
    let (nb, ch, oc, icg) = (xs[0], xs[1], ws[0], ws[1]);
    if icg * group != ch || oc % group != 0 {
        return Err(ctx.shape_err(format!("{ch} input channels, weights {ws:?} and group {group} disagree")));
    }
    let kernel = ws[2..].to_vec();
    if let Some(k) = ctx.attrs().usizes("kernel_shape")? {
        if k != kernel {
            return Err(ctx.attrs().err("kernel_shape", format!("{k:?} differs from the weights' {kernel:?}")));
        }
    }
    let sp = spatial(ctx, &xs[2..], kernel.clone(), false)?;
    let mut out = vec![nb, oc];
    out.extend(&sp.out);
    let work: u128 = out.iter().chain(&kernel).chain(&[icg]).map(|&d| d as u128).product();
    if work > MAX_TERMS as u128 {
        return Err(ctx.shape_err(too_many_terms(work)));
    }
    let (xst, wst) = (strides(&xs), strides(&ws));
    let ocg = oc / group;
    let mut terms = Terms::new();
    for_each_index(&out, |o| {
        let (n, m) = (o[0], o[1]);
        let g = m / ocg;
        for icl in 0..icg {
            let ic = g * icg + icl;
            for_each_index(&kernel, |k| {
                let mut xf = n * xst[0] + ic * xst[1];
                for d in 0..k.len() {
                    let p = (o[2 + d] * sp.strides[d] + k[d] * sp.dilations[d]) as i64 - sp.pads_begin[d] as i64;
                    if p < 0 || p >= xs[2 + d] as i64 {
                        return;
                    }
                    xf += p as usize * xst[2 + d];
                }
                let wf =
                    m * wst[0] + icl * wst[1] + k.iter().enumerate().map(|(d, &kd)| kd * wst[2 + d]).sum::<usize>();
                terms.a_idx.push(xf as u32);
                terms.b_idx.push(wf as u32);
            });
        }
        terms.end_row();
    });
    let bv = ctx.opt_input(2);
    let mut bias = None;
    if let Some(bv) = bv {
        if b.shape(bv) != [oc] {
            return Err(ctx.shape_err(format!("bias shape {:?}, expected [{oc}]", b.shape(bv))));
        }
        if let Some(t) = b.konst(bv) {
            let v = t.to_f64();
            let inner = numel(&sp.out);
            bias = Some((0..numel(&out)).map(|o| v[(o / inner) % oc]).collect());
        }
    }
    let mut y = b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias }), vec![x, w], out.clone())?;
    if let Some(bv) = bv.filter(|&v| !b.is_const(v)) {
        let mut bshape = vec![oc];
        bshape.extend(vec![1; sp.out.len()]);
        let r = b.push(ctx, &ctx.sub("bias_shape"), FOp::Reshape, vec![bv], bshape)?;
        y = weighted_sum(b, ctx, &ctx.sub("bias"), y, 1.0, r, 1.0, out)?;
    }
    Ok(vec![y])
}

/// ConvTranspose (any number of spatial dims, groups, strides, dilations,
/// pads, output_padding, output_shape, auto_pad): each output sums the
/// inputs whose stride-spread kernel footprint covers it.
pub fn conv_transpose(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, w) = (ctx.input(0)?, ctx.input(1)?);
    let (xs, ws) = (b.shape(x).to_vec(), b.shape(w).to_vec());
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(ctx.shape_err(format!(
            "input {xs:?} and weights {ws:?} must be [N, C, spatial...] and [C, M/group, kernel...]"
        )));
    }
    let a = ctx.attrs();
    let group = usize::try_from(a.int_or("group", 1))
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| a.err("group", "must be positive"))?;
    let (nb, ch, ocg) = (xs[0], xs[1], ws[1]);
    if ws[0] != ch || ch % group != 0 {
        return Err(ctx.shape_err(format!("{ch} input channels, weights {ws:?} and group {group} disagree")));
    }
    let (oc, icg) = (ocg * group, ch / group);
    let kernel = ws[2..].to_vec();
    let n = kernel.len();
    let get = |key: &str, default: usize, len: usize| -> Result<Vec<usize>> {
        let v = a.usizes(key)?.unwrap_or_else(|| vec![default; len]);
        if v.len() != len {
            return Err(a.err(key, format!("expected {len} values, got {}", v.len())));
        }
        if v.iter().any(|&x| x > 1 << 20) {
            return Err(a.err(key, "values above 2^20"));
        }
        Ok(v)
    };
    let stride = get("strides", 1, n)?;
    let dil = get("dilations", 1, n)?;
    let out_pad = get("output_padding", 0, n)?;
    if stride.contains(&0) || dil.contains(&0) {
        return Err(a.err("strides", "zero stride or dilation"));
    }
    let mut pads = get("pads", 0, 2 * n)?;
    let auto_pad = a.string("auto_pad").unwrap_or_default();
    let full = |d: usize| stride[d] * (xs[2 + d] - 1) + out_pad[d] + (kernel[d] - 1) * dil[d] + 1;
    let out_spatial: Vec<usize> = if let Some(os) = a.usizes("output_shape")? {
        let os = if os.len() == n + 2 { os[2..].to_vec() } else { os };
        if os.len() != n {
            return Err(a.err("output_shape", format!("expected {n} spatial sizes")));
        }
        for d in 0..n {
            let total = full(d) as i64 - os[d] as i64;
            if total < 0 {
                return Err(a.err("output_shape", "larger than the full transposed convolution"));
            }
            let total = total as usize;
            let (lo, hi) =
                if auto_pad == "SAME_UPPER" { (total / 2, total - total / 2) } else { (total - total / 2, total / 2) };
            pads[d] = lo;
            pads[n + d] = hi;
        }
        os
    } else {
        if auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER" {
            for d in 0..n {
                let target = xs[2 + d] * stride[d];
                let total = full(d).saturating_sub(target);
                let (lo, hi) = if auto_pad == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                pads[d] = lo;
                pads[n + d] = hi;
            }
        } else if !matches!(auto_pad.as_str(), "" | "NOTSET" | "VALID") {
            return Err(a.err("auto_pad", format!("'{auto_pad}' is not supported")));
        }
        (0..n)
            .map(|d| {
                (full(d) as i64 - pads[d] as i64 - pads[n + d] as i64)
                    .try_into()
                    .map_err(|_| ctx.shape_err("pads larger than the output"))
            })
            .collect::<Result<_>>()?
    };
    let mut out = vec![nb, oc];
    out.extend(&out_spatial);
    let work: u128 = out.iter().chain(&kernel).chain(&[icg]).map(|&d| d as u128).product();
    if work > MAX_TERMS as u128 {
        return Err(ctx.shape_err(too_many_terms(work)));
    }
    let (xst, wst) = (strides(&xs), strides(&ws));
    let mut terms = Terms::new();
    for_each_index(&out, |o| {
        let (nn, m) = (o[0], o[1]);
        let (g, ml) = (m / ocg, m % ocg);
        for icl in 0..icg {
            let ic = g * icg + icl;
            for_each_index(&kernel, |k| {
                let mut xf = nn * xst[0] + ic * xst[1];
                for d in 0..k.len() {
                    // o = i * stride - pad + k * dil  =>  i = (o + pad - k * dil) / stride
                    let t = o[2 + d] as i64 + pads[d] as i64 - (k[d] * dil[d]) as i64;
                    if t < 0 || t % stride[d] as i64 != 0 {
                        return;
                    }
                    let i = t / stride[d] as i64;
                    if i >= xs[2 + d] as i64 {
                        return;
                    }
                    xf += i as usize * xst[2 + d];
                }
                let wf =
                    ic * wst[0] + ml * wst[1] + k.iter().enumerate().map(|(d, &kd)| kd * wst[2 + d]).sum::<usize>();
                terms.a_idx.push(xf as u32);
                terms.b_idx.push(wf as u32);
            });
        }
        terms.end_row();
    });
    let bv = ctx.opt_input(2);
    let mut bias = None;
    if let Some(bv) = bv {
        let t = b.konst(bv).ok_or_else(|| ctx.unsupported())?;
        if t.len() != oc {
            return Err(ctx.shape_err(format!("bias has {} values, expected {oc}", t.len())));
        }
        let v = t.to_f64();
        let inner = numel(&out_spatial);
        bias = Some((0..numel(&out)).map(|o| v[(o / inner) % oc]).collect());
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias }), vec![x, w], out)?])
}

/// Einsum over one or two operands (no ellipsis): the output and summed
/// labels index the operands directly, so a two-operand Einsum is one
/// product map (`Contract`, a constant operand becomes weights) and a
/// one-operand Einsum (transpose, trace, sums) an affine map.
pub fn einsum(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let eq = ctx.attrs().string("equation").ok_or_else(|| ctx.attrs().err("equation", "missing"))?;
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = |why: &str| ctx.attrs().err("equation", format!("'{eq}': {why}"));
    if eq.contains("...") {
        return Err(bad("ellipsis is not supported"));
    }
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms_in: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    let ins: Vec<ValueId> = ctx.inputs.iter().flatten().copied().collect();
    if terms_in.len() != ins.len() || !(1..=2).contains(&ins.len()) {
        return Err(bad("one or two operands, one term per operand"));
    }
    let mut dims: Vec<(char, usize)> = vec![];
    for (t, &v) in terms_in.iter().zip(&ins) {
        let s = b.shape(v);
        if t.len() != s.len() || t.iter().any(|c| !c.is_ascii_alphabetic()) {
            return Err(bad(&format!("term '{}' does not match shape {s:?}", t.iter().collect::<String>())));
        }
        for (&c, &n) in t.iter().zip(s) {
            match dims.iter().find(|(d, _)| *d == c) {
                Some(&(_, m)) if m != n => return Err(bad(&format!("label '{c}' has sizes {m} and {n}"))),
                Some(_) => {}
                None => dims.push((c, n)),
            }
        }
    }
    let out_labels: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            let mut once: Vec<char> = dims
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| terms_in.iter().flatten().filter(|d| *d == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    if out_labels.iter().any(|c| !dims.iter().any(|(d, _)| d == c)) {
        return Err(bad("an output label appears in no operand"));
    }
    let size = |c: char| dims.iter().find(|(d, _)| *d == c).map(|&(_, n)| n).unwrap_or(1);
    let out: Vec<usize> = out_labels.iter().map(|&c| size(c)).collect();
    let sum_labels: Vec<char> = dims.iter().map(|(c, _)| *c).filter(|c| !out_labels.contains(c)).collect();
    let sum_shape: Vec<usize> = sum_labels.iter().map(|&c| size(c)).collect();
    let work = numel(&out) as u128 * numel(&sum_shape) as u128;
    if work > MAX_TERMS as u128 {
        return Err(ctx.shape_err(too_many_terms(work)));
    }
    let flat = |t: &[char], v: ValueId, b: &Builder, o: &[usize], sidx: &[usize]| -> u32 {
        let st = strides(b.shape(v));
        t.iter()
            .enumerate()
            .map(|(k, c)| {
                let i = match out_labels.iter().position(|d| d == c) {
                    Some(p) => o[p],
                    None => sidx[sum_labels.iter().position(|d| d == c).unwrap_or(0)],
                };
                i * st[k]
            })
            .sum::<usize>() as u32
    };
    if ins.len() == 1 {
        let mut a = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        for_each_index(&out, |o| {
            for_each_index(&sum_shape, |sidx| {
                a.cols.push(flat(&terms_in[0], ins[0], b, o, sidx));
                a.weights.push(1.0);
            });
            a.row_ptr.push(a.cols.len() as u32);
            a.bias.push(0.0);
        });
        return Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(a), vec![ins[0]], out)?]);
    }
    let mut terms = Terms::new();
    for_each_index(&out, |o| {
        for_each_index(&sum_shape, |sidx| {
            terms.a_idx.push(flat(&terms_in[0], ins[0], b, o, sidx));
            terms.b_idx.push(flat(&terms_in[1], ins[1], b, o, sidx));
        });
        terms.end_row();
    });
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), ins, out)?])
}

/// MatMulInteger: `(A - a_zero_point) · (B - b_zero_point)`, exact (integer
/// values are exact at any scale). Zero points must be constants (per tensor,
/// or per row of A / per column of B as ONNX allows).
pub fn matmul_integer(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (a, w) = (ctx.input(0)?, ctx.input(1)?);
    let shift = |b: &mut Builder, v: ValueId, zp: Option<ValueId>, what: &str| -> Result<ValueId> {
        let Some(z) = zp else { return Ok(v) };
        let vs = b.shape(v).to_vec();
        let Some(zt) = b.konst(z) else {
            // A computed zero point (DynamicQuantizeLinear's): one per tensor.
            if what != "a" || numel(b.shape(z)) != 1 {
                return Err(ctx.unsupported());
            }
            return weighted_sum(b, ctx, &ctx.sub("a-zp"), v, 1.0, z, -1.0, vs);
        };
        if zt.to_f64().iter().all(|&x| x == 0.0) {
            return Ok(v);
        }
        // Per-row zero points of A ([M]) align with A's second-to-last axis.
        let z = if what == "a" && zt.len() > 1 && vs.len() >= 2 {
            let mut zs = vec![1; vs.len()];
            zs[vs.len() - 2] = zt.len();
            b.push_const(&ctx.sub("a_zero_point"), Tensor::float(zs, zt.to_f64()))
        } else {
            z
        };
        if broadcast_shapes(b.shape(z), &vs).as_deref() != Some(&vs[..]) {
            return Err(ctx.shape_err(format!("zero point of {what} does not broadcast to {vs:?}")));
        }
        // Constant operand and zero point (weights): fold to a constant.
        if let (Some(vt), Some(zt)) = (b.konst(v), b.konst(z)) {
            let (vv, zv) = (vt.to_f64(), zt.to_f64());
            let mz = broadcast_map(b.shape(z), &vs);
            let folded = vv.iter().zip(&mz).map(|(&x, &i)| x - zv[i as usize]).collect();
            return Ok(b.push_const(&ctx.sub(&format!("{what}-zp")), Tensor::float(vs, folded)));
        }
        weighted_sum(b, ctx, &ctx.sub(&format!("{what}-zp")), v, 1.0, z, -1.0, vs)
    };
    let a = shift(b, a, ctx.opt_input(2), "a")?;
    let w = shift(b, w, ctx.opt_input(3), "b")?;
    let (out, terms) = matmul_terms(b.shape(a), b.shape(w), product_cap(b, a, w)).map_err(|why| ctx.shape_err(why))?;
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![a, w], out)?])
}
