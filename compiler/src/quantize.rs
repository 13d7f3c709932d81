//! Choosing the fixed-point settings, from calibration samples when given.
//!
//! The circuit's cost grows with the bits it range-checks: a requant row costs
//! about `shift + range_bits + 1` bits, and the whole circuit is sized by the
//! largest such sum. So we pick the *smallest* settings that are accurate
//! enough, not the largest that fit.
//!
//! Rules:
//! - weights: each layer with constant weights (Gemm, MatMul or Conv by a
//!   constant, folded or standalone BatchNorm, Mul/Div by constants, average
//!   pooling) has its own weight scale `sw` ([`weight_scale`]): the largest
//!   `|w|` gets about `weight_bits` significant bits,
//!   `sw = weight_bits - ceil(log2 max|w|)` clamped to `0..=24` (fewer when
//!   every weight is exact at fewer bits, e.g. `0.25`, or when the accumulator
//!   could leave 2^60); bias at `s + sw`; then `Requant{sw}` back to `s`.
//!   A pooling window of `n` thus has weight `round(2^sw / n)` with at least
//!   `weight_bits` bits. `weight_bits` is [`DEFAULT_WEIGHT_BITS`] unless the
//!   option says otherwise. Products of two activations rescale by `s`.
//! - without calibration: `s = 8` ([`DEFAULT_SCALE_BITS`]), `B = s + 5`
//!   (the CLI's `run` calibrates on its input instead, with a warning);
//! - ranges ([`plan`]): each value's calibrated `[lo, hi]` widened by the
//!   range margin `m` ([`DEFAULT_RANGE_MARGIN`], `range_margin` option):
//!   `[lo - (m-1)M, hi + (m-1)M]`, `M = max(|lo|, |hi|)`; with input bounds,
//!   instead the sound intervals of [`crate::intervals`] (joined with the
//!   samples' own ranges), and eight points inside the bounds join the
//!   samples. `M` = the largest `|v|` of these ranges;
//! - with samples: for `s` = 4, 5, ..., 20 in turn, `B(s)` = the bits of
//!   `M * 2^s * 2` (one bit of margin for rounding), at least `s + 1`, at
//!   most 24 (30 with input bounds, where a scale needing more is skipped);
//!   compile with `(s, B(s))`, run every sample through
//!   `ir::quantize_inputs -> ir::eval -> dequantize`, and take the first `s`
//!   whose outputs are all within [`TARGET_ERROR`] (0.002%) of the output's
//!   scale: each sample's own output range, but at least the output's floor
//!   ([`output_floors`]: for a one-element output, its spread over all
//!   samples, at least 1 for a probability). If none is, the `s` with the
//!   lowest error, ties to the larger `s` (an `s` whose samples leave the
//!   range is never taken);
//! - the `scale_bits` and `range_bits` options override `s` and `B` (with
//!   `scale_bits` given, calibration only sizes `B`);
//! - per-tensor scales ([`ScaleMode`], `scales` option): each value gets the
//!   finest scale its calibrated range allows within `B` (`s` at least,
//!   `s + 16` at most; `passes::lower`), so small values stop paying for the
//!   largest one. `auto` (the default) keeps one global `s` where a scale
//!   meets the target, and otherwise also tries per-tensor scales at the
//!   most accurate `s`, keeping them when they are more accurate;
//!   `per-tensor` uses them at every scale tried; `global` never.
//!
//! [`CalibrationReport`] records all of it (`settings.json`'s `calibration`).

use std::ops::RangeInclusive;

use ir::{Program, QuantSettings};

use crate::error::{CompileError, Result};
use crate::frontend::eval::eval_graph;
use crate::frontend::graph::{FOp, Graph};
use crate::CompileOptions;

