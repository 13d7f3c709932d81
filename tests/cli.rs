//! The CLI contract: exact command forms, outputs, and clear non-zero exits
//! on bad input with no half-written artifacts.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn zkinfer(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer")).args(args).env("ZKINFER_CACHE", cache).output().unwrap()
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "command failed: {}\n{}", out, String::from_utf8_lossy(&o.stderr));
    out
}

/// Fails with exit code 1, a message containing `needle`, and no panic.
fn fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, got success: {}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn compile_setup_prove_verify_and_bad_inputs() {
    let cache = srs_cache();
    let d = tmp("cli");
    let model = repo().join("examples/cnn/model.onnx");
    let input = repo().join("examples/cnn/input.json");
    let cal = repo().join("examples/cnn/calibration.json");
    let dir = d.join("cnn");
    let out = ok(&zkinfer(&["compile", s(&model), "-o", s(&dir), "--calibrate", s(&cal)], &cache));
    assert!(out.contains("k="), "{out}");
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    for key in
        ["k", "rows", "advice_columns", "lookups", "scale_bits", "input_visibility", "output_visibility", "op_counts"]
    {
        assert!(settings.get(key).is_some(), "settings.json lacks {key}");
    }
    let setup = zkinfer(&["setup", s(&dir)], &cache);
    ok(&setup);
    assert!(String::from_utf8_lossy(&setup.stderr).contains("INSECURE"));
    let proof = d.join("proof.json");
    ok(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)], &cache));
    let pj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert!(pj["proof"].as_str().unwrap().starts_with("0x"));
    assert!(pj["instances"][0][0].as_str().unwrap().starts_with("0x"));
    assert_eq!(pj["outputs"][0].as_array().unwrap().len(), 10);
    assert_eq!(pj["outputs_quantized"][0].as_array().unwrap().len(), 10);
    assert_eq!(ok(&zkinfer(&["verify", s(&dir), s(&proof)], &cache)).trim(), "verified");
    // The CUDA prover is a build option: without it, choosing it fails clearly before any work.
    if !cfg!(feature = "cuda") {
        let p = d.join("cuda.json");
        let o = zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&p), "--backend", "cuda"], &cache);
        fails(&o, "built without the `cuda` feature");
        assert!(!p.exists());
    }

    // A tampered proof file.
    let mut bad = pj.clone();
    let hex = bad["proof"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", &hex[..100], if &hex[100..101] == "0" { "1" } else { "0" }) + &hex[101..];
    bad["proof"] = serde_json::Value::String(flipped);
    let badp = d.join("bad.json");
    std::fs::write(&badp, serde_json::to_vec(&bad).unwrap()).unwrap();
    fails(&zkinfer(&["verify", s(&dir), s(&badp)], &cache), "proof rejected");
    std::fs::write(&badp, b"{\"proof\": 12").unwrap();
    fails(&zkinfer(&["verify", s(&dir), s(&badp)], &cache), "not a zkinfer proof JSON");

    // Wrong input length, NaN input, input outside the calibrated range: no proof file written.
    let p2 = d.join("p2.json");
    std::fs::write(d.join("short.json"), r#"{"input_data": [[0.1, 0.2]]}"#).unwrap();
    fails(
        &zkinfer(&["prove", s(&dir), "--input", s(&d.join("short.json")), "-o", s(&p2)], &cache),
        "expected 784 values",
    );
    let nan = format!(r#"{{"input_data": [[{}NaN]]}}"#, "0.0,".repeat(783));
    std::fs::write(d.join("nan.json"), nan).unwrap();
    fails(&zkinfer(&["prove", s(&dir), "--input", s(&d.join("nan.json")), "-o", s(&p2)], &cache), "NaN");
    let huge = format!(r#"{{"input_data": [[{}1e6]]}}"#, "0.0,".repeat(783));
    std::fs::write(d.join("huge.json"), huge).unwrap();
    fails(
        &zkinfer(&["prove", s(&dir), "--input", s(&d.join("huge.json")), "-o", s(&p2)], &cache),
        "out of the calibrated range",
    );
    assert!(!p2.exists(), "a failed prove must not write its output");

    // A key from another model.
    let mlp = d.join("mlp");
    ok(&zkinfer(&["compile", s(&repo().join("examples/mlp/model.onnx")), "-o", s(&mlp), "--scale-bits", "6"], &cache));
    ok(&zkinfer(&["setup", s(&mlp)], &cache));
    std::fs::copy(mlp.join("pk.bin"), dir.join("pk.bin")).unwrap();
    fails(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&p2)], &cache), "different model");
    fails(&zkinfer(&["verify", s(&mlp), s(&proof)], &cache), "different model");
    // A truncated key of the right model.
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    let pk = std::fs::read(dir.join("pk.bin")).unwrap();
    std::fs::write(dir.join("pk.bin"), &pk[..pk.len() / 3]).unwrap();
    fails(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&p2)], &cache), "truncated");
    assert!(!p2.exists());
}

