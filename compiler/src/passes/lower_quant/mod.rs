//! Quantized graphs (any `FOp::Quantize`) -> integer program, with
//! onnxruntime's integer semantics (issue #6).
//!
//! Integer tensors (QuantizeLinear outputs) are program values holding the
//! int8/uint8 values themselves. Every float value between DequantizeLinear
//! and QuantizeLinear nodes is kept *symbolically*, element by element, as
//! `bias + sum w * v[e] + sum_j c_j * relu(arg_j)` over integer program
//! values `v` with exact f64 coefficients (dequantization scales times
//! constant weights, composed through Conv/MatMul/Gemm/Add/Mul/Reshape/...).
//! Nothing is rounded until a QuantizeLinear, which becomes, per element:
//!
//! - one `Linear` with weights `m = round(w / s_y * 2^n)` (zero points of
//!   activations and weights folded into weights and bias), `n <= 40` chosen
//!   so the accumulator stays below 2^60, and a `Requant{n}`:
//!   `round(x / s_y)` with `x` the exact sum of int8 x int8 products times the
//!   scales, up to `m`'s rounding (relative 2^-31 or better);
//! - a `relu(arg)` directly before the QuantizeLinear (Relu, PRelu as
//!   `relu(x) - a * relu(-x)`, possibly through Reshape/Transpose) is rounded
//!   in the same `Requant`, with the activation fused, since
//!   `relu(x) / s = relu(x / s)`;
//! - the zero point added and saturation to `[lo, hi]` as
//!   `lo + relu(q + zp - lo)` (fused into the requant) and
//!   `hi - relu(hi - y)` (one more range-checked row), each skipped when the
//!   static bounds show it cannot bind.
//!
//! A DQ -> (Reshape) -> Q pair with the same parameters is the identity: no rows.
//! MaxPool on a dequantized tensor (positive scale per window) is a `Max` on
//! the integers. Float tails after the last DequantizeLinear (e.g. `Add(bias)`,
//! `Relu` in QOperator models) are rounded once, to fixed point at
//! 2^-`OUT_EXTRA_BITS` of the output's quantization step; an output that is
//! exactly a DequantizeLinear is the integer tensor itself with its
//! scale/zero point in `OutputSpec::dequant`.
//!
//! Rounding: half up (the circuit's `Requant`), except where the multipliers
//! are exact at `2^n` (dyadic scale ratios) and a tie is possible: there half
//! to even, as onnxruntime, from three range rows ([`Lowerer::half_even`]).
//! Elsewhere a tie has probability ~2^-40. onnxruntime evaluates in float32;
//! results differ only where the exact value is within float32 rounding of a
//! half step. The model input (float) is taken at fixed point `2^-S` with `S`
//! chosen so its quantization step is 2^`INPUT_EXTRA_BITS` units, so a double
//! rounding can differ from onnxruntime's within 2^-13 of a half step.
//! Details and measured agreement: docs/NOTES.md.

use std::collections::HashMap;

use ir::{
    Activation, GatherOp, LinearOp, MaxOp, Node, Op, OutputDequant, OutputSpec, Program, QuantSettings, RequantOp,
    TableOp, ZERO_SRC,
};

use crate::error::{CompileError, Result};
use crate::frontend::graph::{Contract, DynPart, FOp, Graph, QTable, Quantize, ValueId};
use crate::passes::lower::Visibilities;

/// Fractional bits of the model input below its QuantizeLinear's step.
pub const INPUT_EXTRA_BITS: u32 = 12;
/// Fractional bits of a float output below its smallest coefficient.
pub const OUT_EXTRA_BITS: u32 = 12;
/// Accumulators stay below 2^ACC_BITS (the evaluator's limit is 2^62).
mod build;
mod dynamic;
mod product;
mod walk;

const ACC_BITS: i32 = 60;
/// Dynamic quantization: float tensors are materialized at 2^-DYN_UNIT_BITS
/// (the model input too) ...
pub const DYN_UNIT_BITS: u32 = 24;
/// ... and assumed below 2^DYN_RANGE_BITS units (|x| < 16) when sizing the
/// later ops (the model input is range-checked to exactly that); the range
/// check of computed values is the program's `range_bits`.
const DYN_RANGE_BITS: u32 = 28;
/// Bits of the pre-scaled scale product `s` (see [`Lowerer::dyn_product`]).
const DYN_SCALE_BITS: i32 = 28;

/// `(program value, element)`.
type Src = (usize, usize);

#[derive(Debug, Clone, Default, PartialEq)]
struct Lin {
    terms: Vec<(Src, f64)>,
    bias: f64,
}

