//! Segmented models (issue 14): `compile --segments N | --max-k K` cuts the
//! program into segments whose boundaries are Poseidon-hashed (the output
//! commitment of segment i is the input commitment of segment i+1), each
//! proven with its own keys; `verify` checks every proof and the chain.
//!
//! Soundness: a segment proof from another input (the chain breaks), a
//! boundary commitment changed (claim or instance), segments reordered or
//! one dropped, and edited outputs are all rejected, naming the segment.

#[path = "../compiler/tests/common/build.rs"]
mod build;
mod common;

use std::path::{Path, PathBuf};

use build::{int, Model};
use common::*;
use compiler::CompileOptions;
use zkinfer::segments::{self, SegmentedProof};
use zkinfer::{Error, VerifyFailure};

const WIDTH: usize = 128;
const LAYERS: usize = 6;

/// A dense ReLU MLP, WIDTH wide and LAYERS deep: layers heavy enough that
/// cutting between them pays for the boundary hashes.
fn mlp(dir: &Path) -> PathBuf {
    let mut m = Model::new(13);
    m.input("x", &[1, WIDTH as i64]);
    let mut prev = "x".to_string();
    for l in 0..LAYERS {
        let (w, b, y, r) = (format!("w{l}"), format!("b{l}"), format!("y{l}"), format!("r{l}"));
        let scale = 1.0 / (WIDTH as f32).sqrt();
        let wv: Vec<f32> = build::values(WIDTH * WIDTH, 7 + l as u64).iter().map(|v| v * scale).collect();
        m.init(&w, &[WIDTH as i64, WIDTH as i64], &wv);
        m.init(&b, &[WIDTH as i64], &build::values(WIDTH, 100 + l as u64));
        m.node("Gemm", &[&prev, &w, &b], &[&y], vec![int("transB", 1)]);
        if l + 1 < LAYERS {
            m.node("Relu", &[&y], &[&r], vec![]);
            prev = r;
        } else {
            prev = y;
        }
    }
    m.output(&prev);
    let p = dir.join("mlp.onnx");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&p, m.bytes()).unwrap();
    p
}

fn input(seed: u64) -> Vec<Vec<f64>> {
    vec![build::values(WIDTH, seed).iter().map(|&v| v as f64).collect()]
}

fn opts() -> CompileOptions {
    CompileOptions { calibration: (1..=4).map(input).collect(), ..CompileOptions::default() }
}

fn verify_failure(e: Error) -> (Option<usize>, VerifyFailure) {
    match e {
        Error::Verify { failure, .. } => (None, failure),
        Error::Segment { index, source } => match *source {
            Error::Verify { failure, .. } => (Some(index), failure),
            other => panic!("segment {index}: expected a verify failure, got {other}"),
        },
        other => panic!("expected a verify failure, got {other}"),
    }
}

