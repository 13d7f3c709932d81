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
//! - without calibration: `s = 8` ([`DEFAULT_SCALE_BITS`]), `B = s + 5`;
//! - with calibration: `M = max|v|` over every value of the float graph on
//!   every sample (model inputs included, so their quantized values fit the
//!   range check of the `Input` node); for `s` = 4, 5, ..., 16 in turn,
//!   `B(s)` = the bits of `M * 2^s * 2` (one bit of margin for rounding), at
//!   least `s + 1`, at most 24; compile with `(s, B(s))`, run every sample
//!   through `ir::quantize_inputs -> ir::eval -> dequantize`, and take the
//!   first `s` whose outputs are all within [`TARGET_ERROR`] (0.002%) of that
//!   sample's float output range (`max - min`, or `max|x|` when that is 0).
//!   If none is, the `s` with the lowest error (an `s` whose samples leave
//!   the range is never taken);
//! - the `scale_bits` and `range_bits` options override `s` and `B` (with
//!   `scale_bits` given, calibration only sizes `B`).

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
pub const AUTO_SCALE_BITS: RangeInclusive<u32> = 4..=16;
pub const MAX_AUTO_RANGE_BITS: u32 = 24;
/// Largest `scale_bits` option.
pub const MAX_SCALE_BITS: u32 = 16;
/// Largest per-layer weight scale (and `weight_bits` option).
pub const MAX_WEIGHT_SCALE: u32 = 24;
/// Accuracy the calibrated scale must reach on every sample: max abs error
/// over the float output range.
pub const TARGET_ERROR: f64 = 0.00002;

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

/// Max over samples and outputs of `|dequantized - float|` over that sample's
/// float output range (the absolute error where the range is 0). Fails where
/// the program cannot evaluate a sample (a value out of range).
pub fn program_error(
    program: &Program,
    samples: &[Vec<Vec<f64>>],
    float_outputs: &[Vec<Vec<f64>>],
) -> std::result::Result<f64, ir::IrError> {
    let mut err: f64 = 0.0;
    for (sample, floats) in samples.iter().zip(float_outputs) {
        let q = ir::quantize_inputs(program, sample)?;
        let trace = ir::eval(program, &q)?;
        for (k, (spec, f)) in program.outputs.iter().zip(floats).enumerate() {
            let r = output_range(f);
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

/// Picks the settings by the rules above and returns the program `build`
/// makes with them. `build` lowers the graph with given settings; with
/// calibration and no `scale_bits` option it is called once per scale tried.
pub fn choose_program(
    g: &Graph,
    opts: &CompileOptions,
    build: impl Fn(QuantSettings) -> Result<Program>,
) -> Result<Program> {
    if opts.calibration.is_empty() {
        let s = opts.scale_bits.unwrap_or(DEFAULT_SCALE_BITS);
        let b = opts.range_bits.unwrap_or(s + 5);
        return build(settings(s, b)?);
    }
    let cal = calibrate(g, &opts.calibration)?;
    let range_for = |s: u32| opts.range_bits.unwrap_or_else(|| range_bits_for(cal.max_abs, s).min(MAX_AUTO_RANGE_BITS));
    if let Some(s) = opts.scale_bits {
        return build(settings(s, range_for(s))?);
    }
    let mut best: Option<(f64, Program)> = None;
    let mut last_failure = None;
    for s in AUTO_SCALE_BITS {
        let program = build(settings(s, range_for(s))?)?;
        match program_error(&program, &opts.calibration, &cal.outputs) {
            Ok(e) if e <= TARGET_ERROR => return Ok(program),
            Ok(e) => {
                if best.as_ref().is_none_or(|(b, _)| e < *b) {
                    best = Some((e, program));
                }
            }
            Err(e) => last_failure = Some(format!("s={s}: {e}")),
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| CompileError::Calibration {
        reason: format!(
            "no scale in {AUTO_SCALE_BITS:?} evaluates every sample within range ({})",
            last_failure.unwrap_or_default()
        ),
    })
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
