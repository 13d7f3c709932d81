//! Range rows: a value `q` split into limbs that the table range-checks, its
//! sign from the top limb's top bit, and one of two uses of it:
//!
//! - requant: `x + h = q * 2^shift + r` with the remainder `r` in limbs too,
//!   and `out = q` or `out = relu(q) = q * sign`;
//! - max: `q = a - b` and `out = b + q * sign = max(a, b)`.
//!
//! Every range row checks `q + 2^(Bq-1) = sum_j qlimb_j * 2^(..)` with
//! `Bq = range_bits + 2` bits in `Q` limbs of fixed widths (the top one first,
//! carrying the sign): so `-2^(Bq-1) <= q < 2^(Bq-1)` and `sign = [q >= 0]`.
//! The remainder's `R` limbs are least significant first with weights
//! `2^(iL)`; their widths (the top one partial, unused ones 0) are in fixed
//! `tag` columns, so every weight in the gates is a constant.

use halo2_proofs::{
    circuit::Cell,
    plonk::{ConstraintSystem, Expression, Selector},
    poly::Rotation,
};

use crate::{columns::Columns, field::Fr, layout::Ctx, TamperTarget};

#[derive(Clone, Debug)]
pub struct RangeSelectors {
    /// Limb decomposition of `q` and the lookups.
    pub rng: Selector,
    /// Rescale relation and requant output.
    pub req: Selector,
    /// Max relation and output.
    pub max: Selector,
    /// Function-table rows (`x[0]` = input, `acc` = output, `bias` = tag),
    /// looked up through the first limb lookup; only when the program has tables.
    pub func: Option<Selector>,
}

/// Bits of every range row's `q`: requant quotients need `range_bits + 1`,
/// max differences one more; one width for all keeps limb weights constant.
pub fn q_bits(range_bits: u32) -> u32 {
    range_bits + 2
}

fn pow2(n: u32) -> Fr {
    use halo2_proofs::halo2curves::ff::Field;
    Fr::from(2u64).pow_vartime([n as u64])
}

/// Limb widths of a `bits`-bit value in `limb_bits`-bit limbs, most significant first.
pub fn limb_widths(bits: u32, limb_bits: u32) -> Vec<u32> {
    if bits == 0 {
        return vec![];
    }
    let n = bits.div_ceil(limb_bits);
    let top = bits - (n - 1) * limb_bits;
    std::iter::once(top).chain(std::iter::repeat_n(limb_bits, n as usize - 1)).collect()
}

