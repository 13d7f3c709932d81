//! Each chip against `ir::eval` under MockProver, and each chip's
//! tampered-witness test, which must fail at the named constraint.

use std::sync::Arc;

use circuits::{plan, plan_with, Layout, ModelCircuit, Optimize, Tamper, TamperTarget};
use halo2_proofs::dev::{MockProver, VerifyFailure};
use ir::*;

const S: u32 = 4;

struct B {
    nodes: Vec<Node>,
    inputs: Vec<InputSpec>,
}

impl B {
    fn new() -> Self {
        B { nodes: vec![], inputs: vec![] }
    }
    fn push(&mut self, op: Op, shape: Vec<usize>) -> usize {
        self.nodes.push(Node { name: format!("n{}", self.nodes.len()), op, shape, scale: S });
        self.nodes.len() - 1
    }
    fn input(&mut self, shape: Vec<usize>) -> usize {
        let index = self.inputs.len();
        self.inputs.push(InputSpec { name: format!("in{index}"), shape: shape.clone(), bound: None, int_range: None });
        self.push(Op::Input { index }, shape)
    }
    fn program(self, outs: &[usize], input_vis: Visibility) -> Program {
        let outputs = outs
            .iter()
            .map(|&v| OutputSpec {
                name: format!("out{v}"),
                value: v,
                shape: self.nodes[v].shape.clone(),
                dequant: None,
            })
            .collect();
        let p = Program {
            format_version: FORMAT_VERSION,
            name: "test".into(),
            quant: QuantSettings { scale_bits: S, range_bits: 7 },
            inputs: self.inputs,
            nodes: self.nodes,
            outputs,
            input_visibility: input_vis,
            output_visibility: Visibility::Public,
            params: None,
        };
        p.validate().unwrap();
        p
    }
}

fn dense(inputs: Vec<usize>, n_in: usize, w: &[i64], bias: &[i64]) -> Op {
    let n_out = bias.len();
    let mut row_ptr = vec![0u32];
    let mut cols = vec![];
    let mut weights = vec![];
    for o in 0..n_out {
        for i in 0..n_in {
            cols.push(i as u32);
            weights.push(w[o * n_in + i]);
        }
        row_ptr.push(cols.len() as u32);
    }
    Op::Linear(LinearOp { inputs, row_ptr, cols, weights, bias: bias.to_vec(), params: None })
}

/// Both circuit layouts: limb lookups, and the gas layout's digit blocks.
const LAYOUTS: [Layout; 2] = [Layout::Limbs, Layout::Bits];

fn shape_in(layout: Layout, p: &Program) -> circuits::CostReport {
    let rep = plan_with(p, Optimize::Balanced, Some(layout)).unwrap();
    assert_eq!(rep.shape.bits.is_some(), layout == Layout::Bits);
    rep
}

/// `run_in` for each layout, with the failure text each must mention.
fn each_layout(needles: [&str; 2], mut f: impl FnMut(Layout) -> Result<(), Vec<VerifyFailure>>) {
    for (layout, needle) in LAYOUTS.into_iter().zip(needles) {
        let r = f(layout);
        if needle.is_empty() {
            r.unwrap_or_else(|e| panic!("{layout:?}: {e:#?}"));
        } else {
            assert_fails_with(r, needle);
        }
    }
}

fn run_in(
    layout: Layout,
    p: &Program,
    inputs: &[Vec<i64>],
    tamper: Vec<Tamper>,
    edit: impl FnOnce(&mut Trace),
) -> Result<(), Vec<VerifyFailure>> {
    let trace = eval(p, inputs).unwrap();
    let instances_honest = circuits::layout::instances(p, &trace);
    let mut trace = trace;
    edit(&mut trace);
    let report = shape_in(layout, p);
    let mut c = ModelCircuit::new(Arc::new(p.clone()), report.shape.clone(), Arc::new(trace));
    c.tamper = tamper;
    let prover = MockProver::run(report.shape.k, &c, vec![instances_honest]).unwrap();
    prover.verify()
}

