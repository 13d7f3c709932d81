//! Artifacts are checked, not trusted (issue 16): `CircuitShape::check`
//! rejects every kind of shape that does not fit its program, with an error
//! naming the field, before anything is configured or assigned; and a
//! `settings.json` edited consistently (shape and digest) is refused by the
//! CLI with that error, no panic and no proof file.

mod common;

use std::path::PathBuf;
use std::process::Command;

use circuits::{CircuitError, CircuitShape};
use common::*;
use compiler::CompileOptions;
use ir::Visibility;

fn example(dir: &str, file: &str) -> PathBuf {
    repo().join("examples").join(dir).join(file)
}

fn compile(dir: &str, model: &str, params: Visibility) -> ir::Program {
    let text = std::fs::read_to_string(example(dir, "calibration.json")).unwrap();
    let opts = CompileOptions {
        calibration: compiler::parse_calibration_json(&text).unwrap(),
        param_visibility: params,
        ..CompileOptions::default()
    };
    compiler::compile_file(&example(dir, model), &opts).unwrap()
}

fn field_of(e: CircuitError) -> &'static str {
    match e {
        CircuitError::Shape { field, .. } => field,
        other => panic!("expected a shape error, got {other}"),
    }
}

/// Each mutation of a planned shape, and the field its error must name.
fn mutations(shape: &CircuitShape) -> Vec<(&'static str, CircuitShape)> {
    let m = |f: &dyn Fn(&mut CircuitShape)| {
        let mut s = shape.clone();
        f(&mut s);
        s
    };
    let mut out = vec![
        ("bilinear", m(&|s| s.bilinear = !s.bilinear)),
        ("tables", m(&|s| s.tables = !s.tables)),
        ("div", m(&|s| s.div = !s.div)),
        ("poseidon", m(&|s| s.poseidon = !s.poseidon)),
        ("range_bits", m(&|s| s.range_bits += 1)),
        ("lanes", m(&|s| s.lanes = 0)),
        ("lanes", m(&|s| s.lanes = 1 << 20)),
        ("k", m(&|s| s.k = 3)),
        ("k", m(&|s| s.k = 40)),
    ];
    // k one below what the rows need (the planner picks the smallest k).
    out.push(("k", m(&|s| s.k -= 1)));
    if shape.bits.is_none() {
        out.extend([
            ("limb_bits", m(&|s| s.limb_bits = 40)),
            ("limb_bits", m(&|s| s.limb_bits = 0)),
            ("q_limbs", m(&|s| s.q_limbs += 1)),
            ("r_limbs", m(&|s| s.r_limbs += 1)),
            ("bits", m(&|s| s.bits = Some(circuits::chips::bits::BitsLayout { q_steps: 99, r_steps: 99 }))),
        ]);
    } else {
        out.push(("bits", m(&|s| s.bits = Some(circuits::chips::bits::BitsLayout { q_steps: 99, r_steps: 99 }))));
    }
    out
}

#[test]
fn every_mismatch_kind_is_a_named_error() {
    for (name, program) in [
        ("cnn fixed", compile("cnn", "model.onnx", Visibility::Fixed)),
        ("fraud hashed", compile("fraud", "model_v1.onnx", Visibility::Hashed)),
        ("fraud private", compile("fraud", "model_v1.onnx", Visibility::Private)),
    ] {
        for goal in [circuits::Optimize::Balanced, circuits::Optimize::Gas] {
            let shape = circuits::plan_for(&program, goal).unwrap().shape;
            shape.check(&program).unwrap_or_else(|e| panic!("{name}: the planned shape is refused: {e}"));
            for (field, bad) in mutations(&shape) {
                if bad == shape {
                    continue;
                }
                let err = bad.check(&program).expect_err(&format!("{name}: {field} mutation {bad:?} accepted"));
                let msg = err.to_string();
                let got = field_of(err);
                assert!(
                    got.starts_with(field) || (field == "bits" && got.starts_with("bits")),
                    "{name}: {field} -> {got}: {msg}"
                );
                assert!(msg.contains("the program needs"), "{msg}");
            }
        }
    }
}

/// Proving or setting up with a bad shape is an error (not a panic inside
/// the chips or halo2's assignment).
#[test]
fn keygen_and_prove_check_the_shape() {
    let program = std::sync::Arc::new(compile("fraud", "model_v1.onnx", Visibility::Hashed));
    let mut shape = circuits::plan(&program).unwrap().shape;
    shape.poseidon = false;
    let params = prover::srs::dev_srs(shape.k);
    let err = prover::keys::keygen(&params, program.clone(), &shape).err().expect("keygen accepted a bad shape");
    assert!(err.to_string().contains("poseidon"), "{err}");
}

#[test]
fn cli_refuses_a_consistently_edited_settings_json() {
    let dir = tmp("shape_check_cli");
    let out = dir.join("m");
    let bin = env!("CARGO_BIN_EXE_zkinfer");
    let cal = example("fraud", "calibration.json");
    let ok = Command::new(bin)
        .args(["compile", example("fraud", "model_v1.onnx").to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args(["--calibrate", cal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // k lowered, and the digest recomputed so only the shape check can object.
    let sp = out.join("settings.json");
    let mut settings: serde_json::Value = serde_json::from_slice(&std::fs::read(&sp).unwrap()).unwrap();
    let mut shape: CircuitShape = serde_json::from_value(settings["shape"].clone()).unwrap();
    shape.k -= 2;
    let program = ir::Program::from_bytes(&std::fs::read(out.join("program.bin")).unwrap()).unwrap();
    let digest = prover::keys::digest(&program, &shape);
    settings["shape"] = serde_json::to_value(&shape).unwrap();
    settings["digest"] = serde_json::Value::String(prover::artifact::to_hex(&digest));
    std::fs::write(&sp, serde_json::to_vec_pretty(&settings).unwrap()).unwrap();
    let proof = dir.join("proof.json");
    let input = example("fraud", "flagged_v1.json");
    for args in [
        vec!["setup", out.to_str().unwrap()],
        vec!["prove", out.to_str().unwrap(), "--input", input.to_str().unwrap(), "-o", proof.to_str().unwrap()],
    ] {
        let r = Command::new(bin).args(&args).env("ZKINFER_CACHE", srs_cache()).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{args:?} accepted the edited settings");
        assert!(stderr.contains("circuit shape does not fit the program: k is"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!proof.exists(), "prove wrote a proof");
    assert!(!out.join("pk.bin").exists() && !out.join("vk.bin").exists(), "setup wrote keys");
}
