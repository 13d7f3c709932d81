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
pub mod json;
pub mod passes;
pub mod quantize;

use std::path::Path;

pub use error::CompileError;
pub use frontend::inspect::{InspectReport, NodeReport, TensorReport};
pub use json::{parse_calibration_json, parse_expected_json, parse_input_json};

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
            input_visibility: ir::Visibility::Private,
            output_visibility: ir::Visibility::Public,
        }
    }
}

/// Loads a model into the simplified float graph. `inputs` (a sample) binds
/// dynamic dimensions.
pub fn load_graph(model: &[u8], name: &str, inputs: Option<&[Vec<f64>]>) -> Result<Graph> {
    let mut g = frontend::load(model, name, inputs, false)?.graph;
    passes::run_graph_passes(&mut g)?;
    Ok(g)
}

pub fn compile_file(path: &Path, opts: &CompileOptions) -> Result<ir::Program> {
    let bytes = std::fs::read(path)
        .map_err(|e| CompileError::Io { path: path.display().to_string(), reason: e.to_string() })?;
    let name = path
        .parent()
        .filter(|_| path.file_stem().is_some_and(|s| s == "model"))
        .and_then(|p| p.file_name())
        .or_else(|| path.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    compile_named(&bytes, &name, &path.display().to_string(), opts)
}

pub fn compile_bytes(model: &[u8], name: &str, opts: &CompileOptions) -> Result<ir::Program> {
    compile_named(model, name, name, opts)
}

fn compile_named(model: &[u8], name: &str, path: &str, opts: &CompileOptions) -> Result<ir::Program> {
    let g = load_graph(model, path, opts.calibration.first().map(|s| s.as_slice()))?;
    let vis = passes::lower::Visibilities { input: opts.input_visibility, output: opts.output_visibility };
    if passes::lower_quant::is_quantized(&g) {
        // The model's own scales: no calibration, no fixed-point choice.
        let mut program = passes::lower_quant::lower(&g, name, &vis)?;
        passes::run_program_passes(&mut program)?;
        program.validate()?;
        return Ok(program);
    }
    let weight_bits = quantize::weight_bits(opts)?;
    let ranges = quantize::value_ranges(&g, &opts.calibration)?;
    quantize::choose_program(&g, opts, |quant| {
        let mut program = passes::lower::lower(&g, name, quant, weight_bits, &vis, &ranges)?;
        passes::run_program_passes(&mut program)?;
        program.validate()?;
        Ok(program)
    })
}

/// Every node with its shapes and whether it is supported; never fails on
/// unsupported ops (only on undecodable files).
pub fn inspect_bytes(model: &[u8]) -> Result<InspectReport> {
    Ok(frontend::load(model, "<model>", None, true)?.report)
}

/// Float inference of the front-end graph on one sample (`inputs`: one
/// flattened list per model input); returns one flattened list per output.
pub fn float_reference(model: &[u8], inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let g = load_graph(model, "<model>", Some(inputs))?;
    frontend::eval::run(&g, inputs)
}
