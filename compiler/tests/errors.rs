//! Bad models, bad inputs and bad JSON give clear errors, never panics.

mod common;

use common::build::{int, values, Model};
use common::corpus;
use compiler::{CompileError, CompileOptions};

fn mlp() -> Vec<u8> {
    let mut m = Model::new(13);
    m.input("x", &[1, 3]).init("w", &[3, 2], &values(6, 1));
    m.node("MatMul", &["x", "w"], &["y"], vec![]).output("y");
    m.bytes()
}

#[test]
fn malformed_bytes() {
    for bytes in [&b"definitely not an onnx model"[..], &[0xff; 64][..], &[][..]] {
        let err = compiler::compile_bytes(bytes, "junk.onnx", &CompileOptions::default()).unwrap_err();
        assert!(matches!(&err, CompileError::Decode { path, .. } if path == "junk.onnx"), "{err}");
        assert!(compiler::inspect_bytes(bytes).is_err());
        assert!(compiler::float_reference(bytes, &[]).is_err());
    }
}

#[test]
fn truncated_models() {
    let Some(root) = corpus() else { return };
    for m in ["ezkl/3l_relu_conv_fc", "ezkl/variable_cnn", "ezkl/1l_mlp"] {
        let bytes = std::fs::read(root.join(m).join("model.onnx")).expect("model");
        for cut in [bytes.len() / 2, bytes.len() - 1, 10] {
            let err = compiler::compile_bytes(&bytes[..cut], m, &CompileOptions::default())
                .expect_err("a truncated model must not compile");
            println!("{m} cut at {cut}: {err}");
            let _ = compiler::inspect_bytes(&bytes[..cut]);
        }
    }
}

#[test]
fn unsupported_ops_are_all_listed() {
    let mut m = Model::new(13);
    m.input("x", &[1, 3]).input("d", &[1, 3]);
    m.node("NonZero", &["x"], &["a"], vec![]);
    m.node("Relu", &["a"], &["b"], vec![]); // downstream of an unsupported node: not reported
    m.node("Det", &["x"], &["c"], vec![]);
    m.node("Mod", &["x", "d"], &["e"], vec![]);
    m.node("Add", &["b", "c"], &["f"], vec![]).node("Add", &["f", "e"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    let CompileError::Unsupported { ops } = &err else { panic!("{err}") };
    let kinds: Vec<&str> = ops.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(kinds, vec!["NonZero", "Det", "Mod"]);
    let msg = err.to_string();
    assert!(
        msg.contains("NonZero (node 'nonzero_1')") && msg.contains("Det (node 'det_3')") && msg.contains("mod_4"),
        "{msg}"
    );
    // inspect still describes every node.
    let report = compiler::inspect_bytes(&m.bytes()).expect("inspect");
    assert_eq!(report.nodes.len(), 6);
    assert_eq!(report.unsupported().len(), 3);
    let table = report.to_string();
    assert!(table.contains("NonZero") && table.contains("NO"), "{table}");
    assert!(serde_json::to_string(&report).expect("json").contains("\"supported\":false"));
}

#[test]
fn unused_extra_outputs_are_fine_but_used_ones_are_not() {
    let mut m = Model::new(13);
    m.input("x", &[1, 1, 4, 4]);
    m.node("MaxPool", &["x"], &["y", "idx"], vec![common::build::ints("kernel_shape", &[2, 2])]);
    m.output("y");
    assert!(compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).is_ok());
    m.output("idx");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains("MaxPool (output 1)"), "{err}");
}

