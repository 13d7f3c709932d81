//! Operator coverage as data: compile (calibrated on the folder's samples),
//! witness and MockProver over every model folder of a corpus, with the error
//! of the proven outputs against the folder's reference (`expected.json`).
//!
//! A model folder holds `model.onnx`, `input.json`, `expected.json` and
//! optionally `calibration.json` (`{"calibration_data": ...}`); the model is
//! calibrated on those samples plus `input.json`. One model's error or panic
//! never stops the run: each gets a status and a reason.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use circuits::ModelCircuit;
use compiler::{CompileError, CompileOptions};
use halo2_proofs::dev::MockProver;
use ir::Program;
use serde::Serialize;

use crate::accuracy::{max_abs_error, AccuracyReport};
use crate::ort_agreement::{self, Agreement, References};

/// Largest relative error (over the output range) a passing model may have.
pub const TOLERANCE: f64 = 0.01;
/// Largest k checked with MockProver by default (its memory grows with 2^k).
pub const DEFAULT_MAX_K: u32 = 22;
/// Models slower than this are named in the report.
pub const SLOW_SECONDS: f64 = 60.0;

/// One model folder's data.
pub struct Case {
    pub model: PathBuf,
    pub inputs: Vec<Vec<f64>>,
    pub expected: Vec<Vec<f64>>,
    /// Calibration samples: `calibration.json`'s, then `input.json`.
    pub calibration: Vec<Vec<Vec<f64>>>,
    /// Every output has an integer or boolean type (`expected.json`'s `dtypes`):
    /// the proven outputs must then be exact.
    pub discrete: bool,
}

impl Case {
    pub fn read(dir: &Path) -> Result<Case, String> {
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).map_err(|e| format!("cannot read {n}: {e}"));
        let inputs = compiler::parse_input_json(&read("input.json")?).map_err(|e| format!("input.json: {e}"))?;
        let expected_text = read("expected.json")?;
        let expected = compiler::parse_expected_json(&expected_text).map_err(|e| format!("expected.json: {e}"))?;
        let dtypes: Vec<String> = serde_json::from_str::<serde_json::Value>(&expected_text)
            .ok()
            .and_then(|v| serde_json::from_value(v["dtypes"].clone()).ok())
            .unwrap_or_default();
        let discrete =
            !dtypes.is_empty() && dtypes.iter().all(|d| d.starts_with("int") || d.starts_with("uint") || d == "bool");
        let mut calibration = match std::fs::read_to_string(dir.join("calibration.json")) {
            Ok(t) => compiler::parse_calibration_json(&t).map_err(|e| format!("calibration.json: {e}"))?,
            Err(_) => vec![],
        };
        calibration.push(inputs.clone());
        Ok(Case { model: dir.join("model.onnx"), inputs, expected, calibration, discrete })
    }

    pub fn options(&self) -> CompileOptions {
        CompileOptions { calibration: self.calibration.clone(), ..CompileOptions::default() }
    }
}

/// What MockProver saw.
#[derive(Clone, Debug)]
pub struct MockOutcome {
    pub k: u32,
    pub rows: usize,
    /// Dequantized outputs of the witness, one flattened list per output.
    pub outputs: Vec<Vec<f64>>,
}

/// Plans the circuit, computes the witness on `inputs` and runs MockProver.
/// `max_k` bounds the circuit size checked. Errors name the stage.
pub fn mock_prove(program: Program, inputs: &[Vec<f64>], max_k: u32) -> Result<MockOutcome, String> {
    let report = circuits::plan(&program).map_err(|e| format!("plan: {e}"))?;
    let k = report.shape.k;
    if k > max_k {
        return Err(format!("too large to check: k={k} ({} rows) exceeds the limit k={max_k}", report.rows));
    }
    let q = ir::eval::quantize_inputs(&program, inputs).map_err(|e| format!("witness: {e}"))?;
    let trace = ir::eval(&program, &q).map_err(|e| format!("witness: {e}"))?;
    let outputs =
        program.outputs.iter().enumerate().map(|(k, o)| program.dequantize_output(k, &trace.values[o.value])).collect();
    let circuit = ModelCircuit::new(Arc::new(program), report.shape.clone(), Arc::new(trace));
    let instances = circuit.instances();
    let prover = MockProver::run(k, &circuit, vec![instances]).map_err(|e| format!("MockProver: {e:?}"))?;
    if let Err(errs) = prover.verify() {
        let first: Vec<String> = errs.iter().take(2).map(|e| e.to_string()).collect();
        return Err(format!(
            "MockProver rejected the witness ({} failures; first: {})",
            errs.len(),
            first.join("; ").replace('\n', " ")
        ));
    }
    Ok(MockOutcome { k, rows: report.rows, outputs })
}

