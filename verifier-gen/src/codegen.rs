//! The verifier's body: one Yul block that checks the calldata, replays the
//! transcript, evaluates the quotient identity (gates, permutation, lookups),
//! computes the SHPLONK multi-scalar multiplication and does the pairing.
//!
//! Memory map (words): scratch for precompile calls, challenges, derived
//! values, the VK words, per-point values, then a dynamic region used first as
//! the transcript buffer and then for the batch inversion (its size grows
//! with the number of instances, so it comes last).

use halo2_proofs::halo2curves::{
    bn256::Fr,
    ff::{Field, PrimeField},
};

use crate::{
    error::GenError,
    evaluator::Emitter,
    expr::{Ex, Query},
    layout::{Challenge, Memory, ProofLayout, VkLayout},
    pcs::{self, Comm, RotationSet},
    shape::Shape,
};

/// The BN254 scalar field modulus `r`.
pub(crate) const R: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
/// The BN254 base field modulus `p`.
pub(crate) const P: &str = "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

/// How the verifier gets its VK words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stored by the contract itself (`verifyProof(bytes, uint256[])`).
    SelfContained,
    /// Copied from the code of a VK contract (`verifyProof(address, bytes, uint256[])`).
    Separate,
}

/// Everything the code generator decides, before writing any code.
pub(crate) struct Plan {
    pub shape: Shape,
    pub proof: ProofLayout,
    pub vk: VkLayout,
    pub mem: Memory,
    pub sets: Vec<RotationSet>,
    pub super_rots: Vec<i32>,
    /// Calldata offsets of the proof's and the instances' first bytes.
    pub proof_cptr: usize,
    pub inst_cptr: usize,
    ch: Vec<(Challenge, usize)>,
    d: Derived,
    /// `(u - x omega^rot)` and `x omega^rot` per rotation of the super set.
    diff: Vec<(i32, usize, usize)>,
    coef: Vec<usize>,
    basis: Vec<Vec<usize>>,
    inv: InvPlan,
}

struct Derived {
    xn: usize,
    lc: usize,
    l0: usize,
    l_last: usize,
    l_blind: usize,
    active: usize,
    beta_x: usize,
    inst_eval: usize,
    inst_num: usize,
    h_eval: usize,
    r_outer: usize,
}

/// Slots of the batch inversion (before the per-instance slots).
struct InvPlan {
    base: usize,
    xn_minus_1: usize,
    /// `x - omega^-j` for `j = 0..=blinding + 1`.
    x_minus_omega_neg: Vec<usize>,
    z_diff_0: usize,
    /// `prod_{t != s} (point_s - point_t)` per set (empty for singletons) and point.
    denom: Vec<Vec<usize>>,
    fixed_slots: usize,
}

impl InvPlan {
    fn at(&self, slot: usize) -> usize {
        self.base + 0x20 * slot
    }
}

