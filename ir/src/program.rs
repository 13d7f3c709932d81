use serde::{Deserialize, Serialize};

use crate::{
    error::IrError,
    op::Op,
    quant::{dequantize, OutputDequant, QuantSettings},
};

/// Bumped whenever the serialized form changes (4: `InputSpec::int_range`;
/// 5: witness parameters, `Program::params`, `LinearOp::params`, `Visibility::Hashed`).
pub const FORMAT_VERSION: u32 = 5;

/// Longest function table (entries); the circuit's fixed table holds them all.
pub const MAX_TABLE_LEN: usize = 1 << 16;

/// Index of a node, and of the value it produces.
pub type ValueId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
    /// Constants baked into the circuit's fixed columns (weights only).
    Fixed,
    /// A witness whose Poseidon commitment is a public instance
    /// (`circuits::poseidon`): the chain sees one field element, not the tensor.
    Hashed,
    /// Parameters only: a witness laid out in dedicated advice columns that
    /// the prover leaves unblinded, so their KZG commitments in the proof
    /// are a deterministic function of the weights (EZKL's "polycommit"):
    /// the chain sees `keccak256` of those points, and the commitment costs
    /// columns, not rows (`circuits::polycommit`).
    Polycommit,
}

/// Where one parameter came from: element `index` (row-major) of the float
/// graph's constant `tensor` (a weight matrix, a kernel, a bias), quantized
/// at `bits` fractional bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSlot {
    pub tensor: String,
    pub index: u32,
    pub bits: u32,
}

/// The model's parameters as a witness (`--param-visibility private|hashed`):
/// the circuit, and so the keys and the verifier, depend on the architecture
/// (the program with these values left out) and not on the values, so one
/// key proves every weight set of the architecture. `values[i]` is slot
/// `slots[i]`'s integer; [`crate::LinearOp::params`] refers to slots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSet {
    /// `Private` (an unconstrained witness: the proof says "some weights")
    /// or `Hashed` (their Poseidon commitment is a public instance).
    pub visibility: Visibility,
    pub slots: Vec<ParamSlot>,
    pub values: Vec<i64>,
    /// How another weight set of this architecture is quantized.
    pub plan: RelowerPlan,
}

/// The compile-time choices a new weight set is lowered with, so that its
/// program has the same architecture: every value-dependent decision is
/// pinned here (see `compiler::reweigh`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelowerPlan {
    pub per_tensor: bool,
    pub weight_bits: u32,
    /// Weight scale of each parameter layer, by float-graph node name.
    pub layer_scales: Vec<(String, u32)>,
    /// The calibrated ranges of the float graph's values (with and without
    /// margin) that table domains and per-tensor scales were chosen from.
    pub ranges: Vec<Option<(f64, f64)>>,
    pub calibrated: Vec<Option<(f64, f64)>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub shape: Vec<usize>,
    /// A parameter input (axes, shapes, pads fed as an integer graph input):
    /// bound at compile time to these values, which every proof's input must
    /// equal; it has no `Input` node and is no instance.
    pub bound: Option<Vec<f64>>,
    /// `[lo, hi]` of an integer input's ONNX element type (bool: `[0, 1]`):
    /// every value given must be an integer inside it (the circuit reads
    /// the input at scale 0 and range-checks it to the type; see
    /// `compiler::passes::int_input`). `None` for float inputs.
    #[serde(default)]
    pub int_range: Option<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub value: ValueId,
    pub shape: Vec<usize>,
    /// How the output's integers become floats: `None` is fixed point at the
    /// node's `scale`; `Some` is an ONNX DequantizeLinear (quantized models,
    /// whose outputs are the quantized integers themselves).
    pub dequant: Option<OutputDequant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The ONNX node this came from, for error messages.
    pub name: String,
    pub op: Op,
    pub shape: Vec<usize>,
    /// Fractional bits of the values this node produces.
    pub scale: u32,
}

impl Node {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub format_version: u32,
    pub name: String,
    pub quant: QuantSettings,
    pub inputs: Vec<InputSpec>,
    pub nodes: Vec<Node>,
    pub outputs: Vec<OutputSpec>,
    pub input_visibility: Visibility,
    pub output_visibility: Visibility,
    /// `None`: the weights are constants of the circuit (`Fixed`).
    pub params: Option<ParamSet>,
}

