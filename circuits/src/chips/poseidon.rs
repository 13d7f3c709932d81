//! Poseidon ([`crate::poseidon`]) in-circuit: a row per full round and a row
//! per block of `block` partial rounds, over advice and fixed columns none of
//! them owned (the chip only touches its own rows, so the columns are shared
//! with the other chips).
//!
//! Columns: advice `A[0..3]` hold the state, `A[3..]` auxiliary cells;
//! fixed `F[..]` the constants. With `P` = `block` partial rounds per row
//! ([`poseidon::block`]), `A` has at least `max(6, 2P + 2)` columns and `F`
//! at least `max(3, P + 3)`.
//!
//! Layout of one hash of `len` elements from `offset`, per chunk (of
//! `max(1, ceil(len / 2))`):
//!
//! | row                | state `A[0..3]` | aux                                   | fixed                              | gate            |
//! |--------------------|-----------------|---------------------------------------|------------------------------------|-----------------|
//! | absorption         | state before    | `A[3], A[4]` = `m0, m1`               | `F[0..3]` = `f0, f1, cap` (`cap`: first chunk) | absorb (+ init) |
//! | full round `r`     | state           | `A[3 + i] = (s_i + rc_i)^2`           | `F[0..3]` = `rc[r]`                | full            |
//! | partial block `b`  | state           | `A[3 + j] = a_j`, `A[3 + P + j - 1] = v_j` | `F[j] = K_j`, `F[P + i] = E_i` | partial / tail  |
//!
//! 4 full rounds, `ceil(57 / P)` partial blocks (the last one, `tail`,
//! shorter when `P` does not divide 57), 4 full rounds; then one last row
//! holding the final state, whose `A[0]` is the digest:
//! [`rows`](crate::poseidon::rows)`(len, P) = chunks * (9 + ceil(57 / P)) + 1`.
//!
//! A partial block of `m` rounds from state `s`: round `j` applies the S-box
//! to its first element `v_j = s0_j + rc0_j` only, so every state element
//! within the block is an affine form in `s` and the S-box outputs
//! `y_j = v_j^5` whose coefficients depend only on the MDS matrix (constants
//! in the gate) and whose constant terms depend on the round constants
//! (`K_j`, `E_i`: fixed cells, computed by [`block_constants`]). The gate
//! checks `a_j = v_j^2` (so `y_j = a_j^2 v_j`, degree 3), `v_0 = s0 + K_0`,
//! `v_j = L_j(s, y_0..y_{j-1}) + K_j` for `j >= 1`, and the next row's
//! state `s'_i = E'_i(s, y) + E_i`.
//!
//! Gates (degree at most 4 with the selector):
//! - init (first absorption row): `s = (0, 0, cap)`, the capacity `len << 64`;
//! - absorb: `s' = s + (f0 * m0, f1 * m1, 0)`, where the fixed flags `f0, f1`
//!   are 1 for message elements and 0 for padding (so a padding cell is free);
//! - full round: `a_i = (s_i + rc_i)^2`, `s'_i = sum_j MDS_ij * a_j^2 * (s_j + rc_j)`;
//! - partial block (and tail): as above.
//!
//! where `'` is the next row. Equality is needed on `A[0]` (digest) and on
//! `A[3]`, `A[4]` (message cells). Cells no gate reads are left unassigned.

use halo2_proofs::{
    circuit::{Cell, Region, Value},
    plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector},
    poly::Rotation,
};

use crate::{
    field::Fr,
    poseidon::{self, capacity, chunks, constants, R_F, R_P, T},
};

#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    /// First absorption row: the initial state.
    pub init: Selector,
    /// Absorption rows.
    pub absorb: Selector,
    /// Full-round rows.
    pub full: Selector,
    /// Rows of `block` partial rounds.
    pub partial: Selector,
    /// The last partial block, of `R_P % block` rounds (when not 0).
    pub tail: Option<Selector>,
    /// Partial rounds per row.
    pub block: usize,
    pub advice: Vec<Column<Advice>>,
    pub fixed: Vec<Column<Fixed>>,
}

impl PoseidonConfig {
    /// Rows one hash of `len` elements takes.
    pub fn rows(&self, len: usize) -> usize {
        poseidon::rows(len, self.block)
    }
}

/// A partial block's affine forms over `[s0, s1, s2, y_0, .., y_{m-1}]`:
/// the S-box input of each round `j >= 1` (without its constant) and the
/// state after the block (without its constants). Index 0 of the first is
/// unused (`v_0 = s0 + K_0`).
fn block_forms(m: usize) -> (Vec<Vec<Fr>>, [Vec<Fr>; T]) {
    let mds = constants().mds;
    let n = T + m;
    let unit = |i: usize| {
        let mut v = vec![Fr::zero(); n];
        v[i] = Fr::one();
        v
    };
    let mut lin: [Vec<Fr>; T] = std::array::from_fn(unit);
    let mut inputs = Vec::with_capacity(m);
    for j in 0..m {
        inputs.push(lin[0].clone());
        let y = unit(T + j);
        let next: [Vec<Fr>; T] = std::array::from_fn(|i| {
            (0..n).map(|v| mds[i][0] * y[v] + mds[i][1] * lin[1][v] + mds[i][2] * lin[2][v]).collect()
        });
        lin = next;
    }
    (inputs, lin)
}

