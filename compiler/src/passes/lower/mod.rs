//! Float graph -> integer program. Every activation is at scale `s`
//! (`QuantSettings::scale_bits`), or with per-tensor scales at its own scale
//! `>= s` (`Lowerer::target`: accumulators settle at their value's scale,
//! joins meet at one scale, tables and BitShift read `s`); each layer with
//! constant weights has its own weight scale `sw` ([`quantize::weight_scale`]).
//! The rules (stated for one global `s`):
//!
//! - model input `i`: `Input{i}` (the circuit range-checks it there); an
//!   integer input is read at scale 0 and checked to its type ([`int_input`]);
//! - constants used as data: a `Linear` with no terms, bias = the constant at `s`;
//! - Reshape aliases: no node; Gather: `Gather` (zero padding = `ZERO_SRC`);
//! - products with a constant operand (Gemm, MatMul, Conv, folded BatchNorm) and
//!   affine maps (Add, Sub, Mul/Div by constants, average pooling, BatchNorm):
//!   a `Linear` with weights at `sw` and bias at `s + sw`, then `Requant{sw}`
//!   back to `s` (none when `sw == 0`: integer weights, as in Add/Sub). For a
//!   pooling window of `n` the weight is `round(2^sw / n)`, with about
//!   `weight_bits` significant bits;
//! - products of two activations: a `Bilinear` (plus a bias `Linear` at `2s`
//!   if any), then `Requant{s}`;
//! - MaxPool: `Max`; Relu: `Requant{0, Relu}` (fused into a preceding fresh
//!   `Requant` by the `fuse_requant_relu` pass);
//! - elementwise functions (`FOp::Func`): `Requant{d}` to a coarser input
//!   resolution, then a `Table` of `f` over the input's domain ([`table_plan`]).
//! - Step (`[x > 0]`, `[x >= 0]`; comparisons, ArgMax): on the integer `q` at
//!   scale `s`, `relu(q + c) - relu(q + c - 1)` (`c` = 0, resp. 1) is exactly
//!   0 or 1; a `Linear` with weights `±2^s` puts it back at scale `s`.

use std::collections::HashMap;

use ir::{
    Activation, BilinearOp, GatherOp, InputSpec, LinearOp, MaxOp, Node, Op, OutputSpec, ParamRefs, ParamSet, ParamSlot,
    Program, QuantSettings, RelowerPlan, RequantOp, TableOp, Visibility,
};

use crate::error::{CompileError, Result};
use crate::frontend::func::Func;
use crate::frontend::graph::{Affine, BitShift, Contract, FOp, Graph, ValueId};
use crate::frontend::index::numel;
use crate::quantize;

use super::int_input;

mod tables;

pub use tables::{
    saturated_sides, saturation_domain, table_bits, table_error, table_plan, TablePlan, MAX_TABLE_BITS,
    MAX_TABLE_BITS_LARGE,
};

#[derive(Debug, Clone, Copy)]
pub struct Visibilities {
    pub input: Visibility,
    pub output: Visibility,
    /// `Fixed` (weights are circuit constants), `Private` or `Hashed`
    /// (weights are a witness: [`ir::ParamSet`]).
    pub params: Visibility,
}

/// The parameters being collected while lowering with witness weights.
struct Params<'p> {
    slots: Vec<ParamSlot>,
    values: Vec<i64>,
    /// Weight scale chosen for each parameter layer, in lowering order.
    layer_scales: Vec<(String, u32)>,
    /// The compiled architecture's layer scales, when lowering another
    /// weight set for it (`compiler::reweigh`): used instead of choosing.
    pins: Option<&'p [(String, u32)]>,
}

impl Params<'_> {
    fn push(&mut self, tensor: &str, index: usize, bits: u32, value: i64) -> u32 {
        self.slots.push(ParamSlot { tensor: tensor.to_string(), index: index as u32, bits });
        self.values.push(value);
        (self.values.len() - 1) as u32
    }
}

struct Lowerer<'g> {
    g: &'g Graph,
    s: u32,
    /// Per-tensor scales ([`ScaleMode::PerTensor`]): each value's scale is
    /// the finest its range allows ([`Self::target`]), never below `s`.
    per_tensor: bool,
    /// Values already rescaled: `(value, scale) -> node`.
    rescaled: HashMap<(usize, u32), usize>,
    range_bits: u32,
    /// Significant bits of each layer's largest weight.
    weight_bits: u32,
    nodes: Vec<Node>,
    /// The integer value holding each float value (at scale `s`, or its
    /// own scale `>= s` with per-tensor scales).
    map: Vec<Option<usize>>,
    /// `(min, max)` of each float value with headroom (the calibrated range
    /// widened by the margin, or the input bounds' intervals), when known.
    ranges: &'g [Option<(f64, f64)>],
    /// The same without the margin (the samples' own extremes): the domain
    /// of tables that cannot afford the headroom at full resolution.
    calibrated: &'g [Option<(f64, f64)>],
    /// Entry budget of function tables ([`table_bits`]).
    table_bits: u32,
    /// The table of each function met so far: every node applying it shares it.
    plans: Vec<(Func, TablePlan)>,
    /// `Some` with witness parameters.
    params: Option<Params<'g>>,
}

