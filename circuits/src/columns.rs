//! The column set every chip shares. Chips reuse the same physical columns
//! with their own selectors, so a model's circuit is as narrow as its widest
//! chip.

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance, TableColumn};

use crate::{field::Fr, shape::CircuitShape};

/// Role of each column:
/// - `x[i]`, `i < lanes`: dot-product operands (copied in, so equality-enabled).
///   Range rows (requant, max) use `x[0]` = input (or `a`), `x[1]` = quotient `q`
///   (or `a - b`), `x[2]` = `b`, `x[3]` = sign of `q`, then the quotient limbs
///   `x[4 .. 4+Q]` (most significant first, fixed widths) and the remainder limbs
///   `x[4+Q .. 4+Q+R]` (least significant first, widths in `tag`). Limb columns
///   beyond the dot lanes take no copies and have no equality.
/// - `b[i]`: right operands of activation-by-activation products (only when needed).
/// - `acc`: running sums and every op's output.
/// - `w[i]`: constant weights. Range rows: `w[0]` = 2^shift, `w[1]` = ReLU flag.
/// - `bias`: first-row bias of a dot product; a requant's rounding offset.
/// - `cont`: 1 where a dot product continues the previous row's sum.
/// - `tag[i]`: bit width of remainder limb `i` on this row (0 = unused).
///
/// The gas layout ([`Layout::Bits`](crate::shape::Layout)) has only
/// the dot lanes, `acc` (also the digits' running sums), `w`, `bias`, `cont`
/// and the instance: no limb or tag columns, no constants column (its zero
/// cell comes from an empty dot-product row), and a table only for function
/// tables. See `chips::bits`.
#[derive(Clone, Debug)]
pub struct Columns {
    /// Dot-product lanes: `x[..lanes]`, `b[..lanes]`, `w[..lanes]`.
    pub lanes: usize,
    pub q_limbs: usize,
    pub r_limbs: usize,
    pub x: Vec<Column<Advice>>,
    pub b: Vec<Column<Advice>>,
    /// Committed weights (`ir::Visibility::Polycommit`): the weight lanes of
    /// witness-parameter dot products, one per dot lane, left unblinded by
    /// the prover so their commitments are a function of the weights alone
    /// (`crate::polycommit`). No equality: nothing is copied in or out.
    pub pw: Vec<Column<Advice>>,
    pub acc: Column<Advice>,
    pub w: Vec<Column<Fixed>>,
    pub bias: Column<Fixed>,
    pub cont: Column<Fixed>,
    pub tag: Vec<Column<Fixed>>,
    /// Poseidon constants beyond `w` (`chips::poseidon` needs `block + 3`
    /// fixed columns: `w`, then these).
    pub pfix: Vec<Column<Fixed>>,
    /// Limb layout only (the zero cell is a constant there).
    pub constants: Option<Column<Fixed>>,
    pub instance: Column<Instance>,
    /// Limb layout only.
    pub table: Option<[TableColumn; 3]>,
}

/// Fewest dot lanes of the limb layout: range rows read `w[0]`, `w[1]` and
/// copy into `x[0]`, `x[2]`. The gas layout needs one.
pub const MIN_LANES: usize = 3;

impl Columns {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: &CircuitShape) -> Self {
        let limbs = shape.bits.is_none();
        let lanes = if limbs { shape.lanes.max(MIN_LANES) } else { shape.lanes.max(1) };
        let width = if limbs { lanes.max(4 + shape.q_limbs + shape.r_limbs) } else { lanes };
        // Poseidon rows: state in x[0..3], the other cells in x[3..], constants
        // in w and pfix (`chips::poseidon`).
        let width = if shape.poseidon { width.max(6) } else { width };
        let x: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        let b: Vec<_> = if shape.bilinear { (0..lanes).map(|_| meta.advice_column()).collect() } else { vec![] };
        let pw: Vec<_> = if shape.polycommit { (0..lanes).map(|_| meta.advice_column()).collect() } else { vec![] };
        let acc = meta.advice_column();
        // Only copy targets need equality: dot operands, outputs.
        let copied = if shape.poseidon { lanes.max(6) } else { lanes };
        for c in x[..copied].iter().chain(b.iter()).chain(std::iter::once(&acc)) {
            meta.enable_equality(*c);
        }
        let w: Vec<_> = (0..lanes).map(|_| meta.fixed_column()).collect();
        let bias = meta.fixed_column();
        let cont = meta.fixed_column();
        let pfix = if shape.poseidon { (crate::poseidon::block(lanes) + 3).saturating_sub(lanes) } else { 0 };
        let pfix: Vec<_> = (0..pfix).map(|_| meta.fixed_column()).collect();
        let tag = if limbs { (0..shape.r_limbs).map(|_| meta.fixed_column()).collect() } else { vec![] };
        let constants = limbs.then(|| {
            let c = meta.fixed_column();
            meta.enable_constant(c);
            c
        });
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        // The gas layout has a table only for function tables (no limb rows).
        let table = (limbs || shape.tables)
            .then(|| [meta.lookup_table_column(), meta.lookup_table_column(), meta.lookup_table_column()]);
        Columns {
            lanes,
            q_limbs: if limbs { shape.q_limbs } else { 0 },
            r_limbs: if limbs { shape.r_limbs } else { 0 },
            x,
            b,
            pw,
            acc,
            w,
            bias,
            cont,
            tag,
            pfix,
            constants,
            instance,
            table,
        }
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }
}
