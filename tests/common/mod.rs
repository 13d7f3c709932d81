//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
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

pub use zkinfer::coverage::Case;

/// A model folder: model.onnx, input.json, expected.json (and calibration.json if present).
pub fn case(dir: &Path) -> Case {
    Case::read(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

pub fn options(c: &Case) -> CompileOptions {
    c.options()
}

/// A real-exporter fixture folder (`tests/fixtures/real/<name>`).
pub fn real_fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/real").join(name)
}

/// onnxruntime's outputs on several inputs (`samples.json` of a quantized fixture).
#[derive(serde::Deserialize)]
pub struct OrtSamples {
    pub inputs: Vec<Vec<Vec<f64>>>,
    pub outputs: Vec<Vec<f64>>,
}

/// Compiles fixture `name` and compares its integer program with
/// onnxruntime's outputs in `samples.json`, in quantized steps of `step`:
/// every element at most one step apart, at least `min_equal` of them equal.
pub fn assert_agrees_with_ort(name: &str, step: Option<f64>, min_equal: f64) {
    let dir = real_fixture(name);
    let c = case(&dir);
    let program = compiler::compile_file(&c.model, &options(&c)).unwrap_or_else(|e| panic!("{name}: {e}"));
    // Default: the output is a DequantizeLinear, whose step is the output scale.
    let step = step.unwrap_or_else(|| program.outputs[0].dequant.as_ref().expect("a quantized output").scale[0]);
    let s: OrtSamples = serde_json::from_str(&std::fs::read_to_string(dir.join("samples.json")).unwrap()).unwrap();
    let (mut equal, mut total, mut worst) = (0usize, 0usize, 0f64);
    for (x, want) in s.inputs.iter().zip(&s.outputs) {
        let q = ir::quantize_inputs(&program, x).unwrap();
        let t = ir::eval(&program, &q).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = program.dequantize_output(0, &t.values[program.outputs[0].value]);
        for (g, w) in got.iter().zip(want) {
            let steps = ((g - w) / step).abs();
            worst = worst.max(steps);
            equal += (steps < 0.5) as usize;
            total += 1;
        }
    }
    println!("{name}: {equal}/{total} elements equal to onnxruntime, max {worst:.2} steps apart");
    assert!(worst <= 1.0 + 1e-6, "{name}: {worst} steps apart");
    assert!(equal as f64 >= min_equal * total as f64, "{name}: {equal}/{total} equal");
}

/// A compiled program with one honest witness, for tampered-witness tests
/// under MockProver.
pub struct MockBench {
    pub program: std::sync::Arc<ir::Program>,
    pub shape: circuits::CircuitShape,
    pub trace: std::sync::Arc<ir::Trace>,
}

impl MockBench {
    /// The witness of `inputs` (float, one list per model input).
    pub fn new(program: ir::Program, inputs: &[Vec<f64>]) -> MockBench {
        let shape = circuits::plan(&program).unwrap().shape;
        let q = ir::quantize_inputs(&program, inputs).unwrap();
        let trace = ir::eval(&program, &q).unwrap();
        MockBench::with_trace(program, trace, shape)
    }

    pub fn with_trace(program: ir::Program, trace: ir::Trace, shape: circuits::CircuitShape) -> MockBench {
        MockBench { program: std::sync::Arc::new(program), shape, trace: std::sync::Arc::new(trace) }
    }

    /// MockProver over the witness with `tamper` applied.
    pub fn verify(&self, tamper: Vec<circuits::Tamper>) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        let mut circuit = circuits::ModelCircuit::new(self.program.clone(), self.shape.clone(), self.trace.clone());
        let inst = circuit.instances();
        circuit.tamper = tamper;
        halo2_proofs::dev::MockProver::run(self.shape.k, &circuit, vec![inst]).unwrap().verify()
    }
}

/// The library's coverage check (compile, witness, MockProver, accuracy) on
/// real-exporter fixture `name` must prove.
pub fn assert_fixture_proves(name: &str) {
    let root = repo().join("tests/fixtures/real");
    let r = zkinfer::coverage::check_model(&root, &real_fixture(name), &zkinfer::coverage::CoverageOptions::default());
    println!("{}: k={:?} rows={:?} err={:?} status {}", r.model, r.k, r.rows, r.max_abs_error, r.status);
    assert!(matches!(r.outcome, zkinfer::coverage::Outcome::Proved), "{}", r.status);
}
