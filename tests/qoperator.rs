//! onnxruntime's com.microsoft QOperator ops (issue 11, part 5): models made
//! by `quantize_static(..., QuantFormat.QOperator)` (`scripts/fixtures_qop.py`)
//! with QLinearAdd, QLinearMul (of two computed tensors), QLinearAveragePool,
//! QLinearGlobalAveragePool, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat and
//! QGemm. The integer program agrees with onnxruntime's own kernels (default
//! session options) within one quantized step on every element of 32 inputs,
//! MockProver accepts the witness, and tampered lookups, products and
//! requantizations of these ops are rejected; so are tampered BitShift floors
//! (`bitshift_*` fixtures, `scripts/fixtures_bitshift.py`).

mod common;

use circuits::{Tamper, TamperTarget};
use common::*;
use ir::Op;

const MODELS: &[&str] = &["qop_cnn", "qop_gemm_mlp"];

fn dir(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/real").join(name)
}

#[test]
fn qoperator_models_match_onnxruntime_within_one_step() {
    for name in MODELS {
        assert_agrees_with_ort(name, None, 0.95);
    }
}

#[test]
fn qoperator_models_satisfy_the_circuit() {
    for name in MODELS {
        assert_fixture_proves(name);
    }
}

/// Every lookup (QLinearSigmoid/QLinearLeakyRelu tables), every product
/// (QLinearMul's `Bilinear`) and the requantizations of QLinearAdd, the
/// pools, QLinearConcat and QGemm reject a tampered output under MockProver.
#[test]
fn qoperator_ops_reject_tampered_witnesses() {
    for (name, prefixes) in [
        ("qop_cnn", &["residual", "gate", "pool", "gap", "concat", "fc"][..]),
        ("qop_gemm_mlp", &["fc1", "fc2", "residual", "silu", "fc3"][..]),
    ] {
        let c = case(&dir(name));
        let bench = MockBench::new(compiler::compile_file(&c.model, &options(&c)).unwrap(), &c.inputs);
        let (program, run) = (&bench.program, |tamper: Vec<Tamper>| bench.verify(tamper));
        run(vec![]).expect("the honest witness verifies");
        let mut picked: Vec<usize> = program
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.op, Op::Table(_) | Op::Bilinear(_)))
            .map(|(i, _)| i)
            .collect();
        let tables = picked.iter().filter(|&&i| matches!(program.nodes[i].op, Op::Table(_))).count();
        assert!(tables >= 2, "{name}: {tables} tables (sigmoid and leaky relu expected)");
        for p in prefixes {
            let i = program
                .nodes
                .iter()
                .position(|n| n.name.starts_with(p) && matches!(n.op, Op::Requant(_)))
                .unwrap_or_else(|| {
                    let names: Vec<&str> = program.nodes.iter().map(|n| n.name.as_str()).collect();
                    panic!("{name}: no requant of {p} in {names:?}")
                });
            picked.push(i);
        }
        for id in picked {
            let t = Tamper { node: id, element: 0, target: TamperTarget::Output, delta: 1 };
            assert!(run(vec![t]).is_err(), "{name}: tampered {} verified", program.nodes[id].name);
        }
    }
}

/// BitShift: the exact floor (`Requant` of the shifted argument) and the
/// wraparound of LEFT reject a tampered witness.
#[test]
fn bit_shift_rejects_tampered_witnesses() {
    for name in ["bitshift_const_uint8", "bitshift_left_uint8", "bitshift_right_uint8"] {
        let c = case(&dir(name));
        let bench = MockBench::new(compiler::compile_file(&c.model, &options(&c)).unwrap(), &c.inputs);
        let (program, run) = (&bench.program, |tamper: Vec<Tamper>| bench.verify(tamper));
        run(vec![]).expect("the honest witness verifies");
        let floors: Vec<usize> =
            (0..program.nodes.len()).filter(|&i| program.nodes[i].name.ends_with("/floor")).collect();
        assert!(!floors.is_empty(), "{name}: no floor nodes");
        for id in floors {
            for delta in [1, -1] {
                let t = Tamper { node: id, element: 0, target: TamperTarget::Output, delta };
                assert!(run(vec![t]).is_err(), "{name}: tampered {} verified", program.nodes[id].name);
            }
        }
    }
}