#[test]
fn malformed_truncated_and_unsupported_models() {
    let cache = srs_cache();
    let d = tmp("cli-bad");
    let out = d.join("o");
    std::fs::write(d.join("junk.onnx"), b"this is not an onnx file at all").unwrap();
    fails(&zkinfer(&["compile", s(&d.join("junk.onnx")), "-o", s(&out)], &cache), "junk.onnx");
    let bytes = std::fs::read(repo().join("examples/mlp/model.onnx")).unwrap();
    std::fs::write(d.join("trunc.onnx"), &bytes[..bytes.len() / 2]).unwrap();
    fails(&zkinfer(&["compile", s(&d.join("trunc.onnx")), "-o", s(&out)], &cache), "trunc.onnx");
    fails(&zkinfer(&["compile", s(&d.join("missing.onnx")), "-o", s(&out)], &cache), "missing.onnx");
    assert!(!out.join("program.bin").exists(), "no half-written artifact");
    if let Some(corpus) = corpus() {
        // NonZero (a data-dependent output shape) is not supported: named with its node.
        let m = corpus.join("ezkl/hierarchical_risk/model.onnx");
        fails(&zkinfer(&["compile", s(&m), "-o", s(&out)], &cache), "NonZero");
        // inspect lists it, and exits non-zero: the model would not compile.
        let o = zkinfer(&["inspect", s(&m)], &cache);
        let insp = String::from_utf8_lossy(&o.stdout);
        assert!(insp.contains("NonZero"), "{insp}");
        fails(&o, "would not compile");
    }
    fails(&zkinfer(&["setup", s(&d.join("nothing"))], &cache), "compile the model first");
    fails(&zkinfer(&["verify", s(&d.join("nothing")), s(&d.join("p.json"))], &cache), "");
}

#[test]
fn srs_command_and_setup_with_srs_file() {
    let cache = srs_cache();
    let d = tmp("cli-srs");
    let dir = d.join("m");
    let input = repo().join("examples/cnn/input.json");
    ok(&zkinfer(
        &["compile", s(&repo().join("examples/cnn/model.onnx")), "-o", s(&dir), "--calibrate", s(&input)],
        &cache,
    ));
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    let k = settings["k"].as_u64().unwrap();
    // An SRS one size larger is downsized; one smaller is refused with advice.
    let srs = d.join("big.srs");
    ok(&zkinfer(&["srs", "--k", &(k + 1).to_string(), "-o", s(&srs)], &cache));
    ok(&zkinfer(&["setup", s(&dir), "--srs", s(&srs)], &cache));
    let p = d.join("p.json");
    ok(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&p)], &cache));
    assert_eq!(ok(&zkinfer(&["verify", s(&dir), s(&p)], &cache)).trim(), "verified");
    let small = d.join("small.srs");
    ok(&zkinfer(&["srs", "--k", &(k - 1).to_string(), "-o", s(&small)], &cache));
    fails(&zkinfer(&["setup", s(&dir), "--srs", s(&small)], &cache), "make a larger one");
    let bytes = std::fs::read(&srs).unwrap();
    std::fs::write(&srs, &bytes[..bytes.len() - 1000]).unwrap();
    fails(&zkinfer(&["setup", s(&dir), "--srs", s(&srs)], &cache), "truncated");
    fails(&zkinfer(&["srs", "--k", "99", "-o", s(&small)], &cache), "--k must be");
}

