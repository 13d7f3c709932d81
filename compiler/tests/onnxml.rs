//! `ai.onnx.ml` models as skl2onnx / onnxmltools export them
//! (`scripts/fixtures_onnxml.py`): the float reference and the integer
//! program against onnxruntime; class labels must match exactly.

mod common;

use std::path::{Path, PathBuf};

use common::{check_folder, read_json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/real").join(name)
}

/// `(name, has a label output first)`.
const MODELS: &[(&str, bool)] = &[
    ("skl_logreg", true),
    ("skl_logreg_3class", true),
    ("skl_scaler_logreg_zipmap", true),
    ("skl_random_forest", true),
    ("skl_column_transformer_onehot", true),
    ("skl_imputer_scaler_forest", true),
    ("skl_gradient_boosting", true),
    ("lgbm_classifier", true),
    ("xgb_classifier", true),
    ("skl_linear_regression", false),
    ("skl_random_forest_regressor", false),
    ("ml_linear_binary_none", true),
    ("ml_linear_binary_logistic", true),
    ("ml_preprocessing", false),
    ("ml_tree_modes", true),
    ("ml_tree_ensemble_v5", false),
    ("ml_onehot_float", false),
];

#[test]
fn onnxml_fixtures_match_onnxruntime() {
    for &(name, labelled) in MODELS {
        let dir = fixture(name);
        let out = check_folder(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = compiler::parse_expected_json(&read_json(&dir, "expected.json")).expect("expected.json");
        let inputs = compiler::parse_input_json(&read_json(&dir, "input.json")).expect("input.json");
        let p = &out.program;
        let trace = ir::eval(p, &ir::quantize_inputs(p, &inputs).expect("quantize")).expect("eval");
        if labelled {
            let labels = p.dequantize_output(0, &trace.values[p.outputs[0].value]);
            let want: Vec<f64> = expected[0].clone();
            let got: Vec<f64> = labels.iter().map(|v| v.round()).collect();
            assert_eq!(got, want, "{name}: labels");
        }
        println!(
            "{name:<30} s={:<2} quant err {:.4}% of range  float err {:.2e}  nodes={}",
            p.quant.scale_bits,
            100.0 * out.quant_err,
            out.float_err,
            p.nodes.len()
        );
        assert!(out.float_err <= 1e-4, "{name}: float reference error {}", out.float_err);
        assert!(out.quant_err <= 0.01, "{name}: quantized error {}", out.quant_err);
    }
}

use common::build::{floats, ints, string, Model};
use onnx_protobuf::{attribute_proto::AttributeType, AttributeProto};

fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        type_: AttributeType::STRINGS.into(),
        ..Default::default()
    }
}

/// One `ai.onnx.ml` node over a `[1, 2]` input.
fn ml_node(op: &str, attrs: Vec<AttributeProto>, outputs: &[&str]) -> Vec<u8> {
    let mut m = Model::new(17);
    m.input("x", &[1, 2]);
    m.node(op, &["x"], outputs, attrs);
    m.graph.node.last_mut().expect("node").domain = "ai.onnx.ml".into();
    for o in outputs {
        m.output(o);
    }
    m.bytes()
}

fn compile_err(model: &[u8]) -> String {
    let opts = compiler::CompileOptions { calibration: vec![vec![vec![0.5, -0.5]]], ..Default::default() };
    match compiler::compile_bytes(model, "synthetic", &opts) {
        Ok(_) => panic!("expected a compile error"),
        Err(e) => e.to_string(),
    }
}

fn tree(modes: &[&str]) -> Vec<AttributeProto> {
    vec![
        ints("nodes_treeids", &[0, 0, 0]),
        ints("nodes_nodeids", &[0, 1, 2]),
        ints("nodes_featureids", &[0, 0, 0]),
        strings("nodes_modes", modes),
        floats("nodes_values", &[0.1, 0.0, 0.0]),
        ints("nodes_truenodeids", &[1, 0, 0]),
        ints("nodes_falsenodeids", &[2, 0, 0]),
        ints("class_treeids", &[0, 0]),
        ints("class_nodeids", &[1, 2]),
        ints("class_ids", &[0, 1]),
        floats("class_weights", &[1.0, 1.0]),
    ]
}

