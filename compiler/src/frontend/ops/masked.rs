//! Softmax over a constant attention mask, structurally.
//!
//! Causal attention fills the masked scores with a very negative constant
//! before the softmax: `Where(mask, -inf | finfo.min | -1e4, x)` (nanoGPT's
//! `masked_fill`) or `x + mask` with a constant mask of 0 and such values
//! (HuggingFace's additive mask). In float the masked `exp` underflows to
//! exactly 0; in fixed point the constant cannot be represented (`-inf`,
//! `-3.4e38`) or eats the activation range (`-1e4`). When the softmax's
//! input is such a fill of a constant mask (read through Reshape aliases),
//! the softmax is taken over only the kept positions of each row: the max
//! and the sum run over the kept values, and the masked outputs are the
//! constant 0. The fill constant never becomes a value of the float graph
//! (the filled tensor is left without a consumer and dropped), so neither
//! the calibration ranges nor the table domains see it.
//!
//! A position is masked when its fill is at most [`MASK_FILL`]: then its
//! float `exp(fill + x - max)` is exactly 0 for any activation `|x|` below
//! a few hundred. A row with every position masked is refused (onnxruntime
//! gives NaN for `-inf` and a uniform row for finite fills, neither
//! meaningful attention).

use crate::error::Result;
use crate::frontend::func::Func;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId, Windows};
use crate::frontend::index::numel;
use crate::frontend::{Builder, NodeCtx};

/// Fill values at or below this mask their position.
pub const MASK_FILL: f64 = -1e3;

fn is_fill(v: f64) -> bool {
    v <= MASK_FILL
}

/// The kept values of a masked tensor, as a new node over the producer's
/// activation inputs, and per element the index into it (`None`: masked).
struct Kept {
    op: FOp,
    inputs: Vec<ValueId>,
    index: Vec<Option<u32>>,
}

/// Reads through Reshape aliases to the producer.
fn producer(b: &Builder, mut v: ValueId) -> ValueId {
    while let (FOp::Reshape, Some(&src)) = (&b.graph.nodes[v].op, b.graph.nodes[v].inputs.first()) {
        v = src;
    }
    v
}

/// `Where(constant mask, fill, x)` as the loader builds it: a gather from
/// `[x, fill]` (either order) whose constant-sourced elements are all fills.
fn where_fill(b: &Builder, map: &[u32], inputs: &[ValueId]) -> Option<Kept> {
    let mut offsets = Vec::with_capacity(inputs.len());
    let mut at = 0u32;
    for &i in inputs {
        offsets.push(at);
        at += numel(b.shape(i)) as u32;
    }
    let source = |c: u32| offsets.iter().rposition(|&o| o <= c);
    // New offsets over the activation inputs only.
    let mut new_offset = vec![None; inputs.len()];
    let mut kept_inputs = vec![];
    let mut at = 0u32;
    for (k, &i) in inputs.iter().enumerate() {
        if !b.is_const(i) {
            new_offset[k] = Some(at);
            kept_inputs.push(i);
            at += numel(b.shape(i)) as u32;
        }
    }
    let (mut kept_map, mut index, mut masked) = (vec![], vec![], 0usize);
    for &c in map {
        if c == ir::ZERO_SRC {
            return None;
        }
        let k = source(c)?;
        match b.konst(inputs[k]) {
            Some(t) => {
                if !is_fill(t.get_f64((c - offsets[k]) as usize)) {
                    return None;
                }
                index.push(None);
                masked += 1;
            }
            None => {
                index.push(Some(kept_map.len() as u32));
                kept_map.push(new_offset[k]? + c - offsets[k]);
            }
        }
    }
    (masked > 0 && !kept_inputs.is_empty()).then_some(Kept { op: FOp::Gather(kept_map), inputs: kept_inputs, index })
}

/// `x + mask` (any affine map) whose bias is a fill at the masked positions.
fn additive_fill(aff: &Affine, inputs: &[ValueId]) -> Option<Kept> {
    let mut kept = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    let mut index = Vec::with_capacity(aff.bias.len());
    for (o, &bias) in aff.bias.iter().enumerate() {
        if is_fill(bias) {
            index.push(None);
            continue;
        }
        index.push(Some(kept.bias.len() as u32));
        let r = aff.row(o);
        kept.cols.extend_from_slice(&aff.cols[r.clone()]);
        kept.weights.extend_from_slice(&aff.weights[r]);
        kept.row_ptr.push(kept.cols.len() as u32);
        kept.bias.push(bias);
    }
    let masked = index.iter().filter(|i| i.is_none()).count();
    (masked > 0 && !inputs.is_empty()).then(|| Kept { op: FOp::Affine(kept), inputs: inputs.to_vec(), index })
}

