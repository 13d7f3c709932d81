//! Pairwise maximum, one per row: `(m - a)(m - b) = 0` (gate) and both
//! `m - a`, `m - b` in `[0, 2^(B+1))` (lookups). A window of n values is a
//! chain of n - 1 rows. Covers MaxPool.

use halo2_proofs::{
    plonk::{ConstraintSystem, Selector},
    poly::Rotation,
};
use ir::MaxOp;

use crate::{columns::Columns, field::Fr, layout::{Cells, Ctx}, table::TAG_RANGE, TamperTarget};

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> Selector {
    let q = meta.complex_selector();
    meta.create_gate("max: (m - a)(m - b) = 0", |m| {
        let s = m.query_selector(q);
        let a = m.query_advice(c.x[0], Rotation::cur());
        let b = m.query_advice(c.x[1], Rotation::cur());
        let mm = m.query_advice(c.acc, Rotation::cur());
        vec![s * (mm.clone() - a) * (mm - b)]
    });
    q
}

pub fn rows(op: &MaxOp) -> usize {
    (0..op.outputs()).map(|o| op.row(o).len() - 1).sum()
}

pub fn assign(ctx: &mut Ctx<'_, '_>, node: usize, op: &MaxOp, src: &Cells, xv: &[i64], out: &[i64]) -> Cells {
    (0..op.outputs())
        .map(|o| {
            let win: Vec<usize> = op.row(o).map(|t| op.cols[t] as usize).collect();
            let mut cur_cell = src[win[0]];
            let mut cur = xv[win[0]];
            for (step, &c) in win.iter().enumerate().skip(1) {
                let row = ctx.next_row();
                ctx.enable(ctx.sel.max, row);
                ctx.fixed(ctx.cols.tag[0], row, TAG_RANGE as i64);
                ctx.fixed(ctx.cols.tag[1], row, TAG_RANGE as i64);
                let a = cur_cell.unwrap_or(ctx.zero);
                let b = src[c].unwrap_or(ctx.zero);
                ctx.copy(ctx.cols.x[0], row, cur, a);
                ctx.copy(ctx.cols.x[1], row, xv[c], b);
                let mut m = cur.max(xv[c]);
                if step + 1 == win.len() {
                    m = ctx.tampered(node, o, TamperTarget::Output, out[o]);
                }
                cur_cell = Some(ctx.advice(ctx.cols.acc, row, m));
                cur = m;
            }
            cur_cell
        })
        .collect()
}
