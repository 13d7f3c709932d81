//! Error of proven outputs against a float reference.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct AccuracyReport {
    pub max_abs_error: f64,
    /// max - min of the reference (max |x| when constant).
    pub output_range: f64,
    /// `max_abs_error / output_range`.
    pub relative_error: f64,
}

/// Compares outputs (flattened per output) with a reference of the same shape.
/// `None` when the shapes differ.
pub fn max_abs_error(got: &[Vec<f64>], reference: &[Vec<f64>]) -> Option<AccuracyReport> {
    if got.len() != reference.len() || got.iter().zip(reference).any(|(a, b)| a.len() != b.len()) {
        return None;
    }
    let all: Vec<f64> = reference.iter().flatten().copied().collect();
    let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let mut range = if all.is_empty() { 0.0 } else { hi - lo };
    if range == 0.0 {
        range = all.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    }
    let err = got.iter().flatten().zip(reference.iter().flatten()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Some(AccuracyReport {
        max_abs_error: err,
        output_range: range,
        relative_error: if range > 0.0 { err / range } else { err },
    })
}
