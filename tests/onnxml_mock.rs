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

/// Real proofs (setup, prove, verify) of a random forest and an XGBoost
/// model; a proof whose claimed label is changed is rejected.
#[test]
fn onnxml_real_proofs_bind_the_label() {
    use zkinfer::{pipeline, SrsSource};
    for name in ["skl_random_forest", "xgb_classifier"] {
        let c = case(&repo().join("tests/fixtures/real").join(name));
        let out = tmp(&format!("onnxml-{name}"));
        let m = pipeline::compile(&c.model, &options(&c), &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        pipeline::setup(&out, &SrsSource::DevCached(srs_cache())).unwrap();
        let po = pipeline::prove(&out, &c.inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pf = out.join("proof.json");
        pipeline::verify(&out, &po.proof, &pf).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(po.proof.outputs[0], c.expected[0], "{name}: proven labels");
        let acc = zkinfer::max_abs_error(&po.proof.outputs, &c.expected).unwrap();
        println!(
            "{name}: k={} rows={} max_abs_error={:.6} ({:.4}% of range) prove {:.2}s",
            m.settings.k,
            m.settings.rows,
            acc.max_abs_error,
            100.0 * acc.relative_error,
            po.prove_ms as f64 / 1e3
        );
        assert!(acc.relative_error <= 0.01, "{name}");
        // Flip the first label, in the instance and in the convenience fields.
        let mut p = po.proof.clone();
        let v = prover::artifact::fr_from_hex(&p.instances[0][0]).unwrap() + prover::Fr::one();
        p.instances[0][0] = prover::artifact::fr_to_hex(&v);
        p.outputs_quantized[0][0] += 1;
        p.outputs[0][0] += ir::dequantize(1, p.scale_bits);
        assert!(pipeline::verify(&out, &p, &pf).is_err(), "{name}: changed label accepted");
    }
}
