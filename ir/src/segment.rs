//! Cutting a program into segments (issue 14): consecutive node ranges,
//! each its own program, bound to each other by commitments.
//!
//! A cut at node `c` has the boundary `B(c)`: the values computed before `c`
//! that a node at or after `c` reads, or that are model outputs, in value
//! order. Segment `k` (nodes `cuts[k-1]..cuts[k]`) reads `B(cuts[k-1])` as
//! its inputs (one `Input` node each, at the value's scale) and publishes
//! `B(cuts[k])` as its outputs, so segment `k`'s outputs are segment
//! `k+1`'s inputs, in the same order. A value computed in segment 0 and read
//! in segment 2 crosses segment 1 as an input and an output.
//!
//! Every segment but the first hashes its inputs and every segment but the
//! last hashes its outputs (`Visibility::Hashed`, Poseidon over the
//! concatenation): `out_commit(k) == in_commit(k+1)` is an equality of two
//! public instances, which binds the proofs into one statement about the
//! whole model.
//!
//! A segment's `Input` nodes range-check their values to the activation
//! range, so a boundary may only hold values already inside it
//! ([`range_safe`]: inputs, requants, max windows, divisions and gathers of
//! those); an accumulator before its requant is not a valid boundary.

use crate::{
    error::IrError,
    op::{Op, ZERO_SRC},
    program::{InputSpec, Node, OutputSpec, Program, ValueId, Visibility},
};

/// One segment of a split program.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub program: Program,
    /// The whole program's nodes this segment computes.
    pub nodes: std::ops::Range<usize>,
    /// The whole program's values this segment reads as inputs (empty for
    /// the first: it reads the model's inputs).
    pub inputs: Vec<ValueId>,
    /// The whole program's values this segment publishes (the model's
    /// outputs for the last).
    pub outputs: Vec<ValueId>,
}

/// Values before `cut` read at or after it, or listed as model outputs.
pub fn boundary(p: &Program, cut: usize) -> Vec<ValueId> {
    let mut live = vec![false; cut.min(p.nodes.len())];
    for node in p.nodes.iter().skip(cut) {
        for v in node.op.inputs() {
            if v < live.len() {
                live[v] = true;
            }
        }
    }
    for o in &p.outputs {
        if o.value < live.len() {
            live[o.value] = true;
        }
    }
    live.iter().enumerate().filter(|(_, &l)| l).map(|(v, _)| v).collect()
}

/// Which values may sit on a boundary: those a segment can read through a
/// range-checked `Input` node. Inside the activation range by construction:
/// inputs, requants, divisions, max windows and gathers of such values, and
/// tables whose every entry is in range. Also accepted: affine maps at
/// their inputs' scale (a residual `x + f(x)`, a bias add): activation-scale
/// values, which calibration sized the activation range for, but which an
/// input far outside the calibrated data could push out of it; then
/// proving fails before any proof, naming the segment and node (the extra
/// check only restricts what proves: the segments stay as sound as the
/// whole). Accumulators (a product's output at the sum of its operands'
/// scales) are never boundaries.
pub fn range_safe(p: &Program) -> Vec<bool> {
    let (lo, hi) = p.quant.act_bounds();
    let mut safe: Vec<bool> = Vec::with_capacity(p.nodes.len());
    for node in &p.nodes {
        let s = match &node.op {
            Op::Input { index } => p.inputs.get(*index).is_some_and(|i| i.int_range.is_none()),
            Op::Requant(_) | Op::Div(_) => true,
            Op::Max(m) => safe[m.input],
            Op::Gather(g) => {
                let src: Vec<bool> = g.inputs.iter().flat_map(|&v| vec![safe[v]; p.nodes[v].len()]).collect();
                g.map.iter().all(|&c| c == ZERO_SRC || src.get(c as usize).copied().unwrap_or(false))
            }
            Op::Table(t) => t.values.iter().all(|&v| (lo..=hi).contains(&v)),
            Op::Linear(l) => !l.inputs.is_empty() && l.inputs.iter().all(|&v| p.nodes[v].scale == node.scale),
            Op::Bilinear(_) => false,
        };
        safe.push(s);
    }
    safe
}

/// Whether `cut` is a valid cut: inside the program, with a range-safe boundary.
pub fn is_valid_cut(p: &Program, safe: &[bool], cut: usize) -> bool {
    cut > 0 && cut < p.nodes.len() && boundary(p, cut).iter().all(|&v| safe[v])
}

