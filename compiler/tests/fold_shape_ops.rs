//! Compile-time folding of index and shape arithmetic ops on constant
//! operands (issue 11 part 6): NonZero, Range, Mod, CumSum, ReduceProd, shape
//! arithmetic (Equal, Where), and the
//! `ConstantOfShape -> NonZero` arange older torch exports emit.

mod common;

use std::path::Path;

use common::build::{int, Model};

#[test]
fn legacy_arange_fixture_matches_onnxruntime() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/real/arange_nonzero_legacy");
    let o = common::check_folder(&dir).expect("compile");
    println!(
        "arange_nonzero_legacy: float vs onnxruntime {:.2e}, integer vs onnxruntime {:.4}% of range",
        o.float_err,
        100.0 * o.quant_err
    );
    assert!(o.float_err < 1e-5, "float error {}", o.float_err);
    assert!(o.quant_err <= 0.01, "integer error {}", o.quant_err);
}

/// `y = x + Cast(c)` where `c` is the folded constant; returns y - x.
fn folded(build: impl Fn(&mut Model), n: usize) -> Vec<f64> {
    let mut m = Model::new(17);
    m.input("x", &[n as i64]).output("y");
    build(&mut m);
    m.node("Cast", &["c"], &["cf"], vec![int("to", 1)]).node("Add", &["x", "cf"], &["y"], vec![]);
    compiler::float_reference(&m.bytes(), &[vec![0.0; n]]).expect("float reference").remove(0)
}

#[test]
fn nonzero_range_mod_cumsum_fold() {
    // NonZero of a [2, 3] constant -> [2, count] coordinates; flattened rows then columns.
    let v = folded(
        |m| {
            m.init_i64("a", &[2, 3], &[0, 5, 0, 7, 0, 1]).node("NonZero", &["a"], &["nz"], vec![]).node(
                "Reshape",
                &["nz", "flat"],
                &["c"],
                vec![],
            );
            m.init_i64("flat", &[1], &[-1]);
        },
        6,
    );
    assert_eq!(v, vec![0.0, 1.0, 1.0, 1.0, 0.0, 2.0]);
    // Range(7, -2, -3) = [7, 4, 1]; Mod(-7..., 3) takes the divisor's sign, fmod=1 the dividend's.
    let v = folded(
        |m| {
            m.init_i64("s", &[], &[7]).init_i64("l", &[], &[-2]).init_i64("d", &[], &[-3]);
            m.node("Range", &["s", "l", "d"], &["c"], vec![]);
        },
        3,
    );
    assert_eq!(v, vec![7.0, 4.0, 1.0]);
    let v = folded(
        |m| {
            m.init_i64("a", &[4], &[-7, 7, -7, 7]).init_i64("b", &[4], &[3, -3, -3, 3]);
            m.node("Mod", &["a", "b"], &["c"], vec![]);
        },
        4,
    );
    assert_eq!(v, vec![2.0, -2.0, -1.0, 1.0]);
    let v = folded(
        |m| {
            m.init_i64("a", &[4], &[-7, 7, -7, 7]).init_i64("b", &[4], &[3, -3, -3, 3]);
            m.node("Mod", &["a", "b"], &["c"], vec![int("fmod", 1)]);
        },
        4,
    );
    assert_eq!(v, vec![-1.0, 1.0, -1.0, 1.0]);
    // CumSum along axis 1 of [2, 3], exclusive and reversed.
    let v = folded(
        |m| {
            m.init_i64("a", &[2, 3], &[1, 2, 3, 4, 5, 6]).init_i64("ax", &[], &[1]);
            m.node("CumSum", &["a", "ax"], &["cs"], vec![int("exclusive", 1), int("reverse", 1)]);
            m.init_i64("flat", &[1], &[-1]).node("Reshape", &["cs", "flat"], &["c"], vec![]);
        },
        6,
    );
    assert_eq!(v, vec![5.0, 3.0, 0.0, 11.0, 6.0, 0.0]);
    // ReduceProd of a shape slice, and the `Where(Equal(shape, -1), 1, shape)` of torch's expand.
    let v = folded(
        |m| {
            m.init_i64("s", &[4], &[2, 3, 4, 5]).init_i64("ax", &[1], &[0]);
            m.node("ReduceProd", &["s", "ax"], &["p"], vec![int("keepdims", 1)]);
            m.init_i64("neg", &[2], &[-1, 7]).init_i64("m1", &[], &[-1]).init_i64("one", &[], &[1]);
            m.node("Equal", &["neg", "m1"], &["eq"], vec![]).node("Where", &["eq", "one", "neg"], &["w"], vec![]);
            m.node("Concat", &["p", "w"], &["c"], vec![int("axis", 0)]);
        },
        3,
    );
    assert_eq!(v, vec![120.0, 1.0, 7.0]);
    // Float Range.
    let mut m = Model::new(17);
    m.input("x", &[4]).output("y");
    m.init("s", &[], &[0.5]).init("l", &[], &[2.5]).init("d", &[], &[0.5]);
    m.node("Range", &["s", "l", "d"], &["c"], vec![]).node("Add", &["x", "c"], &["y"], vec![]);
    let v = compiler::float_reference(&m.bytes(), &[vec![0.0; 4]]).unwrap().remove(0);
    assert_eq!(v, vec![0.5, 1.0, 1.5, 2.0]);
}

