//! MockProver over every shared model whose ops are all supported (the
//! library's `coverage` check, as `zkinfer coverage` runs it): the circuit
//! accepts the evaluator's witness, and the error against onnxruntime stays
//! within 1% of the output range. Unsupported models must fail with a clear
//! compile error. The quantized family is covered by `zkinfer coverage`.

mod common;

use common::*;
use zkinfer::coverage::{self, CoverageOptions, Outcome};

#[test]
fn supported_corpus_models_satisfy_the_circuit() {
    let Some(corpus) = corpus() else { return };
    let opts = CoverageOptions::default();
    let mut passed = vec![];
    let mut unsupported = vec![];
    let mut failed = vec![];
    for family in ["ezkl", "onnx-node"] {
        for dir in coverage::find_models(&corpus.join(family)) {
            if !dir.join("expected.json").exists() {
                continue;
            }
            let r = coverage::check_model(&corpus, &dir, &opts);
            match &r.outcome {
                Outcome::Proved => {
                    println!(
                        "ok   {}: k={} rows={} err={:.3e} ({:.3}% of range) {:.1} s",
                        r.model,
                        r.k.unwrap_or(0),
                        r.rows.unwrap_or(0),
                        r.max_abs_error.unwrap_or(0.0),
                        100.0 * r.relative_error.unwrap_or(0.0),
                        r.seconds
                    );
                    passed.push(r.model);
                }
                Outcome::Unsupported(_) | Outcome::CompileError(_) => {
                    unsupported.push(format!("{}: {}", r.model, r.status))
                }
                Outcome::Inaccurate(_) if KNOWN_INACCURATE.contains(&r.model.as_str()) => {
                    println!("known inaccurate {}: {}", r.model, r.status)
                }
                Outcome::Inaccurate(_) | Outcome::Failed(_) | Outcome::Bug(_) => {
                    failed.push(format!("{}: {}", r.model, r.status))
                }
            }
        }
    }
    println!("{} passed, {} unsupported (clear compile errors)", passed.len(), unsupported.len());
    for u in &unsupported {
        println!("  unsupported {u}");
    }
    for must in ["ezkl/variable_cnn", "ezkl/large_mlp", "ezkl/1l_mlp", "ezkl/3l_relu_conv_fc"] {
        assert!(passed.iter().any(|p| p == must), "{must} must pass");
    }
    assert!(failed.is_empty(), "failures:\n{}", failed.join("\n"));
}

/// Compiles, but its outputs are ~1e-4 of its inputs: below the fixed-point
/// resolution the calibration allows (see docs/NOTES.md).
const KNOWN_INACCURATE: &[&str] = &[];
