//! The one lookup table, `(tag, in, out)`, and the four lookups that read it.
//!
//! Sections (rows):
//! - `(0, 0, 0)`: what inactive rows look up.
//! - `TAG_REM`: `(1, v, 0)` for `0 <= v < 2^rem_bits` (remainder limbs).
//! - `TAG_RANGE`: `(2, v, v)` for `-2^range_bits <= v < 2^range_bits`.
//! - `TAG_RELU`: `(3, v, max(v, 0))` over the same range: rescale and ReLU
//!   fused into the quotient's range check.
//!
//! Requant rows look up `(act, q, out)`, `(REM, r0, 0)`, `(REM, r1, 0)`,
//! `(REM, r2, 0)`. Max rows look up `(RANGE, m - a - 2^B, same)` and
//! `(RANGE, m - b - 2^B, same)`: both differences lie in `[0, 2^(B+1))`.

use halo2_proofs::{
    circuit::{Layouter, Value},
    plonk::{ConstraintSystem, Error, Expression, Selector},
    poly::Rotation,
};

use crate::{columns::Columns, field::fe, field::Fr};

pub const TAG_NONE: u64 = 0;
pub const TAG_REM: u64 = 1;
pub const TAG_RANGE: u64 = 2;
pub const TAG_RELU: u64 = 3;

/// Number of table rows for these bit widths.
pub fn table_rows(rem_bits: u32, range_bits: u32) -> usize {
    1 + (1usize << rem_bits) + 2 * (1usize << (range_bits + 1))
}

/// Registers the four lookups. `q_req` and `q_max` are complex selectors.
pub fn configure_lookups(
    meta: &mut ConstraintSystem<Fr>,
    cols: &Columns,
    q_req: Selector,
    q_max: Selector,
    range_bits: u32,
) {
    let offset = Expression::Constant(fe(1i64 << range_bits));
    let t = cols.table;
    let x = cols.x.clone();
    let acc = cols.acc;
    let tags = cols.tag;
    let off = offset.clone();
    meta.lookup("quotient range + activation | max diff a", |m| {
        let (sr, sm) = (m.query_selector(q_req), m.query_selector(q_max));
        let (x0, x1, out) = (m.query_advice(x[0], Rotation::cur()), m.query_advice(x[1], Rotation::cur()), m.query_advice(acc, Rotation::cur()));
        let tag = m.query_fixed(tags[0], Rotation::cur());
        let d = sm * (out.clone() - x0 - off.clone());
        vec![(tag, t[0]), (sr.clone() * x1 + d.clone(), t[1]), (sr * out + d, t[2])]
    });
    let off = offset;
    meta.lookup("remainder limb 0 | max diff b", |m| {
        let (sr, sm) = (m.query_selector(q_req), m.query_selector(q_max));
        let (x1, x2, out) = (m.query_advice(x[1], Rotation::cur()), m.query_advice(x[2], Rotation::cur()), m.query_advice(acc, Rotation::cur()));
        let tag = m.query_fixed(tags[1], Rotation::cur());
        let d = sm * (out - x1 - off.clone());
        vec![(tag, t[0]), (sr * x2 + d.clone(), t[1]), (d, t[2])]
    });
    for (j, name) in [(2usize, "remainder limb 1"), (3, "remainder limb 2")] {
        meta.lookup(name, |m| {
            let sr = m.query_selector(q_req);
            let xl = m.query_advice(x[j + 1], Rotation::cur());
            let tag = m.query_fixed(tags[j], Rotation::cur());
            vec![(tag, t[0]), (sr * xl, t[1]), (Expression::Constant(Fr::zero()), t[2])]
        });
    }
}

/// Fills the table.
pub fn assign_table(layouter: &mut impl Layouter<Fr>, cols: &Columns, rem_bits: u32, range_bits: u32) -> Result<(), Error> {
    let mut rows: Vec<(u64, i64, i64)> = Vec::with_capacity(table_rows(rem_bits, range_bits));
    rows.push((TAG_NONE, 0, 0));
    rows.extend((0..1i64 << rem_bits).map(|v| (TAG_REM, v, 0)));
    let r = 1i64 << range_bits;
    rows.extend((-r..r).map(|v| (TAG_RANGE, v, v)));
    rows.extend((-r..r).map(|v| (TAG_RELU, v, v.max(0))));
    layouter.assign_table(
        || "lookup table",
        |mut table| {
            for (i, &(tag, a, b)) in rows.iter().enumerate() {
                table.assign_cell(|| "tag", cols.table[0], i, || Value::known(Fr::from(tag)))?;
                table.assign_cell(|| "in", cols.table[1], i, || Value::known(fe(a)))?;
                table.assign_cell(|| "out", cols.table[2], i, || Value::known(fe(b)))?;
            }
            Ok(())
        },
    )
}
