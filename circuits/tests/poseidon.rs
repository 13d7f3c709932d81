//! The Poseidon chip against the native hash under MockProver, and its
//! failures: a wrong instance, a message cell that differs from its
//! `copy_from` source, and a tampered intermediate state or aux cell.
//!
//! Every test runs for several partial-block sizes (1, 2, 3, 5, 8: with
//! and without a shorter last block).
//!
//! Cost: `rows(len, P) = max(1, ceil(len / 2)) * (9 + ceil(57 / P)) + 1`,
//! e.g. `rows(650, 8) = 5526` (about 8.5 rows per hashed element; 33 with
//! one partial round per row).

use circuits::{
    chips::poseidon::{self as chip, PoseidonConfig},
    fe,
    poseidon::{self, hash, rows},
    Fr,
};
use halo2_proofs::{
    circuit::{Layouter, SimpleFloorPlanner, Value},
    dev::{MockProver, VerifyFailure},
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance},
};

#[derive(Clone, Debug)]
struct Config {
    poseidon: PoseidonConfig,
    /// Where the copy sources live (the values as "used elsewhere").
    src: Column<Advice>,
    instance: Column<Instance>,
}

#[derive(Clone, Default)]
struct HashCircuit {
    msg: Vec<Fr>,
    /// Rows before the hash in the region.
    offset: usize,
    /// Copy every message element from a source cell holding `msg[i]`.
    copy: bool,
    /// Hash `msg` with element `.0` replaced by `.1` (the sources keep `msg`).
    tamper_msg: Option<(usize, Fr)>,
    /// `assign_with_tamper`'s (row, column, delta).
    tamper_cell: Option<(usize, usize, Fr)>,
    /// Partial rounds per row.
    block: usize,
}

const BLOCKS: [usize; 5] = [1, 2, 3, 5, 8];

impl Circuit<Fr> for HashCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = usize;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> usize {
        self.block
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, block: usize) -> Config {
        let advice: Vec<_> = (0..(2 * block + 2).max(6)).map(|_| meta.advice_column()).collect();
        let fixed: Vec<_> = (0..(block + 3).max(3)).map(|_| meta.fixed_column()).collect();
        let src = meta.advice_column();
        meta.enable_equality(src);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        Config { poseidon: chip::configure(meta, &advice, &fixed, block), src, instance }
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        Self::configure_with_params(meta, 1)
    }

    fn synthesize(&self, config: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let digest = layouter.assign_region(
            || "hash",
            |mut region| {
                let copy_from: Vec<_> = if self.copy {
                    self.msg
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Some(region.assign_advice(config.src, i, Value::known(v)).cell()))
                        .collect()
                } else {
                    vec![]
                };
                let mut msg = self.msg.clone();
                if let Some((i, v)) = self.tamper_msg {
                    msg[i] = v;
                }
                let (cells, digest, next) = chip::assign_with_tamper(
                    &config.poseidon,
                    &mut region,
                    self.offset,
                    &msg,
                    &copy_from,
                    true,
                    self.tamper_cell,
                )?;
                assert_eq!(cells.len(), msg.len());
                assert_eq!(next - self.offset, rows(msg.len(), self.block));
                assert_eq!(config.poseidon.rows(msg.len()), rows(msg.len(), self.block));
                Ok(digest)
            },
        )?;
        layouter.constrain_instance(digest, config.instance, 0);
        Ok(())
    }
}

fn k_for(c: &HashCircuit) -> u32 {
    let needed = c.offset.max(c.msg.len()) + rows(c.msg.len(), c.block) + 10;
    needed.next_power_of_two().trailing_zeros().max(4)
}

fn run(c: &HashCircuit, instance: Fr) -> Result<(), Vec<VerifyFailure>> {
    MockProver::run(k_for(c), c, vec![vec![instance]]).unwrap().verify()
}

fn msg(n: usize) -> Vec<Fr> {
    (0..n).map(|i| fe(i as i64 * 37 - 500) * fe(1 << 40) + fe(i as i64)).collect()
}

const LENGTHS: [usize; 6] = [0, 1, 2, 3, 5, 40];

#[test]
fn poseidon_digest_matches_native_hash() {
    for block in BLOCKS {
        for n in LENGTHS {
            for (offset, copy) in [(0, false), (3, true)] {
                let c = HashCircuit { msg: msg(n), offset, copy, block, ..Default::default() };
                assert_eq!(run(&c, hash(&c.msg)), Ok(()), "block {block}, n = {n}, offset = {offset}, copy = {copy}");
            }
        }
    }
}

