//! Circuit shape: lanes per row, limb width and k, chosen by a cost estimate.

use halo2_proofs::plonk::ConstraintSystem;
use ir::{Op, Program};
use serde::{Deserialize, Serialize};

use crate::{
    chips::{bits::BitsLayout, range},
    columns::MIN_LANES,
    error::CircuitError,
    field::Fr,
    layout, table,
};

/// Everything `configure` needs; serialized next to the keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitShape {
    pub k: u32,
    /// Multiply-adds per dot-product row.
    pub lanes: usize,
    /// Whether activation-by-activation products occur.
    pub bilinear: bool,
    pub range_bits: u32,
    /// Limb width of range checks; the table has 2^(limb_bits+1) rows.
    pub limb_bits: u32,
    /// Limb columns of range rows' quotients and remainders (one lookup each).
    pub q_limbs: usize,
    pub r_limbs: usize,
    /// Whether the program has function tables (`ir::Op::Table`): they share
    /// the limb table's columns and its first lookup, under their own selector.
    #[serde(default)]
    pub tables: bool,
    /// `Some`: the gas layout (range checks as base-4 digit blocks in `acc`,
    /// no lookups, see `chips::bits`); `limb_bits`, `q_limbs` and `r_limbs`
    /// are then unused. `None`: the limb layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<BitsLayout>,
    /// Whether the program divides (`ir::Op::Div`): adds the division gate.
    #[serde(default)]
    pub div: bool,
    /// Whether some tensor is committed by a Poseidon hash (hashed
    /// parameters, input or output): adds the Poseidon gates
    /// (`chips::poseidon`) over `x` and `w` (plus fixed columns where `w`
    /// has fewer than `poseidon::block(lanes) + 3`).
    #[serde(default)]
    pub poseidon: bool,
    /// Whether the parameters are committed as unblinded advice columns
    /// (`ir::Visibility::Polycommit`): adds `lanes` weight columns and the
    /// committed dot-product gate (`chips::param_linear`, `crate::polycommit`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub polycommit: bool,
}

/// What the planner minimizes: `Balanced` weighs prover work against
/// verifier work (commitments) as [`COMMITMENT_WEIGHT`] says; `Gas` makes
/// every commitment count 64 times more (on-chain verification), `Prove`
/// 64 times less (fastest proof).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    #[default]
    Balanced,
    Gas,
    Prove,
}

impl Optimize {
    fn commitment_weight(self) -> u64 {
        match self {
            Optimize::Balanced => COMMITMENT_WEIGHT,
            Optimize::Gas => COMMITMENT_WEIGHT * 64,
            Optimize::Prove => COMMITMENT_WEIGHT / 64,
        }
    }
}

impl Default for CircuitShape {
    fn default() -> Self {
        CircuitShape {
            k: 10,
            lanes: MIN_LANES,
            bilinear: false,
            range_bits: 8,
            limb_bits: 10,
            q_limbs: 1,
            r_limbs: 1,
            tables: false,
            bits: None,
            div: false,
            poseidon: false,
            polycommit: false,
        }
    }
}

pub const MAX_K: u32 = 24;
const LANE_CANDIDATES: [usize; 10] = [3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
const BITS_LANE_CANDIDATES: [usize; 12] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];
/// Weight of one commitment (verifier work: an EC multiplication on chain, a
/// field element of proof) against prover work: as much as one advice column
/// at k = 12. Small circuits thus favour fewer columns, large ones fewer rows.
const COMMITMENT_WEIGHT: u64 = 4 << 12;
const LIMB_BITS: std::ops::RangeInclusive<u32> = 6..=16;

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
    /// Estimated cost: prover work (2^k x weighted committed columns) plus
    /// verifier work (commitments), relative units.
    pub cost: u64,
    /// Commitments a verifier reads and combines (proof + verifying key).
    pub commitments: usize,
    /// Predicted peak memory of one proof, bytes ([`prove_bytes`]).
    #[serde(default)]
    pub prove_bytes: u64,
    pub candidates: Vec<Candidate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    /// `"limbs"` or `"bits"` (the gas layout, where `limb_bits` is unused).
    #[serde(default)]
    pub layout: String,
    pub lanes: usize,
    pub limb_bits: u32,
    pub k: u32,
    pub rows: usize,
    pub cost: u64,
    /// Predicted peak memory of one proof, bytes.
    #[serde(default)]
    pub prove_bytes: u64,
}

