//! The `com.microsoft` QOperator ops that onnxruntime's static quantizer
//! emits (`quantize_static(..., quant_format=QuantFormat.QOperator)`):
//! QLinearAdd, QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool,
//! QLinearConcat and QGemm expand to `DQ -> float op -> Q` by reusing the
//! float converters, exactly like QLinearConv/QLinearMatMul (`quant.rs`), so
//! `passes::lower_quant` proves them with its integer semantics (exact sums,
//! one rounding per output; QLinearMul of two computed tensors is a product
//! of two quantized activations). QLinearSigmoid and QLinearLeakyRelu are
//! what onnxruntime computes: a lookup table over the input's integer range,
//! built here in float32 as onnxruntime builds it ([`FOp::QTable`], proven by
//! an `ir::Op::Table`).
//!
//! onnxruntime's kernels round in float32 where we are exact (QLinearAdd:
//! `(a - za) sa/sc + (b - zb) sb/sc`, QLinearMul: `(a - za)(b - zb) sa sb/sc`,
//! the pools: float sums / counts, QLinearConcat: a float requantization
//! table per input whose scale differs from the output's, QGemm: the int32
//! accumulator times `alpha sa sb / sy` in float32), so the two can differ by
//! one step where the exact value is within float32 rounding of a half step.

use crate::error::Result;
use crate::frontend::graph::{FOp, QTable, ValueId};
use crate::frontend::index::numel;
use crate::frontend::ops::quant::{dequantize, inner, int_range, params, qerr, quantize, Params, INT8, UINT8};
use crate::frontend::ops::{elementwise, linear, pool, shape, Converter};
use crate::frontend::tensor::{Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

pub fn converter(op_type: &str) -> Option<Converter> {
    Some(match op_type {
        "QLinearAdd" => qlinear_add,
        "QLinearMul" => qlinear_mul,
        "QLinearAveragePool" => qlinear_average_pool,
        "QLinearGlobalAveragePool" => qlinear_global_average_pool,
        "QLinearSigmoid" => qlinear_sigmoid,
        "QLinearLeakyRelu" => qlinear_leaky_relu,
        "QLinearConcat" => qlinear_concat,
        "QGemm" => qgemm,
        _ => return None,
    })
}

/// Per-tensor parameters (onnxruntime requires scalar scales and zero points
/// for these ops) of operand `x` from inputs `scale` and `zp`.
fn tensor_params(b: &Builder, ctx: &NodeCtx, x: ValueId, scale: usize, zp: usize) -> Result<Params> {
    let s = ctx.input(scale)?;
    if b.konst(s).is_some_and(|t| numel(&t.shape) != 1) {
        return Err(qerr(ctx, format!("a per-axis scale (input {scale})")));
    }
    let shape = b.shape(x).to_vec();
    let default = b.elem_types.get(&x).copied().unwrap_or(UINT8);
    params(b, ctx, &shape, s, ctx.opt_input(zp), 0, default)
}

/// The output's parameters (inputs `scale`, `zp`) for the float value `y`.
fn out_params(b: &Builder, ctx: &NodeCtx, y: ValueId, scale: usize, zp: usize) -> Result<Params> {
    let s = ctx.input(scale)?;
    if b.konst(s).is_some_and(|t| numel(&t.shape) != 1) {
        return Err(qerr(ctx, format!("a per-axis output scale (input {scale})")));
    }
    let shape = b.shape(y).to_vec();
    params(b, ctx, &shape, s, ctx.opt_input(zp), 0, UINT8)
}

/// `Q(f(DQ(a), DQ(b)))` for QLinearAdd/QLinearMul(A, A_scale, A_zp, B,
/// B_scale, B_zp, C_scale, C_zp), with broadcasting.
fn binary(b: &mut Builder, ctx: &NodeCtx, what: &str, f: Converter) -> Result<Vec<ValueId>> {
    let (x, y) = (ctx.input(0)?, ctx.input(3)?);
    let px = tensor_params(b, ctx, x, 1, 2)?;
    let py = tensor_params(b, ctx, y, 4, 5)?;
    let xd = dequantize(b, ctx, &ctx.sub("a_dequantized"), x, &px)?;
    let yd = dequantize(b, ctx, &ctx.sub("b_dequantized"), y, &py)?;
    let z = inner(b, ctx, what, vec![Some(xd), Some(yd)], f)?;
    let pz = out_params(b, ctx, z, 6, 7)?;
    Ok(vec![quantize(b, ctx, &ctx.name, z, &pz)?])
}

pub fn qlinear_add(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, "add", elementwise::add)
}