pub fn configure(
    meta: &mut ConstraintSystem<Fr>,
    c: &Columns,
    range_bits: u32,
    limb_bits: u32,
    tables: bool,
) -> RangeSelectors {
    let rng = meta.complex_selector();
    let req = meta.selector();
    let max = meta.selector();
    let func = tables.then(|| meta.complex_selector());
    let qw = limb_widths(q_bits(range_bits), limb_bits);
    debug_assert_eq!(qw.len(), c.q_limbs);
    let (nq, nr) = (c.q_limbs, c.r_limbs);
    let qcol = |j: usize| c.x[4 + j];
    let rcol = |i: usize| c.x[4 + nq + i];
    let qweight = |j: usize| pow2(qw[j + 1..].iter().sum());
    meta.create_gate("range: q + offset = sum qlimb_j * 2^(..)", |m| {
        let s = m.query_selector(rng);
        let q = m.query_advice(c.x[1], Rotation::cur());
        let sum = (0..nq).fold(Expression::Constant(Fr::zero()), |acc, j| {
            acc + m.query_advice(qcol(j), Rotation::cur()) * Expression::Constant(qweight(j))
        });
        vec![s * (q + Expression::Constant(pow2(q_bits(range_bits) - 1)) - sum)]
    });
    meta.create_gate("requant: x + h = q*2^shift + r; out = relu ? q*sign : q", |m| {
        let s = m.query_selector(req);
        let x = m.query_advice(c.x[0], Rotation::cur());
        let q = m.query_advice(c.x[1], Rotation::cur());
        let sign = m.query_advice(c.x[3], Rotation::cur());
        let out = m.query_advice(c.acc, Rotation::cur());
        let h = m.query_fixed(c.bias, Rotation::cur());
        let pow = m.query_fixed(c.w[0], Rotation::cur());
        let relu = m.query_fixed(c.w[1], Rotation::cur());
        let r = (0..nr).fold(Expression::Constant(Fr::zero()), |acc, i| {
            acc + m.query_advice(rcol(i), Rotation::cur()) * Expression::Constant(pow2(i as u32 * limb_bits))
        });
        vec![s.clone() * (x + h - q.clone() * pow - r), s * (out - q.clone() - relu * (q.clone() * sign - q))]
    });
    meta.create_gate("max: q = a - b; out = b + q*sign", |m| {
        let s = m.query_selector(max);
        let a = m.query_advice(c.x[0], Rotation::cur());
        let q = m.query_advice(c.x[1], Rotation::cur());
        let b = m.query_advice(c.x[2], Rotation::cur());
        let sign = m.query_advice(c.x[3], Rotation::cur());
        let out = m.query_advice(c.acc, Rotation::cur());
        vec![s.clone() * (q.clone() - a + b.clone()), s * (out - b - q * sign)]
    });
    let t = c.table.expect("the limb layout has a table");
    for (j, &w) in qw.iter().enumerate() {
        let col = qcol(j);
        let width = Expression::Constant(Fr::from(w as u64));
        if j == 0 {
            let sign = c.x[3];
            let (x0, acc, bias) = (c.x[0], c.acc, c.bias);
            let name = if tables {
                "limb 0 (top limb of q) and sign, or function table"
            } else {
                "limb 0 (top limb of q) and sign"
            };
            meta.lookup(name, |m| {
                let s = m.query_selector(rng);
                let v = m.query_advice(col, Rotation::cur());
                let sg = m.query_advice(sign, Rotation::cur());
                let (mut tag, mut key, mut val) = (s.clone() * width, s.clone() * v, s * sg);
                // Function rows (never range rows too): (tag, x, f(x)) with the tag in `bias`.
                if let Some(f) = func {
                    let f = m.query_selector(f);
                    tag = tag + f.clone() * m.query_fixed(bias, Rotation::cur());
                    key = key + f.clone() * m.query_advice(x0, Rotation::cur());
                    val = val + f * m.query_advice(acc, Rotation::cur());
                }
                vec![(tag, t[0]), (key, t[1]), (val, t[2])]
            });
        } else {
            meta.lookup(format!("limb {j} of q"), |m| {
                let s = m.query_selector(rng);
                let v = m.query_advice(col, Rotation::cur());
                vec![(s.clone() * width, t[0]), (s * v, t[1])]
            });
        }
    }
    for i in 0..nr {
        let (col, tag) = (rcol(i), c.tag[i]);
        meta.lookup(format!("remainder limb {i}"), |m| {
            let s = m.query_selector(rng);
            let v = m.query_advice(col, Rotation::cur());
            vec![(m.query_fixed(tag, Rotation::cur()), t[0]), (s * v, t[1])]
        });
    }
    RangeSelectors { rng, req, max, func }
}

/// Splits `v` (expected in `[0, 2^sum(widths))`) into limbs, most significant
/// first. An out-of-range `v` leaves a top limb outside its width, which the
/// table rejects.
pub fn split(v: i64, widths: &[u32]) -> Vec<i64> {
    let mut out = vec![0; widths.len()];
    let mut rest = v;
    for (i, &w) in widths.iter().enumerate().rev() {
        if i == 0 {
            out[0] = rest;
        } else {
            out[i] = rest & ((1i64 << w) - 1);
            rest >>= w;
        }
    }
    out
}

pub enum RowKind {
    /// `x` rescaled by `shift` (and ReLU'd when `relu`).
    Requant { x: (i64, Option<Cell>), shift: u32, relu: bool },
    /// `max(a, b)`.
    Max { a: (i64, Cell), b: (i64, Cell) },
}