/// What a shape must fit: `2^max_k` rows, a lane count if one is forced
/// (benchmarks, `compile --lanes`), and a memory budget for one proof
/// (`compile --max-memory`; segments sized for a machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_k: u32,
    pub lanes: Option<usize>,
    pub max_prove_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_k: MAX_K, lanes: None, max_prove_bytes: None }
    }
}

/// Predicted peak resident memory of one proof of a circuit with this
/// constraint system at `k`, in bytes: the peak of halo2-axiom 0.5.3's
/// prover, which is the quotient's evaluation (`Evaluator::evaluate_h`).
/// Counted in polynomials of `2^k` field elements (32 bytes each):
/// - the proving key: every fixed column (selectors included, uncompressed:
///   an upper bound) and `l0`, `l_last`, `l_active_row`, in Lagrange and
///   coefficient form, and every permutation column's sigma in both forms;
/// - the witness in coefficient form: advice columns, each lookup's permuted
///   input, permuted table and product, the permutation products (one per
///   `degree - 2` columns) and the vanishing argument's random polynomial;
/// - the quotient's evaluation, part by part: each part holds one coset of
///   every fixed, advice, permutation, lookup and product polynomial at
///   once, and the parts' values accumulate (`2^(extended_k - k)` of them);
/// - the SRS (`2^k` points twice, 64 bytes each) and a constant.
///
/// Scale and constant fitted on measured peaks (docs/BENCHMARKS.md "Prover
/// memory", `benches/prove_memory.py`).
pub fn prove_bytes(cs: &ConstraintSystem<Fr>, k: u32) -> u64 {
    let fixed = (cs.num_fixed_columns() + cs.num_selectors() + 3) as u64;
    let perm = cs.permutation().get_columns().len() as u64;
    let advice = cs.num_advice_columns() as u64;
    let lookups = cs.lookups().len() as u64;
    let chunk = cs.degree().saturating_sub(2).max(1) as u64;
    let products = perm.div_ceil(chunk);
    let quotient = cs.degree().saturating_sub(1).max(1) as u64;
    let parts = quotient.next_power_of_two();
    let key = 2 * fixed + 2 * perm;
    let witness = advice + 3 * lookups + products + 1;
    let part = fixed + advice + perm + 3 * lookups + products + parts;
    let polys = key + witness + part;
    let n = 1u64 << k;
    (n * 32 * polys + n * 128) * PROVE_SCALE_PERCENT / 100 + PROVE_BASE_BYTES
}

/// Least-squares fit of measured peaks (benches/prove_memory.py, six cases
/// from k=13 to k=20, 131 to 338 polynomials): the counted polynomials
/// times 1.03 (allocator slack, transient copies not counted above) plus
/// 74 MiB (the program, the witness trace, the binary). Within 7% of every
/// measured peak from k=16 to k=20; the constant over-predicts the smallest
/// circuits (k=13: +34%, 0.12 GiB).
const PROVE_SCALE_PERCENT: u64 = 103;
const PROVE_BASE_BYTES: u64 = 74 << 20;

fn constraint_system(shape: &CircuitShape) -> ConstraintSystem<Fr> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = crate::circuit::ModelCircuit::configure_shape(&mut cs, shape);
    cs
}

/// Prover work per row, in units of one committed advice column: advice
/// columns (MSM + FFTs), lookups (three committed polynomials each),
/// permutation products (one per `degree - 2` columns), the quotient's
/// pieces and the vanishing argument's random polynomial, and the quotient's
/// extended-domain evaluation that grows with every column; fixed columns are
/// committed at setup only, so they weigh little. (Fitted on 3l_relu_conv_fc:
/// the gas layout at k=16 with 2 advice columns proves in 2.3x (shared machine) to 3.7x (idle) the time of the
/// limb layout at k=13 with 9 advice columns and 4 lookups.)
fn column_cost(cs: &ConstraintSystem<Fr>) -> u64 {
    let perm_cols = cs.permutation().get_columns().len();
    let chunk = cs.degree().saturating_sub(2).max(1);
    let committed = cs.num_advice_columns()
        + 3 * cs.lookups().len()
        + perm_cols.div_ceil(chunk)
        + cs.degree().saturating_sub(1)
        + 1;
    (committed * 4 + cs.num_fixed_columns()) as u64
}

