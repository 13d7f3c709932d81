//! MockProver over every `ai.onnx.ml` fixture (tests/fixtures/real, made by
//! scripts/fixtures_onnxml.py): the circuit accepts the evaluator's witness,
//! the probabilities stay within 1% of onnxruntime's range and the int64
//! labels are exact (the coverage check's rule for integer outputs).

mod common;

use common::*;
use zkinfer::coverage::{self, CoverageOptions, Outcome};

#[test]
fn onnxml_models_satisfy_the_circuit() {
    let root = repo().join("tests/fixtures/real");
    let opts = CoverageOptions::default();
    // Only this part's fixtures (other parts of issue 11 share the folder).
    let mine = |d: &std::path::PathBuf| {
        let n = d.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        ["skl_", "lgbm_", "xgb_", "ml_"].iter().any(|p| n.starts_with(p))
    };
    let dirs: Vec<_> = coverage::find_models(&root).into_iter().filter(mine).collect();
    for must in
        ["skl_logreg", "skl_scaler_logreg_zipmap", "skl_random_forest", "skl_gradient_boosting", "lgbm_classifier"]
    {
        assert!(dirs.iter().any(|d| d.ends_with(must)), "{must} fixture missing");
    }
    for dir in &dirs {
        let name = dir.display().to_string();
        let r = coverage::check_model(&root, dir, &opts);
        println!(
            "{}: {} k={} rows={} err={:.3e} ({:.4}% of range) {:.1} s",
            r.model,
            r.status,
            r.k.unwrap_or(0),
            r.rows.unwrap_or(0),
            r.max_abs_error.unwrap_or(0.0),
            100.0 * r.relative_error.unwrap_or(0.0),
            r.seconds
        );
        assert!(matches!(r.outcome, Outcome::Proved), "{name}: {}", r.status);
    }
}
