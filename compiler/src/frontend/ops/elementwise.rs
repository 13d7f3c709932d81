//! Elementwise ops with numpy broadcasting: Add, Sub, Mul, Div, Relu.
//! Constant operands become weights and biases of an affine map; Mul of two
//! activations becomes a product (`Contract`).

use crate::error::{CompileError, Result};
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes};
use crate::frontend::tensor::{Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Sub,
    Mul,
    Div,
}

pub fn add(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, Kind::Add)
}
pub fn sub(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, Kind::Sub)
}
pub fn mul(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, Kind::Mul)
}
pub fn div(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, Kind::Div)
}

pub fn relu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    Ok(vec![b.push(ctx, &ctx.name, FOp::Relu, vec![x], shape)?])
}

fn out_shape(b: &Builder, ctx: &NodeCtx, x: ValueId, y: ValueId) -> Result<Vec<usize>> {
    broadcast_shapes(b.shape(x), b.shape(y))
        .ok_or_else(|| ctx.shape_err(format!("shapes {:?} and {:?} do not broadcast", b.shape(x), b.shape(y))))
}

fn binary(b: &mut Builder, ctx: &NodeCtx, kind: Kind) -> Result<Vec<ValueId>> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    let out = out_shape(b, ctx, x, y)?;
    if let (Some(tx), Some(ty)) = (b.konst(x), b.konst(y)) {
        let t = const_binary(ctx, kind, tx, ty, &out)?;
        return Ok(vec![b.push_const(&ctx.name, t)]);
    }
    let id = match kind {
        Kind::Add => weighted_sum(b, ctx, &ctx.name, x, 1.0, y, 1.0, out)?,
        Kind::Sub => weighted_sum(b, ctx, &ctx.name, x, 1.0, y, -1.0, out)?,
        Kind::Mul => match (b.konst(x).map(|t| t.to_f64()), b.konst(y).map(|t| t.to_f64())) {
            (None, Some(c)) => scale_by(b, ctx, &ctx.name, x, &c, y, out)?,
            (Some(c), None) => scale_by(b, ctx, &ctx.name, y, &c, x, out)?,
            _ => product(b, ctx, &ctx.name, x, y, out)?,
        },
        Kind::Div => match b.konst(y).map(|t| t.to_f64()) {
            Some(c) => {
                if c.iter().any(|&v| v == 0.0 || !v.is_finite()) {
                    return Err(ctx.shape_err("division by a constant that is zero or not finite"));
                }
                let inv: Vec<f64> = c.iter().map(|v| 1.0 / v).collect();
                scale_by(b, ctx, &ctx.name, x, &inv, y, out)?
            }
            // Integer division (truncating) of integer inputs is not a reciprocal.
            None if b.int_values.contains(&y) && (b.int_values.contains(&x) || b.is_const(x)) => {
                return Err(CompileError::Unsupported {
                    ops: vec![("Div (integer operands)".into(), ctx.name.clone())],
                })
            }
            // x / y = x * (1/y), the reciprocal by table lookup.
            None => super::nonlinear::divide(b, ctx, &ctx.name, x, y, out)?,
        },
    };
    Ok(vec![id])
}

/// `x * y` elementwise for two activations (broadcast to `out`): a product.
pub fn product(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, y: ValueId, out: Vec<usize>) -> Result<ValueId> {
    let (mx, my) = (broadcast_map(b.shape(x), &out), broadcast_map(b.shape(y), &out));
    let mut terms = Terms::new();
    for (a, c) in mx.into_iter().zip(my) {
        terms.a_idx.push(a);
        terms.b_idx.push(c);
        terms.end_row();
    }
    b.push(ctx, name, FOp::Contract(Contract { terms, bias: None }), vec![x, y], out)
}

/// `x * c` elementwise (broadcast to `out`), `c` the constant value `cv`'s data.
pub fn scale_by(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    c: &[f64],
    cv: ValueId,
    out: Vec<usize>,
) -> Result<ValueId> {
    let mx = broadcast_map(b.shape(x), &out);
    let mc = broadcast_map(b.shape(cv), &out);
    let n = mx.len();
    let aff = Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: mx,
        weights: mc.iter().map(|&i| c.get(i as usize).copied().unwrap_or(0.0)).collect(),
        bias: vec![0.0; n],
    };
    b.push(ctx, name, FOp::Affine(aff), vec![x], out)
}

/// `wx * x + wy * y` with broadcasting to `out`; constant operands go to the bias.
#[allow(clippy::too_many_arguments)]
pub fn weighted_sum(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    wx: f64,
    y: ValueId,
    wy: f64,
    out: Vec<usize>,
) -> Result<ValueId> {
    let (mx, my) = (broadcast_map(b.shape(x), &out), broadcast_map(b.shape(y), &out));
    let (cx, cy) = (b.konst(x).map(|t| t.to_f64()), b.konst(y).map(|t| t.to_f64()));
    let mut inputs = vec![];
    let x_off = 0u32;
    if cx.is_none() {
        inputs.push(x);
    }
    let y_off = if cx.is_none() { b.shape(x).iter().product::<usize>() as u32 } else { 0 };
    if cy.is_none() {
        inputs.push(y);
    }
    let n = mx.len();
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0.0; n] };
    for o in 0..n {
        let (ix, iy) = (mx[o], my[o]);
        match &cx {
            Some(c) => aff.bias[o] += wx * c.get(ix as usize).copied().unwrap_or(0.0),
            None => {
                aff.cols.push(x_off + ix);
                aff.weights.push(wx);
            }
        }
        match &cy {
            Some(c) => aff.bias[o] += wy * c.get(iy as usize).copied().unwrap_or(0.0),
            None => {
                aff.cols.push(y_off + iy);
                aff.weights.push(wy);
            }
        }
        aff.row_ptr.push(aff.cols.len() as u32);
    }
    b.push(ctx, name, FOp::Affine(aff), inputs, out)
}