/// Commitments the verifier handles: advice, lookups (3 each), permutation
/// products and sigmas, fixed and selector columns, quotient pieces.
fn commitments(cs: &ConstraintSystem<Fr>) -> usize {
    let perm_cols = cs.permutation().get_columns().len();
    let chunk = cs.degree().saturating_sub(2).max(1);
    cs.num_advice_columns()
        + 3 * cs.lookups().len()
        + perm_cols
        + perm_cols.div_ceil(chunk)
        + cs.num_fixed_columns()
        + cs.num_selectors()
        + cs.degree().saturating_sub(1)
}

/// The two families of shapes the planner weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Range rows of limbs checked by lookups (`chips::range`).
    Limbs,
    /// Range blocks of base-4 digits, no lookups (`chips::bits`); not for
    /// programs with function tables.
    Bits,
}

/// Rows the layout of `program` in `shape` takes (`count_rows` plus the zero
/// cell's rows) and the rows of its lookup tables: the one count the planner
/// sizes `k` by and [`CircuitShape::check`] checks against. `lanes` is the
/// shape's effective lane count (at least [`MIN_LANES`] in the limb layout).
fn layout_rows(program: &Program, masks: &[Vec<bool>], shape: &CircuitShape) -> (usize, usize) {
    let fn_rows = table::function_rows(program);
    match shape.bits {
        None => (
            layout::count_rows(program, masks, shape.lanes.max(MIN_LANES), None) + 1,
            table::table_rows(shape.limb_bits) + fn_rows,
        ),
        // The function table (plus its (0, 0, 0) row), when there is one.
        Some(bits) => (
            layout::count_rows(program, masks, shape.lanes.max(1), Some(bits)) + 2,
            if shape.tables { fn_rows + 1 } else { 0 },
        ),
    }
}

/// Most dot lanes a shape may have (the planner's largest candidate).
pub const MAX_LANES: usize = 64;

impl CircuitShape {
    /// Artifacts are checked, not trusted: whether this shape (read from
    /// `settings.json`) can lay out `program`, so that configuring and
    /// assigning the circuit cannot fail half-way. Every flag the program
    /// implies must match, the limb or digit widths must be the ones its
    /// range bits and shifts need, and `2^k` rows must hold its layout; the
    /// error names the field, what the program needs and what the shape has.
    pub fn check(&self, program: &Program) -> Result<(), CircuitError> {
        fn need<T: std::fmt::Debug + PartialEq>(field: &'static str, expected: T, got: T) -> Result<(), CircuitError> {
            if expected == got {
                Ok(())
            } else {
                Err(CircuitError::Shape { field, expected: format!("{expected:?}"), got: format!("{got:?}") })
            }
        }
        program.validate()?;
        let witness_params = program.params.is_some();
        let polycommit = program.params_polycommit();
        let poseidon = !program.commitment_parts().is_empty();
        let div = program.nodes.iter().any(|n| matches!(n.op, Op::Div(_)));
        need(
            "bilinear",
            (witness_params && !polycommit) || program.nodes.iter().any(|n| matches!(n.op, Op::Bilinear(_))),
            self.bilinear,
        )?;
        need("polycommit", polycommit, self.polycommit)?;
        need("tables", program.nodes.iter().any(|n| matches!(n.op, Op::Table(_))), self.tables)?;
        need("div", div, self.div)?;
        need("poseidon", poseidon, self.poseidon)?;
        need("range_bits", program.quant.range_bits, self.range_bits)?;
        if self.lanes == 0 || self.lanes > MAX_LANES {
            return Err(CircuitError::Shape {
                field: "lanes",
                expected: format!("1..={MAX_LANES}"),
                got: self.lanes.to_string(),
            });
        }
        match self.bits {
            None => {
                if !LIMB_BITS.contains(&self.limb_bits) {
                    return Err(CircuitError::Shape {
                        field: "limb_bits",
                        expected: format!("{}..={}", LIMB_BITS.start(), LIMB_BITS.end()),
                        got: self.limb_bits.to_string(),
                    });
                }
                need(
                    "q_limbs",
                    range::limb_widths(range::q_bits(self.range_bits), self.limb_bits).len(),
                    self.q_limbs,
                )?;
                need("r_limbs", layout::r_limbs_needed(program, self.limb_bits), self.r_limbs)?;
            }
            Some(_) => {
                need("bits", Some(BitsLayout::new(self.range_bits, layout::max_shift(program))), self.bits)?;
                // Divisions, witness parameters and hashes need the limb layout.
                need(
                    "bits (a layout without divisions, witness parameters or hashes)",
                    false,
                    div || witness_params || poseidon,
                )?;
            }
        }
        if !(4..=MAX_K).contains(&self.k) {
            return Err(CircuitError::Shape { field: "k", expected: format!("4..={MAX_K}"), got: self.k.to_string() });
        }
        let (rows, table_rows) = layout_rows(program, &layout::zero_masks(program), self);
        let blind = constraint_system(self).blinding_factors() + 1;
        let need_rows = rows.max(table_rows) + blind;
        if need_rows > 1usize << self.k {
            return Err(CircuitError::Shape {
                field: "k",
                expected: format!("at least {} ({need_rows} rows)", (need_rows as f64).log2().ceil() as u32),
                got: self.k.to_string(),
            });
        }
        Ok(())
    }
}

