//! Dot products whose weights are a witness (`--param-visibility
//! private|hashed`, [`ir::ParamRefs`]): the same rows as
//! [`bilinear`](super::bilinear) (`acc = cont * acc[-1] + sum_i x_i * b_i`,
//! its gate and selector), with each term's weight in a `b` lane copied from
//! the weight's parameter cell ([`ParamCells`]), and the bias as one more
//! term, `1 * bias`, whose `1` is copied from a cell fixed to the constant 1.
//! Zero weights are kept (the lowering keeps them), so the rows depend on
//! the sparsity pattern only, never on the weight values: every weight set of
//! the architecture has the same circuit and keys.

use halo2_proofs::circuit::Cell;
use ir::{LinearOp, ParamRefs};

use crate::layout::{Cells, Ctx};

/// The cells holding the program's parameters, in slot order, and the
/// constant 1 biases are multiplied by.
pub struct ParamCells {
    pub cells: Vec<Cell>,
    pub values: Vec<i64>,
    pub one: Option<Cell>,
}

/// Rows this op takes with `lanes` lanes (terms on constant-zero inputs skipped).
pub fn rows(op: &LinearOp, refs: &ParamRefs, lanes: usize, is_zero: impl Fn(usize) -> bool) -> usize {
    let bias = usize::from(!refs.bias.is_empty());
    (0..op.outputs())
        .map(|o| {
            let n = op.row(o).filter(|&t| !is_zero(op.cols[t] as usize)).count() + bias;
            n.div_ceil(lanes).max(1)
        })
        .sum()
}

#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub fn assign(
    ctx: &mut Ctx<'_, '_>,
    node: usize,
    op: &LinearOp,
    refs: &ParamRefs,
    params: &ParamCells,
    src: &Cells,
    xv: &[i64],
    out: &[i64],
) -> Cells {
    let lanes = ctx.cols.lanes();
    // Polycommit: each weight is assigned in its `pw` lane, bound by the
    // column's commitment (no parameter cell, no copy).
    let committed = !ctx.cols.pw.is_empty();
    let sel = if committed {
        ctx.sel.committed.expect("committed parameters configure the committed gate")
    } else {
        ctx.sel.bilinear.expect("witness parameters configure the bilinear gate")
    };
    let one = params.one;
    let mut cells = Vec::with_capacity(op.outputs());
    for o in 0..op.outputs() {
        // (x cell, x value, weight slot); the bias first, as `1 * bias`.
        let mut terms: Vec<(Cell, i64, usize)> = vec![];
        if let Some(&k) = refs.bias.get(o) {
            terms.push((one.expect("a parameter bias has the one cell"), 1, k as usize));
        }
        for t in op.row(o) {
            let col = op.cols[t] as usize;
            if let Some(c) = src[col] {
                terms.push((c, xv[col], refs.weights[t] as usize));
            }
        }
        let chunks: Vec<&[(Cell, i64, usize)]> =
            if terms.is_empty() { vec![&[]] } else { terms.chunks(lanes).collect() };
        let mut acc = 0i64;
        let mut last = None;
        for (ci, chunk) in chunks.iter().enumerate() {
            let row = ctx.next_row();
            ctx.enable(sel, row);
            ctx.fixed(ctx.cols.cont, row, if ci == 0 { 0 } else { 1 });
            for lane in 0..lanes {
                let xc = ctx.cols.x[lane];
                let bc = if committed { ctx.cols.pw[lane] } else { ctx.cols.b[lane] };
                match chunk.get(lane) {
                    Some(&(cell, x, k)) => {
                        let w = ctx.tampered(k, 0, crate::TamperTarget::ParamUse, params.values[k]);
                        ctx.copy(xc, row, x, cell);
                        if committed {
                            ctx.advice(bc, row, w);
                        } else {
                            ctx.copy(bc, row, w, params.cells[k]);
                        }
                        acc += x * w;
                    }
                    None => {
                        // An unused lane: x copied from the zero cell, so
                        // x * b = 0 whatever b holds (a free x and b would
                        // let a prover add any product to the sum).
                        let zero = ctx.zero;
                        ctx.copy(xc, row, 0, zero);
                        if !committed {
                            ctx.pad(bc, row);
                        }
                    }
                }
            }
            let v =
                if ci + 1 == chunks.len() { ctx.tampered(node, o, crate::TamperTarget::Output, out[o]) } else { acc };
            last = Some(ctx.advice(ctx.cols.acc, row, v));
        }
        cells.push(last);
    }
    cells
}
