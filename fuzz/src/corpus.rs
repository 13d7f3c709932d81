//! `zkinfer-fuzz --make-corpus`: regenerates the committed seeds under
//! `fuzz/corpus/<target>/` from the repository's small models and inputs,
//! a few hand-made ONNX models, and the example fixture. Large artifacts
//! (keys, the example's program) are generated at startup instead
//! ([`crate::targets::Target::generated`]).

use std::path::Path;

use onnx_protobuf::{
    tensor_shape_proto::{dimension, Dimension},
    type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::fixture;

/// Small models of the repository (paths from the workspace root), picked
/// for op variety: float MLPs and CNNs, QDQ and QOperator models, ONNX-ML
/// trees and linear models, integer casts and shifts.
const MODELS: &[&str] = &[
    "examples/fraud/model_v1.onnx",
    "examples/cnn/model.onnx",
    "tests/fixtures/qdq_small/model.onnx",
    "tests/fixtures/params/tanh.onnx",
    "tests/fixtures/real/arange_nonzero_legacy/model.onnx",
    "tests/fixtures/real/bitshift_left_uint8/model.onnx",
    "tests/fixtures/real/concat_tiny_large/model.onnx",
    "tests/fixtures/real/int16_cast_affine/model.onnx",
    "tests/fixtures/real/ml_linear_binary_logistic/model.onnx",
    "tests/fixtures/real/ml_tree_ensemble_v5/model.onnx",
    "tests/fixtures/real/ml_onehot_float/model.onnx",
    "tests/fixtures/real/qlinear_matmul_act/model.onnx",
    "tests/fixtures/real/qop_cnn/model.onnx",
    "tests/fixtures/real/skl_logreg/model.onnx",
    "tests/fixtures/real/skl_scaler_logreg_zipmap/model.onnx",
    "tests/fixtures/real/trig_logsumexp/model.onnx",
];

/// Seeds larger than this are not committed.
const MAX_SEED: usize = 8 * 1024;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    if bytes.len() <= MAX_SEED {
        std::fs::write(d.join(name), bytes)?;
    } else {
        eprintln!("skipped {target}/{name}: {} bytes", bytes.len());
    }
    Ok(())
}

/// Writes every committed seed into `dir` (normally `fuzz/corpus`).
pub fn make_corpus(dir: &Path) -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut tiny = vec![];
    for m in MODELS {
        let bytes = std::fs::read(root.join(m))?;
        let name = m.trim_end_matches(".onnx").trim_end_matches("/model").rsplit('/').next().unwrap_or("model");
        write(dir, "onnx", &format!("{name}.onnx"), &bytes)?;
        tiny.push((name.to_string(), bytes));
    }
    for (name, model) in hand_made() {
        let bytes = model.write_to_bytes().expect("a model encodes");
        write(dir, "onnx", &format!("tiny_{name}.onnx"), &bytes)?;
        tiny.push((format!("tiny_{name}"), bytes));
    }
    // Programs of the small models that compile (the example's own program
    // is too big to commit; it is generated at startup).
    for (name, bytes) in &tiny {
        if let Ok(p) = compiler::compile_bytes(bytes, name, &Default::default()) {
            write(dir, "program", &format!("{name}.bin"), &p.to_bytes())?;
        }
    }
    for (name, text) in input_forms() {
        write(dir, "input_json", &format!("{name}.json"), text.as_bytes())?;
    }
    // The example's proof file (compact; the fixture adds its pretty form):
    // a few KB of hex, committed even when over MAX_SEED.
    let f = fixture::get().map_err(std::io::Error::other)?;
    let compact = serde_json::to_vec(&f.proof).expect("a proof file serializes");
    let d = dir.join("proof_json");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("example_proof.json"), compact)?;
    Ok(())
}