fn assert_fails_with(r: Result<(), Vec<VerifyFailure>>, needle: &str) {
    let errs = r.expect_err("tampered witness must not verify");
    let text = format!("{errs:?}");
    assert!(text.contains(needle), "expected a failure mentioning {needle:?}, got {errs:#?}");
}

/// Input(6) -> Linear(3 outputs, 6 terms) -> Requant(relu)
fn mlp() -> (Program, Vec<Vec<i64>>, usize, usize) {
    let mut b = B::new();
    let x = b.input(vec![1, 6]);
    let w: Vec<i64> = (0..18).map(|i| (i % 7) - 3).collect();
    let l = b.push(dense(vec![x], 6, &w, &[5, -40, 100]), vec![1, 3]);
    let r = b.push(Op::Requant(RequantOp { input: l, shift: S, act: Activation::Relu }), vec![1, 3]);
    (b.program(&[r], Visibility::Private), vec![vec![10, -20, 30, 7, -8, 16]], l, r)
}

#[test]
fn linear_and_requant_match_eval() {
    let (p, inp, _, r) = mlp();
    let t = eval(&p, &inp).unwrap();
    assert!(
        t.values[r].contains(&0) && t.values[r].iter().any(|&v| v > 0),
        "exercise both relu branches: {:?}",
        t.values[r]
    );
    each_layout(["", ""], |l| run_in(l, &p, &inp, vec![], |_| {}));
}