#[test]
fn onnxml_unsupported_attributes_are_clear_errors() {
    let lc = |extra: Vec<AttributeProto>| {
        let mut a = vec![floats("coefficients", &[1.0, 2.0, -1.0, 0.5]), floats("intercepts", &[0.0, 0.1])];
        a.extend(extra);
        ml_node("LinearClassifier", a, &["label", "probabilities"])
    };
    let e = compile_err(&lc(vec![strings("classlabels_strings", &["no", "yes"])]));
    assert!(e.contains("classlabels_strings") && e.contains("string class labels"), "{e}");
    let e = compile_err(&lc(vec![ints("classlabels_ints", &[0, 1]), string("post_transform", "PROBIT")]));
    assert!(e.contains("post_transform") && e.contains("PROBIT"), "{e}");
    let e = compile_err(&lc(vec![ints("classlabels_ints", &[0, 1, 2])]));
    assert!(e.contains("2 coefficient rows for 3 class labels"), "{e}");

    let mut a = tree(&["BRANCH_EQ", "LEAF", "LEAF"]);
    a.push(ints("classlabels_int64s", &[0, 1]));
    let e = compile_err(&ml_node("TreeEnsembleClassifier", a, &["label", "probabilities"]));
    assert!(e.contains("nodes_modes") && e.contains("BRANCH_EQ"), "{e}");
    let mut a = tree(&["BRANCH_LEQ", "LEAF", "LEAF"]);
    a.push(ints("classlabels_int64s", &[0, 1]));
    a[2] = ints("nodes_featureids", &[5, 0, 0]);
    let e = compile_err(&ml_node("TreeEnsembleClassifier", a, &["label", "probabilities"]));
    assert!(e.contains("feature 5 out of range"), "{e}");

    // Node 1 reached from both branches of node 0: a DAG, not a tree.
    let mut a = tree(&["BRANCH_LEQ", "LEAF", "LEAF"]);
    a.push(ints("classlabels_int64s", &[0, 1]));
    a[6] = ints("nodes_falsenodeids", &[1, 0, 0]);
    let e = compile_err(&ml_node("TreeEnsembleClassifier", a, &["label", "probabilities"]));
    assert!(e.contains("shares a child"), "{e}");

    let e = compile_err(&ml_node("Normalizer", vec![string("norm", "L3")], &["y"]));
    assert!(e.contains("L3"), "{e}");
    let e = compile_err(&ml_node("SVMClassifier", vec![], &["y"]));
    assert!(e.contains("SVMClassifier"), "{e}");
    let e = compile_err(&ml_node("OneHotEncoder", vec![strings("cats_strings", &["a", "b"])], &["y"]));
    assert!(e.contains("cats_strings") && e.contains("string categories"), "{e}");
}

#[test]
fn zipmap_is_reported_as_the_probability_tensor() {
    let model = std::fs::read(fixture("skl_scaler_logreg_zipmap").join("model.onnx")).expect("model.onnx");
    let report = compiler::inspect_bytes(&model).expect("inspect");
    let z = report.nodes.iter().find(|n| n.op_type == "ZipMap").expect("a ZipMap node");
    assert!(z.supported);
    assert!(z.note.as_deref().is_some_and(|n| n.contains("probability tensor")), "{:?}", z.note);
    assert!(report.nodes.iter().all(|n| n.supported), "{report:?}");
}