/// Most fractional bits a value gets above the program scale `s` with
/// per-tensor scales (keeps products' rescales within
/// `QuantSettings::MAX_SHIFT` with little rounding first).
pub const MAX_EXTRA_SCALE_BITS: u32 = 16;

/// The output channels of a product with constant weights, for sharing one
/// bias slot per channel: outputs are grouped when their rows use a common
/// weight element (connected components, so a convolution's outputs of one
/// filter form one group, a dense layer's outputs one group each). Returns
/// each output's group and each group's first output. Where the (quantized)
/// biases within a group differ (a bias that really is per output), every
/// output is its own group.
fn bias_groups(
    terms: &crate::frontend::graph::Terms,
    idx_w: &[u32],
    nw: usize,
    bias: &[i64],
) -> (Vec<u32>, Vec<usize>) {
    fn find(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            parent[i as usize] = parent[parent[i as usize] as usize];
            i = parent[i as usize];
        }
        i
    }
    let n = terms.rows();
    let mut parent: Vec<u32> = (0..nw as u32).collect();
    for o in 0..n {
        let mut row = terms.row(o).map(|t| idx_w[t]);
        if let Some(first) = row.next() {
            let r0 = find(&mut parent, first);
            for e in row {
                let r = find(&mut parent, e);
                parent[r as usize] = r0;
            }
        }
    }
    let mut id: HashMap<u32, u32> = HashMap::new();
    let (mut group, mut first) = (Vec::with_capacity(n), vec![]);
    for o in 0..n {
        // A row without terms is a group of its own.
        let key = terms.row(o).next().map(|t| find(&mut parent, idx_w[t])).unwrap_or(nw as u32 + o as u32);
        let g = *id.entry(key).or_insert_with(|| {
            first.push(o);
            first.len() as u32 - 1
        });
        group.push(g);
    }
    if (0..n).any(|o| bias[o] != bias[first[group[o] as usize]]) {
        return ((0..n as u32).collect(), (0..n).collect());
    }
    (group, first)
}

fn q(x: f64, bits: u32, what: &str, node: &str) -> Result<i64> {
    ir::quantize(x, bits).ok_or_else(|| CompileError::Tensor {
        tensor: node.to_string(),
        reason: format!("{what} {x} cannot be quantized at {bits} fractional bits"),
    })
}

impl<'g> Lowerer<'g> {
    fn emit(&mut self, name: String, op: Op, shape: Vec<usize>, scale: u32) -> usize {
        self.nodes.push(Node { name, op, shape, scale });
        self.nodes.len() - 1
    }

    /// The integer value of float value `v`, materializing constants.
    fn value(&mut self, v: ValueId) -> Result<usize> {
        if let Some(id) = self.map[v] {
            return Ok(id);
        }
        let node = &self.g.nodes[v];
        let FOp::Const(t) = &node.op else {
            return Err(CompileError::Shape {
                node: node.name.clone(),
                op: node.op.kind().into(),
                reason: "value used before it is computed".into(),
            });
        };
        let bias = t.to_f64().iter().map(|&x| q(x, self.s, "constant", &node.name)).collect::<Result<Vec<_>>>()?;
        let n = bias.len();
        let op = Op::Linear(LinearOp {
            inputs: vec![],
            row_ptr: vec![0; n + 1],
            cols: vec![],
            weights: vec![],
            bias,
            params: None,
        });
        let id = self.emit(node.name.clone(), op, node.shape.clone(), self.s);
        self.map[v] = Some(id);
        Ok(id)
    }

    /// Weight scale of one linear layer: [`quantize::weight_scale`], lowered
    /// while the accumulator could leave the 2^60 budget for inputs within
    /// the activation range.
    /// With inputs at scales `lo..=hi` (all `s` without per-tensor scales)
    /// the accumulator is at `hi + sw` and the weights of an input at `lo`
    /// get `hi - lo` more bits. `want` asks for at least that `sw` (to reach
    /// a finer output scale) where the budget allows.
    /// With witness parameters the scale is recorded, or, when lowering
    /// another weight set, taken from the compiled architecture (an error
    /// naming the layer when its weights no longer fit the budget there).
    #[allow(clippy::too_many_arguments)]
    fn param_layer_scale(
        &mut self,
        name: &str,
        weights: &[f64],
        bias: &[f64],
        terms: usize,
        scales: (u32, u32),
        want: u32,
    ) -> Result<u32> {
        let chosen = self.layer_scale(weights, bias, terms, scales, want);
        let Some(p) = self.params.as_mut() else { return Ok(chosen) };
        let sw = match p.pins {
            None => chosen,
            Some(pins) => {
                let at = p.layer_scales.len();
                let Some((pname, sw)) = pins.get(at) else {
                    return Err(CompileError::Tensor {
                        tensor: name.to_string(),
                        reason: format!(
                            "layer {name} is not in the compiled architecture (it has {} parameter layers)",
                            pins.len()
                        ),
                    });
                };
                if pname != name {
                    return Err(CompileError::Tensor {
                        tensor: name.to_string(),
                        reason: format!(
                            "parameter layer {} of the compiled architecture is {pname}, this model has {name}",
                            at + 1
                        ),
                    });
                }
                if !self.layer_fits(weights, bias, terms, scales, *sw) {
                    let max_w = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
                    return Err(CompileError::Tensor {
                        tensor: name.to_string(),
                        reason: format!(
                            "weights do not fit the compiled ranges: the largest |weight| {max_w} at the compiled weight scale 2^{sw} \
                             overflows the accumulator budget (recompile this model: a new key)"
                        ),
                    });
                }
                *sw
            }
        };
        self.params.as_mut().expect("checked").layer_scales.push((name.to_string(), sw));
        Ok(sw)
    }

