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
    ZERO_SRC,
};

use crate::error::{CompileError, Result};
use crate::frontend::graph::{Contract, DynPart, FOp, Graph, Quantize, ValueId};
use crate::passes::lower::Visibilities;

/// Fractional bits of the model input below its QuantizeLinear's step.
pub const INPUT_EXTRA_BITS: u32 = 12;
/// Fractional bits of a float output below its smallest coefficient.
pub const OUT_EXTRA_BITS: u32 = 12;
/// Accumulators stay below 2^ACC_BITS (the evaluator's limit is 2^62).
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

impl<'g> Lowerer<'g> {
    fn emit(&mut self, name: String, op: Op, shape: Vec<usize>, scale: u32, range: (f64, f64)) -> usize {
        self.nodes.push(Node { name, op, shape, scale });
        self.range.push(range);
        self.nodes.len() - 1
    }

    /// Static bound of `|v|`.
    fn bound(&self, v: usize) -> f64 {
        let (a, b) = self.range[v];
        a.abs().max(b.abs())
    }

    /// `(min, max)` of `w * v` plus `acc`.
    fn add_term(&self, acc: (f64, f64), v: usize, w: f64) -> (f64, f64) {
        let (a, b) = self.range[v];
        let (x, y) = if w >= 0.0 { (a * w, b * w) } else { (b * w, a * w) };
        (acc.0 + x, acc.1 + y)
    }

    /// A requant's `(min, max)` from its input's, at `shift`, after `act`.
    fn requant_range(&self, input: (f64, f64), shift: u32, act: Activation) -> (f64, f64) {
        let d = 2f64.powi(shift as i32);
        let (a, b) = ((input.0 / d).floor(), (input.1 / d).ceil() + 1.0);
        match act {
            Activation::Identity => (a, b),
            Activation::Relu => (a.max(0.0), b.max(0.0)),
        }
    }

    fn rows_of(&self, q: &QVal) -> Vec<Row> {
        match q {
            QVal::Float(r) => r.clone(),
            &QVal::Int { id, neg, off, .. } => (0..self.nodes[id].len())
                .map(|i| Row {
                    lin: Lin { terms: vec![((id, i), if neg { -1.0 } else { 1.0 })], bias: off as f64 },
                    relus: vec![],
                })
                .collect(),
        }
    }

    fn value(&mut self, v: ValueId) -> Result<QVal> {
        if let Some(q) = &self.vals[v] {
            return Ok(q.clone());
        }
        let node = &self.g.nodes[v];
        match &node.op {
            FOp::Const(t) => {
                let rows = t
                    .to_f64()
                    .into_iter()
                    .map(|x| Row { lin: Lin { terms: vec![], bias: x }, relus: vec![] })
                    .collect();
                Ok(QVal::Float(rows))
            }
            _ => Err(internal(&node.name, "value used before it is computed")),
        }
    }

    fn rows(&mut self, v: ValueId) -> Result<Vec<Row>> {
        let q = self.value(v)?;
        Ok(self.rows_of(&q))
    }

