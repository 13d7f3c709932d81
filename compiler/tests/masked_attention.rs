//! Softmax over a constant attention mask (issue 11, part 3): `Where(mask,
//! fill, x)` and `x + mask` with fills of `-inf`, `finfo(float32).min` and
//! `-1e4`, the mask computed from constants (folded by the loader), read
//! through a Reshape. The masked outputs are exactly 0 in float and in the
//! integer program, the fill never becomes a value of the float graph, and
//! the integer program tracks the float reference.

mod common;

use common::build::{int, Model};
use compiler::frontend::graph::FOp;

const T: usize = 4;
const HEADS: usize = 2;
const FINFO_MIN: f32 = f32::MIN;

/// Scores `x` [1, 2, T, T], scaled by 0.5, masked causally by `mask`, then a
/// softmax over the last axis (through a Reshape to [2, T, T] if `reshape`).
fn model(mask: &str, fill: f32, reshape: bool) -> Vec<u8> {
    let n = T as i64;
    let tril: Vec<f32> = (0..T * T).map(|f| ((f % T) <= (f / T)) as i32 as f32).collect();
    let mut m = Model::new(17);
    m.input("x", &[1, HEADS as i64, n, n]).output("y");
    m.init("tril", &[1, 1, n, n], &tril).init("zero", &[], &[0.0]).init("one", &[], &[1.0]);
    m.init("half", &[], &[0.5]).init("fill", &[], &[fill]);
    m.node("Mul", &["x", "half"], &["scores"], vec![]);
    match mask {
        "where" => {
            m.node("Equal", &["tril", "zero"], &["cond"], vec![]);
            m.node("Where", &["cond", "fill", "scores"], &["masked"], vec![]);
        }
        "add" => {
            m.node("Sub", &["one", "tril"], &["inv"], vec![]);
            m.node("Mul", &["inv", "fill"], &["bias"], vec![]);
            m.node("Add", &["scores", "bias"], &["masked"], vec![]);
        }
        _ => unreachable!(),
    }
    if reshape {
        m.init_i64("shape", &[3], &[HEADS as i64, n, n]);
        m.node("Reshape", &["masked", "shape"], &["flat"], vec![]);
        m.node("Softmax", &["flat"], &["y"], vec![int("axis", -1)]);
    } else {
        m.node("Softmax", &["masked"], &["y"], vec![int("axis", -1)]);
    }
    m.bytes()
}

fn scores() -> Vec<f64> {
    (0..HEADS * T * T).map(|i| ((i * 7 % 13) as f64 - 6.0) * 0.4).collect()
}

/// Softmax over the causal prefix of each row, zeros elsewhere.
fn reference(x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (r, row) in x.chunks(T).enumerate() {
        let i = r % T;
        let kept: Vec<f64> = row[..=i].iter().map(|v| 0.5 * v).collect();
        let m = kept.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = kept.iter().map(|v| (v - m).exp()).sum();
        for (j, v) in kept.iter().enumerate() {
            y[r * T + j] = (v - m).exp() / s;
        }
    }
    y
}

const CASES: &[(&str, f32)] =
    &[("where", f32::NEG_INFINITY), ("where", FINFO_MIN), ("where", -1e4), ("add", FINFO_MIN), ("add", -1e4)];

#[test]
fn masked_softmax_is_exact_zero_and_tracks_float() {
    let x = scores();
    let want = reference(&x);
    for &(mask, fill) in CASES {
        for reshape in [false, true] {
            let bytes = model(mask, fill, reshape);
            let what = format!("{mask} {fill} reshape={reshape}");
            let float = compiler::float_reference(&bytes, std::slice::from_ref(&x)).unwrap();
            for (o, (a, b)) in float[0].iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-12, "{what}: element {o}: {a} vs {b}");
                if *b == 0.0 {
                    assert_eq!(*a, 0.0, "{what}: masked element {o}");
                }
            }
            let (_, quant, program) = common::run_both(&bytes, std::slice::from_ref(&x));
            let q = ir::quantize_inputs(&program, std::slice::from_ref(&x)).unwrap();
            let trace = ir::eval(&program, &q).unwrap();
            let out = &trace.values[program.outputs[0].value];
            let mut err: f64 = 0.0;
            for (o, &w) in want.iter().enumerate() {
                if w == 0.0 {
                    assert_eq!(out[o], 0, "{what}: masked element {o} is {} in integers", out[o]);
                }
                err = err.max((quant[0][o] - w).abs());
            }
            println!("{what}: max error {:.5} of range 1 ({} nodes)", err, program.nodes.len());
            assert!(err < 0.01, "{what}: error {err}");
        }
    }
}