#[test]
fn a_model_split_in_segments_proves_and_verifies_as_one() {
    let d = tmp("segments_three");
    let model = mlp(&d);
    let dir = d.join("seg");
    // The whole model needs k = 13: segments of at most 2^12 rows.
    let m = segments::compile(&model, &opts(), circuits::Optimize::Balanced, &dir, Some(12), None).unwrap();
    let n = m.segments.len();
    assert!(n >= 3 && m.segments.iter().all(|s| s.k <= 12), "{m:?}");
    for s in &m.segments {
        println!("segment {:?}: k={} rows={} in {} out {}", s.nodes, s.k, s.rows, s.input_elements, s.output_elements);
    }
    let whole = d.join("whole");
    zkinfer::compile(&model, &opts(), &whole).unwrap();
    assert_eq!(zkinfer::load(&whole).unwrap().shape.k, 13, "the unsegmented circuit");

    let srs = zkinfer::SrsSource::DevCached(srs_cache());
    segments::setup(&dir, &srs).unwrap();
    zkinfer::setup(&whole, &srs).unwrap();
    let x = input(1);
    let mut seen = vec![];
    let p = segments::prove(&dir, &x, zkinfer::Backend::Cpu, |i, n, s| seen.push((i, n, s.k))).unwrap();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>(), "a progress call per segment");
    let path = dir.join("proof.json");
    segments::verify(&dir, &p, &path).unwrap();
    // The same outputs as the unsegmented model's proof, and as float inference.
    let one = zkinfer::prove(&whole, &x).unwrap().proof;
    assert_eq!(p.outputs_quantized, one.outputs_quantized, "segmented and whole proofs prove the same outputs");
    let float = compiler::float_reference_file(&model, &x).unwrap();
    let acc = zkinfer::max_abs_error(&p.outputs, &float).unwrap();
    println!("max abs error vs float inference: {:.2e} (range {:.3})", acc.max_abs_error, acc.output_range);
    assert!(acc.relative_error < 1e-2, "{acc:?}");
    // The boundary commitments chain.
    for w in p.segments.windows(2) {
        assert_eq!(w[0].commitments["output"], w[1].commitments["input"]);
    }
    // Through the CLI: proof.json in, `verified (3 segments)` out.
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["verify", dir.to_str().unwrap(), path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&format!("verified ({n} segments)")),
        "{o:?}"
    );
    // One segment re-proven from the model's input (`prove-segment --input`:
    // the segments before it evaluated): it proves the same statement as in
    // the whole run, so it stands in for that run's segment 1.
    let x_path = d.join("x.json");
    std::fs::write(&x_path, serde_json::json!({ "input_data": x }).to_string()).unwrap();
    let one_path = d.join("segment1.proof.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["prove-segment", dir.to_str().unwrap(), "--segment", "1", "--input"])
        .args([x_path.to_str().unwrap(), "-o", one_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let alone: zkinfer::ProofFile = serde_json::from_slice(&std::fs::read(&one_path).unwrap()).unwrap();
    assert_eq!(alone.commitments, p.segments[1].commitments);
    let mut swapped = p.clone();
    swapped.segments[1] = alone;
    segments::verify(&dir, &swapped, &path).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["prove-segment", dir.to_str().unwrap(), "--segment", &n.to_string(), "--input"])
        .args([x_path.to_str().unwrap(), "-o", d.join("none.json").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(&format!("no segment {n}")) && !d.join("none.json").exists(), "{err}");

    // Soundness: segment 1 proven on another input's boundary.
    let q = segments::prove(&dir, &input(2), zkinfer::Backend::Cpu, |_, _, _| {}).unwrap();
    let mut mixed: SegmentedProof = p.clone();
    mixed.segments[1] = q.segments[1].clone();
    match verify_failure(segments::verify(&dir, &mixed, &path).unwrap_err()) {
        (None, VerifyFailure::SegmentChain { segment: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    // The tail from the other run: the chain breaks where it starts.
    let mut tail = p.clone();
    tail.segments[2..].clone_from_slice(&q.segments[2..]);
    tail.outputs = q.outputs.clone();
    tail.outputs_quantized = q.outputs_quantized.clone();
    assert!(matches!(
        verify_failure(segments::verify(&dir, &tail, &path).unwrap_err()).1,
        VerifyFailure::SegmentChain { segment: 2, .. }
    ));
    // A boundary commitment changed: the claim alone, then the instance too.
    let mut claim = p.clone();
    claim.segments[1].commitments.insert("input".into(), q.segments[1].commitments["input"].clone());
    match verify_failure(segments::verify(&dir, &claim, &path).unwrap_err()) {
        (Some(1), VerifyFailure::CommitmentDisagrees { .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut inst = claim.clone();
    let ni = inst.segments[1].instances[0].len();
    // Segment 1's instances: its input commitment, then its output commitment.
    inst.segments[1].instances[0][ni - 2] = q.segments[1].commitments["input"].clone();
    match segments::verify(&dir, &inst, &path).unwrap_err() {
        Error::Segment { index: 1, source } => assert!(matches!(*source, Error::Prover(_)), "{source}"),
        other => panic!("{other}"),
    }
    // Reordered, dropped.
    let mut swapped = p.clone();
    swapped.segments.swap(0, 1);
    match verify_failure(segments::verify(&dir, &swapped, &path).unwrap_err()) {
        (Some(0), VerifyFailure::DigestMismatch { .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut dropped = p.clone();
    dropped.segments.remove(1);
    match verify_failure(segments::verify(&dir, &dropped, &path).unwrap_err()) {
        (None, VerifyFailure::SegmentCount { expected, got }) => assert!(expected == n && got == n - 1),
        other => panic!("{other:?}"),
    }
    // Claimed outputs that are not the last segment's.
    let mut edited = p.clone();
    edited.outputs[0][0] += 1.0;
    assert!(matches!(
        verify_failure(segments::verify(&dir, &edited, &path).unwrap_err()).1,
        VerifyFailure::OutputsDisagree { .. }
    ));
}

#[test]
fn segment_counts_and_bad_cuts() {
    let d = tmp("segments_counts");
    let model = mlp(&d);
    let whole = compiler::compile_file(&model, &opts()).unwrap();
    for n in [1, 2, 3] {
        let m =
            segments::compile(&model, &opts(), circuits::Optimize::Balanced, &d.join(format!("n{n}")), None, Some(n))
                .unwrap();
        assert_eq!(m.segments.len(), n, "--segments {n}: {m:?}");
        let nodes: Vec<[usize; 2]> = m.segments.iter().map(|s| s.nodes).collect();
        assert!(nodes.windows(2).all(|w| w[0][1] == w[1][0]) && nodes[0][0] == 0, "consecutive: {nodes:?}");
        assert_eq!(nodes[n - 1][1], whole.nodes.len());
    }
    // A manifest that was edited: a segment folder outside DIR, a digest
    // that no longer matches its segments, a segment index past the end.
    let man = d.join("n3").join(segments::MANIFEST);
    let text = std::fs::read_to_string(&man).unwrap();
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    j["segments"][1]["dir"] = "../n2/segment0".into();
    std::fs::write(&man, j.to_string()).unwrap();
    let e = segments::load_manifest(&d.join("n3")).unwrap_err().to_string();
    assert!(e.contains("is not a plain name"), "{e}");
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    j["segments"][0]["rows"] = 1.into();
    j["segments"][0]["digest"] = j["segments"][1]["digest"].clone();
    std::fs::write(&man, j.to_string()).unwrap();
    let e = segments::load_manifest(&d.join("n3")).unwrap_err().to_string();
    assert!(e.contains("digest does not match"), "{e}");
    std::fs::write(&man, &text).unwrap();
    let e = segments::prove_one(&d.join("n3"), 3, &[], zkinfer::Backend::Cpu).unwrap_err().to_string();
    assert!(e.contains("no segment 3"), "{e}");
    // A segmented folder replaces a whole-model one.
    zkinfer::compile(&model, &opts(), &d.join("n2")).unwrap();
    segments::compile(&model, &opts(), circuits::Optimize::Balanced, &d.join("n2"), None, Some(2)).unwrap();
    assert!(!d.join("n2/program.bin").exists() && segments::is_segmented(&d.join("n2")));
    // A cut after a dense layer and before its requant is not a boundary:
    // accumulators are outside the activation range a segment input checks.
    let lin = whole.nodes.iter().position(|n| matches!(n.op, ir::Op::Linear(_))).unwrap();
    let e = ir::segment::split(&whole, &[lin + 1]).unwrap_err().to_string();
    assert!(e.contains("not a valid cut"), "{e}");
    // A budget no segment fits is a clear error.
    let e =
        segments::compile(&model, &opts(), circuits::Optimize::Balanced, &d.join("tiny"), Some(6), None).unwrap_err();
    assert!(e.to_string().contains("segments of at most 2^6 rows"), "{e}");
}

/// Stops the local Ray cluster when the test ends, passed or not.
struct RayCluster;

impl Drop for RayCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash").arg(repo().join("scripts/ray-local.sh")).arg("stop").output();
    }
}

/// `prove --ray`: one task per segment on a one-machine Ray cluster
/// (`scripts/ray-local.sh`, ray from PyPI), a failed task retried, and the
/// result the same proof statement as proving locally.
#[test]
fn segments_prove_on_a_local_ray_cluster() {
    let script = repo().join("scripts/ray-local.sh");
    let start = std::process::Command::new("bash").arg(&script).arg("start").output().unwrap();
    assert!(start.status.success(), "ray-local.sh start: {}", String::from_utf8_lossy(&start.stderr));
    let _cluster = RayCluster;
    let address = String::from_utf8_lossy(&start.stdout).trim().to_string();
    let python = std::process::Command::new("bash").arg(&script).arg("python").output().unwrap();
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();

    let d = tmp("segments_ray");
    let model = mlp(&d);
    let dir = d.join("seg");
    segments::compile(&model, &opts(), circuits::Optimize::Balanced, &dir, None, Some(3)).unwrap();
    segments::setup(&dir, &zkinfer::SrsSource::DevCached(srs_cache())).unwrap();
    let x = input(3);
    let input_json = d.join("input.json");
    std::fs::write(&input_json, serde_json::json!({ "input_data": x }).to_string()).unwrap();
    let proof = d.join("proof.json");
    let zk = env!("CARGO_BIN_EXE_zkinfer");
    let o = std::process::Command::new(zk)
        .args(["prove", dir.to_str().unwrap(), "--input", input_json.to_str().unwrap(), "-o", proof.to_str().unwrap()])
        .args(["--ray", &address, "--ray-python", &python, "--ray-fail-first", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    println!("{err}");
    assert!(o.status.success(), "prove --ray failed: {err}");
    for i in 1..=3 {
        assert!(err.contains(&format!("segment {i}/3: proved")), "a progress line per segment: {err}");
    }
    assert!(
        err.contains("segment 2/3: proved") && err.contains("(attempt 2)"),
        "segment 1's failed attempt retried: {err}"
    );
    let v = std::process::Command::new(zk)
        .args(["verify", dir.to_str().unwrap(), proof.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success() && String::from_utf8_lossy(&v.stdout).contains("verified (3 segments)"), "{v:?}");
    let ray_proof = segments::read_proof(&proof).unwrap();
    let local = segments::prove(&dir, &x, zkinfer::Backend::Cpu, |_, _, _| {}).unwrap();
    assert_eq!(ray_proof.outputs_quantized, local.outputs_quantized, "Ray and local proofs prove the same outputs");
    assert!(
        !dir.read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("ray-work")),
        "work files removed"
    );
}

/// On chain: every segment's verifier plus `SegmentedVerifier`, one
/// `verifyProofs` call for the whole model; a broken chain and a swapped
/// segment are rejected there too.
#[test]
fn segmented_proofs_verify_on_chain_in_one_call() {
    if !repo().join("node_modules/solc/soljson.js").exists() {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); not exercised");
        return;
    }
    let d = tmp("segments_evm");
    let model = mlp(&d);
    let dir = d.join("seg");
    let m = segments::compile(&model, &opts(), circuits::Optimize::Balanced, &dir, None, Some(3)).unwrap();
    assert_eq!(m.segments.len(), 3);
    segments::setup(&dir, &zkinfer::SrsSource::DevCached(srs_cache())).unwrap();
    let p = segments::prove(&dir, &input(5), zkinfer::Backend::Cpu, |_, _, _| {}).unwrap();
    let q = segments::prove(&dir, &input(6), zkinfer::Backend::Cpu, |_, _, _| {}).unwrap();
    let solc = repo().join("scripts/solc.js");
    let path = dir.join("proof.json");
    let e = segments::verify_evm(&dir, &p, &path, &solc).unwrap();
    println!(
        "verifyProofs: {} gas for {} segments (alone: {:?}); deploy {:?}",
        e.gas,
        e.segment_gas.len(),
        e.segment_gas,
        e.deploy_gas
    );
    assert!(e.ok, "{e:?}");
    let alone: u64 = e.segment_gas.iter().sum();
    // One call: the segments' verifications plus the chain, within a few
    // percent of the separate transactions (one base fee, but each segment's
    // proof is copied into memory for its staticcall).
    assert!(e.gas < alone + alone / 20, "entry overhead too large ({} vs {alone})", e.gas);
    let mut mixed = p.clone();
    mixed.segments[1] = q.segments[1].clone();
    assert!(!segments::verify_evm(&dir, &mixed, &path, &solc).unwrap().ok, "a broken chain verified on chain");
    let mut swapped = p.clone();
    swapped.segments.swap(1, 2);
    assert!(!segments::verify_evm(&dir, &swapped, &path, &solc).unwrap().ok, "swapped segments verified on chain");
    let mut forged = p.clone();
    let last = forged.segments.len() - 1;
    let inst = &mut forged.segments[last].instances[0];
    inst[0] = q.segments[last].instances[0][0].clone();
    assert!(!segments::verify_evm(&dir, &forged, &path, &solc).unwrap().ok, "a changed output verified on chain");
}

/// `compile` without `--max-k` splits a model whose proof would not fit the
/// machine's memory (here a budget set with ZKINFER_PROVE_MEMORY_BYTES), and
/// says so; with room, it compiles the whole model.
#[test]
fn compile_splits_by_itself_when_the_proof_would_not_fit() {
    let d = tmp("segments_auto");
    let model = mlp(&d);
    let zk = env!("CARGO_BIN_EXE_zkinfer");
    let cal = d.join("cal.json");
    let samples: Vec<Vec<Vec<f64>>> = (1..=4).map(input).collect();
    std::fs::write(&cal, serde_json::json!({ "calibration_data": samples }).to_string()).unwrap();
    let run = |dir: &Path, budget: &str| {
        std::process::Command::new(zk)
            .args([
                "compile",
                model.to_str().unwrap(),
                "-o",
                dir.to_str().unwrap(),
                "--calibrate",
                cal.to_str().unwrap(),
            ])
            .env("ZKINFER_PROVE_MEMORY_BYTES", budget)
            .output()
            .unwrap()
    };
    // The whole model's predicted proof peak (settings.json), with room.
    let big = d.join("big");
    let o = run(&big, "100000000000");
    assert!(o.status.success() && !segments::is_segmented(&big) && big.join("program.bin").exists());
    let settings = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap()
    };
    let s = settings(&big);
    let whole = s["predicted_prove_bytes"].as_u64().unwrap();
    assert!(whole > 40 << 20, "the prediction includes the process's base: {whole}");
    let leanest = s["layout_candidates"].as_array().unwrap().iter().map(|c| c["prove_bytes"].as_u64().unwrap()).min();
    let leanest = leanest.unwrap();
    assert!(leanest <= whole, "the chosen shape is among the candidates");
    // A budget just under the leanest shape: no shape of the whole model
    // fits, so compile splits, and says so; every segment's prediction fits.
    let budget = leanest - 1;
    let small = d.join("small");
    let o = run(&small, &budget.to_string());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("splitting into segments that fit"), "{err}");
    let m = segments::load_manifest(&small).unwrap();
    assert!(m.segments.len() >= 2, "{m:?}");
    for s in &m.segments {
        let p = settings(&small.join(&s.dir))["predicted_prove_bytes"].as_u64().unwrap();
        assert!(p <= budget, "segment {} predicts {p} > {budget}", s.dir);
    }
    // A budget under what one node needs is an error naming the budget.
    let o = run(&d.join("tiny"), "1000");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("GiB"), "{err}");
    assert!(!d.join("tiny").join("segments.json").exists() && !d.join("tiny").join("program.bin").exists());
    let o = run(&d.join("bad"), "lots");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ZKINFER_PROVE_MEMORY_BYTES"));
    // --max-memory (the flag beats the environment) and --lanes.
    let flags = |dir: &Path, extra: &[&str]| {
        std::process::Command::new(zk)
            .args(["compile", model.to_str().unwrap(), "-o", dir.to_str().unwrap(), "--calibrate"])
            .arg(&cal)
            .args(extra)
            .env("ZKINFER_PROVE_MEMORY_BYTES", "1000")
            .output()
            .unwrap()
    };
    let o = flags(&d.join("flag"), &["--max-memory", "100GiB", "--lanes", "8"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(settings(&d.join("flag"))["lanes"], 8);
    let o = flags(&d.join("flag2"), &["--max-memory", "6XB"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("unknown unit"), "{o:?}");
    let o = flags(&d.join("flag3"), &["--max-memory", "100GiB", "--lanes", "0"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--lanes 0"), "{o:?}");
}
