//! Quantized ONNX (issue #6): QuantizeLinear, DequantizeLinear, QLinearMatMul,
//! QLinearConv and PRelu (which sits between DQ and Q nodes in QDQ graphs).
//!
//! In the float graph a DequantizeLinear is an [`Affine`] (`(q - zp) * scale`,
//! exact in f64) and a QuantizeLinear is [`FOp::Quantize`]; the QLinear ops
//! expand to `DQ -> MatMul/Conv -> Q`. Constant weights are dequantized by
//! folding, exactly. `passes::lower_quant` then recognises the integer
//! structure again and emits integer ops (see there for the semantics).
//!
//! Unsupported forms (int4/uint4, float8/float4, blocked quantization, a
//! per-axis scale on an axis the tensor does not have, run-time scales
//! other than DynamicQuantizeLinear's) are [`CompileError::Quantization`] errors naming the
//! node and the form; [`check_forms`] finds those whose tensors cannot even be
//! decoded (before the initializers are).
//!
//! Dynamic quantization: DynamicQuantizeLinear is [`FOp::DynQuant`] (three
//! nodes, one per output), MatMulInteger/ConvInteger subtract its computed
//! zero point from the activation (an affine map) and multiply by the
//! constant `w - w_zp`; the scale product `Mul` is a product of two
//! activations. `passes::lower_quant` proves them with an exact division.

use std::collections::HashMap;

use onnx_protobuf::{GraphProto, NodeProto};

use crate::error::{CompileError, Result};
use crate::frontend::graph::{Affine, DynPart, FOp, Quantize, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes, norm_axis, numel};
use crate::frontend::ops::linear;
use crate::frontend::tensor::{Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

/// ONNX element types.
pub(super) const UINT8: i32 = 2;
pub(super) const INT8: i32 = 3;
const UINT16: i32 = 4;
const INT16: i32 = 5;
const INT32: i32 = 6;

/// Ops whose tensors are quantized; their inputs are checked by [`check_forms`].
const QUANT_OPS: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearMatMul",
    "QLinearConv",
    "MatMulInteger",
    "ConvInteger",
    "DynamicQuantizeLinear",
    "QLinearAdd",
    "QLinearMul",
    "QLinearAveragePool",
    "QLinearGlobalAveragePool",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearConcat",
    "QGemm",
];

/// The name of a quantization element type the compiler does not support.
fn unsupported_type(t: i32) -> Option<&'static str> {
    Some(match t {
        17 => "float8 (e4m3fn) quantization",
        18 => "float8 (e4m3fnuz) quantization",
        19 => "float8 (e5m2) quantization",
        20 => "float8 (e5m2fnuz) quantization",
        21 => "uint4 quantization",
        22 => "int4 quantization",
        23 => "float4 (e2m1) quantization",
        24 => "float8 (e8m0) quantization",
        _ => return None,
    })
}

/// Inclusive range of a quantized integer type.
pub(super) fn int_range(t: i32) -> Option<(i64, i64)> {
    Some(match t {
        UINT8 => (0, 255),
        INT8 => (-128, 127),
        UINT16 => (0, 65535),
        INT16 => (-32768, 32767),
        _ => return None,
    })
}

fn type_name(t: i32) -> String {
    unsupported_type(t).map(|s| s.to_string()).unwrap_or_else(|| crate::frontend::tensor::dtype_name(t).to_string())
}

/// The node name `load` uses in messages.
fn node_name(proto: &NodeProto, k: usize) -> String {
    if !proto.name.is_empty() {
        proto.name.clone()
    } else if let Some(o) = proto.output.first().filter(|o| !o.is_empty()) {
        o.clone()
    } else {
        format!("{}_{k}", proto.op_type)
    }
}

/// Rejects, by node, quantization forms whose tensors the loader could not
/// decode (int4, float8, ...) and blocked quantization (`block_size`).
pub fn check_forms(g: &GraphProto) -> Result<()> {
    let types: HashMap<&str, i32> = g.initializer.iter().map(|t| (t.name.as_str(), t.data_type)).collect();
    for (k, proto) in g.node.iter().enumerate() {
        if !QUANT_OPS.contains(&proto.op_type.as_str()) {
            continue;
        }
        let err =
            |form: String| CompileError::Quantization { node: node_name(proto, k), op: proto.op_type.clone(), form };
        for inp in &proto.input {
            if let Some(form) = types.get(inp.as_str()).and_then(|&t| unsupported_type(t)) {
                return Err(err(format!("{form} (tensor '{inp}')")));
            }
        }
        for a in &proto.attribute {
            if a.name == "output_dtype" {
                if let Some(form) = unsupported_type(a.i as i32) {
                    return Err(err(format!("{form} (output_dtype)")));
                }
            }
            if a.name == "block_size" && a.i != 0 {
                return Err(err(format!("blocked quantization (block_size={})", a.i)));
            }
        }
    }
    Ok(())
}