pub fn plan(program: &Program) -> Result<CostReport, CircuitError> {
    plan_with(program, Optimize::Balanced, None)
}

pub fn plan_for(program: &Program, goal: Optimize) -> Result<CostReport, CircuitError> {
    plan_with(program, goal, None)
}

/// The cheapest shape for `goal` among the limb layouts (limb widths x lanes)
/// and, for programs without function tables, the gas layouts (lanes);
/// `only` restricts the search to one family (tests).
pub fn plan_with(program: &Program, goal: Optimize, only: Option<Layout>) -> Result<CostReport, CircuitError> {
    plan_within(program, goal, only, MAX_K)
}

/// [`plan_with`] among shapes of at most `2^max_k` rows (segments: each
/// must fit the machine's largest provable circuit).
pub fn plan_within(
    program: &Program,
    goal: Optimize,
    only: Option<Layout>,
    max_k: u32,
) -> Result<CostReport, CircuitError> {
    plan_limited(program, goal, only, &Limits { max_k, ..Limits::default() })
}

/// [`plan_with`] among the shapes that fit `limits`: at most `2^max_k`
/// rows, the forced lane count if any, and a predicted proof peak
/// ([`prove_bytes`]) within the memory budget if any. No shape fitting the
/// rows is [`CircuitError::TooLarge`]; shapes that fit the rows but not the
/// memory are [`CircuitError::OverMemory`] (the least they need).
pub fn plan_limited(
    program: &Program,
    goal: Optimize,
    only: Option<Layout>,
    limits: &Limits,
) -> Result<CostReport, CircuitError> {
    let max_k = limits.max_k.min(MAX_K);
    if let Some(l) = limits.lanes.filter(|l| *l == 0 || *l > MAX_LANES) {
        return Err(CircuitError::Shape { field: "lanes", expected: format!("1 to {MAX_LANES}"), got: l.to_string() });
    }
    program.validate()?;
    // Witness parameters use the bilinear gate; they (and hashes) need the
    // limb layout (its constants column fixes the 1 that biases multiply).
    let witness_params = program.params.is_some();
    let polycommit = program.params_polycommit();
    let poseidon = !program.commitment_parts().is_empty();
    let bilinear = (witness_params && !polycommit) || program.nodes.iter().any(|n| matches!(n.op, Op::Bilinear(_)));
    let fn_rows = table::function_rows(program);
    let tables = program.nodes.iter().any(|n| matches!(n.op, Op::Table(_)));
    let div = program.nodes.iter().any(|n| matches!(n.op, Op::Div(_)));
    let range_bits = program.quant.range_bits;
    let weight = goal.commitment_weight();
    let mut best: Option<CostReport> = None;
    let mut candidates = vec![];
    let masks = layout::zero_masks(program);
    let mut rows_by_lanes = std::collections::HashMap::new();
    let (limb_lanes, bits_lanes) = match limits.lanes {
        Some(l) => (vec![l.max(MIN_LANES)], vec![l]),
        None => (LANE_CANDIDATES.to_vec(), BITS_LANE_CANDIDATES.to_vec()),
    };
    // The least memory of the shapes that fit the rows but not the budget.
    let mut over_memory: Option<u64> = None;
    let mut consider = |shape: CircuitShape, rows: usize, table_rows: usize, candidates: &mut Vec<Candidate>| {
        let mut shape = shape;
        let cs = constraint_system(&shape);
        let blind = cs.blinding_factors() + 1;
        let need = rows.max(table_rows) + blind;
        let k = ((need as f64).log2().ceil() as u32).max(4);
        if k > max_k {
            return;
        }
        let bytes = prove_bytes(&cs, k);
        if limits.max_prove_bytes.is_some_and(|b| bytes > b) {
            over_memory = Some(over_memory.map_or(bytes, |m| m.min(bytes)));
            return;
        }
        shape.k = k;
        let n_comm = commitments(&cs);
        let cost = (1u64 << k) * column_cost(&cs) + weight * n_comm as u64;
        let layout = if shape.bits.is_some() { "bits" } else { "limbs" }.to_string();
        candidates.push(Candidate {
            layout,
            lanes: shape.lanes,
            limb_bits: shape.limb_bits,
            k,
            rows,
            cost,
            prove_bytes: bytes,
        });
        if best.as_ref().is_none_or(|b| cost < b.cost) {
            best = Some(CostReport {
                shape,
                rows,
                table_rows,
                usable_rows: (1usize << k) - blind,
                advice_columns: cs.num_advice_columns(),
                fixed_columns: cs.num_fixed_columns(),
                lookups: cs.lookups().len(),
                cost,
                commitments: n_comm,
                prove_bytes: bytes,
                candidates: vec![],
            });
        }
    };
    for limb_bits in LIMB_BITS.filter(|_| only != Some(Layout::Bits)) {
        let q_limbs = range::limb_widths(range::q_bits(range_bits), limb_bits).len();
        let r_limbs = layout::r_limbs_needed(program, limb_bits);
        for &lanes in limb_lanes.iter() {
            let shape = CircuitShape {
                k: 4,
                lanes,
                bilinear,
                range_bits,
                limb_bits,
                q_limbs,
                r_limbs,
                tables,
                bits: None,
                div,
                poseidon,
                polycommit,
            };
            // Rows depend on the lanes only (the table on the limb width).
            let (rows, table_rows) = match rows_by_lanes.get(&lanes) {
                Some(&rows) => (rows, table::table_rows(limb_bits) + fn_rows),
                None => layout_rows(program, &masks, &shape),
            };
            rows_by_lanes.insert(lanes, rows);
            consider(shape, rows, table_rows, &mut candidates);
        }
    }
    // Divisions need the limb lookups.
    if !div && !witness_params && !poseidon && only != Some(Layout::Limbs) {
        let bits = BitsLayout::new(range_bits, layout::max_shift(program));
        for &lanes in bits_lanes.iter() {
            let shape = CircuitShape {
                k: 4,
                lanes,
                bilinear,
                range_bits,
                limb_bits: 0,
                q_limbs: 0,
                r_limbs: 0,
                tables,
                bits: Some(bits),
                div,
                poseidon,
                polycommit,
            };
            let (rows, table_rows) = layout_rows(program, &masks, &shape);
            consider(shape, rows, table_rows, &mut candidates);
        }
    }
    match best {
        Some(mut b) => {
            candidates.sort_by_key(|c| c.cost);
            candidates.truncate(12);
            b.candidates = candidates;
            Ok(b)
        }
        None => match (over_memory, limits.max_prove_bytes) {
            (Some(need), Some(budget)) => Err(CircuitError::OverMemory { need, budget, max_k }),
            _ => Err(CircuitError::TooLarge { rows: layout::count_rows(program, &masks, 64, None), max_k }),
        },
    }
}
