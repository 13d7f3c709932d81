//! Function tables: how a table of `f` covers its input (`table_plan`: the
//! coarsest input resolution within one output unit, within the entry
//! budget `table_bits`), where `f` saturates (`saturation_domain`,
//! `saturated_sides`: clamped onto the table's edge), and how far a table
//! is from `f` (`table_error`). The lowering (`super`) emits the nodes.

use ir::QuantSettings;

use crate::frontend::func::Func;
use crate::frontend::graph::{FOp, Graph};
use crate::frontend::index::numel;

/// Most entries of one function table: 2^12, up to 2^16 for large programs
/// (see [`table_bits`]), whose rows already exceed such tables.
pub const MAX_TABLE_BITS: u32 = 12;
pub const MAX_TABLE_BITS_LARGE: u32 = 16;

/// Table entry budget (bits) for a graph: about the graph's element count
/// (a proxy for its circuit rows), within `MAX_TABLE_BITS..=MAX_TABLE_BITS_LARGE`.
pub fn table_bits(g: &Graph) -> u32 {
    let elements: usize = g.nodes.iter().filter(|n| !matches!(n.op, FOp::Const(_))).map(|n| numel(&n.shape)).sum();
    (usize::BITS - elements.max(1).leading_zeros()).saturating_sub(1).clamp(MAX_TABLE_BITS, MAX_TABLE_BITS_LARGE)
}

/// How a function table covers its input: `Requant{shift}` then a table of
/// `values` over `[lo, lo + len)` at scale `s - shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    pub shift: u32,
    pub lo: i64,
    pub values: Vec<i64>,
    /// Within one output unit of `f` over the domain (else the budget
    /// forced a coarser resolution).
    pub precise: bool,
}

/// Tabulates `f` for inputs at scale `s` in the float interval `[a, b]`,
/// outputs at scale `s` clamped to `[out_lo, out_hi]`. The input is coarsened
/// by the largest `shift` whose table is within one output unit of `f`
/// (step functions: exact, i.e. `shift = 0`) with at most `2^bits` entries;
/// when no shift is both, the finest one that fits.
pub fn table_plan(f: Func, s: u32, (a, b): (f64, f64), (out_lo, out_hi): (i64, i64), bits: u32) -> TablePlan {
    let unit = 2f64.powi(-(s as i32));
    let build = |shift: u32| -> (i64, Vec<i64>, f64) {
        let step = 2f64.powi(shift as i32 - s as i32);
        let lo = (a / step).floor() as i64 - 1;
        let hi = (b / step).ceil() as i64 + 1;
        let mut err: f64 = 0.0;
        let mut values = Vec::with_capacity((hi - lo + 1).max(0) as usize);
        for i in lo..=hi {
            let x = i as f64 * step;
            let y = f.apply_clamped(x);
            let q = if y.is_finite() {
                (y / unit).round().clamp(out_lo as f64, out_hi as f64) as i64
            } else if y > 0.0 {
                out_hi
            } else {
                out_lo
            };
            values.push(q);
            if shift > 0 {
                // The inputs that round to this entry, within the domain.
                let (l, r) = ((x - 0.5 * step).max(a), (x + 0.5 * step - unit).min(b));
                if l <= r {
                    for k in 0..=4 {
                        let yy = f.apply_clamped(l + (r - l) * k as f64 / 4.0);
                        let yy =
                            if yy.is_finite() { yy.clamp(out_lo as f64 * unit, out_hi as f64 * unit) } else { 0.0 };
                        err = err.max((yy - q as f64 * unit).abs());
                    }
                }
            }
        }
        (lo, values, err)
    };
    let len = |shift: u32| {
        let step = 2f64.powi(shift as i32 - s as i32);
        (b / step).ceil() - (a / step).floor() + 3.0
    };
    let max_len = (1u64 << bits) as f64;
    let finest = (0..=QuantSettings::MAX_SHIFT).find(|&d| len(d) <= max_len).unwrap_or(QuantSettings::MAX_SHIFT);
    let mut pick = finest;
    let mut precise = f.is_step() && len(0) <= max_len;
    if !f.is_step() {
        for d in (finest..=QuantSettings::MAX_SHIFT.min(s + 8)).rev() {
            if build(d).2 <= unit {
                pick = d;
                precise = true;
                break;
            }
        }
    }
    let (lo, values, _) = build(pick);
    TablePlan { shift: pick, lo, values, precise }
}

/// `[a, b]` cut down to where `f` has not yet reached its limit at the
/// output resolution `2^-s`: past that, the table is clamped onto its edge
/// ([`saturated_sides`]), so the fine part of the table gets the budget.
pub fn saturation_domain(f: Func, s: u32, (a, b): (f64, f64), (out_lo, out_hi): (i64, i64)) -> (f64, f64) {
    const POINTS: usize = 4096;
    if b.partial_cmp(&a) != Some(std::cmp::Ordering::Greater) || f.is_step() {
        return (a, b);
    }
    let unit = 2f64.powi(-(s as i32));
    let q = |x: f64| {
        let y = f.apply_clamped(x);
        y.is_finite().then(|| (y / unit).round().clamp(out_lo as f64, out_hi as f64) as i64)
    };
    let at = |i: usize| a + (b - a) * i as f64 / POINTS as f64;
    let far = 1e3 * (b - a).max(1.0) + a.abs().max(b.abs());
    let limit = |dir: f64, edge: f64| {
        let l = q(edge + dir * far)?;
        (q(edge + dir * 10.0 * (b - a)) == Some(l)).then_some(l)
    };
    let (mut lo, mut hi) = (a, b);
    if let Some(l) = limit(-1.0, a) {
        if let Some(i) = (0..=POINTS).find(|&i| q(at(i)) != Some(l)) {
            lo = at(i.saturating_sub(2));
        }
    }
    if let Some(l) = limit(1.0, b) {
        if let Some(i) = (0..=POINTS).rev().find(|&i| q(at(i)) != Some(l)) {
            hi = at((i + 2).min(POINTS));
        }
    }
    if lo < hi {
        (lo, hi)
    } else {
        (a, b)
    }
}

