//! Committed weight columns (`--param-visibility polycommit`;
//! `circuits::polycommit` lays them out): the prover leaves these advice
//! columns unblinded, so their commitments in the proof are a function of
//! the weights alone, computable by anyone from the SRS ([`points`]); the
//! chain sees [`digest`], `keccak256` of the points as the proof encodes them.
//!
//! halo2-axiom 0.5.3 blinds every advice column: `plonk/witness.rs` draws,
//! for each phase-0 advice column in index order, `blinding_factors + 1`
//! tail cells with `Fr::random` (eight `next_u64` each), then one `Blind`
//! per column, which KZG's `commit_lagrange` ignores. [`ZeroTails`] yields
//! zeros for exactly the weight columns' tail draws, so those tails are 0 as
//! in [`circuits::polycommit::weight_columns`]. That order is an
//! implementation detail of the pinned halo2-axiom, so every proof is
//! checked against the off-circuit points before it is returned
//! ([`check_proof`]): a different order fails loudly, never silently.

use std::ops::Range;

use halo2_proofs::{
    arithmetic::CurveAffine,
    halo2curves::group::Curve,
    plonk::VerifyingKey,
    poly::commitment::{Blind, Params},
};
use ir::Program;
use rand_core::RngCore;
use sha3::{Digest, Keccak256};

use crate::{error::ProverError, Bn256, G1Affine, ParamsKZG};

/// Bytes of one point in a proof (x, y: 32 bytes big-endian each).
pub const POINT_BYTES: usize = 64;

/// The commitments of `values`' weight columns (a weight set of `program`'s
/// architecture), as the proof carries them.
pub fn points(
    params: &ParamsKZG<Bn256>,
    program: &Program,
    shape: &circuits::CircuitShape,
    values: &[i64],
) -> Result<Vec<G1Affine>, ProverError> {
    if params.k() != shape.k {
        return Err(ProverError::Prove(format!(
            "committed weights need the SRS of k = {} (got k = {})",
            shape.k,
            params.k()
        )));
    }
    // Only the Lagrange basis of the 2^k rows matters here (no quotient).
    let domain = halo2_proofs::poly::EvaluationDomain::<crate::Fr>::new(1, shape.k);
    let cols = circuits::polycommit::weight_columns(program, shape, values);
    Ok(cols
        .into_iter()
        .map(|c| params.commit_lagrange(&domain.lagrange_from_vec(c), Blind::default()).to_affine())
        .collect())
}

fn values_hash(values: &[i64]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().into()
}

/// A cache of the commitments of one weight set (`weights.points` beside
/// the keys, written by setup): the program digest, keccak256 of the
/// values, then the points. It saves the prover's check one MSM per weight
/// column; a stale or edited file can only make that check fail (the proof
/// itself carries the real points).
pub fn points_file(digest: &[u8; 32], values: &[i64], points: &[G1Affine]) -> Vec<u8> {
    let mut out = digest.to_vec();
    out.extend_from_slice(&values_hash(values));
    for p in points {
        out.extend_from_slice(&encode(p));
    }
    out
}

/// The points of [`points_file`] bytes, when they are for `digest` and
/// `values` and hold `n` points.
pub fn read_points_file(bytes: &[u8], digest: &[u8; 32], values: &[i64], n: usize) -> Option<Vec<G1Affine>> {
    use halo2_proofs::halo2curves::{bn256::Fq, ff::PrimeField};
    if bytes.len() != 64 + n * POINT_BYTES || bytes[..32] != digest[..] || bytes[32..64] != values_hash(values) {
        return None;
    }
    let coord = |b: &[u8]| -> Option<Fq> {
        let mut le: [u8; 32] = b.try_into().ok()?;
        le.reverse();
        Option::from(Fq::from_repr(le))
    };
    bytes[64..]
        .chunks_exact(POINT_BYTES)
        .map(|c| Option::from(G1Affine::from_xy(coord(&c[..32])?, coord(&c[32..])?)))
        .collect()
}