fn remap(op: &mut Op, map: &[usize]) {
    let m = |v: &mut ValueId| *v = map[*v];
    match op {
        Op::Input { .. } => {}
        Op::Linear(l) => l.inputs.iter_mut().for_each(m),
        Op::Bilinear(b) => {
            m(&mut b.a);
            m(&mut b.b);
        }
        Op::Requant(r) => m(&mut r.input),
        Op::Max(x) => m(&mut x.input),
        Op::Gather(g) => g.inputs.iter_mut().for_each(m),
        Op::Table(t) => m(&mut t.input),
        Op::Div(d) => {
            m(&mut d.num);
            m(&mut d.den);
        }
    }
}

/// Splits `p` at `cuts` (strictly increasing node indices, each a valid
/// cut) into `cuts.len() + 1` segments. Witness parameters are not
/// supported yet (a clear error): segment the fixed-parameter program.
pub fn split(p: &Program, cuts: &[usize]) -> Result<Vec<Segment>, IrError> {
    let bad = |node: usize, reason: String| IrError::Malformed {
        node,
        name: p.nodes.get(node).map_or_else(|| p.name.clone(), |n| n.name.clone()),
        reason,
    };
    if p.params.is_some() {
        return Err(bad(
            0,
            "segments of a program with witness parameters are not supported yet (compile with \
                            --param-visibility fixed)"
                .into(),
        ));
    }
    let safe = range_safe(p);
    for (i, &c) in cuts.iter().enumerate() {
        if i > 0 && c <= cuts[i - 1] {
            return Err(bad(c, format!("cuts must be strictly increasing: {cuts:?}")));
        }
        if !is_valid_cut(p, &safe, c) {
            let unsafe_v: Vec<usize> =
                boundary(p, c).into_iter().filter(|&v| !safe.get(v).copied().unwrap_or(false)).collect();
            return Err(bad(
                c,
                format!("not a valid cut: the boundary holds values outside the activation range ({unsafe_v:?})"),
            ));
        }
    }
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(p.nodes.len());
    let n_seg = bounds.len() - 1;
    let mut out = Vec::with_capacity(n_seg);
    for k in 0..n_seg {
        let (a, b) = (bounds[k], bounds[k + 1]);
        let last = k + 1 == n_seg;
        let ins = if k == 0 { vec![] } else { boundary(p, a) };
        let outs: Vec<ValueId> = if last { p.outputs.iter().map(|o| o.value).collect() } else { boundary(p, b) };
        let mut map = vec![usize::MAX; p.nodes.len()];
        let mut nodes = Vec::with_capacity(ins.len() + b - a);
        for (j, &v) in ins.iter().enumerate() {
            let src = &p.nodes[v];
            map[v] = nodes.len();
            nodes.push(Node {
                name: src.name.clone(),
                op: Op::Input { index: j },
                shape: src.shape.clone(),
                scale: src.scale,
            });
        }
        for i in a..b {
            let mut node = p.nodes[i].clone();
            if node.op.inputs().iter().any(|&v| map[v] == usize::MAX) {
                return Err(bad(i, "reads a value that is neither in its segment nor on its boundary".into()));
            }
            remap(&mut node.op, &map);
            map[i] = nodes.len();
            nodes.push(node);
        }
        let inputs = if k == 0 {
            p.inputs.clone()
        } else {
            ins.iter()
                .map(|&v| InputSpec {
                    name: p.nodes[v].name.clone(),
                    shape: p.nodes[v].shape.clone(),
                    bound: None,
                    int_range: None,
                })
                .collect()
        };
        let outputs = if last {
            p.outputs.iter().map(|o| OutputSpec { value: map[o.value], ..o.clone() }).collect()
        } else {
            outs.iter()
                .map(|&v| OutputSpec {
                    name: p.nodes[v].name.clone(),
                    value: map[v],
                    shape: p.nodes[v].shape.clone(),
                    dequant: None,
                })
                .collect()
        };
        let program = Program {
            format_version: p.format_version,
            name: format!("{}.segment{k}", p.name),
            quant: p.quant,
            inputs,
            nodes,
            outputs,
            input_visibility: if k == 0 { p.input_visibility } else { Visibility::Hashed },
            output_visibility: if last { p.output_visibility } else { Visibility::Hashed },
            params: None,
        };
        program.validate()?;
        out.push(Segment { program, nodes: a..b, inputs: ins, outputs: outs });
    }
    Ok(out)
}