#[test]
fn integer_inputs_are_data_and_strings_are_rejected() {
    let mut m = Model::new(13);
    m.input_typed("x", 7, &[Some(3)]).node("Identity", &["x"], &["y"], vec![]).output("y");
    let p = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).expect("int64 input is data");
    assert_eq!(p.inputs.len(), 1);
    assert!(p.inputs[0].bound.is_none());
    let mut m = Model::new(13);
    m.input_typed("s", 8, &[Some(3)]).node("Identity", &["s"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(
        matches!(&err, CompileError::UnsupportedType { tensor, dtype } if tensor == "s" && dtype == "string"),
        "{err}"
    );
}

/// An int64 graph input feeding Reshape's shape is a parameter: bound from
/// the calibration sample, checked against every later input.
#[test]
fn parameter_inputs_are_bound_from_the_sample() {
    let mut m = Model::new(13);
    m.input("x", &[2, 3]).input_typed("shape", 7, &[Some(2)]);
    m.node("Reshape", &["x", "shape"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(matches!(err, CompileError::Unsupported { .. }), "{err}");
    let sample = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![3.0, 2.0]];
    let opts = CompileOptions { calibration: vec![sample.clone()], ..Default::default() };
    let p = compiler::compile_bytes(&m.bytes(), "m", &opts).expect("bound");
    assert_eq!(p.inputs[1].bound, Some(vec![3.0, 2.0]));
    assert_eq!(p.outputs[0].shape, vec![3, 2]);
    assert!(ir::quantize_inputs(&p, &sample).is_ok());
    let err = ir::quantize_inputs(&p, &[sample[0].clone(), vec![2.0, 3.0]]).unwrap_err();
    assert!(err.to_string().contains("bound when the model was compiled"), "{err}");
}

#[test]
fn bad_inputs() {
    let bytes = mlp();
    let err = compiler::float_reference(&bytes, &[vec![1.0, 2.0]]).unwrap_err();
    assert!(matches!(err, CompileError::InputLength { expected: 3, got: 2, .. }), "{err}");
    let err = compiler::float_reference(&bytes, &[]).unwrap_err();
    assert!(matches!(err, CompileError::InputCount { expected: 1, got: 0 }), "{err}");
    let err = compiler::float_reference(&bytes, &[vec![1.0, f64::NAN, 0.0]]).unwrap_err();
    assert!(matches!(err, CompileError::NotFinite { element: 1, .. }), "{err}");
    let opts = CompileOptions { calibration: vec![vec![vec![0.0; 4]]], ..Default::default() };
    let err = compiler::compile_bytes(&bytes, "m", &opts).unwrap_err();
    assert!(matches!(err, CompileError::Calibration { .. }), "{err}");
    let p = compiler::compile_bytes(&bytes, "m", &CompileOptions::default()).expect("compile");
    assert!(matches!(ir::quantize_inputs(&p, &[vec![0.0; 5]]), Err(ir::IrError::InputLength { .. })));
    assert!(matches!(ir::quantize_inputs(&p, &[vec![f64::NAN; 3]]), Err(ir::IrError::NotFinite { .. })));
    // Out of the calibrated range: a clear range error from the evaluator.
    let q = ir::quantize_inputs(&p, &[vec![1e6, 0.0, 0.0]]).expect("finite");
    assert!(matches!(ir::eval(&p, &q), Err(ir::IrError::OutOfRange { .. })));
}

#[test]
fn bad_attributes_and_shapes() {
    let mut m = Model::new(13);
    m.input("x", &[1, 3]).init("w", &[4, 2], &values(8, 2));
    m.node("MatMul", &["x", "w"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(matches!(&err, CompileError::Shape { op, .. } if op == "MatMul"), "{err}");

    let mut m = Model::new(13);
    m.input("x", &[1, 3]).node("Flatten", &["x"], &["y"], vec![int("axis", 7)]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(matches!(&err, CompileError::Attribute { attribute, .. } if attribute == "axis"), "{err}");

    let mut m = Model::new(13);
    m.input("x", &[1, 3]).node("Relu", &["nope"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");

    // A raw_data length that does not match the dims.
    let mut m = Model::new(13);
    m.input("x", &[1, 3]);
    m.init_tensor(onnx_protobuf::TensorProto {
        name: "w".into(),
        dims: vec![3, 2],
        data_type: 1,
        raw_data: vec![0; 7],
        ..Default::default()
    });
    m.node("MatMul", &["x", "w"], &["y"], vec![]).output("y");
    let err = compiler::compile_bytes(&m.bytes(), "m", &CompileOptions::default()).unwrap_err();
    assert!(matches!(&err, CompileError::Tensor { tensor, .. } if tensor == "w"), "{err}");
}

#[test]
fn json_forms() {
    let v = compiler::parse_input_json(r#"{"input_data": [[1, 2.5], [[true, false], [3]]]}"#).expect("json");
    assert_eq!(v, vec![vec![1.0, 2.5], vec![1.0, 0.0, 3.0]]);
    assert_eq!(compiler::parse_input_json(r#"{"input_data": [1, 2]}"#).expect("flat"), vec![vec![1.0, 2.0]]);
    assert_eq!(compiler::parse_input_json("[[1], [2]]").expect("bare"), vec![vec![1.0], vec![2.0]]);
    let e = compiler::parse_expected_json(r#"{"output_data": [[[0.5, 1]]], "shapes": [[1, 2]]}"#).expect("expected");
    assert_eq!(e, vec![vec![0.5, 1.0]]);
    let c = compiler::parse_calibration_json(r#"{"calibration_data": [[[1, 2]], [[3], [[4]]]]}"#).expect("calibration");
    assert_eq!(c, vec![vec![vec![1.0, 2.0]], vec![vec![3.0], vec![4.0]]]);
    assert_eq!(
        compiler::parse_calibration_json(r#"{"input_data": [[1, 2]]}"#).expect("one sample"),
        vec![vec![vec![1.0, 2.0]]]
    );
    assert!(matches!(compiler::parse_calibration_json(r#"{"calibration_data": 3}"#), Err(CompileError::Json { .. })));
    for bad in ["{", r#"{"input_data": [["a"]]}"#, r#"{"other": 1}"#, r#"{"input_data": 3}"#] {
        assert!(matches!(compiler::parse_input_json(bad), Err(CompileError::Json { .. })), "{bad}");
    }
}

#[test]
fn compile_file_reports_io_errors() {
    let err = compiler::compile_file(std::path::Path::new("/nonexistent/model.onnx"), &CompileOptions::default())
        .unwrap_err();
    assert!(matches!(err, CompileError::Io { .. }), "{err}");
    let Some(root) = corpus() else { return };
    let p = compiler::compile_file(&root.join("ezkl/1l_mlp/model.onnx"), &CompileOptions::default()).expect("compile");
    assert_eq!(p.name, "1l_mlp");
    let back = ir::Program::from_bytes(&p.to_bytes()).expect("round trip");
    assert_eq!(back, p);
}
