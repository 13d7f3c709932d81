//! The ops that are compositions of core ops (activations, reductions,
//! movement, comparisons, ArgMax): the float reference against hand-computed
//! ONNX semantics, and the integer program against the float reference.

mod common;

use common::assert_close;
use common::build::{float, int, ints, string, values, Model};

const TOL: f64 = 0.01;

fn xs(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    values(n, seed).iter().map(|&v| v as f64 * scale).collect()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} != {b:?}");
    }
}

#[test]
fn piecewise_linear_activations() {
    let mut m = Model::new(13);
    m.input("x", &[1, 3, 2, 2]).init("slope", &[3, 1, 1], &[0.1, -0.2, 0.5]).init("lo", &[], &[-0.3]);
    m.init("hi", &[], &[0.4]);
    m.node("LeakyRelu", &["x"], &["lr"], vec![float("alpha", 0.2)]);
    m.node("PRelu", &["x", "slope"], &["pr"], vec![]);
    m.node("Clip", &["x", "lo", "hi"], &["cl"], vec![]);
    m.node("Clip", &["x", "", "hi"], &["cl_hi"], vec![]);
    m.node("Abs", &["x"], &["ab"], vec![]).node("Neg", &["x"], &["ng"], vec![]);
    m.node("HardSigmoid", &["x"], &["hs"], vec![float("alpha", 2.0), float("beta", 0.3)]);
    m.node("HardSwish", &["x"], &["hw"], vec![]);
    for o in ["lr", "pr", "cl", "cl_hi", "ab", "ng", "hs", "hw"] {
        m.output(o);
    }
    let x = xs(12, 1, 2.0);
    let (out, _) = assert_close(&m.bytes(), std::slice::from_ref(&x), TOL);
    let slope = [0.1, -0.2, 0.5];
    let f = |g: &dyn Fn(usize, f64) -> f64| x.iter().enumerate().map(|(i, &v)| g(i, v)).collect::<Vec<f64>>();
    close(&out[0], &f(&|_, v| if v < 0.0 { 0.2f32 as f64 * v } else { v }));
    close(&out[1], &f(&|i, v| if v < 0.0 { slope[i / 4] as f32 as f64 * v } else { v }));
    close(&out[2], &f(&|_, v| v.clamp(-0.3f32 as f64, 0.4f32 as f64)));
    close(&out[3], &f(&|_, v| v.min(0.4f32 as f64)));
    close(&out[4], &f(&|_, v| v.abs()));
    close(&out[5], &f(&|_, v| -v));
    close(&out[6], &f(&|_, v| (2.0 * v + 0.3f32 as f64).clamp(0.0, 1.0)));
    close(&out[7], &f(&|_, v| v * (v / 6.0 + 0.5).clamp(0.0, 1.0)));
}

#[test]
fn clip_with_computed_bounds_and_old_attributes() {
    let mut m = Model::new(13);
    m.input("x", &[5]).input("lo", &[]).input("hi", &[]);
    m.node("Clip", &["x", "lo", "hi"], &["y"], vec![]).output("y");
    let (out, _) = assert_close(&m.bytes(), &[vec![-2.0, -0.5, 0.0, 0.5, 2.0], vec![-1.0], vec![1.0]], TOL);
    close(&out[0], &[-1.0, -0.5, 0.0, 0.5, 1.0]);
    // min > max gives max everywhere.
    let (out, _) = assert_close(&m.bytes(), &[vec![-2.0, -0.5, 0.0, 0.5, 2.0], vec![1.0], vec![-1.0]], TOL);
    close(&out[0], &[-1.0; 5]);
    let mut m = Model::new(6);
    m.input("x", &[3]).node("Clip", &["x"], &["y"], vec![float("min", -0.5)]).output("y");
    let (out, _) = assert_close(&m.bytes(), &[vec![-1.0, 0.25, 3.0]], TOL);
    close(&out[0], &[-0.5, 0.25, 3.0]);
}

