//! The pass pipeline, in order. Graph passes rewrite the float graph; then
//! `lower` produces the integer program; then program passes tidy it.
//!
//! 1. `fold_constants`   evaluate nodes whose inputs are all constant
//! 2. `collapse_aliases` read through Reshape/Identity/Dropout/Cast aliases
//! 3. `fold_batchnorm`   fold per-channel affine maps into the preceding Conv/Gemm/MatMul
//! 4. `merge_gathers`    compose chains of index maps; drop identity maps
//! 5. `collapse_aliases` again, for aliases the folds created
//! 6. `dead_nodes`       drop what the outputs do not need; renumber topologically
//! 7. the lowering, chosen by [`Lowering::for_graph`] (the one place that decides):
//!    - `lower`: float graph -> `ir::Program` with chosen fixed-point settings
//!      (see `lower/mod.rs` for the rules, `lower/tables.rs` for function tables);
//!    - `lower_quant`: an already-quantized graph (QuantizeLinear nodes: QDQ, QLinear*,
//!      *Integer) -> `ir::Program` with the model's own scales, exactly
//! 8. `fuse_requant_relu` merge `Requant(Identity)` + `Requant(0, Relu)`
//! 9. `ir_dead_nodes`    drop unused integer nodes

pub mod collapse_aliases;
pub mod dead_nodes;
pub mod fold_batchnorm;
pub mod fold_constants;
pub mod fuse_requant_relu;
pub mod int_input;
pub mod ir_dead_nodes;
pub mod lower;
pub mod lower_quant;
pub mod merge_gathers;

use crate::error::Result;
use crate::frontend::graph::Graph;

/// Step 7: which lowering a graph gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lowering {
    /// A float graph: calibrated fixed point (`lower`).
    FixedPoint,
    /// An already-quantized graph: the model's own integer semantics (`lower_quant`).
    Quantized,
}

impl Lowering {
    /// The predicate: a graph with QuantizeLinear nodes (after the graph
    /// passes) is quantized ([`lower_quant::is_quantized`]).
    pub fn for_graph(g: &Graph) -> Lowering {
        if lower_quant::is_quantized(g) {
            Lowering::Quantized
        } else {
            Lowering::FixedPoint
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lowering::FixedPoint => "lower",
            Lowering::Quantized => "lower_quant",
        }
    }
}

pub type GraphPass = fn(&mut Graph) -> Result<()>;
pub type ProgramPass = fn(&mut ir::Program) -> Result<()>;

pub const GRAPH_PASSES: &[(&str, GraphPass)] = &[
    ("fold_constants", fold_constants::run),
    ("collapse_aliases", collapse_aliases::run),
    ("fold_batchnorm", fold_batchnorm::run),
    ("merge_gathers", merge_gathers::run),
    ("collapse_aliases", collapse_aliases::run),
    ("dead_nodes", dead_nodes::run),
];

pub const PROGRAM_PASSES: &[(&str, ProgramPass)] =
    &[("fuse_requant_relu", fuse_requant_relu::run), ("ir_dead_nodes", ir_dead_nodes::run)];

pub fn run_graph_passes(g: &mut Graph) -> Result<()> {
    for (_, pass) in GRAPH_PASSES {
        pass(g)?;
    }
    Ok(())
}

pub fn run_program_passes(p: &mut ir::Program) -> Result<()> {
    for (_, pass) in PROGRAM_PASSES {
        pass(p)?;
    }
    Ok(())
}
