//! Piecewise-linear activations as exact compositions of Relu and affine
//! maps (no new circuit op):
//!
//! - `Neg(x) = -x`; `Abs(x) = 2·relu(x) - x`;
//! - `LeakyRelu(x) = (1-α)·relu(x) + α·x`; `PRelu` the same with per-element
//!   slopes (constant, broadcast onto `x`);
//! - `Clip(x, lo, hi)`: `y = max(x, lo) = relu(x - lo) + lo`, then
//!   `min(y, hi) = hi - relu(hi - y)` (scalar bounds, constant or computed;
//!   `lo > hi` gives `hi`, as ONNX specifies);
//! - `HardSigmoid(x) = clip(α·x + β, 0, 1)`; `HardSwish(x) = x · HardSigmoid(x)`
//!   with α = 1/6, β = 1/2 (a product of two activations).

use crate::error::Result;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId};
use crate::frontend::index::numel;
use crate::frontend::ops::elementwise::weighted_sum;
use crate::frontend::tensor::Tensor;
use crate::frontend::{Builder, NodeCtx};

/// `out[i] = sum_k w_k[i] * x_k[i] + bias[i]` over same-shape inputs (`w_k`
/// per element, or one value broadcast when it has one element).
pub fn combine(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    terms: &[(ValueId, &[f64])],
    bias: &[f64],
) -> Result<ValueId> {
    let shape = b.shape(terms[0].0).to_vec();
    let n = numel(&shape);
    let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v.get(i).copied().unwrap_or(0.0) };
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for i in 0..n {
        for (k, (_, w)) in terms.iter().enumerate() {
            let wi = at(w, i);
            if wi != 0.0 {
                aff.cols.push((k * n + i) as u32);
                aff.weights.push(wi);
            }
        }
        aff.row_ptr.push(aff.cols.len() as u32);
        aff.bias.push(at(bias, i));
    }
    let inputs = terms.iter().map(|t| t.0).collect();
    b.push(ctx, name, FOp::Affine(aff), inputs, shape)
}

/// `w * x + c` elementwise.
pub fn scale_shift(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, w: f64, c: f64) -> Result<ValueId> {
    combine(b, ctx, name, &[(x, &[w])], &[c])
}

pub fn relu_of(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    b.push(ctx, name, FOp::Relu, vec![x], shape)
}

/// `clip(x, lo, hi)` with optional scalar bounds (constants or activations):
/// `y = relu(x - lo) + lo`, then `hi - relu(hi - y)`.
pub fn clip_to(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    lo: Option<ValueId>,
    hi: Option<ValueId>,
) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    let mut y = x;
    if let Some(lo) = lo {
        let d = weighted_sum(b, ctx, &format!("{name}/minus_lo"), x, 1.0, lo, -1.0, shape.clone())?;
        let r = relu_of(b, ctx, &format!("{name}/relu_lo"), d)?;
        let n = if hi.is_some() { format!("{name}/max") } else { name.to_string() };
        y = weighted_sum(b, ctx, &n, r, 1.0, lo, 1.0, shape.clone())?;
    }
    if let Some(hi) = hi {
        let d = weighted_sum(b, ctx, &format!("{name}/hi_minus"), hi, 1.0, y, -1.0, shape.clone())?;
        let r = relu_of(b, ctx, &format!("{name}/relu_hi"), d)?;
        y = weighted_sum(b, ctx, name, hi, 1.0, r, -1.0, shape)?;
    }
    Ok(y)
}

fn scalar(b: &mut Builder, ctx: &NodeCtx, what: &str, v: f64) -> ValueId {
    b.push_const(&ctx.sub(what), Tensor::float(vec![], vec![v]))
}

pub fn neg(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    Ok(vec![scale_shift(b, ctx, &ctx.name, x, -1.0, 0.0)?])
}

pub fn abs(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let r = relu_of(b, ctx, &ctx.sub("relu"), x)?;
    Ok(vec![combine(b, ctx, &ctx.name, &[(r, &[2.0]), (x, &[-1.0])], &[0.0])?])
}

/// `(1-α)·relu(x) + α·x` with `alpha` per element (or one value).
fn leaky(b: &mut Builder, ctx: &NodeCtx, x: ValueId, alpha: &[f64]) -> Result<ValueId> {
    let r = relu_of(b, ctx, &ctx.sub("relu"), x)?;
    let one_minus: Vec<f64> = alpha.iter().map(|a| 1.0 - a).collect();
    combine(b, ctx, &ctx.name, &[(r, &one_minus), (x, alpha)], &[0.0])
}

pub fn leaky_relu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let alpha = ctx.attrs().float_or("alpha", 0.01);
    Ok(vec![leaky(b, ctx, x, &[alpha])?])
}

pub fn clip(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let a = ctx.attrs();
    let (lo, hi) = if a.has("min") || a.has("max") {
        // Opset < 11: attributes, defaulting to the float limits.
        let f = |k: &str| a.has(k).then(|| a.float_or(k, 0.0)).filter(|v| v.abs() < 3.0e38);
        let (lo, hi) = (f("min"), f("max"));
        (lo.map(|v| scalar(b, ctx, "min", v)), hi.map(|v| scalar(b, ctx, "max", v)))
    } else {
        (ctx.opt_input(1), ctx.opt_input(2))
    };
    for (i, v) in [(1, lo), (2, hi)] {
        if let Some(v) = v {
            if numel(b.shape(v)) != 1 {
                return Err(ctx.shape_err(format!("bound {i} must be a scalar, got shape {:?}", b.shape(v))));
            }
        }
    }
    Ok(vec![clip_to(b, ctx, &ctx.name, x, lo, hi)?])
}

fn hard_sigmoid_of(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, alpha: f64, beta: f64) -> Result<ValueId> {
    let a = scale_shift(b, ctx, &format!("{name}/affine"), x, alpha, beta)?;
    let (zero, one) = (scalar(b, ctx, "zero", 0.0), scalar(b, ctx, "one", 1.0));
    clip_to(b, ctx, name, a, Some(zero), Some(one))
}

pub fn hard_sigmoid(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let (alpha, beta) = (ctx.attrs().float_or("alpha", 0.2), ctx.attrs().float_or("beta", 0.5));
    Ok(vec![hard_sigmoid_of(b, ctx, &ctx.name, x, alpha, beta)?])
}

pub fn hard_swish(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let hs = hard_sigmoid_of(b, ctx, &ctx.sub("hard_sigmoid"), x, 1.0 / 6.0, 0.5)?;
    let shape = b.shape(x).to_vec();
    let n = numel(&shape) as u32;
    let terms = Terms { row_ptr: (0..=n).collect(), a_idx: (0..n).collect(), b_idx: (0..n).collect() };
    Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![x, hs], shape)?])
}