#[test]
fn solidity_verifier_calldata_and_evm_check() {
    let cache = srs_cache();
    let d = tmp("cli-evm");
    let dir = d.join("m");
    let model = repo().join("examples/cnn/model.onnx");
    let input = repo().join("examples/cnn/input.json");
    ok(&zkinfer(&["compile", s(&model), "-o", s(&dir), "--calibrate", s(&input)], &cache));
    ok(&zkinfer(&["setup", s(&dir)], &cache));
    let proof = d.join("proof.json");
    ok(&zkinfer(&["prove", s(&dir), "--input", s(&input), "-o", s(&proof)], &cache));
    let sol = d.join("Verifier.sol");
    ok(&zkinfer(&["gen-verifier", s(&dir), "-o", s(&sol)], &cache));
    let src = std::fs::read_to_string(&sol).unwrap();
    assert!(
        src.contains("function verifyProof(bytes calldata proof, uint256[] calldata instances)"),
        "{}",
        &src[..400]
    );
    let (rv, vk) = (d.join("Reusable.sol"), d.join("VK.sol"));
    ok(&zkinfer(&["gen-verifier", s(&dir), "-o", s(&rv), "--separate-vk", s(&vk)], &cache));
    assert!(std::fs::read_to_string(&vk).unwrap().contains("contract"));
    let cd = d.join("calldata.hex");
    ok(&zkinfer(&["calldata", s(&proof), "-o", s(&cd)], &cache));
    let hex = std::fs::read_to_string(&cd).unwrap();
    // verifyProof(bytes,uint256[]) selector, then ABI words.
    assert!(hex.starts_with("0x") && (hex.len() - 2 - 8).is_multiple_of(64), "{}", &hex[..20]);
    fails(&zkinfer(&["calldata", s(&proof), "-o", s(&cd), "--vk-address", "0x12"], &cache), "20-byte");

    let npm_ready = repo().join("node_modules/solc/soljson.js").exists();
    if !npm_ready {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); verify-evm not exercised");
        return;
    }
    for extra in [&[][..], &["--separate"][..]] {
        let mut args = vec!["verify-evm", s(&dir), s(&proof)];
        args.extend_from_slice(extra);
        let out = ok(&zkinfer(&args, &cache));
        assert!(out.starts_with("ok=true gas="), "{out}");
    }
    // Any contract in the same EVM; an unknown contract name is a clear error.
    let out =
        ok(&zkinfer(&["evm-call", "--sol", s(&sol), "--contract", "Halo2Verifier", "--calldata", s(&cd)], &cache));
    assert!(out.starts_with("ok=true gas="), "{out}");
    fails(
        &zkinfer(&["evm-call", "--sol", s(&sol), "--contract", "NoSuchVerifier", "--calldata", s(&cd)], &cache),
        "no contract named NoSuchVerifier",
    );
    // Before setup there is no verifying key to build a verifier from.
    let bare = d.join("bare");
    ok(&zkinfer(&["compile", s(&model), "-o", s(&bare), "--calibrate", s(&input)], &cache));
    fails(&zkinfer(&["verify-evm", s(&bare), s(&proof)], &cache), "run zkinfer setup DIR first");
    fails(&zkinfer(&["gen-verifier", s(&bare), "-o", s(&d.join("x.sol"))], &cache), "run zkinfer setup DIR first");
    // A changed public output: the EVM verifier says no, and the command fails.
    let mut pj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    pj["instances"][0][0] = serde_json::Value::String(format!("0x{}01", "00".repeat(31)));
    let bad = d.join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&pj).unwrap()).unwrap();
    let o = zkinfer(&["verify-evm", s(&dir), s(&bad)], &cache);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok=false"), "{}", String::from_utf8_lossy(&o.stdout));
    fails(&o, "rejected");
}