impl Lin {
    fn scaled(&self, k: f64) -> Lin {
        Lin { terms: self.terms.iter().map(|&(s, w)| (s, w * k)).collect(), bias: self.bias * k }
    }
    fn add(&mut self, other: &Lin, k: f64) {
        self.terms.extend(other.terms.iter().map(|&(s, w)| (s, w * k)));
        self.bias += other.bias * k;
    }
}

/// One float element: `lin + sum_j c_j * relu(arg_j)`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Row {
    lin: Lin,
    relus: Vec<(f64, Lin)>,
}

impl Row {
    fn add(&mut self, other: &Row, k: f64) {
        self.lin.add(&other.lin, k);
        self.relus.extend(other.relus.iter().map(|(c, a)| (c * k, a.clone())));
    }
    fn terms(&self) -> usize {
        self.lin.terms.len() + self.relus.iter().map(|(_, a)| a.terms.len()).sum::<usize>()
    }
}

#[derive(Debug, Clone)]
enum QVal {
    /// Integers `y[i] = (neg ? -v[i] : v[i]) + off`, all in `[lo, hi]`.
    Int {
        id: usize,
        neg: bool,
        off: i64,
        lo: i64,
        hi: i64,
    },
    Float(Vec<Row>),
}

/// An integer sum `sum_k sign_k[i] * v_k[i] + konst[i]` not yet emitted.
struct Sum {
    parts: Vec<(usize, Vec<i64>)>,
    konst: Vec<i64>,
}

struct Lowerer<'g> {
    g: &'g Graph,
    nodes: Vec<Node>,
    /// Static `(min, max)` of every program value.
    range: Vec<(f64, f64)>,
    vals: Vec<Option<QVal>>,
    /// `(min, max)` of the integers of values that hold quantized tensors.
    int_ranges: HashMap<usize, (i64, i64)>,
    /// Integer graph inputs: the value at `2^-input_bits` -> the scale-0
    /// integers it was made from ([`crate::passes::int_input`]).
    int_inputs: HashMap<usize, usize>,
    input_bits: u32,
    input_range_bits: u32,
    /// Whether the graph has DynamicQuantizeLinear (float values are then
    /// materialized at 2^-DYN_UNIT_BITS).
    dynamic: bool,
    /// DynamicQuantizeLinear outputs by input value: `(y, scale, zero point)`.
    dyn_cache: HashMap<ValueId, [QVal; 3]>,
}

fn internal(name: &str, reason: impl Into<String>) -> CompileError {
    CompileError::Shape { node: name.to_string(), op: "quantized lowering".into(), reason: reason.into() }
}

fn gcd_u64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd_u64(b, a % b)
    }
}

fn bits_for(bound: f64) -> u32 {
    let mut b = 0;
    while b < 63 && 2f64.powi(b as i32) <= bound {
        b += 1;
    }
    b
}

/// Whether the graph holds quantized tensors (and is lowered here).
pub fn is_quantized(g: &Graph) -> bool {
    g.nodes.iter().any(|n| matches!(n.op, FOp::Quantize(_) | FOp::DynQuant(_) | FOp::QTable(_)))
}

/// The fixed-point bits of the model inputs and the bits of their range:
/// from the QuantizeLinear nodes that read a model input directly.
fn input_settings(g: &Graph) -> (u32, u32) {
    let mut step = f64::INFINITY;
    let mut max_abs: f64 = 0.0;
    for n in &g.nodes {
        let FOp::Quantize(q) = &n.op else { continue };
        let mut src = n.inputs[0];
        while let (FOp::Reshape | FOp::Gather(_), [i]) = (&g.nodes[src].op, g.nodes[src].inputs.as_slice()) {
            src = *i;
        }
        if !matches!(g.nodes[src].op, FOp::Input(_)) {
            continue;
        }
        for (s, z) in q.scale.iter().zip(&q.zero_point) {
            step = step.min(*s);
            max_abs = max_abs.max(s * (q.lo - z).abs().max((q.hi - z).abs()) as f64);
        }
    }
    if !step.is_finite() {
        // Dynamic quantization reads the input at 2^-DYN_UNIT_BITS.
        if g.nodes.iter().any(|n| matches!(n.op, FOp::DynQuant(_))) {
            return (DYN_UNIT_BITS, DYN_RANGE_BITS);
        }
        return (16, 24);
    }
    let bits = ((-step.log2()).ceil() as i32 + INPUT_EXTRA_BITS as i32).clamp(0, 30) as u32;
    // Twice the quantizer's range, so inputs that saturate it are accepted.
    let range = bits_for(2.0 * max_abs * 2f64.powi(bits as i32)).max(bits + 1);
    (bits, range)
}