pub const DEFAULT_SCALE_BITS: u32 = 8;
/// Significant bits of each layer's largest weight.
pub const DEFAULT_WEIGHT_BITS: u32 = 16;
/// Scales tried, smallest first, when calibrating.
pub const AUTO_SCALE_BITS: RangeInclusive<u32> = 4..=20;
pub const MAX_AUTO_RANGE_BITS: u32 = 24;
/// Largest `scale_bits` option.
pub const MAX_SCALE_BITS: u32 = 20;
/// Largest per-layer weight scale (and `weight_bits` option).
pub const MAX_WEIGHT_SCALE: u32 = 24;
/// Accuracy the calibrated scale must reach on every sample: max abs error
/// over the float output range.
pub const TARGET_ERROR: f64 = 0.00002;
/// Default headroom factor on calibrated ranges (`range_margin` option):
/// each value's calibrated `[lo, hi]` becomes
/// `[lo - (m - 1) * M, hi + (m - 1) * M]` with `M = max(|lo|, |hi|)`, and the
/// range bits are sized for `m * max|v|`. With `m = 2` every value may reach
/// twice its calibrated magnitude (one more range bit), so inputs of the same
/// distribution outside the samples (and a rare class the samples lack, whose
/// pre-sigmoid logit has the other sign) still evaluate.
pub const DEFAULT_RANGE_MARGIN: f64 = 2.0;

/// What calibration learns from the float graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// `max|v|` over every non-constant value on every sample.
    pub max_abs: f64,
    /// Float outputs: samples -> outputs -> flattened values.
    pub outputs: Vec<Vec<Vec<f64>>>,
}

/// Runs the float graph on every sample.
pub fn calibrate(g: &Graph, samples: &[Vec<Vec<f64>>]) -> Result<Calibration> {
    let mut max_abs: f64 = 0.0;
    let mut outputs = Vec::with_capacity(samples.len());
    for (k, sample) in samples.iter().enumerate() {
        let values =
            eval_graph(g, sample).map_err(|e| CompileError::Calibration { reason: format!("sample {k}: {e}") })?;
        for (node, t) in g.nodes.iter().zip(&values) {
            if matches!(node.op, FOp::Const(_)) {
                continue;
            }
            for &x in &t.to_f64() {
                if !x.is_finite() {
                    return Err(CompileError::Calibration {
                        reason: format!("sample {k}: node {} produced a non-finite value", node.name),
                    });
                }
                max_abs = max_abs.max(x.abs());
            }
        }
        outputs.push(g.outputs.iter().map(|(_, v)| values[*v].to_f64()).collect());
    }
    Ok(Calibration { max_abs, outputs })
}

/// The `range_margin` to use: the option, else [`DEFAULT_RANGE_MARGIN`].
pub fn range_margin(opts: &CompileOptions) -> Result<f64> {
    let m = opts.range_margin.unwrap_or(DEFAULT_RANGE_MARGIN);
    if !m.is_finite() || !(1.0..=1024.0).contains(&m) {
        return Err(CompileError::Calibration { reason: format!("range_margin {m} is not in 1..=1024") });
    }
    Ok(m)
}

/// One calibrated range widened by the margin `m` (see [`DEFAULT_RANGE_MARGIN`]).
pub fn widen(lo: f64, hi: f64, m: f64) -> (f64, f64) {
    let extra = (m - 1.0) * lo.abs().max(hi.abs());
    (lo - extra, hi + extra)
}

/// `(min, max)` of every value over the calibration samples (`None` for
/// constants, and for every value when there are no samples).
pub fn value_ranges(g: &Graph, samples: &[Vec<Vec<f64>>]) -> Result<Vec<Option<(f64, f64)>>> {
    let mut ranges: Vec<Option<(f64, f64)>> = vec![None; g.nodes.len()];
    for (k, sample) in samples.iter().enumerate() {
        let values =
            eval_graph(g, sample).map_err(|e| CompileError::Calibration { reason: format!("sample {k}: {e}") })?;
        for ((node, t), r) in g.nodes.iter().zip(&values).zip(ranges.iter_mut()) {
            if matches!(node.op, FOp::Const(_)) {
                continue;
            }
            for x in t.to_f64() {
                if x.is_finite() {
                    let (lo, hi) = r.get_or_insert((x, x));
                    *lo = lo.min(x);
                    *hi = hi.max(x);
                }
            }
        }
    }
    Ok(ranges)
}

/// Bits `B` such that `max * 2^s * 2 < 2^B`, at least `s + 1`.
pub fn range_bits_for(max_abs: f64, s: u32) -> u32 {
    let v = max_abs * 2f64.powi(s as i32 + 1);
    let mut b = 0u32;
    while b < 62 && 2f64.powi(b as i32) <= v {
        b += 1;
    }
    b.max(s + 1)
}

