//! Ops the compiler evaluates only at compile time: their operands must be
//! constant (shape arithmetic, index generation), and they fold to a
//! constant. Older torch exports build `arange` as
//! `ConstantOfShape -> NonZero -> Transpose -> Squeeze`, newer ones as
//! `Range`; both disappear here, as do Mod, CumSum and ReduceProd of constants. A computed operand makes the node
//! unsupported (NonZero's output shape would depend on the data).

use crate::error::Result;
use crate::frontend::graph::ValueId;
use crate::frontend::index::{broadcast_map, broadcast_shapes, norm_axis};
use crate::frontend::tensor::{max_elements, Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

/// NonZero: the `[rank, count]` int64 coordinates of the non-zero elements.
pub fn non_zero(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let t = b.konst(x).ok_or_else(|| ctx.unsupported())?;
    // A scalar counts as a 1-element vector (numpy.nonzero does the same).
    let shape = if t.shape.is_empty() { vec![1] } else { t.shape.clone() };
    let vals = t.to_f64();
    let nz: Vec<usize> = (0..vals.len()).filter(|&i| vals[i] != 0.0).collect();
    if nz.is_empty() {
        return Err(ctx.shape_err("no element is non-zero: the output would be empty"));
    }
    let (r, n) = (shape.len(), nz.len());
    let mut out = vec![0i64; r * n];
    for (k, &flat) in nz.iter().enumerate() {
        let mut rem = flat;
        for d in (0..r).rev() {
            out[d * n + k] = (rem % shape[d]) as i64;
            rem /= shape[d];
        }
    }
    Ok(vec![b.push_const(&ctx.name, Tensor::int(vec![r, n], out))])
}

/// The scalar value of a constant operand.
fn scalar(b: &Builder, ctx: &NodeCtx, i: usize, what: &str) -> Result<Tensor> {
    let t = b.konst(ctx.input(i)?).ok_or_else(|| ctx.unsupported())?;
    if t.len() != 1 {
        return Err(ctx.shape_err(format!("{what} must be a scalar, got shape {:?}", t.shape)));
    }
    Ok(t.clone())
}

/// Range(start, limit, delta): `max(ceil((limit - start) / delta), 0)` values.
pub fn range(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (s, l, d) = (scalar(b, ctx, 0, "start")?, scalar(b, ctx, 1, "limit")?, scalar(b, ctx, 2, "delta")?);
    let (fs, fl, fd) = (s.get_f64(0), l.get_f64(0), d.get_f64(0));
    if fd == 0.0 || !fd.is_finite() || !fs.is_finite() || !fl.is_finite() {
        return Err(ctx.shape_err(format!("start {fs}, limit {fl}, delta {fd}: delta must be finite and non-zero")));
    }
    let count = ((fl - fs) / fd).ceil().max(0.0);
    if count > max_elements() as f64 {
        return Err(ctx.shape_err(format!("{count} elements is too many")));
    }
    let n = count as usize;
    if n == 0 {
        return Err(ctx.shape_err(format!("start {fs}, limit {fl}, delta {fd}: the output would be empty")));
    }
    let t = if s.is_int() && l.is_int() && d.is_int() {
        let (a, st) = (s.to_i64().unwrap_or_default()[0], d.to_i64().unwrap_or_default()[0]);
        Tensor::int(vec![n], (0..n as i64).map(|k| a.wrapping_add(k.wrapping_mul(st))).collect())
    } else {
        Tensor::float(vec![n], (0..n).map(|k| fs + k as f64 * fd).collect())
    };
    Ok(vec![b.push_const(&ctx.name, t)])
}

/// Mod of constants: `fmod = 0` takes the divisor's sign (Python `%`),
/// `fmod = 1` the dividend's (C `fmod`).
pub fn modulo(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    let (tx, ty) = match (b.konst(x), b.konst(y)) {
        (Some(a), Some(c)) => (a.clone(), c.clone()),
        _ => return Err(ctx.unsupported()),
    };
    let out = broadcast_shapes(&tx.shape, &ty.shape)
        .ok_or_else(|| ctx.shape_err(format!("shapes {:?} and {:?} do not broadcast", tx.shape, ty.shape)))?;
    let fmod = ctx.attrs().int_or("fmod", 0) != 0;
    let (mx, my) = (broadcast_map(&tx.shape, &out), broadcast_map(&ty.shape, &out));
    let pairs = mx.iter().zip(&my).map(|(&i, &j)| (i as usize, j as usize));
    let t = match (&tx.data, &ty.data) {
        (Data::Int(a), Data::Int(c)) => {
            let mut v = Vec::with_capacity(mx.len());
            for (i, j) in pairs {
                let (p, q) = (a[i], c[j]);
                let r = p.checked_rem(q).ok_or_else(|| ctx.shape_err("integer modulo by zero"))?;
                v.push(if !fmod && r != 0 && (r < 0) != (q < 0) { r + q } else { r });
            }
            Tensor::int(out, v)
        }
        _ => {
            let (a, c) = (tx.to_f64(), ty.to_f64());
            let v = pairs
                .map(|(i, j)| {
                    let r = a[i] % c[j];
                    if !fmod && r != 0.0 && (r < 0.0) != (c[j] < 0.0) {
                        r + c[j]
                    } else {
                        r
                    }
                })
                .collect();
            Tensor::float(out, v)
        }
    };
    Ok(vec![b.push_const(&ctx.name, t)])
}

/// ReduceProd of a constant (element counts of shape slices, as in
/// `Shape -> Slice -> ReduceProd -> Concat -> Reshape`).
pub fn reduce_prod(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let t = b.konst(x).ok_or_else(|| ctx.unsupported())?.clone();
    let Some(r) = crate::frontend::ops::reduce::read(b, ctx, x)? else {
        return Ok(vec![b.push_const(&ctx.name, t)]);
    };
    let out = match &t.data {
        Data::Int(v) => Tensor::int(
            r.out.clone(),
            r.windows.iter().map(|w| w.iter().fold(1i64, |a, &i| a.wrapping_mul(v[i as usize]))).collect(),
        ),
        Data::Float(v) => {
            Tensor::float(r.out.clone(), r.windows.iter().map(|w| w.iter().map(|&i| v[i as usize]).product()).collect())
        }
    };
    Ok(vec![b.push_const(&ctx.name, out)])
}

/// CumSum of constants along a constant axis (`exclusive`, `reverse` attributes).
pub fn cum_sum(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let t = b.konst(ctx.input(0)?).ok_or_else(|| ctx.unsupported())?.clone();
    let axis = b.const_ints(ctx, ctx.input(1)?)?;
    let [axis] = axis[..] else { return Err(ctx.shape_err("axis must be a single value")) };
    let r = t.shape.len();
    let ax = norm_axis(axis, r).ok_or_else(|| ctx.shape_err(format!("axis {axis} out of range for rank {r}")))?;
    let (exclusive, reverse) = (ctx.attrs().int_or("exclusive", 0) != 0, ctx.attrs().int_or("reverse", 0) != 0);
    let len = t.shape[ax];
    let inner: usize = t.shape[ax + 1..].iter().product();
    let outer: usize = t.shape[..ax].iter().product();
    let order = |k: usize| if reverse { len - 1 - k } else { k };
    macro_rules! scan {
        ($v:expr, $zero:expr, $add:expr) => {{
            let v = $v;
            let mut o = vec![$zero; v.len()];
            for a in 0..outer {
                for c in 0..inner {
                    let mut acc = $zero;
                    for k in 0..len {
                        let i = (a * len + order(k)) * inner + c;
                        if exclusive {
                            o[i] = acc;
                            acc = $add(acc, v[i]);
                        } else {
                            acc = $add(acc, v[i]);
                            o[i] = acc;
                        }
                    }
                }
            }
            o
        }};
    }
    let out = match &t.data {
        Data::Int(v) => Tensor::int(t.shape.clone(), scan!(v, 0i64, |a: i64, x: i64| a.wrapping_add(x))),
        Data::Float(v) => Tensor::float(t.shape.clone(), scan!(v, 0.0f64, |a: f64, x: f64| a + x)),
    };
    Ok(vec![b.push_const(&ctx.name, out)])
}