pub fn qlinear_mul(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    binary(b, ctx, "mul", elementwise::mul)
}

/// `Q(f(DQ(x)))` for the unary ops (X, X_scale, X_zp, Y_scale, Y_zp), NCHW only.
fn unary(b: &mut Builder, ctx: &NodeCtx, what: &str, f: Converter) -> Result<Vec<ValueId>> {
    if ctx.attrs().int_or("channels_last", 0) != 0 {
        return Err(qerr(ctx, "channels_last=1 (NHWC) pooling"));
    }
    let x = ctx.input(0)?;
    let px = tensor_params(b, ctx, x, 1, 2)?;
    let xd = dequantize(b, ctx, &ctx.sub("x_dequantized"), x, &px)?;
    let y = inner(b, ctx, what, vec![Some(xd)], f)?;
    let py = out_params(b, ctx, y, 3, 4)?;
    Ok(vec![quantize(b, ctx, &ctx.name, y, &py)?])
}

pub fn qlinear_average_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    unary(b, ctx, "average_pool", pool::average_pool)
}

pub fn qlinear_global_average_pool(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    unary(b, ctx, "global_average_pool", pool::global_average_pool)
}

/// QLinearConcat(Y_scale, Y_zp, X0, X0_scale, X0_zp, X1, ...):
/// `Q(Concat(DQ(X0), DQ(X1), ...))`.
pub fn qlinear_concat(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let n = ctx.inputs.len();
    if n < 5 || !(n - 2).is_multiple_of(3) {
        return Err(ctx.shape_err(format!("{n} inputs; expected Y_scale, Y_zp and (X, X_scale, X_zp) triples")));
    }
    let mut parts = vec![];
    for k in 0..(n - 2) / 3 {
        let i = 2 + 3 * k;
        let x = ctx.input(i)?;
        let p = tensor_params(b, ctx, x, i + 1, i + 2)?;
        parts.push(Some(dequantize(b, ctx, &ctx.sub(&format!("x{k}_dequantized")), x, &p)?));
    }
    let y = inner(b, ctx, "concat", parts, shape::concat)?;
    let py = out_params(b, ctx, y, 0, 1)?;
    Ok(vec![quantize(b, ctx, &ctx.name, y, &py)?])
}

/// QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp), attributes
/// alpha, transA, transB: `alpha (A' B' + C) a_scale b_scale` (the int32 bias
/// `C` has scale `alpha a_scale b_scale`, as onnxruntime computes it),
/// quantized by `y_scale`/`y_zp`, or a float output when `y_scale` is absent.
/// `B` may be quantized per output column.
pub fn qgemm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (a, w) = (ctx.input(0)?, ctx.input(3)?);
    let (sa, sw) = (b.shape(a).to_vec(), b.shape(w).to_vec());
    if sa.len() != 2 || sw.len() != 2 {
        return Err(ctx.shape_err(format!("QGemm operands must be 2-D, got {sa:?} and {sw:?}")));
    }
    let trans_b = ctx.attrs().int_or("transB", 0) != 0;
    let alpha = ctx.attrs().float_or("alpha", 1.0);
    let pa = tensor_params(b, ctx, a, 1, 2)?;
    let pw = params(b, ctx, &sw, ctx.input(4)?, ctx.opt_input(5), if trans_b { 0 } else { 1 }, INT8)?;
    let n_out = if trans_b { sw[0] } else { sw[1] };
    // The scale of output column `j`.
    let col_scale = |j: usize| {
        let e = if trans_b { j * sw[1] } else { j };
        alpha * pa.scale[0] * pw.scale[e]
    };
    let per_col = pw.scale.windows(2).any(|s| s[0] != s[1]);
    let bias = match ctx.opt_input(6) {
        None => None,
        Some(c) => {
            let t = b.konst(c).ok_or_else(|| qerr(ctx, "a bias computed at run time"))?;
            let v = t.to_i64().filter(|_| t.is_int()).ok_or_else(|| qerr(ctx, "a float bias"))?;
            let last = t.shape.last().copied().unwrap_or(1);
            if per_col && last != n_out {
                return Err(ctx.shape_err(format!(
                    "bias of shape {:?} with per-column weight scales needs {n_out} columns",
                    t.shape
                )));
            }
            let f =
                v.iter().enumerate().map(|(i, &q)| q as f64 * col_scale(if per_col { i % n_out } else { 0 })).collect();
            Some(b.push_const(&ctx.sub("bias"), Tensor::float(t.shape.clone(), f)))
        }
    };
    let ad = dequantize(b, ctx, &ctx.sub("a_dequantized"), a, &pa)?;
    let wd = dequantize(b, ctx, &ctx.sub("b_dequantized"), w, &pw)?;
    let y = inner(b, ctx, "gemm", vec![Some(ad), Some(wd), bias], linear::gemm)?;
    if ctx.opt_input(7).is_none() {
        return Ok(vec![y]);
    }
    let py = out_params(b, ctx, y, 7, 8)?;
    Ok(vec![quantize(b, ctx, &ctx.name, y, &py)?])
}