/// The scale of one layer's weights: the largest `|w|` gets about
/// `weight_bits` significant bits (`weight_bits - ceil(log2 max|w|)`, in
/// `0..=MAX_WEIGHT_SCALE`), or fewer when every weight is exact at fewer.
pub fn weight_scale(weights: &[f64], weight_bits: u32) -> u32 {
    let max = weights.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    if !max.is_finite() || max <= 0.0 {
        return 0;
    }
    let rule = (weight_bits as i64 - max.log2().ceil() as i64).clamp(0, MAX_WEIGHT_SCALE as i64) as u32;
    (0..rule)
        .find(|&k| {
            let m = 2f64.powi(k as i32);
            weights.iter().all(|w| (w * m).fract() == 0.0)
        })
        .unwrap_or(rule)
}

/// Range of one output (max - min), or max |x| when that is 0.
pub fn output_range(v: &[f64]) -> f64 {
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let r = hi - lo;
    if r > 0.0 {
        r
    } else {
        v.iter().fold(0.0f64, |a, x| a.max(x.abs()))
    }
}

/// The least scale each output's error is judged against, beside each
/// sample's own output range. An output of one element per sample has no
/// range of its own (its "range" would be `|x|`, so a near-zero probability
/// scores ~100% error at every scale): it is judged against its spread over
/// every sample, at least 1 for a probability (made by Sigmoid, or in
/// `[0, 1]` from a node named softmax), else its largest `|x|` when the
/// spread is 0. Outputs of several elements keep their per-sample range
/// (0 here).
pub fn output_floors(g: &Graph, float_outputs: &[Vec<Vec<f64>>]) -> Vec<f64> {
    g.outputs
        .iter()
        .enumerate()
        .map(|(k, (_, v))| {
            let per_sample: Vec<&Vec<f64>> = float_outputs.iter().filter_map(|o| o.get(k)).collect();
            if per_sample.iter().any(|o| o.len() > 1) {
                return 0.0;
            }
            let all: Vec<f64> = per_sample.into_iter().flatten().copied().collect();
            let r = output_range(&all);
            let node = &g.nodes[*v];
            let unit = all.iter().all(|x| (0.0..=1.0).contains(x));
            let prob = matches!(node.op, FOp::Func(crate::frontend::func::Func::Sigmoid))
                || (unit && node.name.to_ascii_lowercase().contains("softmax"));
            if prob {
                r.max(1.0)
            } else {
                r
            }
        })
        .collect()
}

/// Max over samples and outputs of `|dequantized - float|` over the larger
/// of that sample's output range and the output's floor ([`output_floors`];
/// the absolute error where both are 0). Fails where the program cannot
/// evaluate a sample (a value out of range).
pub fn program_error(
    program: &Program,
    samples: &[Vec<Vec<f64>>],
    float_outputs: &[Vec<Vec<f64>>],
    floors: &[f64],
) -> std::result::Result<f64, ir::IrError> {
    let mut err: f64 = 0.0;
    for (sample, floats) in samples.iter().zip(float_outputs) {
        let q = ir::quantize_inputs(program, sample)?;
        let trace = ir::eval(program, &q)?;
        for (k, (spec, f)) in program.outputs.iter().zip(floats).enumerate() {
            let r = output_range(f).max(floors.get(k).copied().unwrap_or(0.0));
            for (v, &x) in program.dequantize_output(k, &trace.values[spec.value]).into_iter().zip(f) {
                let d = (v - x).abs();
                err = err.max(if r > 0.0 { d / r } else { d });
            }
        }
    }
    Ok(err)
}

/// The `weight_bits` to lower with: the option, else [`DEFAULT_WEIGHT_BITS`].
pub fn weight_bits(opts: &CompileOptions) -> Result<u32> {
    let w = opts.weight_bits.unwrap_or(DEFAULT_WEIGHT_BITS);
    if w == 0 || w > MAX_WEIGHT_SCALE {
        return Err(CompileError::Calibration { reason: format!("weight_bits {w} is not in 1..={MAX_WEIGHT_SCALE}") });
    }
    Ok(w)
}

fn settings(s: u32, b: u32) -> Result<QuantSettings> {
    if s == 0 || s > MAX_SCALE_BITS {
        return Err(CompileError::Calibration { reason: format!("scale_bits {s} is not in 1..={MAX_SCALE_BITS}") });
    }
    if b == 0 || b > QuantSettings::MAX_RANGE_BITS {
        return Err(CompileError::Calibration {
            reason: format!("range_bits {b} is not in 1..={}", QuantSettings::MAX_RANGE_BITS),
        });
    }
    Ok(QuantSettings { scale_bits: s, range_bits: b })
}

