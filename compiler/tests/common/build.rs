//! A tiny ONNX model builder for synthetic tests.
#![allow(dead_code)]

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_shape_proto::dimension::Value as Dim, tensor_shape_proto::Dimension,
    type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::MessageField;

pub struct Model {
    pub graph: GraphProto,
    pub opset: i64,
    count: usize,
}

fn value_info(name: &str, elem: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                value: Some(match d {
                    Some(v) => Dim::DimValue(*v),
                    None => Dim::DimParam("N".into()),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let t = type_proto::Tensor { elem_type: elem, shape: MessageField::some(shape), ..Default::default() };
    ValueInfoProto {
        name: name.into(),
        type_: MessageField::some(TypeProto { value: Some(type_proto::Value::TensorType(t)), ..Default::default() }),
        ..Default::default()
    }
}

pub fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

impl Model {
    pub fn new(opset: i64) -> Model {
        Model { graph: GraphProto { name: "test".into(), ..Default::default() }, opset, count: 0 }
    }
    pub fn input(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        let d: Vec<Option<i64>> = dims.iter().map(|&x| Some(x)).collect();
        self.graph.input.push(value_info(name, 1, &d));
        self
    }
    pub fn input_typed(&mut self, name: &str, elem: i32, dims: &[Option<i64>]) -> &mut Self {
        self.graph.input.push(value_info(name, elem, dims));
        self
    }
    pub fn output(&mut self, name: &str) -> &mut Self {
        self.graph.output.push(value_info(name, 1, &[]));
        self
    }
    pub fn init(&mut self, name: &str, dims: &[i64], data: &[f32]) -> &mut Self {
        self.graph.initializer.push(tensor_f32(name, dims, data));
        self
    }
    pub fn init_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> &mut Self {
        self.graph.initializer.push(tensor_i64(name, dims, data));
        self
    }
    pub fn init_tensor(&mut self, t: TensorProto) -> &mut Self {
        self.graph.initializer.push(t);
        self
    }
    pub fn node(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> &mut Self {
        self.count += 1;
        self.graph.node.push(NodeProto {
            name: format!("{}_{}", op.to_lowercase(), self.count),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: "".into(), version: self.opset, ..Default::default() }],
            graph: MessageField::some(self.graph.clone()),
            ..Default::default()
        };
        m.write_to_bytes().expect("serialize")
    }
}

pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: v, type_: AttributeType::INT.into(), ..Default::default() }
}
pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: v.to_vec(), type_: AttributeType::INTS.into(), ..Default::default() }
}
pub fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: v, type_: AttributeType::FLOAT.into(), ..Default::default() }
}
pub fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto { name: name.into(), floats: v.to_vec(), type_: AttributeType::FLOATS.into(), ..Default::default() }
}
pub fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: v.as_bytes().to_vec(),
        type_: AttributeType::STRING.into(),
        ..Default::default()
    }
}
pub fn tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        t: MessageField::some(t),
        type_: AttributeType::TENSOR.into(),
        ..Default::default()
    }
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}
