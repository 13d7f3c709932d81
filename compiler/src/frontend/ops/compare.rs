//! Comparisons, logic and ArgMax/ArgMin through the exact step `FOp::Step`
//! (`[d > 0]` or `[d >= 0]` on the quantized value, see `passes/lower/`):
//!
//! - `Greater(a, b) = [a - b > 0]`, `Less(a, b) = [b - a > 0]`, the `OrEqual`
//!   forms with `>= 0`, `Equal(a, b) = [a - b >= 0] + [b - a >= 0] - 1`;
//! - on 0/1 values: `Not(x) = 1 - x`, `And = x·y`, `Or = x + y - x·y`,
//!   `Xor = x + y - 2·x·y`;
//! - `ArgMax` over an axis of `n`: `m = max(x)`, `e_i = [x_i - m >= 0]`
//!   (1 exactly at the maxima), `g_i = e_i·(n - i)`, and the first maximum's
//!   index is `n - max_i g_i` (`g_i = e_i·(i + 1)` and `max g - 1` for
//!   `select_last_index`); `ArgMin(x) = ArgMax(-x)`.
//!
//! Constant operands fold to integer (bool) tensors, as ONNX types them.
//! Selection by computed indices (OneHot, dynamic Gather, Scatter, TopK)
//! builds on these steps in `indexed.rs`.

use crate::error::Result;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId, Windows};
use crate::frontend::index::{broadcast_map, broadcast_shapes, norm_axis, numel};
use crate::frontend::ops::activation::{combine, scale_shift};
use crate::frontend::ops::elementwise::weighted_sum;
use crate::frontend::ops::reduce::reduction;
use crate::frontend::tensor::Tensor;
use crate::frontend::{Builder, NodeCtx};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Equal,
}

fn operands(b: &Builder, ctx: &NodeCtx) -> Result<(ValueId, ValueId, Vec<usize>)> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    let out = broadcast_shapes(b.shape(x), b.shape(y))
        .ok_or_else(|| ctx.shape_err(format!("shapes {:?} and {:?} do not broadcast", b.shape(x), b.shape(y))))?;
    Ok((x, y, out))
}

/// Both operands constant: an integer 0/1 tensor.
fn fold(
    b: &mut Builder,
    ctx: &NodeCtx,
    x: ValueId,
    y: ValueId,
    out: &[usize],
    f: impl Fn(f64, f64) -> bool,
) -> Option<ValueId> {
    let (tx, ty) = (b.konst(x)?, b.konst(y)?);
    let (vx, vy) = (tx.to_f64(), ty.to_f64());
    let (mx, my) = (broadcast_map(&tx.shape, out), broadcast_map(&ty.shape, out));
    let v = mx.iter().zip(&my).map(|(&i, &j)| f(vx[i as usize], vy[j as usize]) as i64).collect();
    Some(b.push_const(&ctx.name, Tensor::int(out.to_vec(), v)))
}

pub(crate) fn step(b: &mut Builder, ctx: &NodeCtx, name: &str, d: ValueId, or_equal: bool) -> Result<ValueId> {
    let shape = b.shape(d).to_vec();
    b.push(ctx, name, FOp::Step { or_equal }, vec![d], shape)
}

fn compare(b: &mut Builder, ctx: &NodeCtx, kind: Cmp) -> Result<Vec<ValueId>> {
    let (x, y, out) = operands(b, ctx)?;
    let f = move |a: f64, c: f64| match kind {
        Cmp::Greater => a > c,
        Cmp::Less => a < c,
        Cmp::GreaterOrEqual => a >= c,
        Cmp::LessOrEqual => a <= c,
        Cmp::Equal => a == c,
    };
    if let Some(v) = fold(b, ctx, x, y, &out, f) {
        return Ok(vec![v]);
    }
    let (wx, or_equal) = match kind {
        Cmp::Greater => (1.0, false),
        Cmp::Less => (-1.0, false),
        Cmp::GreaterOrEqual | Cmp::Equal => (1.0, true),
        Cmp::LessOrEqual => (-1.0, true),
    };
    let d = weighted_sum(b, ctx, &ctx.sub("diff"), x, wx, y, -wx, out.clone())?;
    if kind != Cmp::Equal {
        return Ok(vec![step(b, ctx, &ctx.name, d, or_equal)?]);
    }
    let ge = step(b, ctx, &ctx.sub("ge"), d, true)?;
    let nd = scale_shift(b, ctx, &ctx.sub("neg_diff"), d, -1.0, 0.0)?;
    let le = step(b, ctx, &ctx.sub("le"), nd, true)?;
    Ok(vec![combine(b, ctx, &ctx.name, &[(ge, &[1.0]), (le, &[1.0])], &[-1.0])?])
}

pub fn greater(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    compare(b, ctx, Cmp::Greater)
}
pub fn less(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    compare(b, ctx, Cmp::Less)
}
pub fn greater_or_equal(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    compare(b, ctx, Cmp::GreaterOrEqual)
}
pub fn less_or_equal(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    compare(b, ctx, Cmp::LessOrEqual)
}
pub fn equal(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    compare(b, ctx, Cmp::Equal)
}

