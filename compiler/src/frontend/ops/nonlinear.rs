//! Non-linear ops: elementwise functions proven by table lookup
//! (`FOp::Func`), and the composite ops built from them and the core ops:
//!
//! - Softmax: `e = exp(x - max(x))`, `e * (1 / sum(e))` (over only the kept
//!   positions of a constant attention mask, see `masked`); LogSoftmax:
//!   `(x - max) - log(sum(e))` (numerically stable: the exponent is never
//!   positive, and the sum is at least 1);
//! - LayerNormalization / InstanceNormalization: `d = x - mean(x)`,
//!   `d * rsqrt(mean(d*d) + eps)`, then the constant scale and bias;
//! - Div by a tensor: `x * (1 / y)`; Pow: `x*x` for exponent 2, else a table;
//! - Gelu (exact and tanh forms), Mish, Elu, Selu, Celu, Softplus, Softsign…
//!   are single tables.
//!
//! Reductions along axes are `Max` windows and `Affine` sums over the axes.

use crate::error::Result;
use crate::frontend::func::Func;
use crate::frontend::graph::{Affine, FOp, ValueId};
use crate::frontend::index::{broadcast_map, norm_axis, numel};
use crate::frontend::ops::elementwise::{product, weighted_sum};
use crate::frontend::ops::reduce::{axes_mask, max_of, reduction, sum_like};
use crate::frontend::{Builder, NodeCtx};

/// `f(x)` elementwise.
pub fn func(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, f: Func) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    b.push(ctx, name, FOp::Func(f), vec![x], shape)
}

fn unary(b: &mut Builder, ctx: &NodeCtx, f: Func) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    Ok(vec![func(b, ctx, &ctx.name, x, f)?])
}

macro_rules! unary_ops {
    ($($name:ident => $f:expr),* $(,)?) => {
        $(pub fn $name(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> { unary(b, ctx, $f) })*
    };
}

unary_ops! {
    sigmoid => Func::Sigmoid,
    tanh => Func::Tanh,
    exp => Func::Exp,
    log => Func::Log,
    erf => Func::Erf,
    softplus => Func::Softplus,
    softsign => Func::Softsign,
    mish => Func::Mish,
    sqrt => Func::Sqrt,
    reciprocal => Func::Reciprocal,
    sin => Func::Sin,
    cos => Func::Cos,
    atan => Func::Atan,
    tan => Func::Tan,
    asin => Func::Asin,
    acos => Func::Acos,
    sign => Func::Sign,
    round => Func::Round,
    floor => Func::Floor,
    ceil => Func::Ceil,
}

pub fn elu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let a = ctx.attrs().float_or("alpha", 1.0);
    unary(b, ctx, Func::Elu(a))
}

pub fn celu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let a = ctx.attrs().float_or("alpha", 1.0);
    if a == 0.0 || !a.is_finite() {
        return Err(ctx.attrs().err("alpha", "must be a non-zero number"));
    }
    unary(b, ctx, Func::Celu(a))
}

pub fn selu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let alpha = ctx.attrs().float_or("alpha", 1.673_263_192_176_818_8);
    let gamma = ctx.attrs().float_or("gamma", 1.050_701_022_148_132_3);
    unary(b, ctx, Func::Selu { alpha, gamma })
}

pub fn gelu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    match ctx.attrs().string("approximate").as_deref().unwrap_or("none") {
        "none" => unary(b, ctx, Func::Gelu),
        "tanh" => unary(b, ctx, Func::GeluTanh),
        other => Err(ctx.attrs().err("approximate", format!("'{other}' is not 'none' or 'tanh'"))),
    }
}

/// The single value of a constant operand, if it is one number (or all equal).
fn scalar(b: &Builder, v: ValueId) -> Option<f64> {
    let t = b.konst(v)?.to_f64();
    let first = *t.first()?;
    t.iter().all(|&x| x == first).then_some(first)
}

/// Pow with a constant exponent (`x*x` for 2, exact) or a constant base.
pub fn pow(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    if b.is_const(x) && b.is_const(y) {
        let (tx, ty) = (b.konst(x).map(|t| t.to_f64()), b.konst(y).map(|t| t.to_f64()));
        let (tx, ty) = (tx.unwrap_or_default(), ty.unwrap_or_default());
        let out = crate::frontend::index::broadcast_shapes(b.shape(x), b.shape(y))
            .ok_or_else(|| ctx.shape_err("operands do not broadcast"))?;
        let (mx, my) = (broadcast_map(b.shape(x), &out), broadcast_map(b.shape(y), &out));
        let v = mx.iter().zip(&my).map(|(&i, &j)| tx[i as usize].powf(ty[j as usize])).collect();
        return Ok(vec![b.push_const(&ctx.name, crate::frontend::tensor::Tensor::float(out, v))]);
    }
    if let Some(p) = scalar(b, y) {
        if numel(b.shape(y)) > numel(b.shape(x)) {
            return Err(ctx.shape_err("the exponent broadcasts the base to a larger shape"));
        }
        let id = if p == 1.0 {
            let shape = b.shape(x).to_vec();
            b.push(ctx, &ctx.name, FOp::Reshape, vec![x], shape)?
        } else if p == 2.0 {
            let shape = b.shape(x).to_vec();
            product(b, ctx, &ctx.name, x, x, shape)?
        } else if p == 0.5 {
            func(b, ctx, &ctx.name, x, Func::Sqrt)?
        } else {
            func(b, ctx, &ctx.name, x, Func::Pow(p))?
        };
        return Ok(vec![id]);
    }
    if let Some(base) = scalar(b, x) {
        if base <= 0.0 {
            return Err(ctx.shape_err(format!("constant base {base} must be positive")));
        }
        if numel(b.shape(x)) > numel(b.shape(y)) {
            return Err(ctx.shape_err("the base broadcasts the exponent to a larger shape"));
        }
        return Ok(vec![func(b, ctx, &ctx.name, y, Func::ExpBase(base))?]);
    }
    Err(ctx.unsupported())
}