/// onnxruntime's QuantizeLinear of one value: `x / scale` in float32, rounded
/// half to even, plus the zero point, saturated.
pub fn quantize_value(x: f64, scale: f64, zero_point: i64, lo: i64, hi: i64) -> i64 {
    let r = ((x as f32) / (scale as f32)).round_ties_even() as f64;
    let r = if r.is_nan() { 0.0 } else { r.clamp(-1e15, 1e15) };
    (r as i64 + zero_point).clamp(lo, hi)
}

pub fn eval_quantize(q: &Quantize, x: &Tensor, shape: Vec<usize>) -> Tensor {
    let v = x.to_f64();
    let out = v.iter().enumerate().map(|(i, &x)| quantize_value(x, q.scale[i], q.zero_point[i], q.lo, q.hi)).collect();
    Tensor::int(shape, out)
}

pub(super) fn qerr(ctx: &NodeCtx, form: impl Into<String>) -> CompileError {
    CompileError::Quantization { node: ctx.name.clone(), op: ctx.op.clone(), form: form.into() }
}

/// Per-element quantization parameters of a tensor of shape `shape`.
pub(super) struct Params {
    pub(super) scale: Vec<f64>,
    pub(super) zero_point: Vec<i64>,
    /// Element type of the quantized side (the zero point's, else `default_type`).
    pub(super) elem_type: i32,
}

/// Expands a scale or zero point to one value per element: one value per
/// tensor, or a 1-D tensor along `axis`.
fn expand<T: Copy>(ctx: &NodeCtx, what: &str, v: &[T], pshape: &[usize], shape: &[usize], axis: i64) -> Result<Vec<T>> {
    let n = numel(shape);
    if v.len() == 1 {
        return Ok(vec![v[0]; n]);
    }
    if pshape.len() != 1 {
        return Err(qerr(ctx, format!("blocked quantization ({what} of shape {pshape:?})")));
    }
    let ax = norm_axis(axis, shape.len())
        .ok_or_else(|| qerr(ctx, format!("per-axis quantization on axis {axis} of a rank-{} tensor", shape.len())))?;
    if shape[ax] != v.len() {
        return Err(qerr(
            ctx,
            format!("per-axis quantization with {} {what} values on axis {ax} of size {}", v.len(), shape[ax]),
        ));
    }
    let inner: usize = shape[ax + 1..].iter().product();
    Ok((0..n).map(|i| v[(i / inner) % v.len()]).collect())
}

/// Scale and zero point (inputs `scale` and `zp` of the node) for a tensor of
/// shape `shape`, quantized along `axis` when per-axis.
pub(super) fn params(
    b: &Builder,
    ctx: &NodeCtx,
    shape: &[usize],
    scale: ValueId,
    zp: Option<ValueId>,
    axis: i64,
    default_type: i32,
) -> Result<Params> {
    if ctx.attrs().int_or("block_size", 0) != 0 {
        return Err(qerr(ctx, format!("blocked quantization (block_size={})", ctx.attrs().int_or("block_size", 0))));
    }
    let st = b.konst(scale).ok_or_else(|| qerr(ctx, "a scale computed at run time (dynamic quantization)"))?;
    if st.is_int() {
        return Err(qerr(ctx, "an integer scale"));
    }
    let sv = st.to_f64();
    if sv.is_empty() || sv.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return Err(qerr(ctx, "a scale that is not a positive finite number"));
    }
    let scale = expand(ctx, "scale", &sv, &st.shape, shape, axis)?;
    let (zero_point, elem_type) = match zp {
        None => (vec![0; numel(shape)], default_type),
        Some(z) => {
            let zt = b.konst(z).ok_or_else(|| qerr(ctx, "a zero point computed at run time (dynamic quantization)"))?;
            let zv = match &zt.data {
                Data::Int(v) => v.clone(),
                Data::Float(_) => return Err(qerr(ctx, format!("a float zero point ({})", type_name(default_type)))),
            };
            let t = match b.elem_types.get(&z) {
                Some(&t) => t,
                // A computed zero point: its values tell int8 from uint8 unless all are in 0..=127.
                None if zv.iter().any(|&v| v < 0) => INT8,
                None => default_type,
            };
            if zv.len() != 1 && zv.len() != sv.len() {
                return Err(qerr(ctx, "a zero point whose shape differs from the scale's"));
            }
            (expand(ctx, "zero point", &zv, &zt.shape, shape, axis)?, t)
        }
    };
    if let Some(form) = unsupported_type(elem_type) {
        return Err(qerr(ctx, form));
    }
    Ok(Params { scale, zero_point, elem_type })
}

