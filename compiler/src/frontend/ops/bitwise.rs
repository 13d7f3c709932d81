//! BitShift (opset 11): unsigned integers shifted by constant amounts, exactly.
//!
//! `RIGHT` is `floor(x / 2^k)`, `LEFT` is `(x * 2^k) mod 2^bits` (ONNX's
//! unsigned types wrap). Amounts of `bits` or more give 0 (numpy's, and the
//! ONNX reference's, result). The amount must be constant: an initializer, or
//! a graph input bound at compile time from the calibration sample (a
//! parameter input, which every proof's input must then equal); a shift
//! computed at run time is refused naming the node. `passes::lower` proves the
//! floor with one exact `Requant` (see [`crate::frontend::graph::BitShift`]).

use crate::error::{CompileError, Result};
use crate::frontend::graph::{BitShift, FOp, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes, numel};
use crate::frontend::tensor::{Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

/// Bits of the unsigned ONNX element types BitShift accepts.
fn uint_bits(t: i32) -> Option<u32> {
    Some(match t {
        2 => 8,   // uint8
        4 => 16,  // uint16
        12 => 32, // uint32
        13 => 64, // uint64
        _ => return None,
    })
}

pub fn bit_shift(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, y) = (ctx.input(0)?, ctx.input(1)?);
    let direction = ctx.attrs().string("direction").unwrap_or_default();
    let left = match direction.as_str() {
        "LEFT" => true,
        "RIGHT" => false,
        d => return Err(ctx.attrs().err("direction", format!("'{d}' is not LEFT or RIGHT"))),
    };
    let Some(yt) = b.konst(y) else {
        return Err(CompileError::Unsupported {
            ops: vec![("BitShift by an amount computed at run time".into(), ctx.name.clone())],
        });
    };
    let amounts = yt
        .to_i64()
        .filter(|_| yt.is_int())
        .ok_or_else(|| ctx.shape_err("the shift amount is not an integer tensor"))?;
    let ty = b.elem_types.get(&y).or_else(|| b.elem_types.get(&x)).copied();
    let bits = ty.and_then(uint_bits).ok_or_else(|| {
        ctx.shape_err(format!(
            "BitShift needs uint8/16/32/64 operands, got {}",
            ty.map(crate::frontend::tensor::dtype_name).unwrap_or("an unknown type")
        ))
    })?;
    if let Some(&k) = amounts.iter().find(|&&k| k < 0) {
        return Err(ctx.shape_err(format!("shift amount {k} is negative (not an unsigned value)")));
    }
    let (xs, ys) = (b.shape(x).to_vec(), yt.shape.clone());
    let out = broadcast_shapes(&xs, &ys)
        .ok_or_else(|| ctx.shape_err(format!("shapes {xs:?} and {ys:?} do not broadcast")))?;
    let shifts: Vec<u32> =
        broadcast_map(&ys, &out).iter().map(|&i| amounts[i as usize].min(bits as i64) as u32).collect();
    let x = if xs == out {
        x
    } else {
        let map = broadcast_map(&xs, &out);
        b.push(ctx, &ctx.sub("broadcast"), FOp::Gather(map), vec![x], out.clone())?
    };
    debug_assert_eq!(shifts.len(), numel(&out));
    let id = b.push(ctx, &ctx.name, FOp::BitShift(BitShift { left, bits, shifts }), vec![x], out)?;
    if let Some(t) = ty {
        b.elem_types.insert(id, t);
    }
    Ok(vec![id])
}

/// `x >> k` or `(x << k) mod 2^bits` per element; inputs must be
/// non-negative integers (an unsigned tensor).
pub fn eval_bit_shift(op: &BitShift, x: &Tensor, shape: Vec<usize>) -> Result<Tensor> {
    let bad = |reason: String| CompileError::Shape { node: "<bit shift>".into(), op: "BitShift".into(), reason };
    let vals = x.to_f64();
    let mut out = Vec::with_capacity(vals.len());
    for (e, &v) in vals.iter().enumerate() {
        if v < 0.0 || v.fract() != 0.0 || v >= 2f64.powi(op.bits as i32) {
            return Err(bad(format!("input {v} is not a uint{} value", op.bits)));
        }
        let (v, k) = (v as u128, op.shifts.get(e).copied().unwrap_or(0));
        let r = if k >= op.bits {
            0
        } else if op.left {
            (v << k) & ((1u128 << op.bits) - 1)
        } else {
            v >> k
        };
        out.push(r as f64);
    }
    Ok(match x.data {
        Data::Int(_) => Tensor::int(shape, out.iter().map(|&v| v as i64).collect()),
        Data::Float(_) => Tensor::float(shape, out),
    })
}