    /// Emits `round(lin_i / div_i) + extra_i` for every element (`Linear`,
    /// then `Requant{n, act}`; no requant when the map is exact in integers),
    /// then `act`. Rounds half up, or half to even where the multipliers are
    /// exact and a tie is possible (see [`Self::half_even`]).
    fn scaled(
        &mut self,
        name: &str,
        lins: &[Lin],
        div: &[f64],
        extra: &[i64],
        act: Activation,
        even: bool,
    ) -> Result<usize> {
        let n_out = lins.len();
        let mut exact = true;
        let mut acc_max: f64 = 1.0;
        for (i, l) in lins.iter().enumerate() {
            let mut a = (l.bias / div[i]).abs() + extra[i].unsigned_abs() as f64;
            exact &= (l.bias / div[i]).fract() == 0.0;
            for &((v, _), w) in &l.terms {
                let r = w / div[i];
                exact &= r.fract() == 0.0;
                a += r.abs() * self.bound(v);
            }
            acc_max = acc_max.max(a);
        }
        let shift: u32 = if exact {
            0
        } else {
            (ACC_BITS - acc_max.log2().ceil() as i32).clamp(0, QuantSettings::MAX_SHIFT as i32) as u32
        };
        if !exact && shift < 16 {
            return Err(internal(name, format!("values too large to requantize precisely (|x| up to {acc_max:.3e})")));
        }
        let mult = 2f64.powi(shift as i32);
        let mut inputs: Vec<usize> = vec![];
        let mut offset: HashMap<usize, u32> = HashMap::new();
        let mut lin = LinearOp { inputs: vec![], row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        let mut lin_range = (f64::INFINITY, f64::NEG_INFINITY);
        // Whether every multiplier is exact at 2^shift (a dyadic scale ratio):
        // then ties are real ties, which onnxruntime rounds to even.
        let mut exact_mult = true;
        let mut gcd: u64 = 1u64 << shift;
        let mut core_bias: Vec<i64> = Vec::with_capacity(n_out);
        for (i, l) in lins.iter().enumerate() {
            let mut r = (0.0f64, 0.0f64);
            for &((v, e), w) in &l.terms {
                exact_mult &= (w / div[i] * mult).fract() == 0.0;
                let m = (w / div[i] * mult).round();
                if m == 0.0 {
                    continue;
                }
                let off = match offset.get(&v) {
                    Some(&o) => o,
                    None => {
                        let o = inputs.iter().map(|&x| self.nodes[x].len()).sum::<usize>() as u32;
                        inputs.push(v);
                        offset.insert(v, o);
                        o
                    }
                };
                lin.cols.push(off + e as u32);
                lin.weights.push(m as i64);
                gcd = gcd_u64(gcd, m.abs() as u64);
                r = self.add_term(r, v, m);
            }
            exact_mult &= (l.bias / div[i] * mult).fract() == 0.0;
            core_bias.push((l.bias / div[i] * mult).round() as i64);
            let bias = (l.bias / div[i] * mult).round() as i64 + extra[i] * (1i64 << shift);
            lin_range = (lin_range.0.min(r.0 + bias as f64), lin_range.1.max(r.1 + bias as f64));
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
        }
        if n_out == 0 {
            lin_range = (0.0, 0.0);
        }
        if lin_range.0.abs().max(lin_range.1.abs()) >= 2f64.powi(62) {
            return Err(internal(name, "accumulator could exceed 62 bits"));
        }
        lin.inputs = inputs;
        let shape = vec![n_out];
        // A tie needs x = 2^(shift-1) mod 2^shift, and x = bias mod gcd.
        let tie_possible = even
            && shift > 0
            && exact_mult
            && core_bias.iter().any(|&b| ((1i128 << (shift - 1)) - b as i128).rem_euclid(gcd as i128) == 0);
        if tie_possible {
            let extra_range = extra.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &e| {
                let e = (e as f64) * mult;
                (a.min(e), b.max(e))
            });
            lin.bias = core_bias;
            let core_range = (lin_range.0 - extra_range.1, lin_range.1 - extra_range.0);
            let id = self.emit(format!("{name}/linear"), Op::Linear(lin), shape, 0, core_range);
            return Ok(self.half_even(name, id, shift, extra, act));
        }
        let id = self.emit(format!("{name}/linear"), Op::Linear(lin), shape.clone(), 0, lin_range);
        if shift == 0 && act == Activation::Identity {
            return Ok(id);
        }
        let qr = self.requant_range(lin_range, shift, act);
        Ok(self.emit(format!("{name}/requant"), Op::Requant(RequantOp { input: id, shift, act }), shape, 0, qr))
    }

    /// `round_half_even(x / 2^shift) + extra` then `act`, from `Requant`s
    /// (which round half up) alone: `a = floor(x / 2^shift)`,
    /// `p = a mod 2` (via `floor(a / 2)`), and
    /// `floor((x + 2^(shift-1) - 1 + p) / 2^shift)`, which is `a + 1` exactly
    /// when the fraction is above one half, or one half and `a` is odd.
    /// Three range rows instead of one; sound by the ops' own constraints.
    fn half_even(&mut self, name: &str, x: usize, shift: u32, extra: &[i64], act: Activation) -> usize {
        let n = extra.len();
        let h = 1i64 << (shift - 1);
        let ident = |input: usize, bias: i64| LinearOp {
            inputs: vec![input],
            row_ptr: (0..=n as u32).collect(),
            cols: (0..n as u32).collect(),
            weights: vec![1; n],
            bias: vec![bias; n],
        };
        let xr = self.range[x];
        let fl = self.emit(format!("{name}/floor_in"), Op::Linear(ident(x, -h)), vec![n], 0, (xr.0 - h as f64, xr.1));
        let ar = self.requant_range(self.range[fl], shift, Activation::Identity);
        let a = self.emit(
            format!("{name}/floor"),
            Op::Requant(RequantOp { input: fl, shift, act: Activation::Identity }),
            vec![n],
            0,
            ar,
        );
        let hl = self.emit(format!("{name}/half_in"), Op::Linear(ident(a, -1)), vec![n], 0, (ar.0 - 1.0, ar.1));
        let br = self.requant_range(self.range[hl], 1, Activation::Identity);
        let b = self.emit(
            format!("{name}/half"),
            Op::Requant(RequantOp { input: hl, shift: 1, act: Activation::Identity }),
            vec![n],
            0,
            br,
        );
        let mut lin = LinearOp { inputs: vec![x, a, b], row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, &e) in extra.iter().enumerate() {
            lin.cols.extend([i as u32, (n + i) as u32, (2 * n + i) as u32]);
            lin.weights.extend([1, 1, -2]);
            let bias = -1 + e * (1i64 << shift);
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
            let r = self.add_term(self.add_term(self.add_term((0.0, 0.0), x, 1.0), a, 1.0), b, -2.0);
            range = (range.0.min(r.0 + bias as f64), range.1.max(r.1 + bias as f64));
        }
        let f = self.emit(format!("{name}/even_in"), Op::Linear(lin), vec![n], 0, range);
        let qr = self.requant_range(range, shift, act);
        self.emit(format!("{name}/requant"), Op::Requant(RequantOp { input: f, shift, act }), vec![n], 0, qr)
    }

