//! Shared helpers for the compiler's integration tests.
#![allow(dead_code)]

pub mod build;

use std::path::{Path, PathBuf};

use compiler::{CompileError, CompileOptions};

/// The shared corpus, or `None` (with a message) when it is absent.
pub fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        println!("corpus not found at {}; skipping", p.display());
        None
    }
}

pub struct Outcome {
    /// Max |float reference - expected| over `max(1, max|expected|)`.
    pub float_err: f64,
    /// Max |dequantized - expected| over the expected outputs' range.
    pub quant_err: f64,
    /// The calibration rule's error: max over calibration samples of
    /// |dequantized - float reference| over that sample's float output range.
    pub calibration_err: f64,
    pub program: ir::Program,
}

/// Range of the expected values (max - min), or max |x| when that is 0.
pub fn range(v: &[f64]) -> f64 {
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let r = hi - lo;
    if r > 0.0 {
        r
    } else {
        v.iter().fold(0.0f64, |a, x| a.max(x.abs()))
    }
}

/// Compiles `model` calibrating on `inputs`, runs the integer program and
/// returns `(float reference, dequantized outputs, program)`.
pub fn run_both(model: &[u8], inputs: &[Vec<f64>]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>, ir::Program) {
    let float = compiler::float_reference(model, inputs).expect("float reference");
    let opts = CompileOptions { calibration: vec![inputs.to_vec()], ..Default::default() };
    let program = compiler::compile_bytes(model, "synthetic", &opts).expect("compile");
    let q = ir::quantize_inputs(&program, inputs).expect("quantize inputs");
    let trace = ir::eval(&program, &q).expect("eval");
    let quant =
        program.outputs.iter().enumerate().map(|(k, o)| program.dequantize_output(k, &trace.values[o.value])).collect();
    (float, quant, program)
}

/// Asserts the integer program tracks the float reference within `tol` of
/// each output's range; returns the float outputs.
pub fn assert_close(model: &[u8], inputs: &[Vec<f64>], tol: f64) -> (Vec<Vec<f64>>, ir::Program) {
    let (float, quant, program) = run_both(model, inputs);
    assert_eq!(float.len(), quant.len());
    for (f, q) in float.iter().zip(&quant) {
        assert_eq!(f.len(), q.len(), "output length");
        let r = range(f).max(1e-3);
        for (a, b) in f.iter().zip(q) {
            assert!((a - b).abs() <= tol * r, "float {a} vs quantized {b} (range {r})");
        }
    }
    (float, program)
}

/// Compiles (calibrating on `inputs`), evaluates in integers, compares.
pub fn check_model(
    model: &[u8],
    name: &str,
    inputs: &[Vec<f64>],
    expected: &[Vec<f64>],
) -> Result<Outcome, CompileError> {
    check_model_calibrated(model, name, &[inputs.to_vec()], inputs, expected)
}

/// The largest rescale shift of a program.
pub fn max_shift(p: &ir::Program) -> u32 {
    p.nodes
        .iter()
        .filter_map(|n| match n.op {
            ir::Op::Requant(r) => Some(r.shift),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Compiles calibrating on `calibration`, evaluates `inputs` in integers,
/// compares with `expected`.
pub fn check_model_calibrated(
    model: &[u8],
    name: &str,
    calibration: &[Vec<Vec<f64>>],
    inputs: &[Vec<f64>],
    expected: &[Vec<f64>],
) -> Result<Outcome, CompileError> {
    let float = compiler::float_reference(model, inputs)?;
    assert_eq!(float.len(), expected.len(), "{name}: output count");
    let mut float_err: f64 = 0.0;
    for (f, e) in float.iter().zip(expected) {
        assert_eq!(f.len(), e.len(), "{name}: output length");
        let scale = e.iter().fold(1.0f64, |a, x| a.max(x.abs()));
        for (a, b) in f.iter().zip(e) {
            float_err = float_err.max((a - b).abs() / scale);
        }
    }
    let opts = CompileOptions { calibration: calibration.to_vec(), ..Default::default() };
    let program = compiler::compile_bytes(model, name, &opts)?;
    let q = ir::quantize_inputs(&program, inputs)?;
    let trace = ir::eval(&program, &q)?;
    let mut quant_err: f64 = 0.0;
    for (k, (spec, e)) in program.outputs.iter().zip(expected).enumerate() {
        let got: Vec<f64> = program.dequantize_output(k, &trace.values[spec.value]);
        let r = range(e);
        for (a, b) in got.iter().zip(e) {
            let d = (a - b).abs();
            quant_err = quant_err.max(if r > 0.0 { d / r } else { d });
        }
    }
    let g = compiler::load_graph(model, name, calibration.first().map(|s| s.as_slice()))?;
    let cal = compiler::quantize::calibrate(&g, calibration)?;
    let floors = compiler::quantize::output_floors(&g, &cal.outputs);
    let calibration_err = compiler::quantize::program_error(&program, calibration, &cal.outputs, &floors)?;
    Ok(Outcome { float_err, quant_err, calibration_err, program })
}

pub fn read_json(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// Runs one corpus folder, calibrating on `calibration.json` when there is
/// one, else on `input.json`.
pub fn check_folder(dir: &Path) -> Result<Outcome, CompileError> {
    let model = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
    let inputs = compiler::parse_input_json(&read_json(dir, "input.json"))?;
    let expected = compiler::parse_expected_json(&read_json(dir, "expected.json"))?;
    let calibration = if dir.join("calibration.json").is_file() {
        compiler::parse_calibration_json(&read_json(dir, "calibration.json"))?
    } else {
        vec![inputs.clone()]
    };
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    check_model_calibrated(&model, &name, &calibration, &inputs, &expected)
}
