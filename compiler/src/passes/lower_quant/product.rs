//! Products of two quantized activations (`DQ(a) * DQ(b)` or
//! `MatMul(DQ(a), DQ(b))`, QLinearMatMul with both operands computed), with
//! onnxruntime's integer semantics: each operand as `w * v` for one integer
//! value `v` (the zero-point-shifted integers `q - z`, a `Linear` with bias
//! `-z`), the exact integer accumulator `sum (qa - za)(qb - zb)` as one
//! `Bilinear`, and the rows `sa * sb * acc`, requantized by the following
//! QuantizeLinear (multiplier `sa sb / sy`) as any other accumulator.

use super::*;

/// Shifted integers must stay this small (8-bit tensors are below 2^9).
const OPERAND_BITS: i32 = 24;

impl<'g> Lowerer<'g> {
    /// `rows` as `w * v[i]` for one integer program value `v`: exact when
    /// every row is `w * (u[e] + k)` with one common `w` and an integral `k`
    /// (a DequantizeLinear, possibly through Reshape/Transpose/Gather), else
    /// rounded at 2^-OUT_EXTRA_BITS of the finest coefficient.
    fn int_operand(&mut self, name: &str, rows: &[Row]) -> Result<(usize, f64)> {
        let n = rows.len();
        let w0 = rows.first().and_then(|r| match r.lin.terms.as_slice() {
            [(_, w)] if *w != 0.0 => Some(*w),
            _ => None,
        });
        let simple = |w: f64| {
            rows.iter().all(|r| {
                r.relus.is_empty()
                    && matches!(r.lin.terms.as_slice(), [(_, x)] if *x == w)
                    && (r.lin.bias / w).fract() == 0.0
                    && (r.lin.bias / w).abs() < 2f64.powi(OPERAND_BITS)
            })
        };
        if let Some(w) = w0.filter(|&w| simple(w)) {
            let id0 = rows[0].lin.terms[0].0 .0;
            // An integer graph input (DequantizeLinear of a model input) is
            // read at fixed point 2^-input_bits: round it to its integers
            // first, so the product is not 2^(2 input_bits) too fine.
            let d = 2f64.powi(self.input_bits as i32);
            // An integer-typed input already has its scale-0 integers.
            let from_input = (matches!(self.nodes[id0].op, Op::Input { .. }) || self.int_inputs.contains_key(&id0))
                && self.input_bits > 0
                && rows.iter().all(|r| r.lin.terms[0].0 .0 == id0 && (r.lin.bias / w / d).fract() == 0.0);
            if from_input {
                let ri = match self.int_inputs.get(&id0) {
                    Some(&x) => x,
                    None => {
                        let n0 = self.nodes[id0].len();
                        let rr = self.requant_range(self.range[id0], self.input_bits, Activation::Identity);
                        let op =
                            Op::Requant(RequantOp { input: id0, shift: self.input_bits, act: Activation::Identity });
                        self.emit(format!("{name}/integers"), op, vec![n0], 0, rr)
                    }
                };
                let rows: Vec<Row> = rows
                    .iter()
                    .map(|r| Row {
                        lin: Lin { terms: vec![((ri, r.lin.terms[0].0 .1), w * d)], bias: r.lin.bias },
                        relus: vec![],
                    })
                    .collect();
                return self.int_operand(name, &rows);
            }
            let identity = self.nodes[id0].len() == n
                && rows.iter().enumerate().all(|(i, r)| r.lin.terms[0].0 == (id0, i) && r.lin.bias == 0.0);
            if identity {
                return Ok((id0, w));
            }
            let mut lin = LinearOp {
                inputs: vec![],
                row_ptr: vec![0],
                cols: vec![],
                weights: vec![],
                bias: vec![],
                params: None,
            };
            let mut offset: HashMap<usize, u32> = HashMap::new();
            let mut range = (f64::INFINITY, f64::NEG_INFINITY);
            for r in rows {
                let ((id, e), _) = r.lin.terms[0];
                let off = match offset.get(&id) {
                    Some(&o) => o,
                    None => {
                        let o = lin.inputs.iter().map(|&x| self.nodes[x].len()).sum::<usize>() as u32;
                        lin.inputs.push(id);
                        offset.insert(id, o);
                        o
                    }
                };
                let k = (r.lin.bias / w) as i64;
                lin.cols.push(off + e as u32);
                lin.weights.push(1);
                lin.bias.push(k);
                lin.row_ptr.push(lin.cols.len() as u32);
                let (a, b) = self.add_term((k as f64, k as f64), id, 1.0);
                range = (range.0.min(a), range.1.max(b));
            }
            return Ok((self.emit(format!("{name}/shifted"), Op::Linear(lin), vec![n], 0, range), w));
        }
        let Some(fine) = Self::finest(rows) else {
            return Err(CompileError::Quantization {
                node: name.to_string(),
                op: "Mul".into(),
                form: "a product with an operand that is constant but not an initializer".into(),
            });
        };
        let unit = 2f64.powi(fine.log2().floor() as i32 - OUT_EXTRA_BITS as i32);
        let s = self.round_parts(name, rows, &vec![unit; n], &vec![0; n], false)?;
        let (id, off) = self.single(name, &s);
        if off == 0 {
            return Ok((id, unit));
        }
        let sum = Sum { parts: vec![(id, vec![1; n])], konst: vec![off; n] };
        Ok((self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity), unit))
    }

    /// The contraction `c` of two computed operands: one exact `Bilinear`
    /// over their integers; the rows are `wa * wb * acc + bias`.
    pub(super) fn act_product(&mut self, v: ValueId, c: &Contract) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let ra = self.rows(a)?;
        let (ia, wa) = self.int_operand(&format!("{name}/a"), &ra)?;
        let (ib, wb) = if a == b {
            (ia, wa)
        } else {
            let rb = self.rows(b)?;
            self.int_operand(&format!("{name}/b"), &rb)?
        };
        let n = c.terms.rows();
        let terms = (0..n).map(|o| c.terms.row(o).len()).max().unwrap_or(0) as f64;
        let (ga, gb) = (self.range[ia], self.range[ib]);
        let corners = [ga.0 * gb.0, ga.0 * gb.1, ga.1 * gb.0, ga.1 * gb.1];
        let lo = corners.iter().copied().fold(f64::INFINITY, f64::min).min(0.0) * terms;
        let hi = corners.iter().copied().fold(f64::NEG_INFINITY, f64::max).max(0.0) * terms;
        if lo.abs().max(hi) >= 2f64.powi(ACC_BITS) {
            return Err(internal(&name, format!("a product of activations up to {:.3e}", lo.abs().max(hi))));
        }
        let pairs = c.terms.a_idx.iter().zip(&c.terms.b_idx).map(|(&x, &y)| (x, y)).collect();
        let op = Op::Bilinear(ir::BilinearOp { a: ia, b: ib, row_ptr: c.terms.row_ptr.clone(), pairs });
        let p = self.emit(format!("{name}/product"), op, vec![n], 0, (lo, hi));
        let w = wa * wb;
        Ok(QVal::Float(
            (0..n)
                .map(|o| Row {
                    lin: Lin { terms: vec![((p, o), w)], bias: c.bias.as_ref().map(|b| b[o]).unwrap_or(0.0) },
                    relus: vec![],
                })
                .collect(),
        ))
    }
}