    /// Rounds every part of `rows` at `div` (per element): the linear part to
    /// `round(lin / div) + extra`, each relu term `c * relu(arg)` to
    /// `sign(c) * relu(round(|c| * arg / div))`.
    fn round_parts(&mut self, name: &str, rows: &[Row], div: &[f64], extra: &[i64], even: bool) -> Result<Sum> {
        let n = rows.len();
        let mut sum = Sum { parts: vec![], konst: vec![0; n] };
        let has_lin = rows.iter().any(|r| !r.lin.terms.is_empty() || r.lin.bias != 0.0);
        if has_lin {
            let lins: Vec<Lin> = rows.iter().map(|r| r.lin.clone()).collect();
            let id = self.scaled(name, &lins, div, extra, Activation::Identity, even)?;
            sum.parts.push((id, vec![1; n]));
        } else {
            sum.konst = extra.to_vec();
        }
        let slots = rows.iter().map(|r| r.relus.len()).max().unwrap_or(0);
        for j in 0..slots {
            let lins: Vec<Lin> =
                rows.iter().map(|r| r.relus.get(j).map(|(c, a)| a.scaled(c.abs())).unwrap_or_default()).collect();
            let signs: Vec<i64> =
                rows.iter().map(|r| r.relus.get(j).map(|(c, _)| if *c < 0.0 { -1 } else { 1 }).unwrap_or(1)).collect();
            let id = self.scaled(&format!("{name}/relu{j}"), &lins, div, &vec![0; n], Activation::Relu, even)?;
            sum.parts.push((id, signs));
        }
        Ok(sum)
    }

    /// Static `(min, max)` of a sum over all elements.
    fn sum_range(&self, s: &Sum) -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..s.konst.len() {
            let mut r = (s.konst[i] as f64, s.konst[i] as f64);
            for (id, signs) in &s.parts {
                r = self.add_term(r, *id, signs[i] as f64);
            }
            lo = lo.min(r.0);
            hi = hi.max(r.1);
        }
        (lo, hi)
    }

    /// Emits `sign * (sum) + k` (k per element) as a `Linear` over the parts,
    /// then `act` (a `Requant{0}`) when Relu.
    fn emit_sum(&mut self, name: &str, s: &Sum, sign: i64, k: &[i64], act: Activation) -> usize {
        let n = s.konst.len();
        let inputs: Vec<usize> = s.parts.iter().map(|(id, _)| *id).collect();
        let mut lin = LinearOp { inputs, row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..n {
            let mut r = (0.0, 0.0);
            for (p, (id, signs)) in s.parts.iter().enumerate() {
                lin.cols.push((p * n + i) as u32);
                lin.weights.push(sign * signs[i]);
                r = self.add_term(r, *id, (sign * signs[i]) as f64);
            }
            let bias = sign * s.konst[i] + k[i];
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
            range = (range.0.min(r.0 + bias as f64), range.1.max(r.1 + bias as f64));
        }
        let id = self.emit(format!("{name}/sum"), Op::Linear(lin), vec![n], 0, range);
        if act == Activation::Identity {
            return id;
        }
        let r = self.requant_range(range, 0, act);
        self.emit(format!("{name}/clamp"), Op::Requant(RequantOp { input: id, shift: 0, act }), vec![n], 0, r)
    }

    /// A sum as one program value `v` with `sum = v + off` (off uniform) when
    /// it already is one, else emitted.
    fn single(&mut self, name: &str, s: &Sum) -> (usize, i64) {
        if let [(id, signs)] = s.parts.as_slice() {
            if signs.iter().all(|&x| x == 1) && s.konst.windows(2).all(|w| w[0] == w[1]) {
                return (*id, s.konst.first().copied().unwrap_or(0));
            }
        }
        let n = s.konst.len();
        (self.emit_sum(name, s, 1, &vec![0; n], Activation::Identity), 0)
    }

    /// QuantizeLinear of `rows`.
    fn quantize(&mut self, name: &str, rows: &[Row], q: &Quantize) -> Result<QVal> {
        let n = rows.len();
        if let Some(v) = self.identity_quantize(rows, q) {
            return Ok(v);
        }
        let (lo, hi) = (q.lo, q.hi);
        let only_lin = rows.iter().all(|r| r.relus.is_empty());
        // Fuse the lower clamp into the requant when there is one linear part.
        let sum = if only_lin {
            let extra: Vec<i64> = q.zero_point.iter().map(|z| z - lo).collect();
            let lins: Vec<Lin> = rows.iter().map(|r| r.lin.clone()).collect();
            let id = self.scaled(name, &lins, &q.scale, &extra, Activation::Relu, true)?;
            Sum { parts: vec![(id, vec![1; n])], konst: vec![0; n] }
        } else {
            let mut s = self.round_parts(name, rows, &q.scale, &q.zero_point, true)?;
            for k in s.konst.iter_mut() {
                *k -= lo;
            }
            if self.sum_range(&s).0 < 0.0 {
                let id = self.emit_sum(name, &s, 1, &vec![0; n], Activation::Relu);
                s = Sum { parts: vec![(id, vec![1; n])], konst: vec![0; n] };
            }
            s
        };
        // `sum` = y - lo >= 0; upper clamp: y = hi - relu(hi - lo - sum).
        if self.sum_range(&sum).1 > (hi - lo) as f64 {
            let u = self.emit_sum(&format!("{name}/sat"), &sum, -1, &vec![hi - lo; n], Activation::Relu);
            return Ok(self.int(u, true, hi, lo, hi));
        }
        let (id, off) = self.single(name, &sum);
        let (a, b) = self.sum_range(&sum);
        Ok(self.int(id, false, off + lo, (a as i64 + lo).max(lo), (b as i64 + lo).min(hi)))
    }

    fn int(&mut self, id: usize, neg: bool, off: i64, lo: i64, hi: i64) -> QVal {
        let r = if neg { (off - hi, off - lo) } else { (lo - off, hi - off) };
        self.int_ranges.insert(id, r);
        QVal::Int { id, neg, off, lo, hi }
    }

    /// `Q(DQ(y))` with the same scale, an integral zero-point shift and a
    /// range that cannot saturate: the integers themselves, no rows.
    fn identity_quantize(&self, rows: &[Row], q: &Quantize) -> Option<QVal> {
        let mut found: Option<(usize, f64, f64)> = None;
        for (i, r) in rows.iter().enumerate() {
            let [((id, e), w)] = r.lin.terms.as_slice() else { return None };
            if !r.relus.is_empty() || *e != i {
                return None;
            }
            let ratio = w / q.scale[i];
            let k = r.lin.bias / q.scale[i] + q.zero_point[i] as f64;
            if ratio.abs() != 1.0 || k.fract() != 0.0 {
                return None;
            }
            match found {
                None => found = Some((*id, ratio, k)),
                Some(f) if f == (*id, ratio, k) => {}
                _ => return None,
            }
        }
        let (id, ratio, k) = found?;
        // The integers of `id` must be a known range: a quantized tensor.
        let (vlo, vhi) = self.int_ranges.get(&id).copied()?;
        let (ylo, yhi) = if ratio > 0.0 { (vlo + k as i64, vhi + k as i64) } else { (k as i64 - vhi, k as i64 - vlo) };
        // `y = ratio * (±v + off) ...` is folded in the rows already: `ratio * v + k`.
        (ylo >= q.lo && yhi <= q.hi).then_some(QVal::Int { id, neg: ratio < 0.0, off: k as i64, lo: ylo, hi: yhi })
    }
}

