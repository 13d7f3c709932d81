//! Soundness audit: for small valid programs that together use every chip,
//! in each layout, the honest witness must verify; then, for every class of
//! witness cell (op kind x advice column, plus the cells outside the nodes:
//! zero cell, parameters, the constant 1, hashes), a few cells of the class
//! (the first, the last and three picked by a seeded generator) are changed
//! one at a time, by +1 and by -2^40, with every other cell honest
//! (`TamperTarget::Cell`, `circuits::audit`), and MockProver must reject
//! each change.
//!
//! The only accepted changes allowed are of padding cells (`Ctx::pad`) in
//! the classes of [`ALLOWED`], each with the reason no constraint depends on
//! it; and for those, changing all of a run's allowed padding cells at
//! once must verify too (else some constraint reads them together, and a
//! cheating prover could pick values that pay off: a soundness bug).
//!
//! Prints the table (class -> mutations tried -> rejected) copied into
//! docs/NOTES.md, "Soundness audit":
//! `cargo test -p circuits --profile test --test audit -- --nocapture`.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use circuits::{audit::AuditCell, plan_with, Layout, ModelCircuit, Optimize, Tamper, TamperTarget};
use halo2_proofs::dev::MockProver;
use ir::*;

const S: u32 = 4;

/// Deltas each sampled cell is changed by.
const DELTAS: [i64; 2] = [1, -(1 << 40)];

/// Padding classes (op kind or non-node part, column) whose single-cell
/// changes are accepted, and why that is harmless. Only cells the chips
/// assign with `Ctx::pad` (or the Poseidon chip's padding message cells)
/// qualify; any other accepted change fails the test.
const ALLOWED: &[(&str, &str, &str)] = &[
    ("linear", "x[", "an unused lane: its weight (fixed `w`) is 0, so it adds x*0"),
    ("bilinear", "b[", "an unused lane: its x is copied from the zero cell, so it adds 0*b"),
    ("param_linear", "b[", "an unused lane: its x is copied from the zero cell, so it adds 0*b"),
    ("input", "x[2]", "limb layout: a requant row's x[2] (max's b) is read by no enabled gate"),
    ("requant", "x[2]", "limb layout: a requant row's x[2] (max's b) is read by no enabled gate"),
    ("input", "x[0]", "gas layout: x[0] above a digit block's last two rows is read by no gate"),
    ("requant", "x[0]", "gas layout: x[0] above a digit block's last two rows is read by no gate"),
    ("max", "x[0]", "gas layout: x[0] above a digit block's last three rows is read by no gate"),
    ("table", "x[3]", "limb layout: read by the shared limb lookup only times the range selector, off on table rows"),
    ("table", "x[4]", "limb layout: read by the shared limb lookup only times the range selector, off on table rows"),
    ("div", "x[0]", "a division's remainder rows: its gate and the range gate read only x[1], x[3] and limbs there"),
    ("div", "x[2]", "a division's remainder rows: its gate and the range gate read only x[1], x[3] and limbs there"),
    ("div", "acc", "a division's remainder rows: its gate and the range gate read only x[1], x[3] and limbs there"),
    ("zero cell", "", "gas layout: row 0 is a filler (read as acc[0] times cont = 0), row 1's lanes weigh 0"),
    (
        "weight marker",
        "pw[",
        "polycommit: row 0 of a committed weight column is 1 so no commitment is the point at infinity; no gate \
         reads it, and the column's commitment (checked against the approved one) binds it",
    ),
    ("params hash", "x[4]", "an odd message's last absorption cell: the absorb gate multiplies it by a fixed 0"),
    ("input hash", "x[4]", "an odd message's last absorption cell: the absorb gate multiplies it by a fixed 0"),
    ("output hash", "x[4]", "an odd message's last absorption cell: the absorb gate multiplies it by a fixed 0"),
];

fn allowed(cell: &AuditCell) -> Option<&'static str> {
    if !cell.padding {
        return None;
    }
    ALLOWED.iter().find(|(class, col, _)| *class == cell.site.class && cell.column.starts_with(col)).map(|e| e.2)
}

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
    fn program(self, outs: &[usize], vis: (Visibility, Visibility), params: Option<ParamSet>) -> Program {
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
            name: "audit".into(),
            quant: QuantSettings { scale_bits: S, range_bits: 7 },
            inputs: self.inputs,
            nodes: self.nodes,
            outputs,
            input_visibility: vis.0,
            output_visibility: vis.1,
            params,
        };
        p.validate().unwrap();
        p
    }
}

