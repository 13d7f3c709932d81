//! The converter registry: one builder function per ONNX op type, grouped
//! by family. A converter reads its node's attributes and operands, infers
//! the output shape, and appends front-end nodes; it returns
//! `CompileError::Unsupported` when an operand that must be constant is not.

pub mod elementwise;
pub mod linear;
pub mod norm;
pub mod pool;
pub mod quant;
pub mod shape;

use crate::error::Result;
use crate::frontend::graph::ValueId;
use crate::frontend::{Builder, NodeCtx};

/// Converts one node; returns the values of its outputs, in order (outputs
/// past the returned ones, e.g. Dropout's mask, are unsupported if used).
pub type Converter = fn(&mut Builder, &NodeCtx) -> Result<Vec<ValueId>>;

pub fn converter(op_type: &str) -> Option<Converter> {
    Some(match op_type {
        "Gemm" => linear::gemm,
        "MatMul" => linear::matmul,
        "Conv" => linear::conv,
        "MaxPool" => pool::max_pool,
        "AveragePool" => pool::average_pool,
        "GlobalAveragePool" => pool::global_average_pool,
        "GlobalMaxPool" => pool::global_max_pool,
        "Add" => elementwise::add,
        "Sub" => elementwise::sub,
        "Mul" => elementwise::mul,
        "Div" => elementwise::div,
        "Relu" => elementwise::relu,
        "BatchNormalization" => norm::batch_norm,
        "Identity" | "Dropout" => shape::identity,
        "Cast" => shape::cast,
        "Constant" => shape::constant,
        "Reshape" => shape::reshape,
        "Flatten" => shape::flatten,
        "Squeeze" => shape::squeeze,
        "Unsqueeze" => shape::unsqueeze,
        "Transpose" => shape::transpose,
        "Concat" => shape::concat,
        "Expand" => shape::expand,
        "Tile" => shape::tile,
        "Gather" => shape::gather,
        "Slice" => shape::slice,
        "Shape" => shape::shape,
        "ConstantOfShape" => shape::constant_of_shape,
        "Pad" => shape::pad,
        "QuantizeLinear" => quant::quantize_linear,
        "DequantizeLinear" => quant::dequantize_linear,
        "QLinearMatMul" => quant::qlinear_matmul,
        "QLinearConv" => quant::qlinear_conv,
        "PRelu" => quant::prelu,
        _ => return None,
    })
}

pub fn is_supported(op_type: &str) -> bool {
    converter(op_type).is_some()
}
