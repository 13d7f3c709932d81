use thiserror::Error;

/// Errors of the integer program: malformed programs and values outside the
/// ranges the circuit can constrain.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    #[error("program format version {got} is not supported (expected {expected}); recompile the model")]
    FormatVersion { expected: u32, got: u32 },
    #[error("malformed program: node {node} ({name}): {reason}")]
    Malformed { node: usize, name: String, reason: String },
    #[error("expected {expected} input tensors, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("input {index} ({name}): expected {expected} values (shape {shape:?}), got {got}")]
    InputLength { index: usize, name: String, shape: Vec<usize>, expected: usize, got: usize },
    #[error("input {index} ({name}) element {element}: value {value} is not a finite number")]
    NotFinite { index: usize, name: String, element: usize, value: f64 },
    #[error(
        "input {index} ({name}) element {element}: value {value} is not an integer of the input's type, \
         which holds the integers in [{lo}, {hi}]"
    )]
    NotInType { index: usize, name: String, element: usize, value: f64, lo: i64, hi: i64 },
    #[error(
        "value out of the calibrated range at node {node} ({name}, {what}) element {element}: \
         {value} is outside [{lo}, {hi}]; recompile with --calibrate on inputs like this one or a larger --range-bits"
    )]
    OutOfRange { node: usize, name: String, what: &'static str, element: usize, value: i64, lo: i64, hi: i64 },
    #[error("integer overflow at node {node} ({name}); the model's values exceed 62 bits")]
    Overflow { node: usize, name: String },
    #[error(
        "input {index} ({name}) is a parameter bound when the model was compiled to {expected:?}; got {got:?} \
         (recompile with --calibrate on an input holding these values)"
    )]
    BoundInput { index: usize, name: String, expected: Vec<f64>, got: Vec<f64> },
    #[error("cannot decode program: {0}")]
    Decode(String),
}