impl<'g> Lowerer<'g> {
    /// The smallest non-zero coefficient magnitude of `rows` (the natural
    /// resolution of the value), or `None` when every row is constant.
    fn finest(rows: &[Row]) -> Option<f64> {
        let mut m = f64::INFINITY;
        for r in rows {
            for &(_, w) in &r.lin.terms {
                if w != 0.0 {
                    m = m.min(w.abs());
                }
            }
            for (c, a) in &r.relus {
                for &(_, w) in &a.terms {
                    if w * c != 0.0 {
                        m = m.min((w * c).abs());
                    }
                }
            }
        }
        m.is_finite().then_some(m)
    }

    /// Rounds `rows` to integers at `unit` (2^-OUT_EXTRA_BITS of the finest
    /// coefficient, a power of two) and returns the equivalent linear rows.
    fn materialize(&mut self, name: &str, rows: &[Row]) -> Result<Vec<Row>> {
        let Some(fine) = Self::finest(rows) else { return Ok(rows.to_vec()) };
        let unit = 2f64.powi(fine.log2().floor() as i32 - OUT_EXTRA_BITS as i32);
        let n = rows.len();
        let s = self.round_parts(name, rows, &vec![unit; n], &vec![0; n], false)?;
        Ok((0..n)
            .map(|i| Row {
                lin: Lin {
                    terms: s.parts.iter().map(|(id, signs)| ((*id, i), signs[i] as f64 * unit)).collect(),
                    bias: s.konst[i] as f64 * unit,
                },
                relus: vec![],
            })
            .collect())
    }

