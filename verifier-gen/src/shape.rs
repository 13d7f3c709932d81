//! What a verifying key's constraint system asks of the verifier: its
//! queries, gates, permutation columns, lookups and the sizes that fix the
//! proof's layout. Everything here depends on the circuit's shape only, not
//! on its fixed values (weights) or k: two models of one shape share it.

use halo2_proofs::{
    halo2curves::bn256::{Fr, G1Affine},
    plonk::{Any, ConstraintSystem, Expression, VerifyingKey},
};
use sha3::{Digest, Keccak256};

use crate::{
    error::{unsupported, GenError},
    expr::{Ex, Query},
};

/// Version of the generated code's conventions; part of the shape digest, so
/// a VK contract from another generator version is refused.
pub(crate) const CODEGEN_VERSION: &str = "zkinfer-verifier-gen/1";

#[derive(Clone, Debug)]
pub(crate) struct Gate {
    pub name: String,
    pub polys: Vec<Ex>,
}

#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    pub inputs: Vec<Ex>,
    pub tables: Vec<Ex>,
}

#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub num_advice: usize,
    /// Phase of each advice column.
    pub advice_phase: Vec<u8>,
    /// Phase of each challenge.
    pub challenge_phase: Vec<u8>,
    pub num_fixed: usize,
    /// `(column, rotation)` of each advice query, in the system's order.
    pub advice_queries: Vec<(usize, i32)>,
    pub fixed_queries: Vec<(usize, i32)>,
    pub gates: Vec<Gate>,
    /// The evaluation at `x` of each column in the permutation, in order.
    pub perm_columns: Vec<Query>,
    /// Columns per permutation product polynomial (`degree - 2`).
    pub chunk_len: usize,
    pub lookups: Vec<Lookup>,
    pub blinding_factors: usize,
    /// Pieces of the quotient polynomial `h`.
    pub quotient_pieces: usize,
    /// Identifies the shape and the code's conventions (see [`CODEGEN_VERSION`]).
    pub digest: [u8; 32],
}

impl Shape {
    pub fn from_vk(vk: &VerifyingKey<G1Affine>) -> Result<Shape, GenError> {
        let cs = vk.cs();
        if cs.num_instance_columns() != 1 {
            return Err(unsupported(format!(
                "{} instance columns (the verifier takes exactly one)",
                cs.num_instance_columns()
            )));
        }
        for &(col, rot) in cs.instance_queries() {
            if rot.0 != 0 {
                return Err(unsupported(format!("instance column {} queried at rotation {}", col.index(), rot.0)));
            }
        }
        // Multi-phase circuits (challenges) are not emitted by zkinfer's chips
        // and not tested here: refuse them rather than guess.
        if cs.num_challenges() > 0 || cs.advice_column_phase().iter().any(|&p| p > 0) {
            return Err(unsupported(format!(
                "{} challenges / advice columns after the first phase",
                cs.num_challenges()
            )));
        }
        let advice_queries: Vec<(usize, i32)> = cs.advice_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
        let fixed_queries: Vec<(usize, i32)> = cs.fixed_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
        for &(_, r) in advice_queries.iter().chain(&fixed_queries) {
            if r.unsigned_abs() > 1 << 16 {
                return Err(unsupported(format!("query at rotation {r}")));
            }
        }
        let degree = cs.degree();
        if degree < 3 {
            return Err(unsupported(format!("constraint system degree {degree} (at least 3 expected)")));
        }
        let gates = cs
            .gates()
            .iter()
            .map(|g| {
                let polys = g
                    .polynomials()
                    .iter()
                    .map(|p| convert(cs, p).map_err(|e| in_context(e, &format!("gate `{}`", g.name()))))
                    .collect::<Result<_, _>>()?;
                Ok(Gate { name: g.name().to_string(), polys })
            })
            .collect::<Result<Vec<_>, GenError>>()?;
        let perm_columns = cs
            .permutation()
            .get_columns()
            .iter()
            .map(|c| any_query(cs, *c.column_type(), c.index()))
            .collect::<Result<Vec<_>, _>>()?;
        if perm_columns.len() != vk.permutation().commitments().len() {
            return Err(GenError::Invalid {
                what: "permutation commitments",
                expected: perm_columns.len().to_string(),
                got: vk.permutation().commitments().len().to_string(),
            });
        }
        let lookups = cs
            .lookups()
            .iter()
            .map(|l| {
                let ctx = |e| in_context(e, &format!("lookup `{}`", l.name()));
                let inputs: Result<Vec<_>, _> =
                    l.input_expressions().iter().map(|e| convert(cs, e).map_err(ctx)).collect();
                let tables: Result<Vec<_>, _> =
                    l.table_expressions().iter().map(|e| convert(cs, e).map_err(ctx)).collect();
                Ok(Lookup { inputs: inputs?, tables: tables? })
            })
            .collect::<Result<Vec<_>, GenError>>()?;
        let quotient_pieces = vk.get_domain().get_quotient_poly_degree();
        let mut h = Keccak256::new();
        h.update(CODEGEN_VERSION.as_bytes());
        h.update(format!("{:?}", cs.pinned()).as_bytes());
        h.update(format!(" quotient_pieces={quotient_pieces}").as_bytes());
        Ok(Shape {
            num_advice: cs.num_advice_columns(),
            advice_phase: cs.advice_column_phase(),
            challenge_phase: cs.challenge_phase(),
            num_fixed: cs.num_fixed_columns(),
            advice_queries,
            fixed_queries,
            gates,
            perm_columns,
            chunk_len: degree - 2,
            lookups,
            blinding_factors: cs.blinding_factors(),
            quotient_pieces,
            digest: h.finalize().into(),
        })
    }

