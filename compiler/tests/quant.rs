//! Quantized ONNX (issue #6) at the compiler level: forms that are not
//! supported are clear errors naming the node and the form, never panics;
//! a small QDQ model's integers match the front-end's float evaluation of the
//! same graph (onnxruntime's QuantizeLinear rounding).

mod common;

use common::build::{int, Model};
use compiler::{CompileError, CompileOptions};
use onnx_protobuf::TensorProto;

fn raw(name: &str, data_type: i32, dims: &[i64], raw_data: Vec<u8>) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type, raw_data, ..Default::default() }
}

fn scalar_f32(name: &str, v: f32) -> TensorProto {
    raw(name, 1, &[], v.to_le_bytes().to_vec())
}

fn compile(bytes: &[u8]) -> Result<ir::Program, CompileError> {
    compiler::compile_bytes(bytes, "t", &CompileOptions::default())
}

/// x[1,4] -> Q(int8) -> DQ -> MatMul(DQ(w)) -> Q -> DQ -> y, with `w` of
/// element type `w_type` (raw bytes `w_raw`), weight scale `ws` and the
/// weight DQ's extra attributes.
fn qdq_matmul(w_type: i32, w_raw: Vec<u8>, ws: TensorProto, w_attrs: Vec<onnx_protobuf::AttributeProto>) -> Vec<u8> {
    let mut m = Model::new(21);
    m.input("x", &[1, 4]);
    m.init_tensor(scalar_f32("s", 0.05)).init_tensor(raw("z", 3, &[], vec![0]));
    m.init_tensor(raw("w", w_type, &[4, 2], w_raw)).init_tensor(ws);
    m.node("QuantizeLinear", &["x", "s", "z"], &["xq"], vec![]);
    m.node("DequantizeLinear", &["xq", "s", "z"], &["xd"], vec![]);
    m.node("DequantizeLinear", &["w", "ws"], &["wd"], w_attrs);
    m.node("MatMul", &["xd", "wd"], &["mm"], vec![]);
    m.node("QuantizeLinear", &["mm", "s", "z"], &["yq"], vec![]);
    m.node("DequantizeLinear", &["yq", "s", "z"], &["y"], vec![]).output("y");
    m.bytes()
}

fn assert_quant_error(r: Result<ir::Program, CompileError>, node: &str, form: &str) {
    match r {
        Err(e @ CompileError::Quantization { .. }) => {
            let text = e.to_string();
            assert!(text.contains(node) && text.contains(form), "expected node {node} and form {form:?}: {text}");
        }
        other => panic!("expected a quantization error naming {node} and {form:?}, got {other:?}"),
    }
}

#[test]
fn int8_weights_compile() {
    let p = compile(&qdq_matmul(3, vec![1, 2, 3, 4, 5, 6, 7, 8], scalar_f32("ws", 0.1), vec![])).unwrap();
    assert!(p.outputs[0].dequant.is_some());
}

#[test]
fn int4_and_float8_weights_are_refused_by_node() {
    // int4 (22) and uint4 (21): two values per byte.
    assert_quant_error(
        compile(&qdq_matmul(22, vec![0x21; 4], scalar_f32("ws", 0.1), vec![])),
        "dequantizelinear_3",
        "int4",
    );
    assert_quant_error(
        compile(&qdq_matmul(21, vec![0x21; 4], scalar_f32("ws", 0.1), vec![])),
        "dequantizelinear_3",
        "uint4",
    );
    // float8 e4m3fn (17).
    assert_quant_error(
        compile(&qdq_matmul(17, vec![0x38; 8], scalar_f32("ws", 0.1), vec![])),
        "dequantizelinear_3",
        "float8",
    );
}

#[test]
fn blocked_and_bad_axis_quantization_are_refused_by_node() {
    // Blocked: block_size on the weight DQ, scales [2, 2].
    let ws = raw("ws", 1, &[2, 2], [0.1f32, 0.2, 0.3, 0.4].iter().flat_map(|x| x.to_le_bytes()).collect());
    let m = qdq_matmul(3, vec![1; 8], ws, vec![int("axis", 0), int("block_size", 2)]);
    assert_quant_error(compile(&m), "dequantizelinear_3", "blocked quantization (block_size=2)");
    // Per-axis with 3 scales on an axis of size 2.
    let ws = raw("ws", 1, &[3], [0.1f32, 0.2, 0.3].iter().flat_map(|x| x.to_le_bytes()).collect());
    let m = qdq_matmul(3, vec![1; 8], ws, vec![int("axis", 1)]);
    assert_quant_error(
        compile(&m),
        "dequantizelinear_3",
        "per-axis quantization with 3 scale values on axis 1 of size 2",
    );
    // Per-axis on an axis the tensor does not have.
    let ws = raw("ws", 1, &[2], [0.1f32, 0.2].iter().flat_map(|x| x.to_le_bytes()).collect());
    let m = qdq_matmul(3, vec![1; 8], ws, vec![int("axis", 5)]);
    assert_quant_error(compile(&m), "dequantizelinear_3", "per-axis quantization on axis 5 of a rank-2 tensor");
}

