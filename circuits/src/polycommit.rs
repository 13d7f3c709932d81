//! Committed weights (`--param-visibility polycommit`, EZKL's name): the
//! weight lanes of every witness-parameter dot product live in their own
//! advice columns ([`Columns::pw`](crate::columns::Columns)), which the
//! prover leaves unblinded (`prover::polycommit`), so each column's KZG
//! commitment in the proof is `sum_i v_i [L_i(tau)]` of values that depend
//! only on the weights and the architecture. Anyone holding the SRS computes
//! the same points from the weights ([`weight_columns`] lays them out exactly
//! as synthesis does); the chain compares `keccak256` of the points read
//! from the proof with an approved value. The commitment costs `lanes`
//! columns and no rows (a Poseidon hash costs ~8 rows per weight).
//!
//! Binding: KZG commitments are binding, so a proof whose weight columns
//! commit to the approved points used exactly the approved weights in every
//! dot product (no copy constraints are needed: every use is committed).
//! Privacy: an unblinded column is opened at the challenge point in every
//! proof, so each proof reveals `lanes` random linear combinations of the
//! weight layout; after about as many proofs as weights divided by lanes
//! the weights are recoverable. Use it for public (auditable) models; keep
//! `hashed` for weights that must stay secret.

use halo2_proofs::plonk::ConstraintSystem;
use ir::{Op, Program};

use crate::{
    columns::MIN_LANES,
    field::{fe, Fr},
    layout,
    shape::CircuitShape,
};

/// Row 0 of every weight column holds 1 (row 0 is the zero cell's row, where
/// no committed dot product sits), so no column's commitment is the point at
/// infinity, which a proof cannot encode.
pub const MARKER_ROW: usize = 0;

/// The advice column indices of the committed weight columns, in order (the
/// order of their commitments in the proof, after the columns before them).
pub fn column_indices(shape: &CircuitShape) -> Vec<usize> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let cfg = crate::circuit::ModelCircuit::configure_shape(&mut cs, shape);
    cfg.cols.pw.iter().map(|c| c.index()).collect()
}

/// The values of the committed weight columns (`2^k` each, the blinding
/// rows zero) for `values`, a weight set of `program`'s architecture (the
/// program's own: `program.params.values`). Mirrors `chips::param_linear`
/// under `layout::assign_program`; the prover checks every proof's columns
/// against these, and `circuits/tests/polycommit.rs` against synthesis.
pub fn weight_columns(program: &Program, shape: &CircuitShape, values: &[i64]) -> Vec<Vec<Fr>> {
    let lanes = shape.lanes.max(MIN_LANES);
    let n = 1usize << shape.k;
    let mut cols = vec![vec![Fr::zero(); n]; lanes];
    for c in &mut cols {
        c[MARKER_ROW] = Fr::one();
    }
    let masks = layout::zero_masks(program);
    // The zero cell's row (limb layout), then the constant 1 (committed
    // parameters take no rows of their own).
    let mut row = 1 + usize::from(layout::needs_one(program));
    for (i, node) in program.nodes.iter().enumerate() {
        let (Op::Linear(op), true) = (&node.op, program.params_polycommit()) else {
            row += layout::node_rows(program, &masks, i, lanes, None);
            continue;
        };
        let Some(refs) = &op.params else {
            row += layout::node_rows(program, &masks, i, lanes, None);
            continue;
        };
        let src: Vec<bool> = op.inputs.iter().flat_map(|&v| masks[v].iter().copied()).collect();
        for o in 0..op.outputs() {
            let mut terms: Vec<usize> = refs.bias.get(o).map(|&k| k as usize).into_iter().collect();
            terms.extend(op.row(o).filter(|&t| !src[op.cols[t] as usize]).map(|t| refs.weights[t] as usize));
            let used = terms.len().div_ceil(lanes).max(1);
            for (ci, chunk) in terms.chunks(lanes).enumerate() {
                for (lane, &k) in chunk.iter().enumerate() {
                    if let (Some(c), Some(&v)) = (cols[lane].get_mut(row + ci), values.get(k)) {
                        *c = fe(v);
                    }
                }
            }
            row += used;
        }
    }
    cols
}