    /// Permutation product polynomials (one per chunk of columns).
    pub fn perm_sets(&self) -> usize {
        self.perm_columns.len().div_ceil(self.chunk_len)
    }

    /// Phases in order (halo2 runs `0..=max phase`).
    pub fn phases(&self) -> std::ops::RangeInclusive<u8> {
        0..=self.advice_phase.iter().copied().max().unwrap_or(0)
    }
}

fn in_context(e: GenError, ctx: &str) -> GenError {
    match e {
        GenError::Unsupported { construct } => unsupported(format!("{construct} in {ctx}")),
        e => e,
    }
}

fn query_index(list: &[(usize, i32)], kind: &'static str, column: usize, rotation: i32) -> Result<usize, GenError> {
    list.iter().position(|&q| q == (column, rotation)).ok_or(GenError::MissingQuery { kind, column, rotation })
}

fn any_query(cs: &ConstraintSystem<Fr>, kind: Any, column: usize) -> Result<Query, GenError> {
    Ok(match kind {
        Any::Advice(_) => {
            let list: Vec<_> = cs.advice_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
            Query::Advice(query_index(&list, "advice", column, 0)?)
        }
        Any::Fixed => {
            let list: Vec<_> = cs.fixed_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
            Query::Fixed(query_index(&list, "fixed", column, 0)?)
        }
        Any::Instance => {
            let list: Vec<_> = cs.instance_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
            Query::Instance(query_index(&list, "instance", column, 0)?)
        }
    })
}

/// A halo2 expression in our terms, with queries by their list index.
fn convert(cs: &ConstraintSystem<Fr>, e: &Expression<Fr>) -> Result<Ex, GenError> {
    let advice: Vec<_> = cs.advice_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
    let fixed: Vec<_> = cs.fixed_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
    let instance: Vec<_> = cs.instance_queries().iter().map(|(c, r)| (c.index(), r.0)).collect();
    let num_challenges = cs.num_challenges();
    e.evaluate(
        &|c| Ok(Ex::Const(c)),
        &|s| Err(unsupported(format!("uncompressed selector {}", s.index()))),
        &|q| Ok(Ex::Q(Query::Fixed(query_index(&fixed, "fixed", q.column_index(), q.rotation().0)?))),
        &|q| Ok(Ex::Q(Query::Advice(query_index(&advice, "advice", q.column_index(), q.rotation().0)?))),
        &|q| Ok(Ex::Q(Query::Instance(query_index(&instance, "instance", q.column_index(), q.rotation().0)?))),
        &|c| {
            if c.index() < num_challenges {
                Ok(Ex::Q(Query::Challenge(c.index())))
            } else {
                Err(unsupported(format!("challenge {} beyond the system's {num_challenges}", c.index())))
            }
        },
        &|a| Ok(a?.neg()),
        &|a, b| Ok(a?.add(b?)),
        &|a, b| Ok(a?.mul(b?)),
        &|a, s| Ok(a?.mul(Ex::Const(s))),
    )
}
