//! Typed attribute helpers over ONNX `NodeProto`s; every failure names the
//! node, op type and attribute.

use onnx_protobuf::{AttributeProto, NodeProto};

use crate::error::{CompileError, Result};
use crate::frontend::tensor::{from_proto, Tensor};

pub struct Attrs<'a> {
    pub node: &'a NodeProto,
    pub name: &'a str,
}

impl<'a> Attrs<'a> {
    fn find(&self, key: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == key)
    }

    pub fn err(&self, key: &str, reason: impl Into<String>) -> CompileError {
        CompileError::Attribute {
            node: self.name.to_string(),
            op: self.node.op_type.clone(),
            attribute: key.to_string(),
            reason: reason.into(),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.find(key).map(|a| a.i)
    }

    pub fn int_or(&self, key: &str, default: i64) -> i64 {
        self.int(key).unwrap_or(default)
    }

    pub fn float_or(&self, key: &str, default: f64) -> f64 {
        self.find(key).map(|a| a.f as f64).unwrap_or(default)
    }

    pub fn ints(&self, key: &str) -> Option<Vec<i64>> {
        self.find(key).map(|a| a.ints.clone())
    }

    pub fn floats(&self, key: &str) -> Option<Vec<f32>> {
        self.find(key).map(|a| a.floats.clone())
    }

    pub fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.find(key).map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.find(key).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub fn tensor(&self, key: &str) -> Result<Option<Tensor>> {
        match self.find(key) {
            Some(a) if a.t.is_some() => from_proto(&a.t).map(Some),
            Some(_) => Err(self.err(key, "expected a tensor")),
            None => Ok(None),
        }
    }

    /// Non-negative integers (kernel sizes, strides, ...), checked.
    pub fn usizes(&self, key: &str) -> Result<Option<Vec<usize>>> {
        match self.ints(key) {
            None => Ok(None),
            Some(v) => v
                .iter()
                .map(|&x| usize::try_from(x).map_err(|_| self.err(key, format!("negative value {x}"))))
                .collect::<Result<Vec<_>>>()
                .map(Some),
        }
    }
}