    fn layer_fits(&self, weights: &[f64], bias: &[f64], terms: usize, (lo, hi): (u32, u32), sw: u32) -> bool {
        let max_w = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let max_b = bias.iter().fold(0.0f64, |m, b| m.max(b.abs()));
        let w = 2f64.powi(sw as i32);
        let bound =
            max_w * w * 2f64.powi((self.range_bits + hi - lo) as i32) * terms as f64 + max_b * w * 2f64.powi(hi as i32);
        bound < 2f64.powi(60)
    }

    fn layer_scale(&self, weights: &[f64], bias: &[f64], terms: usize, (lo, hi): (u32, u32), want: u32) -> u32 {
        let sw = quantize::weight_scale(weights, self.weight_bits);
        let max_w = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let max_b = bias.iter().fold(0.0f64, |m, b| m.max(b.abs()));
        let bound = |sw: u32| {
            let w = 2f64.powi(sw as i32);
            max_w * w * 2f64.powi((self.range_bits + hi - lo) as i32) * terms as f64 + max_b * w * 2f64.powi(hi as i32)
        };
        let fits = |sw: u32| bound(sw) < 2f64.powi(60);
        if want > sw && want <= quantize::MAX_WEIGHT_SCALE && fits(want) {
            return want;
        }
        (0..=sw).rev().find(|&sw| fits(sw)).unwrap_or(0)
    }

    /// The scale of value `v`'s integers: `s`, or with per-tensor scales the
    /// finest at which its range (with headroom), plus an allowance for the
    /// program's own rounding noise (16 steps of `2^-s`), stays within a
    /// quarter of the activation range, `(|x| + 2^(4-s)) 2^t < 2^(B-2)`;
    /// within `s..=s + MAX_EXTRA_SCALE_BITS`.
    fn target(&self, v: ValueId) -> u32 {
        let Some((lo, hi)) = self.ranges.get(v).copied().flatten().filter(|_| self.per_tensor) else {
            return self.s;
        };
        let m = lo.abs().max(hi.abs()) + 2f64.powi(4 - self.s as i32);
        let t = (self.range_bits as f64 - 2.0 - m.log2()).floor();
        if t.is_finite() {
            (t.max(self.s as f64) as u32).min(self.s + MAX_EXTRA_SCALE_BITS)
        } else {
            self.s
        }
    }

    fn scale_of(&self, id: usize) -> u32 {
        self.nodes[id].scale
    }

    /// Program value `id` at scale `t`: itself, a `Requant` down (rounded),
    /// or a `Linear` up (exact); one node per `(id, t)`.
    fn at_scale(&mut self, id: usize, t: u32) -> usize {
        let from = self.scale_of(id);
        if from == t {
            return id;
        }
        if let Some(&r) = self.rescaled.get(&(id, t)) {
            return r;
        }
        let (name, shape) = (format!("{}/at_scale_{t}", self.nodes[id].name), self.nodes[id].shape.clone());
        let r = if from > t {
            let op = Op::Requant(RequantOp { input: id, shift: from - t, act: Activation::Identity });
            self.emit(name, op, shape, t)
        } else {
            let n = numel(&shape);
            let lin = LinearOp {
                inputs: vec![id],
                row_ptr: (0..=n as u32).collect(),
                cols: (0..n as u32).collect(),
                weights: vec![1i64 << (t - from); n],
                bias: vec![0; n],
                params: None,
            };
            self.emit(name, Op::Linear(lin), shape, t)
        };
        self.rescaled.insert((id, t), r);
        r
    }

    /// The accumulator `wide` (at scale `from`) at `v`'s scale: a `Requant`
    /// down to `target(v)` (at most `from`, so no precision is invented).
    fn settle(&mut self, name: &str, v: ValueId, wide: usize, shape: &[usize]) -> usize {
        let from = self.scale_of(wide);
        let t = self.target(v).min(from);
        if from == t {
            return wide;
        }
        let op = Op::Requant(RequantOp { input: wide, shift: from - t, act: Activation::Identity });
        self.emit(format!("{name}/requant"), op, shape.to_vec(), t)
    }

