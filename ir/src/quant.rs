//! Fixed-point conventions: a value `v` at scale `s` stands for `v / 2^s`.

use serde::{Deserialize, Serialize};

/// Circuit-wide quantization settings, fixed at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantSettings {
    /// Fractional bits of every activation (`s`); weights use the same scale.
    pub scale_bits: u32,
    /// Every range-checked activation `q` satisfies `-2^range_bits <= q < 2^range_bits`.
    pub range_bits: u32,
}

impl QuantSettings {
    /// Largest rescale shift (bits of the rounding remainder).
    pub const MAX_SHIFT: u32 = 40;
    /// Largest activation range.
    pub const MAX_RANGE_BITS: u32 = 30;

    /// Inclusive bounds of a range-checked activation.
    pub fn act_bounds(&self) -> (i64, i64) {
        (-(1i64 << self.range_bits), (1i64 << self.range_bits) - 1)
    }

    /// Inclusive upper bound of a max-pool difference (`max - x`, never negative).
    pub fn diff_max(&self) -> i64 {
        (1i64 << (self.range_bits + 1)) - 1
    }
}

/// An ONNX DequantizeLinear applied to an output: `(v - zero_point) * scale`,
/// per tensor (one entry) or per element (one entry per element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDequant {
    pub scale: Vec<f64>,
    pub zero_point: Vec<i64>,
}

impl OutputDequant {
    /// Element `i`'s float value.
    pub fn apply(&self, i: usize, v: i64) -> f64 {
        let pick = |n: usize| if n == 1 { 0 } else { i };
        let (s, z) = (self.scale[pick(self.scale.len())], self.zero_point[pick(self.zero_point.len())]);
        (v - z) as f64 * s
    }
}

/// Round-half-away-from-zero quantization of a float at `scale_bits`.
/// Returns `None` for NaN/inf or values beyond `i64`.
pub fn quantize(x: f64, scale_bits: u32) -> Option<i64> {
    let v = (x * 2f64.powi(scale_bits.min(1023) as i32)).round();
    if v.is_finite() && v.abs() < 9.0e18 {
        Some(v as i64)
    } else {
        None
    }
}

pub fn dequantize(v: i64, scale_bits: u32) -> f64 {
    v as f64 / 2f64.powi(scale_bits.min(1023) as i32)
}
