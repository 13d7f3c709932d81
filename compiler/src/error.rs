//! The one error type of the compiler. Every variant names what the user can
//! act on: the file, the node and op type, the tensor, expected and got.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CompileError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },

    #[error("cannot decode ONNX model {path}: {reason}")]
    Decode { path: String, reason: String },

    /// Every unsupported node of the model, found in one pass: `(op_type, node_name)`.
    #[error("unsupported ONNX ops ({}): {}", ops.len(), format_ops(ops))]
    Unsupported { ops: Vec<(String, String)> },

    #[error("tensor {tensor} has element type {dtype}; only float tensors can be model inputs and outputs")]
    UnsupportedType { tensor: String, dtype: String },

    #[error("node {node} ({op}): {reason}")]
    Shape { node: String, op: String, reason: String },

    /// A quantization form the compiler does not prove (int4, float8, blocked, dynamic, ...).
    #[error(
        "node {node} ({op}): {form} is not supported; supported: int8/uint8/int16/uint16 QuantizeLinear and \
         DequantizeLinear (per tensor or per axis, int32 biases), QLinearMatMul, QLinearConv"
    )]
    Quantization { node: String, op: String, form: String },

    #[error("node {node} ({op}): attribute {attribute}: {reason}")]
    Attribute { node: String, op: String, attribute: String, reason: String },

    #[error("tensor {tensor}: {reason}")]
    Tensor { tensor: String, reason: String },

    #[error("expected {expected} input tensors, got {got}")]
    InputCount { expected: usize, got: usize },

    #[error("input {index} ({name}): expected {expected} values (shape {shape:?}), got {got}")]
    InputLength { index: usize, name: String, shape: Vec<usize>, expected: usize, got: usize },

    #[error("input {index} ({name}) element {element}: value {value} is not a finite number")]
    NotFinite { index: usize, name: String, element: usize, value: f64 },

    #[error("calibration: {reason}")]
    Calibration { reason: String },

    #[error("invalid JSON data: {reason}")]
    Json { reason: String },

    #[error(transparent)]
    Ir(#[from] ir::IrError),
}

fn format_ops(ops: &[(String, String)]) -> String {
    ops.iter().map(|(op, node)| format!("{op} (node '{node}')")).collect::<Vec<_>>().join(", ")
}

pub type Result<T> = std::result::Result<T, CompileError>;
