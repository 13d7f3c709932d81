//! Maximum over windows as a chain of range rows: `max(a, b) = b + relu(a - b)`,
//! with `a - b` decomposed into limbs (its sign from the table). A window of
//! n values takes n - 1 rows. Covers MaxPool.

use ir::MaxOp;

use crate::{
    chips::range::{assign_row, RowKind},
    layout::{Cells, Ctx},
};

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
                let a = (cur, cur_cell.unwrap_or(ctx.zero));
                let b = (xv[c], src[c].unwrap_or(ctx.zero));
                let honest = cur.max(xv[c]);
                let last = step + 1 == win.len();
                // Only the chain's last row carries the op's output (and its tamper hook).
                let (at, v) = if last { ((node, o), out[o]) } else { ((usize::MAX, 0), honest) };
                let (_, oc) = assign_row(ctx, at, RowKind::Max { a, b }, v);
                cur_cell = Some(oc);
                cur = v;
            }
            cur_cell
        })
        .collect()
}