#[test]
fn float8_output_dtype_and_dequantize_by_a_dynamic_scale_are_refused_by_node() {
    let mut m = Model::new(21);
    m.input("x", &[1, 4]).init_tensor(scalar_f32("s", 0.05));
    m.node("QuantizeLinear", &["x", "s"], &["xq"], vec![int("output_dtype", 17)]);
    m.node("DequantizeLinear", &["xq", "s"], &["y"], vec![]).output("y");
    assert_quant_error(compile(&m.bytes()), "quantizelinear_1", "float8");

    // DynamicQuantizeLinear is supported, but a DequantizeLinear by its
    // run-time scale is not (only the MatMulInteger/ConvInteger form is).
    let mut m = Model::new(13);
    m.input("x", &[1, 4]);
    m.node("DynamicQuantizeLinear", &["x"], &["q", "s", "z"], vec![]);
    m.node("DequantizeLinear", &["q", "s", "z"], &["y"], vec![]).output("y");
    assert_quant_error(compile(&m.bytes()), "dequantizelinear_2", "a scale computed at run time");
}

/// x[1,4] -> DynamicQuantizeLinear -> MatMulInteger(w uint8, zero points)
/// -> Cast -> Mul(x_scale * w_scale) -> Add(bias): the onnxruntime dynamic
/// form. The program's float output matches the front-end's float
/// evaluation (onnxruntime's float32 semantics) within a tiny fraction of
/// the accumulator's step, over many inputs, and it divides (`ir::Op::Div`).
#[test]
fn dynamic_quantized_matmul_matches_the_float_graph_evaluation() {
    let mut m = Model::new(13);
    m.input("x", &[1, 4]);
    let w: Vec<u8> = (0..12).map(|i: u32| ((i * 53 + 7) % 256) as u8).collect();
    m.init_tensor(raw("w", 2, &[4, 3], w)).init_tensor(raw("wz", 2, &[], vec![131]));
    m.init_tensor(scalar_f32("ws", 0.0071));
    let b: Vec<u8> = [0.25f32, -0.5, 0.125].iter().flat_map(|x| x.to_le_bytes()).collect();
    m.init_tensor(raw("b", 1, &[3], b));
    m.node("DynamicQuantizeLinear", &["x"], &["q", "s", "z"], vec![]);
    m.node("Mul", &["s", "ws"], &["sw"], vec![]);
    m.node("MatMulInteger", &["q", "w", "z", "wz"], &["acc"], vec![]);
    m.node("Cast", &["acc"], &["accf"], vec![int("to", 1)]);
    m.node("Mul", &["accf", "sw"], &["mm"], vec![]);
    m.node("Add", &["mm", "b"], &["y"], vec![]).output("y");
    let bytes = m.bytes();
    let p = compile(&bytes).unwrap();
    assert!(p.nodes.iter().any(|n| matches!(n.op, ir::Op::Div(_))));
    let mut worst: f64 = 0.0;
    // Irregular float32 inputs (an LCG): exact ties of `x / y_scale`, where
    // onnxruntime rounds half to even and the program half up, have
    // probability ~2^-26 per element for such inputs.
    let mut state: u64 = 12345;
    for t in 0..200 {
        let x: Vec<f64> = (0..4)
            .map(|_| {
                state = (1664525 * state + 1013904223) & 0xFFFF_FFFF;
                ((state >> 8) as f64 / (1u64 << 24) as f64 - 0.4) * (0.1 + t as f64 / 20.0)
            })
            .map(|v| v as f32 as f64)
            .collect();
        let want = compiler::float_reference(&bytes, std::slice::from_ref(&x)).unwrap();
        let q = ir::quantize_inputs(&p, std::slice::from_ref(&x)).unwrap();
        let trace = ir::eval(&p, &q).unwrap();
        let got = p.dequantize_output(0, &trace.values[p.outputs[0].value]);
        // The accumulator's step: y_scale * w_scale.
        let (mx, mn) = x.iter().fold((0f64, 0f64), |(a, b), &v| (a.max(v), b.min(v)));
        let step = (mx - mn) / 255.0 * 0.0071;
        for (g, w) in got.iter().zip(&want[0]) {
            worst = worst.max((g - w).abs() / step);
        }
    }
    assert!(worst < 0.5, "{worst} accumulator steps apart");
}

