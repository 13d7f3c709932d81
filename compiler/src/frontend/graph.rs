//! The front-end's float graph: static shapes, one value per node, nodes in
//! topological order (node `i` produces value `i`). ONNX ops are normalized
//! into a handful of index-map ops here, so that float evaluation, the passes
//! and lowering to `ir` each handle a small closed set.

use crate::frontend::{func::Func, tensor::Tensor};

pub type ValueId = usize;

/// `out[o] = sum over t in row o of a[a_idx[t]] * b[b_idx[t]]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    pub row_ptr: Vec<u32>,
    pub a_idx: Vec<u32>,
    pub b_idx: Vec<u32>,
}

impl Terms {
    pub fn rows(&self) -> usize {
        self.row_ptr.len().saturating_sub(1)
    }
    pub fn row(&self, o: usize) -> std::ops::Range<usize> {
        self.row_ptr[o] as usize..self.row_ptr[o + 1] as usize
    }
    pub fn end_row(&mut self) {
        self.row_ptr.push(self.a_idx.len() as u32);
    }
    pub fn new() -> Terms {
        Terms { row_ptr: vec![0], a_idx: vec![], b_idx: vec![] }
    }
}

/// A product of two tensors (MatMul, Gemm, Conv, Mul of activations):
/// `out[o] = bias[o] + sum_t a[a_idx[t]] * b[b_idx[t]]`; inputs `[a, b]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub terms: Terms,
    pub bias: Option<Vec<f64>>,
}

/// A sparse affine map with constant float weights over the concatenation
/// of the flattened inputs (Add, Sub, Mul/Div by a constant, pooling
/// averages, unfolded BatchNorm).
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    pub row_ptr: Vec<u32>,
    pub cols: Vec<u32>,
    pub weights: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Affine {
    pub fn row(&self, o: usize) -> std::ops::Range<usize> {
        self.row_ptr[o] as usize..self.row_ptr[o + 1] as usize
    }
}

/// Windows over one input: `out[o] = max_{t in row o} x[cols[t]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub row_ptr: Vec<u32>,
    pub cols: Vec<u32>,
}

/// ONNX QuantizeLinear: `out[i] = clamp(round_half_even(x[i] / scale[i]) + zero_point[i], lo, hi)`,
/// an integer tensor. Parameters are expanded to one per output element
/// (per-tensor and per-axis quantization alike). See `frontend::ops::quant`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantize {
    pub scale: Vec<f64>,
    pub zero_point: Vec<i64>,
    pub lo: i64,
    pub hi: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FOp {
    Input(usize),
    Const(Tensor),
    /// Same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze,
    /// Identity, Dropout, float Cast): an alias.
    Reshape,
    /// `out[o] = concat(inputs)[map[o]]`, or 0 where `map[o] == ir::ZERO_SRC`.
    Gather(Vec<u32>),
    Contract(Contract),
    Affine(Affine),
    Max(Windows),
    Relu,
    /// Elementwise non-linear function, proven by table lookup.
    Func(Func),
    /// Heaviside step, `1.0` where `x > 0` (`x >= 0` with `or_equal`), else
    /// `0.0`: comparisons, ArgMax. Exact on the quantized value: it lowers to
    /// `relu(q + c) - relu(q + c - 1)` in integer units (one unit of the
    /// activation scale), times `2^s`.
    Step {
        or_equal: bool,
    },
    /// Float -> integer (QuantizeLinear and the output of the QLinear ops);
    /// DequantizeLinear is an `Affine`.
    Quantize(Quantize),
    /// One output of DynamicQuantizeLinear (uint8, scale and zero point from
    /// the input's run-time min/max); the three parts read the same input.
    DynQuant(DynPart),
    /// Integer -> integer lookup (com.microsoft QLinearSigmoid and
    /// QLinearLeakyRelu, which onnxruntime computes by a 256-entry table):
    /// `out = values[x - lo]` for integer `x` in `[lo, lo + values.len())`.
    QTable(QTable),
    /// ONNX BitShift of unsigned integers by constant amounts (one per
    /// element; the input is already broadcast to the output).
    BitShift(BitShift),
}