/// Tree conditions compare quantized inputs: inputs a few quanta (`2^-s`)
/// either side of every threshold still take onnxruntime's branch, so labels
/// and probabilities match the float model there too. (Calibrated on the
/// batches it evaluates: function tables cover the calibrated range.)
#[test]
fn tree_thresholds_are_exact_beyond_one_quantum() {
    let dir = fixture("ml_tree_modes");
    let model = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
    let inputs = compiler::parse_input_json(&read_json(&dir, "input.json")).expect("input.json");
    // (feature, threshold) of every internal node (scripts/fixtures_onnxml.py); thresholds are f32.
    let splits = [(0, 0.2f32), (1, -0.3), (2, 0.5), (3, 0.1), (4, -0.4)];
    let (n, f) = (8, 5);
    let batches = |q: f64| {
        let mut out = vec![];
        for (feat, t) in splits {
            for k in [-3.0, -2.0, 2.0, 3.0] {
                let mut x = inputs[0].clone();
                for i in 0..n {
                    x[i * f + feat] = t as f64 + k * q * (1.0 + i as f64 / n as f64);
                }
                out.push((feat, t, k, vec![x]));
            }
        }
        out
    };
    // The scale does not depend on these tiny moves: take it from a first compile.
    let first = compiler::compile_bytes(
        &model,
        "ml_tree_modes",
        &compiler::CompileOptions { calibration: vec![inputs.clone()], ..Default::default() },
    )
    .expect("compile");
    let q = 2f64.powi(-(first.quant.scale_bits as i32));
    let cases = batches(q);
    let mut calibration: Vec<Vec<Vec<f64>>> = cases.iter().map(|c| c.3.clone()).collect();
    calibration.push(inputs.clone());
    let opts = compiler::CompileOptions { calibration, scale_bits: Some(first.quant.scale_bits), ..Default::default() };
    let p = compiler::compile_bytes(&model, "ml_tree_modes", &opts).expect("compile");
    for (feat, t, k, xin) in cases {
        let float = compiler::float_reference(&model, &xin).expect("float");
        let trace = ir::eval(&p, &ir::quantize_inputs(&p, &xin).expect("quantize")).expect("eval");
        let labels = p.dequantize_output(0, &trace.values[p.outputs[0].value]);
        assert_eq!(labels, float[0], "feature {feat} at {t} {k:+} quanta: labels");
        let probs = p.dequantize_output(1, &trace.values[p.outputs[1].value]);
        for (a, b) in probs.iter().zip(&float[1]) {
            assert!((a - b).abs() < 0.01, "feature {feat} at {t} {k:+} quanta: {a} vs {b}");
        }
    }
}

/// One transaction at a time: the dynamic batch dimension binds to N = 1
/// from the input's length; the label and probabilities match onnxruntime's
/// first row.
#[test]
fn single_row_binds_the_batch_dimension() {
    for name in ["skl_random_forest", "skl_logreg", "lgbm_classifier"] {
        let dir = fixture(name);
        let model = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
        let inputs = compiler::parse_input_json(&read_json(&dir, "input.json")).expect("input.json");
        let expected = compiler::parse_expected_json(&read_json(&dir, "expected.json")).expect("expected.json");
        let row = vec![inputs[0][..12].to_vec()];
        // Calibration batches share the compiled shape: calibrate on the row itself.
        let opts = compiler::CompileOptions { calibration: vec![row.clone()], ..Default::default() };
        let p = compiler::compile_bytes(&model, name, &opts).expect("compile");
        let trace = ir::eval(&p, &ir::quantize_inputs(&p, &row).expect("quantize")).expect("eval");
        let label = p.dequantize_output(0, &trace.values[p.outputs[0].value]);
        assert_eq!(label, vec![expected[0][0]], "{name}: label");
        let probs = p.dequantize_output(1, &trace.values[p.outputs[1].value]);
        assert_eq!(probs.len(), 2, "{name}: [1, 2] probabilities");
        for (a, b) in probs.iter().zip(&expected[1][..2]) {
            assert!((a - b).abs() < 0.01, "{name}: {a} vs {b}");
        }
    }
}

/// Imputer of NaN is an identity because a NaN (missing) feature cannot
/// enter the fixed-point program: it is refused when inputs are quantized.
#[test]
fn missing_values_are_refused_not_imputed() {
    let dir = fixture("skl_imputer_scaler_forest");
    let model = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
    let inputs = compiler::parse_input_json(&read_json(&dir, "input.json")).expect("input.json");
    let opts = compiler::CompileOptions { calibration: vec![inputs.clone()], ..Default::default() };
    let p = compiler::compile_bytes(&model, "imputer", &opts).expect("compile");
    let mut bad = inputs.clone();
    bad[0][3] = f64::NAN;
    let e = ir::quantize_inputs(&p, &bad).expect_err("NaN input must be refused");
    println!("{e}");
    let e = compile_err(&ml_node("Imputer", vec![common::build::float("replaced_value_float", -1.0)], &["y"]));
    assert!(e.contains("replaced_value_float") && e.contains("only NaN"), "{e}");
}
