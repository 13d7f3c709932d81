//! End to end on models as users export them (issue 11): weights in
//! `model.onnx.data` (torch >= 2.9's default) and the legacy
//! `ConstantOfShape -> NonZero` arange; Tan/Asin/Acos and ReduceLogSumExp. MockProver accepts the witness and
//! the proven outputs match onnxruntime; `zkinfer inspect` reads the side file.

mod common;

use common::*;
use zkinfer::coverage::{self, CoverageOptions, Outcome};

fn mock_prove(model: &str) {
    let root = repo().join("tests/fixtures/real");
    let r = coverage::check_model(&root, &root.join(model), &CoverageOptions::default());
    println!(
        "{}: k={:?} rows={:?} err={:?} ({:.4}% of range) status {}",
        r.model,
        r.k,
        r.rows,
        r.max_abs_error,
        100.0 * r.relative_error.unwrap_or(f64::NAN),
        r.status
    );
    assert!(matches!(r.outcome, Outcome::Proved), "{}", r.status);
    assert!(r.relative_error.unwrap() <= 0.01);
}

#[test]
fn external_data_model_satisfies_the_circuit() {
    mock_prove("mlp_external_data");
    let model = repo().join("tests/fixtures/real/mlp_external_data/model.onnx");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["inspect", model.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("node_linear"), "{text}");
    // `zkinfer compile` reads the side file too.
    let out_dir = tmp("real-exports-extdata");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["compile", model.to_str().unwrap(), "-o", out_dir.to_str().unwrap()])
        .env("ZKINFER_CACHE", srs_cache())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out_dir.join("program.bin").exists());
}

#[test]
fn legacy_arange_model_satisfies_the_circuit() {
    mock_prove("arange_nonzero_legacy");
}

#[test]
fn trig_and_log_sum_exp_model_satisfies_the_circuit() {
    mock_prove("trig_logsumexp");
}
