//! `compiler`: ONNX -> [`ir::Program`].
//!
//! Pipeline: [`frontend`] decodes the model into a float graph with static
//! shapes (one converter per op family), [`passes`] simplify it,
//! `passes::lower` emits the integer program for given fixed-point settings
//! and the program passes tidy it; [`quantize`] picks the settings (with
//! calibration samples: the smallest scale whose program is accurate enough on
//! them, by compiling and evaluating each candidate).

pub mod error;
pub mod frontend;
pub mod intervals;
pub mod json;
pub mod passes;
pub mod quantize;

use std::path::Path;

pub use error::CompileError;
pub use frontend::inspect::{InspectReport, NodeReport, TensorReport};
pub use intervals::InputBound;
pub use json::{parse_calibration_json, parse_expected_json, parse_input_json};
pub use quantize::{CalibrationReport, ScaleMode};

use error::Result;
use frontend::graph::Graph;

#[derive(Debug, Clone, PartialEq)]
pub struct CompileOptions {
    /// Fixed-point fractional bits; chosen by [`quantize::choose_program`] when
    /// `None` (8 without calibration, else the smallest accurate enough).
    pub scale_bits: Option<u32>,
    /// Override of `QuantSettings::range_bits`.
    pub range_bits: Option<u32>,
    /// Significant bits of each layer's largest weight
    /// ([`quantize::DEFAULT_WEIGHT_BITS`] when `None`).
    pub weight_bits: Option<u32>,
    /// Sample inputs: samples -> inputs -> flattened floats (EZKL `input_data` form).
    pub calibration: Vec<Vec<Vec<f64>>>,
    /// Headroom factor on calibrated ranges
    /// ([`quantize::DEFAULT_RANGE_MARGIN`] when `None`).
    pub range_margin: Option<f64>,
    /// Declared bounds of the model inputs: ranges then come from sound
    /// interval propagation ([`intervals`]), so every input inside proves.
    pub input_bounds: Vec<InputBound>,
    /// Global or per-tensor fixed-point scales ([`ScaleMode`]).
    pub scales: ScaleMode,
    pub input_visibility: ir::Visibility,
    pub output_visibility: ir::Visibility,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            scale_bits: None,
            range_bits: None,
            weight_bits: None,
            calibration: vec![],
            range_margin: None,
            input_bounds: vec![],
            scales: ScaleMode::Auto,
            input_visibility: ir::Visibility::Private,
            output_visibility: ir::Visibility::Public,
        }
    }
}

/// Loads a model into the simplified float graph. `inputs` (a sample) binds
/// dynamic dimensions. Bytes have no folder: a model with external data must
/// be loaded with [`load_graph_file`].
pub fn load_graph(model: &[u8], name: &str, inputs: Option<&[Vec<f64>]>) -> Result<Graph> {
    load_graph_in(model, name, None, inputs)
}

/// [`load_graph`] of a model file; external tensor data (`model.onnx.data`)
/// is read from the file's folder.
pub fn load_graph_file(path: &Path, inputs: Option<&[Vec<f64>]>) -> Result<Graph> {
    let bytes = read_model(path)?;
    load_graph_in(&bytes, &path.display().to_string(), Some(model_dir(path)), inputs)
}

fn load_graph_in(model: &[u8], name: &str, dir: Option<&Path>, inputs: Option<&[Vec<f64>]>) -> Result<Graph> {
    let mut g = frontend::load(model, name, dir, inputs, false)?.graph;
    passes::run_graph_passes(&mut g)?;
    Ok(g)
}

fn read_model(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CompileError::Io { path: path.display().to_string(), reason: e.to_string() })
}

/// The folder external data is resolved in: the model file's own.
fn model_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

pub fn compile_file(path: &Path, opts: &CompileOptions) -> Result<ir::Program> {
    Ok(compile_file_report(path, opts)?.0)
}

/// [`compile_file`], with how the fixed-point settings were chosen.
pub fn compile_file_report(path: &Path, opts: &CompileOptions) -> Result<(ir::Program, CalibrationReport)> {
    let bytes = read_model(path)?;
    let name = path
        .parent()
        .filter(|_| path.file_stem().is_some_and(|s| s == "model"))
        .and_then(|p| p.file_name())
        .or_else(|| path.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    compile_named(&bytes, &name, &path.display().to_string(), Some(model_dir(path)), opts)
}

/// Compiles model bytes; external tensor data is an error (use [`compile_file`]).
pub fn compile_bytes(model: &[u8], name: &str, opts: &CompileOptions) -> Result<ir::Program> {
    Ok(compile_named(model, name, name, None, opts)?.0)
}

/// [`compile_bytes`], with how the fixed-point settings were chosen.
pub fn compile_bytes_report(
    model: &[u8],
    name: &str,
    opts: &CompileOptions,
) -> Result<(ir::Program, CalibrationReport)> {
    compile_named(model, name, name, None, opts)
}

fn compile_named(
    model: &[u8],
    name: &str,
    path: &str,
    dir: Option<&Path>,
    opts: &CompileOptions,
) -> Result<(ir::Program, CalibrationReport)> {
    let g = load_graph_in(model, path, dir, opts.calibration.first().map(|s| s.as_slice()))?;
    let vis = passes::lower::Visibilities { input: opts.input_visibility, output: opts.output_visibility };
    if passes::lower_quant::is_quantized(&g) {
        // The model's own scales: no calibration, no fixed-point choice.
        let mut program = passes::lower_quant::lower(&g, name, &vis)?;
        passes::run_program_passes(&mut program)?;
        program.validate()?;
        let report = CalibrationReport {
            chosen_by: "model".into(),
            scale_bits: program.quant.scale_bits,
            range_bits: program.quant.range_bits,
            ..CalibrationReport::default()
        };
        return Ok((program, report));
    }
    let weight_bits = quantize::weight_bits(opts)?;
    let plan = quantize::plan(&g, opts)?;
    let (ranges, calibrated) = (plan.ranges.clone(), plan.calibrated.clone());
    quantize::choose_program(&g, opts, plan, |quant, per_tensor| {
        let mut program = passes::lower::lower(&g, name, quant, per_tensor, weight_bits, &vis, &ranges, &calibrated)?;
        passes::run_program_passes(&mut program)?;
        program.validate()?;
        Ok(program)
    })
}

/// Every node with its shapes and whether it is supported; never fails on
/// unsupported ops (only on undecodable files).
pub fn inspect_bytes(model: &[u8]) -> Result<InspectReport> {
    Ok(frontend::load(model, "<model>", None, None, true)?.report)
}

/// [`inspect_bytes`] of a model file (external data read from its folder).
pub fn inspect_file(path: &Path) -> Result<InspectReport> {
    let bytes = read_model(path)?;
    Ok(frontend::load(&bytes, &path.display().to_string(), Some(model_dir(path)), None, true)?.report)
}

/// Float inference of the front-end graph on one sample (`inputs`: one
/// flattened list per model input); returns one flattened list per output.
pub fn float_reference(model: &[u8], inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let g = load_graph(model, "<model>", Some(inputs))?;
    frontend::eval::run(&g, inputs)
}

/// [`float_reference`] of a model file (external data read from its folder).
pub fn float_reference_file(path: &Path, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let g = load_graph_file(path, Some(inputs))?;
    frontend::eval::run(&g, inputs)
}
