//! Rounding rescale fused with an activation, one element per row:
//! `x + h = q * 2^shift + r0 + r1 * 2^L + r2 * 2^2L` (gate), remainder limbs
//! in `[0, 2^L)` and `(act, q, out)` in the table (lookups). With `shift = 0`
//! this is the range check (and ReLU) of a value, e.g. of model inputs.

use halo2_proofs::{
    plonk::{ConstraintSystem, Selector},
    poly::Rotation,
};
use ir::{Activation, RequantOp};

use crate::{
    columns::Columns,
    field::Fr,
    layout::{Cells, Ctx},
    table::{TAG_RANGE, TAG_RELU, TAG_REM},
    TamperTarget,
};

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> Selector {
    let q = meta.complex_selector();
    meta.create_gate("requant: x + h = q*2^shift + sum r_i*2^(iL)", |m| {
        let s = m.query_selector(q);
        let x: Vec<_> = (0..5).map(|i| m.query_advice(c.x[i], Rotation::cur())).collect();
        let w: Vec<_> = (0..4).map(|i| m.query_fixed(c.w[i], Rotation::cur())).collect();
        let h = m.query_fixed(c.bias, Rotation::cur());
        let rhs = x[1].clone() * w[0].clone() + x[2].clone() * w[1].clone() + x[3].clone() * w[2].clone() + x[4].clone() * w[3].clone();
        vec![s * (x[0].clone() + h - rhs)]
    });
    q
}

/// Lays out one element: `x` (copied from `src` when given, else a fresh cell,
/// which is how model inputs enter) and returns `(input cell, output cell)`.
pub fn assign_one(
    ctx: &mut Ctx<'_, '_>,
    (node, element): (usize, usize),
    shift: u32,
    act: Activation,
    x: i64,
    src: Option<halo2_proofs::circuit::Cell>,
    out: i64,
) -> (halo2_proofs::circuit::Cell, halo2_proofs::circuit::Cell) {
    let l = ctx.rem_bits;
    let row = ctx.next_row();
    ctx.enable(ctx.sel.requant, row);
    let (mut q, r) = ir::rescale(x, shift);
    let limbs = if shift == 0 { 0 } else { (shift / l) as usize };
    let mask = (1i64 << l) - 1;
    let mut rl = [0i64; 3];
    for (i, limb) in rl.iter_mut().enumerate().take(limbs) {
        *limb = (r >> (i as u32 * l)) & mask;
    }
    // Tamper hooks for negative tests: a dishonest quotient that keeps the gate
    // satisfied pushes a remainder limb out of range.
    let dq = ctx.tampered(node, element, TamperTarget::Quotient, 0);
    if dq != 0 && limbs > 0 {
        q += dq;
        rl[0] -= dq << shift;
    }
    let xc = match src {
        Some(cell) => ctx.copy(ctx.cols.x[0], row, x, cell),
        None => ctx.advice(ctx.cols.x[0], row, x),
    };
    ctx.advice(ctx.cols.x[1], row, q);
    for (i, &v) in rl.iter().enumerate() {
        ctx.advice(ctx.cols.x[2 + i], row, v);
    }
    let h = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    ctx.fixed(ctx.cols.bias, row, h);
    ctx.fixed_fe(ctx.cols.w[0], row, pow2(shift));
    for i in 0..3 {
        let coef = if i < limbs { pow2(i as u32 * l) } else { Fr::zero() };
        ctx.fixed_fe(ctx.cols.w[1 + i], row, coef);
    }
    let tag = match act {
        Activation::Identity => TAG_RANGE,
        Activation::Relu => TAG_RELU,
    };
    ctx.fixed(ctx.cols.tag[0], row, tag as i64);
    for j in 1..4 {
        ctx.fixed(ctx.cols.tag[j], row, TAG_REM as i64);
    }
    let v = ctx.tampered(node, element, TamperTarget::Output, out);
    let oc = ctx.advice(ctx.cols.acc, row, v);
    (xc, oc)
}

fn pow2(n: u32) -> Fr {
    Fr::from(2u64).pow_vartime([n as u64])
}

use halo2_proofs::halo2curves::ff::Field;

pub fn assign(ctx: &mut Ctx<'_, '_>, node: usize, op: &RequantOp, src: &Cells, xv: &[i64], out: &[i64]) -> Cells {
    (0..xv.len())
        .map(|e| {
            // act(round(0)) = 0: a zero input stays the constant zero, no row.
            src[e].map(|cell| assign_one(ctx, (node, e), op.shift, op.act, xv[e], Some(cell), out[e]).1)
        })
        .collect()
}