/// A point as the EVM transcript writes it.
pub fn encode(p: &G1Affine) -> [u8; POINT_BYTES] {
    let mut out = [0u8; POINT_BYTES];
    let c = p.coordinates().expect("a weight column's commitment is a finite point (its marker row is 1)");
    let (mut x, mut y) = (c.x().to_bytes(), c.y().to_bytes());
    x.reverse();
    y.reverse();
    out[..32].copy_from_slice(&x);
    out[32..].copy_from_slice(&y);
    out
}

/// What the chain sees: `keccak256` of the encoded points, concatenated in
/// column order (the bytes as they sit in the proof).
pub fn digest_bytes(encoded: &[u8]) -> [u8; 32] {
    Keccak256::digest(encoded).into()
}

pub fn digest(points: &[G1Affine]) -> [u8; 32] {
    let bytes: Vec<u8> = points.iter().flat_map(encode).collect();
    digest_bytes(&bytes)
}

/// The bytes of the weight columns' commitments in `proof`: the proof opens
/// with the phase-0 advice commitments in column order, 64 bytes each.
/// `None` when the proof is too short.
pub fn proof_points<'a>(proof: &'a [u8], columns: &[usize]) -> Option<Vec<&'a [u8]>> {
    columns.iter().map(|&c| proof.get(c * POINT_BYTES..(c + 1) * POINT_BYTES)).collect()
}

/// `keccak256` of the weight columns' commitments read from `proof`.
pub fn proof_digest(proof: &[u8], columns: &[usize]) -> Option<[u8; 32]> {
    let pts = proof_points(proof, columns)?;
    Some(digest_bytes(&pts.concat()))
}

/// Whether `proof` carries exactly `expected` as its weight columns' commitments.
pub fn check_proof(proof: &[u8], columns: &[usize], expected: &[G1Affine]) -> Result<(), ProverError> {
    let got = proof_points(proof, columns).ok_or_else(|| ProverError::Prove("proof too short".into()))?;
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        if *g != encode(e).as_slice() {
            return Err(ProverError::Prove(format!(
                "committed weight column {i} (advice column {}) does not carry the commitment of the weights \
                 being proven: the witness's weight lanes differ from them, or the prover's blinding order is \
                 not the pinned halo2-axiom's (prover::polycommit); no proof is returned",
                columns[i]
            )));
        }
    }
    Ok(())
}

/// The rng `create_proof` gets: zeros for the weight columns' tail draws,
/// `inner` otherwise.
pub struct ZeroTails<R> {
    inner: R,
    calls: u64,
    zero: Vec<Range<u64>>,
}

impl<R: RngCore> ZeroTails<R> {
    /// `columns`: the weight columns' advice indices; every advice column
    /// must be in phase 0 (checked by the caller through `vk`).
    pub fn new(inner: R, vk: &VerifyingKey<G1Affine>, columns: &[usize]) -> Result<Self, ProverError> {
        let cs = vk.cs();
        if cs.advice_column_phase().iter().any(|&p| p != 0) {
            return Err(ProverError::Prove("committed weights need a single-phase circuit".into()));
        }
        // Eight `next_u64` per `Fr::random` (halo2curves-axiom 0.7.3).
        let per_col = (cs.blinding_factors() as u64 + 1) * 8;
        let zero = columns.iter().map(|&c| c as u64 * per_col..(c as u64 + 1) * per_col).collect();
        Ok(ZeroTails { inner, calls: 0, zero })
    }
}

impl<R: RngCore> RngCore for ZeroTails<R> {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        let i = self.calls;
        self.calls += 1;
        if self.zero.iter().any(|r| r.contains(&i)) {
            0
        } else {
            self.inner.next_u64()
        }
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // Not used by halo2's field sampling; counted as one call per 8 bytes
        // so the draw positions stay aligned if it ever is.
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