/// `x / y` for an activation `y`: `x * (1 / y)`.
pub fn divide(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, y: ValueId, out: Vec<usize>) -> Result<ValueId> {
    let r = func(b, ctx, &format!("{name}/reciprocal"), y, Func::Reciprocal)?;
    if let Some(c) = b.konst(x).map(|t| t.to_f64()) {
        return crate::frontend::ops::elementwise::scale_by(b, ctx, name, r, &c, x, out);
    }
    product(b, ctx, name, x, r, out)
}

/// Max over `axes` (keepdims).
pub fn reduce_max(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, axes: &[usize]) -> Result<ValueId> {
    let s = b.shape(x).to_vec();
    let r = reduction(&s, &axes_mask(s.len(), axes), true);
    max_of(b, ctx, name, x, &r)
}

/// Sum (or mean) over `axes` (keepdims).
pub fn reduce_sum(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    axes: &[usize],
    mean: bool,
) -> Result<ValueId> {
    let s = b.shape(x).to_vec();
    let r = reduction(&s, &axes_mask(s.len(), axes), true);
    sum_like(b, ctx, name, x, &r, mean)
}

fn axis_attr(ctx: &NodeCtx, rank: usize, default: i64) -> Result<usize> {
    let a = ctx.attrs().int_or("axis", default);
    norm_axis(a, rank).ok_or_else(|| ctx.attrs().err("axis", format!("{a} is out of range for rank {rank}")))
}

/// `(x - max) ` and `exp` of it, along `axis`.
fn shifted_exp(b: &mut Builder, ctx: &NodeCtx, x: ValueId, axis: usize) -> Result<(ValueId, ValueId)> {
    let shape = b.shape(x).to_vec();
    let m = reduce_max(b, ctx, &ctx.sub("max"), x, &[axis])?;
    let d = weighted_sum(b, ctx, &ctx.sub("shifted"), x, 1.0, m, -1.0, shape)?;
    let e = func(b, ctx, &ctx.sub("exp"), d, Func::Exp)?;
    Ok((d, e))
}

/// Softmax's axis: opset 13 normalizes along `axis` (default -1); earlier
/// opsets flatten `[axis..]` (default 1), the same when `axis` is the last
/// dimension, else unsupported.
fn softmax_axis(b: &Builder, ctx: &NodeCtx, rank: usize) -> Result<usize> {
    if b.opset >= 13 {
        return axis_attr(ctx, rank, -1);
    }
    let axis = axis_attr(ctx, rank, 1)?;
    if axis + 1 != rank {
        return Err(ctx.attrs().err("axis", "before opset 13, only the last axis is supported"));
    }
    Ok(axis)
}

pub fn softmax(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let axis = softmax_axis(b, ctx, shape.len())?;
    if let Some(y) = super::masked::masked_softmax(b, ctx, x, axis)? {
        return Ok(vec![y]);
    }
    let (_, e) = shifted_exp(b, ctx, x, axis)?;
    let s = reduce_sum(b, ctx, &ctx.sub("sum"), e, &[axis], false)?;
    let r = func(b, ctx, &ctx.sub("reciprocal"), s, Func::Reciprocal)?;
    Ok(vec![product(b, ctx, &ctx.name, e, r, shape)?])
}

pub fn log_softmax(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let axis = softmax_axis(b, ctx, shape.len())?;
    let (d, e) = shifted_exp(b, ctx, x, axis)?;
    let s = reduce_sum(b, ctx, &ctx.sub("sum"), e, &[axis], false)?;
    let l = func(b, ctx, &ctx.sub("log"), s, Func::Log)?;
    Ok(vec![weighted_sum(b, ctx, &ctx.name, d, 1.0, l, -1.0, shape)?])
}

