//! Pooling (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool) over any
//! number of spatial dimensions, and the stride/pad/dilation arithmetic that
//! Conv shares. Padded positions are skipped: MaxPool pads with -inf, and
//! AveragePool counts them only with `count_include_pad`.

use crate::error::Result;
use crate::frontend::graph::{Affine, FOp, ValueId, Windows};
use crate::frontend::index::{for_each_index, numel, strides};
use crate::frontend::{Builder, NodeCtx};

/// Resolved window geometry over the spatial dimensions.
#[derive(Debug, Clone)]
pub struct Spatial {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
    pub pads_end: Vec<usize>,
    pub out: Vec<usize>,
}

/// Reads strides, dilations, pads / auto_pad (and ceil_mode when `allow_ceil`).
#[allow(clippy::needless_range_loop)]
pub fn spatial(ctx: &NodeCtx, input: &[usize], kernel: Vec<usize>, allow_ceil: bool) -> Result<Spatial> {
    let a = ctx.attrs();
    let n = input.len();
    let ones = vec![1; n];
    let strides = a.usizes("strides")?.unwrap_or_else(|| ones.clone());
    let dilations = a.usizes("dilations")?.unwrap_or_else(|| ones.clone());
    let pads = a.usizes("pads")?.unwrap_or_else(|| vec![0; 2 * n]);
    if kernel.len() != n || strides.len() != n || dilations.len() != n || pads.len() != 2 * n {
        return Err(ctx.shape_err(format!(
            "kernel {kernel:?}, strides {strides:?}, dilations {dilations:?}, pads {pads:?} do not match {n} spatial dims"
        )));
    }
    if strides.iter().chain(&dilations).chain(&kernel).any(|&v| v == 0) {
        return Err(ctx.shape_err("zero kernel size, stride or dilation"));
    }
    if strides.iter().chain(&dilations).chain(&kernel).chain(&pads).any(|&v| v > 1 << 20) {
        return Err(ctx.shape_err("kernel size, stride, dilation or pad above 2^20"));
    }
    let ceil = allow_ceil && a.int_or("ceil_mode", 0) != 0;
    let auto_pad = a.string("auto_pad").unwrap_or_default();
    let mut sp = Spatial {
        pads_begin: pads[..n].to_vec(),
        pads_end: pads[n..].to_vec(),
        out: vec![0; n],
        kernel,
        strides,
        dilations,
    };
    for d in 0..n {
        let ek = (sp.kernel[d] - 1) * sp.dilations[d] + 1;
        let (i, s) = (input[d], sp.strides[d]);
        match auto_pad.as_str() {
            "" | "NOTSET" => {}
            "VALID" => {
                sp.pads_begin[d] = 0;
                sp.pads_end[d] = 0;
            }
            "SAME_UPPER" | "SAME_LOWER" => {
                let out = i.div_ceil(s);
                let total = ((out.max(1) - 1) * s + ek).saturating_sub(i);
                let small = total / 2;
                let (pb, pe) = if auto_pad == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
                sp.pads_begin[d] = pb;
                sp.pads_end[d] = pe;
            }
            other => return Err(a.err("auto_pad", format!("unknown value {other:?}"))),
        }
        let padded = i + sp.pads_begin[d] + sp.pads_end[d];
        if padded < ek {
            return Err(ctx.shape_err(format!("kernel extent {ek} exceeds padded input {padded} in spatial dim {d}")));
        }
        let mut out = if ceil { (padded - ek).div_ceil(s) + 1 } else { (padded - ek) / s + 1 };
        if ceil && (out - 1) * s >= i + sp.pads_begin[d] {
            out -= 1;
        }
        sp.out[d] = out;
    }
    // Positions visited per (batch, channel) plane; bounds the work of malformed attributes.
    let work = sp.out.iter().chain(&sp.kernel).fold(1u128, |a, &d| a.saturating_mul(d as u128));
    if work > crate::frontend::ops::linear::MAX_TERMS as u128 {
        return Err(
            ctx.shape_err(format!("the windows cover too many elements: {}", super::linear::too_many_terms(work)))
        );
    }
    Ok(sp)
}