#[test]
fn reductions() {
    let mut m = Model::new(18);
    m.input("x", &[2, 3, 4]).init_i64("ax", &[1], &[1]).init_i64("ax2", &[2], &[0, -1]);
    m.node("ReduceSum", &["x", "ax"], &["sum"], vec![int("keepdims", 0)]);
    m.node("ReduceMean", &["x", "ax2"], &["mean"], vec![]);
    m.node("ReduceMax", &["x", "ax"], &["max"], vec![]);
    m.node("ReduceMin", &["x"], &["min"], vec![int("keepdims", 0)]);
    m.node("ReduceL1", &["x", "ax"], &["l1"], vec![]);
    m.node("ReduceSumSquare", &["x", "ax"], &["ss"], vec![int("keepdims", 0)]);
    m.node("ReduceSum", &["x"], &["noop"], vec![int("noop_with_empty_axes", 1)]);
    for o in ["sum", "mean", "max", "min", "l1", "ss", "noop"] {
        m.output(o);
    }
    let x = xs(24, 2, 1.0);
    let (out, _) = assert_close(&m.bytes(), std::slice::from_ref(&x), TOL);
    let at = |i: usize, j: usize, k: usize| x[i * 12 + j * 4 + k];
    let over_j = |f: &dyn Fn(&mut dyn Iterator<Item = f64>) -> f64| {
        let mut v = vec![];
        for i in 0..2 {
            for k in 0..4 {
                v.push(f(&mut (0..3).map(|j| at(i, j, k))));
            }
        }
        v
    };
    close(&out[0], &over_j(&|it| it.sum()));
    let mean: Vec<f64> = (0..3)
        .map(|j| (0..2).flat_map(|i| (0..4).map(move |k| (i, k))).map(|(i, k)| at(i, j, k)).sum::<f64>() / 8.0)
        .collect();
    close(&out[1], &mean);
    close(&out[2], &over_j(&|it| it.fold(f64::NEG_INFINITY, f64::max)));
    close(&out[3], &[x.iter().copied().fold(f64::INFINITY, f64::min)]);
    close(&out[4], &over_j(&|it| it.map(f64::abs).sum()));
    close(&out[5], &over_j(&|it| it.map(|v| v * v).sum()));
    close(&out[6], &x);
}

#[test]
fn movement_trilu_split_resize_where() {
    let mut m = Model::new(18);
    m.input("x", &[1, 1, 3, 4]).init_i64("k", &[], &[1]).init_i64("sp", &[2], &[1, 3]);
    m.init("scales", &[4], &[1.0, 1.0, 2.0, 1.5]);
    m.node("Trilu", &["x", "k"], &["tu"], vec![]);
    m.node("Trilu", &["x"], &["tl"], vec![int("upper", 0)]);
    m.node("Split", &["x", "sp"], &["s0", "s1"], vec![int("axis", -1)]);
    m.node(
        "Resize",
        &["x", "", "scales"],
        &["rs"],
        vec![
            string("mode", "nearest"),
            string("nearest_mode", "floor"),
            string("coordinate_transformation_mode", "asymmetric"),
        ],
    );
    for o in ["tu", "tl", "s0", "s1", "rs"] {
        m.output(o);
    }
    let x: Vec<f64> = (0..12).map(|v| v as f64 / 4.0).collect();
    let (out, _) = assert_close(&m.bytes(), std::slice::from_ref(&x), TOL);
    let tri = |keep: &dyn Fn(i64, i64) -> bool| -> Vec<f64> {
        (0..12).map(|f| if keep((f / 4) as i64, (f % 4) as i64) { x[f] } else { 0.0 }).collect()
    };
    close(&out[0], &tri(&|i, j| j - i >= 1));
    close(&out[1], &tri(&|i, j| j - i <= 0));
    close(&out[2], &[x[0], x[4], x[8]]);
    close(&out[3], &[x[1], x[2], x[3], x[5], x[6], x[7], x[9], x[10], x[11]]);
    // 3x4 -> 6x6, asymmetric + floor: source (o / 2, floor(o / 1.5)).
    let rs: Vec<f64> = (0..36).map(|f| x[(f / 6) / 2 * 4 + ((f % 6) as f64 / 1.5).floor() as usize]).collect();
    close(&out[4], &rs);
    let mut m = Model::new(18);
    m.input("x", &[2, 2]).input("y", &[2, 2]).init("cond", &[2], &[1.0, 0.0]);
    m.node("Where", &["cond", "x", "y"], &["w"], vec![]).node("Greater", &["x", "y"], &["g"], vec![]);
    m.node("Where", &["g", "x", "y"], &["mx"], vec![]).output("w").output("mx");
    let (x, y) = (vec![1.0, -2.0, 0.5, 3.0], vec![0.0, 1.0, 1.5, -1.0]);
    let (out, _) = assert_close(&m.bytes(), &[x, y], TOL);
    close(&out[0], &[1.0, 1.0, 0.5, -1.0]);
    close(&out[1], &[1.0, 1.0, 1.5, 3.0]);
}