#[test]
fn the_fill_never_enters_the_float_graph() {
    let x = scores();
    for &(mask, fill) in CASES {
        let g = compiler::load_graph(&model(mask, fill, true), "m", Some(std::slice::from_ref(&x))).unwrap();
        for n in &g.nodes {
            match &n.op {
                FOp::Const(t) => {
                    for v in t.to_f64() {
                        assert!(v.is_finite() && v.abs() < 1e3, "{mask} {fill}: constant {} holds {v}", n.name);
                    }
                }
                FOp::Affine(a) => {
                    for v in a.bias.iter().chain(&a.weights) {
                        assert!(v.is_finite() && v.abs() < 1e3, "{mask} {fill}: affine {} holds {v}", n.name);
                    }
                }
                _ => {}
            }
        }
        let ranges = compiler::quantize::value_ranges(&g, &[vec![x.clone()]]).unwrap();
        for (n, r) in g.nodes.iter().zip(&ranges) {
            if let Some((lo, hi)) = r {
                assert!(lo.abs() < 1e2 && hi.abs() < 1e2, "{mask} {fill}: {} calibrated to [{lo}, {hi}]", n.name);
            }
        }
    }
}

#[test]
fn a_fully_masked_row_is_refused() {
    // Row 0 of the last axis masked everywhere: tril shifted by one.
    let n = T as i64;
    let strict: Vec<f32> = (0..T * T).map(|f| ((f % T) < (f / T)) as i32 as f32).collect();
    let mut m = Model::new(17);
    m.input("x", &[1, n, n]).output("y");
    m.init("keep", &[1, n, n], &strict).init("zero", &[], &[0.0]).init("fill", &[], &[f32::NEG_INFINITY]);
    m.node("Equal", &["keep", "zero"], &["cond"], vec![]);
    m.node("Where", &["cond", "fill", "x"], &["masked"], vec![]);
    m.node("Softmax", &["masked"], &["y"], vec![int("axis", 2)]);
    let x: Vec<f64> = (0..T * T).map(|i| i as f64 * 0.1).collect();
    let opts = compiler::CompileOptions { calibration: vec![vec![x]], ..Default::default() };
    let err = compiler::compile_bytes(&m.bytes(), "m", &opts).unwrap_err().to_string();
    assert!(err.contains("masked at every position") && err.contains("row 0"), "{err}");
}

#[test]
fn other_consumers_of_a_fill_keep_the_general_where() {
    // Where as a graph output: the general lowering (the fill is a value).
    let n = T as i64;
    let tril: Vec<f32> = (0..T * T).map(|f| ((f % T) <= (f / T)) as i32 as f32).collect();
    let mut m = Model::new(17);
    m.input("x", &[1, n, n]).output("y");
    m.init("tril", &[1, n, n], &tril).init("zero", &[], &[0.0]).init("fill", &[], &[-8.0]);
    m.node("Equal", &["tril", "zero"], &["cond"], vec![]);
    m.node("Where", &["cond", "fill", "x"], &["y"], vec![]);
    let x: Vec<f64> = (0..T * T).map(|i| i as f64 * 0.1).collect();
    let float = compiler::float_reference(&m.bytes(), std::slice::from_ref(&x)).unwrap();
    for (o, v) in float[0].iter().enumerate() {
        let want = if o % T <= o / T { x[o] } else { -8.0 };
        assert_eq!(*v, want, "element {o}");
    }
    // A moderate fill (-8, above the mask threshold) feeding a softmax is a
    // plain softmax of the filled scores.
    let mut m2 = Model::new(17);
    m2.input("x", &[1, n, n]).output("y");
    m2.init("tril", &[1, n, n], &tril).init("zero", &[], &[0.0]).init("fill", &[], &[-8.0]);
    m2.node("Equal", &["tril", "zero"], &["cond"], vec![]);
    m2.node("Where", &["cond", "fill", "x"], &["masked"], vec![]);
    m2.node("Softmax", &["masked"], &["y"], vec![int("axis", -1)]);
    let float = compiler::float_reference(&m2.bytes(), std::slice::from_ref(&x)).unwrap();
    let row = |r: usize| -> Vec<f64> { (0..T).map(|j| if j <= r { x[r * T + j] } else { -8.0 }).collect() };
    for r in 0..T {
        let v = row(r);
        let mx = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = v.iter().map(|a| (a - mx).exp()).sum();
        for j in 0..T {
            assert!((float[0][r * T + j] - (v[j] - mx).exp() / s).abs() < 1e-12);
        }
    }
    common::assert_close(&m2.bytes(), std::slice::from_ref(&x), 0.01);
}
