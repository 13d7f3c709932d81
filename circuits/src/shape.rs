//! Circuit shape: lanes per row and k, chosen by a cost estimate.

use halo2_proofs::plonk::ConstraintSystem;
use ir::{Op, Program};
use serde::{Deserialize, Serialize};

use crate::{columns::MIN_LANES, error::CircuitError, field::Fr, layout, table};

/// Everything `configure` needs; serialized next to the keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitShape {
    pub k: u32,
    pub lanes: usize,
    pub bilinear: bool,
    pub range_bits: u32,
    pub rem_bits: u32,
}

impl Default for CircuitShape {
    fn default() -> Self {
        CircuitShape { k: 10, lanes: MIN_LANES, bilinear: false, range_bits: 8, rem_bits: 8 }
    }
}

pub const MAX_K: u32 = 24;
const LANE_CANDIDATES: [usize; 11] = [5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64];

/// What `compile` prints: the chosen shape, its size, and the alternatives weighed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CostReport {
    pub shape: CircuitShape,
    pub rows: usize,
    pub table_rows: usize,
    pub usable_rows: usize,
    pub advice_columns: usize,
    pub fixed_columns: usize,
    pub lookups: usize,
    /// Estimated prover cost: 2^k x (committed columns), relative units.
    pub cost: u64,
    pub candidates: Vec<Candidate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    pub lanes: usize,
    pub k: u32,
    pub rows: usize,
    pub cost: u64,
}

fn constraint_system(shape: &CircuitShape) -> ConstraintSystem<Fr> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = crate::circuit::ModelCircuit::configure_shape(&mut cs, shape);
    cs
}

/// Committed polynomials per row: advice, lookup (3 each: permuted input,
/// permuted table, product), permutation products; fixed columns are
/// committed at setup only, so they weigh little.
fn column_cost(cs: &ConstraintSystem<Fr>) -> u64 {
    let perm_cols = cs.permutation().get_columns().len();
    let chunk = cs.degree().saturating_sub(2).max(1);
    (cs.num_advice_columns() + 3 * cs.lookups().len() + perm_cols.div_ceil(chunk)) as u64 * 4 + cs.num_fixed_columns() as u64
}

pub fn plan(program: &Program) -> Result<CostReport, CircuitError> {
    program.validate()?;
    let bilinear = program.nodes.iter().any(|n| matches!(n.op, Op::Bilinear(_)));
    let q = program.quant;
    let table_rows = table::table_rows(q.rem_bits, q.range_bits);
    let mut best: Option<CostReport> = None;
    let mut candidates = vec![];
    for &lanes in LANE_CANDIDATES.iter() {
        let rows = layout::count_rows(program, lanes) + 1;
        let mut shape = CircuitShape { k: 4, lanes, bilinear, range_bits: q.range_bits, rem_bits: q.rem_bits };
        let cs = constraint_system(&shape);
        let blind = cs.blinding_factors() + 1;
        let need = rows.max(table_rows) + blind;
        let k = (need as f64).log2().ceil() as u32;
        let k = k.max(cs.minimum_rows().next_power_of_two().trailing_zeros()).max(4);
        if k > MAX_K {
            candidates.push(Candidate { lanes, k, rows, cost: u64::MAX });
            continue;
        }
        shape.k = k;
        let cost = (1u64 << k) * column_cost(&cs);
        candidates.push(Candidate { lanes, k, rows, cost });
        if best.as_ref().map_or(true, |b| cost < b.cost) {
            best = Some(CostReport {
                shape,
                rows,
                table_rows,
                usable_rows: (1usize << k) - blind,
                advice_columns: cs.num_advice_columns(),
                fixed_columns: cs.num_fixed_columns(),
                lookups: cs.lookups().len(),
                cost,
                candidates: vec![],
            });
        }
    }
    match best {
        Some(mut b) => {
            b.candidates = candidates;
            Ok(b)
        }
        None => {
            if table_rows + 16 > 1 << MAX_K {
                Err(CircuitError::TableTooLarge { table_rows, range_bits: q.range_bits, max_k: MAX_K })
            } else {
                Err(CircuitError::TooLarge { rows: layout::count_rows(program, 64), max_k: MAX_K })
            }
        }
    }
}