/// For each output (over `[N, C, out...]`): the valid input positions of its
/// window, and how many window positions lie within the padded input.
pub fn windows(shape: &[usize], sp: &Spatial) -> Vec<(Vec<u32>, usize)> {
    let (nb, ch, spatial_in) = (shape[0], shape[1], &shape[2..]);
    let st = strides(spatial_in);
    let plane = numel(spatial_in);
    let mut per_pos: Vec<(Vec<u32>, usize)> = Vec::with_capacity(numel(&sp.out));
    for_each_index(&sp.out, |o| {
        let mut valid = vec![];
        let mut count = 0;
        for_each_index(&sp.kernel, |k| {
            let mut flat = 0usize;
            let mut inside = true;
            let mut in_padded = true;
            for d in 0..o.len() {
                let p = (o[d] * sp.strides[d] + k[d] * sp.dilations[d]) as i64 - sp.pads_begin[d] as i64;
                if p < 0 || p >= spatial_in[d] as i64 {
                    inside = false;
                }
                if p >= (spatial_in[d] + sp.pads_end[d]) as i64 {
                    in_padded = false;
                }
                flat += p.max(0) as usize * st[d];
            }
            if in_padded {
                count += 1;
            }
            if inside {
                valid.push(flat as u32);
            }
        });
        per_pos.push((valid, count));
    });
    let mut all = Vec::with_capacity(nb * ch * per_pos.len());
    for plane_idx in 0..nb * ch {
        let base = (plane_idx * plane) as u32;
        for (v, c) in &per_pos {
            all.push((v.iter().map(|&i| base + i).collect(), *c));
        }
    }
    all
}

fn pool_input(b: &Builder, ctx: &NodeCtx) -> Result<(ValueId, Vec<usize>)> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    if s.len() < 3 {
        return Err(ctx.shape_err(format!("expected [N, C, spatial...], got {s:?}")));
    }
    Ok((x, s))
}

fn out_shape(s: &[usize], sp: &Spatial) -> Vec<usize> {
    let mut out = s[..2].to_vec();
    out.extend(&sp.out);
    out
}

fn kernel_attr(ctx: &NodeCtx) -> Result<Vec<usize>> {
    ctx.attrs().usizes("kernel_shape")?.ok_or_else(|| ctx.attrs().err("kernel_shape", "missing"))
}

fn push_max(b: &mut Builder, ctx: &NodeCtx, x: ValueId, s: &[usize], sp: &Spatial) -> Result<Vec<ValueId>> {
    let mut w = Windows { row_ptr: vec![0], cols: vec![] };
    for (valid, _) in windows(s, sp) {
        if valid.is_empty() {
            return Err(ctx.shape_err("a pooling window lies entirely in the padding"));
        }
        w.cols.extend(valid);
        w.row_ptr.push(w.cols.len() as u32);
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Max(w), vec![x], out_shape(s, sp))?])
}

fn push_avg(
    b: &mut Builder,
    ctx: &NodeCtx,
    x: ValueId,
    s: &[usize],
    sp: &Spatial,
    include_pad: bool,
) -> Result<Vec<ValueId>> {
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for (valid, count) in windows(s, sp) {
        let n = if include_pad { count } else { valid.len() };
        let w = if n == 0 { 0.0 } else { 1.0 / n as f64 };
        aff.weights.extend(vec![w; valid.len()]);
        aff.cols.extend(valid);
        aff.row_ptr.push(aff.cols.len() as u32);
        aff.bias.push(0.0);
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(aff), vec![x], out_shape(s, sp))?])
}

pub fn max_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, s) = pool_input(b, ctx)?;
    if ctx.attrs().int_or("storage_order", 0) != 0 && ctx.proto.output.len() > 1 {
        return Err(ctx.unsupported());
    }
    let sp = spatial(ctx, &s[2..], kernel_attr(ctx)?, true)?;
    push_max(b, ctx, x, &s, &sp)
}

pub fn average_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, s) = pool_input(b, ctx)?;
    let sp = spatial(ctx, &s[2..], kernel_attr(ctx)?, true)?;
    let include_pad = ctx.attrs().int_or("count_include_pad", 0) != 0;
    push_avg(b, ctx, x, &s, &sp, include_pad)
}

fn global(s: &[usize]) -> Spatial {
    let n = s.len() - 2;
    Spatial {
        kernel: s[2..].to_vec(),
        strides: vec![1; n],
        dilations: vec![1; n],
        pads_begin: vec![0; n],
        pads_end: vec![0; n],
        out: vec![1; n],
    }
}

pub fn global_average_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, s) = pool_input(b, ctx)?;
    push_avg(b, ctx, x, &s, &global(&s), false)
}

pub fn global_max_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, s) = pool_input(b, ctx)?;
    push_max(b, ctx, x, &s, &global(&s))
}