/// The constant terms of the partial block of `m` rounds from round `r0`:
/// `K_j` (S-box input of round `j`) and `E_i` (state after the block).
pub fn block_constants(r0: usize, m: usize) -> (Vec<Fr>, [Fr; T]) {
    let k = constants();
    let mut c = [Fr::zero(); T];
    let mut ks = Vec::with_capacity(m);
    for j in 0..m {
        let rc = k.rc[r0 + j];
        ks.push(c[0] + rc[0]);
        let (c1, c2) = (c[1] + rc[1], c[2] + rc[2]);
        c = std::array::from_fn(|i| k.mds[i][1] * c1 + k.mds[i][2] * c2);
    }
    (ks, c)
}

/// `sum_v coef[v] * vars[v]`, skipping zero coefficients.
fn form(coef: &[Fr], vars: &[Expression<Fr>]) -> Expression<Fr> {
    coef.iter()
        .zip(vars)
        .filter(|(c, _)| **c != Fr::zero())
        .fold(Expression::Constant(Fr::zero()), |acc, (c, v)| acc + Expression::Constant(*c) * v.clone())
}

fn partial_gate(
    meta: &mut ConstraintSystem<Fr>,
    q: Selector,
    m: usize,
    p: usize,
    advice: &[Column<Advice>],
    fixed: &[Column<Fixed>],
) {
    let (inputs, end) = block_forms(m);
    meta.create_gate("poseidon partial rounds", |meta| {
        let q = meta.query_selector(q);
        let s: Vec<Expression<Fr>> = (0..T).map(|i| meta.query_advice(advice[i], Rotation::cur())).collect();
        let next: Vec<Expression<Fr>> = (0..T).map(|i| meta.query_advice(advice[i], Rotation::next())).collect();
        let kf = |meta: &mut halo2_proofs::plonk::VirtualCells<'_, Fr>, i: usize| {
            meta.query_fixed(fixed[i], Rotation::cur())
        };
        let mut vars = s.clone();
        let mut cs = vec![];
        for j in 0..m {
            let a = meta.query_advice(advice[T + j], Rotation::cur());
            let k = kf(meta, j);
            let v = if j == 0 {
                s[0].clone() + k
            } else {
                let v = meta.query_advice(advice[T + p + j - 1], Rotation::cur());
                cs.push(q.clone() * (v.clone() - form(&inputs[j], &vars) - k));
                v
            };
            cs.push(q.clone() * (a.clone() - v.clone() * v.clone()));
            vars.push(a.clone() * a * v);
        }
        for (i, n) in next.into_iter().enumerate() {
            let e = kf(meta, p + i);
            cs.push(q.clone() * (n - form(&end[i], &vars) - e));
        }
        cs
    });
}

/// Configures the chip on `advice` (at least `max(6, 2 block + 2)` columns,
/// equality enabled here on `advice[0]`, `advice[3]`, `advice[4]`) and
/// `fixed` (at least `max(3, block + 3)`).
pub fn configure(
    meta: &mut ConstraintSystem<Fr>,
    advice: &[Column<Advice>],
    fixed: &[Column<Fixed>],
    block: usize,
) -> PoseidonConfig {
    let block = block.clamp(1, R_P);
    assert!(advice.len() >= (2 * block + 2).max(6), "poseidon chip: {} advice columns", advice.len());
    assert!(fixed.len() >= (block + 3).max(3), "poseidon chip: {} fixed columns", fixed.len());
    let tail_len = R_P % block;
    let cfg = PoseidonConfig {
        init: meta.selector(),
        absorb: meta.selector(),
        full: meta.selector(),
        partial: meta.selector(),
        tail: (tail_len > 0).then(|| meta.selector()),
        block,
        advice: advice.to_vec(),
        fixed: fixed.to_vec(),
    };
    for i in [0, 3, 4] {
        meta.enable_equality(advice[i]);
    }
    let state: [Column<Advice>; T] = std::array::from_fn(|i| advice[i]);
    let aux: [Column<Advice>; T] = std::array::from_fn(|i| advice[T + i]);
    let rc: [Column<Fixed>; T] = std::array::from_fn(|i| fixed[i]);
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

    partial_gate(meta, cfg.partial, block, block, advice, fixed);
    if let Some(tail) = cfg.tail {
        partial_gate(meta, tail, tail_len, block, advice, fixed);
    }
    cfg
}

/// Hashes `msg` starting at `offset` in `region`; each message element is
/// assigned in a fresh cell (returned, in order, so callers can
/// copy-constrain it to where the value is used) and, where `copy_from[i]` is
/// `Some`, constrained equal to that cell (entries past the end of
/// `copy_from` count as `None`); returns (message cells, digest cell, next
/// free row). `witness == false` assigns `Value::unknown()` everywhere
/// (keygen). The digest is [`poseidon::hash`]`(msg)`; the rows taken are
/// [`PoseidonConfig::rows`]`(msg.len())`.
pub fn assign(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    assign_inner(cfg, region, offset, msg, copy_from, witness, |_, _, v, _| v)
}

