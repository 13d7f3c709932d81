//! Choosing the fixed-point settings, from calibration samples when given.
//!
//! Rules:
//! - scale `s`: the `scale_bits` option; else, without calibration, 8; else the
//!   largest `s` in 2..=16 whose `B` (below) is at most 16, i.e. all the
//!   precision a 16-bit range check allows (the circuit's lookup table has
//!   about `2^s + 2^(B+2)` rows). Small-valued models get fine scales (1% of a
//!   0.05-wide output range needs `s >= 12`); large-valued ones coarser ones;
//! - range `B`: with calibration, `max|v|` over every activation of the float
//!   graph on every sample (inputs included; a superset of the values the
//!   program range-checks), then `B` = the bits of `max * 2^s * 2` (one bit of
//!   margin for rounding), at least `s + 1`; without calibration `B = s + 5`;
//!   the `range_bits` option overrides;
//! - `rem_bits = s`, so every rescale is 1..3 limbs of `s` bits.

use ir::QuantSettings;

use crate::error::{CompileError, Result};
use crate::frontend::eval::eval_graph;
use crate::frontend::graph::{FOp, Graph};
use crate::CompileOptions;

pub const DEFAULT_SCALE_BITS: u32 = 8;
pub const MAX_AUTO_RANGE_BITS: u32 = 16;
pub const MIN_AUTO_SCALE_BITS: u32 = 2;
/// Larger scales make `3 * s`-bit weights overflow the 62-bit accumulator budget.
pub const MAX_SCALE_BITS: u32 = 16;
pub const MAX_RANGE_BITS: u32 = 40;

/// `max|v|` over every activation of the graph on every sample.
pub fn calibrate(g: &Graph, samples: &[Vec<Vec<f64>>]) -> Result<f64> {
    let mut max_abs: f64 = 0.0;
    for (k, sample) in samples.iter().enumerate() {
        let values = eval_graph(g, sample).map_err(|e| CompileError::Calibration {
            reason: format!("sample {k}: {e}"),
        })?;
        for (node, t) in g.nodes.iter().zip(&values) {
            if matches!(node.op, FOp::Const(_)) {
                continue;
            }
            for &x in &t.to_f64() {
                if !x.is_finite() {
                    return Err(CompileError::Calibration {
                        reason: format!(
                            "sample {k}: node {} produced a non-finite value",
                            node.name
                        ),
                    });
                }
                max_abs = max_abs.max(x.abs());
            }
        }
    }
    Ok(max_abs)
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

pub fn choose_settings(g: &Graph, opts: &CompileOptions) -> Result<QuantSettings> {
    if let Some(s) = opts.scale_bits {
        if s == 0 || s > MAX_SCALE_BITS {
            return Err(CompileError::Calibration {
                reason: format!("scale_bits {s} is not in 1..={MAX_SCALE_BITS}"),
            });
        }
    }
    let max_abs = if opts.calibration.is_empty() {
        None
    } else {
        Some(calibrate(g, &opts.calibration)?)
    };
    let s = match (opts.scale_bits, max_abs) {
        (Some(s), _) => s,
        (None, None) => DEFAULT_SCALE_BITS,
        (None, Some(m)) => (MIN_AUTO_SCALE_BITS..=MAX_SCALE_BITS)
            .rev()
            .find(|&s| range_bits_for(m, s) <= MAX_AUTO_RANGE_BITS)
            .unwrap_or(MIN_AUTO_SCALE_BITS),
    };
    let b = match (opts.range_bits, max_abs) {
        (Some(b), _) => b,
        (None, Some(m)) => range_bits_for(m, s),
        (None, None) => s + 5,
    };
    if b == 0 || b > MAX_RANGE_BITS {
        return Err(CompileError::Calibration {
            reason: format!("range_bits {b} is not in 1..={MAX_RANGE_BITS}"),
        });
    }
    Ok(QuantSettings {
        scale_bits: s,
        range_bits: b,
        rem_bits: s,
    })
}