    fn contract(&mut self, v: ValueId, c: &Contract) -> Result<usize> {
        let node = &self.g.nodes[v];
        let (name, shape) = (node.name.as_str(), &node.shape);
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let n = c.terms.rows();
        let bias_f: Vec<f64> = c.bias.clone().unwrap_or_else(|| vec![0.0; n]);
        let (ca, cb) = (self.g.konst(a), self.g.konst(b));
        let wide = if let Some((w, idx_w, x, idx_x)) = match (ca, cb) {
            (_, Some(w)) => Some((w, &c.terms.b_idx, a, &c.terms.a_idx)),
            (Some(w), None) => Some((w, &c.terms.a_idx, b, &c.terms.b_idx)),
            _ => None,
        } {
            let wf = w.to_f64();
            let terms = (0..n).map(|o| c.terms.row(o).len()).max().unwrap_or(0);
            let xi = self.value(x)?;
            let sx = self.scale_of(xi);
            let want = self.target(v).saturating_sub(sx);
            let sw = self.param_layer_scale(name, &wf, &bias_f, terms, (sx, sx), want)?;
            let bias: Vec<i64> = bias_f.iter().map(|&x| q(x, sx + sw, "bias", name)).collect::<Result<_>>()?;
            // Witness parameters: one slot per element of the weight tensor
            // (shared by every term using it) and per bias; zero weights kept.
            let refs = match self.params.as_mut() {
                Some(p) => {
                    let wname = &self.g.nodes[if cb.is_some() { b } else { a }].name;
                    let mut slot = Vec::with_capacity(wf.len());
                    for (e, &x) in wf.iter().enumerate() {
                        slot.push(p.push(wname, e, sw, q(x, sw, "weight", name)?));
                    }
                    // One bias slot per output channel (the outputs that
                    // share weight elements), not per output element.
                    let bias_slots = match &c.bias {
                        Some(_) => {
                            let (group, first) = bias_groups(&c.terms, idx_w, wf.len(), &bias);
                            let slots: Vec<u32> = first
                                .iter()
                                .enumerate()
                                .map(|(g, &o)| p.push(&format!("{name}/bias"), g, sx + sw, bias[o]))
                                .collect();
                            group.iter().map(|&g| slots[g as usize]).collect()
                        }
                        None => vec![],
                    };
                    Some((slot, bias_slots))
                }
                None => None,
            };
            let mut lin =
                LinearOp { inputs: vec![xi], row_ptr: vec![0], cols: vec![], weights: vec![], bias, params: None };
            let mut term_slots = vec![];
            for o in 0..n {
                for t in c.terms.row(o) {
                    let wq = q(wf[idx_w[t] as usize], sw, "weight", name)?;
                    if wq != 0 || refs.is_some() {
                        lin.cols.push(idx_x[t]);
                        lin.weights.push(wq);
                        if let Some((slot, _)) = &refs {
                            term_slots.push(slot[idx_w[t] as usize]);
                        }
                    }
                }
                lin.row_ptr.push(lin.cols.len() as u32);
            }
            if let Some((_, bias_slots)) = refs {
                lin.params = Some(ParamRefs { weights: term_slots, bias: bias_slots });
            }
            self.emit(name.to_string(), Op::Linear(lin), shape.clone(), sx + sw)
        } else {
            let (mut ia, mut ib) = (self.value(a)?, self.value(b)?);
            // Keep the product's rescale within the largest shift: the
            // finer operand is rounded first where both are very fine.
            let most = self.target(v) + QuantSettings::MAX_SHIFT;
            let (sa, sb) = (self.scale_of(ia), self.scale_of(ib));
            if sa + sb > most {
                let down = |sc: u32| sc.saturating_sub(sa + sb - most).max(self.s);
                if sa >= sb {
                    let r = self.at_scale(ia, down(sa));
                    // `x·x`: both operands are the rounded one.
                    ib = if ib == ia { r } else { ib };
                    ia = r;
                } else {
                    ib = self.at_scale(ib, down(sb));
                }
            }
            let acc = self.scale_of(ia) + self.scale_of(ib);
            let bias: Vec<i64> = bias_f.iter().map(|&x| q(x, acc, "bias", name)).collect::<Result<_>>()?;
            let pairs = c.terms.a_idx.iter().zip(&c.terms.b_idx).map(|(&x, &y)| (x, y)).collect();
            let bil = BilinearOp { a: ia, b: ib, row_ptr: c.terms.row_ptr.clone(), pairs };
            let mut id = self.emit(name.to_string(), Op::Bilinear(bil), shape.clone(), acc);
            if bias.iter().any(|&x| x != 0) {
                let lin = LinearOp {
                    inputs: vec![id],
                    row_ptr: (0..=n as u32).collect(),
                    cols: (0..n as u32).collect(),
                    weights: vec![1; n],
                    bias,
                    params: None,
                };
                id = self.emit(format!("{name}/bias"), Op::Linear(lin), shape.clone(), acc);
            }
            id
        };
        Ok(self.settle(name, v, wide, shape))
    }

