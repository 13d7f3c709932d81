//! Rounding rescale fused with an activation, one element per range row:
//! `x + h = q * 2^shift + r` with `r` and `q` in limbs, `out = q` or `relu(q)`.
//! With `shift = 0` this is the range check (and ReLU) of a value, e.g. of
//! model inputs.

use halo2_proofs::circuit::Cell;
use ir::{Activation, RequantOp};

use crate::{
    chips::range::{assign_row, RowKind},
    layout::{Cells, Ctx},
};

/// One element; `src` is `None` for a fresh input cell. Returns `(input cell, output cell)`.
#[allow(clippy::too_many_arguments)]
pub fn assign_one(
    ctx: &mut Ctx<'_, '_>,
    at: (usize, usize),
    shift: u32,
    act: Activation,
    x: i64,
    src: Option<Cell>,
    out: i64,
) -> (Cell, Cell) {
    let relu = act == Activation::Relu;
    assign_row(ctx, at, RowKind::Requant { x: (x, src), shift, relu }, out)
}

pub fn assign(ctx: &mut Ctx<'_, '_>, node: usize, op: &RequantOp, src: &Cells, xv: &[i64], out: &[i64]) -> Cells {
    (0..xv.len())
        .map(|e| {
            // act(round(0)) = 0: a zero input stays the constant zero, no row.
            src[e].map(|cell| assign_one(ctx, (node, e), op.shift, op.act, xv[e], Some(cell), out[e]).1)
        })
        .collect()
}