/// An [`FOp::BitShift`]: `x >> k` (floor division by `2^k`) or
/// `(x << k) mod 2^bits` (ONNX's unsigned wraparound); amounts `>= bits` give 0.
#[derive(Debug, Clone, PartialEq)]
pub struct BitShift {
    pub left: bool,
    pub bits: u32,
    pub shifts: Vec<u32>,
}

/// The table of an [`FOp::QTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct QTable {
    pub lo: i64,
    pub values: Vec<i64>,
}

/// Which output of DynamicQuantizeLinear an [`FOp::DynQuant`] node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynPart {
    Y,
    Scale,
    ZeroPoint,
}

impl FOp {
    pub fn kind(&self) -> &'static str {
        match self {
            FOp::Input(_) => "input",
            FOp::Const(_) => "const",
            FOp::Reshape => "reshape",
            FOp::Gather(_) => "gather",
            FOp::Contract(_) => "contract",
            FOp::Affine(_) => "affine",
            FOp::Max(_) => "max",
            FOp::Relu => "relu",
            FOp::Func(f) => f.name(),
            FOp::Step { .. } => "step",
            FOp::Quantize(_) => "quantize",
            FOp::DynQuant(_) => "dynamic_quantize",
            FOp::QTable(_) => "quantized_table",
            FOp::BitShift(_) => "bit_shift",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The ONNX node (or tensor) this came from.
    pub name: String,
    pub op: FOp,
    pub inputs: Vec<ValueId>,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphInput {
    pub name: String,
    pub shape: Vec<usize>,
    /// Bound at compile time (a parameter input, see `frontend::load`): the
    /// graph holds it as a constant.
    pub bound: Option<Vec<f64>>,
    /// `[lo, hi]` of an integer input's element type
    /// ([`crate::passes::int_input::type_range`]), `None` for floats.
    pub int_range: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub inputs: Vec<GraphInput>,
    pub nodes: Vec<Node>,
    /// `(name, value)` per graph output.
    pub outputs: Vec<(String, ValueId)>,
}

impl Graph {
    pub fn konst(&self, v: ValueId) -> Option<&Tensor> {
        match &self.nodes.get(v)?.op {
            FOp::Const(t) => Some(t),
            _ => None,
        }
    }

    /// Number of uses of each value (graph outputs count as uses).
    pub fn use_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.nodes.len()];
        for n in &self.nodes {
            for &i in &n.inputs {
                c[i] += 1;
            }
        }
        for (_, v) in &self.outputs {
            c[*v] += 1;
        }
        c
    }

    pub fn is_output(&self, v: ValueId) -> bool {
        self.outputs.iter().any(|(_, o)| *o == v)
    }

    /// Keeps the inputs and the nodes the outputs depend on, renumbered in a
    /// topological order; passes may append nodes anywhere and call this.
    pub fn compact(&mut self) {
        let n = self.nodes.len();
        let mut order: Vec<ValueId> = Vec::with_capacity(n);
        let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
        let inputs: Vec<ValueId> = (0..n).filter(|&i| matches!(self.nodes[i].op, FOp::Input(_))).collect();
        for &i in &inputs {
            state[i] = 2;
            order.push(i);
        }
        let roots: Vec<ValueId> = self.outputs.iter().map(|(_, v)| *v).collect();
        for root in roots {
            // Iterative post-order DFS.
            let mut stack: Vec<(ValueId, usize)> = vec![(root, 0)];
            while let Some((v, k)) = stack.pop() {
                if state[v] == 2 {
                    continue;
                }
                state[v] = 1;
                if let Some(&next) = self.nodes[v].inputs.get(k) {
                    stack.push((v, k + 1));
                    if state[next] == 0 {
                        stack.push((next, 0));
                    }
                } else {
                    state[v] = 2;
                    order.push(v);
                }
            }
        }
        let mut new_id = vec![usize::MAX; n];
        for (k, &v) in order.iter().enumerate() {
            new_id[v] = k;
        }
        let mut old: Vec<Option<Node>> = std::mem::take(&mut self.nodes).into_iter().map(Some).collect();
        self.nodes = order
            .iter()
            .filter_map(|&v| old[v].take())
            .map(|mut node| {
                for i in node.inputs.iter_mut() {
                    *i = new_id[*i];
                }
                node
            })
            .collect();
        for (_, v) in self.outputs.iter_mut() {
            *v = new_id[*v];
        }
    }
}
