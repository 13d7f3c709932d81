//! Products of two quantized activations (issue 11, part 5): a QDQ MLP with
//! a square activation and a broadcast Mul of two activations
//! (`qdq_square_mlp`), and QLinearMatMul with both operands computed
//! (`qlinear_matmul_act`: both from one QuantizeLinear; `qlinearmatmul_2d_uint8`:
//! onnx's node test `test_qlinearmatmul_2D_uint8_float32`, uint8 graph inputs
//! and output). The integer program agrees with onnxruntime
//! (graph optimizations off: the model's own DQ -> float op -> Q) within one
//! quantized step on every element of 32 inputs, MockProver accepts the
//! witness, and tampered products / zero-point shifts are rejected.

mod common;

use circuits::{Tamper, TamperTarget};
use common::*;

const MODELS: &[&str] = &["qdq_square_mlp", "qlinear_matmul_act", "qlinearmatmul_2d_uint8"];
/// The output quantization steps (the scales of the last QuantizeLinear; 1
/// for an integer output).
const STEPS: &[f64] = &[0.02, 0.05, 1.0];

fn dir(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures/real").join(name)
}

#[test]
fn activation_products_match_onnxruntime_within_one_step() {
    for (name, step) in MODELS.iter().zip(STEPS) {
        assert_agrees_with_ort(name, Some(*step), 0.99);
    }
}

#[test]
fn activation_products_satisfy_the_circuit() {
    for name in MODELS {
        assert_fixture_proves(name);
    }
}

/// The product (`Bilinear` over the shifted integers) and the zero-point
/// shift (`Linear`), and an integer graph input's integers and their type
/// check (`Table`, see tests/integer_inputs.rs), reject a tampered witness
/// under MockProver.
#[test]
fn activation_products_reject_tampered_witnesses() {
    for (name, nodes) in [
        (
            "qdq_square_mlp",
            &["/square/Mul/product", "/square/Mul/a/shifted", "/gate/Mul/product", "/gate/Mul/b/shifted"][..],
        ),
        ("qlinear_matmul_act", &["/QLinearMatMul/matmul/product", "/QLinearMatMul/matmul/a/shifted"][..]),
        ("qlinearmatmul_2d_uint8", &["y/matmul/product", "a/checked", "a/integers", "y/matmul/b/shifted"][..]),
    ] {
        let c = case(&dir(name));
        let bench = MockBench::new(compiler::compile_file(&c.model, &options(&c)).unwrap(), &c.inputs);
        let (program, run) = (&bench.program, |tamper: Vec<Tamper>| bench.verify(tamper));
        run(vec![]).expect("the honest witness verifies");
        let names: Vec<&str> = program.nodes.iter().map(|n| n.name.as_str()).collect();
        for node in nodes {
            let id = names.iter().position(|n| n == node).unwrap_or_else(|| panic!("{name}: no {node} in {names:?}"));
            let t = Tamper { node: id, element: 0, target: TamperTarget::Output, delta: 1 };
            assert!(run(vec![t]).is_err(), "{name}: tampered {node} verified");
        }
    }
}