pub fn not(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if let Some(t) = b.konst(x) {
        let v = t.to_f64().iter().map(|&a| (a == 0.0) as i64).collect();
        let t = Tensor::int(t.shape.clone(), v);
        return Ok(vec![b.push_const(&ctx.name, t)]);
    }
    Ok(vec![scale_shift(b, ctx, &ctx.name, x, -1.0, 1.0)?])
}

/// `wxy·x·y + x + y` (And: only the product) on 0/1 values.
fn logic(b: &mut Builder, ctx: &NodeCtx, f: fn(bool, bool) -> bool, wxy: Option<f64>) -> Result<Vec<ValueId>> {
    let (x, y, out) = operands(b, ctx)?;
    if let Some(v) = fold(b, ctx, x, y, &out, |a, c| f(a != 0.0, c != 0.0)) {
        return Ok(vec![v]);
    }
    let (mx, my) = (broadcast_map(b.shape(x), &out), broadcast_map(b.shape(y), &out));
    let mut terms = Terms::new();
    for (a, c) in mx.into_iter().zip(my) {
        terms.a_idx.push(a);
        terms.b_idx.push(c);
        terms.end_row();
    }
    let Some(w) = wxy else {
        return Ok(vec![b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![x, y], out)?]);
    };
    let p = b.push(ctx, &ctx.sub("and"), FOp::Contract(Contract { terms, bias: None }), vec![x, y], out.clone())?;
    let s = weighted_sum(b, ctx, &ctx.sub("sum"), x, 1.0, y, 1.0, out.clone())?;
    Ok(vec![weighted_sum(b, ctx, &ctx.name, s, 1.0, p, w, out)?])
}

pub fn and(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    logic(b, ctx, |a, c| a && c, None)
}
pub fn or(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    logic(b, ctx, |a, c| a || c, Some(-1.0))
}
pub fn xor(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    logic(b, ctx, |a, c| a != c, Some(-2.0))
}

/// ArgMax and ArgMin (by the rule in the module documentation).
pub fn arg_max(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x0 = ctx.input(0)?;
    let s = b.shape(x0).to_vec();
    let a = ctx.attrs();
    let axis = norm_axis(a.int_or("axis", 0), s.len()).ok_or_else(|| a.err("axis", "out of range"))?;
    let keepdims = a.int_or("keepdims", 1) != 0;
    let last = a.int_or("select_last_index", 0) != 0;
    let n = s[axis];
    if n == 0 {
        return Err(ctx.shape_err(format!("axis {axis} is empty")));
    }
    let x = if ctx.op == "ArgMin" { scale_shift(b, ctx, &ctx.sub("neg"), x0, -1.0, 0.0)? } else { x0 };
    let mut reduced = vec![false; s.len()];
    reduced[axis] = true;
    let r = reduction(&s, &reduced, true);
    let kept = r.out.clone();
    let mut w = Windows { row_ptr: vec![0], cols: vec![] };
    for win in &r.windows {
        w.cols.extend(win);
        w.row_ptr.push(w.cols.len() as u32);
    }
    let m = b.push(ctx, &ctx.sub("max"), FOp::Max(w), vec![x], kept.clone())?;
    // d = x - m (m broadcast back over the axis), e = [d >= 0].
    let d = weighted_sum(b, ctx, &ctx.sub("minus_max"), x, 1.0, m, -1.0, s.clone())?;
    let e = step(b, ctx, &ctx.sub("is_max"), d, true)?;
    // g = e·(n - i) (or e·(i + 1)), max over the axis.
    let inner = numel(&s[axis + 1..]);
    let total = numel(&s);
    let weights: Vec<f64> = (0..total)
        .map(|f| {
            let i = (f / inner.max(1)) % n;
            if last {
                (i + 1) as f64
            } else {
                (n - i) as f64
            }
        })
        .collect();
    let g = combine(b, ctx, &ctx.sub("rank"), &[(e, &weights)], &[0.0])?;
    let mut w = Windows { row_ptr: vec![0], cols: vec![] };
    for win in &r.windows {
        w.cols.extend(win);
        w.row_ptr.push(w.cols.len() as u32);
    }
    let out = if keepdims {
        kept.clone()
    } else {
        s.iter().enumerate().filter(|&(d, _)| d != axis).map(|(_, &v)| v).collect()
    };
    let gm = b.push(ctx, &ctx.sub("best"), FOp::Max(w), vec![g], out.clone())?;
    let k = numel(&out);
    let aff = Affine {
        row_ptr: (0..=k as u32).collect(),
        cols: (0..k as u32).collect(),
        weights: vec![if last { 1.0 } else { -1.0 }; k],
        bias: vec![if last { -1.0 } else { n as f64 }; k],
    };
    Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(aff), vec![gm], out)?])
}
