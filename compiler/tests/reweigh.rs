//! Witness parameters (issue 12; `--param-visibility private|hashed`,
//! `ir::ParamSet`, `compiler::reweigh_file`): the program of a model
//! compiled with witness weights is an architecture plus a weight set, and
//! another weight set of the same architecture (a retrained model) lowers to
//! the same architecture with its own values; anything else is an error that
//! names what differs.

use std::path::{Path, PathBuf};

use compiler::{CompileError, CompileOptions};
use ir::{Op, Visibility};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fraud(file: &str) -> PathBuf {
    root().join("examples/fraud").join(file)
}

fn opts(params: Visibility) -> CompileOptions {
    let text = std::fs::read_to_string(fraud("calibration.json")).unwrap();
    CompileOptions {
        calibration: compiler::parse_calibration_json(&text).unwrap(),
        param_visibility: params,
        ..CompileOptions::default()
    }
}

fn input(file: &str) -> Vec<Vec<f64>> {
    compiler::parse_input_json(&std::fs::read_to_string(fraud(file)).unwrap()).unwrap()
}

fn run(p: &ir::Program, x: &[Vec<f64>]) -> Vec<f64> {
    let q = ir::eval::quantize_inputs(p, x).unwrap();
    let t = ir::eval(p, &q).unwrap();
    p.dequantize_output(0, &t.outputs(p)[0])
}

#[test]
fn witness_weights_keep_the_fixed_programs_values_and_mark_every_layer() {
    let fixed = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Fixed)).unwrap();
    let hashed = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Hashed)).unwrap();
    assert!(fixed.params.is_none());
    let ps = hashed.params.as_ref().expect("a parameter set");
    assert_eq!(ps.visibility, Visibility::Hashed);
    // 30*16+16 + 16*8+8 + 8+1 parameters, one slot each.
    assert_eq!(
        ps.values.len(),
        641,
        "{:?}",
        ps.slots.iter().map(|s| &s.tensor).collect::<std::collections::BTreeSet<_>>()
    );
    let layers = hashed.nodes.iter().filter(|n| matches!(&n.op, Op::Linear(l) if l.params.is_some())).count();
    assert_eq!(layers, 3, "the three Gemm layers are parameter layers");
    assert_eq!(ps.plan.layer_scales.len(), 3);
    // Same numbers as the fixed program: only where the weights live changes.
    for x in [input("flagged_v1.json"), input("flagged_v2.json")] {
        assert_eq!(run(&fixed, &x), run(&hashed, &x));
    }
}

#[test]
fn a_retrained_model_is_the_same_architecture_with_other_values() {
    let v1 = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Hashed)).unwrap();
    let v2 = compiler::reweigh_file(&fraud("model_v2.onnx"), &v1).unwrap();
    assert_eq!(v1.architecture(), v2.architecture());
    assert_ne!(v1.params.as_ref().unwrap().values, v2.params.as_ref().unwrap().values);
    // v1's own file gives back v1 exactly.
    assert_eq!(compiler::reweigh_file(&fraud("model_v1.onnx"), &v1).unwrap(), v1);
    // v2 with the v1 architecture computes what v2 compiled on its own does
    // (to a rounding step: its weight scales are v1's).
    let own = compiler::compile_file(&fraud("model_v2.onnx"), &opts(Visibility::Hashed)).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fraud("expected.json")).unwrap()).unwrap();
    for (case, file) in [("flagged_v1", "flagged_v1.json"), ("flagged_v2", "flagged_v2.json")] {
        let x = input(file);
        let (a, b) = (run(&v2, &x)[0], run(&own, &x)[0]);
        let ort = expected[case]["v2"].as_f64().unwrap();
        eprintln!("{case}: v2 on v1's architecture {a:.5}, v2 compiled alone {b:.5}, onnxruntime {ort:.5}");
        assert!((a - ort).abs() < 0.02, "{case}: {a} vs onnxruntime {ort}");
    }
}