/// How values' fixed-point scales are chosen (see the module rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScaleMode {
    /// Global where a scale meets the target, else the more accurate of
    /// global and per-tensor at the most accurate scale.
    #[default]
    Auto,
    /// One scale `s` for every activation.
    Global,
    /// Each value at the finest scale its range allows.
    PerTensor,
}

/// One scale tried by [`choose_program`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScaleTrial {
    pub scale_bits: u32,
    pub range_bits: u32,
    /// [`program_error`] on the samples, when every sample evaluated.
    pub error: Option<f64>,
    /// Why a sample did not evaluate (a value outside the range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Tried with per-tensor scales.
    #[serde(default)]
    pub per_tensor: bool,
}

/// How the fixed-point settings were chosen: `settings.json`'s
/// `calibration` and `compile`'s report.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CalibrationReport {
    /// Calibration samples given (0: blind defaults or bounds only).
    pub samples: usize,
    /// Samples generated inside the input bounds for the accuracy test.
    #[serde(default)]
    pub bound_samples: usize,
    /// Headroom factor applied to calibrated ranges.
    pub range_margin: f64,
    /// Declared input bounds, `[input or null, lo, hi]`.
    #[serde(default)]
    pub input_bounds: Vec<(Option<usize>, f64, f64)>,
    /// Largest `|v|` the activation range must hold (after the margin, or
    /// from the bounds).
    pub max_abs: f64,
    pub scale_bits: u32,
    pub range_bits: u32,
    pub weight_bits: u32,
    /// The scale each output's error is judged against (0: each sample's own
    /// output range).
    pub output_scales: Vec<f64>,
    /// [`TARGET_ERROR`].
    pub target_error: f64,
    /// Every scale tried, in order (empty when `scale_bits` was given or
    /// nothing was calibrated).
    pub tried: Vec<ScaleTrial>,
    /// What decided the scale: `"option"`, `"default"`, `"target"` (first
    /// scale within the target), `"lowest_error"`.
    pub chosen_by: String,
    /// The `scales` option ([`ScaleMode`]).
    #[serde(default)]
    pub scale_mode: ScaleMode,
    /// Whether the program has per-tensor scales.
    #[serde(default)]
    pub per_tensor: bool,
    /// The fixed-point scale of each output's integers (`scale_bits`
    /// without per-tensor scales).
    #[serde(default)]
    pub output_value_scales: Vec<u32>,
}

/// Where the calibration inputs come from: the samples, and ranges.
pub struct CalibrationPlan {
    /// Samples the accuracy of each scale is measured on (given ones, then
    /// points inside the bounds).
    pub samples: Vec<Vec<Vec<f64>>>,
    /// `[lo, hi]` of every non-constant value with headroom (`None`: no
    /// information).
    pub ranges: Vec<Option<(f64, f64)>>,
    /// The same without the margin (equal to `ranges` with input bounds).
    pub calibrated: Vec<Option<(f64, f64)>>,
    /// Largest `|v|` the activation range must hold.
    pub max_abs: f64,
    pub report: CalibrationReport,
}

/// Deterministic sample points inside the bounds: both ends, the middle, and
/// five pseudo-random points (a fixed LCG, so compiles are reproducible).
pub fn bound_samples(g: &Graph, bounds: &[crate::intervals::InputBound]) -> Vec<Vec<Vec<f64>>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = vec![];
    for k in 0..8 {
        let sample = g
            .inputs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let n: usize = spec.shape.iter().product();
                if let Some(b) = &spec.bound {
                    return b.clone();
                }
                let (lo, hi) = crate::intervals::bound_of(bounds, i).unwrap_or((0.0, 0.0));
                (0..n)
                    .map(|_| match k {
                        0 => lo,
                        1 => hi,
                        2 => 0.5 * (lo + hi),
                        _ => lo + (hi - lo) * next(),
                    })
                    .collect()
            })
            .collect();
        out.push(sample);
    }
    out
}

