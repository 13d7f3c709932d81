//! One chip per op family. Each `configure` adds its named gate over the
//! shared [`Columns`](crate::columns::Columns); each `assign` lays out one ir
//! op's rows through a [`Ctx`](crate::layout::Ctx) and returns the output cells
//! (`None` = the constant 0, e.g. padding, which costs no cell).

pub mod bilinear;
pub mod div;
pub mod gather;
pub mod linear;
pub mod max;
pub mod range;
pub mod requant;
pub mod table;

use halo2_proofs::plonk::Selector;

/// The selector of every gate.
#[derive(Clone, Debug)]
pub struct Selectors {
    pub linear: Selector,
    pub bilinear: Option<Selector>,
    pub range: range::RangeSelectors,
    /// Division gate (`div.rs`), only when the program has `ir::Op::Div`.
    pub div: Option<Selector>,
}