#[test]
fn another_architecture_or_unfitting_weights_are_errors_naming_what_differs() {
    let v1 = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Private)).unwrap();
    let fixtures = root().join("tests/fixtures/params");
    let err = |file: &Path| match compiler::reweigh_file(file, &v1) {
        Ok(_) => panic!("{} must not reweigh the fraud architecture", file.display()),
        Err(e) => e.to_string(),
    };
    let wider = err(&fixtures.join("wider.onnx"));
    eprintln!("{wider}");
    assert!(wider.contains("another architecture") && wider.contains("wider.onnx"), "{wider}");
    let tanh = err(&fixtures.join("tanh.onnx"));
    eprintln!("{tanh}");
    assert!(tanh.contains("another architecture"), "{tanh}");
    let huge = err(&fixtures.join("huge.onnx"));
    eprintln!("{huge}");
    assert!(huge.contains("/0/Gemm") && huge.contains("do not fit the compiled ranges"), "{huge}");
    let mlp = err(&root().join("examples/mlp/model.onnx"));
    assert!(mlp.contains("another architecture") || mlp.contains("inputs differ"), "{mlp}");
    // A fixed-parameter program has no weight set to replace.
    let fixed = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Fixed)).unwrap();
    match compiler::reweigh_file(&fraud("model_v2.onnx"), &fixed) {
        Err(CompileError::Tensor { reason, .. }) => assert!(reason.contains("--param-visibility"), "{reason}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_program_whose_inline_weights_differ_from_its_slots_is_malformed() {
    let mut p = compiler::compile_file(&fraud("model_v1.onnx"), &opts(Visibility::Hashed)).unwrap();
    let Some(Op::Linear(l)) =
        p.nodes.iter_mut().map(|n| &mut n.op).find(|op| matches!(op, Op::Linear(l) if l.params.is_some()))
    else {
        unreachable!()
    };
    l.weights[3] += 1;
    let e = p.validate().unwrap_err().to_string();
    assert!(e.contains("differ from their parameter slots"), "{e}");
}

/// A CNN's parameters are its weight tensors' elements: one bias slot per
/// output channel (not per output element), BatchNorm folded into the
/// convolution, and average pooling (one shared factor) compiled as a
/// constant, not a parameter layer.
#[test]
fn cnn_slots_are_the_weight_tensors_elements() {
    let cnn = root().join("examples/cnn");
    let text = std::fs::read_to_string(cnn.join("calibration.json")).unwrap();
    let opts = |params| CompileOptions {
        calibration: compiler::parse_calibration_json(&text).unwrap(),
        param_visibility: params,
        ..CompileOptions::default()
    };
    let fixed = compiler::compile_file(&cnn.join("model.onnx"), &opts(Visibility::Fixed)).unwrap();
    let private = compiler::compile_file(&cnn.join("model.onnx"), &opts(Visibility::Private)).unwrap();
    let ps = private.params.as_ref().expect("a parameter set");
    // conv1 (+ bn1 folded): 4x1x3x3 + 4; conv2: 8x4x3x3 + 8; fc: 10x72 + 10.
    assert_eq!(
        ps.values.len(),
        36 + 4 + 288 + 8 + 720 + 10,
        "{:?}",
        ps.slots.iter().map(|s| &s.tensor).collect::<std::collections::BTreeSet<_>>()
    );
    let bias_slots = ps.slots.iter().filter(|s| s.tensor.ends_with("/bias")).count();
    assert_eq!(bias_slots, 4 + 8 + 10, "one bias slot per output channel");
    let layers = private.nodes.iter().filter(|n| matches!(&n.op, Op::Linear(l) if l.params.is_some())).count();
    assert_eq!(layers, 3, "conv1+bn1, conv2, fc; the average pool is structure");
    let x = compiler::parse_input_json(&std::fs::read_to_string(cnn.join("input.json")).unwrap()).unwrap();
    assert_eq!(run(&fixed, &x), run(&private, &x));
    // Another weight set of the architecture (biases changed per channel) reweighs.
    let arch = private.architecture();
    let again = compiler::reweigh_file(&cnn.join("model.onnx"), &private).unwrap();
    assert_eq!(again.architecture(), arch);
}
