//! The exact integer semantics of a [`Program`]. The circuit constrains
//! exactly what this computes; witness generation is this function's trace.

use crate::{
    error::IrError,
    op::{Activation, Op, ZERO_SRC},
    program::Program,
    quant::quantize,
};

/// Every node's output, flattened row-major: `values[i]` is node `i`'s tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub values: Vec<Vec<i64>>,
}

impl Trace {
    /// The program's outputs, in order.
    pub fn outputs(&self, program: &Program) -> Vec<Vec<i64>> {
        program.outputs.iter().map(|o| self.values[o.value].clone()).collect()
    }
}

/// Quantizes float inputs at each input's scale ([`Program::input_scale`]),
/// checking count, length, finiteness, and that an integer input holds
/// integers of its type.
pub fn quantize_inputs(program: &Program, inputs: &[Vec<f64>]) -> Result<Vec<Vec<i64>>, IrError> {
    if inputs.len() != program.inputs.len() {
        return Err(IrError::InputCount { expected: program.inputs.len(), got: inputs.len() });
    }
    program
        .inputs
        .iter()
        .zip(inputs)
        .enumerate()
        .map(|(index, (spec, data))| {
            let expected: usize = spec.shape.iter().product();
            if data.len() != expected {
                return Err(IrError::InputLength {
                    index,
                    name: spec.name.clone(),
                    shape: spec.shape.clone(),
                    expected,
                    got: data.len(),
                });
            }
            if let Some(bound) = &spec.bound {
                if data.len() != bound.len() || data.iter().zip(bound).any(|(&x, &b)| x != b) {
                    return Err(IrError::BoundInput {
                        index,
                        name: spec.name.clone(),
                        expected: bound.clone(),
                        got: data.clone(),
                    });
                }
                // Not read by any node: the program holds the values as constants.
                return Ok(vec![0; bound.len()]);
            }
            let s = program.input_scale(index);
            data.iter()
                .enumerate()
                .map(|(element, &x)| {
                    if let Some((lo, hi)) = spec.int_range {
                        if !(x.fract() == 0.0 && x >= lo as f64 && x <= hi as f64) {
                            let name = spec.name.clone();
                            return Err(IrError::NotInType { index, name, element, value: x, lo, hi });
                        }
                    }
                    quantize(x, s).ok_or(IrError::NotFinite { index, name: spec.name.clone(), element, value: x })
                })
                .collect()
        })
        .collect()
}

/// Splits `x + h` into `q * 2^shift + r` with `h = 2^(shift-1)` (0 for shift 0)
/// and `0 <= r < 2^shift`: round half up.
pub fn rescale(x: i64, shift: u32) -> (i64, i64) {
    if shift == 0 {
        return (x, 0);
    }
    let d = 1i64 << shift;
    let t = x + (d >> 1);
    (t.div_euclid(d), t.rem_euclid(d))
}

/// Floor division `num = q * den + r`, `0 <= r < den`; `None` unless `den > 0`.
pub fn divide(num: i64, den: i64) -> Option<(i64, i64)> {
    (den > 0).then(|| (num.div_euclid(den), num.rem_euclid(den)))
}

pub fn activate(act: Activation, q: i64) -> i64 {
    match act {
        Activation::Identity => q,
        Activation::Relu => q.max(0),
    }
}

