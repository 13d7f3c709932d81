//! `--param-visibility polycommit` (issue 12): the weights sit in unblinded
//! advice columns, and `keccak256` of those columns' KZG commitments, read
//! from the proof, is the parameter commitment a registry approves.
//!
//! What is checked here:
//! - `circuits::polycommit::weight_columns` (the off-circuit layout anyone
//!   commits to) is exactly what synthesis assigns, on an MLP and a CNN;
//! - a weight changed at its use (the sums kept) fails the gate and changes
//!   the column; another weight set satisfies the same circuit (one key) and
//!   only its commitment differs; the honest prover refuses to return a
//!   proof whose columns are not the weights' commitment;
//! - real proofs: the commitment is deterministic (two proofs of one weight
//!   set carry the same points, the rest of the proof differs), equals
//!   `zkinfer commitment`, differs per weight set under one key; a proof for
//!   weights B presented with A's commitment, a missing commitment and B's
//!   points spliced into A's proof are all rejected by `verify` (the splice
//!   by the generated Solidity verifier too); in the EVM, the registry
//!   walkthrough (approve, revoke, the same verifier) with
//!   `PolycommitModelRegistry`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use circuits::{Tamper, TamperTarget};
use common::*;
use compiler::CompileOptions;
use halo2_proofs::{dev::MockProver, plonk::ConstraintSystem};
use ir::Visibility;
use zkinfer::{Error, VerifyFailure};

fn fraud(file: &str) -> PathBuf {
    repo().join("examples/fraud").join(file)
}

fn opts(calibration: &std::path::Path) -> CompileOptions {
    let text = std::fs::read_to_string(calibration).unwrap();
    CompileOptions {
        calibration: compiler::parse_calibration_json(&text).unwrap(),
        param_visibility: Visibility::Polycommit,
        ..CompileOptions::default()
    }
}