    fn contract(&mut self, v: ValueId, c: &Contract) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (w, idx_w, x, idx_x) = match (self.g.konst(a), self.g.konst(b)) {
            (_, Some(w)) => (w.to_f64(), &c.terms.b_idx, a, &c.terms.a_idx),
            (Some(w), None) => (w.to_f64(), &c.terms.a_idx, b, &c.terms.b_idx),
            _ => return self.dyn_product(v, c),
        };
        let mut xr = self.rows(x)?;
        let fan_in = xr.iter().map(|r| r.terms()).max().unwrap_or(0);
        if xr.iter().any(|r| !r.relus.is_empty()) || fan_in > 4 {
            xr = self.materialize(&format!("{name}/input"), &xr)?;
        }
        let n = c.terms.rows();
        let mut out = Vec::with_capacity(n);
        for o in 0..n {
            let mut row = Row::default();
            row.lin.bias = c.bias.as_ref().map(|b| b[o]).unwrap_or(0.0);
            for t in c.terms.row(o) {
                let wt = w[idx_w[t] as usize];
                if wt != 0.0 {
                    row.add(&xr[idx_x[t] as usize], wt);
                }
            }
            out.push(row);
        }
        Ok(QVal::Float(out))
    }

    /// Max over windows: on the integers when every window's elements share
    /// one positive coefficient and bias, else on materialized values.
    fn max(&mut self, v: ValueId, row_ptr: &[u32], cols: &[u32]) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let mut xr = self.rows(node.inputs[0])?;
        for attempt in 0..2 {
            let simple = |r: &Row| match r.lin.terms.as_slice() {
                [(s, w)] if r.relus.is_empty() && *w > 0.0 => Some((*s, *w, r.lin.bias)),
                _ => None,
            };
            let singles: Option<Vec<(Src, f64, f64)>> = xr.iter().map(simple).collect();
            let ok = singles.as_ref().is_some_and(|s| {
                (0..row_ptr.len() - 1).all(|o| {
                    let win = &cols[row_ptr[o] as usize..row_ptr[o + 1] as usize];
                    win.iter().all(|&c| {
                        let (a, b) = (s[c as usize], s[win[0] as usize]);
                        a.1 == b.1 && a.2 == b.2
                    })
                })
            });
            if let (true, Some(s)) = (ok, singles) {
                // Gather the sources into one value, then Max over it.
                let mut inputs: Vec<usize> = vec![];
                let mut offsets: HashMap<usize, u32> = HashMap::new();
                let mut map = Vec::with_capacity(s.len());
                for &((id, e), _, _) in &s {
                    let off = match offsets.get(&id) {
                        Some(&o) => o,
                        None => {
                            let o = inputs.iter().map(|&x| self.nodes[x].len()).sum::<usize>() as u32;
                            inputs.push(id);
                            offsets.insert(id, o);
                            o
                        }
                    };
                    map.push(off + e as u32);
                }
                let range = inputs
                    .iter()
                    .map(|&i| self.range[i])
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
                let identity = inputs.len() == 1 && map.iter().enumerate().all(|(i, &m)| m as usize == i);
                let src = if identity {
                    inputs[0]
                } else {
                    let n = map.len();
                    self.emit(format!("{name}/gather"), Op::Gather(GatherOp { inputs, map }), vec![n], 0, range)
                };
                let op = Op::Max(MaxOp { input: src, row_ptr: row_ptr.to_vec(), cols: cols.to_vec() });
                let m = self.emit(name.clone(), op, vec![row_ptr.len() - 1], 0, range);
                if let Some(&r) = self.int_ranges.get(&src) {
                    self.int_ranges.insert(m, r);
                }
                let rows = (0..row_ptr.len() - 1)
                    .map(|o| {
                        let (_, w, b) = s[cols[row_ptr[o] as usize] as usize];
                        Row { lin: Lin { terms: vec![((m, o), w)], bias: b }, relus: vec![] }
                    })
                    .collect();
                return Ok(QVal::Float(rows));
            }
            if attempt == 0 {
                xr = self.materialize(&format!("{name}/input"), &xr)?;
            }
        }
        Err(internal(&name, "max over elements with different scales"))
    }

    fn node(&mut self, v: ValueId) -> Result<()> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let q = match &node.op {
            FOp::Const(_) => return Ok(()),
            FOp::Input(i) => {
                let spec = node.shape.clone();
                let b = 2f64.powi(self.input_range_bits as i32);
                let id = self.emit(name, Op::Input { index: *i }, spec, self.input_bits, (-b, b));
                let w = 2f64.powi(-(self.input_bits as i32));
                QVal::Float(
                    (0..self.nodes[id].len())
                        .map(|e| Row { lin: Lin { terms: vec![((id, e), w)], bias: 0.0 }, relus: vec![] })
                        .collect(),
                )
            }
            FOp::Reshape => self.value(node.inputs[0])?,
            FOp::Gather(map) => {
                let mut cat: Vec<Row> = vec![];
                for &i in &node.inputs {
                    cat.extend(self.rows(i)?);
                }
                QVal::Float(
                    map.iter().map(|&m| if m == ZERO_SRC { Row::default() } else { cat[m as usize].clone() }).collect(),
                )
            }
            FOp::Affine(a) => {
                let mut cat: Vec<Row> = vec![];
                for &i in &node.inputs {
                    cat.extend(self.rows(i)?);
                }
                let mut out = Vec::with_capacity(a.bias.len());
                for o in 0..a.bias.len() {
                    let mut row = Row::default();
                    row.lin.bias = a.bias[o];
                    for t in a.row(o) {
                        row.add(&cat[a.cols[t] as usize], a.weights[t]);
                    }
                    out.push(row);
                }
                QVal::Float(out)
            }
            FOp::Contract(c) => self.contract(v, c)?,
            FOp::Max(w) => self.max(v, &w.row_ptr, &w.cols)?,
            FOp::Relu => {
                let mut rows = self.rows(node.inputs[0])?;
                let already =
                    |r: &Row| r.lin.terms.is_empty() && r.lin.bias == 0.0 && r.relus.iter().all(|(c, _)| *c > 0.0);
                if rows.iter().all(already) {
                    // relu(c * relu(a)) = c * relu(a) for c > 0.
                    if rows.iter().all(|r| r.relus.len() <= 1) {
                        self.vals[v] = Some(QVal::Float(rows));
                        return Ok(());
                    }
                }
                if rows.iter().any(|r| !r.relus.is_empty()) {
                    rows = self.materialize(&format!("{name}/input"), &rows)?;
                }
                QVal::Float(rows.into_iter().map(|r| Row { lin: Lin::default(), relus: vec![(1.0, r.lin)] }).collect())
            }
            FOp::Quantize(q) => {
                let rows = self.rows(node.inputs[0])?;
                self.quantize(&name, &rows, q)?
            }
            FOp::DynQuant(part) => {
                let x = node.inputs[0];
                if !self.dyn_cache.contains_key(&x) {
                    let parts = self.dyn_quantize(&name, x)?;
                    self.dyn_cache.insert(x, parts);
                }
                let i = match part {
                    DynPart::Y => 0,
                    DynPart::Scale => 1,
                    DynPart::ZeroPoint => 2,
                };
                self.dyn_cache[&x][i].clone()
            }
            // Function tables and steps inside a quantized graph (e.g. a float
            // Sigmoid between DQ and Q) are not lowered with integer semantics yet.
            FOp::Func(_) | FOp::Step { .. } => {
                return Err(CompileError::Unsupported {
                    ops: vec![(format!("{} in a quantized graph", node.op.kind()), name)],
                })
            }
        };
        self.vals[v] = Some(q);
        Ok(())
    }

    /// Graph output `v` as a program value, its node scale and dequantization.
    fn output(&mut self, name: &str, v: ValueId) -> Result<(usize, Option<OutputDequant>)> {
        let q = self.value(v)?;
        let node = &self.g.nodes[v];
        // Exactly a DequantizeLinear of a quantized tensor: the integers themselves.
        if let (FOp::Affine(a), [src]) = (&node.op, node.inputs.as_slice()) {
            if let Some(QVal::Int { id, neg, off, lo, hi }) = self.vals[*src].clone() {
                let n = a.bias.len();
                let diagonal = a.row_ptr.iter().enumerate().all(|(o, &r)| r as usize == o)
                    && a.cols.iter().enumerate().all(|(o, &c)| c as usize == o)
                    && n == self.nodes[id].len();
                let zp: Option<Vec<i64>> = (0..n)
                    .map(|o| {
                        let z = -a.bias.get(o)? / a.weights.get(o)?;
                        (diagonal && z.fract() == 0.0 && a.weights[o] > 0.0).then_some(z as i64)
                    })
                    .collect();
                if let Some(zp) = zp {
                    let id = self.materialize_int(name, id, neg, off, lo, hi);
                    return Ok((id, Some(OutputDequant { scale: a.weights.clone(), zero_point: zp })));
                }
            }
        }
        match q {
            QVal::Int { id, neg, off, lo, hi } => Ok((self.materialize_int(name, id, neg, off, lo, hi), None)),
            QVal::Float(rows) => {
                let fine = Self::finest(&rows).unwrap_or(1.0);
                let bits = if self.dynamic {
                    DYN_UNIT_BITS
                } else {
                    (OUT_EXTRA_BITS as i32 - fine.log2().floor() as i32).clamp(0, 62) as u32
                };
                let n = rows.len();
                let unit = 2f64.powi(-(bits as i32));
                let from = self.nodes.len();
                let s = self.round_parts(name, &rows, &vec![unit; n], &vec![0; n], false)?;
                if self.dynamic {
                    self.clip_dyn(from);
                }
                let (id, off) = self.single(name, &s);
                let id = if off != 0 {
                    let sum = Sum { parts: vec![(id, vec![1; n])], konst: vec![off; n] };
                    self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity)
                } else {
                    id
                };
                self.nodes[id].scale = bits;
                Ok((id, None))
            }
        }
    }

    /// The quantized integers `±v + off` as one program value.
    fn materialize_int(&mut self, name: &str, id: usize, neg: bool, off: i64, lo: i64, hi: i64) -> usize {
        if !neg && off == 0 {
            return id;
        }
        let n = self.nodes[id].len();
        let sum = Sum { parts: vec![(id, vec![if neg { -1 } else { 1 }; n])], konst: vec![off; n] };
        let out = self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity);
        self.int_ranges.insert(out, (lo, hi));
        out
    }
}