/// The largest error of a table (with its saturation clamps) against `f`
/// over `[a, b]`, sampled; infinite where an input falls outside it.
pub fn table_error(f: Func, s: u32, range_bits: u32, plan: &TablePlan, (a, b): (f64, f64)) -> f64 {
    const POINTS: usize = 2048;
    let unit = 2f64.powi(-(s as i32));
    let (low, high) = saturated_sides(f, plan, s, range_bits);
    let bound = 2f64.powi(range_bits as i32);
    let mut err: f64 = 0.0;
    for k in 0..=POINTS {
        let x = a + (b - a) * k as f64 / POINTS as f64;
        let xi = (x / unit).round() as i64;
        let q = if plan.shift == 0 { xi } else { (xi + (1i64 << (plan.shift - 1))) >> plan.shift };
        let mut idx = q - plan.lo;
        if low {
            idx = idx.max(0);
        }
        if high {
            idx = idx.min(plan.values.len() as i64 - 1);
        }
        let Some(&v) = usize::try_from(idx).ok().and_then(|i| plan.values.get(i)) else { return f64::INFINITY };
        let y = f.apply_clamped(xi as f64 * unit);
        let y = if y.is_finite() { y.clamp(-bound * unit, bound * unit) } else { continue };
        err = err.max((y - v as f64 * unit).abs());
    }
    err
}

/// Which sides of a table `f` has saturated at: every input beyond that
/// edge (up to the activation range and far past it) has the edge's entry
/// (`f` rounds to the same output there), so clamping onto the edge is exact.
/// Step functions qualify too (Sign beyond its jump).
pub fn saturated_sides(f: Func, plan: &TablePlan, s: u32, range_bits: u32) -> (bool, bool) {
    let (Some(&first), Some(&last)) = (plan.values.first(), plan.values.last()) else { return (false, false) };
    let unit = 2f64.powi(-(s as i32));
    let step = 2f64.powi(plan.shift as i32 - s as i32);
    let bound = 2f64.powi(range_bits as i32 - s as i32);
    let (out_lo, out_hi) = (-(1i64 << range_bits), (1i64 << range_bits) - 1);
    let q = |x: f64| {
        let y = f.apply_clamped(x);
        if y.is_finite() {
            Some((y / unit).round().clamp(out_lo as f64, out_hi as f64) as i64)
        } else {
            None
        }
    };
    let lo_x = plan.lo as f64 * step;
    let hi_x = (plan.lo + plan.values.len() as i64 - 1) as f64 * step;
    let side = |edge: f64, dir: f64, value: i64| {
        let width = (hi_x - lo_x).max(step);
        let far = [0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1e4].map(|k| edge + dir * k * width);
        let far_bound = edge + dir * (bound * 4.0).max(width);
        far.iter().chain([far_bound, edge + dir * step].iter()).all(|&x| q(x) == Some(value))
    };
    (side(lo_x, -1.0, first), side(hi_x, 1.0, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max |table - f| over every integer input at scale `s` in `[a, b]`.
    fn max_error(f: Func, s: u32, (a, b): (f64, f64), p: &TablePlan) -> f64 {
        let unit = 2f64.powi(-(s as i32));
        let (lo, hi) = ((a / unit).ceil() as i64, (b / unit).floor() as i64);
        (lo..=hi)
            .map(|x| {
                let (q, _) = ir::rescale(x, p.shift);
                let y = p.values[(q - p.lo) as usize] as f64 * unit;
                (y - f.apply(x as f64 * unit)).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn tables_are_within_one_unit_when_they_fit() {
        let act = (-(1 << 20), (1 << 20) - 1);
        for (f, dom) in [
            (Func::Sigmoid, (-6.0, 6.0)),
            (Func::Gelu, (-1.5, 1.5)),
            (Func::Tanh, (-3.0, 3.0)),
            (Func::Exp, (-8.0, 0.0)),
            (Func::Sqrt, (0.01, 0.2)),
        ] {
            let p = table_plan(f, 8, dom, act, MAX_TABLE_BITS);
            assert!(p.values.len() <= 1 << MAX_TABLE_BITS, "{f:?}: {} entries", p.values.len());
            let e = max_error(f, 8, dom, &p);
            assert!(e <= 2.0 * 2f64.powi(-8), "{f:?}: error {e} with shift {}", p.shift);
        }
    }

    #[test]
    fn step_functions_are_exact() {
        let act = (-(1 << 20), (1 << 20) - 1);
        for f in [Func::Floor, Func::Ceil, Func::Sign] {
            let p = table_plan(f, 6, (-3.0, 3.0), act, MAX_TABLE_BITS);
            assert_eq!(p.shift, 0);
            assert_eq!(max_error(f, 6, (-3.0, 3.0), &p), 0.0, "{f:?}");
        }
    }

    #[test]
    fn wide_domains_are_coarsened_to_fit() {
        let p = table_plan(Func::Sigmoid, 16, (-100.0, 100.0), (-(1 << 24), (1 << 24) - 1), MAX_TABLE_BITS);
        assert!(p.values.len() <= 1 << MAX_TABLE_BITS);
        assert!(p.shift > 0);
    }
}