fn kept_values(b: &Builder, x: ValueId) -> Option<Kept> {
    let p = producer(b, x);
    let node = &b.graph.nodes[p];
    match &node.op {
        FOp::Gather(map) => where_fill(b, map, &node.inputs),
        FOp::Affine(aff) if node.inputs.iter().all(|&i| !b.is_const(i)) => additive_fill(aff, &node.inputs),
        _ => None,
    }
}

/// Softmax of `x` along `axis` when `x` is a constant-mask fill (see the
/// module doc); `None` leaves the plain decomposition to the caller.
pub fn masked_softmax(b: &mut Builder, ctx: &NodeCtx, x: ValueId, axis: usize) -> Result<Option<ValueId>> {
    let Some(kept) = kept_values(b, x) else {
        return Ok(None);
    };
    let shape = b.shape(x).to_vec();
    let d = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let rows = numel(&shape) / d.max(1);
    let row_of = |o: usize| (o / (d * inner)) * inner + o % inner;
    // Per kept value, its row; per row, its kept values.
    let mut kept_row = vec![];
    let mut windows: Vec<Vec<u32>> = vec![vec![]; rows];
    for (o, k) in kept.index.iter().enumerate() {
        if let Some(k) = k {
            kept_row.push(row_of(o) as u32);
            windows[row_of(o)].push(*k);
        }
    }
    if let Some(r) = windows.iter().position(|w| w.is_empty()) {
        return Err(ctx.shape_err(format!(
            "row {r} of the softmax input (shape {shape:?}, axis {axis}) is masked at every position: \
             its softmax is undefined (NaN in onnxruntime for a -inf fill)"
        )));
    }
    let n = kept_row.len();
    let z = b.push(ctx, &ctx.sub("kept"), kept.op, kept.inputs, vec![n])?;
    let mut w = Windows { row_ptr: vec![0], cols: vec![] };
    for win in &windows {
        w.cols.extend(win);
        w.row_ptr.push(w.cols.len() as u32);
    }
    let m = b.push(ctx, &ctx.sub("max"), FOp::Max(w), vec![z], vec![rows])?;
    // d = z - max(row), over [z, m].
    let shifted = Affine {
        row_ptr: (0..=n as u32).map(|k| 2 * k).collect(),
        cols: (0..n).flat_map(|k| [k as u32, n as u32 + kept_row[k]]).collect(),
        weights: (0..n).flat_map(|_| [1.0, -1.0]).collect(),
        bias: vec![0.0; n],
    };
    let dz = b.push(ctx, &ctx.sub("shifted"), FOp::Affine(shifted), vec![z, m], vec![n])?;
    let e = b.push(ctx, &ctx.sub("exp"), FOp::Func(Func::Exp), vec![dz], vec![n])?;
    let mut sum = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0.0; rows] };
    for win in &windows {
        sum.cols.extend(win);
        sum.weights.extend(std::iter::repeat_n(1.0, win.len()));
        sum.row_ptr.push(sum.cols.len() as u32);
    }
    let s = b.push(ctx, &ctx.sub("sum"), FOp::Affine(sum), vec![e], vec![rows])?;
    let r = b.push(ctx, &ctx.sub("reciprocal"), FOp::Func(Func::Reciprocal), vec![s], vec![rows])?;
    let mut terms = Terms::new();
    for (k, &row) in kept_row.iter().enumerate() {
        terms.a_idx.push(k as u32);
        terms.b_idx.push(row);
        terms.end_row();
    }
    let p = b.push(ctx, &ctx.sub("normalized"), FOp::Contract(Contract { terms, bias: None }), vec![e, r], vec![n])?;
    // Masked outputs are the constant 0.
    let map = kept.index.iter().map(|k| k.unwrap_or(ir::ZERO_SRC)).collect();
    Ok(Some(b.push(ctx, &ctx.name, FOp::Gather(map), vec![p], shape)?))
}
