//! Float graph -> integer program. Every activation is at scale `s`
//! (`QuantSettings::scale_bits`); each layer with constant weights has its
//! own weight scale `sw` ([`quantize::weight_scale`]). The rules:
//!
//! - model input `i`: `Input{i}` (the circuit range-checks it there);
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
//!   `Requant` by the `fuse_requant_relu` pass).

use ir::{
    Activation, BilinearOp, GatherOp, InputSpec, LinearOp, MaxOp, Node, Op, OutputSpec, Program, QuantSettings,
    RequantOp, Visibility,
};

use crate::error::{CompileError, Result};
use crate::frontend::graph::{Affine, Contract, FOp, Graph, ValueId};
use crate::frontend::index::numel;
use crate::quantize;

#[derive(Debug, Clone, Copy)]
pub struct Visibilities {
    pub input: Visibility,
    pub output: Visibility,
}

struct Lowerer<'g> {
    g: &'g Graph,
    s: u32,
    range_bits: u32,
    /// Significant bits of each layer's largest weight.
    weight_bits: u32,
    nodes: Vec<Node>,
    /// The integer value holding each float value (at scale `s`).
    map: Vec<Option<usize>>,
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
        let op = Op::Linear(LinearOp { inputs: vec![], row_ptr: vec![0; n + 1], cols: vec![], weights: vec![], bias });
        let id = self.emit(node.name.clone(), op, node.shape.clone(), self.s);
        self.map[v] = Some(id);
        Ok(id)
    }

    /// `Requant{shift}` back to scale `s`; nothing when `shift == 0` (the
    /// value is already at `s`, and only rescaled values need a range check).
    fn requant(&mut self, name: &str, input: usize, shift: u32, shape: &[usize]) -> usize {
        if shift == 0 {
            return input;
        }
        let op = Op::Requant(RequantOp { input, shift, act: Activation::Identity });
        self.emit(format!("{name}/requant"), op, shape.to_vec(), self.s)
    }

    /// Weight scale of one linear layer: [`quantize::weight_scale`], lowered
    /// while the accumulator could leave the 2^60 budget for inputs within
    /// the activation range.
    fn layer_scale(&self, weights: &[f64], bias: &[f64], terms: usize) -> u32 {
        let sw = quantize::weight_scale(weights, self.weight_bits);
        let max_w = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let max_b = bias.iter().fold(0.0f64, |m, b| m.max(b.abs()));
        let bound = |sw: u32| {
            let w = 2f64.powi(sw as i32);
            max_w * w * 2f64.powi(self.range_bits as i32) * terms as f64 + max_b * w * 2f64.powi(self.s as i32)
        };
        (0..=sw).rev().find(|&sw| bound(sw) < 2f64.powi(60)).unwrap_or(0)
    }

    fn contract(&mut self, v: ValueId, c: &Contract) -> Result<usize> {
        let node = &self.g.nodes[v];
        let (name, shape, s) = (node.name.as_str(), &node.shape, self.s);
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let n = c.terms.rows();
        let bias_f: Vec<f64> = c.bias.clone().unwrap_or_else(|| vec![0.0; n]);
        let (ca, cb) = (self.g.konst(a), self.g.konst(b));
        let (wide, shift) = if let Some((w, idx_w, x, idx_x)) = match (ca, cb) {
            (_, Some(w)) => Some((w, &c.terms.b_idx, a, &c.terms.a_idx)),
            (Some(w), None) => Some((w, &c.terms.a_idx, b, &c.terms.b_idx)),
            _ => None,
        } {
            let wf = w.to_f64();
            let terms = (0..n).map(|o| c.terms.row(o).len()).max().unwrap_or(0);
            let sw = self.layer_scale(&wf, &bias_f, terms);
            let bias = bias_f.iter().map(|&x| q(x, s + sw, "bias", name)).collect::<Result<_>>()?;
            let mut lin =
                LinearOp { inputs: vec![self.value(x)?], row_ptr: vec![0], cols: vec![], weights: vec![], bias };
            for o in 0..n {
                for t in c.terms.row(o) {
                    let wq = q(wf[idx_w[t] as usize], sw, "weight", name)?;
                    if wq != 0 {
                        lin.cols.push(idx_x[t]);
                        lin.weights.push(wq);
                    }
                }
                lin.row_ptr.push(lin.cols.len() as u32);
            }
            let id = self.emit(name.to_string(), Op::Linear(lin), shape.clone(), s + sw);
            (id, sw)
        } else {
            let bias: Vec<i64> = bias_f.iter().map(|&x| q(x, 2 * s, "bias", name)).collect::<Result<_>>()?;
            let (ia, ib) = (self.value(a)?, self.value(b)?);
            let pairs = c.terms.a_idx.iter().zip(&c.terms.b_idx).map(|(&x, &y)| (x, y)).collect();
            let bil = BilinearOp { a: ia, b: ib, row_ptr: c.terms.row_ptr.clone(), pairs };
            let mut id = self.emit(name.to_string(), Op::Bilinear(bil), shape.clone(), 2 * s);
            if bias.iter().any(|&x| x != 0) {
                let lin = LinearOp {
                    inputs: vec![id],
                    row_ptr: (0..=n as u32).collect(),
                    cols: (0..n as u32).collect(),
                    weights: vec![1; n],
                    bias,
                };
                id = self.emit(format!("{name}/bias"), Op::Linear(lin), shape.clone(), 2 * s);
            }
            (id, s)
        };
        Ok(self.requant(name, wide, shift, shape))
    }

    fn affine(&mut self, v: ValueId, a: &Affine) -> Result<usize> {
        let node = &self.g.nodes[v];
        let (name, shape, s) = (node.name.as_str(), &node.shape, self.s);
        let inputs = node.inputs.iter().map(|&i| self.value(i)).collect::<Result<Vec<_>>>()?;
        let terms = (0..a.bias.len()).map(|o| a.row(o).len()).max().unwrap_or(0);
        let sw = self.layer_scale(&a.weights, &a.bias, terms);
        let mut lin = LinearOp {
            inputs,
            row_ptr: vec![0],
            cols: vec![],
            weights: vec![],
            bias: a.bias.iter().map(|&b| q(b, s + sw, "bias", name)).collect::<Result<_>>()?,
        };
        for o in 0..a.bias.len() {
            for t in a.row(o) {
                let w = q(a.weights[t], sw, "weight", name)?;
                if w != 0 {
                    lin.cols.push(a.cols[t]);
                    lin.weights.push(w);
                }
            }
            lin.row_ptr.push(lin.cols.len() as u32);
        }
        let id = self.emit(name.to_string(), Op::Linear(lin), shape.clone(), s + sw);
        Ok(self.requant(name, id, sw, shape))
    }

    fn node(&mut self, v: ValueId) -> Result<()> {
        let node = &self.g.nodes[v];
        let (name, shape, s) = (node.name.clone(), node.shape.clone(), self.s);
        let id = match &node.op {
            FOp::Const(_) => return Ok(()),
            FOp::Input(i) => self.emit(name, Op::Input { index: *i }, shape, s),
            FOp::Reshape => self.value(node.inputs[0])?,
            FOp::Gather(map) => {
                let inputs = node.inputs.iter().map(|&i| self.value(i)).collect::<Result<Vec<_>>>()?;
                self.emit(name, Op::Gather(GatherOp { inputs, map: map.clone() }), shape, s)
            }
            FOp::Contract(c) => self.contract(v, c)?,
            FOp::Affine(a) => self.affine(v, a)?,
            FOp::Max(w) => {
                let input = self.value(node.inputs[0])?;
                let op = Op::Max(MaxOp { input, row_ptr: w.row_ptr.clone(), cols: w.cols.clone() });
                self.emit(name, op, shape, s)
            }
            FOp::Relu => {
                let input = self.value(node.inputs[0])?;
                self.emit(name, Op::Requant(RequantOp { input, shift: 0, act: Activation::Relu }), shape, s)
            }
            // Graphs with quantize nodes are lowered by `lower_quant`.
            FOp::Quantize(_) => {
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

pub fn lower(g: &Graph, name: &str, quant: QuantSettings, weight_bits: u32, vis: &Visibilities) -> Result<Program> {
    let mut l = Lowerer {
        g,
        weight_bits,
        s: quant.scale_bits,
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
    let program = Program {
        format_version: ir::FORMAT_VERSION,
        name: name.to_string(),
        quant,
        inputs: g.inputs.iter().map(|i| InputSpec { name: i.name.clone(), shape: i.shape.clone() }).collect(),
        nodes: l.nodes,
        outputs,
        input_visibility: vis.input,
        output_visibility: vis.output,
    };
    Ok(program)
}
