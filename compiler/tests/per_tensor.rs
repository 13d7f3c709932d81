//! Per-tensor fixed-point scales (issue 11 part 1; `ScaleMode`,
//! `passes::lower::Lowerer::target`): each value at the finest scale its
//! calibrated range allows, so small values stop paying for the largest.
//!
//! - every ezkl corpus model that compiles with one global scale also
//!   compiles and evaluates with per-tensor scales at the same `s`, and is
//!   as accurate against onnxruntime (within a rounding step of the output
//!   range), none less;
//! - `1l_tiny_div` (outputs ~1e-4 of its inputs) gains an order of magnitude;
//! - `auto` keeps one global scale where a scale meets the target and takes
//!   per-tensor scales only where they are more accurate.

mod common;

use compiler::{CompileError, CompileOptions, ScaleMode};

/// A model folder: bytes, calibration samples, input, expected outputs.
type Folder = (Vec<u8>, Vec<Vec<Vec<f64>>>, Vec<Vec<f64>>, Vec<Vec<f64>>);

fn load(dir: &std::path::Path) -> Folder {
    let model = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
    let inputs = compiler::parse_input_json(&common::read_json(dir, "input.json")).unwrap();
    let expected = compiler::parse_expected_json(&common::read_json(dir, "expected.json")).unwrap();
    let calibration = if dir.join("calibration.json").is_file() {
        compiler::parse_calibration_json(&common::read_json(dir, "calibration.json")).unwrap()
    } else {
        vec![inputs.clone()]
    };
    (model, calibration, inputs, expected)
}

/// Max error of the program's outputs against `expected`, over each output's range.
fn error(program: &ir::Program, inputs: &[Vec<f64>], expected: &[Vec<f64>]) -> Result<f64, ir::IrError> {
    let q = ir::quantize_inputs(program, inputs)?;
    let trace = ir::eval(program, &q)?;
    let mut err: f64 = 0.0;
    for (k, (spec, e)) in program.outputs.iter().zip(expected).enumerate() {
        let r = common::range(e);
        for (a, b) in program.dequantize_output(k, &trace.values[spec.value]).iter().zip(e) {
            let d = (a - b).abs();
            err = err.max(if r > 0.0 { d / r } else { d });
        }
    }
    Ok(err)
}

/// Per-tensor scales at the globally chosen `s` compile on every ezkl
/// model and evaluate (or refuse the sample with an out-of-range error,
/// which `auto` then skips); `auto` is never less accurate than `global`.
#[test]
fn per_tensor_scales_on_the_ezkl_corpus() {
    let Some(root) = common::corpus() else { return };
    let mut dirs: Vec<_> =
        std::fs::read_dir(root.join("ezkl")).expect("corpus folder").flatten().map(|e| e.path()).collect();
    dirs.sort();
    let (mut compared, mut finer, mut coarser, mut refused, mut failures) = (0, 0, 0, 0, vec![]);
    for dir in dirs {
        if !dir.join("expected.json").exists() {
            continue;
        }
        let name = format!("ezkl/{}", dir.file_name().unwrap_or_default().to_string_lossy());
        let (model, calibration, inputs, expected) = load(&dir);
        let global = CompileOptions { calibration, scales: ScaleMode::Global, ..Default::default() };
        let g = match compiler::compile_bytes(&model, &name, &global) {
            Ok(p) => p,
            Err(CompileError::Unsupported { .. } | CompileError::UnsupportedType { .. }) => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        let Ok(eg) = error(&g, &inputs, &expected) else { continue };
        let at_s =
            CompileOptions { scale_bits: Some(g.quant.scale_bits), scales: ScaleMode::PerTensor, ..global.clone() };
        let p = match compiler::compile_bytes(&model, &name, &at_s) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: per-tensor does not compile: {e}"));
                continue;
            }
        };
        assert_eq!(p.quant, g.quant, "{name}: same s and B");
        compared += 1;
        let ep = match error(&p, &inputs, &expected) {
            Ok(ep) => Some(ep),
            Err(ir::IrError::OutOfRange { .. }) => {
                refused += 1;
                None
            }
            Err(e) => {
                failures.push(format!("{name}: per-tensor does not evaluate: {e}"));
                None
            }
        };
        let auto = CompileOptions { scales: ScaleMode::Auto, ..global };
        let a = compiler::compile_bytes(&model, &name, &auto).unwrap_or_else(|e| panic!("{name}: auto: {e}"));
        let ea = error(&a, &inputs, &expected).unwrap_or_else(|e| panic!("{name}: auto: {e}"));
        if ea > eg {
            failures.push(format!("{name}: auto {:.5}% > global {:.5}%", 100.0 * ea, 100.0 * eg));
        }
        if let Some(ep) = ep {
            finer += (ep < 0.5 * eg) as usize;
            coarser += (ep > 2.0 * eg.max(1e-6)) as usize;
            println!(
                "{name:<36} s={:<2} global {:.5}% per-tensor {:.5}% auto {:.5}%",
                g.quant.scale_bits,
                100.0 * eg,
                100.0 * ep,
                100.0 * ea
            );
        }
    }
    println!(
        "{compared} models; per-tensor at the same s: {finer} at least twice as accurate, {coarser} at least \
         twice less, {refused} out of range on the sample"
    );
    assert!(compared >= 70, "only {compared} compared");
    assert!(failures.is_empty(), "per-tensor scales:\n{}", failures.join("\n"));
}

#[test]
fn tiny_outputs_get_their_own_scale() {
    let Some(root) = common::corpus() else { return };
    let dir = root.join("ezkl/1l_tiny_div");
    let (model, calibration, inputs, expected) = load(&dir);
    let compile = |scales| {
        let opts = CompileOptions { calibration: calibration.clone(), scales, ..Default::default() };
        compiler::compile_bytes_report(&model, "1l_tiny_div", &opts).unwrap()
    };
    let (g, gr) = compile(ScaleMode::Global);
    let (a, ar) = compile(ScaleMode::Auto);
    let (eg, ea) = (error(&g, &inputs, &expected).unwrap(), error(&a, &inputs, &expected).unwrap());
    println!(
        "global {:.4}% (s={}), auto {:.4}% (s={}, outputs at {:?})",
        100.0 * eg,
        g.quant.scale_bits,
        100.0 * ea,
        a.quant.scale_bits,
        ar.output_value_scales
    );
    assert!(!gr.per_tensor && ar.per_tensor, "auto takes per-tensor scales when no global scale meets the target");
    assert!(ar.tried.last().is_some_and(|t| t.per_tensor), "the per-tensor trial is reported");
    assert!(ar.output_value_scales[0] > a.quant.scale_bits, "the output is finer than s");
    assert!(ea * 5.0 < eg, "per-tensor {ea} vs global {eg}");
    assert!(ea < 0.001, "1l_tiny_div at {:.4}% of range", 100.0 * ea);
}

#[test]
fn auto_keeps_one_scale_where_it_meets_the_target() {
    let Some(root) = common::corpus() else { return };
    for m in ["1l_mlp", "2l_relu_sigmoid_small"] {
        let (model, calibration, _, _) = load(&root.join("ezkl").join(m));
        let opts = CompileOptions { calibration, ..Default::default() };
        let (p, r) = compiler::compile_bytes_report(&model, m, &opts).unwrap();
        if r.chosen_by == "target" {
            assert!(!r.per_tensor && r.tried.iter().all(|t| !t.per_tensor), "{m}");
            assert!(r.output_value_scales.iter().all(|&s| s == p.quant.scale_bits), "{m}");
        }
    }
}