fn const_binary(ctx: &NodeCtx, kind: Kind, x: &Tensor, y: &Tensor, out: &[usize]) -> Result<Tensor> {
    let (mx, my) = (broadcast_map(&x.shape, out), broadcast_map(&y.shape, out));
    let pairs = mx.iter().zip(&my).map(|(&a, &b)| (a as usize, b as usize));
    if let (Data::Int(a), Data::Int(c)) = (&x.data, &y.data) {
        let mut v = Vec::with_capacity(mx.len());
        for (i, j) in pairs {
            let (p, q) = (a[i], c[j]);
            v.push(match kind {
                Kind::Add => p.wrapping_add(q),
                Kind::Sub => p.wrapping_sub(q),
                Kind::Mul => p.wrapping_mul(q),
                Kind::Div => p.checked_div(q).ok_or_else(|| ctx.shape_err("integer division by zero"))?,
            });
        }
        return Ok(Tensor::int(out.to_vec(), v));
    }
    let (a, c) = (x.to_f64(), y.to_f64());
    let v = pairs
        .map(|(i, j)| match kind {
            Kind::Add => a[i] + c[j],
            Kind::Sub => a[i] - c[j],
            Kind::Mul => a[i] * c[j],
            Kind::Div => a[i] / c[j],
        })
        .collect();
    Ok(Tensor::float(out.to_vec(), v))
}

/// The operands of a variadic op, folded left with `f`; one operand is itself.
fn variadic(
    b: &mut Builder,
    ctx: &NodeCtx,
    f: impl Fn(&mut Builder, &NodeCtx, &str, ValueId, ValueId, Vec<usize>) -> Result<ValueId>,
) -> Result<ValueId> {
    let ins: Vec<ValueId> = ctx.inputs.iter().flatten().copied().collect();
    let Some((&first, rest)) = ins.split_first() else {
        return Err(ctx.shape_err("needs at least one input"));
    };
    let mut acc = first;
    for (k, &v) in rest.iter().enumerate() {
        let out = out_shape(b, ctx, acc, v)?;
        let name = if k + 1 == rest.len() { ctx.name.clone() } else { ctx.sub(&format!("fold{k}")) };
        acc = f(b, ctx, &name, acc, v, out)?;
    }
    if rest.is_empty() {
        let shape = b.shape(acc).to_vec();
        acc = b.push(ctx, &ctx.name, FOp::Reshape, vec![acc], shape)?;
    }
    Ok(acc)
}

/// Sum: elementwise sum of all operands (broadcast).
pub fn sum(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    Ok(vec![variadic(b, ctx, |b, ctx, name, x, y, out| weighted_sum(b, ctx, name, x, 1.0, y, 1.0, out))?])
}

/// Mean: the sum over the operand count.
pub fn mean(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let n = ctx.inputs.iter().flatten().count().max(1) as f64;
    let s =
        variadic(b, ctx, |b, ctx, name, x, y, out| weighted_sum(b, ctx, &format!("{name}/sum"), x, 1.0, y, 1.0, out))?;
    let c = b.push_const(&ctx.sub("count"), Tensor::float(vec![], vec![1.0 / n]));
    let shape = b.shape(s).to_vec();
    Ok(vec![scale_by(b, ctx, &ctx.name, s, &[1.0 / n], c, shape)?])
}

/// `max(x, y) = y + relu(x - y)` (constants fold).
fn max2(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    x: ValueId,
    y: ValueId,
    out: Vec<usize>,
    sign: f64,
) -> Result<ValueId> {
    if let (Some(tx), Some(ty)) = (b.konst(x), b.konst(y)) {
        let (vx, vy) = (tx.to_f64(), ty.to_f64());
        let (mx, my) = (broadcast_map(&tx.shape, &out), broadcast_map(&ty.shape, &out));
        let v = mx
            .iter()
            .zip(&my)
            .map(
                |(&i, &j)| {
                    if sign > 0.0 {
                        vx[i as usize].max(vy[j as usize])
                    } else {
                        vx[i as usize].min(vy[j as usize])
                    }
                },
            )
            .collect();
        return Ok(b.push_const(name, Tensor::float(out, v)));
    }
    // max: y + relu(x - y); min: y - relu(y - x).
    let d = weighted_sum(b, ctx, &format!("{name}/diff"), x, sign, y, -sign, out.clone())?;
    let r = b.push(ctx, &format!("{name}/relu"), FOp::Relu, vec![d], out.clone())?;
    weighted_sum(b, ctx, name, y, 1.0, r, sign, out)
}

/// Max: elementwise maximum of all operands.
pub fn max(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    Ok(vec![variadic(b, ctx, |b, ctx, name, x, y, out| max2(b, ctx, name, x, y, out, 1.0))?])
}

/// Min: elementwise minimum of all operands.
pub fn min(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    Ok(vec![variadic(b, ctx, |b, ctx, name, x, y, out| max2(b, ctx, name, x, y, out, -1.0))?])
}