/// `(x - zp) * scale` as an affine map (folded when `x` is constant).
pub(super) fn dequantize(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, p: &Params) -> Result<ValueId> {
    let shape = b.shape(x).to_vec();
    if let Some(t) = b.konst(x) {
        if !t.is_int() {
            return Err(qerr(ctx, "dequantizing a float tensor"));
        }
    }
    if p.elem_type != INT32 && int_range(p.elem_type).is_none() {
        return Err(qerr(ctx, type_name(p.elem_type)));
    }
    let n = numel(&shape);
    let aff = Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: (0..n as u32).collect(),
        weights: p.scale.clone(),
        bias: p.scale.iter().zip(&p.zero_point).map(|(&s, &z)| -(z as f64) * s).collect(),
    };
    b.push(ctx, name, FOp::Affine(aff), vec![x], shape)
}

/// `clamp(round_half_even(x / scale) + zp)` to the element type's range.
pub(super) fn quantize(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, p: &Params) -> Result<ValueId> {
    let (lo, hi) = int_range(p.elem_type).ok_or_else(|| qerr(ctx, format!("{} outputs", type_name(p.elem_type))))?;
    if p.zero_point.iter().any(|&z| z < lo || z > hi) {
        return Err(ctx.shape_err(format!("a zero point is outside [{lo}, {hi}]")));
    }
    let shape = b.shape(x).to_vec();
    let q = Quantize { scale: p.scale.clone(), zero_point: p.zero_point.clone(), lo, hi };
    let id = b.push(ctx, name, FOp::Quantize(q), vec![x], shape)?;
    b.elem_types.insert(id, p.elem_type);
    Ok(id)
}

pub fn quantize_linear(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let default = ctx.attrs().int("output_dtype").filter(|&t| t != 0).map(|t| t as i32).unwrap_or(UINT8);
    let p = params(b, ctx, &shape, ctx.input(1)?, ctx.opt_input(2), ctx.attrs().int_or("axis", 1), default)?;
    Ok(vec![quantize(b, ctx, &ctx.name, x, &p)?])
}

pub fn dequantize_linear(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let shape = b.shape(x).to_vec();
    let default = b.elem_types.get(&x).copied().unwrap_or(UINT8);
    let p = params(b, ctx, &shape, ctx.input(1)?, ctx.opt_input(2), ctx.attrs().int_or("axis", 1), default)?;
    Ok(vec![dequantize(b, ctx, &ctx.name, x, &p)?])
}

/// The QLinear op's inner float op, run by the float converter `f` on the
/// dequantized operands (same attributes).
pub(super) fn inner(
    b: &mut Builder,
    ctx: &NodeCtx,
    what: &str,
    inputs: Vec<Option<ValueId>>,
    f: crate::frontend::ops::Converter,
) -> Result<ValueId> {
    let sub = NodeCtx { proto: ctx.proto, name: ctx.sub(what), op: ctx.op.clone(), inputs };
    f(b, &sub)?.first().copied().ok_or_else(|| ctx.shape_err("no output"))
}

/// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp):
/// `Q(MatMul(DQ(a), DQ(b)))`; `b` may be quantized per column.
pub fn qlinear_matmul(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (a, w) = (ctx.input(0)?, ctx.input(3)?);
    let (sa, sw) = (b.shape(a).to_vec(), b.shape(w).to_vec());
    let pa = params(b, ctx, &sa, ctx.input(1)?, ctx.opt_input(2), 0, UINT8)?;
    let pw = params(b, ctx, &sw, ctx.input(4)?, ctx.opt_input(5), sw.len() as i64 - 1, INT8)?;
    if pa.scale.windows(2).any(|s| s[0] != s[1]) {
        return Err(qerr(ctx, "a per-axis scale for the first operand"));
    }
    let adq = dequantize(b, ctx, &ctx.sub("a_dequantized"), a, &pa)?;
    let wdq = dequantize(b, ctx, &ctx.sub("b_dequantized"), w, &pw)?;
    let y = inner(b, ctx, "matmul", vec![Some(adq), Some(wdq)], linear::matmul)?;
    let sy = b.shape(y).to_vec();
    let py = params(b, ctx, &sy, ctx.input(6)?, ctx.opt_input(7), 0, UINT8)?;
    Ok(vec![quantize(b, ctx, &ctx.name, y, &py)?])
}

/// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B):
/// `Q(Conv(DQ(x), DQ(w), B * x_scale * w_scale))`; `w` may be quantized per
/// output channel.
pub fn qlinear_conv(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, w) = (ctx.input(0)?, ctx.input(3)?);
    let (sx, sw) = (b.shape(x).to_vec(), b.shape(w).to_vec());
    let px = params(b, ctx, &sx, ctx.input(1)?, ctx.opt_input(2), 0, UINT8)?;
    let pw = params(b, ctx, &sw, ctx.input(4)?, ctx.opt_input(5), 0, INT8)?;
    if px.scale.windows(2).any(|s| s[0] != s[1]) {
        return Err(qerr(ctx, "a per-axis scale for the input"));
    }
    let xdq = dequantize(b, ctx, &ctx.sub("x_dequantized"), x, &px)?;
    let wdq = dequantize(b, ctx, &ctx.sub("w_dequantized"), w, &pw)?;
    let bias = match ctx.opt_input(8) {
        None => None,
        Some(bv) => {
            let t = b.konst(bv).ok_or_else(|| qerr(ctx, "a bias computed at run time"))?;
            let v = t.to_i64().filter(|_| t.is_int()).ok_or_else(|| qerr(ctx, "a float bias"))?;
            let oc = sw.first().copied().unwrap_or(0);
            if v.len() != oc {
                return Err(ctx.shape_err(format!("bias has {} values for {oc} output channels", v.len())));
            }
            let per_oc = numel(&sw) / oc.max(1);
            let scale = |o: usize| -> Result<f64> {
                match (px.scale.first(), pw.scale.get(o * per_oc)) {
                    (Some(a), Some(b)) => Ok(a * b),
                    _ => Err(ctx.shape_err(format!("no scale for output channel {o} (weight shape {sw:?})"))),
                }
            };
            let f = v.iter().enumerate().map(|(o, &q)| Ok(q as f64 * scale(o)?)).collect::<Result<Vec<f64>>>()?;
            Some(b.push_const(&ctx.sub("bias"), Tensor::float(vec![oc], f)))
        }
    };
    let y = inner(b, ctx, "conv", vec![Some(xdq), Some(wdq), bias], linear::conv)?;
    let sy = b.shape(y).to_vec();
    let py = params(b, ctx, &sy, ctx.input(6)?, ctx.opt_input(7), 0, UINT8)?;
    Ok(vec![quantize(b, ctx, &ctx.name, y, &py)?])
}

/// PRelu(x, slope) with a constant slope: `relu(x) - slope * relu(-x)`.
pub fn prelu(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, s) = (ctx.input(0)?, ctx.input(1)?);
    let slope = b.konst(s).ok_or_else(|| ctx.unsupported())?.to_f64();
    let (xs, ss) = (b.shape(x).to_vec(), b.shape(s).to_vec());
    let out = broadcast_shapes(&xs, &ss)
        .filter(|o| *o == xs)
        .ok_or_else(|| ctx.shape_err(format!("slope {ss:?} does not broadcast to the input {xs:?}")))?;
    let n = numel(&out);
    let ident = |w: f64| Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: (0..n as u32).collect(),
        weights: vec![w; n],
        bias: vec![0.0; n],
    };
    let pos = b.push(ctx, &ctx.sub("pos"), FOp::Relu, vec![x], out.clone())?;
    let negx = b.push(ctx, &ctx.sub("neg"), FOp::Affine(ident(-1.0)), vec![x], out.clone())?;
    let neg = b.push(ctx, &ctx.sub("neg_relu"), FOp::Relu, vec![negx], out.clone())?;
    let ms = broadcast_map(&ss, &out);
    let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0.0; n] };
    for (o, &si) in ms.iter().enumerate() {
        aff.cols.extend([o as u32, (n + o) as u32]);
        aff.weights.extend([1.0, -slope[si as usize]]);
        aff.row_ptr.push(aff.cols.len() as u32);
    }
    Ok(vec![b.push(ctx, &ctx.name, FOp::Affine(aff), vec![pos, neg], out)?])
}