fn inputs(p: &std::path::Path) -> Vec<Vec<f64>> {
    compiler::parse_input_json(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn weight_columns_are_what_synthesis_assigns() {
    let cnn = repo().join("examples/cnn");
    for (name, model, calibration, input) in [
        ("fraud", fraud("model_v1.onnx"), fraud("calibration.json"), fraud("flagged_v1.json")),
        ("cnn", cnn.join("model.onnx"), cnn.join("calibration.json"), cnn.join("input.json")),
    ] {
        let p = compiler::compile_file(&model, &opts(&calibration)).unwrap();
        assert!(p.params_polycommit() && p.commitment_parts().is_empty(), "{name}: no commitment instance");
        let bench = MockBench::new(p, &inputs(&input));
        let shape = bench.shape.clone();
        assert!(shape.polycommit && !shape.poseidon, "{name}: {shape:?}");
        let mut cs = ConstraintSystem::default();
        let cfg = circuits::ModelCircuit::configure_shape(&mut cs, &shape);
        let usable = (1usize << shape.k) - (cs.blinding_factors() + 1);
        let idx = circuits::polycommit::column_indices(&shape);
        assert_eq!(idx.len(), shape.lanes.max(3), "{name}: one weight column per lane");
        assert!(idx.windows(2).all(|w| w[1] == w[0] + 1), "{name}: consecutive columns {idx:?}");

        let values = bench.program.params.as_ref().unwrap().values.clone();
        let expected = circuits::polycommit::weight_columns(&bench.program, &shape, &values);
        let columns = |tamper: Vec<Tamper>| -> (bool, Vec<Vec<circuits::Fr>>) {
            let mut c = circuits::ModelCircuit::new(bench.program.clone(), shape.clone(), bench.trace.clone());
            let inst = c.instances();
            c.tamper = tamper;
            let mock = MockProver::run(shape.k, &c, vec![inst]).unwrap();
            let cols = cfg
                .cols
                .pw
                .iter()
                .map(|&col| {
                    mock.advice_values(col)[..usable]
                        .iter()
                        .map(|v| match v {
                            halo2_proofs::dev::AdviceCellValue::Assigned(a) => a.evaluate(),
                            halo2_proofs::dev::AdviceCellValue::Poison(_) => panic!("{name}: a poisoned weight cell"),
                        })
                        .collect()
                })
                .collect();
            (mock.verify().is_ok(), cols)
        };
        let (ok, honest) = columns(vec![]);
        assert!(ok, "{name}: the honest witness fails");
        let nonzero: usize = honest.iter().map(|c| c.iter().filter(|v| **v != circuits::Fr::zero()).count()).sum();
        for (lane, (got, want)) in honest.iter().zip(&expected).enumerate() {
            assert_eq!(got[..], want[..usable], "{name}: weight column {lane} differs from weight_columns");
            assert!(want[usable..].iter().all(|v| *v == circuits::Fr::zero()), "{name}: blinding rows are zero");
        }
        println!(
            "{name}: k={} lanes={} {} non-zero committed cells, {} weights",
            shape.k,
            shape.lanes,
            nonzero,
            values.len()
        );

        // A weight changed where it is used, the sums kept: the gate
        // rejects it (and the column, hence its commitment, changed too).
        let (ok, tampered) = columns(vec![Tamper { node: 0, element: 0, target: TamperTarget::ParamUse, delta: 1 }]);
        assert!(!ok, "{name}: a weight changed after committing verified");
        assert_ne!(tampered, honest, "{name}: the changed weight is not in the committed columns");
        // Another weight set of the architecture satisfies the same circuit
        // (one key serves both): only the commitment tells them apart.
        if name == "fraud" {
            let v2 = compiler::reweigh_file(&fraud("model_v2.onnx"), &bench.program).unwrap();
            let b2 = MockBench::new(v2, &inputs(&input));
            assert_eq!(b2.shape, shape, "the retrained weights keep the shape");
            b2.verify(vec![]).unwrap_or_else(|e| panic!("v2 on v1's circuit: {e:?}"));
            let w2 =
                circuits::polycommit::weight_columns(&b2.program, &shape, &b2.program.params.as_ref().unwrap().values);
            assert_ne!(w2, expected, "two weight sets with the same committed columns");
        }
        // The honest prover refuses to return a proof whose columns are not
        // the weights' (its check against the off-circuit commitment).
        if name == "fraud" {
            let params = prover::srs::cached_dev_srs(&srs_cache(), shape.k).unwrap();
            let keys = prover::keys::keygen(&params, bench.program.clone(), &shape).unwrap();
            let mut c = circuits::ModelCircuit::new(bench.program.clone(), shape.clone(), bench.trace.clone());
            c.tamper = vec![Tamper { node: 0, element: 0, target: TamperTarget::ParamUse, delta: 1 }];
            let e = prover::prove(&params, &keys.pk, c).unwrap_err().to_string();
            assert!(e.contains("does not carry the commitment of the weights"), "{e}");
            let c = circuits::ModelCircuit::new(bench.program.clone(), shape.clone(), Arc::clone(&bench.trace));
            let (proof, inst) = prover::prove(&params, &keys.pk, c).unwrap();
            prover::verify(&params, keys.vk(), &inst, &proof).unwrap();
        }
    }
}

fn verify_failure(e: Error) -> VerifyFailure {
    match e {
        Error::Verify { failure, .. } => failure,
        other => panic!("expected a verify failure, got {other}"),
    }
}

#[test]
fn proofs_carry_a_deterministic_commitment_per_weight_set() {
    let dir = tmp("polycommit_proofs");
    zkinfer::compile(&fraud("model_v1.onnx"), &opts(&fraud("calibration.json")), &dir).unwrap();
    zkinfer::setup(&dir, &zkinfer::SrsSource::DevCached(srs_cache())).unwrap();
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["param_visibility"], "polycommit");
    let c1 = zkinfer::commitments(&dir, None, true, None).unwrap()["params"].clone();
    let c2 = zkinfer::commitments(&dir, Some(&fraud("model_v2.onnx")), true, None).unwrap()["params"].clone();
    assert!(c1.starts_with("0x") && c1.len() == 66 && c1 != c2, "{c1} {c2}");

    let x = inputs(&fraud("flagged_v1.json"));
    let a = zkinfer::prove(&dir, &x).unwrap().proof;
    let b = zkinfer::prove(&dir, &x).unwrap().proof;
    assert_eq!(a.commitments["params"], c1, "the proof carries the weights' commitment");
    assert_eq!(b.commitments["params"], c1, "and the same one every time");
    assert_ne!(a.proof, b.proof, "the other columns stay blinded");
    let v2 = zkinfer::prove_weights(&dir, &x, zkinfer::Backend::Cpu, Some(&fraud("model_v2.onnx"))).unwrap().proof;
    assert_eq!(v2.commitments["params"], c2, "same keys, another weight set, its own commitment");
    let path = dir.join("proof.json");
    for p in [&a, &b, &v2] {
        zkinfer::verify(&dir, p, &path).unwrap();
    }

    // Weights B's proof claiming A's commitment.
    let mut claimed = v2.clone();
    claimed.commitments.insert("params".into(), c1.clone());
    match verify_failure(zkinfer::verify(&dir, &claimed, &path).unwrap_err()) {
        VerifyFailure::CommitmentDisagrees { part, proven, .. } => assert!(part == "params" && proven == c2),
        other => panic!("{other:?}"),
    }
    let mut missing = a.clone();
    missing.commitments.clear();
    assert!(matches!(
        verify_failure(zkinfer::verify(&dir, &missing, &path).unwrap_err()),
        VerifyFailure::CommitmentMissing { .. }
    ));
    // Weights B's weight-column points spliced into A's proof (and its claim
    // updated to match): the proof no longer verifies.
    let range = zkinfer::onchain::committed_points_range(&zkinfer::load(&dir).unwrap().shape).unwrap();
    let (mut pa, pb) = (prover::artifact::from_hex(&a.proof).unwrap(), prover::artifact::from_hex(&v2.proof).unwrap());
    pa[range.clone()].copy_from_slice(&pb[range]);
    let mut spliced = a.clone();
    spliced.proof = prover::artifact::to_hex(&pa);
    spliced.commitments.insert("params".into(), c2.clone());
    assert!(matches!(zkinfer::verify(&dir, &spliced, &path).unwrap_err(), Error::Prover(_)), "spliced points verified");
    // The same in the EVM: the generated verifier accepts both weight sets'
    // proofs (one verifier per architecture) and rejects the splice.
    if repo().join("node_modules/solc/soljson.js").exists() {
        let solc = repo().join("scripts/solc.js");
        for (name, p, ok) in [("v1", &a, true), ("v2", &v2, true), ("spliced", &spliced, false)] {
            let e = zkinfer::onchain::verify_evm(&dir, p, &path, &solc, false).unwrap();
            assert_eq!(e.ok, ok, "{name} in the EVM: {e:?}");
        }
    } else {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); the EVM checks are skipped");
    }
}

#[test]
fn registry_walkthrough_with_committed_weight_columns() {
    if !repo().join("node_modules/solc/soljson.js").exists() {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); the walkthrough needs it");
        return;
    }
    let out = tmp("polycommit_walkthrough");
    std::fs::create_dir_all(&out).unwrap();
    let files = zkinfer::retrain::RetrainFiles::fraud_example(&repo());
    let srs = zkinfer::SrsSource::DevCached(srs_cache());
    let r = zkinfer::retrain::walkthrough_with(
        &files,
        &out,
        &srs,
        &repo().join("scripts/solc.js"),
        Visibility::Polycommit,
        |s| println!("{:<5} {:>9} {:<58} {}", s.ok, s.gas.map(|g| g.to_string()).unwrap_or_default(), s.step, s.detail),
    )
    .unwrap();
    for s in &r.steps {
        assert!(s.ok, "step `{}` did not go as expected: {}", s.step, s.detail);
    }
    assert!(r.ok && r.steps.len() == 13);
    assert!(r.steps.iter().any(|s| s.step == "deploy PolycommitModelRegistry"));
    assert_ne!(r.commitment_v1, r.commitment_v2);
}