#[test]
fn linear_tampered_output_fails() {
    let (p, inp, l, _) = mlp();
    let t = vec![Tamper { node: l, element: 1, target: TamperTarget::Output, delta: 1 }];
    each_layout(["linear", "linear"], |lay| run_in(lay, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn requant_dishonest_quotient_fails() {
    let (p, inp, _, r) = mlp();
    let t = vec![Tamper { node: r, element: 2, target: TamperTarget::Quotient, delta: 1 }];
    // Limbs: the remainder leaves its limb range; bits: a digit leaves 0..4.
    each_layout(["Lookup remainder limb 0", "bits: step"], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn relu_tampered_output_fails() {
    let (p, inp, _, r) = mlp();
    let trace = eval(&p, &inp).unwrap();
    let neg = trace.values[r].iter().position(|&v| v == 0).unwrap();
    // Pass the negative pre-activation through instead of 0.
    let t = vec![Tamper { node: r, element: neg, target: TamperTarget::Output, delta: -3 }];
    each_layout(["out = relu ? q*sign : q", "out = relu ? q*s : q"], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn relu_flipped_sign_fails() {
    let (p, inp, _, r) = mlp();
    let trace = eval(&p, &inp).unwrap();
    let neg = trace.values[r].iter().position(|&v| v == 0).unwrap();
    // Claim a negative pre-activation is positive (and output it).
    let q = {
        let l = &trace.values[1];
        ir::rescale(l[neg], S).0
    };
    let t = vec![
        Tamper { node: r, element: neg, target: TamperTarget::Sign, delta: 1 },
        Tamper { node: r, element: neg, target: TamperTarget::Output, delta: q },
    ];
    each_layout(["limb 0 (top limb of q) and sign", "bits: "], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn wrong_public_output_fails() {
    let (p, inp, _, _) = mlp();
    for layout in LAYOUTS {
        let trace = eval(&p, &inp).unwrap();
        let report = shape_in(layout, &p);
        let c = ModelCircuit::new(Arc::new(p.clone()), report.shape.clone(), Arc::new(trace));
        let mut inst = c.instances();
        inst[0] += circuits::fe(1);
        let prover = MockProver::run(report.shape.k, &c, vec![inst]).unwrap();
        assert!(prover.verify().is_err(), "{layout:?}");
    }
}

#[test]
fn input_out_of_range_is_rejected_by_eval_and_circuit() {
    let (p, _, _, _) = mlp();
    let big = vec![vec![10, -20, 30, 7, -8, 200]];
    assert!(matches!(eval(&p, &big), Err(IrError::OutOfRange { .. })));
    // A prover that skips the check: the input's range lookup fails.
    let ok = vec![vec![10, -20, 30, 7, -8, 16]];
    let mut trace = eval(&p, &ok).unwrap();
    trace.values[0][5] = 200;
    for layout in LAYOUTS {
        let report = shape_in(layout, &p);
        let c = ModelCircuit::new(Arc::new(p.clone()), report.shape.clone(), Arc::new(trace.clone()));
        let prover = MockProver::run(report.shape.k, &c, vec![c.instances()]).unwrap();
        assert!(prover.verify().is_err(), "{layout:?}");
    }
}

/// Input(2x3) -> Gather(transpose + zero pad) -> Max(windows) and Bilinear (x*x)
fn moves() -> (Program, Vec<Vec<i64>>, [usize; 5]) {
    let mut b = B::new();
    let x = b.input(vec![2, 3]);
    // transpose to 3x2 and append a zero: [x0, x3, x1, x4, x2, x5, 0]
    let g = b.push(Op::Gather(GatherOp { inputs: vec![x], map: vec![0, 3, 1, 4, 2, 5, ZERO_SRC] }), vec![7]);
    let m =
        b.push(Op::Max(MaxOp { input: g, row_ptr: vec![0, 2, 4, 7, 8], cols: vec![0, 1, 2, 3, 4, 5, 6, 6] }), vec![4]);
    let bl = b.push(
        Op::Bilinear(BilinearOp { a: x, b: g, row_ptr: vec![0, 1, 3, 4], pairs: vec![(0, 0), (1, 2), (2, 4), (5, 6)] }),
        vec![3],
    );
    let rq = b.push(Op::Requant(RequantOp { input: bl, shift: S, act: Activation::Identity }), vec![3]);
    let x2 = b.input(vec![2]);
    let sum = b.push(
        Op::Linear(LinearOp {
            inputs: vec![m, x2],
            row_ptr: vec![0, 2],
            cols: vec![0, 4],
            weights: vec![1, -1],
            bias: vec![0],
            params: None,
        }),
        vec![1],
    );
    (b.program(&[m, rq, sum], Visibility::Public), vec![vec![-5, 9, 3, 12, -7, 0], vec![4, -4]], [g, m, bl, rq, sum])
}

#[test]
fn gather_max_bilinear_match_eval() {
    let (p, inp, [_, m, bl, _, _]) = moves();
    let t = eval(&p, &inp).unwrap();
    assert_eq!(t.values[m], vec![12, 9, 3, 0]);
    assert_eq!(t.values[bl], vec![25, 9 * 9 + 3 * 3, 0]);
    each_layout(["", ""], |l| run_in(l, &p, &inp, vec![], |_| {}));
}

#[test]
fn max_tampered_output_fails() {
    let (p, inp, [_, m, ..]) = moves();
    // Claim the smaller candidate as the max.
    let t = vec![Tamper { node: m, element: 0, target: TamperTarget::Output, delta: -17 }];
    each_layout(["max: q = a - b", "bits max: "], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
    // ... and with the sign flipped to match the smaller candidate.
    let t = vec![
        Tamper { node: m, element: 0, target: TamperTarget::Output, delta: -17 },
        Tamper { node: m, element: 0, target: TamperTarget::Sign, delta: -1 },
    ];
    each_layout(["limb 0 (top limb of q) and sign", "bits"], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
    let t = vec![Tamper { node: m, element: 1, target: TamperTarget::Output, delta: 1 }];
    for l in LAYOUTS {
        assert!(run_in(l, &p, &inp, t.clone(), |_| {}).is_err(), "{l:?}");
    }
}

#[test]
fn bilinear_tampered_output_fails() {
    let (p, inp, [_, _, bl, ..]) = moves();
    let t = vec![Tamper { node: bl, element: 1, target: TamperTarget::Output, delta: 16 }];
    each_layout(["bilinear", "bilinear"], |l| run_in(l, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn gather_miswired_value_fails() {
    let (p, inp, [g, ..]) = moves();
    // The consumers read a value that is not the gathered input cell.
    let needle = "Equality constraint not satisfied";
    each_layout([needle, needle], |l| run_in(l, &p, &inp, vec![], |t| t.values[g][1] += 1));
}

#[test]
fn wrong_public_input_fails() {
    let (p, inp, _) = moves();
    for layout in LAYOUTS {
        let trace = eval(&p, &inp).unwrap();
        let report = shape_in(layout, &p);
        let c = ModelCircuit::new(Arc::new(p.clone()), report.shape.clone(), Arc::new(trace));
        let mut inst = c.instances();
        assert_eq!(inst.len(), 6 + 2 + 4 + 3 + 1);
        inst[2] += circuits::fe(1);
        let prover = MockProver::run(report.shape.k, &c, vec![inst]).unwrap();
        assert!(prover.verify().is_err(), "{layout:?}");
    }
}

#[test]
fn multi_limb_rescale_matches_eval_and_rejects_tamper() {
    let mut b = B::new();
    let x = b.input(vec![4]);
    // average-pool-like: weight m = round(2^(2S) / 3) over 3 elements, shift 2S
    let l = b.push(
        Op::Linear(LinearOp {
            inputs: vec![x],
            row_ptr: vec![0, 3, 4],
            cols: vec![0, 1, 2, 3],
            weights: vec![85, 85, 85, 256],
            bias: vec![0, 0],
            params: None,
        }),
        vec![2],
    );
    let r = b.push(Op::Requant(RequantOp { input: l, shift: 2 * S, act: Activation::Identity }), vec![2]);
    let p = b.program(&[r], Visibility::Private);
    let inp = vec![vec![30, -31, 50, -77]];
    let t = eval(&p, &inp).unwrap();
    assert_eq!(t.values[r], vec![16, -77]);
    each_layout(["", ""], |l| run_in(l, &p, &inp, vec![], |_| {}));
    let tm = vec![Tamper { node: r, element: 0, target: TamperTarget::Quotient, delta: -1 }];
    each_layout(["Lookup remainder limb", "bits: step"], |l| run_in(l, &p, &inp, tm.clone(), |_| {}));
}

#[test]
fn plan_reports_a_consistent_shape() {
    let (p, _, _, _) = mlp();
    let rep = plan(&p).unwrap();
    assert!(rep.rows <= rep.usable_rows && rep.table_rows <= rep.usable_rows);
    assert!(rep.candidates.iter().any(|c| c.lanes == rep.shape.lanes && c.k == rep.shape.k));
    // The memory model: every candidate carries a prediction; a bigger k
    // of the same constraint system predicts more.
    assert!(rep.prove_bytes > 0 && rep.candidates.iter().all(|c| c.prove_bytes > 0));
    let cs = {
        let mut cs = halo2_proofs::plonk::ConstraintSystem::default();
        let _ = ModelCircuit::configure_shape(&mut cs, &rep.shape);
        cs
    };
    assert_eq!(circuits::prove_bytes(&cs, rep.shape.k), rep.prove_bytes);
    assert!(circuits::prove_bytes(&cs, rep.shape.k + 1) > rep.prove_bytes);
}

#[test]
fn plan_limits_lanes_and_memory() {
    use circuits::{plan_limited, CircuitError, Limits};
    let (p, _, _, _) = mlp();
    // A forced lane count: only shapes of it.
    let rep = plan_limited(&p, Optimize::Balanced, None, &Limits { lanes: Some(8), ..Limits::default() }).unwrap();
    assert!(rep.shape.lanes == 8 && rep.candidates.iter().all(|c| c.lanes == 8), "{:?}", rep.candidates);
    assert!(plan_limited(&p, Optimize::Balanced, None, &Limits { lanes: Some(0), ..Limits::default() }).is_err());
    // A budget: the chosen shape fits it; the leanest shape's need, less
    // one byte, leaves nothing, which is OverMemory with that need.
    let all = plan(&p).unwrap();
    let leanest = all.candidates.iter().map(|c| c.prove_bytes).min().unwrap();
    let fit = Limits { max_prove_bytes: Some(leanest), ..Limits::default() };
    let rep = plan_limited(&p, Optimize::Balanced, None, &fit).unwrap();
    assert!(rep.prove_bytes <= leanest);
    let over = Limits { max_prove_bytes: Some(leanest - 1), ..Limits::default() };
    match plan_limited(&p, Optimize::Balanced, None, &over) {
        Err(CircuitError::OverMemory { need, budget, .. }) => assert!(need == leanest && budget == leanest - 1),
        other => panic!("{other:?}"),
    }
}

/// Input(5) -> Table f (x in [-8, 8), f = x^2 - 3) and Table g (same domain, g = -x).
fn tables() -> (Program, Vec<Vec<i64>>, [usize; 3]) {
    let mut b = B::new();
    let x = b.input(vec![5]);
    let f = b.push(Op::Table(TableOp { input: x, lo: -8, values: (-8..8).map(|v| v * v - 3).collect() }), vec![5]);
    let g = b.push(Op::Table(TableOp { input: x, lo: -8, values: (-8..8).map(|v| -v).collect() }), vec![5]);
    (b.program(&[f, g], Visibility::Private), vec![vec![-8, -1, 0, 3, 7]], [x, f, g])
}

#[test]
fn function_tables_match_eval() {
    let (p, inp, [_, f, g]) = tables();
    let t = eval(&p, &inp).unwrap();
    assert_eq!(t.values[f], vec![61, -2, -3, 6, 46]);
    assert_eq!(t.values[g], vec![8, 1, 0, -3, -7]);
    each_layout(["", ""], |l| run_in(l, &p, &inp, vec![], |_| {}));
}

#[test]
fn function_table_tampered_output_fails() {
    let (p, inp, [_, f, g]) = tables();
    let lookups = ["limb 0 (top limb of q) and sign, or function table", "function table (gas layout)"];
    // A value that is in no table row for this x.
    let t = vec![Tamper { node: f, element: 3, target: TamperTarget::Output, delta: 1 }];
    each_layout(lookups, |l| run_in(l, &p, &inp, t.clone(), |_| {}));
    // g's entry for x = 3 is -3; claiming f(3) = -3 takes the other table's row: the tags differ.
    let t = vec![Tamper { node: f, element: 3, target: TamperTarget::Output, delta: -9 }];
    each_layout(lookups, |l| run_in(l, &p, &inp, t.clone(), |_| {}));
    // And g(0) = -3 is f's row for x = 0.
    let t = vec![Tamper { node: g, element: 2, target: TamperTarget::Output, delta: -3 }];
    each_layout(lookups, |l| run_in(l, &p, &inp, t.clone(), |_| {}));
}

#[test]
fn function_table_input_outside_its_domain_fails() {
    let (p, _, [x, f, g]) = tables();
    // eval refuses it, naming the table.
    let err = eval(&p, &[vec![8, 0, 0, 0, 0]]).unwrap_err().to_string();
    assert!(err.contains("function table input"), "{err}");
    // A prover that skips that check: x = 8 has no table row, whatever the output.
    let inp = vec![vec![-8, -1, 0, 3, 7]];
    each_layout(["function table", "function table"], |l| {
        run_in(l, &p, &inp, vec![], |t| {
            t.values[x][4] = 8;
            t.values[f][4] = 61;
            t.values[g][4] = -8;
        })
    });
}

/// Input nums [6], input divisor [1] (scalar, broadcast) and an elementwise
/// divisor [6]: two `Div` nodes.
fn divisions() -> (Program, Vec<Vec<i64>>, [usize; 4]) {
    let mut b = B::new();
    let n = b.input(vec![6]);
    let d = b.input(vec![1]);
    let e = b.input(vec![6]);
    let q = b.push(Op::Div(DivOp { num: n, den: d }), vec![6]);
    let q2 = b.push(Op::Div(DivOp { num: n, den: e }), vec![6]);
    let inputs = vec![vec![100, -100, 7, -7, 0, 127], vec![7], vec![1, 3, 7, 100, 5, 127]];
    (b.program(&[q, q2], Visibility::Private), inputs, [n, d, q, q2])
}

#[test]
fn division_matches_eval() {
    let (p, inp, [_, _, q, q2]) = divisions();
    let t = eval(&p, &inp).unwrap();
    assert_eq!(t.values[q], vec![14, -15, 1, -1, 0, 18]);
    assert_eq!(t.values[q2], vec![100, -34, 1, -1, 0, 1]);
    run_in(Layout::Limbs, &p, &inp, vec![], |_| {}).unwrap();
    // Divisions use the limb lookups: even the gas goal plans the limb layout.
    let rep = circuits::plan_for(&p, Optimize::Gas).unwrap();
    assert!(rep.shape.div && rep.shape.bits.is_none(), "{:?}", rep.shape);
}

#[test]
fn division_tampered_quotient_or_remainder_fails() {
    let (p, inp, [_, _, q, q2]) = divisions();
    // Wrong output cell.
    let t = vec![Tamper { node: q, element: 0, target: TamperTarget::Output, delta: 1 }];
    assert_fails_with(run_in(Layout::Limbs, &p, &inp, t, |_| {}), "div");
    // Quotient one too large, remainder compensated: r < 0.
    let t = vec![Tamper { node: q, element: 1, target: TamperTarget::Quotient, delta: 1 }];
    assert_fails_with(run_in(Layout::Limbs, &p, &inp, t, |_| {}), "div");
    // Quotient one too small, remainder compensated: r >= den.
    let t = vec![Tamper { node: q2, element: 3, target: TamperTarget::Quotient, delta: -1 }];
    assert_fails_with(run_in(Layout::Limbs, &p, &inp, t, |_| {}), "div");
    // Remainder changed alone.
    let t = vec![Tamper { node: q, element: 2, target: TamperTarget::Remainder, delta: 1 }];
    assert_fails_with(run_in(Layout::Limbs, &p, &inp, t, |_| {}), "div");
    // r >= den claimed in range through a lying sign bit: the limb table refuses it.
    let t = vec![
        Tamper { node: q, element: 0, target: TamperTarget::Quotient, delta: 1 },
        Tamper { node: q, element: 0, target: TamperTarget::Sign, delta: 1 },
    ];
    assert_fails_with(run_in(Layout::Limbs, &p, &inp, t, |_| {}), "limb 0");
}

#[test]
fn division_by_non_positive_is_rejected_by_eval_and_circuit() {
    let (p, mut inp, [_, d, q, _]) = divisions();
    inp[1] = vec![0];
    let err = eval(&p, &inp).unwrap_err().to_string();
    assert!(err.contains("divisor"), "{err}");
    inp[1] = vec![-3];
    assert!(eval(&p, &inp).unwrap_err().to_string().contains("divisor"));
    // A prover that skips the check: no (q, r) satisfies 0 <= r < den <= 0.
    let honest = vec![vec![100, -100, 7, -7, 0, 127], vec![7], vec![1, 3, 7, 100, 5, 127]];
    for (den, quot) in [(0, 0), (-3, -5)] {
        let r = run_in(Layout::Limbs, &p, &honest, vec![], |t| {
            t.values[d][0] = den;
            t.values[q] = vec![quot; 6];
        });
        assert_fails_with(r, "div");
    }
}
