//! Sound interval propagation over the float graph: from declared bounds of
//! the model inputs (`--input-bounds`) to a `[lo, hi]` per element of every
//! value, such that every input inside the bounds evaluates inside them.
//! `quantize` sizes the activation range and the function tables from these
//! intervals, so every input inside the bounds proves.
//!
//! Rules per op (elementwise, on the concatenated flat inputs):
//! - Affine `b + Σ w·x`: `b + Σ w·[lo, hi]` (the sign of `w` picks the end);
//! - Contract `b + Σ a·b`: interval products;
//! - Max windows: `[max lo, max hi]`; Relu, Step: monotone images;
//! - Func: the image of `f` over `[lo, hi]`, from `f` at both ends and at
//!   [`FUNC_GRID`] interior points (the functions are continuous and
//!   piecewise monotone with at most a few turning points, so this is the
//!   image up to the slack [`FUNC_SLACK`] adds; periodic ones over a full
//!   period are `[-1, 1]`);
//! - softmax (the front end's `exp(x - max x) / Σ exp(x - max x)`): interval
//!   arithmetic forgets that `x_i - max x <= 0` and that the sum of the
//!   shifted exponentials is at least 1 (the maximum's own term), and would
//!   make `exp` and the reciprocal explode; both facts are recovered from the
//!   graph's structure (an Affine row `x_i - m_j` where `m` is a Max whose
//!   window `j` holds `x_i`, and an all-ones sum over the `exp` of every such
//!   row of one window).
//!
//! Other relations between values (e.g. LayerNorm's centred variance being
//! large when the centred value is) are not tracked, so the intervals of
//! deep normalized models are loose: sound, but wide ranges cost range bits.

use std::collections::HashMap;

use crate::error::{CompileError, Result};
use crate::frontend::func::Func;
use crate::frontend::graph::{FOp, Graph, ValueId};

/// Interior points at which a function's image is sampled.
pub const FUNC_GRID: usize = 512;
/// Relative widening of each sampled function image (of its width, plus an
/// absolute 1e-9), covering the curvature between grid points.
pub const FUNC_SLACK: f64 = 1e-3;

/// Bounds of one model input (`input: None`: every input).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputBound {
    pub input: Option<usize>,
    pub lo: f64,
    pub hi: f64,
}

/// Per-element intervals of one value.
pub type Intervals = Vec<(f64, f64)>;

/// `(value, element)` of an element that is `x_i - m_j` (see the module doc):
/// the Max node `m`, its window `j`, and the `x` element `i`.
type ShiftTag = (ValueId, usize, u32);

fn err(node: &str, reason: String) -> CompileError {
    CompileError::Calibration { reason: format!("input bounds: {reason} (node {node})") }
}

/// The bounds of input `i`: its own entry, else the entry for all inputs.
pub fn bound_of(bounds: &[InputBound], i: usize) -> Option<(f64, f64)> {
    bounds
        .iter()
        .rev()
        .find(|b| b.input == Some(i))
        .or_else(|| bounds.iter().rev().find(|b| b.input.is_none()))
        .map(|b| (b.lo, b.hi))
}

/// Checks the bounds against the graph's inputs.
pub fn check_bounds(g: &Graph, bounds: &[InputBound]) -> Result<()> {
    for b in bounds {
        if !(b.lo.is_finite() && b.hi.is_finite()) || b.lo > b.hi {
            return Err(CompileError::Calibration {
                reason: format!("input bounds [{}, {}] are not an interval", b.lo, b.hi),
            });
        }
        if let Some(i) = b.input {
            if i >= g.inputs.len() {
                return Err(CompileError::Calibration {
                    reason: format!("input bounds for input {i}, but the model has {} inputs", g.inputs.len()),
                });
            }
        }
    }
    for (i, spec) in g.inputs.iter().enumerate() {
        if spec.bound.is_none() && bound_of(bounds, i).is_none() {
            return Err(CompileError::Calibration {
                reason: format!("input bounds are given, but not for input {i} ({})", spec.name),
            });
        }
    }
    Ok(())
}

