//! Per-tensor fixed-point scales (`--scales per-tensor`, and `auto` where no
//! global scale meets the accuracy target) in the circuit: programs whose
//! values sit at different scales satisfy MockProver, the nodes that move a
//! value between scales (`at_scale_*` joins, the requants that settle an
//! accumulator at its value's scale) reject tampered witnesses, and the CLI
//! proves and verifies such a model in Rust and with the Solidity verifier.
//! Accuracy against the global scale: compiler/tests/per_tensor.rs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use circuits::{Tamper, TamperTarget};
use common::*;
use compiler::{CompileOptions, ScaleMode};

fn per_tensor(dir: &Path) -> Option<(ir::Program, Case)> {
    if !dir.join("model.onnx").exists() {
        return None;
    }
    let c = case(dir);
    let global = CompileOptions { scales: ScaleMode::Global, ..options(&c) };
    let g = compiler::compile_file(&c.model, &global).unwrap();
    let opts = CompileOptions { scales: ScaleMode::PerTensor, scale_bits: Some(g.quant.scale_bits), ..global };
    Some((compiler::compile_file(&c.model, &opts).unwrap(), c))
}

#[test]
fn per_tensor_programs_satisfy_the_circuit_and_reject_tampers() {
    let Some(root) = corpus() else { return };
    let (mut joins, mut settles) = (0, 0);
    let fixtures = repo().join("tests/fixtures/real");
    for (m, dir) in [
        ("concat_tiny_large", fixtures.join("concat_tiny_large")),
        ("1l_tiny_div", root.join("ezkl/1l_tiny_div")),
        ("1l_div", root.join("ezkl/1l_div")),
        ("lstm", root.join("ezkl/lstm")),
    ] {
        let Some((program, c)) = per_tensor(&dir) else { continue };
        let s = program.quant.scale_bits;
        let finer = program.nodes.iter().filter(|n| n.scale > s && !matches!(n.op, ir::Op::Linear(_))).count();
        let bench = MockBench::new(program, &c.inputs);
        bench.verify(vec![]).unwrap_or_else(|e| panic!("{m}: honest witness: {e:?}"));
        let program = &bench.program;
        // Requants into a scale finer than s, and every scale move.
        let picked: Vec<usize> = (0..program.nodes.len())
            .filter(|&i| {
                let n = &program.nodes[i];
                n.name.contains("/at_scale_") || (matches!(n.op, ir::Op::Requant(_)) && n.scale > s)
            })
            .take(8)
            .collect();
        println!("{m}: s={s}, {finer} values finer than s, tampering {} nodes", picked.len());
        for i in picked {
            let name = &program.nodes[i].name;
            if name.contains("/at_scale_") {
                joins += 1;
            } else {
                settles += 1;
            }
            let t = Tamper { node: i, element: 0, target: TamperTarget::Output, delta: 1 };
            assert!(bench.verify(vec![t]).is_err(), "{m}: tampered {name} verified");
        }
    }
    assert!(joins > 0 && settles > 0, "{joins} scale moves and {settles} settling requants tampered");
    println!("{joins} scale moves and {settles} settling requants rejected when tampered");
}

fn zkinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer")).args(args).env("ZKINFER_CACHE", srs_cache()).output().unwrap()
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "command failed: {}\n{}", out, String::from_utf8_lossy(&o.stderr));
    out
}

/// `1l_tiny_div` (outputs ~1e-4 of the inputs): `auto` picks per-tensor
/// scales, the proof verifies in Rust and in the EVM, and a changed output
/// is rejected by both.
#[test]
fn cli_proves_per_tensor_scales_end_to_end() {
    let Some(root) = corpus() else { return };
    let m = root.join("ezkl/1l_tiny_div");
    if !m.join("model.onnx").exists() {
        return;
    }
    let d = tmp("per_tensor_cli");
    let (model, input, expected) = (m.join("model.onnx"), m.join("input.json"), m.join("expected.json"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let dir = d.join("run");
    let o = zkinfer(&[
        "run",
        &s(&model),
        "--input",
        &s(&input),
        "--calibrate",
        &s(&input),
        "--expected",
        &s(&expected),
        "-o",
        &s(&dir),
        "--json",
    ]);
    let out = ok(&o);
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(j["calibration"]["per_tensor"], true, "{j}");
    assert!(j["calibration"]["output_value_scales"][0].as_u64().unwrap() > j["scale_bits"].as_u64().unwrap());
    let err = j["max_abs_error"].as_f64().unwrap();
    println!("1l_tiny_div per-tensor: max abs error {err:e}");
    assert!(err < 1e-7, "{j}");
    let proof = dir.join("proof.json");
    ok(&zkinfer(&["verify", &s(&dir), &s(&proof)]));
    let mut pj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    pj["instances"][0][0] = serde_json::Value::String(format!("0x{}02", "00".repeat(31)));
    let bad = d.join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&pj).unwrap()).unwrap();
    assert!(!zkinfer(&["verify", &s(&dir), &s(&bad)]).status.success(), "a changed output verified");
    if !repo().join("node_modules/solc/soljson.js").exists() {
        eprintln!("note: solc-js not installed (bash scripts/npm-ci.sh); verify-evm not exercised");
        return;
    }
    assert!(ok(&zkinfer(&["verify-evm", &s(&dir), &s(&proof)])).starts_with("ok=true gas="));
    let o = zkinfer(&["verify-evm", &s(&dir), &s(&bad)]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok=false"), "{}", String::from_utf8_lossy(&o.stdout));
}
