//! `ir`: the contract between the ONNX front-end (`compiler`) and the proving
//! back-end (`circuits`, `prover`).
//!
//! A [`Program`] is a list of integer [`Node`]s in topological order; node `i`
//! produces value `i`. Each op states its exact integer semantics in
//! [`eval`]; the circuits constrain exactly that, so `eval` is the reference
//! every chip is tested against. No halo2 and no ONNX in here.

pub mod error;
pub mod eval;
pub mod limits;
pub mod op;
pub mod program;
pub mod quant;
pub mod segment;

pub use error::IrError;
pub use eval::{activate, divide, eval, quantize_inputs, rescale, Trace};
pub use op::{Activation, BilinearOp, DivOp, GatherOp, LinearOp, MaxOp, Op, ParamRefs, RequantOp, TableOp, ZERO_SRC};
pub use program::{
    InputSpec, Node, OutputSpec, ParamSet, ParamSlot, Program, RelowerPlan, ValueId, Visibility, FORMAT_VERSION,
    MAX_TABLE_LEN,
};
pub use quant::{dequantize, quantize, OutputDequant, QuantSettings};