/// The interval of every element of every value (constants: their values).
pub fn propagate(g: &Graph, bounds: &[InputBound]) -> Result<Vec<Intervals>> {
    check_bounds(g, bounds)?;
    let mut out: Vec<Intervals> = Vec::with_capacity(g.nodes.len());
    // Elements known to be `x_i - m_j` (Affine rows) or `exp` of one.
    let mut shifted: HashMap<(ValueId, usize), ShiftTag> = HashMap::new();
    for (v, node) in g.nodes.iter().enumerate() {
        let n: usize = node.shape.iter().product();
        // Concatenated flat intervals of the inputs, and where each input starts.
        let mut cat: Vec<(f64, f64)> = vec![];
        let mut starts = vec![];
        for &i in &node.inputs {
            starts.push(cat.len());
            cat.extend_from_slice(&out[i]);
        }
        let origin = |col: u32| -> Option<(ValueId, usize)> {
            let k = starts.iter().rposition(|&s| s <= col as usize)?;
            Some((node.inputs[k], col as usize - starts[k]))
        };
        let at = |c: u32| cat.get(c as usize).copied().unwrap_or((0.0, 0.0));
        let iv: Intervals = match &node.op {
            FOp::Input(i) => match g.inputs[*i].bound.as_ref() {
                Some(vals) => vals.iter().map(|&x| (x, x)).collect(),
                None => {
                    let (lo, hi) = bound_of(bounds, *i).unwrap_or((0.0, 0.0));
                    vec![(lo, hi); n]
                }
            },
            FOp::Const(t) => t.to_f64().into_iter().map(|x| (x, x)).collect(),
            FOp::Reshape => out[node.inputs[0]].clone(),
            FOp::Gather(map) => map.iter().map(|&m| if m == ir::ZERO_SRC { (0.0, 0.0) } else { at(m) }).collect(),
            FOp::Affine(l) => {
                let mut rows = Vec::with_capacity(l.bias.len());
                for o in 0..l.bias.len() {
                    let (mut lo, mut hi) = (l.bias[o], l.bias[o]);
                    for t in l.row(o) {
                        let (a, b) = at(l.cols[t]);
                        let w = l.weights[t];
                        let (p, q) = (w * a, w * b);
                        lo += p.min(q);
                        hi += p.max(q);
                    }
                    if let Some(tag) = shift_row(g, l, o, &origin) {
                        hi = hi.min(0.0);
                        lo = lo.min(hi);
                        shifted.insert((v, o), tag);
                    } else if let Some(floor) = softmax_sum_row(g, l, o, &origin, &shifted) {
                        lo = lo.max(floor);
                        hi = hi.max(lo);
                    }
                    rows.push((lo, hi));
                }
                rows
            }
            FOp::Contract(c) => (0..c.terms.rows())
                .map(|o| {
                    let b0 = c.bias.as_ref().and_then(|b| b.get(o).copied()).unwrap_or(0.0);
                    let (a_iv, b_iv) = (&out[node.inputs[0]], &out[node.inputs[1]]);
                    let (mut lo, mut hi) = (b0, b0);
                    for t in c.terms.row(o) {
                        let same = node.inputs[0] == node.inputs[1] && c.terms.a_idx[t] == c.terms.b_idx[t];
                        let x = a_iv.get(c.terms.a_idx[t] as usize).copied().unwrap_or((0.0, 0.0));
                        let y = b_iv.get(c.terms.b_idx[t] as usize).copied().unwrap_or((0.0, 0.0));
                        let (p, q) = if same { square(x) } else { mul(x, y) };
                        lo += p;
                        hi += q;
                    }
                    (lo, hi)
                })
                .collect(),
            FOp::Max(w) => (0..w.row_ptr.len().saturating_sub(1))
                .map(|o| {
                    (w.row_ptr[o] as usize..w.row_ptr[o + 1] as usize)
                        .map(|t| at(w.cols[t]))
                        .fold((f64::NEG_INFINITY, f64::NEG_INFINITY), |(a, b), (l, h)| (a.max(l), b.max(h)))
                })
                .collect(),
            FOp::Relu => cat.iter().map(|&(lo, hi)| (lo.max(0.0), hi.max(0.0))).collect(),
            FOp::Step { or_equal } => cat
                .iter()
                .map(|&(lo, hi)| {
                    let step = |x: f64| (x > 0.0 || (*or_equal && x == 0.0)) as i64 as f64;
                    (step(lo), step(hi))
                })
                .collect(),
            FOp::Func(f) => {
                let mut rows = Vec::with_capacity(cat.len());
                for (k, &(lo, hi)) in cat.iter().enumerate() {
                    let mut img = image(*f, lo, hi);
                    // `exp(x_i - m_j)` of a shifted element is in (0, 1].
                    if *f == Func::Exp {
                        if let Some(&tag) = origin(k as u32).and_then(|src| shifted.get(&src)) {
                            img.1 = img.1.min(1.0);
                            shifted.insert((v, k), tag);
                        }
                    }
                    rows.push(img);
                }
                rows
            }
            FOp::BitShift(b) => cat
                .iter()
                .zip(&b.shifts)
                .map(|(&(lo, hi), &k)| {
                    let (lo, hi) = (lo.max(0.0).floor(), hi.max(0.0).floor());
                    let m = 2f64.powi(k as i32);
                    let wrap = 2f64.powi(b.bits as i32);
                    if k >= b.bits {
                        (0.0, 0.0)
                    } else if !b.left {
                        ((lo / m).floor(), (hi / m).floor())
                    } else if hi * m < wrap {
                        (lo * m, hi * m)
                    } else {
                        (0.0, wrap - 1.0)
                    }
                })
                .collect(),
            FOp::Quantize(_) | FOp::DynQuant(_) | FOp::QTable(_) => {
                return Err(err(&node.name, format!("{} is not covered by interval propagation", node.op.kind())))
            }
        };
        if iv.len() != n {
            return Err(err(&node.name, format!("{} intervals for {n} elements", iv.len())));
        }
        if let Some(&(lo, hi)) = iv.iter().find(|(lo, hi)| !(lo.is_finite() && hi.is_finite())) {
            return Err(err(
                &node.name,
                format!("{} is unbounded over the declared input bounds ([{lo}, {hi}])", node.op.kind()),
            ));
        }
        out.push(iv);
    }
    Ok(out)
}