/// onnxruntime's DynamicQuantizeLinear (uint8) in float32: `scale = (max(0,
/// max x) - min(0, min x)) / 255`, `zp = round_half_even(clamp(-min / scale,
/// 0, 255))`, `y = clamp(round_half_even(x / scale) + zp, 0, 255)`. An
/// all-zero input has scale 0; its `y` and `zp` are 0.
pub fn dyn_quantize_params(x: &[f64]) -> (f32, i64) {
    let mx = x.iter().fold(0f32, |m, &v| m.max(v as f32));
    let mn = x.iter().fold(0f32, |m, &v| m.min(v as f32));
    let scale = (mx - mn) / 255.0;
    if scale == 0.0 || !scale.is_finite() {
        return (0.0, 0);
    }
    let zp = (0.0 - mn / scale).clamp(0.0, 255.0).round_ties_even() as i64;
    (scale, zp)
}

pub fn eval_dyn_quantize(part: DynPart, x: &Tensor, shape: Vec<usize>) -> Tensor {
    let v = x.to_f64();
    let (scale, zp) = dyn_quantize_params(&v);
    match part {
        DynPart::Scale => Tensor::float(shape, vec![scale as f64]),
        DynPart::ZeroPoint => Tensor::int(shape, vec![zp]),
        DynPart::Y => Tensor::int(
            shape,
            v.iter().map(|&x| if scale == 0.0 { 0 } else { quantize_value(x, scale as f64, zp, 0, 255) }).collect(),
        ),
    }
}

/// DynamicQuantizeLinear(x) -> (y: uint8, y_scale: float scalar, y_zero_point: uint8 scalar).
pub fn dynamic_quantize_linear(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if b.konst(x).is_some_and(|t| t.is_int()) {
        return Err(qerr(ctx, "dynamic quantization of an integer tensor"));
    }
    let shape = b.shape(x).to_vec();
    let y = b.push(ctx, &ctx.name, FOp::DynQuant(DynPart::Y), vec![x], shape)?;
    let scale = b.push(ctx, &ctx.sub("scale"), FOp::DynQuant(DynPart::Scale), vec![x], vec![])?;
    let zp = b.push(ctx, &ctx.sub("zero_point"), FOp::DynQuant(DynPart::ZeroPoint), vec![x], vec![])?;
    b.elem_types.insert(y, UINT8);
    b.elem_types.insert(zp, UINT8);
    Ok(vec![y, scale, zp])
}

/// ConvInteger(x, w, x_zero_point, w_zero_point): `Conv(x - x_zp, w - w_zp)`
/// with exact integer sums; `w` constant (its zero point per tensor or per
/// output channel), `x_zp` constant or computed (one per tensor).
pub fn conv_integer(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, w) = (ctx.input(0)?, ctx.input(1)?);
    let wt = b.konst(w).ok_or_else(|| qerr(ctx, "weights computed at run time"))?;
    let ws = wt.shape.clone();
    let mut wv = wt.to_f64();
    if let Some(z) = ctx.opt_input(3) {
        let zv = b.konst(z).ok_or_else(|| qerr(ctx, "a weight zero point computed at run time"))?.to_f64();
        let oc = ws.first().copied().unwrap_or(0);
        if zv.len() != 1 && zv.len() != oc {
            return Err(qerr(ctx, format!("{} weight zero points for {oc} output channels", zv.len())));
        }
        let per = numel(&ws) / oc.max(1);
        for (i, v) in wv.iter_mut().enumerate() {
            *v -= if zv.len() == 1 { zv[0] } else { zv[i / per.max(1)] };
        }
    }
    let w2 = b.push_const(&ctx.sub("w_shifted"), Tensor::float(ws, wv));
    let x2 = match ctx.opt_input(2) {
        None => x,
        Some(z) => {
            if numel(b.shape(z)) != 1 {
                return Err(qerr(ctx, "a per-channel input zero point"));
            }
            let xs = b.shape(x).to_vec();
            crate::frontend::ops::elementwise::weighted_sum(b, ctx, &ctx.sub("x_shifted"), x, 1.0, z, -1.0, xs)?
        }
    };
    Ok(vec![inner(b, ctx, "conv", vec![Some(x2), Some(w2)], linear::conv)?])
}
