//! Masked attention (issue 11, part 3) in the circuit: the torch-exported
//! GPT blocks' softmax over a constant causal mask (see
//! `compiler::frontend::ops::masked`) satisfies MockProver, and a tampered
//! kept value, row max, shifted score, exponential, normalized weight, or a
//! masked output moved off 0, is rejected.

mod common;

use circuits::{Tamper, TamperTarget};
use common::*;

fn dir(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/real").join(name)
}

#[test]
fn masked_softmax_rejects_tampered_witnesses() {
    for name in ["gpt_mask_ninf_torchscript", "gpt_mask_finfo_dynamo"] {
        let c = case(&dir(name));
        let program = std::sync::Arc::new(compiler::compile_file(&c.model, &options(&c)).unwrap());
        let shape = circuits::plan(&program).unwrap().shape;
        let q = ir::quantize_inputs(&program, &c.inputs).unwrap();
        let trace = std::sync::Arc::new(ir::eval(&program, &q).unwrap());
        let run = |tamper: Vec<Tamper>| {
            let mut circuit = circuits::ModelCircuit::new(program.clone(), shape.clone(), trace.clone());
            let inst = circuit.instances();
            circuit.tamper = tamper;
            halo2_proofs::dev::MockProver::run(shape.k, &circuit, vec![inst]).unwrap().verify()
        };
        run(vec![]).expect("the honest witness verifies");
        let names: Vec<&str> = program.nodes.iter().map(|n| n.name.as_str()).collect();
        let find = |suffix: &str| {
            names
                .iter()
                .position(|n| n.to_lowercase().contains("softmax") && n.ends_with(suffix))
                .unwrap_or_else(|| panic!("{name}: no softmax node ending in {suffix:?} in {names:?}"))
        };
        for suffix in ["/kept", "/max", "/shifted", "/exp", "/reciprocal", "/normalized"] {
            let t = Tamper { node: find(suffix), element: 0, target: TamperTarget::Output, delta: 1 };
            assert!(run(vec![t]).is_err(), "{name}: tampered {suffix} verified");
        }
        // The softmax output itself: element 1 (query 0, key 1) is masked, constant 0.
        let out = names
            .iter()
            .position(|n| n.to_lowercase().ends_with("softmax"))
            .unwrap_or_else(|| panic!("{name}: no softmax output in {names:?}"));
        assert_eq!(trace.values[out][1], 0, "{name}: masked softmax output");
        let t = Tamper { node: out, element: 1, target: TamperTarget::Output, delta: 1 };
        assert!(run(vec![t]).is_err(), "{name}: a masked output moved off 0 verified");
    }
}
