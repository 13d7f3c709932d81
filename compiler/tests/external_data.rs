//! Models whose weights live in a side file (`model.onnx.data`), as torch >= 2.9
//! saves them by default (issue 11 part 2).

mod common;

use std::path::{Path, PathBuf};

use compiler::CompileOptions;
use onnx_protobuf::{Message, ModelProto};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/real/mlp_external_data")
}

/// A fresh scratch folder holding a copy of the fixture.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkinfer-extdata-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    for f in ["model.onnx", "model.onnx.data"] {
        std::fs::copy(fixture().join(f), d.join(f)).expect("copy fixture");
    }
    d
}

/// Rewrites one external_data key of the tensor `tensor` in `dir/model.onnx`.
fn set_key(dir: &Path, tensor: &str, key: &str, value: &str) {
    let p = dir.join("model.onnx");
    let mut m = ModelProto::parse_from_bytes(&std::fs::read(&p).unwrap()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == tensor).expect("tensor");
    let kv = t.external_data.iter_mut().find(|kv| kv.key == key).expect("key");
    kv.value = value.into();
    std::fs::write(&p, m.write_to_bytes().unwrap()).unwrap();
}

fn compile_err(dir: &Path) -> String {
    compiler::compile_file(&dir.join("model.onnx"), &CompileOptions::default()).unwrap_err().to_string()
}

#[test]
fn external_data_mlp_matches_onnxruntime() {
    let dir = fixture();
    let inputs = compiler::parse_input_json(&common::read_json(&dir, "input.json")).unwrap();
    let expected = compiler::parse_expected_json(&common::read_json(&dir, "expected.json")).unwrap();
    let model = dir.join("model.onnx");
    let float = compiler::float_reference_file(&model, &inputs).expect("float reference");
    for (f, e) in float[0].iter().zip(&expected[0]) {
        assert!((f - e).abs() < 1e-5, "float {f} vs onnxruntime {e}");
    }
    let opts = CompileOptions { calibration: vec![inputs.clone()], ..Default::default() };
    let program = compiler::compile_file(&model, &opts).expect("compile");
    let q = ir::quantize_inputs(&program, &inputs).unwrap();
    let trace = ir::eval(&program, &q).unwrap();
    let got = program.dequantize_output(0, &trace.values[program.outputs[0].value]);
    let r = common::range(&expected[0]);
    let err = got.iter().zip(&expected[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / r;
    println!("mlp_external_data: integer vs onnxruntime max error {:.4}% of range", 100.0 * err);
    assert!(err <= 0.01, "error {err} of range");
    let report = compiler::inspect_file(&model).expect("inspect");
    assert!(report.nodes.iter().all(|n| n.supported && n.note.is_none()), "{report}");
}

#[test]
fn external_data_from_bytes_says_to_load_the_file() {
    let bytes = std::fs::read(fixture().join("model.onnx")).unwrap();
    let err = compiler::compile_bytes(&bytes, "m", &CompileOptions::default()).unwrap_err().to_string();
    assert!(err.contains("fc1.weight") && err.contains("model.onnx.data") && err.contains("from its file"), "{err}");
}

#[test]
fn external_data_escaping_location_is_refused() {
    for (tag, loc) in [("dotdot", "../model.onnx.data"), ("abs", "/etc/passwd"), ("sub", "a/../../x.data")] {
        let d = scratch(tag);
        set_key(&d, "fc1.bias", "location", loc);
        let err = compile_err(&d);
        assert!(err.contains("fc1.bias") && err.contains(loc) && err.contains("leaves the model's folder"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[cfg(unix)]
#[test]
fn external_data_symlink_out_of_folder_is_refused() {
    let d = scratch("symlink");
    let outside = d.with_extension("outside.data");
    std::fs::copy(d.join("model.onnx.data"), &outside).unwrap();
    std::fs::remove_file(d.join("model.onnx.data")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("model.onnx.data")).unwrap();
    let err = compile_err(&d);
    assert!(err.contains("fc1.weight") && err.contains("outside the model's folder"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_file(&outside);
}

#[test]
fn external_data_truncated_file_is_refused() {
    let d = scratch("trunc");
    let data = std::fs::read(d.join("model.onnx.data")).unwrap();
    std::fs::write(d.join("model.onnx.data"), &data[..600]).unwrap();
    let err = compile_err(&d);
    // fc2.weight spans bytes 576..832.
    assert!(err.contains("fc2.weight") && err.contains("truncated") && err.contains("600 bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn external_data_missing_file_is_refused() {
    let d = scratch("missing");
    std::fs::remove_file(d.join("model.onnx.data")).unwrap();
    let err = compile_err(&d);
    assert!(err.contains("fc1.weight") && err.contains("'model.onnx.data' not found"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn external_data_length_mismatch_is_refused() {
    let d = scratch("len");
    set_key(&d, "fc1.bias", "length", "60");
    let err = compile_err(&d);
    assert!(err.contains("fc1.bias") && err.contains("length 60") && err.contains("64 bytes"), "{err}");
    // A huge length is refused before anything is allocated.
    set_key(&d, "fc1.bias", "length", "18446744073709551615");
    let err = compile_err(&d);
    assert!(err.contains("fc1.bias") && err.contains("does not match"), "{err}");
    set_key(&d, "fc1.bias", "length", "64");
    set_key(&d, "fc1.bias", "offset", "18446744073709551615");
    let err = compile_err(&d);
    assert!(err.contains("fc1.bias") && err.contains("truncated"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}
