//! Poseidon ([`crate::poseidon`]) in-circuit: one row per round, over three
//! state and three auxiliary advice columns and three fixed columns, none of
//! them owned (the chip only touches its own rows, so the columns can be
//! shared with the other chips).
//!
//! Layout of one hash of `len` elements from `offset`, per chunk `c` (of
//! `max(1, ceil(len / 2))`) at `base = offset + 66 c`:
//!
//! | row        | state `s`        | aux `a`                   | fixed `rc`                    | gate            |
//! |------------|------------------|---------------------------|-------------------------------|-----------------|
//! | `base`     | state before     | `m0, m1, -`               | `f0, f1, cap` (`cap`: c = 0)  | absorb (+ init) |
//! | `base+1+r` | state of round r | `(s_i + rc_i)^2` (full: 3, partial: `a_0` only) | `rc[r]` | full / partial |
//!
//! and one last row holding the final state, whose `s[0]` is the digest:
//! [`rows`](crate::poseidon::rows)`(len) = 66 * chunks + 1`.
//!
//! Gates (degree at most 4 with the selector; MDS entries are constants):
//! - init (first absorption row): `s = (0, 0, rc_2)`, the capacity `len << 64`;
//! - absorb: `s' = s + (f0 * a0, f1 * a1, 0)`, where the fixed flags `f0, f1`
//!   are 1 for message elements and 0 for padding (so a padding cell is free);
//! - full round: `a_i = (s_i + rc_i)^2`, `s'_i = sum_j MDS_ij * a_j^2 * (s_j + rc_j)`;
//! - partial round: `a_0 = (s_0 + rc_0)^2`,
//!   `s'_i = MDS_i0 * a_0^2 * (s_0 + rc_0) + sum_{j>0} MDS_ij * (s_j + rc_j)`;
//!
//! where `'` is the next row. Equality is enabled on `s[0]` (digest) and on
//! `a[0]`, `a[1]` (message cells). Cells no gate reads (`a_1, a_2` of partial
//! rounds, `a` of the last row) are left unassigned.

use halo2_proofs::{
    circuit::{Cell, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector},
    poly::Rotation,
};

use crate::{
    field::Fr,
    poseidon::{self, capacity, chunks, constants, is_full_round, ROUNDS, T},
};

#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    /// First absorption row: the initial state.
    pub init: Selector,
    /// Absorption rows.
    pub absorb: Selector,
    /// Full-round rows.
    pub full: Selector,
    /// Partial-round rows.
    pub partial: Selector,
    pub state: [Column<Advice>; 3],
    pub aux: [Column<Advice>; 3],
    pub rc: [Column<Fixed>; 3],
}

pub fn configure(
    meta: &mut ConstraintSystem<Fr>,
    state: [Column<Advice>; 3],
    aux: [Column<Advice>; 3],
    rc: [Column<Fixed>; 3],
) -> PoseidonConfig {
    let cfg = PoseidonConfig {
        init: meta.selector(),
        absorb: meta.selector(),
        full: meta.selector(),
        partial: meta.selector(),
        state,
        aux,
        rc,
    };
    meta.enable_equality(state[0]);
    meta.enable_equality(aux[0]);
    meta.enable_equality(aux[1]);
    let mds = constants().mds;
    let c = |v: Fr| Expression::Constant(v);

    meta.create_gate("poseidon init: s = (0, 0, len << 64)", |m| {
        let q = m.query_selector(cfg.init);
        let s = state.map(|col| m.query_advice(col, Rotation::cur()));
        let cap = m.query_fixed(rc[2], Rotation::cur());
        let [s0, s1, s2] = s;
        vec![q.clone() * s0, q.clone() * s1, q * (s2 - cap)]
    });

    meta.create_gate("poseidon absorb: s' = s + (f0*m0, f1*m1, 0)", |m| {
        let q = m.query_selector(cfg.absorb);
        let s = state.map(|col| m.query_advice(col, Rotation::cur()));
        let next = state.map(|col| m.query_advice(col, Rotation::next()));
        let a = aux.map(|col| m.query_advice(col, Rotation::cur()));
        let f = rc.map(|col| m.query_fixed(col, Rotation::cur()));
        let [s0, s1, s2] = s;
        let [n0, n1, n2] = next;
        let [a0, a1, _] = a;
        let [f0, f1, _] = f;
        vec![q.clone() * (n0 - s0 - f0 * a0), q.clone() * (n1 - s1 - f1 * a1), q * (n2 - s2)]
    });

    meta.create_gate("poseidon full round", |m| {
        let q = m.query_selector(cfg.full);
        let x: [Expression<Fr>; T] =
            std::array::from_fn(|i| m.query_advice(state[i], Rotation::cur()) + m.query_fixed(rc[i], Rotation::cur()));
        let a = aux.map(|col| m.query_advice(col, Rotation::cur()));
        let next = state.map(|col| m.query_advice(col, Rotation::next()));
        let sbox: [Expression<Fr>; T] = std::array::from_fn(|j| a[j].clone() * a[j].clone() * x[j].clone());
        let mut cs = Vec::with_capacity(2 * T);
        for i in 0..T {
            cs.push(q.clone() * (a[i].clone() - x[i].clone() * x[i].clone()));
        }
        for (i, n) in next.into_iter().enumerate() {
            let mix = (0..T).fold(c(Fr::zero()), |acc, j| acc + c(mds[i][j]) * sbox[j].clone());
            cs.push(q.clone() * (n - mix));
        }
        cs
    });

    meta.create_gate("poseidon partial round", |m| {
        let q = m.query_selector(cfg.partial);
        let x: [Expression<Fr>; T] =
            std::array::from_fn(|i| m.query_advice(state[i], Rotation::cur()) + m.query_fixed(rc[i], Rotation::cur()));
        let a0 = m.query_advice(aux[0], Rotation::cur());
        let next = state.map(|col| m.query_advice(col, Rotation::next()));
        let sbox0 = a0.clone() * a0.clone() * x[0].clone();
        let mut cs = vec![q.clone() * (a0 - x[0].clone() * x[0].clone())];
        for (i, n) in next.into_iter().enumerate() {
            let mix = (1..T).fold(c(mds[i][0]) * sbox0.clone(), |acc, j| acc + c(mds[i][j]) * x[j].clone());
            cs.push(q.clone() * (n - mix));
        }
        cs
    });

    cfg
}