fn dense(inputs: Vec<usize>, n_in: usize, w: &[i64], bias: &[i64]) -> LinearOp {
    let mut row_ptr = vec![0u32];
    let mut cols = vec![];
    let mut weights = vec![];
    for o in 0..bias.len() {
        for i in 0..n_in {
            cols.push(i as u32);
            weights.push(w[o * n_in + i]);
        }
        row_ptr.push(cols.len() as u32);
    }
    LinearOp { inputs, row_ptr, cols, weights, bias: bias.to_vec(), params: None }
}

const PRIVATE: (Visibility, Visibility) = (Visibility::Private, Visibility::Public);

/// Input(6) -> Linear(3 outputs) -> Requant(relu).
fn mlp() -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let x = b.input(vec![1, 6]);
    let w: Vec<i64> = (0..18).map(|i| (i % 7) - 3).collect();
    let l = b.push(Op::Linear(dense(vec![x], 6, &w, &[5, -40, 100])), vec![1, 3]);
    let r = b.push(Op::Requant(RequantOp { input: l, shift: S, act: Activation::Relu }), vec![1, 3]);
    (b.program(&[r], PRIVATE, None), vec![vec![10, -20, 30, 7, -8, 16]])
}

/// Gather (transpose, zero pad) -> Max windows and Bilinear; a two-input
/// Linear; public inputs.
fn moves() -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let x = b.input(vec![2, 3]);
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
    let vis = (Visibility::Public, Visibility::Public);
    (b.program(&[m, rq, sum], vis, None), vec![vec![-5, 9, 3, 12, -7, 0], vec![4, -4]])
}

/// A rescale by 2S (two remainder limbs at small limb widths).
fn multi_limb() -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let x = b.input(vec![4]);
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
    (b.program(&[r], PRIVATE, None), vec![vec![30, -31, 50, -77]])
}

/// Two function tables on one input.
fn tables() -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let x = b.input(vec![5]);
    let f = b.push(Op::Table(TableOp { input: x, lo: -8, values: (-8..8).map(|v| v * v - 3).collect() }), vec![5]);
    let g = b.push(Op::Table(TableOp { input: x, lo: -8, values: (-8..8).map(|v| -v).collect() }), vec![5]);
    (b.program(&[f, g], PRIVATE, None), vec![vec![-8, -1, 0, 3, 7]])
}

/// Division by a broadcast scalar and by an elementwise divisor.
fn divisions() -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let n = b.input(vec![3]);
    let d = b.input(vec![1]);
    let e = b.input(vec![3]);
    let q = b.push(Op::Div(DivOp { num: n, den: d }), vec![3]);
    let q2 = b.push(Op::Div(DivOp { num: n, den: e }), vec![3]);
    (b.program(&[q, q2], PRIVATE, None), vec![vec![100, -100, 7], vec![7], vec![1, 3, 100]])
}

/// Input(3) -> Linear with witness weights and biases -> Requant(relu);
/// `vis` the parameters' visibility, `io` the input's and output's.
fn params(vis: Visibility, io: (Visibility, Visibility)) -> (Program, Vec<Vec<i64>>) {
    let mut b = B::new();
    let x = b.input(vec![3]);
    let (w, bias) = ([3i64, -2, 0, 1, 5, -4], [7i64, -9]);
    let mut op = dense(vec![x], 3, &w, &bias);
    // Slots: the weights (a zero one kept), then the biases.
    let mut values: Vec<i64> = w.to_vec();
    values.extend(bias);
    op.params = Some(ParamRefs { weights: (0..6).collect(), bias: vec![6, 7] });
    let l = b.push(Op::Linear(op), vec![2]);
    let r = b.push(Op::Requant(RequantOp { input: l, shift: 2, act: Activation::Relu }), vec![2]);
    let slots = (0..values.len())
        .map(|i| ParamSlot { tensor: if i < 6 { "w".into() } else { "b".into() }, index: i as u32, bits: S })
        .collect();
    let plan =
        RelowerPlan { per_tensor: true, weight_bits: S, layer_scales: vec![], ranges: vec![], calibrated: vec![] };
    let ps = ParamSet { visibility: vis, slots, values, plan };
    (b.program(&[r], io, Some(ps)), vec![vec![10, -20, 30]])
}

/// Per class: cells in the class, mutations tried, rejected, accepted
/// (allowed padding) and accepted elsewhere (findings, with a location).
#[derive(Default)]
struct Tally {
    cells: usize,
    tried: usize,
    rejected: usize,
    allowed: usize,
    findings: Vec<String>,
}

/// (name, (program, inputs), layouts to audit it in).
type Case = (&'static str, (Program, Vec<Vec<i64>>), &'static [Layout]);

type Key = (&'static str, &'static str, String, bool);

fn layout_name(l: Layout) -> &'static str {
    match l {
        Layout::Limbs => "limbs",
        Layout::Bits => "gas",
    }
}