    fn affine(&mut self, v: ValueId, a: &Affine) -> Result<usize> {
        let node = &self.g.nodes[v];
        let (name, shape) = (node.name.as_str(), &node.shape);
        let inputs = node.inputs.iter().map(|&i| self.value(i)).collect::<Result<Vec<_>>>()?;
        // Each input's scale, by where its elements start in the concatenation.
        let mut starts = Vec::with_capacity(inputs.len());
        let mut at = 0u32;
        for &i in &inputs {
            starts.push((at, self.scale_of(i)));
            at += self.nodes[i].len() as u32;
        }
        let scale_at = |col: u32| starts[starts.partition_point(|&(s0, _)| s0 <= col) - 1].1;
        let lo = starts.iter().map(|&(_, sc)| sc).min().unwrap_or(self.s);
        let hi = starts.iter().map(|&(_, sc)| sc).max().unwrap_or(self.s);
        let terms = (0..a.bias.len()).map(|o| a.row(o).len()).max().unwrap_or(0);
        let want = self.target(v).saturating_sub(hi);
        // With witness parameters, an affine map holding model constants
        // (a bias, a scale, BatchNorm, a constant factor) is a parameter
        // layer; a sum or difference of activations (weights ±1, no bias)
        // stays structure.
        // Structure, too: one factor shared by every term (average
        // pooling, a mean, a scalar constant), which compiles as a constant.
        let uniform = a.weights.windows(2).all(|p| p[0] == p[1]);
        let is_param = self.params.is_some()
            && (a.bias.iter().any(|&b| b != 0.0) || (!uniform && a.weights.iter().any(|&w| w != 1.0 && w != -1.0)));
        let sw = if is_param {
            self.param_layer_scale(name, &a.weights, &a.bias, terms, (lo, hi), want)?
        } else {
            self.layer_scale(&a.weights, &a.bias, terms, (lo, hi), want)
        };
        let acc = hi + sw;
        let mut lin = LinearOp {
            inputs,
            row_ptr: vec![0],
            cols: vec![],
            weights: vec![],
            bias: a.bias.iter().map(|&b| q(b, acc, "bias", name)).collect::<Result<_>>()?,
            params: None,
        };
        let mut refs = ParamRefs { weights: vec![], bias: vec![] };
        for o in 0..a.bias.len() {
            for t in a.row(o) {
                let bits = acc - scale_at(a.cols[t]);
                let w = q(a.weights[t], bits, "weight", name)?;
                if w != 0 || is_param {
                    lin.cols.push(a.cols[t]);
                    lin.weights.push(w);
                    if is_param {
                        let p = self.params.as_mut().expect("is_param");
                        refs.weights.push(p.push(&format!("{name}/weight"), t, bits, w));
                    }
                }
            }
            lin.row_ptr.push(lin.cols.len() as u32);
        }
        if is_param {
            let p = self.params.as_mut().expect("is_param");
            refs.bias = lin.bias.iter().enumerate().map(|(o, &v)| p.push(&format!("{name}/bias"), o, acc, v)).collect();
            lin.params = Some(refs);
        }
        let id = self.emit(name.to_string(), Op::Linear(lin), shape.clone(), acc);
        Ok(self.settle(name, v, id, shape))
    }

    /// The float domain of `f`'s table, shared by every node applying the same
    /// function (so they share one table, e.g. the gates of every time step of
    /// an LSTM): the union of their inputs' calibrated ranges with a margin of
    /// a quarter of its width either side, within the activation range (the
    /// whole activation range without calibration).
    /// The union of the ranges of `f`'s inputs, without padding (the whole
    /// activation range where one is unknown).
    fn func_inputs(&self, f: Func, ranges: &[Option<(f64, f64)>]) -> (f64, f64) {
        let bound = 2f64.powi(self.range_bits as i32 - self.s as i32);
        let mut union: Option<(f64, f64)> = None;
        for n in self.g.nodes.iter().filter(|n| n.op == FOp::Func(f)) {
            let Some((mn, mx)) = ranges.get(n.inputs[0]).copied().flatten() else { return (-bound, bound) };
            let u = union.get_or_insert((mn, mx));
            *u = (u.0.min(mn), u.1.max(mx));
        }
        union.unwrap_or((-bound, bound))
    }

    fn func_domain(&self, f: Func, ranges: &[Option<(f64, f64)>]) -> (f64, f64) {
        let s = self.s;
        let bound = 2f64.powi(self.range_bits as i32 - s as i32);
        let mut union: Option<(f64, f64)> = None;
        for n in &self.g.nodes {
            if n.op != FOp::Func(f) {
                continue;
            }
            match ranges.get(n.inputs[0]).copied().flatten() {
                Some((mn, mx)) => {
                    let u = union.get_or_insert((mn, mx));
                    *u = (u.0.min(mn), u.1.max(mx));
                }
                None => return (-bound, bound),
            }
        }
        match union {
            Some((mn, mx)) => {
                let margin = 0.25 * (mx - mn) + 4.0 * 2f64.powi(-(s as i32));
                ((mn - margin).max(-bound), (mx + margin).min(bound))
            }
            None => (-bound, bound),
        }
    }

