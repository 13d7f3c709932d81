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
    /// `Fixed` (default: weights are circuit constants), `Private` or
    /// `Hashed` (weights are a witness; see [`reweigh_file`]).
    pub param_visibility: ir::Visibility,
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
            param_visibility: ir::Visibility::Fixed,
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
    ir::limits::read_file(path, ir::limits::max_file_bytes())
        .map_err(|e| CompileError::Io { path: path.display().to_string(), reason: e.to_string() })
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
    let vis = passes::lower::Visibilities {
        input: opts.input_visibility,
        output: opts.output_visibility,
        params: opts.param_visibility,
    };
    if passes::Lowering::for_graph(&g) == passes::Lowering::Quantized {
        if opts.param_visibility != ir::Visibility::Fixed {
            return Err(CompileError::Shape {
                node: path.to_string(),
                op: "QuantizeLinear".into(),
                reason: "--param-visibility private|hashed is implemented for float models; an already-quantized \
                         model keeps its weights as circuit constants (--param-visibility fixed)"
                    .into(),
            });
        }
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
        let mut program =
            passes::lower::lower(&g, name, quant, per_tensor, weight_bits, &vis, &ranges, &calibrated, None)?;
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

/// The compiled `program` (compiled with `--param-visibility private|hashed`)
/// with the weights of another model file of the same architecture: the new
/// model is lowered with every choice pinned to the compiled one (scales,
/// weight scales, table domains: [`ir::RelowerPlan`]), and the result must
/// equal `program` but for the parameter values, so it has the same circuit,
/// keys and verifier. Errors name the tensor or node that differs, or the
/// layer whose weights no longer fit the compiled ranges.
pub fn reweigh_file(path: &Path, program: &ir::Program) -> Result<ir::Program> {
    let bytes = read_model(path)?;
    reweigh_in(&bytes, &path.display().to_string(), Some(model_dir(path)), program)
}

/// [`reweigh_file`] of model bytes (no external data).
pub fn reweigh_bytes(model: &[u8], name: &str, program: &ir::Program) -> Result<ir::Program> {
    reweigh_in(model, name, None, program)
}

fn reweigh_in(model: &[u8], path: &str, dir: Option<&Path>, program: &ir::Program) -> Result<ir::Program> {
    let Some(ps) = &program.params else {
        return Err(CompileError::Tensor {
            tensor: program.name.clone(),
            reason: "the compiled model's weights are circuit constants (--param-visibility fixed): another weight \
                     set needs --param-visibility private or hashed at compile time"
                .into(),
        });
    };
    let arch_err = |reason: String| CompileError::Tensor { tensor: path.to_string(), reason };
    // Bind dynamic dimensions as the compiled program did.
    let sample: Vec<Vec<f64>> = program.inputs.iter().map(|i| vec![0.0; i.shape.iter().product()]).collect();
    let g = load_graph_in(model, path, dir, Some(&sample))?;
    if passes::Lowering::for_graph(&g) == passes::Lowering::Quantized {
        return Err(arch_err("a quantized model is not the compiled float architecture".into()));
    }
    let plan = &ps.plan;
    for (what, r) in [("ranges", &plan.ranges), ("calibrated ranges", &plan.calibrated)] {
        if !r.is_empty() && r.len() != g.nodes.len() {
            return Err(arch_err(format!(
                "another architecture: the model has {} values, the compiled one {} ({what})",
                g.nodes.len(),
                r.len()
            )));
        }
    }
    let specs = passes::lower::input_specs(&g);
    if specs.len() != program.inputs.len()
        || specs.iter().zip(&program.inputs).any(|(a, b)| a.shape != b.shape || a.int_range != b.int_range)
    {
        return Err(arch_err("another architecture: the model's inputs differ from the compiled model's".into()));
    }
    let vis = passes::lower::Visibilities {
        input: program.input_visibility,
        output: program.output_visibility,
        params: ps.visibility,
    };
    let mut p = passes::lower::lower(
        &g,
        &program.name,
        program.quant,
        plan.per_tensor,
        plan.weight_bits,
        &vis,
        &plan.ranges,
        &plan.calibrated,
        Some(&plan.layer_scales),
    )?;
    passes::run_program_passes(&mut p)?;
    p.validate()?;
    let (a, b) = (p.architecture(), program.architecture());
    if a != b {
        return Err(arch_err(architecture_difference(&p, program, &a, &b)));
    }
    // Keep the compiled names (node names are not part of the architecture).
    let values = p.params.as_ref().map(|x| x.values.clone()).unwrap_or_default();
    Ok(program.with_param_values(&values)?)
}

/// Where two programs' architectures first differ, for the error message.
fn architecture_difference(new: &ir::Program, old: &ir::Program, a: &ir::Program, b: &ir::Program) -> String {
    if a.nodes.len() != b.nodes.len() {
        return format!(
            "another architecture: {} integer ops, the compiled model has {}",
            a.nodes.len(),
            b.nodes.len()
        );
    }
    for (i, (x, y)) in a.nodes.iter().zip(&b.nodes).enumerate() {
        if x != y {
            let what = if x.shape != y.shape {
                format!("shape {:?} instead of {:?}", x.shape, y.shape)
            } else if x.scale != y.scale {
                format!("scale 2^{} instead of 2^{}", x.scale, y.scale)
            } else if x.op.kind() != y.op.kind() {
                format!("a {} op instead of {}", x.op.kind(), y.op.kind())
            } else {
                format!("its {} op differs (its constants or wiring)", x.op.kind())
            };
            // Name the weight tensors of a parameter layer, and how many
            // elements of each the compiled model has.
            let tensors = match (&old.nodes[i].op, &old.params) {
                (ir::Op::Linear(l), Some(ps)) if l.params.is_some() => {
                    let mut counts: Vec<(String, usize)> = vec![];
                    let r = l.params.as_ref().expect("guarded");
                    let mut seen = std::collections::BTreeSet::new();
                    for &k in r.weights.iter().chain(&r.bias) {
                        if !seen.insert(k) {
                            continue;
                        }
                        let t = &ps.slots[k as usize].tensor;
                        match counts.iter_mut().find(|(n, _)| n == t) {
                            Some((_, c)) => *c += 1,
                            None => counts.push((t.clone(), 1)),
                        }
                    }
                    let list: Vec<String> = counts.iter().map(|(n, c)| format!("{n} ({c} elements)")).collect();
                    format!("; the compiled layer's weight tensors: {}", list.join(", "))
                }
                _ => String::new(),
            };
            return format!(
                "another architecture at node {} ({}; compiled: {}): {what}{tensors}",
                i, new.nodes[i].name, old.nodes[i].name
            );
        }
    }
    if a.params.as_ref().map(|p| p.values.len()) != b.params.as_ref().map(|p| p.values.len()) {
        return format!(
            "another architecture: {} parameters, the compiled model has {}",
            a.params.as_ref().map_or(0, |p| p.values.len()),
            b.params.as_ref().map_or(0, |p| p.values.len())
        );
    }
    "another architecture (inputs, outputs or settings differ)".into()
}