impl Program {
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serialize(self).expect("serializing an in-memory program cannot fail")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Program, IrError> {
        let p: Program = bincode::deserialize(bytes).map_err(|e| IrError::Decode(e.to_string()))?;
        if p.format_version != FORMAT_VERSION {
            return Err(IrError::FormatVersion { expected: FORMAT_VERSION, got: p.format_version });
        }
        p.validate()?;
        Ok(p)
    }

    /// Structural checks: topological order, index bounds, shift limits.
    /// Run on every decoded program, so later stages may index freely.
    pub fn validate(&self) -> Result<(), IrError> {
        let q = &self.quant;
        if q.range_bits == 0 || q.range_bits > QuantSettings::MAX_RANGE_BITS {
            return Err(IrError::Malformed {
                node: 0,
                name: self.name.clone(),
                reason: format!("range_bits {} is not in 1..={}", q.range_bits, QuantSettings::MAX_RANGE_BITS),
            });
        }
        let tensor_vis = [Visibility::Public, Visibility::Private, Visibility::Hashed];
        for (part, v) in [("input", self.input_visibility), ("output", self.output_visibility)] {
            if !tensor_vis.contains(&v) {
                return Err(IrError::Malformed {
                    node: 0,
                    name: self.name.clone(),
                    reason: format!("{part} visibility {v:?} is not one of public, private, hashed"),
                });
            }
        }
        if let Some(ps) = &self.params {
            if ![Visibility::Private, Visibility::Hashed, Visibility::Polycommit].contains(&ps.visibility) {
                return Err(IrError::Malformed {
                    node: 0,
                    name: self.name.clone(),
                    reason: format!(
                        "witness parameters' visibility {:?} is not one of private, hashed, polycommit",
                        ps.visibility
                    ),
                });
            }
        }
        let mut seen_inputs = vec![false; self.inputs.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = |reason: String| IrError::Malformed { node: i, name: node.name.clone(), reason };
            // Elements are addressed by u32 (row pointers, columns, maps): a
            // longer node is malformed, and `len` below cannot overflow.
            let n_out = node
                .shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .filter(|&n| n <= u32::MAX as usize)
                .ok_or_else(|| bad(format!("shape {:?} has more than 2^32 - 1 elements", node.shape)))?;
            for &inp in &node.op.inputs() {
                if inp >= i {
                    return Err(bad(format!("reads value {inp} which is not computed before it")));
                }
            }
            let concat_len: usize = node.op.inputs().iter().map(|&v| self.nodes[v].len()).sum();
            let check_ptr = |row_ptr: &[u32], terms: usize| -> Result<(), IrError> {
                if row_ptr.len() != n_out + 1
                    || row_ptr.first() != Some(&0)
                    || *row_ptr.last().unwrap_or(&0) as usize != terms
                    || row_ptr.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(bad("row pointers do not match the output shape".into()));
                }
                Ok(())
            };
            match &node.op {
                Op::Input { index } => {
                    let spec =
                        self.inputs.get(*index).ok_or_else(|| bad(format!("input index {index} out of range")))?;
                    if spec.bound.is_some() {
                        return Err(bad(format!("input {index} is bound at compile time but has an input node")));
                    }
                    if spec.shape != node.shape {
                        return Err(bad("input shape differs from its spec".into()));
                    }
                    if std::mem::replace(&mut seen_inputs[*index], true) {
                        return Err(bad(format!("input {index} is read by two input nodes")));
                    }
                }
                Op::Linear(l) => {
                    check_ptr(&l.row_ptr, l.cols.len())?;
                    if l.weights.len() != l.cols.len() || l.bias.len() != n_out {
                        return Err(bad("weights/bias length mismatch".into()));
                    }
                    if l.cols.iter().any(|&c| c as usize >= concat_len) {
                        return Err(bad("column index out of range".into()));
                    }
                    if let Some(r) = &l.params {
                        let Some(ps) = &self.params else {
                            return Err(bad("parameter slots without the program's parameter set".into()));
                        };
                        if r.weights.len() != l.weights.len() || r.bias.len() != l.bias.len() {
                            return Err(bad("parameter slots do not match the terms".into()));
                        }
                        let slot = |k: u32, v: i64| ps.values.get(k as usize).is_some_and(|&x| x == v);
                        if !r.weights.iter().zip(&l.weights).all(|(&k, &w)| slot(k, w))
                            || !r.bias.iter().zip(&l.bias).all(|(&k, &b)| slot(k, b))
                        {
                            return Err(bad("weights differ from their parameter slots".into()));
                        }
                    }
                }
                Op::Bilinear(b) => {
                    check_ptr(&b.row_ptr, b.pairs.len())?;
                    let (la, lb) = (self.nodes[b.a].len(), self.nodes[b.b].len());
                    if b.pairs.iter().any(|&(x, y)| x as usize >= la || y as usize >= lb) {
                        return Err(bad("pair index out of range".into()));
                    }
                }
                Op::Requant(r) => {
                    if self.nodes[r.input].len() != n_out {
                        return Err(bad("requant changes the element count".into()));
                    }
                    if r.shift > QuantSettings::MAX_SHIFT {
                        return Err(bad(format!("shift {} is larger than {}", r.shift, QuantSettings::MAX_SHIFT)));
                    }
                }
                Op::Max(m) => {
                    check_ptr(&m.row_ptr, m.cols.len())?;
                    if m.row_ptr.windows(2).any(|w| w[0] == w[1]) {
                        return Err(bad("empty max window".into()));
                    }
                    let la = self.nodes[m.input].len();
                    if m.cols.iter().any(|&c| c as usize >= la) {
                        return Err(bad("window index out of range".into()));
                    }
                }
                Op::Table(t) => {
                    if self.nodes[t.input].len() != n_out {
                        return Err(bad("table changes the element count".into()));
                    }
                    if t.values.is_empty() || t.values.len() > MAX_TABLE_LEN {
                        return Err(bad(format!("table length {} is not in 1..={MAX_TABLE_LEN}", t.values.len())));
                    }
                    if t.lo.unsigned_abs() > 1 << 40 || t.values.iter().any(|v| v.unsigned_abs() > 1 << 60) {
                        return Err(bad("table domain or values too large".into()));
                    }
                }
                Op::Div(d) => {
                    let (ln, ld) = (self.nodes[d.num].len(), self.nodes[d.den].len());
                    if ln != n_out || (ld != ln && ld != 1) {
                        return Err(bad(
                            "division operands do not match the output (divisor: same length or one)".into()
                        ));
                    }
                }
                Op::Gather(g) => {
                    if g.map.len() != n_out {
                        return Err(bad("gather map length differs from the output size".into()));
                    }
                    if g.map.iter().any(|&c| c != crate::op::ZERO_SRC && c as usize >= concat_len) {
                        return Err(bad("gather index out of range".into()));
                    }
                }
            }
        }
        if let Some(missing) = seen_inputs.iter().zip(&self.inputs).position(|(s, i)| !s && i.bound.is_none()) {
            return Err(IrError::Malformed {
                node: 0,
                name: self.inputs[missing].name.clone(),
                reason: format!("input {missing} has no input node"),
            });
        }
        for o in &self.outputs {
            if o.value >= self.nodes.len() {
                return Err(IrError::Malformed {
                    node: o.value,
                    name: o.name.clone(),
                    reason: "output refers to a missing value".into(),
                });
            }
            if let Some(d) = &o.dequant {
                let n = self.nodes[o.value].len();
                let ok = |len: usize| len == 1 || len == n;
                if !ok(d.scale.len()) || !ok(d.zero_point.len()) || d.scale.iter().any(|s| !s.is_finite()) {
                    return Err(IrError::Malformed {
                        node: o.value,
                        name: o.name.clone(),
                        reason: "output dequantization parameters do not match the output".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The fixed-point scale input `index` is read at: its `Input` node's
    /// scale (0 for integer inputs), else the program's.
    pub fn input_scale(&self, index: usize) -> u32 {
        self.nodes
            .iter()
            .find(|n| matches!(n.op, Op::Input { index: i } if i == index))
            .map_or(self.quant.scale_bits, |n| n.scale)
    }

    /// Output `index`'s integers as floats (see [`OutputSpec::dequant`]).
    pub fn dequantize_output(&self, index: usize, values: &[i64]) -> Vec<f64> {
        let spec = &self.outputs[index];
        match &spec.dequant {
            Some(d) => values.iter().enumerate().map(|(i, &v)| d.apply(i, v)).collect(),
            None => {
                let s = self.nodes[spec.value].scale;
                values.iter().map(|&v| dequantize(v, s)).collect()
            }
        }
    }

    /// Whether the parameters are committed by unblinded advice columns
    /// (`Visibility::Polycommit`: a commitment in the proof, not an instance).
    pub fn params_polycommit(&self) -> bool {
        self.params.as_ref().is_some_and(|p| p.visibility == Visibility::Polycommit)
    }

    /// Whether the parameters are a witness committed by a public hash.
    pub fn params_hashed(&self) -> bool {
        self.params.as_ref().is_some_and(|p| p.visibility == Visibility::Hashed)
    }

    /// The hashed parts, in instance order after the public tensors:
    /// `"params"`, `"input"`, `"output"` (each one field element).
    pub fn commitment_parts(&self) -> Vec<&'static str> {
        let mut v = vec![];
        if self.params_hashed() {
            v.push("params");
        }
        if self.input_visibility == Visibility::Hashed {
            v.push("input");
        }
        if self.output_visibility == Visibility::Hashed {
            v.push("output");
        }
        v
    }

    /// Index among the instances of the commitment to `part` ("params",
    /// "input", "output"), when that part is hashed.
    pub fn commitment_index(&self, part: &str) -> Option<usize> {
        let base = self.num_instances() - self.commitment_parts().len();
        self.commitment_parts().iter().position(|p| *p == part).map(|i| base + i)
    }

    /// The same program with another weight set: `values` per slot, written
    /// into every parameter op's inline weights and biases.
    pub fn with_param_values(&self, values: &[i64]) -> Result<Program, IrError> {
        let mut p = self.clone();
        let Some(ps) = p.params.as_mut() else {
            return Err(IrError::Malformed {
                node: 0,
                name: self.name.clone(),
                reason: "the program's parameters are fixed constants (compiled with --param-visibility fixed)".into(),
            });
        };
        if values.len() != ps.values.len() {
            return Err(IrError::Malformed {
                node: 0,
                name: self.name.clone(),
                reason: format!("{} parameter values for {} slots", values.len(), ps.values.len()),
            });
        }
        ps.values = values.to_vec();
        for node in &mut p.nodes {
            if let Op::Linear(l) = &mut node.op {
                if let Some(r) = &l.params {
                    for (w, &k) in l.weights.iter_mut().zip(&r.weights) {
                        *w = values[k as usize];
                    }
                    for (b, &k) in l.bias.iter_mut().zip(&r.bias) {
                        *b = values[k as usize];
                    }
                }
            }
        }
        Ok(p)
    }

    /// The architecture: this program with its parameter values zeroed.
    /// Two programs with equal architectures have the same circuit, keys and
    /// verifier.
    pub fn architecture(&self) -> Program {
        match &self.params {
            Some(ps) => {
                let mut p = self.with_param_values(&vec![0; ps.values.len()]).expect("lengths match");
                for node in &mut p.nodes {
                    node.name.clear();
                }
                for slot in &mut p.params.as_mut().expect("Some").slots {
                    slot.tensor.clear();
                }
                p.name.clear();
                p
            }
            None => self.clone(),
        }
    }

    /// Number of public instance values: public inputs, then public
    /// outputs, then one commitment per hashed part ([`Self::commitment_parts`]).
    pub fn num_instances(&self) -> usize {
        let mut n = self.commitment_parts().len();
        if self.input_visibility == Visibility::Public {
            n += self
                .inputs
                .iter()
                .filter(|i| i.bound.is_none())
                .map(|i| i.shape.iter().product::<usize>())
                .sum::<usize>();
        }
        if self.output_visibility == Visibility::Public {
            n += self.outputs.iter().map(|o| self.nodes[o.value].len()).sum::<usize>();
        }
        n
    }
}
