//! Committed models (issue 12): weights as a witness bound by a Poseidon
//! commitment (`--param-visibility hashed`), hashed inputs and outputs, one
//! key per architecture, `prove --weights`, `zkinfer commitment`, and the
//! registry loop of `examples/fraud` with real proofs in the EVM.
//!
//! Soundness: a weight changed after hashing, a weight changed where it is
//! hashed, a commitment instance changed, and a hashed input whose preimage
//! differs from the input the model ran on all make MockProver fail; a proof
//! for weights A does not verify with weights B's commitment, in Rust and in
//! the EVM.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use circuits::{Tamper, TamperTarget};
use common::*;
use compiler::CompileOptions;
use ir::{Op, Visibility};

fn fraud(file: &str) -> PathBuf {
    repo().join("examples/fraud").join(file)
}

fn opts(params: Visibility, input: Visibility, output: Visibility) -> CompileOptions {
    let text = std::fs::read_to_string(fraud("calibration.json")).unwrap();
    CompileOptions {
        calibration: compiler::parse_calibration_json(&text).unwrap(),
        param_visibility: params,
        input_visibility: input,
        output_visibility: output,
        ..CompileOptions::default()
    }
}

fn flagged(n: u32) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(fraud(&format!("flagged_v{n}.json"))).unwrap();
    compiler::parse_input_json(&text).unwrap()
}

fn param_layer(p: &ir::Program) -> usize {
    p.nodes.iter().position(|n| matches!(&n.op, Op::Linear(l) if l.params.is_some())).unwrap()
}

#[test]
fn hashed_params_reject_changed_weights_and_commitments() {
    let p = compiler::compile_file(
        &fraud("model_v1.onnx"),
        &opts(Visibility::Hashed, Visibility::Private, Visibility::Public),
    )
    .unwrap();
    let layer = param_layer(&p);
    let idx = p.commitment_index("params").unwrap();
    let bench = MockBench::new(p, &flagged(1));
    bench.verify(vec![]).unwrap_or_else(|e| panic!("honest witness: {e:?}"));
    let t = |target, node, delta| Tamper { node, element: 0, target, delta };
    // Slot 0 is a weight of the first layer; the last slot the last bias.
    let last = bench.program.params.as_ref().unwrap().values.len() - 1;
    for (what, tamper) in [
        ("a weight changed after hashing (where the layer uses it)", t(TamperTarget::ParamUse, 0, 1)),
        ("the last bias changed after hashing", t(TamperTarget::ParamUse, last, -3)),
        ("a weight changed where it is hashed (and used)", t(TamperTarget::Param, 5, 1)),
        ("a parameter layer's output", t(TamperTarget::Output, layer, 1)),
    ] {
        assert!(bench.verify(vec![tamper]).is_err(), "{what}: verified");
    }
    // The commitment instance changed.
    let circuit = circuits::ModelCircuit::new(bench.program.clone(), bench.shape.clone(), bench.trace.clone());
    let mut inst = circuit.instances();
    inst[idx] += circuits::Fr::one();
    let r = halo2_proofs::dev::MockProver::run(bench.shape.k, &circuit, vec![inst]).unwrap().verify();
    assert!(r.is_err(), "a changed params commitment verified");
}

#[test]
fn private_params_are_copied_into_every_use() {
    let p = compiler::compile_file(
        &fraud("model_v1.onnx"),
        &opts(Visibility::Private, Visibility::Private, Visibility::Public),
    )
    .unwrap();
    assert!(p.commitment_parts().is_empty(), "private params publish nothing");
    let bench = MockBench::new(p, &flagged(1));
    bench.verify(vec![]).unwrap_or_else(|e| panic!("honest witness: {e:?}"));
    let tamper = Tamper { node: 7, element: 0, target: TamperTarget::ParamUse, delta: 2 };
    assert!(bench.verify(vec![tamper]).is_err(), "a use that differs from its parameter cell verified");
}

