//! The column set every chip shares. Chips reuse the same physical columns
//! with their own selectors, so a model's circuit is as narrow as its widest
//! chip.

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance, TableColumn};

use crate::{field::Fr, shape::CircuitShape};

/// Role of each column:
/// - `x[i]`: dot-product operands. Range rows (requant, max) use `x[0]` = input
///   (or `a`), `x[1]` = quotient `q` (or `a - b`), `x[2]` = `b`, `x[3]` = sign of `q`,
///   `x[4 + j]` = limb `j` (looked up with width `tag[j]`).
/// - `b[i]`: right operands of activation-by-activation products (only when needed).
/// - `acc`: running sums and every op's output.
/// - `w[i]`: constant weights. Range rows: `w[0]` = 2^shift, `w[1]` = range offset,
///   `w[2]` = ReLU flag, `w[3 + j]` = weight of limb `j` in `q + offset`,
///   `w[3 + M + j]` = weight of limb `j` in the remainder.
/// - `bias`: first-row bias of a dot product; a requant's rounding offset.
/// - `cont`: 1 where a dot product continues the previous row's sum.
/// - `tag[j]`: bit width of limb `j` on this row (0 = unused).
#[derive(Clone, Debug)]
pub struct Columns {
    pub x: Vec<Column<Advice>>,
    pub b: Vec<Column<Advice>>,
    pub acc: Column<Advice>,
    pub w: Vec<Column<Fixed>>,
    pub bias: Column<Fixed>,
    pub cont: Column<Fixed>,
    pub tag: Vec<Column<Fixed>>,
    pub constants: Column<Fixed>,
    pub instance: Column<Instance>,
    pub table: [TableColumn; 3],
}

/// Lanes a range row needs for `limbs` limb columns.
pub fn min_lanes(limbs: usize) -> usize {
    (4 + limbs).max(3 + 2 * limbs)
}

impl Columns {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: &CircuitShape) -> Self {
        let lanes = shape.lanes.max(min_lanes(shape.limbs));
        let x: Vec<_> = (0..lanes).map(|_| meta.advice_column()).collect();
        let b: Vec<_> = if shape.bilinear { (0..lanes).map(|_| meta.advice_column()).collect() } else { vec![] };
        let acc = meta.advice_column();
        // Only operand lanes and outputs take part in copies; limb lanes beyond
        // the dot-product width never do, but lanes are shared, so all are enabled.
        for c in x.iter().chain(b.iter()).chain(std::iter::once(&acc)) {
            meta.enable_equality(*c);
        }
        let w: Vec<_> = (0..lanes).map(|_| meta.fixed_column()).collect();
        let bias = meta.fixed_column();
        let cont = meta.fixed_column();
        let tag = (0..shape.limbs).map(|_| meta.fixed_column()).collect();
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let table = [meta.lookup_table_column(), meta.lookup_table_column(), meta.lookup_table_column()];
        Columns { x, b, acc, w, bias, cont, tag, constants, instance, table }
    }

    pub fn lanes(&self) -> usize {
        self.x.len()
    }

    pub fn limbs(&self) -> usize {
        self.tag.len()
    }
}
