//! Range rows: a value `q` split into limbs that the table range-checks, its
//! sign from the top limb's top bit, and one of two uses of it:
//!
//! - requant: `x + h = q * 2^shift + r` with the remainder `r` in limbs too,
//!   and `out = q` or `out = relu(q) = q * sign`;
//! - max: `q = a - b` and `out = b + q * sign = max(a, b)`.
//!
//! Gates (all rows with `q_rng`): `q + offset = sum_j limb_j * kq_j`; the
//! limbs' widths sum to the offset's bits + 1, so `-offset <= q < offset` and
//! `sign = [q >= 0]` (the top limb's top bit, from the table).

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
}

pub fn configure(meta: &mut ConstraintSystem<Fr>, c: &Columns) -> RangeSelectors {
    let rng = meta.complex_selector();
    let req = meta.selector();
    let max = meta.selector();
    let m_limbs = c.limbs();
    meta.create_gate("range: q + offset = sum limb_j * kq_j", |m| {
        let s = m.query_selector(rng);
        let q = m.query_advice(c.x[1], Rotation::cur());
        let off = m.query_fixed(c.w[1], Rotation::cur());
        let sum = (0..m_limbs).fold(Expression::Constant(Fr::zero()), |acc, j| {
            acc + m.query_advice(c.x[4 + j], Rotation::cur()) * m.query_fixed(c.w[3 + j], Rotation::cur())
        });
        vec![s * (q + off - sum)]
    });
    meta.create_gate("requant: x + h = q*2^shift + r; out = relu ? q*sign : q", |m| {
        let s = m.query_selector(req);
        let x = m.query_advice(c.x[0], Rotation::cur());
        let q = m.query_advice(c.x[1], Rotation::cur());
        let sign = m.query_advice(c.x[3], Rotation::cur());
        let out = m.query_advice(c.acc, Rotation::cur());
        let h = m.query_fixed(c.bias, Rotation::cur());
        let pow = m.query_fixed(c.w[0], Rotation::cur());
        let relu = m.query_fixed(c.w[2], Rotation::cur());
        let r = (0..m_limbs).fold(Expression::Constant(Fr::zero()), |acc, j| {
            acc + m.query_advice(c.x[4 + j], Rotation::cur()) * m.query_fixed(c.w[3 + m_limbs + j], Rotation::cur())
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
    for j in 0..m_limbs {
        let (xl, tag, t) = (c.x[4 + j], c.tag[j], c.table);
        if j == 0 {
            let sign = c.x[3];
            meta.lookup("limb 0 (top limb of q) and sign", |m| {
                let s = m.query_selector(rng);
                let v = m.query_advice(xl, Rotation::cur());
                let sg = m.query_advice(sign, Rotation::cur());
                vec![(m.query_fixed(tag, Rotation::cur()), t[0]), (s.clone() * v, t[1]), (s * sg, t[2])]
            });
        } else {
            meta.lookup(format!("limb {j}"), |m| {
                let s = m.query_selector(rng);
                let v = m.query_advice(xl, Rotation::cur());
                vec![(m.query_fixed(tag, Rotation::cur()), t[0]), (s * v, t[1])]
            });
        }
    }
    RangeSelectors { rng, req, max }
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

/// Limb columns a row needs: the quotient's (`q_bits`) then the remainder's (`r_bits`).
pub fn limbs_needed(q_bits: u32, r_bits: u32, limb_bits: u32) -> usize {
    limb_widths(q_bits, limb_bits).len() + limb_widths(r_bits, limb_bits).len()
}

/// Splits `v` (expected in `[0, 2^sum(widths))`) into limbs, most significant first.
/// An out-of-range `v` yields a top limb outside its width, which the table rejects.
fn split(v: i64, widths: &[u32]) -> Vec<i64> {
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

/// Lays out one range row; returns `(cell of x or a, output cell)`.
/// `q_bits` is the quotient's range: `-2^(q_bits-1) <= q < 2^(q_bits-1)`.
pub fn assign_row(
    ctx: &mut Ctx<'_, '_>,
    (node, element): (usize, usize),
    kind: RowKind,
    q_bits: u32,
    out: i64,
) -> (Cell, Cell) {
    let lb = ctx.limb_bits;
    let m = ctx.cols.limbs();
    let row = ctx.next_row();
    ctx.enable(ctx.sel.range.rng, row);
    let offset = 1i64 << (q_bits - 1);
    let (mut q, mut r, shift) = match &kind {
        RowKind::Requant { x, shift, .. } => {
            let (q, r) = ir::rescale(x.0, *shift);
            (q, r, *shift)
        }
        RowKind::Max { a, b } => (a.0 - b.0, 0, 0),
    };
    // Negative-test hook: a dishonest quotient that keeps the rescale relation.
    let dq = ctx.tampered(node, element, TamperTarget::Quotient, 0);
    if dq != 0 {
        q += dq;
        r -= dq << shift;
    }
    let qw = limb_widths(q_bits, lb);
    let rw = limb_widths(shift, lb);
    debug_assert!(qw.len() + rw.len() <= m, "planner sized the limb columns");
    let ql = split(q + offset, &qw);
    let rl = split(r, &rw);
    let sign = ctx.tampered(node, element, TamperTarget::Sign, i64::from(q >= 0));

    let in_cell = match &kind {
        RowKind::Requant { x: (xv, src), shift, relu } => {
            ctx.enable(ctx.sel.range.req, row);
            ctx.fixed(ctx.cols.bias, row, if *shift == 0 { 0 } else { 1i64 << (shift - 1) });
            ctx.fixed_fe(ctx.cols.w[0], row, pow2(*shift));
            ctx.fixed(ctx.cols.w[2], row, i64::from(*relu));
            ctx.advice(ctx.cols.x[2], row, 0);
            match src {
                Some(cell) => ctx.copy(ctx.cols.x[0], row, *xv, *cell),
                None => ctx.advice(ctx.cols.x[0], row, *xv),
            }
        }
        RowKind::Max { a, b } => {
            ctx.enable(ctx.sel.range.max, row);
            ctx.copy(ctx.cols.x[2], row, b.0, b.1);
            ctx.copy(ctx.cols.x[0], row, a.0, a.1)
        }
    };
    ctx.advice(ctx.cols.x[1], row, q);
    ctx.advice(ctx.cols.x[3], row, sign);
    ctx.fixed_fe(ctx.cols.w[1], row, pow2(q_bits - 1));
    // Limb j: quotient limbs first (j = 0 is the top one, carrying the sign).
    let mut j = 0;
    for (i, (&w, &v)) in qw.iter().zip(&ql).enumerate() {
        let weight: u32 = qw[i + 1..].iter().sum();
        ctx.advice(ctx.cols.x[4 + j], row, v);
        ctx.fixed(ctx.cols.tag[j], row, w as i64);
        ctx.fixed_fe(ctx.cols.w[3 + j], row, pow2(weight));
        ctx.fixed(ctx.cols.w[3 + m + j], row, 0);
        j += 1;
    }
    for (i, (&w, &v)) in rw.iter().zip(&rl).enumerate() {
        let weight: u32 = rw[i + 1..].iter().sum();
        ctx.advice(ctx.cols.x[4 + j], row, v);
        ctx.fixed(ctx.cols.tag[j], row, w as i64);
        ctx.fixed(ctx.cols.w[3 + j], row, 0);
        ctx.fixed_fe(ctx.cols.w[3 + m + j], row, pow2(weight));
        j += 1;
    }
    for jj in j..m {
        ctx.advice(ctx.cols.x[4 + jj], row, 0);
        ctx.fixed(ctx.cols.w[3 + jj], row, 0);
        ctx.fixed(ctx.cols.w[3 + m + jj], row, 0);
    }
    let v = ctx.tampered(node, element, TamperTarget::Output, out);
    let oc = ctx.advice(ctx.cols.acc, row, v);
    (in_cell, oc)
}

fn pow2(n: u32) -> Fr {
    use halo2_proofs::halo2curves::ff::Field;
    Fr::from(2u64).pow_vartime([n as u64])
}
