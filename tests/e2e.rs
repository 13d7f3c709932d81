//! Real proofs (setup, prove, verify) through the `zkinfer` facade for the
//! example models and the shared models issue #2 names; each reports its
//! error against onnxruntime's output, and verification rejects tampering.

mod common;

use common::*;
use zkinfer::{pipeline, SrsSource};

fn prove_model(name: &str, dir: &std::path::Path) -> zkinfer::ProofFile {
    let c = case(dir);
    let out = tmp(&format!("e2e-{}", name.replace('/', "_")));
    let m = pipeline::compile(&c.model, &options(&c), &out).unwrap_or_else(|e| panic!("{name}: {e}"));
    pipeline::setup(&out, &SrsSource::DevCached(srs_cache())).unwrap();
    let po = pipeline::prove(&out, &c.inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let pf = out.join("proof.json");
    pipeline::verify(&out, &po.proof, &pf).unwrap_or_else(|e| panic!("{name}: {e}"));
    let acc = zkinfer::max_abs_error(&po.proof.outputs, &c.expected).unwrap();
    println!(
        "{name}: k={} rows={} max_abs_error={:.6} ({:.4}% of range {:.4}) prove {:.2}s",
        m.settings.k,
        m.settings.rows,
        acc.max_abs_error,
        100.0 * acc.relative_error,
        acc.output_range,
        po.prove_ms as f64 / 1e3
    );
    assert!(acc.relative_error <= 0.01, "{name}: error {:.4}% of range exceeds 1%", 100.0 * acc.relative_error);

    // Tampering: flipped proof bytes, changed outputs, edited convenience fields.
    let bytes = prover::artifact::from_hex(&po.proof.proof).unwrap();
    for pos in [0, 33, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x80;
        let mut p = po.proof.clone();
        p.proof = prover::artifact::to_hex(&bad);
        assert!(pipeline::verify(&out, &p, &pf).is_err(), "{name}: flipped byte {pos} accepted");
    }
    let mut p = po.proof.clone();
    let last = p.instances[0].len() - 1;
    let v = prover::artifact::fr_from_hex(&p.instances[0][last]).unwrap() + prover::Fr::one();
    p.instances[0][last] = prover::artifact::fr_to_hex(&v);
    // The last instance is the last element of the last output.
    let lo = p.outputs_quantized.len() - 1;
    let nq = p.outputs_quantized[lo].len() - 1;
    p.outputs_quantized[lo][nq] += 1;
    let n = p.outputs[lo].len() - 1;
    p.outputs[lo][n] += ir::dequantize(1, p.scale_bits);
    let err = pipeline::verify(&out, &p, &pf).unwrap_err();
    assert!(err.to_string().contains("rejected"), "{name}: changed output instance: {err}");
    let mut p = po.proof.clone();
    p.outputs[0][0] += 1.0;
    assert!(pipeline::verify(&out, &p, &pf).unwrap_err().to_string().contains("do not match"));
    po.proof
}

#[test]
fn example_mlp() {
    prove_model("examples/mlp", &repo().join("examples/mlp"));
}

#[test]
fn example_cnn() {
    prove_model("examples/cnn", &repo().join("examples/cnn"));
}

#[test]
fn shared_models_real_proofs() {
    let Some(corpus) = corpus() else { return };
    for name in [
        "ezkl/1l_mlp",
        "ezkl/2l_relu_small",
        "ezkl/3l_relu_conv_fc",
        "ezkl/sklearn_mlp",
        "ezkl/1l_batch_norm",
        "ezkl/linear_regression",
    ] {
        prove_model(name, &corpus.join(name));
    }
}

/// Issue #5's models with non-linear and recurrent ops: softmax, mish and
/// the recurrent layers go through function tables.
#[test]
fn non_linear_models_real_proofs() {
    let Some(corpus) = corpus() else { return };
    for name in ["ezkl/1l_softmax", "ezkl/mish", "ezkl/lstm", "ezkl/rnn", "ezkl/prelu_gmm", "ezkl/hard_max"] {
        prove_model(name, &corpus.join(name));
    }
}

/// A two-layer transformer encoder block (attention, softmax, layer norm):
/// k = 18, the largest real proof in the suite.
#[test]
fn multihead_attention_real_proof() {
    let Some(corpus) = corpus() else { return };
    prove_model("ezkl/multihead_attention", &corpus.join("ezkl/multihead_attention"));
}

#[test]
fn proof_of_one_model_fails_against_another() {
    let a = prove_model("examples/mlp#2", &repo().join("examples/mlp"));
    let Some(corpus) = corpus() else { return };
    let c = case(&corpus.join("ezkl/1l_mlp"));
    let out = tmp("e2e-other");
    pipeline::compile(&c.model, &options(&c), &out).unwrap();
    pipeline::setup(&out, &SrsSource::DevCached(srs_cache())).unwrap();
    let err = pipeline::verify(&out, &a, &out.join("p.json")).unwrap_err();
    assert!(err.to_string().contains("different model"), "{err}");
    // Even with the digest forged, the other model's key rejects the proof.
    let mut forged = a.clone();
    forged.digest = zkinfer::load(&out).unwrap().settings.digest;
    assert!(pipeline::verify(&out, &forged, &out.join("p.json")).is_err());
}

#[test]
fn public_inputs_are_bound_by_the_proof() {
    let Some(corpus) = corpus() else { return };
    let c = case(&corpus.join("ezkl/1l_mlp"));
    let out = tmp("e2e-public-input");
    let opts = zkinfer::CompileOptions { input_visibility: zkinfer::Visibility::Public, ..options(&c) };
    let m = pipeline::compile(&c.model, &opts, &out).unwrap();
    let n_in: usize = c.inputs.iter().map(|v| v.len()).sum();
    let n_out: usize = c.expected.iter().map(|v| v.len()).sum();
    assert_eq!(m.settings.num_instances, n_in + n_out);
    pipeline::setup(&out, &SrsSource::DevCached(srs_cache())).unwrap();
    let po = pipeline::prove(&out, &c.inputs).unwrap();
    let pf = out.join("proof.json");
    pipeline::verify(&out, &po.proof, &pf).unwrap();
    // The first instances are the quantized inputs.
    let s = m.settings.scale_bits;
    let first = prover::artifact::fr_from_hex(&po.proof.instances[0][0]).unwrap();
    assert_eq!(circuits::fe_to_i64(&first), ir::quantize(c.inputs[0][0], s));
    for i in 0..n_in {
        let mut p = po.proof.clone();
        let v = prover::artifact::fr_from_hex(&p.instances[0][i]).unwrap() + prover::Fr::one();
        p.instances[0][i] = prover::artifact::fr_to_hex(&v);
        assert!(pipeline::verify(&out, &p, &pf).is_err(), "changed public input {i} accepted");
    }
    // Private outputs: no output instances, and verification still passes.
    let out2 = tmp("e2e-private-output");
    let opts = zkinfer::CompileOptions { output_visibility: zkinfer::Visibility::Private, ..options(&c) };
    let m2 = pipeline::compile(&c.model, &opts, &out2).unwrap();
    assert_eq!(m2.settings.num_instances, 0);
    pipeline::setup(&out2, &SrsSource::DevCached(srs_cache())).unwrap();
    let po2 = pipeline::prove(&out2, &c.inputs).unwrap();
    pipeline::verify(&out2, &po2.proof, &pf).unwrap();
}
