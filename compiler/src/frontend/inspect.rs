//! A readable, serializable summary of an ONNX model: what each node is,
//! its shapes where they can be inferred, and whether it is supported.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TensorReport {
    pub name: String,
    pub shape: Option<Vec<usize>>,
    pub dtype: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeReport {
    pub name: String,
    pub op_type: String,
    pub input_shapes: Vec<Option<Vec<usize>>>,
    pub output_shapes: Vec<Option<Vec<usize>>>,
    pub supported: bool,
    /// Why the node could not be converted, when it could not.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InspectReport {
    pub opset: i64,
    pub ir_version: i64,
    pub producer: String,
    pub inputs: Vec<TensorReport>,
    pub outputs: Vec<TensorReport>,
    pub nodes: Vec<NodeReport>,
}

impl InspectReport {
    /// `(op_type, node_name)` of every unsupported node.
    pub fn unsupported(&self) -> Vec<(String, String)> {
        self.nodes.iter().filter(|n| !n.supported).map(|n| (n.op_type.clone(), n.name.clone())).collect()
    }
}

fn shape_str(s: &Option<Vec<usize>>) -> String {
    match s {
        Some(s) => format!("[{}]", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")),
        None => "?".into(),
    }
}

fn shapes_str(v: &[Option<Vec<usize>>]) -> String {
    v.iter().map(shape_str).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "opset {}  ir_version {}  producer {:?}", self.opset, self.ir_version, self.producer)?;
        for i in &self.inputs {
            writeln!(f, "input  {:<24} {:<8} {}", i.name, i.dtype, shape_str(&i.shape))?;
        }
        for o in &self.outputs {
            writeln!(f, "output {:<24} {:<8} {}", o.name, o.dtype, shape_str(&o.shape))?;
        }
        let w_name = self.nodes.iter().map(|n| n.name.len()).max().unwrap_or(4).clamp(4, 40);
        let w_op = self.nodes.iter().map(|n| n.op_type.len()).max().unwrap_or(2).clamp(7, 24);
        writeln!(f, "{:<w_name$}  {:<w_op$}  {:<9}  inputs -> outputs", "node", "op_type", "supported")?;
        for n in &self.nodes {
            writeln!(
                f,
                "{:<w_name$}  {:<w_op$}  {:<9}  {} -> {}{}",
                n.name,
                n.op_type,
                if n.supported { "yes" } else { "NO" },
                shapes_str(&n.input_shapes),
                shapes_str(&n.output_shapes),
                n.note.as_ref().map(|s| format!("  ({s})")).unwrap_or_default()
            )?;
        }
        let bad = self.unsupported();
        if bad.is_empty() {
            writeln!(f, "all {} nodes supported", self.nodes.len())
        } else {
            writeln!(f, "{} of {} nodes unsupported", bad.len(), self.nodes.len())
        }
    }
}