/// How a model fared.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// MockProver satisfied and the outputs within tolerance (exact for discrete outputs).
    Proved,
    /// Unsupported op types (or an unsupported tensor type), in model order.
    Unsupported(String),
    /// Compilation failed for another reason.
    CompileError(String),
    /// Compiled, but plan, witness or MockProver failed.
    Failed(String),
    /// zkinfer panicked (caught): a defect of zkinfer, never a property of
    /// the model (bad models get errors); always a failure of the run.
    Bug(String),
    /// MockProver satisfied, but the outputs are off by this fraction of the output range.
    Inaccurate(f64),
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelResult {
    /// Path of the folder relative to the corpus root, e.g. `ezkl/1l_mlp`.
    pub model: String,
    /// First path component (`ezkl`, `onnx-node`, ...), or `.` for a model at the root.
    pub family: String,
    pub passed: bool,
    /// `proved`, `unsupported: ...`, `error: ...` or `inaccurate: ...`.
    pub status: String,
    /// Why it did not pass; `null` when it passed.
    pub reason: Option<String>,
    pub k: Option<u32>,
    pub rows: Option<usize>,
    pub max_abs_error: Option<f64>,
    pub output_range: Option<f64>,
    pub relative_error: Option<f64>,
    pub seconds: f64,
    /// Quantized models with an onnxruntime reference
    /// ([`CoverageOptions::ort_reference`]): agreement of the quantized
    /// tensors and float outputs, see [`crate::ort_agreement`].
    pub quantized: Option<QuantizedFigures>,
    #[serde(skip)]
    pub outcome: Outcome,
}

/// A quantized model's agreement with onnxruntime, or why it could not be measured.
#[derive(Clone, Debug, Serialize)]
pub struct QuantizedFigures {
    pub agreement: Option<Agreement>,
    pub error: Option<String>,
    pub meets_bar: bool,
}

#[derive(Clone, Debug)]
pub struct CoverageOptions {
    pub max_k: u32,
    pub tolerance: f64,
    /// onnxruntime's tensors for quantized models (tests/fixtures/quantized_ort.json),
    /// matched by folder name, and the file they came from.
    pub ort_reference: Option<(References, String)>,
}

impl Default for CoverageOptions {
    fn default() -> Self {
        CoverageOptions { max_k: DEFAULT_MAX_K, tolerance: TOLERANCE, ort_reference: None }
    }
}