    /// `f` of value `v`'s input, by a table over [`Self::func_domain`].
    fn func(&mut self, v: ValueId, f: Func) -> Result<usize> {
        let node = &self.g.nodes[v];
        let (name, shape, s) = (node.name.clone(), node.shape.clone(), self.s);
        let input = self.value(node.inputs[0])?;
        // The table reads inputs at `s - plan.shift`; a finer input is
        // rounded straight to that resolution.
        let finer = self.scale_of(input) - s;
        let plan = match self.plans.iter().find(|(g, _)| *g == f) {
            Some((_, p)) => p.clone(),
            None => {
                let act = (-(1i64 << self.range_bits), (1i64 << self.range_bits) - 1);
                let domain = saturation_domain(f, s, self.func_domain(f, self.ranges), act);
                let mut p = table_plan(f, s, domain, act, self.table_bits);
                if !p.precise {
                    // Headroom never costs precision where the samples were:
                    // when the table with the margin is, over the samples'
                    // inputs, both off by more than 3/4 of an output unit and worse
                    // than a table of the calibrated domain alone, the latter
                    // is taken (plus its saturated sides, clamped).
                    let cal = self.func_domain(f, self.calibrated);
                    let narrow = table_plan(f, s, saturation_domain(f, s, cal, act), act, self.table_bits);
                    let (rb, seen) = (self.range_bits, self.func_inputs(f, self.calibrated));
                    let tolerance = 0.75 * 2f64.powi(-(s as i32));
                    if table_error(f, s, rb, &p, seen) > table_error(f, s, rb, &narrow, seen).max(tolerance) {
                        p = narrow;
                    }
                }
                self.plans.push((f, p.clone()));
                p
            }
        };
        let x = if plan.shift + finer == 0 {
            input
        } else {
            let op = Op::Requant(RequantOp { input, shift: plan.shift + finer, act: Activation::Identity });
            self.emit(format!("{name}/coarsen"), op, shape.clone(), s.saturating_sub(plan.shift))
        };
        let (low, high) = saturated_sides(f, &plan, s, self.range_bits);
        if !low && !high {
            let op = Op::Table(TableOp { input: x, lo: plan.lo, values: plan.values });
            return Ok(self.emit(name, op, shape, s));
        }
        // A saturated side is clamped onto the table's edge: `t = x - lo`,
        // then `relu(t)` (low side) and `top - relu(top - t)` (high side),
        // so an input past the calibrated domain reads the limit the
        // function has already reached, instead of being refused.
        let n = numel(&shape);
        let sc = s.saturating_sub(plan.shift);
        let top = plan.values.len() as i64 - 1;
        let affine = |l: &mut Self, input: usize, w: i64, b: i64, what: &str| {
            let lin = LinearOp {
                inputs: vec![input],
                row_ptr: (0..=n as u32).collect(),
                cols: (0..n as u32).collect(),
                weights: vec![w; n],
                bias: vec![b; n],
                params: None,
            };
            l.emit(format!("{name}/{what}"), Op::Linear(lin), shape.clone(), sc)
        };
        let relu = |l: &mut Self, input: usize, what: &str| {
            let op = Op::Requant(RequantOp { input, shift: 0, act: Activation::Relu });
            l.emit(format!("{name}/{what}"), op, shape.clone(), sc)
        };
        let mut t = affine(self, x, 1, -plan.lo, "offset");
        if low {
            t = relu(self, t, "clamp_low");
        }
        if high {
            let gap = affine(self, t, -1, top, "gap");
            let gap = relu(self, gap, "clamp_high");
            t = affine(self, gap, -1, top, "clamped");
        }
        let op = Op::Table(TableOp { input: t, lo: 0, values: plan.values });
        Ok(self.emit(name, op, shape, s))
    }

    /// `[q >= 1]` (`[q >= 0]` with `or_equal`) in integer units of the scale
    /// `s`: `relu(q + c) - relu(q + c - 1)` with `c = or_equal as i64`, which
    /// is 0 or 1 for integer `q`; then `× 2^s` so the result is at scale `s`.
    fn step(&mut self, name: &str, input: usize, or_equal: bool, shape: &[usize]) -> usize {
        let n = numel(shape);
        let (s, sin) = (self.s, self.scale_of(input));
        let relu_of_shifted = |l: &mut Self, c: i64, what: &str| {
            let src = if c == 0 {
                input
            } else {
                let lin = LinearOp {
                    inputs: vec![input],
                    row_ptr: (0..=n as u32).collect(),
                    cols: (0..n as u32).collect(),
                    weights: vec![1; n],
                    bias: vec![c; n],
                    params: None,
                };
                l.emit(format!("{name}/{what}"), Op::Linear(lin), shape.to_vec(), sin)
            };
            let op = Op::Requant(RequantOp { input: src, shift: 0, act: Activation::Relu });
            l.emit(format!("{name}/{what}_relu"), op, shape.to_vec(), sin)
        };
        let c = or_equal as i64;
        let hi = relu_of_shifted(self, c, "shift_hi");
        let lo = relu_of_shifted(self, c - 1, "shift_lo");
        let unit = 1i64 << s;
        let lin = LinearOp {
            inputs: vec![hi, lo],
            row_ptr: (0..=n as u32).map(|i| 2 * i).collect(),
            cols: (0..n as u32).flat_map(|i| [i, n as u32 + i]).collect(),
            weights: (0..n).flat_map(|_| [unit, -unit]).collect(),
            bias: vec![0; n],
            params: None,
        };
        self.emit(name.to_string(), Op::Linear(lin), shape.to_vec(), s)
    }

