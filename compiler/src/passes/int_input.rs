//! Integer graph inputs, read exactly: an ONNX input of an integer (or bool)
//! element type must be an integer of that type, and the circuit proves it.
//!
//! A float input is read at the program scale `s` and only its activation
//! range is checked, so the prover could witness any fixed-point value.
//! For an integer input that is a soundness gap (a private uint8 input
//! witnessed as -1, 300 or 2.5 breaks BitShift's wraparound, one-hot
//! indices, uint8 QOperator arithmetic). So an integer input's `Input` node
//! is at scale 0 (its witness *is* the integer `x`; the circuit's activation
//! range check holds it to `[-2^B, 2^B)`) and the nodes below check the rest
//! of the type's range `[lo, hi]` (intersected with the activation range):
//!
//! - width `2^bits <= 256`: an identity `Table` over `[lo, hi]` (the lookup
//!   is the range check);
//! - wider (int16, uint16, uint32, ...): `u = x - lo - 2^(k-1)`,
//!   `q = Requant{k}(u) = floor((x - lo) / 2^k)` with `k = bits - 8`, an
//!   identity `Table` over `[0, 256)` asserting `q` is in it (so
//!   `0 <= x - lo < 2^bits`), and `x - q + table(q)` (`= x`; it keeps the
//!   check alive);
//! - nothing more where the activation range is already inside the type
//!   (int32, int64: `B <= 30`).
//!
//! Then a `Linear` `× 2^scale` puts the checked integers at the scale the
//! rest of the program reads.

use ir::{Activation, LinearOp, Node, Op, RequantOp, TableOp};

use crate::frontend::index::numel;

/// The nodes [`int_input`] made, with each one's `(min, max)` in its integers.
pub struct IntInput {
    pub nodes: Vec<(Node, (f64, f64))>,
    /// Id of the node holding the integers themselves (scale 0), once
    /// checked: read it, not the `Input` node, so the check stays alive.
    pub integer: usize,
    /// Id of the node holding the input at `scale`.
    pub value: usize,
}

/// `[lo, hi]` of an ONNX integer element type (`None` for other types).
pub fn type_range(elem: i32) -> Option<(i64, i64)> {
    Some(match elem {
        2 => (0, u8::MAX as i64),
        3 => (i8::MIN as i64, i8::MAX as i64),
        4 => (0, u16::MAX as i64),
        5 => (i16::MIN as i64, i16::MAX as i64),
        6 => (i32::MIN as i64, i32::MAX as i64),
        7 => (i64::MIN, i64::MAX),
        9 => (0, 1),
        12 => (0, u32::MAX as i64),
        13 => (0, i64::MAX),
        _ => return None,
    })
}

/// Bits of the table that checks the high part of a wide range.
const CHECK_BITS: u32 = 8;

