//! One chip per op family. Each `configure` adds its named gate over the
//! shared [`Columns`](crate::columns::Columns); each `assign` lays out one ir
//! op's rows through a [`Ctx`](crate::layout::Ctx) and returns the output cells
//! (`None` = the constant 0, e.g. padding, which costs no cell).

pub mod bilinear;
pub mod bits;
pub mod div;
pub mod gather;
pub mod linear;
pub mod max;
pub mod param_linear;
pub mod poseidon;
pub mod range;
pub mod requant;
pub mod table;

use halo2_proofs::plonk::Selector;

/// The selector of every gate.
#[derive(Clone, Debug)]
pub struct Selectors {
    pub linear: Selector,
    pub bilinear: Option<Selector>,
    /// Dot products over the committed weight columns (`Columns::pw`).
    pub committed: Option<Selector>,
    /// Limb layout: range rows with limb lookups (and function tables).
    pub range: Option<range::RangeSelectors>,
    /// Gas layout: range blocks of base-4 digits, no lookups.
    pub bits: Option<bits::BitsSelectors>,
    /// Division gate (`div.rs`), only when the program has `ir::Op::Div`
    /// (limb layout only: its rows are range rows).
    pub div: Option<Selector>,
    /// Poseidon rounds (`poseidon.rs`), when some tensor is hashed.
    pub poseidon: Option<poseidon::PoseidonConfig>,
}
