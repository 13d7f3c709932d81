//! The SHPLONK multi-open (halo2's `VerifierSHPLONK`, BDFG21): the opening
//! queries in halo2's order, their grouping into rotation sets, and the
//! scalars of the final multi-scalar multiplication.
//!
//! halo2 groups queries by commitment (in order of first appearance), then
//! commitments by the set of points they are opened at (in the same order).
//! Set `i` is weighted by `v^i`, commitment `j` of a set by `y^j`, so both
//! orders are reproduced exactly. The math does not depend on the order of
//! points inside a set (interpolation and vanishing polynomials).

use crate::{
    error::GenError,
    expr::Ex,
    layout::{ProofLayout, VkLayout},
    shape::Shape,
};

/// A polynomial commitment the verifier opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comm {
    Advice(usize),
    PermZ(usize),
    LookupZ(usize),
    LookupInput(usize),
    LookupTable(usize),
    Fixed(usize),
    Sigma(usize),
    /// The quotient's pieces, combined as `sum_k xn^k h_k` (an MSM in halo2).
    H,
    Random,
}

#[derive(Clone, Debug)]
pub(crate) struct OpenQuery {
    pub comm: Comm,
    pub rot: i32,
    pub eval: Ex,
}

#[derive(Clone, Debug)]
pub(crate) struct RotationSet {
    /// Sorted rotations (the points are `omega^rot * x`).
    pub rots: Vec<i32>,
    /// Commitments with their evaluations, aligned with `rots`.
    pub comms: Vec<(Comm, Vec<Ex>)>,
}

/// The opening queries in the order halo2's verifier lists them.
pub(crate) fn queries(s: &Shape, p: &ProofLayout, proof: usize, h_eval: Ex) -> Vec<OpenQuery> {
    let cd = |off: usize| Ex::Cd(proof + off);
    let last = -(s.blinding_factors as i32 + 1);
    let mut q = vec![];
    for (i, &(col, rot)) in s.advice_queries.iter().enumerate() {
        q.push(OpenQuery { comm: Comm::Advice(col), rot, eval: cd(p.advice_evals[i]) });
    }
    for (i, e) in p.perm_evals.iter().enumerate() {
        q.push(OpenQuery { comm: Comm::PermZ(i), rot: 0, eval: cd(e.z) });
        q.push(OpenQuery { comm: Comm::PermZ(i), rot: 1, eval: cd(e.z_next) });
    }
    for (i, e) in p.perm_evals.iter().enumerate().rev() {
        if let Some(z_last) = e.z_last {
            q.push(OpenQuery { comm: Comm::PermZ(i), rot: last, eval: cd(z_last) });
        }
    }
    for (i, e) in p.lookup_evals.iter().enumerate() {
        q.push(OpenQuery { comm: Comm::LookupZ(i), rot: 0, eval: cd(e.z) });
        q.push(OpenQuery { comm: Comm::LookupInput(i), rot: 0, eval: cd(e.input) });
        q.push(OpenQuery { comm: Comm::LookupTable(i), rot: 0, eval: cd(e.table) });
        q.push(OpenQuery { comm: Comm::LookupInput(i), rot: -1, eval: cd(e.input_prev) });
        q.push(OpenQuery { comm: Comm::LookupZ(i), rot: 1, eval: cd(e.z_next) });
    }
    for (i, &(col, rot)) in s.fixed_queries.iter().enumerate() {
        q.push(OpenQuery { comm: Comm::Fixed(col), rot, eval: cd(p.fixed_evals[i]) });
    }
    for (i, &off) in p.sigma_evals.iter().enumerate() {
        q.push(OpenQuery { comm: Comm::Sigma(i), rot: 0, eval: cd(off) });
    }
    q.push(OpenQuery { comm: Comm::H, rot: 0, eval: h_eval });
    q.push(OpenQuery { comm: Comm::Random, rot: 0, eval: cd(p.random_eval) });
    q
}

/// Rotation sets (halo2's `construct_intermediate_sets`) and the super set of
/// all rotations, sorted.
pub(crate) fn rotation_sets(queries: &[OpenQuery]) -> Result<(Vec<RotationSet>, Vec<i32>), GenError> {
    // Commitments in order of first appearance, with their rotations.
    let mut by_comm: Vec<(Comm, Vec<i32>)> = vec![];
    for q in queries {
        match by_comm.iter_mut().find(|(c, _)| *c == q.comm) {
            Some((_, rots)) => {
                if rots.contains(&q.rot) {
                    // halo2 accepts a repeated query only with the same evaluation.
                    let first = queries.iter().find(|o| o.comm == q.comm && o.rot == q.rot).map(|o| &o.eval);
                    if first != Some(&q.eval) {
                        return Err(crate::error::unsupported(format!(
                            "{:?} opened twice at rotation {} with different evaluations",
                            q.comm, q.rot
                        )));
                    }
                } else {
                    rots.push(q.rot);
                }
            }
            None => by_comm.push((q.comm, vec![q.rot])),
        }
    }
    let mut sets: Vec<RotationSet> = vec![];
    for (comm, mut rots) in by_comm {
        rots.sort_unstable();
        let evals = rots
            .iter()
            .map(|&r| queries.iter().find(|q| q.comm == comm && q.rot == r).map(|q| q.eval.clone()).expect("listed"))
            .collect();
        match sets.iter_mut().find(|s| s.rots == rots) {
            Some(set) => set.comms.push((comm, evals)),
            None => sets.push(RotationSet { rots, comms: vec![(comm, evals)] }),
        }
    }
    let mut all: Vec<i32> = queries.iter().map(|q| q.rot).collect();
    all.sort_unstable();
    all.dedup();
    Ok((sets, all))
}

/// Where a commitment's point is: `(x word, y word)` as Yul expressions.
pub(crate) fn point_of(c: Comm, p: &ProofLayout, vk: &VkLayout, proof: usize) -> Vec<(String, String)> {
    let cd =
        |off: usize| (format!("calldataload({:#x})", proof + off), format!("calldataload({:#x})", proof + off + 0x20));
    let mem = |at: usize| (format!("mload({at:#x})"), format!("mload({:#x})", at + 0x20));
    match c {
        Comm::Advice(i) => vec![cd(p.advice[i])],
        Comm::PermZ(i) => vec![cd(p.perm_z[i])],
        Comm::LookupZ(i) => vec![cd(p.lookup_z[i])],
        Comm::LookupInput(i) => vec![cd(p.lookup_permuted[i].0)],
        Comm::LookupTable(i) => vec![cd(p.lookup_permuted[i].1)],
        Comm::Fixed(i) => vec![mem(vk.fixed[i])],
        Comm::Sigma(i) => vec![mem(vk.sigma[i])],
        Comm::H => p.h.iter().map(|&o| cd(o)).collect(),
        Comm::Random => vec![cd(p.random)],
    }
}