/// `(x - mean) * rsqrt(var + eps)` over `axes`; also returns the mean and
/// the inverse standard deviation (keepdims shapes).
fn normalize_stats(
    b: &mut Builder,
    ctx: &NodeCtx,
    x: ValueId,
    axes: &[usize],
    eps: f64,
) -> Result<(ValueId, ValueId, ValueId)> {
    let shape = b.shape(x).to_vec();
    let n: usize = axes.iter().map(|&a| shape[a]).product();
    if n == 0 {
        return Err(ctx.shape_err("normalizing over an empty axis"));
    }
    let mean = reduce_sum(b, ctx, &ctx.sub("mean"), x, axes, true)?;
    let d = weighted_sum(b, ctx, &ctx.sub("centered"), x, 1.0, mean, -1.0, shape.clone())?;
    let sq = product(b, ctx, &ctx.sub("square"), d, d, shape.clone())?;
    let var = reduce_sum(b, ctx, &ctx.sub("variance"), sq, axes, true)?;
    let r = func(b, ctx, &ctx.sub("rsqrt"), var, Func::Rsqrt(eps))?;
    Ok((product(b, ctx, &ctx.sub("normalized"), d, r, shape)?, mean, r))
}

fn normalize(b: &mut Builder, ctx: &NodeCtx, x: ValueId, axes: &[usize], eps: f64) -> Result<ValueId> {
    Ok(normalize_stats(b, ctx, x, axes, eps)?.0)
}

/// `y * scale + bias`, `scale` and `bias` broadcast from `pshape` (constants
/// fold into one affine map; activations are a product and a sum).
fn scale_shift(
    b: &mut Builder,
    ctx: &NodeCtx,
    y: ValueId,
    scale: Option<ValueId>,
    bias: Option<ValueId>,
    pshape: &[usize],
) -> Result<ValueId> {
    let shape = b.shape(y).to_vec();
    for (v, what) in [(scale, "scale"), (bias, "bias")] {
        if let Some(v) = v {
            if numel(b.shape(v)) != numel(pshape) {
                return Err(ctx.shape_err(format!("{what} has shape {:?}, expected {pshape:?}", b.shape(v))));
            }
        }
    }
    // Reshaped to `pshape` so that they broadcast against `y`.
    let as_param = |b: &mut Builder, v: ValueId, what: &str| -> Result<ValueId> {
        if b.shape(v) == pshape {
            return Ok(v);
        }
        b.push(ctx, &ctx.sub(what), FOp::Reshape, vec![v], pshape.to_vec())
    };
    let konst = |b: &Builder, v: Option<ValueId>| v.and_then(|v| b.konst(v).map(|t| t.to_f64()));
    let (sc, bi) = (konst(b, scale), konst(b, bias));
    let const_scale = scale.is_none() || sc.is_some();
    let const_bias = bias.is_none() || bi.is_some();
    if const_scale && const_bias {
        if sc.is_none() && bi.is_none() {
            return Ok(y);
        }
        let map = broadcast_map(pshape, &shape);
        let n = map.len();
        let aff = Affine {
            row_ptr: (0..=n as u32).collect(),
            cols: (0..n as u32).collect(),
            weights: map.iter().map(|&i| sc.as_ref().map_or(1.0, |s| s[i as usize])).collect(),
            bias: map.iter().map(|&i| bi.as_ref().map_or(0.0, |s| s[i as usize])).collect(),
        };
        return b.push(ctx, &ctx.name, FOp::Affine(aff), vec![y], shape);
    }
    let mut out = y;
    if let Some(s) = scale {
        let s = as_param(b, s, "scale")?;
        let name = if bias.is_some() { ctx.sub("scaled") } else { ctx.name.clone() };
        out = product(b, ctx, &name, out, s, shape.clone())?;
    }
    if let Some(c) = bias {
        let c = as_param(b, c, "bias")?;
        out = weighted_sum(b, ctx, &ctx.name, out, 1.0, c, 1.0, shape)?;
    }
    Ok(out)
}

pub fn layer_norm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let axis = axis_attr(ctx, shape.len(), -1)?;
    let eps = ctx.attrs().float_or("epsilon", 1e-5);
    if ctx.attrs().int_or("stash_type", 1) != 1 {
        return Err(ctx.attrs().err("stash_type", "only 1 (float32 statistics) is supported"));
    }
    let axes: Vec<usize> = (axis..shape.len()).collect();
    let (y, mean, inv_std) = normalize_stats(b, ctx, x, &axes, eps)?;
    let pshape = shape[axis..].to_vec();
    // Outputs: Y, Mean, InvStdDev (the statistics keep the reduced axes as 1).
    Ok(vec![scale_shift(b, ctx, y, ctx.opt_input(1), ctx.opt_input(2), &pshape)?, mean, inv_std])
}

pub fn instance_norm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    if shape.len() < 3 {
        return Err(ctx.shape_err(format!("expected [N, C, D1, ...], got {shape:?}")));
    }
    let eps = ctx.attrs().float_or("epsilon", 1e-5);
    let axes: Vec<usize> = (2..shape.len()).collect();
    let y = normalize(b, ctx, x, &axes, eps)?;
    let mut pshape = vec![shape[1]];
    pshape.extend(std::iter::repeat_n(1, shape.len() - 2));
    Ok(vec![scale_shift(b, ctx, y, Some(ctx.input(1)?), Some(ctx.input(2)?), &pshape)?])
}