#[test]
fn poseidon_wrong_instance_fails() {
    for n in LENGTHS {
        let c = HashCircuit { msg: msg(n), block: 8, ..Default::default() };
        let h = hash(&c.msg);
        let err = run(&c, h + Fr::one()).unwrap_err();
        assert!(err.iter().all(|e| matches!(e, VerifyFailure::Permutation { .. })), "n = {n}: {err:?}");
        // Zero-padding must not make an odd message hash like its even extension.
        if n % 2 == 1 {
            let mut padded = c.msg.clone();
            padded.push(Fr::zero());
            assert!(run(&c, hash(&padded)).is_err(), "n = {n}");
        }
    }
}

/// The hashed value differs from the copy source: only the copy constraint
/// can catch it (the instance is the hash of what was hashed).
#[test]
fn poseidon_broken_copy_fails() {
    for n in [1, 2, 3, 40] {
        for i in [0, n - 1] {
            let mut tampered = msg(n);
            tampered[i] += Fr::one();
            let c = HashCircuit {
                msg: msg(n),
                copy: true,
                tamper_msg: Some((i, tampered[i])),
                block: 5,
                ..Default::default()
            };
            let err = run(&c, hash(&tampered)).unwrap_err();
            assert!(err.iter().all(|e| matches!(e, VerifyFailure::Permutation { .. })), "n = {n}: {err:?}");
            // Without the copy, the same hash is accepted.
            let c = HashCircuit { copy: false, ..c };
            assert_eq!(run(&c, hash(&tampered)), Ok(()));
        }
    }
}

fn gate_failure(err: &[VerifyFailure]) -> bool {
    err.iter().any(|e| matches!(e, VerifyFailure::ConstraintNotSatisfied { .. }))
}

/// One tampered cell (honest values everywhere else, instance = the honest
/// digest): a gate rejects it, for every block size.
#[test]
fn poseidon_tampered_cell_fails() {
    let n = 5; // three chunks; the last one absorbs msg[4] and a padding zero
    for block in BLOCKS {
        let nb = 57usize.div_ceil(block);
        let len = 9 + nb; // rows per chunk
        let first_partial = 5; // absorption row, then four full rounds
        let last_partial = first_partial + nb - 1;
        let last = rows(n, block) - 1;
        let mut cases = vec![
            (0, 2),                // initial capacity
            (0, 0),                // initial state[0]
            (1, 0),                // state after the first absorption
            (3, 4),                // aux of a full round
            (first_partial, 3),    // a_0 of a partial block
            (first_partial, 2),    // state entering a partial block
            (last_partial, 3),     // a_0 of the last partial block
            (last_partial + 1, 1), // state after the partial rounds
            (2 * len - 1, 1),      // last full round of the second chunk
            (len, 4),              // a message cell (the instance still is the honest hash)
            (2 * len, 4),          // the padding cell is free: must NOT fail (see below)
            (last, 0),             // the digest
            (last, 1),             // the final state's other elements
        ];
        if block > 1 {
            cases.push((first_partial, 3 + 1)); // a_1
            cases.push((first_partial, 3 + block)); // v_1
            cases.push((first_partial + 1, 3 + block + block - 2)); // the block's last v
        }
        for (row, col) in cases {
            let c = HashCircuit { msg: msg(n), tamper_cell: Some((row, col, fe(7))), block, ..Default::default() };
            let res = run(&c, hash(&c.msg));
            if (row, col) == (2 * len, 4) {
                // The last chunk's aux[1] is the zero padding, multiplied by a 0 flag.
                assert_eq!(res, Ok(()), "block {block}");
            } else {
                let err = res.unwrap_err();
                assert!(gate_failure(&err), "block {block}, row {row}, col {col}: {err:?}");
            }
        }
    }
}

#[test]
fn poseidon_gate_degree_at_most_4() {
    for block in BLOCKS {
        let mut meta = ConstraintSystem::<Fr>::default();
        let _ = HashCircuit::configure_with_params(&mut meta, block);
        let max = meta.gates().iter().flat_map(|g| g.polynomials()).map(|p| p.degree()).max().unwrap();
        assert_eq!(max, 4, "block {block}");
        assert!(meta.degree() <= 4, "block {block}: cs degree {}", meta.degree());
    }
}

#[test]
fn poseidon_rows_formula() {
    assert_eq!(rows(0, 1), 67);
    assert_eq!(rows(40, 1), 20 * 66 + 1);
    assert_eq!(rows(40, 8), 20 * 17 + 1);
    assert_eq!(rows(650, 8), 5526);
    assert_eq!(poseidon::ROUNDS, 65);
}
