//! Reductions over axes: ReduceSum, ReduceMean (affine maps), ReduceMax
//! (max windows), ReduceMin (`-max(-x)`), ReduceL1 (sum of `|x| = 2·relu(x) - x`)
//! ReduceSumSquare (products of `x` with itself) and ReduceLogSumExp
//! (`log(sum(exp(x - max))) + max`). Axes come from the
//! `axes` attribute (older opsets) or the second input (ReduceSum 13+, the
//! others 18+); no axes reduces every axis, unless `noop_with_empty_axes`.

use crate::error::Result;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId, Windows};
use crate::frontend::index::{for_each_index, norm_axis, numel, strides};
use crate::frontend::ops::activation::{combine, relu_of, scale_shift};
use crate::frontend::{Builder, NodeCtx};

/// The reduced shape and, per output element, the flat input indices it reduces.
pub struct Reduction {
    pub out: Vec<usize>,
    pub windows: Vec<Vec<u32>>,
}

/// Windows of reducing `shape` over `axes` (each `true` axis is reduced);
/// `keepdims` keeps them as size 1.
pub fn reduction(shape: &[usize], reduced: &[bool], keepdims: bool) -> Reduction {
    let st = strides(shape);
    let kept: Vec<usize> = shape.iter().zip(reduced).map(|(&d, &r)| if r { 1 } else { d }).collect();
    let inner: Vec<usize> = shape.iter().zip(reduced).map(|(&d, &r)| if r { d } else { 1 }).collect();
    let mut windows = Vec::with_capacity(numel(&kept));
    for_each_index(&kept, |o| {
        let base: usize = o.iter().zip(&st).map(|(i, s)| i * s).sum();
        let mut w = vec![];
        for_each_index(&inner, |k| w.push((base + k.iter().zip(&st).map(|(i, s)| i * s).sum::<usize>()) as u32));
        windows.push(w);
    });
    let out = if keepdims { kept } else { shape.iter().zip(reduced).filter(|(_, &r)| !r).map(|(&d, _)| d).collect() };
    Reduction { out, windows }
}

/// Mask of the reduced axes (`axes` are in range).
pub fn axes_mask(rank: usize, axes: &[usize]) -> Vec<bool> {
    (0..rank).map(|d| axes.contains(&d)).collect()
}

/// Reads the node's reduced-axes mask and `keepdims`; `None` when the node
/// is a no-op (empty axes with `noop_with_empty_axes`).
fn read_axes(b: &Builder, ctx: &NodeCtx, x: ValueId) -> Result<Option<(Vec<bool>, bool)>> {
    let s = b.shape(x).to_vec();
    let a = ctx.attrs();
    let axes = match a.ints("axes") {
        Some(v) => Some(v),
        None => match ctx.opt_input(1) {
            Some(v) => Some(b.const_ints(ctx, v)?),
            None => None,
        },
    };
    let axes = axes.filter(|v| !v.is_empty());
    let mut reduced = vec![false; s.len()];
    match axes {
        None if a.int_or("noop_with_empty_axes", 0) != 0 => return Ok(None),
        None => reduced.iter_mut().for_each(|r| *r = true),
        Some(ax) => {
            for v in ax {
                let d = norm_axis(v, s.len()).ok_or_else(|| ctx.shape_err(format!("axis {v} out of range")))?;
                reduced[d] = true;
            }
        }
    }
    Ok(Some((reduced, a.int_or("keepdims", 1) != 0)))
}

/// Reads the node's axes and `keepdims`; `None` when the node is a no-op
/// (empty axes with `noop_with_empty_axes`).
pub(crate) fn read(b: &Builder, ctx: &NodeCtx, x: ValueId) -> Result<Option<Reduction>> {
    let s = b.shape(x).to_vec();
    Ok(read_axes(b, ctx, x)?.map(|(reduced, keep)| reduction(&s, &reduced, keep)))
}

fn identity(b: &mut Builder, ctx: &NodeCtx, x: ValueId) -> Result<Vec<ValueId>> {
    let shape = b.shape(x).to_vec();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Reshape, vec![x], shape)?])
}

pub fn sum_like(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, r: &Reduction, mean: bool) -> Result<ValueId> {
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for w in &r.windows {
        let wt = if mean { 1.0 / w.len().max(1) as f64 } else { 1.0 };
        aff.cols.extend(w);
        aff.weights.extend(std::iter::repeat_n(wt, w.len()));
        aff.row_ptr.push(aff.cols.len() as u32);
        aff.bias.push(0.0);
    }
    b.push(ctx, name, FOp::Affine(aff), vec![x], r.out.clone())
}

pub fn max_of(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, r: &Reduction) -> Result<ValueId> {
    if r.windows.iter().any(|w| w.is_empty()) {
        return Err(ctx.shape_err("reducing an empty set of elements has no maximum"));
    }
    let mut w = Windows { row_ptr: vec![0], cols: vec![] };
    for win in &r.windows {
        w.cols.extend(win);
        w.row_ptr.push(w.cols.len() as u32);
    }
    b.push(ctx, name, FOp::Max(w), vec![x], r.out.clone())
}