    /// `floor(x / 2^k_e)` per element of the integer value `input` (at scale
    /// `s`, so `X = x 2^s` for integer `x`), as an integer at scale 0: one
    /// `Linear` `X 2^(K - k_e) - 2^(s + K - 1)` and one `Requant{s + K}`
    /// (`K = max k_e`), whose half-up rounding of `X 2^(K-k_e) / 2^(s+K) - 1/2`
    /// is exactly the floor. Shifts are capped at `range_bits - s`: every
    /// provable `|x|` is below `2^(range_bits - s)`, so a larger shift gives
    /// the same floor (0, or -1 for a negative `x`).
    fn floor_pow2(&mut self, name: &str, input: usize, shifts: &[u32], shape: &[usize]) -> usize {
        let n = shifts.len();
        let cap = self.range_bits.saturating_sub(self.s);
        let ks: Vec<u32> = shifts.iter().map(|&k| k.min(cap)).collect();
        let big = ks.iter().copied().max().unwrap_or(0);
        let shift = self.s + big;
        let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
        let lin = LinearOp {
            inputs: vec![input],
            row_ptr: (0..=n as u32).collect(),
            cols: (0..n as u32).collect(),
            weights: ks.iter().map(|&k| 1i64 << (big - k)).collect(),
            bias: vec![-half; n],
            params: None,
        };
        let l = self.emit(format!("{name}/floor_arg"), Op::Linear(lin), shape.to_vec(), self.s);
        let op = Op::Requant(RequantOp { input: l, shift, act: Activation::Identity });
        self.emit(format!("{name}/floor"), op, shape.to_vec(), 0)
    }

    /// ONNX BitShift by constant amounts, exactly (see `frontend::ops::bitwise`):
    /// RIGHT is `floor(x / 2^k)` ([`Self::floor_pow2`]) put back at scale `s`;
    /// LEFT is `x 2^k - 2^bits floor(x / 2^(bits - k))` (the wraparound), the
    /// floor skipped where no provable `x` reaches `2^(bits - k)`.
    fn bit_shift(&mut self, name: &str, input: usize, op: &BitShift, shape: &[usize]) -> Result<usize> {
        let n = op.shifts.len();
        let s = self.s;
        let input = self.at_scale(input, s);
        let unit = 1i64 << s;
        let too_big = |what: &str| CompileError::Shape {
            node: name.to_string(),
            op: "BitShift".into(),
            reason: format!("{what} does not fit the circuit's {}-bit values at scale {s}", self.range_bits),
        };
        let cap = self.range_bits.saturating_sub(s);
        if !op.left {
            let q = self.floor_pow2(name, input, &op.shifts, shape);
            let lin = LinearOp {
                inputs: vec![q],
                row_ptr: (0..=n as u32).collect(),
                cols: (0..n as u32).collect(),
                weights: vec![unit; n],
                bias: vec![0; n],
                params: None,
            };
            return Ok(self.emit(name.to_string(), Op::Linear(lin), shape.to_vec(), s));
        }
        // Elements whose result can wrap: m = bits - k below the provable range.
        let m: Vec<Option<u32>> = op.shifts.iter().map(|&k| (k < op.bits).then(|| op.bits - k)).collect();
        let wraps: Vec<bool> = m.iter().map(|m| m.is_some_and(|m| m < cap)).collect();
        if op.shifts.iter().any(|&k| k < op.bits && k + self.range_bits > 62) {
            return Err(too_big("the shifted value"));
        }
        let mut inputs = vec![input];
        let q = if wraps.iter().any(|&w| w) {
            if op.bits + s > 62 {
                return Err(too_big("the wraparound"));
            }
            let ms: Vec<u32> = m.iter().zip(&wraps).map(|(m, &w)| if w { m.unwrap_or(0) } else { cap }).collect();
            let q = self.floor_pow2(&format!("{name}/wrap"), input, &ms, shape);
            inputs.push(q);
            Some(q)
        } else {
            None
        };
        let mut lin =
            LinearOp { inputs, row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0; n], params: None };
        for (e, (&k, &wrap)) in op.shifts.iter().zip(&wraps).enumerate() {
            if k < op.bits {
                lin.cols.push(e as u32);
                lin.weights.push(1i64 << k);
                if q.is_some() && wrap {
                    lin.cols.push((n + e) as u32);
                    lin.weights.push(-(1i64 << (op.bits + s)));
                }
            }
            lin.row_ptr.push(lin.cols.len() as u32);
        }
        Ok(self.emit(name.to_string(), Op::Linear(lin), shape.to_vec(), s))
    }

    fn node(&mut self, v: ValueId) -> Result<()> {
        let node = &self.g.nodes[v];
        let (name, shape, s) = (node.name.clone(), node.shape.clone(), self.s);
        let id = match &node.op {
            FOp::Const(_) => return Ok(()),
            FOp::Input(i) => match self.g.inputs[*i].int_range {
                Some(ty) => {
                    let r = int_input::int_input(self.nodes.len(), &name, *i, &shape, ty, s, self.range_bits);
                    self.nodes.extend(r.nodes.into_iter().map(|(n, _)| n));
                    r.value
                }
                None => self.emit(name, Op::Input { index: *i }, shape, s),
            },
            FOp::Reshape => self.value(node.inputs[0])?,
            FOp::Gather(map) => {
                let mut inputs = node.inputs.iter().map(|&i| self.value(i)).collect::<Result<Vec<_>>>()?;
                // Joined values meet at the join's own scale, within their
                // scales: coarser inputs go up exactly, finer ones round once.
                let lo = inputs.iter().map(|&i| self.scale_of(i)).min().unwrap_or(s);
                let hi = inputs.iter().map(|&i| self.scale_of(i)).max().unwrap_or(s);
                let t = self.target(v).clamp(lo, hi);
                for i in inputs.iter_mut() {
                    *i = self.at_scale(*i, t);
                }
                self.emit(name, Op::Gather(GatherOp { inputs, map: map.clone() }), shape, t)
            }
            FOp::Contract(c) => self.contract(v, c)?,
            FOp::Affine(a) => self.affine(v, a)?,
            FOp::Max(w) => {
                let input = self.value(node.inputs[0])?;
                let op = Op::Max(MaxOp { input, row_ptr: w.row_ptr.clone(), cols: w.cols.clone() });
                let sc = self.scale_of(input);
                self.emit(name, op, shape, sc)
            }
            FOp::Relu => {
                let input = self.value(node.inputs[0])?;
                let sc = self.scale_of(input);
                self.emit(name, Op::Requant(RequantOp { input, shift: 0, act: Activation::Relu }), shape, sc)
            }
            FOp::Func(f) => self.func(v, *f)?,
            FOp::Step { or_equal } => {
                let input = self.value(node.inputs[0])?;
                self.step(&name, input, *or_equal, &shape)
            }
            FOp::BitShift(op) => {
                let input = self.value(node.inputs[0])?;
                self.bit_shift(&name, input, op, &shape)?
            }
            // Graphs with quantize nodes are lowered by `lower_quant`.
            FOp::Quantize(_) | FOp::DynQuant(_) | FOp::QTable(_) => {
                return Err(CompileError::Shape {
                    node: name,
                    op: "QuantizeLinear".into(),
                    reason: "quantized graphs are lowered by lower_quant".into(),
                })
            }
        };
        self.map[v] = Some(id);
        Ok(())
    }
}