#[test]
fn computed_operands_are_unsupported() {
    // NonZero of a computed tensor: its output shape depends on the data.
    let mut m = Model::new(17);
    m.input("x", &[4]).output("y");
    m.node("NonZero", &["x"], &["nz"], vec![]).node("Cast", &["nz"], &["y"], vec![int("to", 1)]);
    let err = compiler::compile_bytes(&m.bytes(), "m", &Default::default()).unwrap_err().to_string();
    assert!(err.contains("unsupported") && err.contains("NonZero (node 'nonzero_1')"), "{err}");
    for (op, ins) in [("Mod", vec!["x", "x"]), ("Range", vec!["x", "x", "x"]), ("ReduceProd", vec!["x"])] {
        let mut m = Model::new(17);
        m.input("x", &[1]).output("y");
        m.node(op, &ins, &["y"], vec![]);
        let err = compiler::compile_bytes(&m.bytes(), "m", &Default::default()).unwrap_err().to_string();
        assert!(err.contains("unsupported") && err.contains(op), "{err}");
    }
}

#[test]
fn bad_constant_operands_are_clear_errors() {
    type Build = Box<dyn Fn(&mut Model)>;
    let cases: Vec<(&str, Build)> = vec![
        (
            "delta must be finite and non-zero",
            Box::new(|m: &mut Model| {
                m.init_i64("s", &[], &[0]).init_i64("l", &[], &[4]).init_i64("d", &[], &[0]);
                m.node("Range", &["s", "l", "d"], &["c"], vec![]);
            }),
        ),
        (
            "integer modulo by zero",
            Box::new(|m: &mut Model| {
                m.init_i64("a", &[1], &[3]).init_i64("b", &[1], &[0]).node("Mod", &["a", "b"], &["c"], vec![]);
            }),
        ),
        (
            "no element is non-zero",
            Box::new(|m: &mut Model| {
                m.init_i64("a", &[2], &[0, 0]).node("NonZero", &["a"], &["c"], vec![]);
            }),
        ),
        (
            "too many",
            Box::new(|m: &mut Model| {
                m.init_i64("s", &[], &[0]).init_i64("l", &[], &[i64::MAX]).init_i64("d", &[], &[1]);
                m.node("Range", &["s", "l", "d"], &["c"], vec![]);
            }),
        ),
    ];
    for (needle, build) in cases {
        let mut m = Model::new(17);
        m.input("x", &[1]).output("y");
        build(&mut m);
        m.node("Cast", &["c"], &["cf"], vec![int("to", 1)]).node("Add", &["x", "cf"], &["y"], vec![]);
        let err = compiler::compile_bytes(&m.bytes(), "m", &Default::default()).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}
