//! Dot products with constant weights, packed `lanes` multiply-adds per row:
//! `acc = cont * acc[-1] + bias + sum_i x_i * w_i`, weights in fixed columns.
//! Covers Gemm, MatMul by a constant, Conv, pooling sums, Add/Sub, constants.

use halo2_proofs::{
    plonk::{ConstraintSystem, Expression, Selector},
    poly::Rotation,
};
use ir::LinearOp;

use crate::{
    columns::Columns,
    field::Fr,
    layout::{Cells, Ctx},
};

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> Selector {
    let q = meta.selector();
    meta.create_gate("linear: acc = cont*acc_prev + bias + sum x*w", |m| {
        let q = m.query_selector(q);
        let acc = m.query_advice(c.acc, Rotation::cur());
        let prev = m.query_advice(c.acc, Rotation::prev());
        let cont = m.query_fixed(c.cont, Rotation::cur());
        let bias = m.query_fixed(c.bias, Rotation::cur());
        let sum = c.x.iter().zip(&c.w).fold(Expression::Constant(Fr::zero()), |s, (x, w)| {
            s + m.query_advice(*x, Rotation::cur()) * m.query_fixed(*w, Rotation::cur())
        });
        vec![q * (acc - cont * prev - bias - sum)]
    });
    q
}

/// Rows this op takes with `lanes` lanes (terms on zero inputs and zero weights skipped).
pub fn rows(op: &LinearOp, lanes: usize, is_zero: impl Fn(usize) -> bool) -> usize {
    (0..op.outputs())
        .map(|o| {
            let n = op.row(o).filter(|&t| op.weights[t] != 0 && !is_zero(op.cols[t] as usize)).count();
            n.div_ceil(lanes).max(1)
        })
        .sum()
}

#[allow(clippy::needless_range_loop)] // o indexes bias, outputs and rows alike
pub fn assign(ctx: &mut Ctx<'_, '_>, node: usize, op: &LinearOp, src: &Cells, xv: &[i64], out: &[i64]) -> Cells {
    let lanes = ctx.cols.lanes();
    let mut cells = Vec::with_capacity(op.outputs());
    for o in 0..op.outputs() {
        let terms: Vec<usize> =
            op.row(o).filter(|&t| op.weights[t] != 0 && src[op.cols[t] as usize].is_some()).collect();
        let chunks: Vec<&[usize]> = if terms.is_empty() { vec![&[]] } else { terms.chunks(lanes).collect() };
        let mut acc = op.bias[o];
        let mut last = None;
        for (ci, chunk) in chunks.iter().enumerate() {
            let row = ctx.next_row();
            ctx.enable(ctx.sel.linear, row);
            ctx.fixed(ctx.cols.cont, row, if ci == 0 { 0 } else { 1 });
            ctx.fixed(ctx.cols.bias, row, if ci == 0 { op.bias[o] } else { 0 });
            for lane in 0..lanes {
                let (xc, wc) = (ctx.cols.x[lane], ctx.cols.w[lane]);
                match chunk.get(lane) {
                    Some(&t) => {
                        let col = op.cols[t] as usize;
                        ctx.copy(xc, row, xv[col], src[col].expect("filtered to present cells"));
                        ctx.fixed(wc, row, op.weights[t]);
                        acc += xv[col] * op.weights[t];
                    }
                    None => {
                        // Weight 0: the lane adds nothing, whatever it holds.
                        ctx.pad(xc, row);
                        ctx.fixed(wc, row, 0);
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