/// The nodes reading integer input `index` (element type range `ty`) as the
/// integers at `scale`, numbered from `first`; `range_bits` is the program's
/// activation range (the Input node's own check).
pub fn int_input(
    first: usize,
    name: &str,
    index: usize,
    shape: &[usize],
    ty: (i64, i64),
    scale: u32,
    range_bits: u32,
) -> IntInput {
    let act = (-(1i64 << range_bits), (1i64 << range_bits) - 1);
    let (lo, hi) = (ty.0.max(act.0), ty.1.min(act.1));
    let n = numel(shape);
    let unit = 1i64 << scale;
    let mut nodes: Vec<(Node, (f64, f64))> = vec![];
    let mut push = |suffix: &str, op: Op, scale: u32, range: (i64, i64)| {
        let name = if suffix.is_empty() { name.to_string() } else { format!("{name}/{suffix}") };
        nodes.push((Node { name, op, shape: shape.to_vec(), scale }, (range.0 as f64, range.1 as f64)));
        first + nodes.len() - 1
    };
    let scaled = (lo.saturating_mul(unit), hi.saturating_mul(unit));
    // The activation range check is the type's (int32, int64).
    let implied = lo == act.0 && hi == act.1;
    let x = push(if implied && scale == 0 { "" } else { "integers" }, Op::Input { index }, 0, (lo, hi));
    let width = (hi - lo) as u64 + 1;
    let bits = 64 - (width - 1).leading_zeros();
    let diagonal = |inputs: Vec<usize>, weights: &[i64], bias: i64| {
        let k = inputs.len();
        LinearOp {
            inputs,
            row_ptr: (0..=n as u32).map(|i| i * k as u32).collect(),
            cols: (0..n as u32).flat_map(|e| (0..k as u32).map(move |j| j * n as u32 + e)).collect(),
            weights: (0..n).flat_map(|_| weights.iter().copied()).collect(),
            bias: vec![bias; n],
            params: None,
        }
    };
    // `checked`: the integers, once the type's range is proven.
    let checked = if implied {
        x
    } else if bits <= CHECK_BITS {
        let suffix = if scale == 0 { "" } else { "checked" };
        push(suffix, Op::Table(TableOp { input: x, lo, values: (lo..=hi).collect() }), 0, (lo, hi))
    } else {
        let k = bits - CHECK_BITS;
        let half = 1i64 << (k - 1);
        let u = push("offset", Op::Linear(diagonal(vec![x], &[1], -lo - half)), 0, (-half, hi - lo - half));
        let top = (1i64 << CHECK_BITS) - 1;
        let q = push("high", Op::Requant(RequantOp { input: u, shift: k, act: Activation::Identity }), 0, (0, top));
        let table = TableOp { input: q, lo: 0, values: (0..=top).collect() };
        let t = push("type_check", Op::Table(table), 0, (0, top));
        let suffix = if scale == 0 { "" } else { "checked" };
        push(suffix, Op::Linear(diagonal(vec![x, q, t], &[1, -1, 1], 0)), 0, (lo, hi))
    };
    let value =
        if scale == 0 { checked } else { push("", Op::Linear(diagonal(vec![checked], &[unit], 0)), scale, scaled) };
    IntInput { nodes, integer: checked, value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{InputSpec, Program, QuantSettings, Visibility};

    fn program(ty: (i64, i64), scale: u32, range_bits: u32) -> Program {
        let r = int_input(0, "x", 0, &[3], ty, scale, range_bits);
        let value = r.value;
        Program {
            format_version: ir::FORMAT_VERSION,
            name: "t".into(),
            quant: QuantSettings { scale_bits: scale, range_bits },
            inputs: vec![InputSpec { name: "x".into(), shape: vec![3], bound: None, int_range: Some(ty) }],
            nodes: r.nodes.into_iter().map(|(n, _)| n).collect(),
            outputs: vec![ir::OutputSpec { name: "y".into(), value, shape: vec![3], dequant: None }],
            input_visibility: Visibility::Private,
            output_visibility: Visibility::Public,
            params: None,
        }
    }

    fn run(p: &Program, x: &[i64]) -> Result<Vec<i64>, ir::IrError> {
        let t = ir::eval(p, &[x.to_vec()])?;
        Ok(t.values[p.outputs[0].value].clone())
    }

    #[test]
    fn integers_of_the_type_read_exactly_and_others_fail() {
        for (elem, scale, range_bits) in [(2, 6, 12), (3, 6, 12), (9, 4, 8), (4, 6, 20), (5, 3, 20), (12, 2, 30)] {
            let ty = type_range(elem).unwrap();
            let p = program(ty, scale, range_bits);
            p.validate().unwrap();
            let act = (-(1i64 << range_bits), (1i64 << range_bits) - 1);
            let (lo, hi) = (ty.0.max(act.0), ty.1.min(act.1));
            let xs = [lo, hi, (lo + hi) / 2];
            assert_eq!(run(&p, &xs).unwrap(), xs.map(|x| x << scale), "elem {elem}");
            for bad in [lo - 1, hi + 1] {
                assert!(run(&p, &[bad, lo, lo]).is_err(), "elem {elem}: {bad} accepted");
            }
        }
    }

    #[test]
    fn wide_signed_types_need_only_the_activation_check() {
        for elem in [6, 7] {
            let p = program(type_range(elem).unwrap(), 5, 20);
            assert_eq!(p.nodes.len(), 2, "elem {elem}: Input and the scaling Linear");
        }
    }

    #[test]
    fn quantize_inputs_refuses_values_outside_the_type() {
        let p = program(type_range(2).unwrap(), 6, 12);
        assert_eq!(ir::quantize_inputs(&p, &[vec![0.0, 255.0, 7.0]]).unwrap(), vec![vec![0, 255, 7]]);
        for bad in [-1.0, 256.0, 2.5, f64::NAN] {
            let e = ir::quantize_inputs(&p, &[vec![bad, 0.0, 0.0]]).unwrap_err();
            assert!(matches!(e, ir::IrError::NotInType { element: 0, lo: 0, hi: 255, .. }), "{bad}: {e}");
        }
    }
}