/// [`assign`], with `tamper = Some((row, column, delta))` adding `delta` to
/// the witness of one cell: `row` relative to `offset`, `column` an index
/// into the chip's advice columns (every other cell keeps its honest value).
/// Tests only (the `tamper` feature).
#[cfg(any(test, feature = "tamper"))]
pub fn assign_with_tamper(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
    tamper: Option<(usize, usize, Fr)>,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    assign_inner(cfg, region, offset, msg, copy_from, witness, |col, row, v, _| match tamper {
        Some((r, c, d)) if r + offset == row && c == col => v + d,
        _ => v,
    })
}

/// [`assign`], with every advice value passed through `hook(column, row,
/// value, padding)` (`column` an index into the chip's advice columns,
/// `row` absolute; `padding`: a message cell past the message's end, which
/// the absorb gate multiplies by a fixed 0) and the hook's result assigned:
/// the soundness audit's counter ([`crate::audit`]). Tests only (the
/// `tamper` feature).
#[cfg(any(test, feature = "tamper"))]
pub fn assign_hooked(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
    hook: impl Fn(usize, usize, Fr, bool) -> Fr,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    assign_inner(cfg, region, offset, msg, copy_from, witness, hook)
}

#[allow(clippy::needless_range_loop)] // i indexes the state, the message chunk and the columns alike
fn assign_inner(
    cfg: &PoseidonConfig,
    region: &mut Region<'_, Fr>,
    offset: usize,
    msg: &[Fr],
    copy_from: &[Option<Cell>],
    witness: bool,
    hook: impl Fn(usize, usize, Fr, bool) -> Fr,
) -> Result<(Vec<Cell>, Cell, usize), Error> {
    let k = constants();
    let p = cfg.block;
    let assign = |region: &mut Region<'_, Fr>, col: usize, row: usize, v: Fr, padding: bool| -> Cell {
        let v = hook(col, row, v, padding);
        let value = if witness { Value::known(v) } else { Value::unknown() };
        region.assign_advice(cfg.advice[col], row, value).cell()
    };
    let advice = |region: &mut Region<'_, Fr>, col: usize, row: usize, v: Fr| assign(region, col, row, v, false);
    // Partial blocks: (first round, rounds, constants).
    let half = R_F / 2;
    let blocks: Vec<(usize, usize, Vec<Fr>, [Fr; T])> = (0..R_P.div_ceil(p))
        .map(|b| {
            let (r0, m) = (half + b * p, p.min(R_P - b * p));
            let (ks, e) = block_constants(r0, m);
            (r0, m, ks, e)
        })
        .collect();

    let mut cells = Vec::with_capacity(msg.len());
    let mut s = [Fr::zero(), Fr::zero(), capacity(msg.len())];
    let mut row = offset;
    let full_round = |region: &mut Region<'_, Fr>, row: usize, r: usize, s: &mut [Fr; T]| -> Result<(), Error> {
        cfg.full.enable(region, row)?;
        for (i, (&si, &rci)) in s.iter().zip(&k.rc[r]).enumerate() {
            advice(region, i, row, si);
            region.assign_fixed(cfg.fixed[i], row, rci);
            advice(region, T + i, row, (si + rci).square());
        }
        poseidon::round(k, r, s);
        Ok(())
    };
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
            let cell = assign(region, T + i, row, m.unwrap_or(Fr::zero()), m.is_none());
            region.assign_fixed(cfg.fixed[i], row, if m.is_some() { Fr::one() } else { Fr::zero() });
            if let Some(m) = m {
                s[i] += m;
                cells.push(cell);
                if let Some(src) = copy_from.get(idx).copied().flatten() {
                    region.constrain_equal(cell, src);
                }
            }
        }
        region.assign_fixed(cfg.fixed[2], row, if c == 0 { s[2] } else { Fr::zero() });
        row += 1;

        for r in 0..half {
            full_round(region, row, r, &mut s)?;
            row += 1;
        }
        for (r0, m, ks, e) in &blocks {
            let sel = if *m == p { cfg.partial } else { cfg.tail.expect("a shorter last block has its selector") };
            sel.enable(region, row)?;
            for (i, v) in s.iter().enumerate() {
                advice(region, i, row, *v);
            }
            for j in 0..*m {
                let v = s[0] + k.rc[r0 + j][0];
                if j > 0 {
                    advice(region, T + p + j - 1, row, v);
                }
                advice(region, T + j, row, v.square());
                region.assign_fixed(cfg.fixed[j], row, ks[j]);
                poseidon::round(k, r0 + j, &mut s);
            }
            for (i, &ei) in e.iter().enumerate() {
                region.assign_fixed(cfg.fixed[p + i], row, ei);
            }
            row += 1;
        }
        for r in half + R_P..R_F + R_P {
            full_round(region, row, r, &mut s)?;
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
