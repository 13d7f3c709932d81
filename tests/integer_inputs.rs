//! Integer-typed graph inputs are proven to be integers of their type
//! (compiler/src/passes/int_input.rs): read at scale 0, then one lookup
//! (8-bit types) or a requant plus a lookup of the high part (wider types),
//! then scaled.
//!
//! The negative tests play a cheating prover: take the program with the
//! type check's tables widened (a circuit that would accept the value), run
//! it on an out-of-type input (uint8 300 or -1, int16 40000), and hand that
//! fully consistent witness to the real circuit. MockProver must reject it
//! (and accept it under the widened program, so the type check is the only
//! thing that fails). `ir::quantize_inputs` refuses such inputs with an
//! error naming the input, element and type range.

mod common;

use common::*;
use ir::{Op, Program, TableOp};

fn compiled(name: &str) -> (Program, Case) {
    let c = case(&repo().join("tests/fixtures/real").join(name));
    (compiler::compile_file(&c.model, &options(&c)).unwrap(), c)
}

/// The type-check tables of input `index` with 64 more entries either side.
fn widened(program: &Program, index: usize) -> Program {
    let mut p = program.clone();
    let x = p.nodes.iter().position(|n| matches!(n.op, Op::Input { index: i } if i == index)).unwrap();
    let checks: Vec<usize> = (0..p.nodes.len())
        .filter(|&i| match &p.nodes[i].op {
            Op::Table(t) => t.input == x || p.nodes[i].name.ends_with("/type_check"),
            _ => false,
        })
        .collect();
    assert!(!checks.is_empty(), "input {index} has no type check");
    for i in checks {
        let Op::Table(t) = &p.nodes[i].op else { unreachable!() };
        // Identity tables: entry `lo + j` is `lo + j`.
        assert!(t.values.iter().enumerate().all(|(j, &v)| v == t.lo + j as i64));
        let (lo, hi) = (t.lo - 64, t.lo + t.values.len() as i64 + 63);
        p.nodes[i].op = Op::Table(TableOp { input: t.input, lo, values: (lo..=hi).collect() });
    }
    p
}

/// The program's integer inputs for `c`, with input `index` element 0 set to `v`.
fn cheat_inputs(program: &Program, c: &Case, index: usize, v: i64) -> Vec<Vec<i64>> {
    let mut q = ir::quantize_inputs(program, &c.inputs).unwrap();
    assert_eq!(program.input_scale(index), 0, "integer inputs are read at scale 0");
    q[index][0] = v;
    q
}

fn assert_cheat_rejected(name: &str, index: usize, bad: &[i64]) {
    let (program, c) = compiled(name);
    assert!(program.inputs[index].int_range.is_some(), "{name}: input {index} is integer-typed");
    MockBench::new(program.clone(), &c.inputs).verify(vec![]).expect("the honest witness verifies");
    let relaxed = widened(&program, index);
    let shape = circuits::plan(&program).unwrap().shape;
    let relaxed_shape = circuits::plan(&relaxed).unwrap().shape;
    for &v in bad {
        let q = cheat_inputs(&program, &c, index, v);
        assert!(ir::eval(&program, &q).is_err(), "{name}: the reference evaluator accepts {v}");
        let trace = ir::eval(&relaxed, &q).unwrap_or_else(|e| panic!("{name}: widened program on {v}: {e}"));
        MockBench::with_trace(relaxed.clone(), trace.clone(), relaxed_shape.clone())
            .verify(vec![])
            .unwrap_or_else(|e| panic!("{name}: the widened circuit must accept {v}: {e:?}"));
        assert!(
            MockBench::with_trace(program.clone(), trace, shape.clone()).verify(vec![]).is_err(),
            "{name}: the circuit accepted input {index} = {v}, outside its type"
        );
    }
}

#[test]
fn uint8_inputs_outside_the_type_are_rejected_by_the_circuit() {
    assert_cheat_rejected("bitshift_right_uint8", 0, &[300, 256, -1]);
}

/// The same through the quantized lowering (a QLinearMatMul of two uint8
/// graph inputs: the product reads the checked integers).
#[test]
fn uint8_inputs_of_quantized_models_are_rejected_outside_the_type() {
    assert_cheat_rejected("qlinearmatmul_2d_uint8", 0, &[300, -1]);
    assert_cheat_rejected("qlinearmatmul_2d_uint8", 1, &[256]);
}

#[test]
fn int16_inputs_outside_the_type_are_rejected_by_the_circuit() {
    assert_cheat_rejected("int16_cast_affine", 0, &[40000, -32769]);
}

#[test]
fn integer_inputs_prove_exactly() {
    for name in ["int16_cast_affine", "bitshift_right_uint8", "bitshift_const_uint8"] {
        assert_fixture_proves(name);
    }
}

#[test]
fn values_outside_the_type_get_a_clear_error() {
    let (program, c) = compiled("int16_cast_affine");
    for bad in [40000.0, -32769.0, 2.5] {
        let mut inputs = c.inputs.clone();
        inputs[0][1] = bad;
        let e = ir::quantize_inputs(&program, &inputs).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, ir::IrError::NotInType { index: 0, element: 1, lo: -32768, hi: 32767, .. }),
            "{bad}: {msg}"
        );
        assert!(msg.contains("input 0 (x) element 1") && msg.contains("[-32768, 32767]"), "{msg}");
    }
}