#[test]
fn comparisons_logic_and_argmax_are_exact() {
    let mut m = Model::new(13);
    m.input("a", &[2, 4]).input("b", &[4]);
    for (op, o) in [("Greater", "gt"), ("Less", "lt"), ("GreaterOrEqual", "ge"), ("LessOrEqual", "le"), ("Equal", "eq")]
    {
        m.node(op, &["a", "b"], &[o], vec![]);
    }
    m.node("Not", &["gt"], &["ngt"], vec![]).node("And", &["ge", "le"], &["and"], vec![]);
    m.node("Or", &["gt", "lt"], &["or"], vec![]).node("Xor", &["ge", "le"], &["xor"], vec![]);
    m.node("ArgMax", &["a"], &["am"], vec![int("axis", 1), int("keepdims", 0)]);
    m.node("ArgMax", &["a"], &["aml"], vec![int("axis", 1), int("select_last_index", 1)]);
    m.node("ArgMin", &["a"], &["ami"], vec![int("axis", 0)]);
    let outs = ["gt", "lt", "ge", "le", "eq", "ngt", "and", "or", "xor", "am", "aml", "ami"];
    for o in outs {
        m.output(o);
    }
    let a = vec![0.5, -1.0, 2.0, 2.0, 0.25, 0.25, -3.0, 1.0];
    let b = vec![0.25, -1.0, 3.0, 1.0];
    let (float, quant, _) = common::run_both(&m.bytes(), &[a.clone(), b.clone()]);
    let cmp = |f: &dyn Fn(f64, f64) -> bool| -> Vec<f64> { (0..8).map(|i| f(a[i], b[i % 4]) as i64 as f64).collect() };
    let expect = [
        cmp(&|x, y| x > y),
        cmp(&|x, y| x < y),
        cmp(&|x, y| x >= y),
        cmp(&|x, y| x <= y),
        cmp(&|x, y| x == y),
        cmp(&|x, y| x <= y),
        cmp(&|x, y| x == y),
        cmp(&|x, y| x != y),
        cmp(&|x, y| x != y),
        vec![2.0, 3.0],
        vec![3.0, 3.0],
        vec![1.0, 0.0, 1.0, 1.0],
    ];
    for (k, e) in expect.iter().enumerate() {
        assert_eq!(&float[k], e, "float {}", outs[k]);
        assert_eq!(&quant[k], e, "quantized {}", outs[k]);
    }
}