/// The input-file forms the project accepts, sized for the example model
/// (the one `input_json` evaluates on).
fn input_forms() -> Vec<(&'static str, String)> {
    let n = 784;
    let vals = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(",");
    let plain = vals(&|i| format!("{}", (i % 13) as f64 / 20.0));
    vec![
        ("input_data", format!("{{\"input_data\": [[{plain}]]}}")),
        ("flat_list", format!("[{plain}]")),
        ("list_of_tensors", format!("[[{plain}]]")),
        ("nested", format!("{{\"input_data\": [[{}]]}}", vals(&|i| format!("[{}]", i % 3)))),
        ("bools_and_ints", format!("{{\"input_data\": [[{}]]}}", vals(&|i| ["true", "false", "1", "0"][i % 4].into()))),
        (
            "non_finite_tokens",
            format!("{{\"input_data\": [[NaN, Infinity, -Infinity, null, \"NaN\", {}]]}}", vals(&|_| "0".into())),
        ),
        ("calibration", format!("{{\"calibration_data\": [[[{plain}]], [[{plain}]]]}}")),
        ("output_data", "{\"output_data\": [[0.1, -0.2, 3e-5, 1e10]]}".into()),
        ("extra_keys", format!("{{\"note\": \"x\", \"input_shapes\": [[1, 784]], \"input_data\": [[{plain}]]}}")),
    ]
}

fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| Dimension { value: Some(dimension::Value::DimValue(d)), ..Default::default() })
            .collect(),
        ..Default::default()
    };
    let tensor = type_proto::Tensor { elem_type, shape: Some(shape).into(), ..Default::default() };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }).into(),
        ..Default::default()
    }
}

const FLOAT: i32 = 1;
const INT64: i32 = 7;

fn floats(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: FLOAT,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{op}_0"),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    use onnx_protobuf::attribute_proto::AttributeType;
    AttributeProto { name: name.into(), i, type_: AttributeType::INT.into(), ..Default::default() }
}

fn ints_attr(name: &str, ints: &[i64]) -> AttributeProto {
    use onnx_protobuf::attribute_proto::AttributeType;
    AttributeProto { name: name.into(), ints: ints.to_vec(), type_: AttributeType::INTS.into(), ..Default::default() }
}

fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, input: ValueInfoProto, output: ValueInfoProto) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { version: 13, ..Default::default() }],
        producer_name: "zkinfer-fuzz".into(),
        graph: Some(GraphProto {
            name: "tiny".into(),
            node: nodes,
            initializer: inits,
            input: vec![input],
            output: vec![output],
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

/// Tiny models, one or two ops each.
fn hand_made() -> Vec<(&'static str, ModelProto)> {
    vec![
        (
            "relu",
            model(
                vec![node("Relu", &["x"], &["y"], vec![])],
                vec![],
                value_info("x", FLOAT, &[1, 4]),
                value_info("y", FLOAT, &[1, 4]),
            ),
        ),
        (
            "matmul_add",
            model(
                vec![node("MatMul", &["x", "w"], &["h"], vec![]), node("Add", &["h", "b"], &["y"], vec![])],
                vec![floats("w", &[3, 2], &[0.5, -1.0, 0.25, 2.0, -0.75, 1.5]), floats("b", &[2], &[0.1, -0.2])],
                value_info("x", FLOAT, &[1, 3]),
                value_info("y", FLOAT, &[1, 2]),
            ),
        ),
        (
            "gemm_sigmoid",
            model(
                vec![
                    node("Gemm", &["x", "w", "b"], &["h"], vec![int_attr("transB", 1)]),
                    node("Sigmoid", &["h"], &["y"], vec![]),
                ],
                vec![floats("w", &[2, 3], &[0.5, -1.0, 0.25, 2.0, -0.75, 1.5]), floats("b", &[2], &[0.1, -0.2])],
                value_info("x", FLOAT, &[1, 3]),
                value_info("y", FLOAT, &[1, 2]),
            ),
        ),
        (
            "conv",
            model(
                vec![node(
                    "Conv",
                    &["x", "w"],
                    &["y"],
                    vec![ints_attr("kernel_shape", &[2, 2]), ints_attr("strides", &[1, 1])],
                )],
                vec![floats("w", &[1, 1, 2, 2], &[1.0, -1.0, 0.5, 0.25])],
                value_info("x", FLOAT, &[1, 1, 3, 3]),
                value_info("y", FLOAT, &[1, 1, 2, 2]),
            ),
        ),
        (
            "reshape_softmax",
            model(
                vec![
                    node("Reshape", &["x", "s"], &["h"], vec![]),
                    node("Softmax", &["h"], &["y"], vec![int_attr("axis", -1)]),
                ],
                vec![TensorProto {
                    name: "s".into(),
                    dims: vec![2],
                    data_type: INT64,
                    int64_data: vec![2, 3],
                    ..Default::default()
                }],
                value_info("x", FLOAT, &[1, 6]),
                value_info("y", FLOAT, &[2, 3]),
            ),
        ),
    ]
}
