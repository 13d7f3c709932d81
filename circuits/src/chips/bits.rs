//! Range rows of the gas layout ([`crate::shape::RangeLayout::Bits`]): no
//! lookup argument and no limb columns. A value is split into base-4 digits
//! down the rows of the `acc` column as a running sum, one digit per row:
//!
//! - the block's first row holds the sign bit `s`: `s (s - 1) = 0` (`bit_first`);
//! - each next row holds `acc = 4 acc[-1] + d` with `d (d-1) (d-2) (d-3) = 0` (`step`).
//!
//! After `1 + q_steps` rows the running sum is `v = q + 2^(Bq-1)` with
//! `Bq = 1 + 2 q_steps` bits, so `-2^(Bq-1) <= q < 2^(Bq-1)` and the first row's
//! bit is `[q >= 0]`. The uses, on the block's last row `e`:
//!
//! - requant (`r_steps` more digit rows, `S = 2 r_steps`): the whole running
//!   sum is `T = (q + 2^(Bq-1)) 2^S + r'` with `0 <= r' < 2^S`, and the gate
//!   checks `(x + h) f + 2^(Bq-1+S) = T` with `f = 2^(S - shift)` (in `w[0]`)
//!   and the rounding offset `h` (in `bias`). Since `f` is a power of two,
//!   `q = floor((x + h) f / 2^S) = floor((x + h) / 2^shift)`: the rounding is
//!   unique for every shift `<= S`, with one block height for all. `x` is
//!   `x[0][e]`, the output `x[0][e-1] = q` or `relu(q) = q s` (ReLU flag in `cont`);
//! - max: `v = a - b + 2^(Bq-1)` with `a = x[0][e]`, `b = x[0][e-1]` and the
//!   output `x[0][e-2] = b + q s = max(a, b)`.
//!
//! Soundness: every digit is constrained, so `T` (or `v`) is in range and its
//! digits are unique; the gates tie it to the copied inputs. Values stay far
//! below the field's modulus (inputs are range-checked, weights are constants).
//! Cost: `1 + q_steps (+ r_steps)` rows per element instead of one, in
//! exchange for 2 advice columns, no lookup and no limb table: the fewest
//! commitments, hence the least verification gas. Programs with function
//! tables add one lookup, `(tag, x, f(x))` with `x = x[0]`, `f(x) = acc` and
//! the tag in `bias`, over a table of only the functions' rows.

use halo2_proofs::{
    circuit::Cell,
    halo2curves::ff::Field,
    plonk::{ConstraintSystem, Expression, Selector},
    poly::Rotation,
};
use serde::{Deserialize, Serialize};

use crate::{
    chips::range::RowKind,
    columns::Columns,
    field::{fe, Fr},
    layout::Ctx,
    TamperTarget,
};

/// Bits per digit row.
pub const STEP_BITS: u32 = 2;

/// Block heights of the gas layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitsLayout {
    /// Digit rows of `q` after the sign bit: `Bq = 1 + 2 q_steps`.
    pub q_steps: usize,
    /// Digit rows of a requant's remainder: `S = 2 r_steps` bits.
    pub r_steps: usize,
}

impl BitsLayout {
    /// Blocks wide enough for quotients of `range_bits + 2` bits (as the
    /// limb layout) and remainders of `max_shift` bits.
    pub fn new(range_bits: u32, max_shift: u32) -> Self {
        // At least 2 digit rows: max reads x[0] at rotations 0, -1, -2.
        let q_steps = ((range_bits + 1).div_ceil(STEP_BITS) as usize).max(2);
        BitsLayout { q_steps, r_steps: max_shift.div_ceil(STEP_BITS) as usize }
    }
    pub fn q_bits(&self) -> u32 {
        1 + STEP_BITS * self.q_steps as u32
    }
    pub fn r_bits(&self) -> u32 {
        STEP_BITS * self.r_steps as u32
    }
    pub fn max_rows(&self) -> usize {
        1 + self.q_steps
    }
    pub fn requant_rows(&self) -> usize {
        1 + self.q_steps + self.r_steps
    }
}

#[derive(Clone, Debug)]
pub struct BitsSelectors {
    pub bit_first: Selector,
    pub step: Selector,
    pub req: Selector,
    pub max: Selector,
    /// Function-table rows (`x[0]` = input, `acc` = output, `bias` = tag),
    /// only when the program has tables.
    pub func: Option<Selector>,
    pub layout: BitsLayout,
}

fn pow2(n: u32) -> Fr {
    Fr::from(2u64).pow_vartime([n as u64])
}

fn c(v: Fr) -> Expression<Fr> {
    Expression::Constant(v)
}

pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: &Columns, layout: BitsLayout) -> BitsSelectors {
    let (bit_first, step, req, max) = (meta.selector(), meta.selector(), meta.selector(), meta.selector());
    let (x, acc) = (cols.x[0], cols.acc);
    let (nq, nr) = (layout.q_steps as i32, layout.r_steps as i32);
    let off = pow2(layout.q_bits() - 1);
    meta.create_gate("bits: sign bit s*(s-1) = 0", |m| {
        let s = m.query_selector(bit_first);
        let v = m.query_advice(acc, Rotation::cur());
        vec![s * v.clone() * (v - c(Fr::ONE))]
    });
    meta.create_gate("bits: step acc = 4*acc_prev + d, d in 0..4", |m| {
        let s = m.query_selector(step);
        let d = m.query_advice(acc, Rotation::cur()) - m.query_advice(acc, Rotation::prev()) * c(Fr::from(4));
        let prod = (1..4u64).fold(d.clone(), |p, j| p * (d.clone() - c(Fr::from(j))));
        vec![s * prod]
    });
    meta.create_gate("bits requant: (x + h)*f + 2^(Bq-1+S) = T; out = relu ? q*s : q", |m| {
        let s = m.query_selector(req);
        let xv = m.query_advice(x, Rotation::cur());
        let out = m.query_advice(x, Rotation::prev());
        let t = m.query_advice(acc, Rotation::cur());
        let q = m.query_advice(acc, Rotation(-nr)) - c(off);
        let sign = m.query_advice(acc, Rotation(-nr - nq));
        let h = m.query_fixed(cols.bias, Rotation::cur());
        let f = m.query_fixed(cols.w[0], Rotation::cur());
        let relu = m.query_fixed(cols.cont, Rotation::cur());
        vec![
            s.clone() * ((xv + h) * f + c(pow2(layout.q_bits() - 1 + layout.r_bits())) - t),
            s * (out - q.clone() - relu * (q.clone() * sign - q)),
        ]
    });
    meta.create_gate("bits max: a - b + 2^(Bq-1) = v; out = b + q*s", |m| {
        let s = m.query_selector(max);
        let a = m.query_advice(x, Rotation::cur());
        let b = m.query_advice(x, Rotation::prev());
        let out = m.query_advice(x, Rotation(-2));
        let v = m.query_advice(acc, Rotation::cur());
        let sign = m.query_advice(acc, Rotation(-nq));
        let q = v.clone() - c(off);
        vec![s.clone() * (a - b.clone() + c(off) - v), s * (out - b - q * sign)]
    });
    // Function tables: the one lookup argument of the gas layout. Inactive
    // rows look up (0, 0, 0), the table's first row.
    let func = cols.table.map(|t| {
        let f = meta.complex_selector();
        meta.lookup("function table (gas layout)", |m| {
            let s = m.query_selector(f);
            let tag = s.clone() * m.query_fixed(cols.bias, Rotation::cur());
            let key = s.clone() * m.query_advice(x, Rotation::cur());
            let val = s * m.query_advice(acc, Rotation::cur());
            vec![(tag, t[0]), (key, t[1]), (val, t[2])]
        });
        f
    });
    BitsSelectors { bit_first, step, req, max, func, layout }
}

/// `v`'s `n` base-4 digits, most significant first; the top one takes what
/// is left, so a value outside `[0, 4^n)` leaves a top digit the step gate
/// rejects.
fn digits(v: i64, n: usize) -> Vec<i64> {
    let mut out = vec![0; n];
    let mut rest = v;
    for i in (0..n).rev() {
        if i == 0 {
            out[0] = rest;
        } else {
            out[i] = rest & 3;
            rest >>= STEP_BITS;
        }
    }
    out
}

/// Lays out one block; returns `(cell of x or a, output cell)`.
pub fn assign_row(ctx: &mut Ctx<'_, '_>, (node, element): (usize, usize), kind: RowKind, out: i64) -> (Cell, Cell) {
    let sel = ctx.sel.bits.clone().expect("gas layout selectors");
    let lay = sel.layout;
    let (x0, acc) = (ctx.cols.x[0], ctx.cols.acc);
    let (q, r, shift) = kind.quotient(ctx, (node, element));
    let v = q + (1i64 << (lay.q_bits() - 1));
    let sign = ctx.tampered(node, element, TamperTarget::Sign, v >> (lay.q_bits() - 1));
    let mut ds = vec![sign];
    ds.extend(digits(v - (sign << (lay.q_bits() - 1)), lay.q_steps));
    let requant = matches!(kind, RowKind::Requant { .. });
    if requant {
        debug_assert!(shift <= lay.r_bits(), "planner sized the remainder blocks");
        ds.extend(digits(r << (lay.r_bits() - shift), lay.r_steps));
    }
    let first = ctx.next_row();
    for _ in 1..ds.len() {
        ctx.next_row();
    }
    let e = first + ds.len() - 1;
    for (i, _) in ds.iter().enumerate() {
        let row = first + i;
        ctx.enable(if i == 0 { sel.bit_first } else { sel.step }, row);
        ctx.advice_fe(acc, row, running(&ds[..=i]));
    }
    let outv = ctx.tampered(node, element, TamperTarget::Output, out);
    let (in_cell, out_cell, filled) = match &kind {
        RowKind::Requant { x: (xv, src), shift, relu } => {
            ctx.enable(sel.req, e);
            ctx.fixed(ctx.cols.bias, e, if *shift == 0 { 0 } else { 1i64 << (shift - 1) });
            ctx.fixed_fe(ctx.cols.w[0], e, pow2(lay.r_bits() - shift));
            ctx.fixed(ctx.cols.cont, e, i64::from(*relu));
            let xc = match src {
                Some(cell) => ctx.copy(x0, e, *xv, *cell),
                None => ctx.advice(x0, e, *xv),
            };
            let oc = ctx.advice(x0, e - 1, outv);
            (xc, oc, 2)
        }
        RowKind::Max { a, b } => {
            ctx.enable(sel.max, e);
            let ac = ctx.copy(x0, e, a.0, a.1);
            ctx.copy(x0, e - 1, b.0, b.1);
            let oc = ctx.advice(x0, e - 2, outv);
            (ac, oc, 3)
        }
    };
    // The rest of x[0] in the block: assigned, unused.
    for row in first..=e - filled {
        ctx.pad(x0, row);
    }
    (in_cell, out_cell)
}

/// The running sum of base-4 digits (sign bit first), in the field.
fn running(ds: &[i64]) -> Fr {
    ds.iter().fold(Fr::ZERO, |acc, &d| acc * Fr::from(4) + fe(d))
}