#[test]
fn hashed_inputs_and_outputs_commit_to_the_tensors_the_model_ran_on() {
    let p = compiler::compile_file(
        &fraud("model_v1.onnx"),
        &opts(Visibility::Fixed, Visibility::Hashed, Visibility::Hashed),
    )
    .unwrap();
    assert_eq!(p.commitment_parts(), vec!["input", "output"]);
    assert_eq!(p.num_instances(), 2, "one commitment each, no tensor");
    let bench = MockBench::new(p, &flagged(1));
    bench.verify(vec![]).unwrap_or_else(|e| panic!("honest witness: {e:?}"));
    let pre = Tamper { node: usize::MAX, element: 3, target: TamperTarget::HashedInput, delta: 1 };
    assert!(bench.verify(vec![pre]).is_err(), "a hashed input whose preimage differs verified");
    let circuit = circuits::ModelCircuit::new(bench.program.clone(), bench.shape.clone(), bench.trace.clone());
    for k in 0..2 {
        let mut inst = circuit.instances();
        inst[k] += circuits::Fr::one();
        let r = halo2_proofs::dev::MockProver::run(bench.shape.k, &circuit, vec![inst]).unwrap().verify();
        assert!(r.is_err(), "a changed {} commitment verified", ["input", "output"][k]);
    }
    // The same input hashes to the commitment `zkinfer commitment --input` prints.
    let q = ir::quantize_inputs(&bench.program, &flagged(1)).unwrap();
    let values: Vec<circuits::Fr> = q.iter().flatten().map(|&v| circuits::fe(v)).collect();
    assert_eq!(circuit.instances()[0], circuits::poseidon::hash(&values));
}

#[test]
fn one_key_serves_every_weight_set_of_the_architecture() {
    let o = opts(Visibility::Hashed, Visibility::Private, Visibility::Public);
    let v1 = compiler::compile_file(&fraud("model_v1.onnx"), &o).unwrap();
    let v2 = compiler::reweigh_file(&fraud("model_v2.onnx"), &v1).unwrap();
    let shape = circuits::plan(&v1).unwrap().shape;
    assert_eq!(circuits::plan(&v2).unwrap().shape, shape);
    assert_eq!(prover::keys::digest(&v1, &shape), prover::keys::digest(&v2, &shape));
    let params = prover::srs::cached_dev_srs(&srs_cache(), shape.k).unwrap();
    let vk = |p: ir::Program| {
        let keys = prover::keys::keygen(&params, std::sync::Arc::new(p), &shape).unwrap();
        prover::keys::vk_bytes(keys.vk(), &[0; 32])
    };
    assert_eq!(vk(v1.clone()), vk(v2), "the verifying key depends on the weights");
    // With fixed weights, the verifying key is per weight set.
    let f1 = compiler::compile_file(
        &fraud("model_v1.onnx"),
        &opts(Visibility::Fixed, Visibility::Private, Visibility::Public),
    )
    .unwrap();
    let f2 = compiler::compile_file(
        &fraud("model_v2.onnx"),
        &opts(Visibility::Fixed, Visibility::Private, Visibility::Public),
    )
    .unwrap();
    let fs = circuits::plan(&f1).unwrap().shape;
    assert_ne!(prover::keys::digest(&f1, &fs), prover::keys::digest(&f2, &fs));
}

fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer")).args(args).env("ZKINFER_CACHE", srs_cache()).output().unwrap()
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "command failed: {}\n{}", out, String::from_utf8_lossy(&o.stderr));
    out
}

fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "command succeeded: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The CLI contract: `compile --param-visibility hashed`, `commitment`,
/// `prove --weights` with the same keys, `proof.json` `commitments`, and the
/// errors of weights that are not the architecture's.
#[test]
fn cli_proves_another_weight_set_with_the_same_keys() {
    let d = tmp("committed_params_cli");
    let dir = d.join("fraud");
    let (v1, v2) = (fraud("model_v1.onnx"), fraud("model_v2.onnx"));
    let o = zkinfer(&[
        "compile",
        &s(&v1),
        "-o",
        &s(&dir),
        "--calibrate",
        &s(&fraud("calibration.json")),
        "--param-visibility",
        "hashed",
    ]);
    ok(&o);
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["param_visibility"], "hashed");
    assert_eq!(settings["commitment_instances"]["params"], 1, "{settings}");
    ok(&zkinfer(&["setup", &s(&dir)]));
    let vk_before = std::fs::read(dir.join("vk.bin")).unwrap();

    let commit = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["commitment", dir.to_str().unwrap()];
        a.extend_from_slice(args);
        serde_json::from_str(ok(&zkinfer(&a)).trim()).unwrap()
    };
    let c1 = commit(&[]);
    assert_eq!(commit(&["--weights", v1.to_str().unwrap()]), c1);
    let c2 = commit(&["--weights", v2.to_str().unwrap()]);
    let hex = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    assert!(hex(&c1["params"]).starts_with("0x") && hex(&c1["params"]).len() == 66, "{c1}");
    assert_ne!(c1["params"], c2["params"]);
    let ci = commit(&["--input", fraud("flagged_v2.json").to_str().unwrap()]);
    assert!(ci["input"].as_str().unwrap().len() == 66 && ci["params"] == c1["params"], "{ci}");

    let p2 = d.join("proof_v2.json");
    ok(&zkinfer(&["prove", &s(&dir), "--weights", &s(&v2), "--input", &s(&fraud("flagged_v2.json")), "-o", &s(&p2)]));
    assert_eq!(std::fs::read(dir.join("vk.bin")).unwrap(), vk_before, "no new setup");
    let pj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p2).unwrap()).unwrap();
    assert_eq!(pj["commitments"]["params"], c2["params"], "{pj}");
    assert_eq!(pj["instances"][0][1], c2["params"], "the commitment is the instance the verifier sees");
    let score = pj["outputs"][0][0].as_f64().unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fraud("expected.json")).unwrap()).unwrap();
    let ort = expected["flagged_v2"]["v2"].as_f64().unwrap();
    println!("v2 proven with v1's keys: score {score:.5}, onnxruntime {ort:.5}, error {:.2e}", (score - ort).abs());
    assert!((score - ort).abs() < 0.01);
    ok(&zkinfer(&["verify", &s(&dir), &s(&p2)]));

    // A proof for weights v2 presented with v1's commitment: the claimed
    // commitment alone, and the instance too.
    let edit = |f: &dyn Fn(&mut serde_json::Value), name: &str| -> PathBuf {
        let mut j = pj.clone();
        f(&mut j);
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_vec(&j).unwrap()).unwrap();
        p
    };
    let claimed = edit(&|j| j["commitments"]["params"] = c1["params"].clone(), "claimed_v1.json");
    assert!(fails(&zkinfer(&["verify", &s(&dir), &s(&claimed)])).contains("commitments.params"));
    let swapped = edit(
        &|j| {
            j["commitments"]["params"] = c1["params"].clone();
            j["instances"][0][1] = c1["params"].clone();
        },
        "swapped_v1.json",
    );
    fails(&zkinfer(&["verify", &s(&dir), &s(&swapped)]));
    if repo().join("node_modules/solc/soljson.js").exists() {
        assert!(ok(&zkinfer(&["verify-evm", &s(&dir), &s(&p2)])).starts_with("ok=true"));
        let o = zkinfer(&["verify-evm", &s(&dir), &s(&swapped)]);
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok=false"), "{}", String::from_utf8_lossy(&o.stdout));
    } else {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); verify-evm not exercised");
    }

    // Weights that are not this architecture's: clear errors, no proof file.
    let params = repo().join("tests/fixtures/params");
    for (file, needle) in
        [("wider.onnx", "another architecture"), ("tanh.onnx", "another architecture"), ("huge.onnx", "do not fit")]
    {
        let out = d.join(format!("proof_{file}.json"));
        let input = fraud("flagged_v1.json");
        let e = fails(&zkinfer(&[
            "prove",
            &s(&dir),
            "--weights",
            &s(&params.join(file)),
            "--input",
            &s(&input),
            "-o",
            &s(&out),
        ]));
        assert!(e.contains(needle), "{file}: {e}");
        assert!(!out.exists(), "{file}: a proof file was written");
        let e = fails(&zkinfer(&["commitment", &s(&dir), "--weights", &s(&params.join(file))]));
        assert!(e.contains(needle), "{file}: {e}");
    }
}

#[test]
fn fraud_walkthrough_retrains_without_redeploying() {
    if !repo().join("node_modules/solc/soljson.js").exists() {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); the walkthrough needs it");
        return;
    }
    let out = tmp("fraud_walkthrough");
    std::fs::create_dir_all(&out).unwrap();
    let files = zkinfer::retrain::RetrainFiles::fraud_example(&repo());
    let srs = zkinfer::SrsSource::DevCached(srs_cache());
    let r = zkinfer::retrain::walkthrough(&files, &out, &srs, &repo().join("scripts/solc.js"), |s| {
        println!("{:<5} {:>9} {:<58} {}", s.ok, s.gas.map(|g| g.to_string()).unwrap_or_default(), s.step, s.detail)
    })
    .unwrap();
    for s in &r.steps {
        assert!(s.ok, "step `{}` did not go as expected: {}", s.step, s.detail);
    }
    assert!(r.ok && r.steps.len() == 13, "{:?}", r.steps.iter().map(|s| &s.step).collect::<Vec<_>>());
    assert!(r.score_v1 > 0.5 && r.score_v2 > 0.5, "both proven cases are flagged: {} {}", r.score_v1, r.score_v2);
    assert_ne!(r.commitment_v1, r.commitment_v2);
}