/// The program's input specs (parameter inputs keep their bound values).
pub fn input_specs(g: &Graph) -> Vec<InputSpec> {
    g.inputs
        .iter()
        .map(|i| InputSpec {
            name: i.name.clone(),
            shape: i.shape.clone(),
            bound: i.bound.clone(),
            int_range: i.int_range,
        })
        .collect()
}

/// Lowers `g`; `ranges` are the calibrated `(min, max)` of each value (empty
/// without calibration), which size function tables and, with `per_tensor`,
/// give each value its own scale ([`MAX_EXTRA_SCALE_BITS`] at most above
/// `quant.scale_bits`). `vis.params` other than `Fixed` makes the weights a
/// witness ([`ir::ParamSet`]); `pins` are then a compiled architecture's
/// layer scales, to lower another weight set for it (`crate::reweigh`).
#[allow(clippy::too_many_arguments)]
pub fn lower<'a>(
    g: &'a Graph,
    name: &str,
    quant: QuantSettings,
    per_tensor: bool,
    weight_bits: u32,
    vis: &Visibilities,
    ranges: &'a [Option<(f64, f64)>],
    calibrated: &'a [Option<(f64, f64)>],
    pins: Option<&'a [(String, u32)]>,
) -> Result<Program> {
    let params = (vis.params != Visibility::Fixed).then_some(Params {
        slots: vec![],
        values: vec![],
        layer_scales: vec![],
        pins,
    });
    let mut l = Lowerer {
        params,
        g,
        ranges,
        calibrated,
        table_bits: table_bits(g),
        plans: vec![],
        weight_bits,
        s: quant.scale_bits,
        per_tensor,
        rescaled: HashMap::new(),
        range_bits: quant.range_bits,
        nodes: vec![],
        map: vec![None; g.nodes.len()],
    };
    for v in 0..g.nodes.len() {
        l.node(v)?;
    }
    let mut outputs = Vec::with_capacity(g.outputs.len());
    for (oname, v) in &g.outputs {
        let value = l.value(*v)?;
        let shape = g.nodes[*v].shape.clone();
        debug_assert_eq!(numel(&shape), l.nodes[value].len());
        outputs.push(OutputSpec { name: oname.clone(), value, shape, dequant: None });
    }
    if let (Some(p), Some(pins)) = (&l.params, pins) {
        if p.layer_scales.len() != pins.len() {
            return Err(CompileError::Tensor {
                tensor: name.to_string(),
                reason: format!(
                    "the model has {} parameter layers, the compiled architecture {}",
                    p.layer_scales.len(),
                    pins.len()
                ),
            });
        }
    }
    let params = l.params.map(|p| ParamSet {
        visibility: vis.params,
        slots: p.slots,
        values: p.values,
        plan: RelowerPlan {
            per_tensor,
            weight_bits,
            layer_scales: p.layer_scales,
            ranges: ranges.to_vec(),
            calibrated: calibrated.to_vec(),
        },
    });
    let program = Program {
        format_version: ir::FORMAT_VERSION,
        name: name.to_string(),
        quant,
        inputs: input_specs(g),
        nodes: l.nodes,
        outputs,
        input_visibility: vis.input,
        output_visibility: vis.output,
        params,
    };
    Ok(program)
}
