//! ONNX -> float [`Graph`]: decoding, static shape inference and the
//! per-op-family converters in [`ops`]. Constant subgraphs (shape
//! computations, weight transposes) are folded as they are built, because
//! shape inference of later nodes needs their values.

pub mod attrs;
pub mod eval;
pub mod external;
pub mod func;
pub mod graph;
pub mod index;
pub mod inspect;
pub mod ops;
pub mod tensor;

use std::collections::HashMap;
use std::path::Path;

use onnx_protobuf::{type_proto, Message, ModelProto, NodeProto};

use crate::error::{CompileError, Result};
use attrs::Attrs;
use graph::{FOp, Graph, GraphInput, Node, ValueId};
use index::numel;
use inspect::{InspectReport, NodeReport, TensorReport};
use tensor::{checked_elements, dtype_name, from_proto, is_float_dtype, Tensor};

/// One ONNX node being converted.
pub struct NodeCtx<'a> {
    pub proto: &'a NodeProto,
    pub name: String,
    pub op: String,
    /// Resolved inputs; `None` for omitted optional inputs (`""`).
    pub inputs: Vec<Option<ValueId>>,
}

impl<'a> NodeCtx<'a> {
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs { node: self.proto, name: &self.name }
    }

    pub fn input(&self, i: usize) -> Result<ValueId> {
        self.opt_input(i).ok_or_else(|| self.shape_err(format!("missing required input {i}")))
    }

    pub fn opt_input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }

    pub fn shape_err(&self, reason: impl Into<String>) -> CompileError {
        CompileError::Shape { node: self.name.clone(), op: self.op.clone(), reason: reason.into() }
    }

    /// This node cannot be lowered (e.g. a data-dependent operand that must be constant).
    pub fn unsupported(&self) -> CompileError {
        CompileError::Unsupported { ops: vec![(self.op.clone(), self.name.clone())] }
    }

    /// A helper node's name, derived from this node's.
    pub fn sub(&self, what: &str) -> String {
        format!("{}/{what}", self.name)
    }
}

/// Builds the graph node by node, folding nodes whose inputs are all constant.
#[derive(Default)]
pub struct Builder {
    pub graph: Graph,
    /// Values of integer-typed model inputs (data, not parameters).
    pub int_values: std::collections::HashSet<ValueId>,
    /// The model's default-domain opset (some defaults depend on it).
    pub opset: i64,
    /// ONNX element type of constants decoded from initializers (integer
    /// tensors lose it in [`Tensor`]; quantization needs int8 vs uint8).
    pub elem_types: HashMap<ValueId, i32>,
}

impl Builder {
    pub fn shape(&self, v: ValueId) -> &[usize] {
        self.graph.nodes.get(v).map(|n| n.shape.as_slice()).unwrap_or(&[])
    }

    pub fn konst(&self, v: ValueId) -> Option<&Tensor> {
        self.graph.konst(v)
    }

    pub fn is_const(&self, v: ValueId) -> bool {
        self.konst(v).is_some()
    }

