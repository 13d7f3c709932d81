//! The column set every chip shares. Chips reuse the same physical columns
//! with their own selectors, so a model's circuit is as narrow as its widest
//! chip (the dot-product lanes).

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance, TableColumn};

use crate::{field::Fr, shape::CircuitShape};

/// Role of each column:
/// - `x[i]`: dot-product operands; requant uses `x[0]` = input, `x[1]` = quotient,
///   `x[2..5]` = remainder limbs; max uses `x[0]`, `x[1]` = the two candidates.
/// - `b[i]`: right operands of activation-by-activation products (only when needed).
/// - `acc`: running sums and every op's output.
/// - `w[i]`: constant weights; requant uses `w[0]` = 2^shift, `w[1..4]` = limb weights.
/// - `bias`: first-row bias of a dot product; requant's rounding offset.
/// - `cont`: 1 where a dot product continues the previous row's sum.
/// - `tag[j]`: which table section lookup `j` reads on this row (0 = inactive).
#[derive(Clone, Debug)]
pub struct Columns {
    pub x: Vec<Column<Advice>>,
    pub b: Vec<Column<Advice>>,
    pub acc: Column<Advice>,
    pub w: Vec<Column<Fixed>>,
    pub bias: Column<Fixed>,
    pub cont: Column<Fixed>,
    pub tag: [Column<Fixed>; 4],
    pub constants: Column<Fixed>,
    pub instance: Column<Instance>,
    pub table: [TableColumn; 3],
}

/// Lanes a requant row needs: input, quotient and three remainder limbs.
pub const MIN_LANES: usize = 5;

impl Columns {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: &CircuitShape) -> Self {
        let lanes = shape.lanes.max(MIN_LANES);
        let x: Vec<_> = (0..lanes).map(|_| meta.advice_column()).collect();
        let b: Vec<_> = if shape.bilinear { (0..lanes).map(|_| meta.advice_column()).collect() } else { vec![] };
        let acc = meta.advice_column();
        for c in x.iter().chain(b.iter()).chain(std::iter::once(&acc)) {
            meta.enable_equality(*c);
        }
        let w: Vec<_> = (0..lanes).map(|_| meta.fixed_column()).collect();
        let bias = meta.fixed_column();
        let cont = meta.fixed_column();
        let tag = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
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
}