/// Every folder under `root` (recursively, `root` included) that holds a
/// `model.onnx`, sorted.
pub fn find_models(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("model.onnx").is_file() {
            found.push(dir.clone());
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                // Do not follow symbolic links to folders (no cycles).
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    found.sort();
    found
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn unsupported_summary(ops: &[(String, String)]) -> String {
    let mut kinds: Vec<&str> = vec![];
    for (op, _) in ops {
        if !kinds.contains(&op.as_str()) {
            kinds.push(op);
        }
    }
    kinds.join(", ")
}

struct Checked {
    outcome: Outcome,
    mock: Option<MockOutcome>,
    acc: Option<AccuracyReport>,
    quantized: Option<QuantizedFigures>,
}

/// The model's agreement with onnxruntime when the reference has it.
fn quantized_figures(dir: &Path, case: &Case, program: &Program, opts: &CoverageOptions) -> Option<QuantizedFigures> {
    let (refs, _) = opts.ort_reference.as_ref()?;
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let (base, expected) = (case.inputs.first()?, case.expected.first()?);
    let r = catch_unwind(AssertUnwindSafe(|| ort_agreement::agreement(refs, &name, program, base, expected)));
    Some(match r {
        Ok(None) => return None,
        Ok(Some(Ok(a))) => QuantizedFigures { meets_bar: a.meets_bar(), agreement: Some(a), error: None },
        Ok(Some(Err(e))) => QuantizedFigures { agreement: None, error: Some(e), meets_bar: false },
        Err(p) => QuantizedFigures { agreement: None, error: Some(panic_message(&*p)), meets_bar: false },
    })
}

fn check(dir: &Path, opts: &CoverageOptions) -> Checked {
    let fail = |outcome| Checked { outcome, mock: None, acc: None, quantized: None };
    let case = match Case::read(dir) {
        Ok(c) => c,
        Err(e) => return fail(Outcome::CompileError(format!("cannot read the test case: {e}"))),
    };
    let program = match catch_unwind(AssertUnwindSafe(|| compiler::compile_file(&case.model, &case.options()))) {
        Ok(Ok(p)) => p,
        Ok(Err(CompileError::Unsupported { ops })) => return fail(Outcome::Unsupported(unsupported_summary(&ops))),
        Ok(Err(CompileError::UnsupportedType { tensor, dtype })) => {
            return fail(Outcome::Unsupported(format!("{dtype} tensor {tensor}")))
        }
        Ok(Err(e)) => return fail(Outcome::CompileError(e.to_string())),
        Err(p) => return fail(Outcome::Bug(format!("the compiler panicked: {}", panic_message(&*p)))),
    };
    let quantized = quantized_figures(dir, &case, &program, opts);
    let mock = match catch_unwind(AssertUnwindSafe(|| mock_prove(program, &case.inputs, opts.max_k))) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Checked { quantized, ..fail(Outcome::Failed(e)) },
        Err(p) => {
            let reason = format!("plan, witness or MockProver panicked: {}", panic_message(&*p));
            return Checked { quantized, ..fail(Outcome::Bug(reason)) };
        }
    };
    let Some(acc) = max_abs_error(&mock.outputs, &case.expected) else {
        let got: Vec<usize> = mock.outputs.iter().map(|o| o.len()).collect();
        let want: Vec<usize> = case.expected.iter().map(|o| o.len()).collect();
        let reason = format!("output sizes {got:?} differ from expected.json's {want:?}");
        return Checked { outcome: Outcome::Failed(reason), mock: Some(mock), acc: None, quantized };
    };
    let ok = if case.discrete { acc.max_abs_error == 0.0 } else { acc.relative_error <= opts.tolerance };
    let outcome = if ok { Outcome::Proved } else { Outcome::Inaccurate(acc.relative_error) };
    Checked { outcome, mock: Some(mock), acc: Some(acc), quantized }
}

/// Checks one model folder; `root` names it. Never panics on a bad model.
pub fn check_model(root: &Path, dir: &Path, opts: &CoverageOptions) -> ModelResult {
    let t = Instant::now();
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let model = if rel.as_os_str().is_empty() {
        dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into())
    } else {
        rel.to_string_lossy().replace('\\', "/")
    };
    let family = match rel.components().count() {
        0 | 1 => ".".to_string(),
        _ => rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let c = check(dir, opts);
    let (status, reason) = match &c.outcome {
        Outcome::Proved => ("proved".to_string(), None),
        Outcome::Unsupported(ops) => (format!("unsupported: {ops}"), Some(format!("unsupported: {ops}"))),
        Outcome::CompileError(e) => (format!("error: {e}"), Some(e.clone())),
        Outcome::Failed(e) => (format!("error: {e}"), Some(e.clone())),
        Outcome::Bug(e) => (format!("bug: {e}"), Some(format!("bug in zkinfer (a caught panic): {e}"))),
        Outcome::Inaccurate(r) => {
            let s = format!("inaccurate: {:.3}% of range", 100.0 * r);
            let why = if c.mock.is_some() && *r <= opts.tolerance {
                format!("{s} (integer outputs must be exact)")
            } else {
                format!("{s} (tolerance {}%)", 100.0 * opts.tolerance)
            };
            (s, Some(why))
        }
    };
    ModelResult {
        model,
        family,
        passed: c.outcome == Outcome::Proved,
        status,
        reason,
        k: c.mock.as_ref().map(|m| m.k),
        rows: c.mock.as_ref().map(|m| m.rows),
        max_abs_error: c.acc.as_ref().map(|a| a.max_abs_error),
        output_range: c.acc.as_ref().map(|a| a.output_range),
        relative_error: c.acc.as_ref().map(|a| a.relative_error),
        seconds: t.elapsed().as_secs_f64(),
        quantized: c.quantized,
        outcome: c.outcome,
    }
}

/// Checks every model under `root`, calling `progress` after each.
pub fn run(
    root: &Path,
    opts: &CoverageOptions,
    mut progress: impl FnMut(usize, usize, &ModelResult),
) -> Vec<ModelResult> {
    let dirs = find_models(root);
    let n = dirs.len();
    dirs.iter()
        .enumerate()
        .map(|(i, d)| {
            let r = check_model(root, d, opts);
            progress(i + 1, n, &r);
            r
        })
        .collect()
}

fn fmt_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "–".into())
}

