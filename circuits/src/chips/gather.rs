//! Index maps (Reshape, Transpose, Concat, Pad, Slice, Expand...): pure
//! wiring. The output cells are the input cells; consumers copy them through
//! the permutation argument, so data movement costs no rows.

use ir::{GatherOp, ZERO_SRC};

use crate::layout::Cells;

pub fn assign(op: &GatherOp, src: &Cells) -> Cells {
    op.map.iter().map(|&c| if c == ZERO_SRC { None } else { src[c as usize] }).collect()
}
