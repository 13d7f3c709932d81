//! Where everything is: the proof's byte layout (in transcript order), the
//! verifying-key words, and the verifier's memory map. All offsets are fixed
//! by the [`Shape`], so the generated code addresses them as constants.

use crate::shape::Shape;

/// A challenge squeezed from the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// The circuit's own challenge `i` (multi-phase circuits).
    Circuit(usize),
    Theta,
    Beta,
    Gamma,
    Y,
    X,
    /// SHPLONK's `y`, `v` and `u`.
    ShY,
    ShV,
    ShU,
}

/// A squeeze: every proof byte before `at` that earlier squeezes did not
/// absorb is absorbed, then `challenge` is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Squeeze {
    pub at: usize,
    pub challenge: Challenge,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PermEvals {
    pub z: usize,
    pub z_next: usize,
    /// At `omega^-(blinding + 1) x`; every set but the last.
    pub z_last: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct LookupEvals {
    pub z: usize,
    pub z_next: usize,
    pub input: usize,
    pub input_prev: usize,
    pub table: usize,
}

/// Byte offsets within the proof (transcript order of halo2's verifier).
#[derive(Clone, Debug)]
pub(crate) struct ProofLayout {
    pub advice: Vec<usize>,
    /// `(permuted input, permuted table)` commitments of each lookup.
    pub lookup_permuted: Vec<(usize, usize)>,
    pub perm_z: Vec<usize>,
    pub lookup_z: Vec<usize>,
    pub random: usize,
    pub h: Vec<usize>,
    pub advice_evals: Vec<usize>,
    pub fixed_evals: Vec<usize>,
    pub random_eval: usize,
    pub sigma_evals: Vec<usize>,
    pub perm_evals: Vec<PermEvals>,
    pub lookup_evals: Vec<LookupEvals>,
    pub h1: usize,
    pub h2: usize,
    /// `[0, points_end)` holds points only, `[points_end, scalars_end)`
    /// scalars only; `h1` and `h2` follow.
    pub points_end: usize,
    pub scalars_end: usize,
    pub len: usize,
    pub squeezes: Vec<Squeeze>,
}

struct Cursor(usize);

impl Cursor {
    fn point(&mut self) -> usize {
        self.0 += 0x40;
        self.0 - 0x40
    }
    fn scalar(&mut self) -> usize {
        self.0 += 0x20;
        self.0 - 0x20
    }
}

impl ProofLayout {
    pub fn new(s: &Shape) -> ProofLayout {
        let mut c = Cursor(0);
        let mut squeezes = vec![];
        let mut advice = vec![0; s.num_advice];
        for phase in s.phases() {
            for (col, &p) in s.advice_phase.iter().enumerate() {
                if p == phase {
                    advice[col] = c.point();
                }
            }
            for (i, &p) in s.challenge_phase.iter().enumerate() {
                if p == phase {
                    squeezes.push(Squeeze { at: c.0, challenge: Challenge::Circuit(i) });
                }
            }
        }
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::Theta });
        let lookup_permuted = s.lookups.iter().map(|_| (c.point(), c.point())).collect();
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::Beta });
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::Gamma });
        let perm_z = (0..s.perm_sets()).map(|_| c.point()).collect();
        let lookup_z = s.lookups.iter().map(|_| c.point()).collect();
        let random = c.point();
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::Y });
        let h = (0..s.quotient_pieces).map(|_| c.point()).collect();
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::X });
        let points_end = c.0;
        let advice_evals = s.advice_queries.iter().map(|_| c.scalar()).collect();
        let fixed_evals = s.fixed_queries.iter().map(|_| c.scalar()).collect();
        let random_eval = c.scalar();
        let sigma_evals = s.perm_columns.iter().map(|_| c.scalar()).collect();
        let sets = s.perm_sets();
        let perm_evals = (0..sets)
            .map(|i| PermEvals { z: c.scalar(), z_next: c.scalar(), z_last: (i + 1 < sets).then(|| c.scalar()) })
            .collect();
        let lookup_evals = s
            .lookups
            .iter()
            .map(|_| LookupEvals {
                z: c.scalar(),
                z_next: c.scalar(),
                input: c.scalar(),
                input_prev: c.scalar(),
                table: c.scalar(),
            })
            .collect();
        let scalars_end = c.0;
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::ShY });
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::ShV });
        let h1 = c.point();
        squeezes.push(Squeeze { at: c.0, challenge: Challenge::ShU });
        let h2 = c.point();
        ProofLayout {
            advice,
            lookup_permuted,
            perm_z,
            lookup_z,
            random,
            h,
            advice_evals,
            fixed_evals,
            random_eval,
            sigma_evals,
            perm_evals,
            lookup_evals,
            h1,
            h2,
            points_end,
            scalars_end,
            len: c.0,
            squeezes,
        }
    }
}