/// `zkinfer coverage` on a small corpus: two models proved, one unsupported,
/// one broken file; the JSON has the documented keys and the run never stops.
#[test]
fn coverage_report() {
    let Some(corpus) = corpus() else { return };
    let d = tmp("cli-coverage");
    let root = d.join("corpus");
    for (src, dst) in
        [("ezkl/1l_mlp", "a/1l_mlp"), ("onnx-node/test_leakyrelu", "a/leaky"), ("ezkl/hierarchical_risk", "b/risk")]
    {
        let to = root.join(dst);
        std::fs::create_dir_all(&to).unwrap();
        for f in ["model.onnx", "input.json", "expected.json", "calibration.json"] {
            if corpus.join(src).join(f).exists() {
                std::fs::copy(corpus.join(src).join(f), to.join(f)).unwrap();
            }
        }
    }
    let broken = root.join("b/broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("model.onnx"), b"not a model").unwrap();
    std::fs::copy(corpus.join("ezkl/1l_mlp/input.json"), broken.join("input.json")).unwrap();
    std::fs::copy(corpus.join("ezkl/1l_mlp/expected.json"), broken.join("expected.json")).unwrap();
    let (md, json) = (d.join("report.md"), d.join("report.json"));
    let cache = srs_cache();
    let out = ok(&zkinfer(&["coverage", s(&root), "-o", s(&md), "--json", s(&json)], &cache));
    assert!(out.contains("a: 2/2 passed") && out.contains("b: 0/2 passed"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(names, ["a/1l_mlp", "a/leaky", "b/broken", "b/risk"]);
    for r in rows {
        for key in ["model", "passed", "reason", "k", "rows", "max_abs_error", "output_range"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    let (mlp, broken, risk) = (&rows[0], &rows[2], &rows[3]);
    assert_eq!(mlp["passed"], true);
    assert!(mlp["reason"].is_null());
    assert!(mlp["k"].as_u64().unwrap() > 0 && mlp["rows"].as_u64().unwrap() > 0);
    assert!(mlp["max_abs_error"].as_f64().unwrap() <= 0.01 * mlp["output_range"].as_f64().unwrap());
    assert_eq!(rows[1]["passed"], true);
    assert_eq!(risk["passed"], false);
    assert_eq!(risk["reason"], "unsupported: NonZero");
    assert!(risk["k"].is_null() && risk["max_abs_error"].is_null());
    assert_eq!(broken["passed"], false);
    assert!(broken["reason"].as_str().unwrap().contains("cannot decode ONNX model"), "{broken}");
    let report = std::fs::read_to_string(&md).unwrap();
    assert!(report.contains("| a | 2 | 2 | 100.0 |") && report.contains("| b | 0 | 2 | 0.0 |"), "{report}");
    assert!(report.contains("| b/risk | unsupported: NonZero |"), "{report}");
    // A missing folder is a clear error.
    fails(&zkinfer(&["coverage", s(&d.join("nope")), "-o", s(&md)], &cache), "is not a folder");
    // --family NAME=DIR: another folder of models as one family.
    let extra = d.join("extra/skl_logreg");
    std::fs::create_dir_all(&extra).unwrap();
    for f in ["model.onnx", "input.json", "expected.json"] {
        std::fs::copy(repo().join("tests/fixtures/real/skl_logreg").join(f), extra.join(f)).unwrap();
    }
    let fam = format!("real-exporters={}", d.join("extra").display());
    let out = ok(&zkinfer(&["coverage", s(&root.join("a")), "-o", s(&md), "--family", &fam], &cache));
    assert!(out.contains("real-exporters: 1/1 passed"), "{out}");
    let report = std::fs::read_to_string(&md).unwrap();
    assert!(report.contains("| real-exporters/skl_logreg | proved |"), "{report}");
    fails(&zkinfer(&["coverage", s(&root), "-o", s(&md), "--family", "nodir"], &cache), "NAME=DIR");
    fails(&zkinfer(&["coverage", s(&root), "-o", s(&md), "--family", "x=/nonexistent"], &cache), "is not a folder");
}

/// Issue 11 part 1, the CLI side: `run` without `--calibrate` calibrates on
/// the input itself and says so; `compile` reports the chosen scales and the
/// margin (stdout and settings.json); `--range-margin` and `--input-bounds`
/// are honoured; bad bounds are clear errors that write nothing.
#[test]
fn calibration_is_reported_and_defaults_warn() {
    let cache = srs_cache();
    let d = tmp("cli_calibration");
    let fraud = repo().join("tests/fixtures/real/fraud_mlp");
    let (model, input, cal) = (fraud.join("model.onnx"), fraud.join("input.json"), fraud.join("calibration.json"));
    let expected = fraud.join("expected.json");
    // run without --calibrate: a warning naming the input, a sound result.
    let o = zkinfer(
        &["run", s(&model), "--input", s(&input), "--expected", s(&expected), "-o", s(&d.join("run")), "--json"],
        &cache,
    );
    let out = ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: no --calibrate") && err.contains("input.json"), "{err}");
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(j["calibration"]["samples"], 1, "{j}");
    assert_eq!(j["range_margin"], 2.0);
    assert!(j["max_abs_error"].as_f64().unwrap() <= 0.01, "{j}");
    // compile with samples and a margin: reported on stdout and in settings.json.
    let dir = d.join("compiled");
    let out =
        ok(&zkinfer(&["compile", s(&model), "-o", s(&dir), "--calibrate", s(&cal), "--range-margin", "3"], &cache));
    assert!(out.contains("calibration: 8 calibration sample(s), range margin 3"), "{out}");
    assert!(out.contains("error by scale"), "{out}");
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    let c = &settings["calibration"];
    assert_eq!(c["range_margin"], 3.0);
    assert_eq!(c["samples"], 8);
    assert_eq!(c["scale_bits"], settings["scale_bits"]);
    assert!(!c["tried"].as_array().unwrap().is_empty());
    // compile without any calibration warns about the blind defaults.
    let o = zkinfer(&["compile", s(&model), "-o", s(&d.join("blind"))], &cache);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("blind fixed-point defaults"));
    // --input-bounds: per input and for all inputs.
    let out = ok(&zkinfer(&["compile", s(&model), "-o", s(&d.join("bounded")), "--input-bounds=-6,8"], &cache));
    assert!(out.contains("input bounds"), "{out}");
    let out = ok(&zkinfer(&["compile", s(&model), "-o", s(&d.join("bounded0")), "--input-bounds", "0:-6,8"], &cache));
    assert!(out.contains("input bounds"), "{out}");
    for (bad, needle) in [("8,-6", "above HI"), ("x,1", "not a finite number"), ("1:0,1", "input 1"), ("5", "LO,HI")] {
        let dir = d.join("bad_bounds");
        let o = zkinfer(&["compile", s(&model), "-o", s(&dir), &format!("--input-bounds={bad}")], &cache);
        fails(&o, needle);
        assert!(!dir.join("program.bin").exists(), "{bad}: wrote an artifact");
    }
    let o = zkinfer(&["compile", s(&model), "-o", s(&d.join("bad_margin")), "--range-margin", "0.5"], &cache);
    fails(&o, "range_margin");
}