/// A lookup table `X -> Y` over the input's integer range, as onnxruntime
/// builds it (`QlinearBuildLookupTable`): dequantize in float32, `f`, and
/// quantize (float32 division, half to even, saturation).
fn lookup(b: &mut Builder, ctx: &NodeCtx, f: impl Fn(f32) -> f32) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let px = tensor_params(b, ctx, x, 1, 2)?;
    let (lo, hi) = int_range(px.elem_type).ok_or_else(|| qerr(ctx, "an input that is not 8- or 16-bit"))?;
    let shape = b.shape(x).to_vec();
    let py = out_params(b, ctx, x, 3, 4)?;
    let (ylo, yhi) = int_range(py.elem_type).ok_or_else(|| qerr(ctx, "an output that is not 8- or 16-bit"))?;
    if py.zero_point[0] < ylo || py.zero_point[0] > yhi {
        return Err(ctx.shape_err(format!("the output zero point is outside [{ylo}, {yhi}]")));
    }
    let (sx, zx) = (px.scale[0] as f32, px.zero_point[0]);
    let values = (lo..=hi)
        .map(|q| {
            let v = f(sx * (q - zx) as f32);
            crate::frontend::ops::quant::quantize_value(v as f64, py.scale[0], py.zero_point[0], ylo, yhi)
        })
        .collect();
    let id = b.push(ctx, &ctx.name, FOp::QTable(QTable { lo, values }), vec![x], shape)?;
    b.elem_types.insert(id, py.elem_type);
    Ok(vec![id])
}

pub fn qlinear_sigmoid(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    lookup(b, ctx, |x| (1.0 / (1.0 + (-(x as f64)).exp())) as f32)
}

pub fn qlinear_leaky_relu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let alpha = ctx.attrs().float_or("alpha", 0.01) as f32;
    lookup(b, ctx, move |x| if x >= 0.0 { x } else { x * alpha })
}

/// Float evaluation of an [`FOp::QTable`]: the input must be integers in the
/// table's domain.
pub fn eval_table(t: &QTable, x: &Tensor, shape: Vec<usize>) -> Result<Tensor> {
    let bad = |why: String| crate::error::CompileError::Shape {
        node: "<quantized table>".into(),
        op: "quantized_table".into(),
        reason: why,
    };
    let Data::Int(v) = &x.data else { return Err(bad("the input is not an integer tensor".into())) };
    let out = v
        .iter()
        .map(|&q| {
            usize::try_from(q - t.lo).ok().and_then(|i| t.values.get(i).copied()).ok_or_else(|| {
                bad(format!("input {q} outside the table's [{}, {}]", t.lo, t.lo + t.values.len() as i64 - 1))
            })
        })
        .collect::<Result<Vec<i64>>>()?;
    Ok(Tensor::int(shape, out))
}
