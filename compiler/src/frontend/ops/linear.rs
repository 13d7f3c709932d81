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

/// Most multiply-accumulate terms one product may have.
pub const MAX_TERMS: usize = 1 << 28;

/// Index terms of numpy `matmul(a, b)`: `(out_shape, terms)`.
pub fn matmul_terms(sa: &[usize], sb: &[usize]) -> Option<(Vec<usize>, Terms)> {
    if sa.is_empty() || sb.is_empty() {
        return None;
    }
    let a2: Vec<usize> = if sa.len() == 1 { vec![1, sa[0]] } else { sa.to_vec() };
    let b2: Vec<usize> = if sb.len() == 1 { vec![sb[0], 1] } else { sb.to_vec() };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return None;
    }
    let (ba, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let batch = broadcast_shapes(ba, bb)?;
    let (ma, mb) = (broadcast_map(ba, &batch), broadcast_map(bb, &batch));
    let mut out = batch.clone();
    if sa.len() > 1 {
        out.push(m);
    }
    if sb.len() > 1 {
        out.push(n);
    }
    let rows = numel(&batch).checked_mul(m)?.checked_mul(n)?;
    if rows.checked_mul(k)? > MAX_TERMS {
        return None;
    }
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
    Some((out, t))
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
    let (out, terms) = matmul_terms(b.shape(a), b.shape(w))
        .ok_or_else(|| ctx.shape_err(format!("cannot multiply {:?} by {:?}", b.shape(a), b.shape(w))))?;
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
    let (out, terms) = matmul_terms(b.shape(a), b.shape(w))
        .ok_or_else(|| ctx.shape_err(format!("cannot multiply {:?} by {:?}", b.shape(a), b.shape(w))))?;
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
        return Err(ctx.shape_err(format!("{work} multiply-accumulate terms exceed the limit of {MAX_TERMS}")));
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
