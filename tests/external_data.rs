//! End to end on a model whose weights live in `model.onnx.data` (torch >= 2.9's
//! default): MockProver accepts the witness and the proven outputs match
//! onnxruntime; `zkinfer inspect` reads the side file too.

mod common;

use common::*;
use zkinfer::coverage::{self, CoverageOptions, Outcome};

#[test]
fn external_data_model_satisfies_the_circuit() {
    let root = repo().join("tests/fixtures/real");
    let dir = root.join("mlp_external_data");
    let r = coverage::check_model(&root, &dir, &CoverageOptions::default());
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

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["inspect", dir.join("model.onnx").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("node_linear"), "{text}");
}
