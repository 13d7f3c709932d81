//! The closed set of integer ops. Every ONNX op lowers to a few of these, so
//! the circuit implements a small set. Each op documents its exact semantics;
//! `eval.rs` implements them, and the chips in `circuits` constrain them.

use serde::{Deserialize, Serialize};

use crate::program::ValueId;

/// Marker in [`GatherOp::map`] for a constant zero element (padding).
pub const ZERO_SRC: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Model input `index`, quantized at the program scale and range-checked.
    Input { index: usize },
    /// Sparse affine map with constant weights (Gemm, MatMul by a constant,
    /// Conv, pooling sums, Add/Sub, BatchNorm, constants).
    Linear(LinearOp),
    /// Sums of products of two activations (Mul, MatMul of activations).
    Bilinear(BilinearOp),
    /// Rounding rescale fused with an activation.
    Requant(RequantOp),
    /// Maximum over windows (MaxPool).
    Max(MaxOp),
    /// Index map: data movement, costs no arithmetic.
    Gather(GatherOp),
    /// Elementwise function by table lookup (Sigmoid, Exp, Tanh, ...).
    Table(TableOp),
    /// Exact integer division by a run-time positive divisor (dynamic quantization).
    Div(DivOp),
}

impl Op {
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Linear(_) => "linear",
            Op::Bilinear(_) => "bilinear",
            Op::Requant(_) => "requant",
            Op::Max(_) => "max",
            Op::Gather(_) => "gather",
            Op::Table(_) => "table",
            Op::Div(_) => "div",
        }
    }

    /// Values this op reads.
    pub fn inputs(&self) -> Vec<ValueId> {
        match self {
            Op::Input { .. } => vec![],
            Op::Linear(l) => l.inputs.clone(),
            Op::Bilinear(b) => vec![b.a, b.b],
            Op::Requant(r) => vec![r.input],
            Op::Max(m) => vec![m.input],
            Op::Gather(g) => g.inputs.clone(),
            Op::Table(t) => vec![t.input],
            Op::Div(d) => vec![d.num, d.den],
        }
    }
}

/// `out[o] = bias[o] + sum_{t in row_ptr[o]..row_ptr[o+1]} x[cols[t]] * weights[t]`
/// where `x` is the concatenation of the flattened `inputs`, in order.
/// A row with no terms is a constant (`bias[o]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearOp {
    pub inputs: Vec<ValueId>,
    pub row_ptr: Vec<u32>,
    pub cols: Vec<u32>,
    pub weights: Vec<i64>,
    pub bias: Vec<i64>,
    /// `Some` when the weights and biases are the model's parameters, a
    /// witness of the circuit rather than constants
    /// (`--param-visibility private|hashed`; see [`crate::ParamSet`]): the
    /// slot of each term's weight and of each output's bias in
    /// `Program::params`. The inline `weights`/`bias` then equal the slots'
    /// values (checked by `Program::validate`), zero weights are kept, and the
    /// circuit's layout depends only on the sparsity pattern.
    #[serde(default)]
    pub params: Option<ParamRefs>,
}

/// Parameter slots of a [`LinearOp`]: `weights[t]` for term `t`, `bias[o]`
/// for output `o`. One slot may serve many terms (a convolution kernel
/// weight is used at every position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamRefs {
    pub weights: Vec<u32>,
    pub bias: Vec<u32>,
}

impl LinearOp {
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }
    pub fn row(&self, o: usize) -> std::ops::Range<usize> {
        self.row_ptr[o] as usize..self.row_ptr[o + 1] as usize
    }
}

/// `out[o] = sum_{t in row_ptr[o]..row_ptr[o+1]} a[pairs[t].0] * b[pairs[t].1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BilinearOp {
    pub a: ValueId,
    pub b: ValueId,
    pub row_ptr: Vec<u32>,
    pub pairs: Vec<(u32, u32)>,
}

impl BilinearOp {
    pub fn outputs(&self) -> usize {
        self.row_ptr.len() - 1
    }
    pub fn row(&self, o: usize) -> std::ops::Range<usize> {
        self.row_ptr[o] as usize..self.row_ptr[o + 1] as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    Identity,
    Relu,
}

/// Elementwise: `q = floor((x + h) / 2^shift)` with `h = 2^(shift-1)` (0 when
/// `shift == 0`), i.e. round half up; then `out = act(q)`. The quotient `q` is
/// range-checked to the program's activation range, so this op is also the
/// range check of model inputs (`shift == 0`, `Identity`).
/// `shift` is at most `QuantSettings::MAX_SHIFT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequantOp {
    pub input: ValueId,
    pub shift: u32,
    pub act: Activation,
}

/// `out[o] = max_{t in row_ptr[o]..row_ptr[o+1]} x[cols[t]]`; every window is
/// non-empty, and `max - x` must fit the program's difference range
/// (`|d| < 2^(range_bits + 1)`), since the circuit takes the max pairwise
/// through the sign of the difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxOp {
    pub input: ValueId,
    pub row_ptr: Vec<u32>,
    pub cols: Vec<u32>,
}

impl MaxOp {
    pub fn outputs(&self) -> usize {
        self.row_ptr.len() - 1
    }
    pub fn row(&self, o: usize) -> std::ops::Range<usize> {
        self.row_ptr[o] as usize..self.row_ptr[o + 1] as usize
    }
}

/// `out[o] = x[map[o]]` over the concatenation of the flattened `inputs`,
/// or 0 where `map[o] == ZERO_SRC`. Reshape, Transpose, Concat, Slice, Pad,
/// Expand, Tile and broadcasting are all gathers: wiring, no arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherOp {
    pub inputs: Vec<ValueId>,
    pub map: Vec<u32>,
}

/// Elementwise lookup: `out[e] = values[x[e] - lo]`. Every `x[e]` must lie in
/// `[lo, lo + values.len())`: the circuit looks `(x, out)` up in a fixed
/// table of exactly these pairs, so an input outside it cannot be proven.
/// The compiler builds `values` from a float function (Sigmoid, Exp, ...)
/// over the input's calibrated domain, usually after a `Requant` that
/// coarsens the input to the table's resolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableOp {
    pub input: ValueId,
    pub lo: i64,
    pub values: Vec<i64>,
}

impl TableOp {
    /// Inclusive bounds of the inputs the table covers.
    pub fn domain(&self) -> (i64, i64) {
        (self.lo, self.lo + self.values.len() as i64 - 1)
    }
}

/// Elementwise floor division by a computed divisor:
/// `out[e] = floor(num[e] / den[d])` with `d = e` when `den` has as many
/// elements as `num`, else `d = 0` (a scalar divisor, which `den` must then be).
/// Every divisor must be positive and at most `2^(range_bits + 1)`, and the
/// quotient within the activation range: the circuit constrains
/// `num = q * den + r` with `r >= 0` and `den - 1 - r >= 0` both range-checked,
/// so `(q, r)` is the unique floor division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivOp {
    pub num: ValueId,
    pub den: ValueId,
}
