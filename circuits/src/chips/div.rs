//! Exact floor division by a computed divisor (`ir::Op::Div`, dynamic
//! quantization): `num = q * den + r` with `0 <= r < den`. Three range rows
//! per element, under the shared range selector (limb lookups, sign bit):
//!
//! - row 0: `x[0]` = num (copied), `x[2]` = den (copied), `x[1]` = `q`
//!   (range-checked), `acc` = `q` (the output);
//! - row 1: `x[1]` = `r`, sign `x[3]` must be 1 (`r >= 0`);
//! - row 2: `x[1]` = `den - 1 - r`, sign `x[3]` must be 1 (`r < den`).
//!
//! The gate (its own selector, on row 0, only when the program divides):
//! `num - q*den - r = 0`, `x1[+2] = den - 1 - x1[+1]`, `x3[+1] = x3[+2] = 1`,
//! `acc = q`. Soundness: `q`, `r` and `den - 1 - r` are range-checked signed
//! values of `range_bits + 2` bits whose sign bits come from the limb table,
//! so `0 <= r < den <= 2^(range_bits+1)` and `|q| < 2^(range_bits+1)`; with
//! every value far below `p/2` the field equation is the integer one, and
//! `(q, r)` is the unique floor division (which also forces `den >= 1`).

use halo2_proofs::{
    plonk::{ConstraintSystem, Expression, Selector},
    poly::Rotation,
};

use crate::{
    chips::range::{limb_widths, q_bits, split},
    columns::Columns,
    field::Fr,
    layout::{Cells, Ctx},
    TamperTarget,
};

pub const ROWS_PER_ELEMENT: usize = 3;

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> Selector {
    let s = meta.selector();
    meta.create_gate("div: num = q*den + r; 0 <= r; 0 <= den-1-r; out = q", |m| {
        let s = m.query_selector(s);
        let num = m.query_advice(c.x[0], Rotation::cur());
        let q = m.query_advice(c.x[1], Rotation::cur());
        let den = m.query_advice(c.x[2], Rotation::cur());
        let out = m.query_advice(c.acc, Rotation::cur());
        let r = m.query_advice(c.x[1], Rotation::next());
        let r_sign = m.query_advice(c.x[3], Rotation::next());
        let gap = m.query_advice(c.x[1], Rotation(2));
        let gap_sign = m.query_advice(c.x[3], Rotation(2));
        let one = Expression::Constant(Fr::one());
        vec![
            s.clone() * (num - q.clone() * den.clone() - r.clone()),
            s.clone() * (gap - (den - one.clone() - r)),
            s.clone() * (one.clone() - r_sign),
            s.clone() * (one - gap_sign),
            s * (out - q),
        ]
    });
    s
}

pub fn rows(op_len: usize) -> usize {
    ROWS_PER_ELEMENT * op_len
}

/// One plain range row of `v` (limbs and sign of `v` in `x[1]`, `x[3]`);
/// `x[0]`, `x[2]` and `acc` are left to the caller on row 0 and zero elsewhere.
fn range_row(ctx: &mut Ctx<'_, '_>, row: usize, v: i64, sign: i64, fill: bool) {
    let qb = q_bits(ctx.range_bits);
    let nq = ctx.cols.q_limbs;
    let rng = ctx.sel.range.as_ref().expect("divisions are planned in the limb layout").rng;
    ctx.enable(rng, row);
    ctx.advice(ctx.cols.x[1], row, v);
    ctx.advice(ctx.cols.x[3], row, sign);
    for (j, &l) in split(v + (1i64 << (qb - 1)), &limb_widths(qb, ctx.limb_bits)).iter().enumerate() {
        ctx.advice(ctx.cols.x[4 + j], row, l);
    }
    for i in 0..ctx.cols.r_limbs {
        ctx.advice(ctx.cols.x[4 + nq + i], row, 0);
        ctx.fixed(ctx.cols.tag[i], row, 0);
    }
    if fill {
        // Rows 1 and 2: only x[1], x[3] and the limbs are read.
        ctx.pad(ctx.cols.x[0], row);
        ctx.pad(ctx.cols.x[2], row);
        ctx.pad(ctx.cols.acc, row);
    }
}

pub fn assign(
    ctx: &mut Ctx<'_, '_>,
    node: usize,
    (num_cells, nv): (&Cells, &[i64]),
    (den_cells, dv): (&Cells, &[i64]),
    out: &[i64],
) -> Cells {
    let sel = ctx.sel.div.expect("division gate is configured when the program divides");
    (0..nv.len())
        .map(|e| {
            let d = if dv.len() == nv.len() { e } else { 0 };
            let (n, den) = (nv[e], dv[d]);
            let mut q = out[e];
            // Negative-test hooks: a quotient moved with a compensating
            // remainder, or a remainder changed alone.
            let dq = ctx.tampered(node, e, TamperTarget::Quotient, 0);
            q += dq;
            let r = ctx.tampered(node, e, TamperTarget::Remainder, n - q * den);
            let gap = den - 1 - r;
            let row = ctx.next_row();
            ctx.enable(sel, row);
            range_row(ctx, row, q, i64::from(q >= 0), false);
            let zero = ctx.zero;
            ctx.copy(ctx.cols.x[0], row, n, num_cells[e].unwrap_or(zero));
            ctx.copy(ctx.cols.x[2], row, den, den_cells[d].unwrap_or(zero));
            let v = ctx.tampered(node, e, TamperTarget::Output, q);
            let oc = ctx.advice(ctx.cols.acc, row, v);
            let r_row = ctx.next_row();
            let r_sign = ctx.tampered(node, e, TamperTarget::Sign, i64::from(r >= 0));
            range_row(ctx, r_row, r, r_sign, true);
            let g_row = ctx.next_row();
            range_row(ctx, g_row, gap, i64::from(gap >= 0), true);
            Some(oc)
        })
        .collect()
}