/// `--output-visibility hashed` through the library: the proof verifies, and
/// claimed outputs that do not hash to the proven commitment are rejected.
#[test]
fn hashed_outputs_bind_the_claimed_outputs() {
    let dir = tmp("committed_hashed_output");
    let o = opts(Visibility::Fixed, Visibility::Private, Visibility::Hashed);
    zkinfer::compile(&fraud("model_v1.onnx"), &o, &dir).unwrap();
    zkinfer::setup(&dir, &zkinfer::SrsSource::DevCached(srs_cache())).unwrap();
    let po = zkinfer::prove(&dir, &flagged(1)).unwrap();
    let path = dir.join("proof.json");
    assert_eq!(po.proof.commitments.len(), 1, "{:?}", po.proof.commitments);
    assert_eq!(po.proof.instances[0].len(), 1, "only the commitment is public");
    zkinfer::verify(&dir, &po.proof, &path).unwrap();
    let mut forged = po.proof.clone();
    forged.outputs_quantized[0][0] -= 1;
    let e = zkinfer::verify(&dir, &forged, &path).unwrap_err().to_string();
    assert!(e.contains("do not hash to the proven output commitment"), "{e}");
}

/// The facade's verify failures are typed (issue 16): a service matches on
/// the variant and its data, not on the message.
#[test]
fn verify_failures_are_typed() {
    use zkinfer::{Error, VerifyFailure};
    let dir = tmp("committed_typed_errors");
    let o = opts(Visibility::Hashed, Visibility::Public, Visibility::Public);
    zkinfer::compile(&fraud("model_v1.onnx"), &o, &dir).unwrap();
    zkinfer::setup(&dir, &zkinfer::SrsSource::DevCached(srs_cache())).unwrap();
    let po = zkinfer::prove(&dir, &flagged(1)).unwrap();
    let path = dir.join("proof.json");
    zkinfer::verify(&dir, &po.proof, &path).unwrap();
    let failure = |p: &zkinfer::ProofFile| match zkinfer::verify(&dir, p, &path) {
        Err(Error::Verify { failure, .. }) => failure,
        other => panic!("expected a typed verify failure, got {other:?}"),
    };
    let mut p = po.proof.clone();
    p.digest = format!("0x{}", "00".repeat(32));
    assert!(matches!(failure(&p), VerifyFailure::DigestMismatch { got, .. } if got == p.digest));
    let mut p = po.proof.clone();
    p.instances[0].pop();
    let n = po.proof.instances[0].len();
    assert_eq!(failure(&p), VerifyFailure::InstanceCount { expected: n, got: n - 1 });
    let mut p = po.proof.clone();
    p.commitments.insert("params".into(), format!("0x{}", "11".repeat(32)));
    assert!(matches!(failure(&p), VerifyFailure::CommitmentDisagrees { part, .. } if part == "params"));
    let mut p = po.proof.clone();
    p.commitments.clear();
    assert_eq!(failure(&p), VerifyFailure::CommitmentMissing { part: "params".into() });
    let mut p = po.proof.clone();
    p.commitments.insert("input".into(), po.proof.commitments["params"].clone());
    assert_eq!(failure(&p), VerifyFailure::CommitmentUnexpected { part: "input".into() });
    let mut p = po.proof.clone();
    p.outputs_quantized[0][0] += 1;
    assert_eq!(failure(&p), VerifyFailure::OutputsDisagree { index: Some(0) });
    let mut p = po.proof.clone();
    p.outputs[0].push(0.0);
    assert_eq!(failure(&p), VerifyFailure::OutputsDisagree { index: None });
    // halo2's own rejection: a flipped proof byte.
    let mut p = po.proof.clone();
    let mut bytes = prover::artifact::from_hex(&p.proof).unwrap();
    bytes[100] ^= 1;
    p.proof = prover::artifact::to_hex(&bytes);
    match zkinfer::verify(&dir, &p, &path) {
        Err(Error::Prover(prover::ProverError::Rejected { .. })) => {}
        other => panic!("expected ProverError::Rejected, got {other:?}"),
    }
    bytes[100] ^= 1;
    bytes.push(0);
    p.proof = prover::artifact::to_hex(&bytes);
    assert!(matches!(
        zkinfer::verify(&dir, &p, &path),
        Err(Error::Prover(prover::ProverError::TrailingBytes { count: 1 }))
    ));
}