/// Dynamic quantization (DynamicQuantizeLinear, and the products by its run-time scale).
impl<'g> Lowerer<'g> {
    /// Static ranges of the requants emitted from node `from` on, clipped to
    /// the dynamic-graph assumption `|v| < 2^DYN_RANGE_BITS` (their static
    /// bounds, through products by run-time scales, are far too loose to size
    /// anything; the values are range-checked at `range_bits` in the circuit
    /// and by `ir::eval`).
    fn clip_dyn(&mut self, from: usize) {
        let b = 2f64.powi(DYN_RANGE_BITS as i32);
        for i in from..self.nodes.len() {
            if matches!(self.nodes[i].op, Op::Requant(_)) {
                let (lo, hi) = self.range[i];
                self.range[i] = (lo.max(-b), hi.min(b));
            }
        }
    }

    fn ident_linear(inputs: Vec<usize>, cols: Vec<u32>, weights: Vec<i64>, bias: Vec<i64>) -> LinearOp {
        let per = if bias.is_empty() { 0 } else { cols.len() / bias.len() };
        LinearOp { inputs, row_ptr: (0..=bias.len()).map(|o| (o * per) as u32).collect(), cols, weights, bias }
    }

    /// `rows` as one integer value `v` with `rows[i] = unit * v[i]`: as is
    /// when it already is one, else rounded at 2^-DYN_UNIT_BITS.
    fn dyn_input(&mut self, name: &str, rows: &[Row]) -> Result<(usize, f64)> {
        let direct = rows.first().and_then(|r0| match r0.lin.terms.as_slice() {
            [((id, _), w)] if *w > 0.0 => Some((*id, *w)),
            _ => None,
        });
        if let Some((id, w)) = direct {
            let ok = self.nodes[id].len() == rows.len()
                && rows
                    .iter()
                    .enumerate()
                    .all(|(i, r)| r.relus.is_empty() && r.lin.bias == 0.0 && r.lin.terms.as_slice() == [((id, i), w)]);
            if ok {
                return Ok((id, w));
            }
        }
        let n = rows.len();
        let unit = 2f64.powi(-(DYN_UNIT_BITS as i32));
        let from = self.nodes.len();
        let s = self.round_parts(name, rows, &vec![unit; n], &vec![0; n], false)?;
        self.clip_dyn(from);
        let (id, off) = self.single(name, &s);
        if off == 0 {
            return Ok((id, unit));
        }
        let sum = Sum { parts: vec![(id, vec![1; n])], konst: vec![off; n] };
        Ok((self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity), unit))
    }

    /// DynamicQuantizeLinear of value `x` (uint8): with `X` its integers at
    /// `unit`, `M = max(0, max X)`, `N = max(0, max -X)` (= -min(0, min X)),
    /// `R = M + N` (so `y_scale = R * unit / 255`):
    /// `zp = floor((510 N + R) / 2R)` = round_half_up(255 N / R) and
    /// `y = min(255, floor((510 X + R) / 2R) + zp)`, two exact divisions
    /// (`ir::Op::Div`). `y >= 0` always (the two roundings of arguments
    /// summing to at least 0); only the upper clamp can bind.
    fn dyn_quantize(&mut self, name: &str, x: ValueId) -> Result<[QVal; 3]> {
        let rows = self.rows(x)?;
        let n = rows.len();
        if n == 0 {
            return Err(internal(name, "dynamic quantization of an empty tensor"));
        }
        let (xv, unit) = self.dyn_input(&format!("{name}/input"), &rows)?;
        let rx = self.range[xv];
        let all: Vec<u32> = (0..n as u32).chain([ZERO_SRC]).collect();
        let window = |input| MaxOp { input, row_ptr: vec![0, n as u32 + 1], cols: (0..=n as u32).collect() };
        let g = Op::Gather(GatherOp { inputs: vec![xv], map: all.clone() });
        let g = self.emit(format!("{name}/max_in"), g, vec![n + 1], 0, (rx.0.min(0.0), rx.1.max(0.0)));
        let m = self.emit(format!("{name}/max"), Op::Max(window(g)), vec![1], 0, (0.0, rx.1.max(0.0)));
        let neg = Self::ident_linear(vec![xv], (0..n as u32).collect(), vec![-1; n], vec![0; n]);
        let neg = self.emit(format!("{name}/neg"), Op::Linear(neg), vec![n], 0, (-rx.1, -rx.0));
        let g2 = Op::Gather(GatherOp { inputs: vec![neg], map: all });
        let g2 = self.emit(format!("{name}/min_in"), g2, vec![n + 1], 0, ((-rx.1).min(0.0), (-rx.0).max(0.0)));
        let nm = self.emit(format!("{name}/neg_min"), Op::Max(window(g2)), vec![1], 0, (0.0, (-rx.0).max(0.0)));
        let rmax = rx.1.max(0.0) + (-rx.0).max(0.0);
        let r = Self::ident_linear(vec![m, nm], vec![0, 1], vec![1, 1], vec![0]);
        let r = self.emit(format!("{name}/range"), Op::Linear(r), vec![1], 0, (0.0, rmax));
        let den = Self::ident_linear(vec![r], vec![0], vec![2], vec![0]);
        let den = self.emit(format!("{name}/den"), Op::Linear(den), vec![1], 0, (0.0, 2.0 * rmax));
        let zn = Self::ident_linear(vec![nm, r], vec![0, 1], vec![510, 1], vec![0]);
        let zn = self.emit(format!("{name}/zp_num"), Op::Linear(zn), vec![1], 0, (0.0, 511.0 * rmax));
        let zp = self.emit(format!("{name}/zero_point"), Op::Div(ir::DivOp { num: zn, den }), vec![1], 0, (0.0, 255.0));
        let mut cols = Vec::with_capacity(2 * n);
        for e in 0..n as u32 {
            cols.extend([e, n as u32]);
        }
        let yn = Self::ident_linear(vec![xv, r], cols, [510, 1].repeat(n), vec![0; n]);
        let yr = (510.0 * rx.0 - 0.0, 510.0 * rx.1 + rmax);
        let yn = self.emit(format!("{name}/y_num"), Op::Linear(yn), vec![n], 0, yr);
        let q = self.emit(format!("{name}/round"), Op::Div(ir::DivOp { num: yn, den }), vec![n], 0, (-255.0, 255.0));
        // y - 0 = q + zp in [0, 256]; y = 255 - relu(255 - (q + zp)).
        let mut cols = Vec::with_capacity(2 * n);
        for e in 0..n as u32 {
            cols.extend([e, n as u32]);
        }
        let t = Self::ident_linear(vec![q, zp], cols, vec![-1; 2 * n], vec![255; n]);
        let t = self.emit(format!("{name}/sat"), Op::Linear(t), vec![n], 0, (-1.0, 510.0));
        let u = self.emit(
            format!("{name}/sat_relu"),
            Op::Requant(RequantOp { input: t, shift: 0, act: Activation::Relu }),
            vec![n],
            0,
            (0.0, 510.0),
        );
        let y = self.int(u, true, 255, 0, 255);
        let zq = self.int(zp, false, 0, 0, 255);
        let scale =
            QVal::Float(vec![Row { lin: Lin { terms: vec![((r, 0), unit / 255.0)], bias: 0.0 }, relus: vec![] }]);
        Ok([y, scale, zq])
    }

    /// A product of two activations, one of them a run-time scale (one
    /// element `c * R`, e.g. `y_scale * w_scale`) and the other integers
    /// (MatMulInteger/ConvInteger accumulators `A`): `s = round(c R 2^k / u)`
    /// (one requant, `s < 2^DYN_SCALE_BITS`), then `round(A * s / 2^k)` (a
    /// `Bilinear` and a requant): the product at `u = 2^-DYN_UNIT_BITS`,
    /// with `s`'s relative precision ~2^-(DYN_SCALE_BITS - slack of R's bound).
    fn dyn_product(&mut self, v: ValueId, c: &Contract) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let refuse =
            |form: &str| CompileError::Quantization { node: name.clone(), op: "Mul".into(), form: form.into() };
        let (ra, rb) = (self.rows(node.inputs[0])?, self.rows(node.inputs[1])?);
        let scalar = |rows: &[Row]| match rows {
            [Row { lin: Lin { terms, bias }, relus }] if relus.is_empty() && *bias == 0.0 => match terms.as_slice() {
                [((id, 0), w)] if *w > 0.0 => Some((*id, *w)),
                _ => None,
            },
            _ => None,
        };
        let ((sid, cs), ints, int_idx) = match (scalar(&ra), scalar(&rb)) {
            (_, Some(s)) if ra.len() != 1 || scalar(&ra).is_none() => (s, ra, &c.terms.a_idx),
            (Some(s), _) => (s, rb, &c.terms.b_idx),
            _ => return Err(refuse("a product of two quantized activations")),
        };
        if (0..c.terms.rows()).any(|o| c.terms.row(o).len() != 1) {
            return Err(refuse("a product of two quantized activations"));
        }
        let integral = |x: f64| x.fract() == 0.0;
        let mut lins = Vec::with_capacity(ints.len());
        for r in &ints {
            if !r.relus.is_empty() || !integral(r.lin.bias) || r.lin.terms.iter().any(|(_, w)| !integral(*w)) {
                return Err(refuse("a product of a run-time scale and a tensor that is not an integer accumulator"));
            }
            // Merge repeated sources (the zero point appears once per term).
            let mut merged: Vec<(Src, f64)> = vec![];
            for &(src, w) in &r.lin.terms {
                match merged.iter_mut().find(|(s, _)| *s == src) {
                    Some(m) => m.1 += w,
                    None => merged.push((src, w)),
                }
            }
            merged.retain(|(_, w)| *w != 0.0);
            lins.push(Lin { terms: merged, bias: r.lin.bias });
        }
        let n_int = lins.len();
        let acc = self.scaled(
            &format!("{name}/acc"),
            &lins,
            &vec![1.0; n_int],
            &vec![0; n_int],
            Activation::Identity,
            false,
        )?;
        let unit = 2f64.powi(-(DYN_UNIT_BITS as i32));
        let need = (self.bound(sid).max(1.0) * cs / unit).log2();
        let k = (DYN_SCALE_BITS as f64 - need).floor();
        if !(0.0..=QuantSettings::MAX_SHIFT as f64).contains(&k) {
            return Err(refuse(&format!("a run-time scale product out of the supported range (2^{need:.1} units)")));
        }
        let k = k as u32;
        let sl = Lin { terms: vec![((sid, 0), cs * 2f64.powi(k as i32) / unit)], bias: 0.0 };
        let s = self.scaled(&format!("{name}/scale"), &[sl], &[1.0], &[0], Activation::Identity, false)?;
        let n = c.terms.rows();
        let pairs: Vec<(u32, u32)> = (0..n).map(|o| (int_idx[c.terms.row(o).start], 0)).collect();
        let pb = self.bound(acc) * self.bound(s);
        let p = ir::BilinearOp { a: acc, b: s, row_ptr: (0..=n as u32).collect(), pairs };
        let p = self.emit(format!("{name}/product"), Op::Bilinear(p), vec![n], 0, (-pb, pb));
        let rr = self.requant_range((-pb, pb), k, Activation::Identity);
        let from = self.nodes.len();
        let x = self.emit(
            format!("{name}/rescale"),
            Op::Requant(RequantOp { input: p, shift: k, act: Activation::Identity }),
            vec![n],
            0,
            rr,
        );
        self.clip_dyn(from);
        Ok(QVal::Float(
            (0..n)
                .map(|o| Row {
                    lin: Lin { terms: vec![((x, o), unit)], bias: c.bias.as_ref().map(|b| b[o]).unwrap_or(0.0) },
                    relus: vec![],
                })
                .collect(),
        ))
    }
}

/// Whether the graph holds quantized tensors (and is lowered here).
pub fn is_quantized(g: &Graph) -> bool {
    g.nodes.iter().any(|n| matches!(n.op, FOp::Quantize(_) | FOp::DynQuant(_)))
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
                    inputs: vec![InputSpec { name: "x".into(), shape: vec![n], bound: None }],
                    nodes: l.nodes,
                    outputs: vec![OutputSpec { name: "y".into(), value: out, shape: vec![n], dequant: None }],
                    input_visibility: ir::Visibility::Private,
                    output_visibility: ir::Visibility::Public,
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