/// A bump allocator of 32-byte memory words, remembering names for the
/// generated code's memory-map comment.
#[derive(Clone, Debug)]
pub(crate) struct Memory {
    next: usize,
    pub map: Vec<(usize, usize, String)>,
}

impl Memory {
    pub fn new(start: usize) -> Memory {
        Memory { next: start, map: vec![] }
    }

    pub fn alloc(&mut self, name: impl Into<String>, words: usize) -> usize {
        let at = self.next;
        self.next += 0x20 * words;
        self.map.push((at, words, name.into()));
        at
    }

    pub fn word(&mut self, name: impl Into<String>) -> usize {
        self.alloc(name, 1)
    }

    pub fn end(&self) -> usize {
        self.next
    }
}

/// The verifying-key words: constant per model, read from memory by the
/// verifier (stored there by the self-contained verifier, copied from the VK
/// contract's code by the reusable one). Addresses are absolute.
#[derive(Clone, Debug)]
pub(crate) struct VkLayout {
    pub base: usize,
    pub magic: usize,
    pub digest: usize,
    pub k: usize,
    pub n_inv: usize,
    pub omega: usize,
    pub num_instances: usize,
    pub repr: usize,
    pub g1: usize,
    pub neg_g2: usize,
    pub s_g2: usize,
    /// `omega^rot` for each rotation the verifier evaluates at (0 excluded).
    pub omega_rot: Vec<(i32, usize)>,
    pub fixed: Vec<usize>,
    pub sigma: Vec<usize>,
    pub words: usize,
}

/// First word of every VK: its format (a small number, so the VK contract's
/// code never starts with the 0xEF byte that EIP-3541 rejects).
pub(crate) const VK_MAGIC: u64 = 0x7a6b_6976_6b01; // "zkivk" 1

impl VkLayout {
    pub fn new(mem: &mut Memory, s: &Shape, rotations: &[i32]) -> VkLayout {
        let base = mem.end();
        let magic = mem.word("vk: format");
        let digest = mem.word("vk: shape digest");
        let k = mem.word("vk: k");
        let n_inv = mem.word("vk: 1/n");
        let omega = mem.word("vk: omega");
        let num_instances = mem.word("vk: number of instances");
        let repr = mem.word("vk: transcript repr");
        let g1 = mem.alloc("vk: G1", 2);
        let neg_g2 = mem.alloc("vk: -G2", 4);
        let s_g2 = mem.alloc("vk: s*G2", 4);
        let omega_rot =
            rotations.iter().filter(|&&r| r != 0).map(|&r| (r, mem.word(format!("vk: omega^{r}")))).collect();
        let fixed = (0..s.num_fixed).map(|i| mem.alloc(format!("vk: fixed commitment {i}"), 2)).collect();
        let sigma =
            (0..s.perm_columns.len()).map(|i| mem.alloc(format!("vk: permutation commitment {i}"), 2)).collect();
        let words = (mem.end() - base) / 0x20;
        VkLayout {
            base,
            magic,
            digest,
            k,
            n_inv,
            omega,
            num_instances,
            repr,
            g1,
            neg_g2,
            s_g2,
            omega_rot,
            fixed,
            sigma,
            words,
        }
    }

    pub fn omega_rot(&self, rot: i32) -> Option<usize> {
        self.omega_rot.iter().find(|(r, _)| *r == rot).map(|(_, a)| *a)
    }
}