fn fmt_float(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3e}")).unwrap_or_else(|| "–".into())
}

/// Markdown cells cannot hold `|` or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Checks every model (with an `expected.json`) under `root` as one family
/// named `family` (`zkinfer coverage --family NAME=DIR`, e.g. the
/// real-exporter fixtures), calling `progress` after each.
pub fn run_family(
    root: &Path,
    family: &str,
    opts: &CoverageOptions,
    mut progress: impl FnMut(usize, usize, &ModelResult),
) -> Vec<ModelResult> {
    let dirs: Vec<PathBuf> = find_models(root).into_iter().filter(|d| d.join("expected.json").is_file()).collect();
    let n = dirs.len();
    dirs.iter()
        .enumerate()
        .map(|(i, d)| {
            let mut r = check_model(root, d, opts);
            r.model = format!("{family}/{}", r.model);
            r.family = family.to_string();
            progress(i + 1, n, &r);
            r
        })
        .collect()
}

/// Passed and total per family, in first-seen order.
pub fn summary(results: &[ModelResult]) -> Vec<(String, usize, usize)> {
    let mut fams: Vec<(String, usize, usize)> = vec![];
    for r in results {
        let i = match fams.iter().position(|f| f.0 == r.family) {
            Some(i) => i,
            None => {
                fams.push((r.family.clone(), 0, 0));
                fams.len() - 1
            }
        };
        fams[i].2 += 1;
        fams[i].1 += r.passed as usize;
    }
    fams
}

