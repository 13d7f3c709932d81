//! MockProver over every shared model whose ops are all supported: the
//! circuit accepts the evaluator's witness, and the error against
//! onnxruntime stays within 1% of the output range.

mod common;

use common::*;

#[test]
fn supported_corpus_models_satisfy_the_circuit() {
    let Some(corpus) = corpus() else { return };
    let mut passed = vec![];
    let mut unsupported = vec![];
    let mut failed = vec![];
    for family in ["ezkl", "onnx-node"] {
        let mut dirs: Vec<_> = std::fs::read_dir(corpus.join(family)).unwrap().flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            if !dir.join("model.onnx").exists() || !dir.join("expected.json").exists() {
                continue;
            }
            let name = format!("{family}/{}", dir.file_name().unwrap().to_string_lossy());
            let c = case(&dir);
            if let Err(e) = compiler::compile_file(&c.model, &options(&c)) {
                unsupported.push(format!("{name}: {e}"));
                continue;
            }
            let r = std::panic::catch_unwind(|| mock(&name, &c));
            match r {
                Ok((k, rows, acc)) if acc.relative_error <= 0.01 || KNOWN_INACCURATE.contains(&name.as_str()) => {
                    println!(
                        "ok   {name}: k={k} rows={rows} err={:.3e} ({:.3}% of range)",
                        acc.max_abs_error,
                        100.0 * acc.relative_error
                    );
                    passed.push(name);
                }
                Ok((_, _, acc)) => failed.push(format!("{name}: error {:.3}% of range", 100.0 * acc.relative_error)),
                Err(_) => failed.push(format!("{name}: panicked (see above)")),
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
const KNOWN_INACCURATE: &[&str] = &["ezkl/1l_tiny_div"];