pub fn lower(g: &Graph, name: &str, vis: &Visibilities) -> Result<Program> {
    let (input_bits, input_range_bits) = input_settings(g);
    let mut l = Lowerer {
        g,
        nodes: vec![],
        range: vec![],
        vals: vec![None; g.nodes.len()],
        int_ranges: HashMap::new(),
        int_inputs: HashMap::new(),
        input_bits,
        input_range_bits,
        dynamic: g.nodes.iter().any(|n| matches!(n.op, FOp::DynQuant(_))),
        dyn_cache: HashMap::new(),
    };
    for v in 0..g.nodes.len() {
        l.node(v)?;
    }
    let mut outputs = Vec::with_capacity(g.outputs.len());
    for (oname, v) in &g.outputs {
        let (value, dequant) = l.output(oname, *v)?;
        let shape = g.nodes[*v].shape.clone();
        l.nodes[value].shape = shape.clone();
        outputs.push(OutputSpec { name: oname.clone(), value, shape, dequant });
    }
    // The range every range-checked value (inputs, requant quotients) fits.
    let mut range_bits = input_range_bits;
    for (i, n) in l.nodes.iter().enumerate() {
        match &n.op {
            Op::Requant(_) => range_bits = range_bits.max(bits_for(l.bound(i))),
            // Divisors up to 2^(range_bits + 1), quotients in the range.
            Op::Div(d) => {
                range_bits = range_bits.max(bits_for(l.bound(d.den)).saturating_sub(1)).max(bits_for(l.bound(i)))
            }
            _ => {}
        }
    }
    if range_bits > QuantSettings::MAX_RANGE_BITS {
        let worst = (0..l.nodes.len())
            .filter(|&i| matches!(l.nodes[i].op, Op::Requant(_)))
            .max_by(|&a, &b| l.bound(a).total_cmp(&l.bound(b)))
            .map(|i| l.nodes[i].name.clone())
            .unwrap_or_default();
        return Err(internal(
            &worst,
            format!("values need {range_bits} bits, more than the circuit's {}", QuantSettings::MAX_RANGE_BITS),
        ));
    }
    Ok(Program {
        format_version: ir::FORMAT_VERSION,
        name: name.to_string(),
        quant: QuantSettings { scale_bits: input_bits, range_bits },
        inputs: super::lower::input_specs(g),
        nodes: l.nodes,
        outputs,
        input_visibility: vis.input,
        output_visibility: vis.output,
        params: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::InputSpec;

    /// `half_even` built from half-up requants equals round-half-to-even (plus
    /// the extra offset, then the activation) for every input in a range.
    #[test]
    fn half_even_from_requants_is_exact() {
        let g = Graph::default();
        for shift in 1..=5u32 {
            for act in [Activation::Identity, Activation::Relu] {
                let mut l = Lowerer {
                    g: &g,
                    nodes: vec![],
                    range: vec![],
                    vals: vec![],
                    int_ranges: HashMap::new(),
                    int_inputs: HashMap::new(),
                    input_bits: 0,
                    input_range_bits: 10,
                    dynamic: false,
                    dyn_cache: HashMap::new(),
                };
                let n = 400;
                let x = l.emit("x".into(), Op::Input { index: 0 }, vec![n], 0, (-512.0, 512.0));
                let extra: Vec<i64> = (0..n).map(|i| (i as i64 % 5) - 2).collect();
                let out = l.half_even("t", x, shift, &extra, act);
                let program = Program {
                    format_version: ir::FORMAT_VERSION,
                    name: "t".into(),
                    quant: QuantSettings { scale_bits: 0, range_bits: 12 },
                    inputs: vec![InputSpec { name: "x".into(), shape: vec![n], bound: None, int_range: None }],
                    nodes: l.nodes,
                    outputs: vec![OutputSpec { name: "y".into(), value: out, shape: vec![n], dequant: None }],
                    input_visibility: ir::Visibility::Private,
                    output_visibility: ir::Visibility::Public,
                    params: None,
                };
                program.validate().unwrap();
                let xs: Vec<i64> = (0..n as i64).map(|i| i - 200).collect();
                let t = ir::eval(&program, std::slice::from_ref(&xs)).unwrap();
                for (i, &v) in xs.iter().enumerate() {
                    let r = (v as f64 / 2f64.powi(shift as i32)).round_ties_even() as i64 + extra[i];
                    let want = ir::activate(act, r);
                    assert_eq!(t.values[out][i], want, "x={v} shift={shift} extra={} {act:?}", extra[i]);
                }
            }
        }
    }
}