fn circuit(p: &Program, inputs: &[Vec<i64>], layout: Layout) -> (ModelCircuit, u32, Vec<circuits::Fr>) {
    let trace = eval(p, inputs).unwrap();
    let rep = plan_with(p, Optimize::Balanced, Some(layout)).unwrap();
    assert_eq!(rep.shape.bits.is_some(), layout == Layout::Bits);
    let c = ModelCircuit::new(Arc::new(p.clone()), rep.shape.clone(), Arc::new(trace));
    let inst = c.instances();
    (c, rep.shape.k, inst)
}

fn verifies(c: &ModelCircuit, k: u32, inst: &[circuits::Fr], tamper: Vec<Tamper>) -> bool {
    let mut c = c.clone();
    c.tamper = tamper;
    MockProver::run(k, &c, vec![inst.to_vec()]).unwrap().verify().is_ok()
}

fn cell_tamper(index: usize, delta: i64) -> Tamper {
    Tamper { node: usize::MAX, element: index, target: TamperTarget::Cell, delta }
}

/// First, last and three seeded picks of `n` indices.
fn sample(n: usize, seed: u64) -> Vec<usize> {
    let mut x = seed;
    let mut v = vec![0, n - 1];
    for _ in 0..3 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.push(((x >> 33) % n as u64) as usize);
    }
    v.sort_unstable();
    v.dedup();
    v
}

fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