pub fn reduce_sum(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    match read(b, ctx, x)? {
        None => identity(b, ctx, x),
        Some(r) => Ok(vec![sum_like(b, ctx, &ctx.name, x, &r, false)?]),
    }
}

pub fn reduce_mean(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    match read(b, ctx, x)? {
        None => identity(b, ctx, x),
        Some(r) => Ok(vec![sum_like(b, ctx, &ctx.name, x, &r, true)?]),
    }
}

pub fn reduce_max(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    match read(b, ctx, x)? {
        None => identity(b, ctx, x),
        Some(r) => Ok(vec![max_of(b, ctx, &ctx.name, x, &r)?]),
    }
}

pub fn reduce_min(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    match read(b, ctx, x)? {
        None => identity(b, ctx, x),
        Some(r) => {
            let nx = scale_shift(b, ctx, &ctx.sub("neg"), x, -1.0, 0.0)?;
            let m = max_of(b, ctx, &ctx.sub("max"), nx, &r)?;
            Ok(vec![scale_shift(b, ctx, &ctx.name, m, -1.0, 0.0)?])
        }
    }
}

pub fn reduce_l1(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let Some(r) = read(b, ctx, x)? else {
        // |x| elementwise.
        let rl = relu_of(b, ctx, &ctx.sub("relu"), x)?;
        return Ok(vec![combine(b, ctx, &ctx.name, &[(rl, &[2.0]), (x, &[-1.0])], &[0.0])?]);
    };
    // sum over the window of 2·relu(x) - x: one affine map over [relu(x), x].
    let rl = relu_of(b, ctx, &ctx.sub("relu"), x)?;
    let n = numel(b.shape(x)) as u32;
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for w in &r.windows {
        for &i in w {
            aff.cols.extend([i, n + i]);
            aff.weights.extend([2.0, -1.0]);
        }
        aff.row_ptr.push(aff.cols.len() as u32);
        aff.bias.push(0.0);
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(aff), vec![rl, x], r.out.clone())?])
}

pub fn reduce_sum_square(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let r = match read(b, ctx, x)? {
        Some(r) => r,
        None => {
            let s = b.shape(x).to_vec();
            Reduction { windows: (0..numel(&s) as u32).map(|i| vec![i]).collect(), out: s }
        }
    };
    let mut terms = Terms::new();
    for w in &r.windows {
        terms.a_idx.extend(w);
        terms.b_idx.extend(w);
        terms.end_row();
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![x, x], r.out.clone())?])
}

/// `sqrt(sum(x^2))`: ReduceSumSquare, then a square-root table.
pub fn reduce_l2(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let ss = reduce_sum_square(b, ctx)?[0];
    let name = ctx.name.clone();
    let inner = crate::frontend::ops::nonlinear::func(b, ctx, &ctx.sub("sqrt"), ss, crate::frontend::func::Func::Sqrt)?;
    let shape = b.shape(inner).to_vec();
    Ok(vec![b.push(ctx, &name, FOp::Reshape, vec![inner], shape)?])
}

/// ReduceLogSumExp, numerically stable: `log(sum(exp(x - m))) + m` with
/// `m = max(x)` over the axes (the exponent is never positive and the sum is
/// at least 1, as in LogSoftmax).
pub fn reduce_log_sum_exp(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    use crate::frontend::func::Func;
    use crate::frontend::ops::elementwise::weighted_sum;
    use crate::frontend::ops::nonlinear::func;
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let Some((reduced, keep)) = read_axes(b, ctx, x)? else {
        return identity(b, ctx, x);
    };
    let kept = reduction(&shape, &reduced, true);
    let r = reduction(&shape, &reduced, keep);
    let m = max_of(b, ctx, &ctx.sub("max"), x, &kept)?;
    let d = weighted_sum(b, ctx, &ctx.sub("shifted"), x, 1.0, m, -1.0, shape)?;
    let e = func(b, ctx, &ctx.sub("exp"), d, Func::Exp)?;
    let s = sum_like(b, ctx, &ctx.sub("sum"), e, &r, false)?;
    let l = func(b, ctx, &ctx.sub("log"), s, Func::Log)?;
    let m_out = b.push(ctx, &ctx.sub("max_out"), FOp::Reshape, vec![m], r.out.clone())?;
    Ok(vec![weighted_sum(b, ctx, &ctx.name, l, 1.0, m_out, 1.0, r.out.clone())?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_windows_cover_the_axes() {
        let r = reduction(&[2, 3], &axes_mask(2, &[1]), true);
        assert_eq!(r.out, vec![2, 1]);
        assert_eq!(r.windows, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        let r = reduction(&[2, 3], &axes_mask(2, &[0]), true);
        assert_eq!(r.out, vec![1, 3]);
        assert_eq!(r.windows, vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
        let r = reduction(&[1, 2, 2, 2], &axes_mask(4, &[2, 3]), true);
        assert_eq!(r.out, vec![1, 2, 1, 1]);
        assert_eq!(r.windows, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    }
}