/// The report: a summary per family, then one row per model.
pub fn markdown(results: &[ModelResult], root: &str, seconds: f64, opts: &CoverageOptions) -> String {
    let pct = |p: usize, t: usize| if t == 0 { 0.0 } else { 100.0 * p as f64 / t as f64 };
    let mut s = String::new();
    s.push_str("# Operator coverage\n\n");
    s.push_str(&format!(
        "`zkinfer coverage {root}`: compile (calibrated on each folder's input.json and calibration.json), \
         witness and MockProver per model; error against expected.json (onnxruntime). A model passes when \
         MockProver is satisfied and the max abs error is at most {}% of the output range (exact for integer \
         outputs). MockProver checked up to k={}. {} models in {:.0} s.\n\n",
        100.0 * opts.tolerance,
        opts.max_k,
        results.len(),
        seconds
    ));
    s.push_str("| family | passed | total | % |\n|---|---:|---:|---:|\n");
    let fams = summary(results);
    for (f, p, t) in &fams {
        s.push_str(&format!("| {f} | {p} | {t} | {:.1} |\n", pct(*p, *t)));
    }
    let (p, t) = fams.iter().fold((0, 0), |(a, b), f| (a + f.1, b + f.2));
    s.push_str(&format!("| **all** | {p} | {t} | {:.1} |\n\n", pct(p, t)));
    let slow: Vec<String> = results
        .iter()
        .filter(|r| r.seconds > SLOW_SECONDS)
        .map(|r| format!("{} ({:.0} s)", r.model, r.seconds))
        .collect();
    if !slow.is_empty() {
        s.push_str(&format!("Slower than {SLOW_SECONDS:.0} s: {}.\n\n", slow.join(", ")));
    }
    s.push_str("| model | status | k | rows | max abs error | output range | relative error | s |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} |\n",
            cell(&r.model),
            cell(&r.status),
            fmt_opt(r.k),
            fmt_opt(r.rows),
            fmt_float(r.max_abs_error),
            fmt_float(r.output_range),
            r.relative_error.map(|e| format!("{:.4}%", 100.0 * e)).unwrap_or_else(|| "–".into()),
            r.seconds
        ));
    }
    quantized_section(&mut s, results, opts);
    s
}

/// Per quantized model: quantized elements equal to onnxruntime's, max
/// steps apart, float output error in output steps.
fn quantized_section(s: &mut String, results: &[ModelResult], opts: &CoverageOptions) {
    let rows: Vec<&ModelResult> = results.iter().filter(|r| r.quantized.is_some()).collect();
    let Some((refs, path)) = &opts.ort_reference else { return };
    if rows.is_empty() {
        return;
    }
    s.push_str(&format!(
        "\n## Quantized models against onnxruntime\n\n\
         Reference: `{path}` (onnxruntime {}, graph optimizations off, each ONNX op by its own kernel; \
         made by scripts/quantized_ort_reference.py), on each model's input.json and 7 more inputs drawn \
         uniformly over its range. *Quantized elements*: static models, the integer tensor before the final \
         DequantizeLinear (or, with a float tail after it, the float output rounded to that DequantizeLinear's \
         step); dynamic models, every DynamicQuantizeLinear's uint8 output, plus the int32 MatMulInteger/ConvInteger \
         accumulators in their own column. *Output step*: the final DequantizeLinear's scale (static models) or the \
         last accumulator's scale `y_scale * w_scale` (dynamic models; onnxruntime's value per input). \
         *vs expected.json*: input.json only. Bar (issue #6): >= 99% equal, <= 1 step apart, float output within \
         one step of expected.json (or no further than onnxruntime's own reference run, for the two QOperator \
         models whose expected.json came from onnxruntime's CPU-dependent integer kernels).\n\n",
        refs.onnxruntime
    ));
    s.push_str(
        "| model | quantized elements equal | max steps apart | accumulators equal | accumulators max diff | \
         float vs onnxruntime (steps) | float vs expected.json (steps) | onnxruntime vs expected.json (steps) | bar |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let q = r.quantized.as_ref().expect("filtered");
        match &q.agreement {
            Some(a) => {
                let acc = a.accumulators.as_ref();
                s.push_str(&format!(
                    "| {} | {}/{} ({:.2}%) | {:.3} | {} | {} | {:.3} | {:.3} | {:.3} | {} |\n",
                    cell(&r.model),
                    a.quantized.equal,
                    a.quantized.elements,
                    a.quantized.percent(),
                    a.quantized.max_steps,
                    acc.map(|t| format!("{}/{} ({:.2}%)", t.equal, t.elements, t.percent())).unwrap_or("–".into()),
                    acc.map(|t| t.max_steps.to_string()).unwrap_or("–".into()),
                    a.float_steps,
                    a.expected_steps,
                    a.reference_vs_expected_steps,
                    if q.meets_bar { "met" } else { "**not met**" }
                ));
            }
            None => s.push_str(&format!(
                "| {} | error: {} | – | – | – | – | – | – | **not met** |\n",
                cell(&r.model),
                cell(q.error.as_deref().unwrap_or(""))
            )),
        }
    }
}