impl RowKind {
    /// `(q, r, shift)`: the rounded quotient and remainder of a requant
    /// (`x + h = q * 2^shift + r`) or the difference `a - b` of a max, with
    /// the negative-test hook of a dishonest quotient that keeps the rescale
    /// relation. Shared by both layouts.
    pub fn quotient(&self, ctx: &Ctx<'_, '_>, (node, element): (usize, usize)) -> (i64, i64, u32) {
        let (mut q, mut r, shift) = match self {
            RowKind::Requant { x, shift, .. } => {
                let (q, r) = ir::rescale(x.0, *shift);
                (q, r, *shift)
            }
            RowKind::Max { a, b } => (a.0 - b.0, 0, 0),
        };
        let dq = ctx.tampered(node, element, TamperTarget::Quotient, 0);
        if dq != 0 {
            q += dq;
            r -= dq << shift;
        }
        (q, r, shift)
    }
}

/// Lays out one range row; returns `(cell of x or a, output cell)`.
pub fn assign_row(ctx: &mut Ctx<'_, '_>, (node, element): (usize, usize), kind: RowKind, out: i64) -> (Cell, Cell) {
    let Some(sel) = ctx.sel.range.clone() else {
        return crate::chips::bits::assign_row(ctx, (node, element), kind, out);
    };
    let lb = ctx.limb_bits;
    let (nq, nr) = (ctx.cols.q_limbs, ctx.cols.r_limbs);
    let row = ctx.next_row();
    ctx.enable(sel.rng, row);
    let qb = q_bits(ctx.range_bits);
    let (q, r, shift) = kind.quotient(ctx, (node, element));
    let ql = split(q + (1i64 << (qb - 1)), &limb_widths(qb, lb));
    // Remainder limbs, least significant first; the widths of the used ones.
    let mut rw: Vec<u32> = limb_widths(shift, lb);
    rw.reverse();
    debug_assert!(rw.len() <= nr, "planner sized the remainder limbs");
    let mut rl: Vec<i64> = split(r, &limb_widths(shift, lb));
    rl.reverse();
    let sign = ctx.tampered(node, element, TamperTarget::Sign, i64::from(q >= 0));

    let in_cell = match &kind {
        RowKind::Requant { x: (xv, src), shift, relu } => {
            ctx.enable(sel.req, row);
            ctx.fixed(ctx.cols.bias, row, if *shift == 0 { 0 } else { 1i64 << (shift - 1) });
            ctx.fixed_fe(ctx.cols.w[0], row, pow2(*shift));
            ctx.fixed(ctx.cols.w[1], row, i64::from(*relu));
            ctx.pad(ctx.cols.x[2], row); // max's `b`: no requant constraint reads it
            match src {
                Some(cell) => ctx.copy(ctx.cols.x[0], row, *xv, *cell),
                None => ctx.advice(ctx.cols.x[0], row, *xv),
            }
        }
        RowKind::Max { a, b } => {
            ctx.enable(sel.max, row);
            ctx.copy(ctx.cols.x[2], row, b.0, b.1);
            ctx.copy(ctx.cols.x[0], row, a.0, a.1)
        }
    };
    ctx.advice(ctx.cols.x[1], row, q);
    ctx.advice(ctx.cols.x[3], row, sign);
    for (j, &v) in ql.iter().enumerate() {
        ctx.advice(ctx.cols.x[4 + j], row, v);
    }
    for i in 0..nr {
        ctx.advice(ctx.cols.x[4 + nq + i], row, rl.get(i).copied().unwrap_or(0));
        ctx.fixed(ctx.cols.tag[i], row, rw.get(i).copied().unwrap_or(0) as i64);
    }
    let v = ctx.tampered(node, element, TamperTarget::Output, out);
    let oc = ctx.advice(ctx.cols.acc, row, v);
    (in_cell, oc)
}
