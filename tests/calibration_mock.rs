//! Calibration headroom under MockProver (issue 11 part 1): the fraud MLP,
//! calibrated on typical transactions only, proves a fraud transaction whose
//! sigmoid input lies past the calibrated table domain, through the
//! saturation clamp (`passes::lower::saturated_sides`); a tampered clamp or
//! table witness is rejected.

mod common;

use std::sync::Arc;

use circuits::{Tamper, TamperTarget};
use common::*;

fn fraud() -> std::path::PathBuf {
    repo().join("tests/fixtures/real/fraud_mlp")
}

#[test]
fn fraud_case_past_the_calibrated_domain_satisfies_the_circuit_and_tampers_fail() {
    let dir = fraud();
    let calibration =
        compiler::parse_calibration_json(&std::fs::read_to_string(dir.join("calibration.json")).unwrap()).unwrap();
    let opts = compiler::CompileOptions { calibration, ..Default::default() };
    let program = Arc::new(compiler::compile_file(&dir.join("model.onnx"), &opts).unwrap());
    let names: Vec<&str> = program.nodes.iter().map(|n| n.name.as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name} in {names:?}"));
    let (offset, low, high, clamped) =
        (at("/5/Sigmoid/offset"), at("/5/Sigmoid/clamp_low"), at("/5/Sigmoid/clamp_high"), at("/5/Sigmoid/clamped"));
    let ir::Op::Table(table) = &program.nodes[at("/5/Sigmoid")].op else { panic!("sigmoid is not a table") };
    let top = table.values.len() as i64 - 1;
    // The fraud case whose table input is the furthest past the domain's top.
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fraud_cases.json")).unwrap()).unwrap();
    let traces: Vec<ir::Trace> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let x: Vec<f64> = c["input"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            ir::eval(&program, &ir::quantize_inputs(&program, &[x]).unwrap()).unwrap()
        })
        .collect();
    let trace = traces.into_iter().max_by_key(|t| t.values[offset][0]).unwrap();
    assert!(
        trace.values[offset][0] > top,
        "no fraud case lies past the table's top ({} <= {top})",
        trace.values[offset][0]
    );
    assert_eq!(trace.values[clamped][0], top, "clamped onto the table's edge");
    let shape = circuits::plan(&program).unwrap().shape;
    let bench = MockBench::with_trace((*program).clone(), trace, shape);
    let run = |tamper: Vec<Tamper>| bench.verify(tamper);
    run(vec![]).expect("the honest witness verifies");
    let t = |node: usize, target: TamperTarget, delta: i64| vec![Tamper { node, element: 0, target, delta }];
    let out = program.outputs[0].value;
    for (what, tamper) in [
        ("offset", t(offset, TamperTarget::Output, 1)),
        ("low clamp (relu) output", t(low, TamperTarget::Output, -1)),
        ("high clamp (relu) output", t(high, TamperTarget::Output, 1)),
        ("high clamp sign", t(high, TamperTarget::Sign, 1)),
        ("clamped value", t(clamped, TamperTarget::Output, -1)),
        ("probability", t(out, TamperTarget::Output, -1)),
    ] {
        assert!(run(tamper).is_err(), "{what}: tampered witness verified");
    }
}