/// Hashes `msg` starting at `offset` in `region`; each message element is
/// assigned in a fresh cell (returned, in order, so callers can
/// copy-constrain it to where the value is used) and, where `copy_from[i]` is
/// `Some`, constrained equal to that cell (entries past the end of
/// `copy_from` count as `None`); returns (message cells, digest cell, next
/// free row). `witness == false` assigns `Value::unknown()` everywhere
/// (keygen). The digest is [`poseidon::hash`]`(msg)`; the rows taken are
/// [`poseidon::rows`]`(msg.len())`.
pub fn assign(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    assign_with_tamper(cfg, region, offset, msg, copy_from, witness, None)
}

/// [`assign`], with `tamper = Some((row, column, delta))` adding `delta` to
/// the witness of one cell: `row` relative to `offset`, `column` 0..3 the
/// state and 3..6 the aux columns (every other cell keeps its honest value).
/// Tests only.
#[doc(hidden)]
#[allow(clippy::needless_range_loop)] // i indexes the state, the message chunk and the columns alike
pub fn assign_with_tamper(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
    tamper: Option<(usize, usize, Fr)>,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    let k = constants();
    let advice = |region: &mut Region<'_, Fr>, col: usize, row: usize, v: Fr| -> Cell {
        let v = match tamper {
            Some((r, c, d)) if r + offset == row && c == col => v + d,
            _ => v,
        };
        let column = if col < T { cfg.state[col] } else { cfg.aux[col - T] };
        let value = if witness { Value::known(v) } else { Value::unknown() };
        region.assign_advice(column, row, value).cell()
    };

    let mut cells = Vec::with_capacity(msg.len());
    let mut s = [Fr::zero(), Fr::zero(), capacity(msg.len())];
    let mut row = offset;
    for c in 0..chunks(msg.len()) {
        // Absorption row.
        cfg.absorb.enable(region, row)?;
        if c == 0 {
            cfg.init.enable(region, row)?;
        }
        for (i, v) in s.iter().enumerate() {
            advice(region, i, row, *v);
        }
        for i in 0..poseidon::RATE {
            let idx = c * poseidon::RATE + i;
            let m = msg.get(idx).copied();
            let cell = advice(region, T + i, row, m.unwrap_or(Fr::zero()));
            region.assign_fixed(cfg.rc[i], row, if m.is_some() { Fr::one() } else { Fr::zero() });
            if let Some(m) = m {
                s[i] += m;
                cells.push(cell);
                if let Some(src) = copy_from.get(idx).copied().flatten() {
                    region.constrain_equal(cell, src);
                }
            }
        }
        region.assign_fixed(cfg.rc[2], row, if c == 0 { s[2] } else { Fr::zero() });
        row += 1;

        // Round rows.
        for r in 0..ROUNDS {
            let full = is_full_round(r);
            if full {
                cfg.full.enable(region, row)?;
            } else {
                cfg.partial.enable(region, row)?;
            }
            for (i, (&si, &rci)) in s.iter().zip(&k.rc[r]).enumerate() {
                advice(region, i, row, si);
                region.assign_fixed(cfg.rc[i], row, rci);
                if full || i == 0 {
                    let x = si + rci;
                    advice(region, T + i, row, x.square());
                }
            }
            poseidon::round(k, r, &mut s);
            row += 1;
        }
    }
    // The final state; s[0] is the digest.
    let digest = advice(region, 0, row, s[0]);
    for (i, v) in s.iter().enumerate().skip(1) {
        advice(region, i, row, *v);
    }
    Ok((cells, digest, row + 1))
}