#[test]
fn unsupported_modes_name_the_attribute() {
    let mut m = Model::new(13);
    m.input("x", &[1, 1, 2, 2]).init("scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
    m.node("Resize", &["x", "", "scales"], &["y"], vec![string("mode", "linear")]).output("y");
    let err = compiler::float_reference(&m.bytes(), &[vec![0.0; 4]]).unwrap_err().to_string();
    assert!(err.contains("mode") && err.contains("linear"), "{err}");
    let mut m = Model::new(13);
    m.input("x", &[1, 1, 2, 2]).init("scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
    m.node("Resize", &["x", "", "scales"], &["y"], vec![string("coordinate_transformation_mode", "crop_and_resize")]);
    m.output("y");
    let err = compiler::float_reference(&m.bytes(), &[vec![0.0; 4]]).unwrap_err().to_string();
    assert!(err.contains("coordinate_transformation_mode"), "{err}");
    // A computed PRelu slope is unsupported (named), not a panic.
    let mut m = Model::new(13);
    m.input("x", &[2]).input("s", &[2]).node("PRelu", &["x", "s"], &["y"], vec![ints("unused", &[])]).output("y");
    let err = compiler::float_reference(&m.bytes(), &[vec![0.0; 2], vec![0.0; 2]]).unwrap_err().to_string();
    assert!(err.contains("PRelu"), "{err}");
}

#[test]
fn einsum_products_transposes_and_traces() {
    let mut m = Model::new(13);
    m.input("a", &[2, 3]).input("b", &[3, 2]).input("c", &[2, 2]).init(
        "w",
        &[3, 2],
        &[0.5, -1.0, 2.0, 0.25, -0.5, 1.5],
    );
    m.node("Einsum", &["a", "b"], &["ab"], vec![string("equation", "ij,jk->ik")]);
    m.node("Einsum", &["a", "w"], &["aw"], vec![string("equation", "ij,jk")]);
    m.node("Einsum", &["a"], &["at"], vec![string("equation", "ij->ji")]);
    m.node("Einsum", &["c"], &["tr"], vec![string("equation", "ii->")]);
    m.node("Einsum", &["c"], &["dg"], vec![string("equation", "ii->i")]);
    for o in ["ab", "aw", "at", "tr", "dg"] {
        m.output(o);
    }
    let (a, b, c) = (xs(6, 3, 1.0), xs(6, 4, 1.0), xs(4, 5, 1.0));
    let w = [0.5, -1.0, 2.0, 0.25, -0.5, 1.5];
    let (out, _) = assert_close(&m.bytes(), &[a.clone(), b.clone(), c.clone()], TOL);
    let mm = |x: &[f64], y: &[f64]| -> Vec<f64> {
        (0..2).flat_map(|i| (0..2).map(move |k| (0..3).map(|j| x[i * 3 + j] * y[j * 2 + k]).sum())).collect()
    };
    close(&out[0], &mm(&a, &b));
    close(&out[1], &mm(&a, &w));
    close(&out[2], &(0..3).flat_map(|j| (0..2).map(move |i| (i, j))).map(|(i, j)| a[i * 3 + j]).collect::<Vec<_>>());
    close(&out[3], &[c[0] + c[3]]);
    close(&out[4], &[c[0], c[3]]);
}

#[test]
fn top_k_values_and_indices_with_ties() {
    let mut m = Model::new(13);
    m.input("x", &[2, 5]).init_i64("k", &[1], &[3]);
    m.node("TopK", &["x", "k"], &["v", "i"], vec![]);
    m.node("TopK", &["x", "k"], &["sv", "si"], vec![int("largest", 0)]);
    for o in ["v", "i", "sv", "si"] {
        m.output(o);
    }
    let x = vec![0.5, -1.0, 2.0, 0.5, 1.25, 3.0, 3.0, -2.0, 0.0, 1.0];
    let (out, _) = assert_close(&m.bytes(), std::slice::from_ref(&x), TOL);
    close(&out[0], &[2.0, 1.25, 0.5, 3.0, 3.0, 1.0]);
    close(&out[1], &[2.0, 4.0, 0.0, 0.0, 1.0, 4.0]);
    close(&out[2], &[-1.0, 0.5, 0.5, -2.0, 0.0, 1.0]);
    close(&out[3], &[1.0, 0.0, 3.0, 2.0, 3.0, 4.0]);
}