/// Affine row `o` is `x_i - m_j` with `m` a Max whose window `j` holds `x_i`.
fn shift_row(
    g: &Graph,
    l: &crate::frontend::graph::Affine,
    o: usize,
    origin: &impl Fn(u32) -> Option<(ValueId, usize)>,
) -> Option<ShiftTag> {
    let r = l.row(o);
    if r.len() != 2 || l.bias[o] != 0.0 {
        return None;
    }
    let (mut x, mut m) = (None, None);
    for t in r {
        let w = l.weights[t];
        if w == 1.0 {
            x = origin(l.cols[t]);
        } else if w == -1.0 {
            m = origin(l.cols[t]);
        } else {
            return None;
        }
    }
    let ((xv, xi), (mv, mj)) = (x?, m?);
    let FOp::Max(w) = &g.nodes[mv].op else { return None };
    if g.nodes[mv].inputs.first() != Some(&xv) {
        return None;
    }
    let window = &w.cols[*w.row_ptr.get(mj)? as usize..*w.row_ptr.get(mj + 1)? as usize];
    window.contains(&(xi as u32)).then_some((mv, mj, xi as u32))
}

/// Affine row `o` sums, with weights 1 and no bias, `exp(x_i - m_j)` for
/// every `x_i` of window `j` of one Max `m`: it is at least 1.
fn softmax_sum_row(
    g: &Graph,
    l: &crate::frontend::graph::Affine,
    o: usize,
    origin: &impl Fn(u32) -> Option<(ValueId, usize)>,
    shifted: &HashMap<(ValueId, usize), ShiftTag>,
) -> Option<f64> {
    if l.bias[o] != 0.0 || l.row(o).is_empty() {
        return None;
    }
    let mut window: Option<(ValueId, usize)> = None;
    let mut seen = vec![];
    for t in l.row(o) {
        if l.weights[t] != 1.0 {
            return None;
        }
        let src = origin(l.cols[t])?;
        if !matches!(g.nodes[src.0].op, FOp::Func(Func::Exp)) {
            return None;
        }
        let &(mv, mj, xi) = shifted.get(&src)?;
        if window.is_some_and(|w| w != (mv, mj)) {
            return None;
        }
        window = Some((mv, mj));
        seen.push(xi);
    }
    let (mv, mj) = window?;
    let FOp::Max(w) = &g.nodes[mv].op else { return None };
    let cols = &w.cols[w.row_ptr[mj] as usize..w.row_ptr[mj + 1] as usize];
    seen.sort_unstable();
    seen.dedup();
    cols.iter().all(|c| seen.binary_search(c).is_ok()).then_some(1.0)
}