    pub fn push(
        &mut self,
        ctx: &NodeCtx,
        name: &str,
        op: FOp,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> Result<ValueId> {
        if let Err(why) = checked_elements(&shape) {
            return Err(ctx.shape_err(format!("output {why}")));
        }
        if !inputs.is_empty() && inputs.iter().all(|&i| self.is_const(i)) {
            let ins: Vec<&Tensor> = inputs.iter().filter_map(|&i| self.konst(i)).collect();
            let t = eval::eval_op(&op, &ins, &shape)?;
            return Ok(self.push_const(name, t));
        }
        self.graph.nodes.push(Node { name: name.to_string(), op, inputs, shape });
        Ok(self.graph.nodes.len() - 1)
    }

    pub fn push_const(&mut self, name: &str, t: Tensor) -> ValueId {
        let shape = t.shape.clone();
        self.graph.nodes.push(Node { name: name.to_string(), op: FOp::Const(t), inputs: vec![], shape });
        self.graph.nodes.len() - 1
    }

    /// A constant integer operand (shapes, axes, indices); a non-constant one
    /// makes the node unsupported.
    pub fn const_ints(&self, ctx: &NodeCtx, v: ValueId) -> Result<Vec<i64>> {
        let t = self.konst(v).ok_or_else(|| ctx.unsupported())?;
        t.to_i64().ok_or_else(|| ctx.shape_err("expected integer values"))
    }
}

/// The outcome of loading: the graph, a per-node report, and every
/// unsupported node found.
pub struct Loaded {
    pub graph: Graph,
    pub report: InspectReport,
    pub unsupported: Vec<(String, String)>,
}

/// Binds dynamic dimensions (`dim_param` or `<= 0`): from the element count
/// of a sample when exactly one dimension is dynamic, else to 1.
fn bind_shape(dims: &[Option<usize>], len: Option<usize>) -> Vec<usize> {
    let dynamic = dims.iter().filter(|d| d.is_none()).count();
    // Saturating: a hostile shape's product overflows (it is refused by
    // `checked_elements` right after binding).
    let known: usize = dims.iter().flatten().fold(1usize, |a, &d| a.saturating_mul(d));
    let bound = match (dynamic, len) {
        (1, Some(n)) if known > 0 && n % known == 0 && n > 0 => n / known,
        _ => 1,
    };
    dims.iter().map(|d| d.unwrap_or(bound)).collect()
}

/// Operand positions that must be constant (shapes, axes, pads, sizes,
/// quantization scales and zero points): a graph input feeding only such
/// operands is a *parameter input*.
fn parameter_operand(op: &str, i: usize) -> bool {
    match op {
        "Reshape" | "Squeeze" | "Unsqueeze" | "Expand" | "Tile" | "TopK" | "OneHot" | "Upsample" | "Split" => i == 1,
        "Slice" | "Pad" => i >= 1,
        "Resize" => i >= 1,
        "ConstantOfShape" => i == 0,
        "Range" => true,
        op if op.starts_with("Reduce") => i == 1,
        // Quantization parameters (scales, zero points) fed as graph inputs.
        "QuantizeLinear" | "DequantizeLinear" | "MatMulInteger" | "ConvInteger" => {
            i > usize::from(op.ends_with("Integer"))
        }
        "QLinearMatMul" | "QLinearConv" => !matches!(i, 0 | 3),
        // The shift amount (an ONNX node test feeds it as a graph input).
        "BitShift" => i == 1,
        _ => false,
    }
}

/// Loads a model. `sample` (one value list per input) binds dynamic
/// dimensions, and the values of *parameter inputs*: integer graph inputs
/// that feed only operands that must be constant (Reshape's shape, Reduce's
/// axes, Pad's pads…), which become compile-time constants the prover's
/// input must match. `lenient` keeps going past every error (for inspection).
/// `dir` is the model file's folder, where external tensor data is looked up
/// (`None` for bytes without a file: external data is then an error).
pub fn load(
    bytes: &[u8],
    path: &str,
    dir: Option<&Path>,
    sample: Option<&[Vec<f64>]>,
    lenient: bool,
) -> Result<Loaded> {
    let lens: Option<Vec<usize>> = sample.map(|i| i.iter().map(|t| t.len()).collect());
    let input_lens = lens.as_deref();
    let decode = |reason: String| CompileError::Decode { path: path.to_string(), reason };
    let mut model = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| decode(format!("not a valid ONNX protobuf, or truncated ({e})")))?;
    external::resolve(&mut model, dir)?;
    let g = model.graph.as_ref().ok_or_else(|| decode("the file holds no graph".into()))?;
    if g.node.is_empty() && g.output.is_empty() {
        return Err(decode("the graph has no nodes and no outputs".into()));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    let mut report = InspectReport {
        opset,
        ir_version: model.ir_version,
        producer: model.producer_name.clone(),
        inputs: vec![],
        outputs: vec![],
        nodes: vec![],
    };
    let mut b = Builder { opset, ..Builder::default() };
    let mut names: HashMap<String, ValueId> = HashMap::new();
    // Values that cannot be computed; `Some` names the node to blame when used.
    let mut poisoned: HashMap<String, Option<(String, String)>> = HashMap::new();
    let mut unsupported: Vec<(String, String)> = Vec::new();
    let note_unsupported = |list: &mut Vec<(String, String)>, item: (String, String)| {
        if !list.contains(&item) {
            list.push(item);
        }
    };

    if !lenient {
        ops::quant::check_forms(g)?;
    }
    for init in &g.initializer {
        let t = from_proto(init)?;
        let id = b.push_const(&init.name, t);
        b.elem_types.insert(id, init.data_type);
        names.insert(init.name.clone(), id);
    }
    // Inputs used only as parameters.
    let param_only = |name: &str| {
        let mut uses = g.node.iter().flat_map(|n| n.input.iter().enumerate().map(move |(i, x)| (n, i, x)));
        let mut any = false;
        let all = uses.all(|(n, i, x)| {
            if x != name {
                return true;
            }
            any = true;
            parameter_operand(&n.op_type, i)
        });
        any && all
    };
    let mut input_index = 0usize;
    for vi in &g.input {
        if names.contains_key(&vi.name) {
            continue; // an initializer listed as an input (old exporters)
        }
        let (elem, dims) = match &vi.type_.value {
            Some(type_proto::Value::TensorType(t)) => {
                let dims: Option<Vec<Option<usize>>> = t.shape.as_ref().map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => {
                                Some(v as usize)
                            }
                            Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(0)) => Some(0),
                            _ => None,
                        })
                        .collect()
                });
                (t.elem_type, dims)
            }
            _ => (0, None),
        };
        let len = input_lens.and_then(|l| l.get(input_index).copied());
        let shape = match dims {
            Some(d) => bind_shape(&d, len),
            None => vec![len.unwrap_or(1)],
        };
        report.inputs.push(TensorReport {
            name: vi.name.clone(),
            shape: Some(shape.clone()),
            dtype: dtype_name(elem).into(),
        });
        // Integer and bool inputs are data like floats (exact at any scale);
        // where an op needs them constant (indices, shapes) it says so.
        if !is_float_dtype(elem) && !tensor::is_integer_dtype(elem) && !lenient {
            return Err(CompileError::UnsupportedType { tensor: vi.name.clone(), dtype: dtype_name(elem).into() });
        }
        if shape.contains(&0) && !lenient {
            return Err(CompileError::Unsupported { ops: vec![("zero-size tensor".into(), vi.name.clone())] });
        }
        if let Err(reason) = checked_elements(&shape) {
            return Err(CompileError::Tensor { tensor: vi.name.clone(), reason });
        }
        let bound = sample
            .and_then(|s| s.get(input_index))
            .filter(|v| param_only(&vi.name) && v.len() == numel(&shape))
            .filter(|v| !tensor::is_integer_dtype(elem) || v.iter().all(|x| x.fract() == 0.0))
            .cloned();
        let int_range = crate::passes::int_input::type_range(elem);
        b.graph.inputs.push(GraphInput {
            name: vi.name.clone(),
            shape: shape.clone(),
            bound: bound.clone(),
            int_range,
        });
        match bound {
            Some(v) if tensor::is_integer_dtype(elem) => {
                let id = b.push_const(&vi.name, Tensor::int(shape, v.iter().map(|&x| x as i64).collect()));
                b.elem_types.insert(id, elem);
            }
            Some(v) => {
                let id = b.push_const(&vi.name, Tensor::float(shape, v));
                b.elem_types.insert(id, elem);
            }
            None => {
                b.graph.nodes.push(Node { name: vi.name.clone(), op: FOp::Input(input_index), inputs: vec![], shape });
                if tensor::is_integer_dtype(elem) {
                    b.int_values.insert(b.graph.nodes.len() - 1);
                    b.elem_types.insert(b.graph.nodes.len() - 1, elem);
                }
            }
        }
        names.insert(vi.name.clone(), b.graph.nodes.len() - 1);
        input_index += 1;
    }

    for (k, proto) in g.node.iter().enumerate() {
        let name = if !proto.name.is_empty() {
            proto.name.clone()
        } else if let Some(o) = proto.output.first().filter(|o| !o.is_empty()) {
            o.clone()
        } else {
            format!("{}_{k}", proto.op_type)
        };
        let op = proto.op_type.clone();
        let mut node_report = NodeReport {
            name: name.clone(),
            op_type: op.clone(),
            input_shapes: vec![],
            output_shapes: vec![],
            supported: ops::converter_in(&proto.domain, &op).is_some(),
            note: (op == "ZipMap").then(|| {
                "ZipMap's seq(map) output is taken as the [N, C] probability tensor it is built from".to_string()
            }),
        };
        let mut inputs = Vec::with_capacity(proto.input.len());
        let mut blocked = false;
        for inp in &proto.input {
            if inp.is_empty() {
                inputs.push(None);
            } else if let Some(&id) = names.get(inp) {
                inputs.push(Some(id));
            } else if let Some(blame) = poisoned.get(inp) {
                if let Some(item) = blame.clone() {
                    note_unsupported(&mut unsupported, item);
                }
                blocked = true;
                inputs.push(None);
            } else {
                let err = CompileError::Shape {
                    node: name.clone(),
                    op: op.clone(),
                    reason: format!("input '{inp}' is not produced by any earlier node or initializer"),
                };
                if !lenient {
                    return Err(err);
                }
                node_report.note = Some(err.to_string());
                blocked = true;
                inputs.push(None);
            }
        }
        node_report.input_shapes = inputs.iter().map(|i| i.map(|i| b.shape(i).to_vec())).collect();
        let poison_all = |poisoned: &mut HashMap<String, Option<(String, String)>>| {
            for o in proto.output.iter().filter(|o| !o.is_empty()) {
                poisoned.insert(o.clone(), None);
            }
        };
        let converter = ops::converter_in(&proto.domain, &op).filter(|_| node_report.supported);
        let result = match converter {
            _ if blocked => {
                // Downstream of an unsupported node: report it only if its own op is unsupported.
                if !node_report.supported {
                    note_unsupported(&mut unsupported, (op.clone(), name.clone()));
                }
                poison_all(&mut poisoned);
                report.nodes.push(node_report);
                continue;
            }
            None => Err(CompileError::Unsupported { ops: vec![(op.clone(), name.clone())] }),
            Some(convert) => {
                let ctx = NodeCtx { proto, name: name.clone(), op: op.clone(), inputs };
                convert(&mut b, &ctx)
            }
        };
        match result {
            Ok(outs) => {
                for (k, o) in proto.output.iter().enumerate() {
                    if o.is_empty() {
                        continue;
                    }
                    match outs.get(k) {
                        Some(&id) => {
                            names.insert(o.clone(), id);
                            node_report.output_shapes.push(Some(b.shape(id).to_vec()));
                        }
                        None => {
                            poisoned.insert(o.clone(), Some((format!("{op} (output {k})"), name.clone())));
                            node_report.output_shapes.push(None);
                        }
                    }
                }
            }
            Err(CompileError::Unsupported { ops }) => {
                node_report.supported = false;
                for item in ops {
                    note_unsupported(&mut unsupported, item);
                }
                poison_all(&mut poisoned);
            }
            Err(e) => {
                if !lenient {
                    return Err(e);
                }
                node_report.note = Some(e.to_string());
                poison_all(&mut poisoned);
            }
        }
        report.nodes.push(node_report);
    }

    for out in &g.output {
        let shape = names.get(&out.name).map(|&v| b.shape(v).to_vec());
        let dtype = match &out.type_.value {
            Some(type_proto::Value::TensorType(t)) => dtype_name(t.elem_type),
            _ => "unknown",
        };
        report.outputs.push(TensorReport { name: out.name.clone(), shape, dtype: dtype.into() });
        if let Some(&v) = names.get(&out.name) {
            b.graph.outputs.push((out.name.clone(), v));
        } else if let Some(blame) = poisoned.get(&out.name) {
            if let Some(item) = blame.clone() {
                note_unsupported(&mut unsupported, item);
            }
        } else if !lenient {
            return Err(CompileError::Shape {
                node: out.name.clone(),
                op: "graph output".into(),
                reason: "not produced by any node".into(),
            });
        }
    }
    if !unsupported.is_empty() && !lenient {
        return Err(CompileError::Unsupported { ops: unsupported });
    }
    if b.graph.outputs.is_empty() && !lenient {
        return Err(CompileError::Shape {
            node: path.into(),
            op: "graph".into(),
            reason: "the graph has no outputs".into(),
        });
    }
    Ok(Loaded { graph: b.graph, report, unsupported })
}
