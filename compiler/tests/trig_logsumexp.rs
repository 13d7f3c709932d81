//! Tan, Asin, Acos (function tables) and ReduceLogSumExp
//! (`log(sum(exp(x - max))) + max`): the float reference against the math,
//! the integer program against the float reference.

mod common;

use common::build::{int, ints, Model};

fn unary_model(op: &str, n: usize) -> Vec<u8> {
    let mut m = Model::new(17);
    m.input("x", &[1, n as i64]).output("y");
    m.node(op, &["x"], &["y"], vec![]);
    m.bytes()
}

fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
}

#[test]
fn tan_asin_acos_tables() {
    type Case = (&'static str, fn(f64) -> f64, f64, f64);
    let cases: [Case; 3] =
        [("Tan", f64::tan, -1.2, 1.2), ("Asin", f64::asin, -0.99, 0.99), ("Acos", f64::acos, -0.99, 0.99)];
    for (op, f, lo, hi) in cases {
        let x = grid(lo, hi, 33);
        let model = unary_model(op, x.len());
        let (float, program) = common::assert_close(&model, std::slice::from_ref(&x), 0.01);
        for (a, &xi) in float[0].iter().zip(&x) {
            assert!((a - f(xi)).abs() < 1e-12, "{op}({xi}) = {a}");
        }
        let (_, quant, _) = common::run_both(&model, std::slice::from_ref(&x));
        let r = common::range(&float[0]);
        let err = float[0].iter().zip(&quant[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / r;
        println!("{op}: integer vs float {:.4}% of range ({} nodes)", 100.0 * err, program.nodes.len());
    }
}

#[test]
fn asin_outside_its_domain_is_clamped_in_the_table() {
    // Calibrated on [-1, 1]; the table itself never holds a NaN.
    let x = grid(-1.0, 1.0, 17);
    let model = unary_model("Asin", x.len());
    common::assert_close(&model, std::slice::from_ref(&x), 0.01);
}

fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    x.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m
}

#[test]
fn reduce_log_sum_exp() {
    let x: Vec<f64> = (0..15).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.6).collect();
    // Opset 18: axes as an input, keepdims 0 -> [3].
    let mut m = Model::new(18);
    m.input("x", &[3, 5]).output("y").init_i64("axes", &[1], &[1]);
    m.node("ReduceLogSumExp", &["x", "axes"], &["y"], vec![int("keepdims", 0)]);
    let (float, _) = common::assert_close(&m.bytes(), std::slice::from_ref(&x), 0.01);
    assert_eq!(float[0].len(), 3);
    for (r, got) in float[0].iter().enumerate() {
        assert!((got - log_sum_exp(&x[r * 5..r * 5 + 5])).abs() < 1e-12, "row {r}: {got}");
    }
    // Opset 13: axes attribute, over axis 0, keepdims (default) -> [1, 5].
    let mut m = Model::new(13);
    m.input("x", &[3, 5]).output("y");
    m.node("ReduceLogSumExp", &["x"], &["y"], vec![ints("axes", &[0])]);
    let (float, _) = common::assert_close(&m.bytes(), std::slice::from_ref(&x), 0.01);
    for (c, got) in float[0].iter().enumerate() {
        let col: Vec<f64> = (0..3).map(|r| x[r * 5 + c]).collect();
        assert!((got - log_sum_exp(&col)).abs() < 1e-12, "column {c}: {got}");
    }
    // No axes: everything -> one value.
    let mut m = Model::new(18);
    m.input("x", &[3, 5]).output("y");
    m.node("ReduceLogSumExp", &["x"], &["y"], vec![]);
    let (float, _) = common::assert_close(&m.bytes(), std::slice::from_ref(&x), 0.01);
    assert!((float[0][0] - log_sum_exp(&x)).abs() < 1e-12);
}