fn mul((a, b): (f64, f64), (c, d): (f64, f64)) -> (f64, f64) {
    let p = [a * c, a * d, b * c, b * d];
    (p.iter().copied().fold(f64::INFINITY, f64::min), p.iter().copied().fold(f64::NEG_INFINITY, f64::max))
}

/// `x·x` of one element: never negative.
fn square((a, b): (f64, f64)) -> (f64, f64) {
    let hi = (a * a).max(b * b);
    let lo = if a <= 0.0 && b >= 0.0 { 0.0 } else { (a * a).min(b * b) };
    (lo, hi)
}

/// Image of `f` over `[lo, hi]` (see the module doc).
pub fn image(f: Func, lo: f64, hi: f64) -> (f64, f64) {
    if matches!(f, Func::Sin | Func::Cos) && hi - lo >= 2.0 * std::f64::consts::PI {
        return (-1.0, 1.0);
    }
    let mut pts: Vec<f64> = (0..=FUNC_GRID + 1).map(|k| lo + (hi - lo) * k as f64 / (FUNC_GRID + 1) as f64).collect();
    // Turning points and discontinuities the functions have.
    for x in [0.0, -1.0, 1.0, -0.7517915, -1.1951, -0.3088] {
        if lo < x && x < hi {
            pts.push(x);
        }
    }
    let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in pts {
        let y = f.apply_clamped(x);
        a = a.min(y);
        b = b.max(y);
    }
    if f.is_step() {
        return (a, b);
    }
    let slack = FUNC_SLACK * (b - a) + 1e-9;
    (a - slack, b + slack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_squares() {
        assert_eq!(mul((-1.0, 2.0), (3.0, 4.0)), (-4.0, 8.0));
        assert_eq!(mul((-2.0, -1.0), (-3.0, 1.0)), (-2.0, 6.0));
        assert_eq!(square((-2.0, 1.0)), (0.0, 4.0));
        assert_eq!(square((1.0, 3.0)), (1.0, 9.0));
    }

    #[test]
    fn function_images_cover_the_function() {
        let (a, b) = image(Func::Sigmoid, -3.0, 5.0);
        assert!(a <= 1.0 / (1.0 + 3f64.exp()) && b >= 1.0 / (1.0 + (-5f64).exp()));
        // Gelu's minimum (about -0.17 at x = -0.75) is inside [-2, 1].
        let (a, _) = image(Func::Gelu, -2.0, 1.0);
        assert!(a <= -0.16997);
        assert_eq!(image(Func::Sin, 0.0, 7.0), (-1.0, 1.0));
        assert_eq!(image(Func::Floor, -1.5, 2.5), (-2.0, 2.0));
    }

    #[test]
    fn bounds_of_an_input() {
        let b = [InputBound { input: None, lo: -1.0, hi: 1.0 }, InputBound { input: Some(1), lo: 0.0, hi: 5.0 }];
        assert_eq!(bound_of(&b, 0), Some((-1.0, 1.0)));
        assert_eq!(bound_of(&b, 1), Some((0.0, 5.0)));
        assert_eq!(bound_of(&b[1..], 0), None);
    }
}