/// The samples and ranges calibration works from: the given samples' value
/// ranges widened by the margin, or, with input bounds, the propagated
/// intervals (which already hold every input inside the bounds) joined with
/// the samples' own ranges.
pub fn plan(g: &Graph, opts: &CompileOptions) -> Result<CalibrationPlan> {
    let margin = range_margin(opts)?;
    let bounds = &opts.input_bounds;
    let mut samples = opts.calibration.clone();
    let calibrated = value_ranges(g, &samples)?;
    let mut ranges: Vec<Option<(f64, f64)>> = if bounds.is_empty() {
        calibrated.iter().map(|r| r.map(|(lo, hi)| widen(lo, hi, margin))).collect()
    } else {
        calibrated.clone()
    };
    let mut bound_count = 0;
    if !bounds.is_empty() {
        let iv = crate::intervals::propagate(g, bounds)?;
        for ((node, r), e) in g.nodes.iter().zip(ranges.iter_mut()).zip(&iv) {
            if matches!(node.op, FOp::Const(_)) {
                continue;
            }
            let (lo, hi) = e.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(l, h)| (a.min(l), b.max(h)));
            if lo > hi {
                continue;
            }
            *r = Some(match *r {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
        let extra = bound_samples(g, bounds);
        bound_count = extra.len();
        samples.extend(extra);
    }
    let max_abs = ranges.iter().flatten().fold(0.0f64, |m, &(lo, hi)| m.max(lo.abs()).max(hi.abs()));
    let report = CalibrationReport {
        samples: opts.calibration.len(),
        bound_samples: bound_count,
        range_margin: margin,
        input_bounds: bounds.iter().map(|b| (b.input, b.lo, b.hi)).collect(),
        max_abs,
        target_error: TARGET_ERROR,
        ..CalibrationReport::default()
    };
    let calibrated = if bounds.is_empty() { calibrated } else { ranges.clone() };
    Ok(CalibrationPlan { samples, ranges, calibrated, max_abs, report })
}

/// Picks the settings by the rules above and returns the program `build`
/// makes with them, and how they were chosen. `build` lowers the graph with
/// given settings; with samples and no `scale_bits` option it is called once
/// per scale tried.
pub fn choose_program(
    g: &Graph,
    opts: &CompileOptions,
    plan: CalibrationPlan,
    build: impl Fn(QuantSettings, bool) -> Result<Program>,
) -> Result<(Program, CalibrationReport)> {
    let CalibrationPlan { samples, max_abs, mut report, .. } = plan;
    report.weight_bits = weight_bits(opts)?;
    report.scale_mode = opts.scales;
    let per_tensor = opts.scales == ScaleMode::PerTensor;
    let done = |program: Program, mut report: CalibrationReport, by: &str, per_tensor: bool| {
        report.scale_bits = program.quant.scale_bits;
        report.range_bits = program.quant.range_bits;
        report.output_value_scales = program.outputs.iter().map(|o| program.nodes[o.value].scale).collect();
        report.per_tensor = per_tensor;
        report.chosen_by = by.into();
        Ok((program, report))
    };
    if samples.is_empty() {
        // Without samples there are no ranges, so no per-tensor scales.
        let s = opts.scale_bits.unwrap_or(DEFAULT_SCALE_BITS);
        let b = opts.range_bits.unwrap_or(s + 5);
        let by = if opts.scale_bits.is_some() { "option" } else { "default" };
        return done(build(settings(s, b)?, false)?, report, by, false);
    }
    let cal = calibrate(g, &samples)?;
    report.output_scales = output_floors(g, &cal.outputs);
    // Bounds are sound ranges: they may need more bits than calibration's cap.
    let cap = if opts.input_bounds.is_empty() { MAX_AUTO_RANGE_BITS } else { QuantSettings::MAX_RANGE_BITS };
    let needed = |s: u32| range_bits_for(max_abs, s);
    let range_for = |s: u32| opts.range_bits.unwrap_or_else(|| needed(s).min(cap));
    if let Some(s) = opts.scale_bits {
        return done(build(settings(s, range_for(s))?, per_tensor)?, report, "option", per_tensor);
    }
    let mut best: Option<(f64, Program)> = None;
    let mut last_failure = None;
    for s in AUTO_SCALE_BITS {
        if opts.range_bits.is_none() && !opts.input_bounds.is_empty() && needed(s) > cap {
            let why = format!("the input bounds need range_bits {} > {cap}", needed(s));
            report.tried.push(ScaleTrial {
                scale_bits: s,
                range_bits: needed(s),
                error: None,
                failure: Some(why.clone()),
                per_tensor,
            });
            last_failure = Some(format!("s={s}: {why}"));
            continue;
        }
        let program = build(settings(s, range_for(s))?, per_tensor)?;
        let b = program.quant.range_bits;
        match program_error(&program, &samples, &cal.outputs, &report.output_scales) {
            Ok(e) => {
                report.tried.push(ScaleTrial {
                    scale_bits: s,
                    range_bits: b,
                    error: Some(e),
                    failure: None,
                    per_tensor,
                });
                if e <= TARGET_ERROR {
                    return done(program, report, "target", per_tensor);
                }
                // Ties go to the more precise (larger) scale.
                if best.as_ref().is_none_or(|(b, _)| e <= *b) {
                    best = Some((e, program));
                }
            }
            Err(e) => {
                report.tried.push(ScaleTrial {
                    scale_bits: s,
                    range_bits: b,
                    error: None,
                    failure: Some(e.to_string()),
                    per_tensor,
                });
                last_failure = Some(format!("s={s}: {e}"));
            }
        }
    }
    // No scale met the target: per-tensor scales at the most accurate `s`,
    // kept where they are more accurate still.
    if let (ScaleMode::Auto, Some((e0, p0))) = (opts.scales, &best) {
        let q = p0.quant;
        // A per-tensor program that does not build or evaluate is reported
        // and the global one kept.
        let trial = build(q, true).map_err(|e| e.to_string()).and_then(|program| {
            let e =
                program_error(&program, &samples, &cal.outputs, &report.output_scales).map_err(|e| e.to_string())?;
            Ok((e, program))
        });
        report.tried.push(ScaleTrial {
            scale_bits: q.scale_bits,
            range_bits: q.range_bits,
            error: trial.as_ref().ok().map(|(e, _)| *e),
            failure: trial.as_ref().err().cloned(),
            per_tensor: true,
        });
        if let Ok((e, program)) = trial {
            if e < *e0 {
                let by = if e <= TARGET_ERROR { "target" } else { "lowest_error" };
                return done(program, report, by, true);
            }
        }
    }
    match best {
        Some((_, p)) => done(p, report, "lowest_error", per_tensor),
        None => Err(CompileError::Calibration {
            reason: format!(
                "no scale in {AUTO_SCALE_BITS:?} evaluates every sample within range ({})",
                last_failure.unwrap_or_default()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_scale_gives_the_largest_weight_its_bits() {
        // max 0.3: ceil(log2 0.3) = -1, so sw = 8 + 1 = 9 and 0.3 -> 154 (8 bits).
        assert_eq!(weight_scale(&[0.3, -0.01], 8), 9);
        // max 5: ceil(log2 5) = 3, so sw = 5.
        assert_eq!(weight_scale(&[5.0, 0.1], 8), 5);
        // Exact at fewer bits: integers need none, quarters two.
        assert_eq!(weight_scale(&[1.0, -1.0], 8), 0);
        assert_eq!(weight_scale(&[0.25, 0.5], 8), 2);
        // Pooling window of 9: m = round(2^11 / 9) = 228 has 8 bits.
        let sw = weight_scale(&[1.0 / 9.0; 9], 8);
        assert_eq!(sw, 11);
        assert!(((1u64 << sw) as f64 / 9.0).round() >= 128.0);
        // Clamped to 0..=24.
        assert_eq!(weight_scale(&[1e-12], 8), MAX_WEIGHT_SCALE);
        assert_eq!(weight_scale(&[1e6 + 0.5], 8), 0);
        assert_eq!(weight_scale(&[], 8), 0);
    }

    #[test]
    fn range_bits_cover_twice_the_max() {
        assert_eq!(range_bits_for(1.0, 8), 10); // 512 < 2^10
        assert_eq!(range_bits_for(0.0, 8), 9);
        assert_eq!(range_bits_for(100.0, 4), 12); // 3200 < 2^12
    }

    #[test]
    fn output_range_falls_back_to_max_abs() {
        assert_eq!(output_range(&[1.0, -2.0, 0.5]), 3.0);
        assert_eq!(output_range(&[-4.0, -4.0]), 4.0);
        assert_eq!(output_range(&[]), 0.0);
    }
}