fn audit_one(
    name: &'static str,
    (p, inputs): &(Program, Vec<Vec<i64>>),
    layout: Layout,
    table: &mut BTreeMap<Key, Tally>,
    joint_failures: &mut Vec<String>,
) {
    let (mut c, k, inst) = circuit(p, inputs, layout);
    let log = Arc::new(Mutex::new(vec![]));
    c.audit_log = Some(log.clone());
    let honest = MockProver::run(k, &c, vec![inst.clone()]).unwrap();
    honest.verify().unwrap_or_else(|e| panic!("{name} {layout:?}: honest witness fails: {e:#?}"));
    c.audit_log = None;
    let cells: Vec<AuditCell> = std::mem::take(&mut *log.lock().unwrap());
    assert!(!cells.is_empty() && cells.iter().enumerate().all(|(i, c)| c.index == i), "{name}: the log is in order");
    let lay = layout_name(layout);
    let mut classes: BTreeMap<(&'static str, String, bool), Vec<&AuditCell>> = BTreeMap::new();
    for cell in &cells {
        classes.entry((cell.site.class, cell.column.clone(), cell.padding)).or_default().push(cell);
    }
    for ((class, column, padding), members) in &classes {
        let tally = table.entry((lay, class, column.clone(), *padding)).or_default();
        tally.cells += members.len();
        for i in sample(members.len(), seed_of(&format!("{name}{lay}{class}{column}"))) {
            let cell = members[i];
            for delta in DELTAS {
                tally.tried += 1;
                if !verifies(&c, k, &inst, vec![cell_tamper(cell.index, delta)]) {
                    tally.rejected += 1;
                } else if allowed(cell).is_some() {
                    tally.allowed += 1;
                } else {
                    tally.findings.push(format!(
                        "{name}: cell #{} ({class}, node {:?}, {column}, row {}) + {delta} accepted",
                        cell.index, cell.site.node, cell.row
                    ));
                }
            }
        }
    }
    // The allowed padding cells, all at once: still accepted, or some
    // constraint reads them together.
    let pads: Vec<usize> = cells.iter().filter(|c| allowed(c).is_some()).map(|c| c.index).collect();
    if !pads.is_empty() {
        for delta in DELTAS {
            if !verifies(&c, k, &inst, pads.iter().map(|&i| cell_tamper(i, delta)).collect()) {
                joint_failures
                    .push(format!("{name} ({lay}): the {} allowed padding cells + {delta} together", pads.len()));
            }
        }
    }
}

#[test]
fn every_class_of_witness_cell_is_checked() {
    let start = std::time::Instant::now();
    const BOTH: &[Layout] = &[Layout::Limbs, Layout::Bits];
    const LIMBS: &[Layout] = &[Layout::Limbs];
    let hashed = (Visibility::Hashed, Visibility::Hashed);
    let cases: Vec<Case> = vec![
        ("mlp", mlp(), BOTH),
        ("moves", moves(), BOTH),
        ("multi-limb", multi_limb(), BOTH),
        ("tables", tables(), BOTH),
        ("divisions", divisions(), LIMBS),
        ("params private", params(Visibility::Private, PRIVATE), LIMBS),
        ("params hashed", params(Visibility::Hashed, hashed), LIMBS),
        ("params polycommit", params(Visibility::Polycommit, PRIVATE), LIMBS),
    ];
    let mut table: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut joint = vec![];
    for (name, case, layouts) in &cases {
        for &layout in *layouts {
            audit_one(name, case, layout, &mut table, &mut joint);
        }
    }
    // Every op kind and non-node part has cells (gather has none: wiring).
    for class in [
        "input",
        "linear",
        "param_linear",
        "bilinear",
        "requant",
        "max",
        "table",
        "div",
        "zero cell",
        "params",
        "params hash",
        "weight marker",
        "one",
        "input hash",
        "output hash",
    ] {
        assert!(table.keys().any(|k| k.1 == class), "no cells of class {class}");
    }

    println!("\n| layout | class | column | cells | mutations tried | rejected | accepted, allow-listed |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let (mut tried, mut rejected, mut allowed_n) = (0, 0, 0);
    let mut reasons: Vec<(String, &'static str)> = vec![];
    let mut findings = vec![];
    for ((lay, class, column, padding), t) in &table {
        let col = if *padding { format!("{column} (padding)") } else { column.clone() };
        let ok = if t.allowed > 0 { format!("{} ¹", t.allowed) } else { String::new() };
        println!("| {lay} | {class} | {col} | {} | {} | {} | {ok} |", t.cells, t.tried, t.rejected);
        tried += t.tried;
        rejected += t.rejected;
        allowed_n += t.allowed;
        if t.allowed > 0 {
            let why = ALLOWED.iter().find(|e| e.0 == *class && column.starts_with(e.1)).map_or("", |e| e.2);
            reasons.push((format!("{lay} / {class} / {column}"), why));
        }
        findings.extend(t.findings.iter().cloned());
    }
    println!("\n{tried} mutations, {rejected} rejected, {allowed_n} accepted on allow-listed padding cells.");
    if !reasons.is_empty() {
        println!("\n¹ Accepted, harmless (allow-list, `ALLOWED` in circuits/tests/audit.rs):");
        for (at, why) in &reasons {
            println!("- {at}: {why}");
        }
    }
    println!("\n({:.1} s)", start.elapsed().as_secs_f64());
    assert!(
        findings.is_empty(),
        "SOUNDNESS: accepted mutations of cells that are not allow-listed padding:\n{}",
        findings.join("\n")
    );
    assert!(joint.is_empty(), "allowed padding cells are read by some constraint:\n{}", joint.join("\n"));
}

/// The attack the audit found (the fix: an unused lane's x is copied from
/// the zero cell): on a dot-product row with an unused lane, set that
/// lane's x to 1 and its b to 5, and add 5 to the row's sum. Every gate
/// holds; only the copy of x from the zero cell refuses it. The op's
/// output is private and unused, so nothing else notices.
#[test]
fn unused_product_lanes_cannot_add_a_product() {
    let private = (Visibility::Private, Visibility::Private);
    let mut b = B::new();
    let x = b.input(vec![2]);
    let bl = b.push(Op::Bilinear(BilinearOp { a: x, b: x, row_ptr: vec![0, 2], pairs: vec![(0, 0), (1, 1)] }), vec![1]);
    let bilinear = (b.program(&[bl], private, None), vec![vec![3, -4]]);
    let (mut p, inp) = params(Visibility::Private, private);
    // One term and the bias per output: a lane to spare at 3 lanes.
    if let Op::Linear(l) = &mut p.nodes[1].op {
        l.row_ptr = vec![0, 1, 2];
        l.cols = vec![0, 1];
        l.weights = vec![3, 1];
        l.params = Some(ParamRefs { weights: vec![0, 3], bias: vec![6, 7] });
    }
    p.validate().unwrap();
    for (name, (p, inp), class) in [("bilinear", bilinear, "bilinear"), ("param_linear", (p, inp), "param_linear")] {
        let (mut c, k, inst) = circuit(&p, &inp, Layout::Limbs);
        let log = Arc::new(Mutex::new(vec![]));
        c.audit_log = Some(log.clone());
        assert!(verifies(&c, k, &inst, vec![]), "{name}: honest");
        c.audit_log = None;
        let cells = std::mem::take(&mut *log.lock().unwrap());
        let at = |row: usize, col: &str| {
            cells.iter().find(|c| c.site.class == class && c.row == row && c.column == col).map(|c| c.index)
        };
        let pad_b = cells
            .iter()
            .find(|c| c.site.class == class && c.padding && c.column.starts_with("b["))
            .unwrap_or_else(|| panic!("{name}: a row with an unused lane"));
        let lane = pad_b.column.trim_start_matches("b[").trim_end_matches(']');
        let (xi, acc) = (at(pad_b.row, &format!("x[{lane}]")).unwrap(), at(pad_b.row, "acc").unwrap());
        let attack = vec![cell_tamper(xi, 1), cell_tamper(pad_b.index, 5), cell_tamper(acc, 5)];
        assert!(!verifies(&c, k, &inst, attack), "{name}: an unused lane added a product to the sum");
    }
}
