//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use circuits::{plan, ModelCircuit};
use halo2_proofs::dev::MockProver;
use zkinfer::CompileOptions;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus` beside the checkout; `None` (and a note) when absent.
pub fn corpus() -> Option<PathBuf> {
    let p = repo().join("..").join("shared").join("corpus");
    if p.join("MANIFEST.md").exists() {
        Some(p)
    } else {
        eprintln!("note: ../shared/corpus not found; corpus tests skipped");
        None
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

pub fn srs_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srs-cache")
}

pub struct Case {
    pub model: PathBuf,
    pub inputs: Vec<Vec<f64>>,
    pub expected: Vec<Vec<f64>>,
    pub calibration: Vec<Vec<Vec<f64>>>,
}

/// A model folder: model.onnx, input.json, expected.json (and calibration.json if present).
pub fn case(dir: &Path) -> Case {
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    let inputs = compiler::parse_input_json(&read("input.json")).unwrap();
    let expected = compiler::parse_expected_json(&read("expected.json")).unwrap();
    let calibration = match std::fs::read_to_string(dir.join("calibration.json")) {
        Ok(t) => {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            let mut c: Vec<Vec<Vec<f64>>> = serde_json::from_value(v["calibration_data"].clone()).unwrap();
            c.push(inputs.clone());
            c
        }
        Err(_) => vec![inputs.clone()],
    };
    Case { model: dir.join("model.onnx"), inputs, expected, calibration }
}

pub fn options(c: &Case) -> CompileOptions {
    CompileOptions { calibration: c.calibration.clone(), ..CompileOptions::default() }
}

/// Compiles, evaluates and checks the circuit with MockProver; returns
/// (k, rows, accuracy). Panics with the model name on any failure.
pub fn mock(name: &str, c: &Case) -> (u32, usize, zkinfer::AccuracyReport) {
    let program = compiler::compile_file(&c.model, &options(c)).unwrap_or_else(|e| panic!("{name}: compile: {e}"));
    let report = plan(&program).unwrap_or_else(|e| panic!("{name}: plan: {e}"));
    let q = ir::eval::quantize_inputs(&program, &c.inputs).unwrap();
    let trace = ir::eval(&program, &q).unwrap_or_else(|e| panic!("{name}: eval: {e}"));
    let outputs: Vec<Vec<f64>> =
        program.outputs.iter().enumerate().map(|(k, o)| program.dequantize_output(k, &trace.values[o.value])).collect();
    let acc = zkinfer::max_abs_error(&outputs, &c.expected).unwrap_or_else(|| panic!("{name}: output shape differs"));
    let circuit = ModelCircuit::new(Arc::new(program), report.shape.clone(), Arc::new(trace));
    let inst = circuit.instances();
    let prover =
        MockProver::run(report.shape.k, &circuit, vec![inst]).unwrap_or_else(|e| panic!("{name}: mock: {e:?}"));
    if let Err(errs) = prover.verify() {
        panic!("{name}: MockProver rejected the honest witness: {:?}", &errs[..errs.len().min(3)]);
    }
    (report.shape.k, report.rows, acc)
}