impl Plan {
    pub fn new(shape: Shape, mode: Mode) -> Result<Plan, GenError> {
        let proof = ProofLayout::new(&shape);
        let proof_cptr = match mode {
            Mode::SelfContained => 0x64,
            Mode::Separate => 0x84,
        };
        let inst_cptr = proof_cptr + proof.len + 0x20;
        let mut mem = Memory::new(0x200);
        let mut ch = vec![];
        for i in 0..shape.challenge_phase.len() {
            ch.push((Challenge::Circuit(i), mem.word(format!("challenge {i}"))));
        }
        for (c, name) in [
            (Challenge::Theta, "theta"),
            (Challenge::Beta, "beta"),
            (Challenge::Gamma, "gamma"),
            (Challenge::Y, "y"),
            (Challenge::X, "x"),
            (Challenge::ShY, "shplonk y"),
            (Challenge::ShV, "shplonk v"),
            (Challenge::ShU, "shplonk u"),
        ] {
            ch.push((c, mem.word(name)));
        }
        let d = Derived {
            xn: mem.word("x^n"),
            lc: mem.word("(x^n - 1) / n"),
            l0: mem.word("l_0(x)"),
            l_last: mem.word("l_last(x)"),
            l_blind: mem.word("l_blind(x)"),
            active: mem.word("1 - l_last(x) - l_blind(x)"),
            beta_x: mem.word("beta * x"),
            inst_eval: mem.word("instance evaluation"),
            inst_num: mem.word("instance sum's numerator"),
            h_eval: mem.word("h(x)"),
            r_outer: mem.word("SHPLONK r_outer"),
        };
        let queries = pcs::queries(&shape, &proof, proof_cptr, Ex::Mem(d.h_eval));
        let (sets, super_rots) = pcs::rotation_sets(&queries)?;
        let b = shape.blinding_factors as i32;
        let mut rotations = super_rots.clone();
        rotations.extend((1..=b + 1).map(|j| -j));
        rotations.sort_unstable();
        rotations.dedup();
        let vk = VkLayout::new(&mut mem, &shape, &rotations);
        let diff = super_rots
            .iter()
            .map(|&r| (r, mem.word(format!("u - x omega^{r}")), mem.word(format!("x omega^{r}"))))
            .collect();
        let coef = (0..sets.len()).map(|i| mem.word(format!("coefficient of rotation set {i}"))).collect();
        let basis = sets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.rots.len() < 2 {
                    vec![]
                } else {
                    s.rots.iter().map(|r| mem.word(format!("set {i}: Lagrange basis at rotation {r}"))).collect()
                }
            })
            .collect();
        let base = mem.alloc("dynamic: transcript buffer, then batch inversion", 0);
        let mut slot = 0;
        let mut next = || {
            slot += 1;
            slot - 1
        };
        let xn_minus_1 = next();
        let x_minus_omega_neg = (0..=b + 1).map(|_| next()).collect();
        let z_diff_0 = next();
        let denom = sets
            .iter()
            .map(|s| if s.rots.len() < 2 { vec![] } else { s.rots.iter().map(|_| next()).collect() })
            .collect();
        let fixed_slots = next();
        let inv = InvPlan { base, xn_minus_1, x_minus_omega_neg, z_diff_0, denom, fixed_slots };
        Ok(Plan { shape, proof, vk, mem, sets, super_rots, proof_cptr, inst_cptr, ch, d, diff, coef, basis, inv })
    }

    /// Start of the dynamic region (transcript buffer, batch inversion).
    pub fn inv_base(&self) -> usize {
        self.inv.base
    }

    fn ch(&self, c: Challenge) -> usize {
        self.ch.iter().find(|(x, _)| *x == c).map(|(_, a)| *a).expect("every challenge has a word")
    }

    fn cd(&self, off: usize) -> Ex {
        Ex::Cd(self.proof_cptr + off)
    }

    fn diff(&self, rot: i32) -> (usize, usize) {
        let &(_, d, p) = self.diff.iter().find(|(r, _, _)| *r == rot).expect("rotation in the super set");
        (d, p)
    }

    fn omega_rot(&self, rot: i32) -> String {
        match self.vk.omega_rot(rot) {
            Some(a) => format!("mload({a:#x})"),
            None => "1".into(),
        }
    }

    /// Resolves a constraint-system query to its proof word or memory value.
    fn resolve(&self, ex: &Ex) -> Ex {
        ex.resolve::<std::convert::Infallible>(&|q| {
            Ok(match q {
                Query::Advice(i) => self.cd(self.proof.advice_evals[i]),
                Query::Fixed(i) => self.cd(self.proof.fixed_evals[i]),
                Query::Instance(_) => Ex::Mem(self.d.inst_eval),
                Query::Challenge(i) => Ex::Mem(self.ch(Challenge::Circuit(i))),
            })
        })
        .unwrap_or_else(|e| match e {})
    }

    /// The quotient identity's terms, in halo2's order.
    fn quotient_terms(&self) -> Vec<(String, Ex)> {
        let s = &self.shape;
        let p = &self.proof;
        let mem = Ex::Mem;
        let mut out = vec![];
        for g in &s.gates {
            for (i, poly) in g.polys.iter().enumerate() {
                out.push((format!("gate `{}` #{i}", g.name), self.resolve(poly)));
            }
        }
        // Permutation.
        let l0 = || mem(self.d.l0);
        let l_last = || mem(self.d.l_last);
        let active = || mem(self.d.active);
        let beta = || mem(self.ch(Challenge::Beta));
        let gamma = || mem(self.ch(Challenge::Gamma));
        let sets = &p.perm_evals;
        if let Some(first) = sets.first() {
            out.push(("permutation: l_0 (1 - z_0)".into(), l0().mul(Ex::one().sub(self.cd(first.z)))));
        }
        if let Some(last) = sets.last() {
            let z = || self.cd(last.z);
            out.push(("permutation: l_last (z_l^2 - z_l)".into(), l_last().mul(z().mul(z()).sub(z()))));
        }
        for i in 1..sets.len() {
            let prev_last = sets[i - 1].z_last.expect("every set but the last has z_last");
            out.push((
                format!("permutation: l_0 (z_{i} - z_{}(omega^last x))", i - 1),
                l0().mul(self.cd(sets[i].z).sub(self.cd(prev_last))),
            ));
        }
        for (c, cols) in s.perm_columns.chunks(s.chunk_len).enumerate() {
            let mut left = self.cd(sets[c].z_next);
            let mut right = self.cd(sets[c].z);
            for (j, col) in cols.iter().enumerate() {
                let idx = c * s.chunk_len + j;
                let eval = self.resolve(&Ex::Q(*col));
                let sigma = self.cd(p.sigma_evals[idx]);
                left = left.mul(eval.clone().add(beta().mul(sigma)).add(gamma()));
                let delta = Fr::DELTA.pow_vartime([idx as u64]);
                right = right.mul(eval.add(Ex::Const(delta).mul(mem(self.d.beta_x))).add(gamma()));
            }
            out.push((format!("permutation: chunk {c}"), left.sub(right).mul(active())));
        }
        // Lookups.
        let theta = mem(self.ch(Challenge::Theta));
        let compress = |es: &[Ex]| {
            let mut it = es.iter().map(|e| self.resolve(e));
            let first = it.next().unwrap_or(Ex::Const(Fr::zero()));
            it.fold(first, |acc, e| acc.mul(theta.clone()).add(e))
        };
        for (i, (l, e)) in s.lookups.iter().zip(&p.lookup_evals).enumerate() {
            let z = || self.cd(e.z);
            let a = || self.cd(e.input);
            let t = || self.cd(e.table);
            out.push((format!("lookup {i}: l_0 (1 - z)"), l0().mul(Ex::one().sub(z()))));
            out.push((format!("lookup {i}: l_last (z^2 - z)"), l_last().mul(z().mul(z()).sub(z()))));
            let left = self.cd(e.z_next).mul(a().add(beta())).mul(t().add(gamma()));
            let right = z().mul(compress(&l.inputs).add(beta())).mul(compress(&l.tables).add(gamma()));
            out.push((format!("lookup {i}: product"), left.sub(right).mul(active())));
            out.push((format!("lookup {i}: l_0 (a' - s')"), l0().mul(a().sub(t()))));
            out.push((
                format!("lookup {i}: (a' - s')(a' - a'(omega^-1 x))"),
                a().sub(t()).mul(a().sub(self.cd(e.input_prev))).mul(active()),
            ));
        }
        out
    }

    /// The Yul body (inside `assembly { ... }`), after the mode's prologue
    /// has checked the calldata layout and put the VK words in memory.
    pub fn body(&self, e: &mut Emitter) {
        self.validate(e);
        self.transcript(e);
        self.inversions(e);
        self.lagrange(e);
        self.quotient(e);
        self.shplonk_scalars(e);
        self.msm_and_pairing(e);
    }

    fn validate(&self, e: &mut Emitter) {
        let pc = self.proof_cptr;
        e.line(
            "// Every proof point is on the curve, every proof scalar is reduced (instances: in the instance loop).",
        );
        e.open(format!("for {{ let c := {pc:#x} }} lt(c, {:#x}) {{ c := add(c, 0x40) }} ", pc + self.proof.points_end));
        e.line("if iszero(on_curve(calldataload(c), calldataload(add(c, 0x20)))) { fail() }");
        e.close();
        e.open(format!(
            "for {{ let c := {:#x} }} lt(c, {:#x}) {{ c := add(c, 0x20) }} ",
            pc + self.proof.points_end,
            pc + self.proof.scalars_end
        ));
        e.line("if iszero(lt(calldataload(c), R)) { fail() }");
        e.close();
        for at in [self.proof.h1, self.proof.h2] {
            e.line(format!(
                "if iszero(on_curve(calldataload({:#x}), calldataload({:#x}))) {{ fail() }}",
                pc + at,
                pc + at + 0x20
            ));
        }
    }

    fn transcript(&self, e: &mut Emitter) {
        let (pc, ic, buf) = (self.proof_cptr, self.inst_cptr, self.inv.base);
        let sq = &self.proof.squeezes;
        e.line("// Transcript: keccak256 over the VK's repr, the instances and the proof, squeezed in halo2's order.");
        e.open("");
        e.line(format!("let n := mul(mload({:#x}), 0x20)", self.vk.num_instances));
        e.line(format!("mstore({buf:#x}, mload({:#x}))", self.vk.repr));
        e.line(format!("calldatacopy({:#x}, {ic:#x}, n)", buf + 0x20));
        e.line(format!("calldatacopy(add({:#x}, n), {pc:#x}, {:#x})", buf + 0x20, sq[0].at));
        e.line(format!("let len := add(n, {:#x})", 0x20 + sq[0].at));
        e.line(format!("if eq(len, 0x20) {{ mstore8({:#x}, 1) len := 0x21 }}", buf + 0x20));
        e.line(format!("let h := keccak256({buf:#x}, len)"));
        e.line(format!("mstore({buf:#x}, h)"));
        e.line(format!("mstore({:#x}, mod(h, R)) // {:?}", self.ch(sq[0].challenge), sq[0].challenge));
        e.close();
        for w in sq.windows(2) {
            let (prev, cur) = (w[0].at, w[1].at);
            e.line(format!(
                "squeeze({:#x}, {:#x}, {:#x}) // {:?}",
                pc + prev,
                cur - prev,
                self.ch(w[1].challenge),
                w[1].challenge
            ));
        }
    }

    fn inversions(&self, e: &mut Emitter) {
        let x = self.ch(Challenge::X);
        let u = self.ch(Challenge::ShU);
        let inv = &self.inv;
        e.line("// x^n, the opening points and everything to invert, then one batch inversion.");
        e.open("");
        e.line(format!("let x := mload({x:#x})"));
        e.line("let xn := x");
        e.line(format!(
            "for {{ let i := 0 }} lt(i, mload({:#x})) {{ i := add(i, 1) }} {{ xn := mulmod(xn, xn, R) }}",
            self.vk.k
        ));
        e.line(format!("mstore({:#x}, xn)", self.d.xn));
        e.line(format!("mstore({:#x}, mulmod(x, mload({:#x}), R))", self.d.beta_x, self.ch(Challenge::Beta)));
        e.line(format!("mstore({:#x}, addmod(xn, sub(R, 1), R))", inv.at(inv.xn_minus_1)));
        for (j, &slot) in inv.x_minus_omega_neg.iter().enumerate() {
            e.line(format!("mstore({:#x}, addmod(x, sub(R, {}), R))", inv.at(slot), self.omega_rot(-(j as i32))));
        }
        e.line(format!("let u := mload({u:#x})"));
        for &(r, d, p) in &self.diff {
            let point = if r == 0 { "x".to_string() } else { format!("mulmod(x, {}, R)", self.omega_rot(r)) };
            e.line(format!("mstore({p:#x}, {point})"));
            e.line(format!("mstore({d:#x}, addmod(u, sub(R, mload({p:#x})), R))"));
        }
        e.close();
        // z_diff_0 and the interpolation denominators.
        let prod = |es: Vec<Ex>| if es.is_empty() { Ex::one() } else { Ex::Prod(es) };
        let zd0 = prod(
            self.super_rots
                .iter()
                .filter(|r| !self.sets[0].rots.contains(r))
                .map(|&r| Ex::Mem(self.diff(r).0))
                .collect(),
        );
        e.open("");
        e.assign(&zd0, "v", true);
        e.line(format!("mstore({:#x}, v)", inv.at(inv.z_diff_0)));
        for (set, slots) in self.sets.iter().zip(&inv.denom) {
            for (&r, &slot) in set.rots.iter().zip(slots) {
                let terms = set
                    .rots
                    .iter()
                    .filter(|&&t| t != r)
                    .map(|&t| Ex::Mem(self.diff(r).1).sub(Ex::Mem(self.diff(t).1)))
                    .collect();
                e.assign(&prod(terms), "v", false);
                e.line(format!("mstore({:#x}, v)", inv.at(slot)));
            }
        }
        e.close();
        // One pass over the instances (each also checked to be below R) builds
        // sum_i instance_i * omega^i / (x - omega^i) as one fraction num / den:
        // five multiplications per instance and no memory, and den joins the
        // batch inversion as its last slot.
        e.line("// sum_i instance_i * omega^i / (x - omega^i) as num / den.");
        e.open("");
        e.line(format!("let x := mload({x:#x})"));
        e.line(format!("let omega := mload({:#x})", self.vk.omega));
        e.line("let w := 1");
        e.line("let num := 0");
        e.line("let den := 1");
        e.line(format!("let c := {:#x}", self.inst_cptr));
        e.open(format!(
            "for {{ let cend := add(c, mul(mload({:#x}), 0x20)) }} lt(c, cend) {{ c := add(c, 0x20) }} ",
            self.vk.num_instances
        ));
        e.line("let v := calldataload(c)");
        e.line("if iszero(lt(v, R)) { fail() }");
        e.line("let d := addmod(x, sub(R, w), R)");
        e.line("num := addmod(mulmod(num, d, R), mulmod(mulmod(v, w, R), den, R), R)");
        e.line("den := mulmod(den, d, R)");
        e.line("w := mulmod(w, omega, R)");
        e.close();
        e.line(format!("mstore({:#x}, num)", self.d.inst_num));
        e.line(format!("mstore({:#x}, den)", inv.at(inv.fixed_slots)));
        e.line(format!("if iszero(batch_invert({:#x}, {:#x})) {{ fail() }}", inv.base, inv.at(inv.fixed_slots) + 0x20));
        e.close();
    }

    fn lagrange(&self, e: &mut Emitter) {
        let (inv, d, b) = (&self.inv, &self.d, self.shape.blinding_factors);
        e.line("// Lagrange basis values: l_0, l_last, l_blind and the instance column's evaluation.");
        e.open("");
        e.line(format!("let lc := mulmod(addmod(mload({:#x}), sub(R, 1), R), mload({:#x}), R)", d.xn, self.vk.n_inv));
        e.line(format!("mstore({:#x}, lc)", d.lc));
        e.line(format!("mstore({:#x}, mulmod(lc, mload({:#x}), R))", d.l0, inv.at(inv.x_minus_omega_neg[0])));
        let last = b + 1;
        e.line(format!(
            "mstore({:#x}, mulmod(mulmod(lc, {}, R), mload({:#x}), R))",
            d.l_last,
            self.omega_rot(-(last as i32)),
            inv.at(inv.x_minus_omega_neg[last])
        ));
        e.line("let s := 0");
        for j in 1..=b {
            e.line(format!(
                "s := addmod(s, mulmod({}, mload({:#x}), R), R)",
                self.omega_rot(-(j as i32)),
                inv.at(inv.x_minus_omega_neg[j])
            ));
        }
        e.line(format!("mstore({:#x}, mulmod(lc, s, R))", d.l_blind));
        e.line(format!(
            "mstore({:#x}, addmod(1, sub(R, addmod(mload({:#x}), mulmod(lc, s, R), R)), R))",
            d.active, d.l_last
        ));
        e.line("// sum_i instance_i * omega^i / (x - omega^i) = num / den, times (x^n - 1)/n");
        e.line(format!("s := mulmod(mload({:#x}), mload({:#x}), R)", d.inst_num, inv.at(inv.fixed_slots)));
        e.line(format!("mstore({:#x}, mulmod(lc, s, R))", d.inst_eval));
        e.close();
    }

    fn quotient(&self, e: &mut Emitter) {
        e.line("// The quotient identity at x: fold the constraints with y, divide by x^n - 1.");
        e.open("");
        e.line(format!("let y := mload({:#x})", self.ch(Challenge::Y)));
        e.line("let h := 0");
        for (name, ex) in self.quotient_terms() {
            e.open(format!("// {name}\n"));
            e.assign(&ex, "v", true);
            e.line("h := addmod(mulmod(h, y, R), v, R)");
            e.close();
        }
        e.line(format!("mstore({:#x}, mulmod(h, mload({:#x}), R))", self.d.h_eval, self.inv.at(self.inv.xn_minus_1)));
        e.close();
    }

    fn shplonk_scalars(&self, e: &mut Emitter) {
        e.line(
            "// SHPLONK: per rotation set, its coefficient v^i z_diff_i / z_diff_0 and its interpolated evaluations.",
        );
        e.open("");
        e.line(format!("let v := mload({:#x})", self.ch(Challenge::ShV)));
        e.line("let vp := 1");
        e.line(format!("let zi := mload({:#x})", self.inv.at(self.inv.z_diff_0)));
        for (i, set) in self.sets.iter().enumerate() {
            if i == 0 {
                e.line(format!("mstore({:#x}, 1)", self.coef[0]));
            } else {
                e.line("vp := mulmod(vp, v, R)");
                let factors: Vec<usize> =
                    self.super_rots.iter().filter(|r| !set.rots.contains(r)).map(|&r| self.diff(r).0).collect();
                product_into(e, "mulmod(vp, zi, R)", &factors, self.coef[i]);
            }
            if set.rots.len() >= 2 {
                for (k, &r) in set.rots.iter().enumerate() {
                    let first = format!("mload({:#x})", self.inv.at(self.inv.denom[i][k]));
                    let factors: Vec<usize> = set.rots.iter().filter(|&&t| t != r).map(|&t| self.diff(t).0).collect();
                    product_into(e, &first, &factors, self.basis[i][k]);
                }
            }
        }
        e.close();
        e.open("");
        e.line(format!("let sy := mload({:#x})", self.ch(Challenge::ShY)));
        e.line("let ro := 0");
        for (i, set) in self.sets.iter().enumerate() {
            e.open(format!("// rotation set {i}: rotations {:?}\n", set.rots));
            let r_of = |evals: &[Ex]| -> Ex {
                if set.rots.len() < 2 {
                    evals[0].clone()
                } else {
                    Ex::Sum(evals.iter().zip(&self.basis[i]).map(|(ev, &bs)| ev.clone().mul(Ex::Mem(bs))).collect())
                }
            };
            // Horner in y from the last commitment: sum_j y^j r_j(u).
            let mut it = set.comms.iter().rev();
            let (_, last) = it.next().expect("a set has a commitment");
            e.assign(&r_of(last), "acc", true);
            for (_, evals) in it {
                e.open("");
                e.assign(&r_of(evals), "t", true);
                e.line("acc := addmod(mulmod(acc, sy, R), t, R)");
                e.close();
            }
            e.line(format!("ro := addmod(ro, mulmod(acc, mload({:#x}), R), R)", self.coef[i]));
            e.close();
        }
        e.line(format!("mstore({:#x}, ro)", self.d.r_outer));
        e.close();
    }

    fn msm_and_pairing(&self, e: &mut Emitter) {
        let pc = self.proof_cptr;
        e.line("// The MSM: sum over sets and commitments of v^i z_i y^j C_ij, - r_outer G1 - z_0 h1 + u h2.");
        e.line("mstore(0x00, 0)");
        e.line("mstore(0x20, 0)");
        e.open("");
        e.line("let ok := 1");
        e.line(format!("let sy := mload({:#x})", self.ch(Challenge::ShY)));
        for (i, set) in self.sets.iter().enumerate() {
            e.line(format!("// rotation set {i}"));
            e.line(format!("let c{i} := mload({:#x})", self.coef[i]));
            for (j, (comm, _)) in set.comms.iter().enumerate() {
                if j > 0 {
                    e.line(format!("c{i} := mulmod(c{i}, sy, R)"));
                }
                let pts = pcs::point_of(*comm, &self.proof, &self.vk, pc);
                if *comm == Comm::H {
                    e.open("");
                    e.line(format!("let s := c{i}"));
                    e.line(format!("let xn := mload({:#x})", self.d.xn));
                    for (k, (px, py)) in pts.iter().enumerate() {
                        if k > 0 {
                            e.line("s := mulmod(s, xn, R)");
                        }
                        e.line(format!("ok := and(ok, ec_mul_add({px}, {py}, s))"));
                    }
                    e.close();
                } else if i == 0 && j == 0 {
                    // Set 0's first coefficient is 1.
                    let (px, py) = &pts[0];
                    e.line(format!("ok := and(ok, ec_add({px}, {py})) // {comm:?}"));
                } else {
                    let (px, py) = &pts[0];
                    e.line(format!("ok := and(ok, ec_mul_add({px}, {py}, c{i})) // {comm:?}"));
                }
            }
        }
        e.line(format!(
            "ok := and(ok, ec_mul_add(mload({:#x}), mload({:#x}), sub(R, mload({:#x}))))",
            self.vk.g1,
            self.vk.g1 + 0x20,
            self.d.r_outer
        ));
        let z0: Vec<String> = self.sets[0].rots.iter().map(|&r| format!("mload({:#x})", self.diff(r).0)).collect();
        let mut z0s = z0[0].clone();
        for f in &z0[1..] {
            z0s = format!("mulmod({z0s}, {f}, R)");
        }
        let (h1, h2) = (pc + self.proof.h1, pc + self.proof.h2);
        e.line(format!(
            "ok := and(ok, ec_mul_add(calldataload({h1:#x}), calldataload({:#x}), sub(R, {z0s})))",
            h1 + 0x20
        ));
        e.line(format!(
            "ok := and(ok, ec_mul_add(calldataload({h2:#x}), calldataload({:#x}), mload({:#x})))",
            h2 + 0x20,
            self.ch(Challenge::ShU)
        ));
        e.line("// Pairing: e(h2, s G2) * e(F, -G2) == 1.");
        e.line("mstore(0xc0, mload(0x00))");
        e.line("mstore(0xe0, mload(0x20))");
        e.line(format!("mstore(0x00, calldataload({h2:#x}))"));
        e.line(format!("mstore(0x20, calldataload({:#x}))", h2 + 0x20));
        for w in 0..4 {
            e.line(format!("mstore({:#x}, mload({:#x}))", 0x40 + 0x20 * w, self.vk.s_g2 + 0x20 * w));
            e.line(format!("mstore({:#x}, mload({:#x}))", 0x100 + 0x20 * w, self.vk.neg_g2 + 0x20 * w));
        }
        e.line("ok := and(ok, staticcall(gas(), 0x08, 0x00, 0x180, 0x00, 0x20))");
        e.line("ok := and(ok, eq(mload(0x00), 1))");
        e.line("mstore(0x00, ok)");
        e.line("return(0x00, 0x20)");
        e.close();
    }
}

/// Yul helper functions the body calls (literals only: Yul functions do not
/// see the block's variables).
pub(crate) fn functions(tbuf: usize) -> String {
    include_str!("../templates/functions.yul")
        .replace("{{R}}", R)
        .replace("{{P}}", P)
        .replace("{{TBUF}}", &format!("{tbuf:#x}"))
}

/// `mstore(at, first * prod mload(factors))`: short products inline, longer
/// ones accumulated in a local. A left-nested `mulmod(mulmod(...), mload, R)`
/// keeps two stack slots per level, so a long one (many rotation sets, e.g.
/// the gas layout with bilinear products and a function lookup) passes the
/// 16 slots the EVM can reach ("stack too deep").
fn product_into(e: &mut Emitter, first: &str, factors: &[usize], at: usize) {
    if factors.len() <= 2 {
        let f = factors.iter().fold(first.to_string(), |f, m| format!("mulmod({f}, mload({m:#x}), R)"));
        e.line(format!("mstore({at:#x}, {f})"));
        return;
    }
    e.open("");
    e.line(format!("let f := {first}"));
    for m in factors {
        e.line(format!("f := mulmod(f, mload({m:#x}), R)"));
    }
    e.line(format!("mstore({at:#x}, f)"));
    e.close();
}
