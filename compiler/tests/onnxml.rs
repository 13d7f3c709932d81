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
    ("skl_gradient_boosting", true),
    ("lgbm_classifier", true),
    ("skl_linear_regression", false),
    ("skl_random_forest_regressor", false),
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