/// Runs the program on quantized inputs, checking every range the circuit
/// constrains, so that proving never starts on a witness that cannot satisfy it.
pub fn eval(program: &Program, inputs: &[Vec<i64>]) -> Result<Trace, IrError> {
    if inputs.len() != program.inputs.len() {
        return Err(IrError::InputCount { expected: program.inputs.len(), got: inputs.len() });
    }
    let (lo, hi) = program.quant.act_bounds();
    let diff_max = program.quant.diff_max();
    let mut values: Vec<Vec<i64>> = Vec::with_capacity(program.nodes.len());
    for (i, node) in program.nodes.iter().enumerate() {
        let overflow = || IrError::Overflow { node: i, name: node.name.clone() };
        let out_of_range = |what: &'static str, element: usize, value: i64, lo: i64, hi: i64| IrError::OutOfRange {
            node: i,
            name: node.name.clone(),
            what,
            element,
            value,
            lo,
            hi,
        };
        let concat = |ids: &[usize]| -> Vec<i64> { ids.iter().flat_map(|&v| values[v].iter().copied()).collect() };
        let out: Vec<i64> = match &node.op {
            Op::Input { index } => {
                let data = &inputs[*index];
                let spec = &program.inputs[*index];
                if data.len() != node.len() {
                    return Err(IrError::InputLength {
                        index: *index,
                        name: spec.name.clone(),
                        shape: spec.shape.clone(),
                        expected: node.len(),
                        got: data.len(),
                    });
                }
                for (e, &v) in data.iter().enumerate() {
                    if v < lo || v > hi {
                        return Err(out_of_range("input", e, v, lo, hi));
                    }
                }
                data.clone()
            }
            Op::Linear(l) => {
                let x = concat(&l.inputs);
                let mut out = Vec::with_capacity(l.outputs());
                for o in 0..l.outputs() {
                    let mut acc = l.bias[o] as i128;
                    for t in l.row(o) {
                        acc += x[l.cols[t] as usize] as i128 * l.weights[t] as i128;
                    }
                    out.push(i64::try_from(acc).ok().filter(|v| v.unsigned_abs() < 1 << 62).ok_or_else(overflow)?);
                }
                out
            }
            Op::Bilinear(b) => {
                let (a, bb) = (&values[b.a], &values[b.b]);
                let mut out = Vec::with_capacity(b.outputs());
                for o in 0..b.outputs() {
                    let mut acc = 0i128;
                    for t in b.row(o) {
                        let (ia, ib) = b.pairs[t];
                        acc += a[ia as usize] as i128 * bb[ib as usize] as i128;
                    }
                    out.push(i64::try_from(acc).ok().filter(|v| v.unsigned_abs() < 1 << 62).ok_or_else(overflow)?);
                }
                out
            }
            Op::Requant(r) => {
                let x = &values[r.input];
                let mut out = Vec::with_capacity(x.len());
                for (e, &v) in x.iter().enumerate() {
                    let (q, _) = rescale(v, r.shift);
                    if q < lo || q > hi {
                        return Err(out_of_range("rescaled value", e, q, lo, hi));
                    }
                    out.push(activate(r.act, q));
                }
                out
            }
            Op::Max(m) => {
                let x = &values[m.input];
                let mut out = Vec::with_capacity(m.outputs());
                for o in 0..m.outputs() {
                    let win = &m.cols[m.row(o)];
                    let mx = win.iter().map(|&c| x[c as usize]).max().expect("validated: windows are non-empty");
                    for &c in win {
                        let d = mx - x[c as usize];
                        if d > diff_max {
                            return Err(out_of_range("max-pool difference", o, d, 0, diff_max));
                        }
                    }
                    out.push(mx);
                }
                out
            }
            Op::Gather(g) => {
                let x = concat(&g.inputs);
                g.map.iter().map(|&c| if c == ZERO_SRC { 0 } else { x[c as usize] }).collect()
            }
            Op::Table(t) => {
                let (tlo, thi) = t.domain();
                let mut out = Vec::with_capacity(node.len());
                for (e, &v) in values[t.input].iter().enumerate() {
                    if v < tlo || v > thi {
                        return Err(out_of_range("function table input", e, v, tlo, thi));
                    }
                    out.push(t.values[(v - tlo) as usize]);
                }
                out
            }
            Op::Div(d) => {
                let (num, den) = (&values[d.num], &values[d.den]);
                let den_max = diff_max + 1;
                let mut out = Vec::with_capacity(num.len());
                for (e, &n) in num.iter().enumerate() {
                    let dv = if den.len() == num.len() { den[e] } else { den[0] };
                    if dv < 1 || dv > den_max {
                        return Err(out_of_range("divisor (must be positive)", e, dv, 1, den_max));
                    }
                    let (q, _) = divide(n, dv).expect("positive divisor");
                    if q < lo || q > hi {
                        return Err(out_of_range("quotient", e, q, lo, hi));
                    }
                    out.push(q);
                }
                out
            }
        };
        debug_assert_eq!(out.len(), node.len(), "node {i} produced a wrong length");
        values.push(out);
    }
    Ok(Trace { values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divide_is_floor_division() {
        assert_eq!(divide(7, 2), Some((3, 1)));
        assert_eq!(divide(-7, 2), Some((-4, 1)));
        assert_eq!(divide(5, 0), None);
        assert_eq!(divide(5, -1), None);
    }

    #[test]
    fn rescale_rounds_half_up() {
        assert_eq!(rescale(5, 1), (3, 0)); // 2.5 -> 3
        assert_eq!(rescale(-5, 1), (-2, 0)); // -2.5 -> -2
        assert_eq!(rescale(-6, 2), (-1, 0)); // -1.5 -> -1
        assert_eq!(rescale(-7, 2), (-2, 3)); // -1.75 -> -2
        assert_eq!(rescale(7, 0), (7, 0));
        for x in -300..300 {
            let (q, r) = rescale(x, 4);
            assert_eq!(q * 16 + r, x + 8);
            assert!((0..16).contains(&r));
            assert!(((x as f64) / 16.0 - q as f64).abs() <= 0.5);
        }
    }
}