/// The integer program and the front-end's float evaluation (which rounds
/// QuantizeLinear as onnxruntime does: float32 division, half to even) agree
/// on a QDQ model with per-channel weights, saturation on both sides and
/// uint8 and int8 tensors, over many inputs.
#[test]
fn qdq_program_matches_the_float_graph_evaluation() {
    let mut m = Model::new(13);
    m.input("x", &[1, 4]);
    m.init_tensor(scalar_f32("xs", 0.013)).init_tensor(raw("xz", 2, &[], vec![100]));
    let w: Vec<u8> = (0..12).map(|i: i32| ((i * 37 % 255) - 127) as i8 as u8).collect();
    m.init_tensor(raw("w", 3, &[4, 3], w));
    let ws: Vec<u8> = [0.011f32, 0.023, 0.007].iter().flat_map(|x| x.to_le_bytes()).collect();
    m.init_tensor(raw("ws", 1, &[3], ws)).init_tensor(raw("wz", 3, &[3], vec![0, 0, 0]));
    m.init_tensor(scalar_f32("ys", 0.004)).init_tensor(raw("yz", 3, &[], vec![(-20i8) as u8]));
    m.node("QuantizeLinear", &["x", "xs", "xz"], &["xq"], vec![]);
    m.node("DequantizeLinear", &["xq", "xs", "xz"], &["xd"], vec![]);
    m.node("DequantizeLinear", &["w", "ws", "wz"], &["wd"], vec![int("axis", 1)]);
    m.node("MatMul", &["xd", "wd"], &["mm"], vec![]);
    m.node("QuantizeLinear", &["mm", "ys", "yz"], &["yq"], vec![]);
    m.node("DequantizeLinear", &["yq", "ys", "yz"], &["y"], vec![]).output("y");
    let bytes = m.bytes();
    let p = compile(&bytes).unwrap();
    let (mut elements, mut equal) = (0, 0);
    let mut saturated = [false, false];
    for k in 0..200 {
        let x: Vec<f64> = (0..4).map(|i| (((k * 7 + i * 13) % 97) as f64 / 97.0 - 0.5) * 3.0).collect();
        let reference = compiler::float_reference(&bytes, std::slice::from_ref(&x)).unwrap();
        let q = ir::quantize_inputs(&p, &[x]).unwrap();
        let t = ir::eval(&p, &q).unwrap();
        let got = p.dequantize_output(0, &t.values[p.outputs[0].value]);
        for (a, b) in got.iter().zip(&reference[0]) {
            let steps = (a - b).abs() / 0.004;
            assert!(steps <= 1.0 + 1e-6, "more than one step apart: {a} vs {b}");
            elements += 1;
            equal += (steps < 0.5) as usize;
            saturated[0] |= (b - (-128.0 + 20.0) * 0.004).abs() < 1e-6;
            saturated[1] |= (b - (127.0 + 20.0) * 0.004).abs() < 1e-6;
        }
    }
    assert!(saturated[0] && saturated[1], "exercise both saturation bounds");
    assert!(equal as f64 >= 0.99 * elements as f64, "{equal}/{elements} equal");
}

/// Requantizing to twice the scale (and adding two tensors of one scale into
/// twice that scale) makes exact ties; onnxruntime rounds them to even, and
/// so does the program.
#[test]
fn ties_round_half_to_even() {
    let mut m = Model::new(13);
    m.input("x", &[1, 16]).input("u", &[1, 16]);
    m.init_tensor(scalar_f32("s", 0.1)).init_tensor(raw("z", 3, &[], vec![0]));
    m.init_tensor(scalar_f32("s2", 0.2)).init_tensor(raw("z2", 3, &[], vec![1]));
    m.node("QuantizeLinear", &["x", "s", "z"], &["xq"], vec![]);
    m.node("DequantizeLinear", &["xq", "s", "z"], &["xd"], vec![]);
    m.node("QuantizeLinear", &["u", "s", "z"], &["uq"], vec![]);
    m.node("DequantizeLinear", &["uq", "s", "z"], &["ud"], vec![]);
    m.node("QuantizeLinear", &["xd", "s2", "z2"], &["yq"], vec![]);
    m.node("DequantizeLinear", &["yq", "s2", "z2"], &["y"], vec![]).output("y");
    m.node("Add", &["xd", "ud"], &["sum"], vec![]);
    m.node("QuantizeLinear", &["sum", "s2", "z2"], &["sq"], vec![]);
    m.node("DequantizeLinear", &["sq", "s2", "z2"], &["w"], vec![]).output("w");
    let bytes = m.bytes();
    let p = compile(&bytes).unwrap();
    assert!(p.nodes.iter().any(|n| n.name.ends_with("/floor")), "the half-to-even rounding is used");
    let x: Vec<f64> = (0..16).map(|i| (i as f64 - 7.5) * 0.1 + 0.02).collect();
    let u: Vec<f64> = (0..16).map(|i| (i as f64 * 3.0 % 7.0 - 3.0) * 0.1 - 0.03).collect();
    let reference = compiler::float_reference(&bytes, &[x.clone(), u.clone()]).unwrap();
    let q = ir::quantize_inputs(&p, &[x, u]).unwrap();
    let t = ir::eval(&p, &q).unwrap();
    for (k, r) in reference.iter().enumerate() {
        let got = p.dequantize_output(k, &t.values[p.outputs[k].value]);
        for (a, b) in got.iter().zip(r) {
            assert!((a - b).abs() < 1e-6, "output {k}: {got:?} vs {r:?}");
        }
    }
}
