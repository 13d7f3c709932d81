//! Dynamic quantization in the quantized lowering: DynamicQuantizeLinear
//! (run-time scale and zero point through exact divisions) and the products
//! by its run-time scale.

use super::*;

/// Dynamic quantization (DynamicQuantizeLinear, and the products by its run-time scale).
impl<'g> Lowerer<'g> {
    /// Static ranges of the requants emitted from node `from` on, clipped to
    /// the dynamic-graph assumption `|v| < 2^DYN_RANGE_BITS` (their static
    /// bounds, through products by run-time scales, are far too loose to size
    /// anything; the values are range-checked at `range_bits` in the circuit
    /// and by `ir::eval`).
    pub(super) fn clip_dyn(&mut self, from: usize) {
        let b = 2f64.powi(DYN_RANGE_BITS as i32);
        for i in from..self.nodes.len() {
            if matches!(self.nodes[i].op, Op::Requant(_)) {
                let (lo, hi) = self.range[i];
                self.range[i] = (lo.max(-b), hi.min(b));
            }
        }
    }

    pub(super) fn ident_linear(inputs: Vec<usize>, cols: Vec<u32>, weights: Vec<i64>, bias: Vec<i64>) -> LinearOp {
        let per = if bias.is_empty() { 0 } else { cols.len() / bias.len() };
        LinearOp {
            inputs,
            row_ptr: (0..=bias.len()).map(|o| (o * per) as u32).collect(),
            cols,
            weights,
            bias,
            params: None,
        }
    }

    /// `rows` as one integer value `v` with `rows[i] = unit * v[i]`: as is
    /// when it already is one, else rounded at 2^-DYN_UNIT_BITS.
    pub(super) fn dyn_input(&mut self, name: &str, rows: &[Row]) -> Result<(usize, f64)> {
        let direct = rows.first().and_then(|r0| match r0.lin.terms.as_slice() {
            [((id, _), w)] if *w > 0.0 => Some((*id, *w)),
            _ => None,
        });
        if let Some((id, w)) = direct {
            let ok = self.nodes[id].len() == rows.len()
                && rows
                    .iter()
                    .enumerate()
                    .all(|(i, r)| r.relus.is_empty() && r.lin.bias == 0.0 && r.lin.terms.as_slice() == [((id, i), w)]);
            if ok {
                return Ok((id, w));
            }
        }
        let n = rows.len();
        let unit = 2f64.powi(-(DYN_UNIT_BITS as i32));
        let from = self.nodes.len();
        let s = self.round_parts(name, rows, &vec![unit; n], &vec![0; n], false)?;
        self.clip_dyn(from);
        let (id, off) = self.single(name, &s);
        if off == 0 {
            return Ok((id, unit));
        }
        let sum = Sum { parts: vec![(id, vec![1; n])], konst: vec![off; n] };
        Ok((self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity), unit))
    }

    /// DynamicQuantizeLinear of value `x` (uint8): with `X` its integers at
    /// `unit`, `M = max(0, max X)`, `N = max(0, max -X)` (= -min(0, min X)),
    /// `R = M + N` (so `y_scale = R * unit / 255`):
    /// `zp = floor((510 N + R) / 2R)` = round_half_up(255 N / R) and
    /// `y = min(255, floor((510 X + R) / 2R) + zp)`, two exact divisions
    /// (`ir::Op::Div`). `y >= 0` always (the two roundings of arguments
    /// summing to at least 0); only the upper clamp can bind.
    pub(super) fn dyn_quantize(&mut self, name: &str, x: ValueId) -> Result<[QVal; 3]> {
        let rows = self.rows(x)?;
        let n = rows.len();
        if n == 0 {
            return Err(internal(name, "dynamic quantization of an empty tensor"));
        }
        let (xv, unit) = self.dyn_input(&format!("{name}/input"), &rows)?;
        let rx = self.range[xv];
        let all: Vec<u32> = (0..n as u32).chain([ZERO_SRC]).collect();
        let window = |input| MaxOp { input, row_ptr: vec![0, n as u32 + 1], cols: (0..=n as u32).collect() };
        let g = Op::Gather(GatherOp { inputs: vec![xv], map: all.clone() });
        let g = self.emit(format!("{name}/max_in"), g, vec![n + 1], 0, (rx.0.min(0.0), rx.1.max(0.0)));
        let m = self.emit(format!("{name}/max"), Op::Max(window(g)), vec![1], 0, (0.0, rx.1.max(0.0)));
        let neg = Self::ident_linear(vec![xv], (0..n as u32).collect(), vec![-1; n], vec![0; n]);
        let neg = self.emit(format!("{name}/neg"), Op::Linear(neg), vec![n], 0, (-rx.1, -rx.0));
        let g2 = Op::Gather(GatherOp { inputs: vec![neg], map: all });
        let g2 = self.emit(format!("{name}/min_in"), g2, vec![n + 1], 0, ((-rx.1).min(0.0), (-rx.0).max(0.0)));
        let nm = self.emit(format!("{name}/neg_min"), Op::Max(window(g2)), vec![1], 0, (0.0, (-rx.0).max(0.0)));
        let rmax = rx.1.max(0.0) + (-rx.0).max(0.0);
        let r = Self::ident_linear(vec![m, nm], vec![0, 1], vec![1, 1], vec![0]);
        let r = self.emit(format!("{name}/range"), Op::Linear(r), vec![1], 0, (0.0, rmax));
        let den = Self::ident_linear(vec![r], vec![0], vec![2], vec![0]);
        let den = self.emit(format!("{name}/den"), Op::Linear(den), vec![1], 0, (0.0, 2.0 * rmax));
        let zn = Self::ident_linear(vec![nm, r], vec![0, 1], vec![510, 1], vec![0]);
        let zn = self.emit(format!("{name}/zp_num"), Op::Linear(zn), vec![1], 0, (0.0, 511.0 * rmax));
        let zp = self.emit(format!("{name}/zero_point"), Op::Div(ir::DivOp { num: zn, den }), vec![1], 0, (0.0, 255.0));
        let mut cols = Vec::with_capacity(2 * n);
        for e in 0..n as u32 {
            cols.extend([e, n as u32]);
        }
        let yn = Self::ident_linear(vec![xv, r], cols, [510, 1].repeat(n), vec![0; n]);
        let yr = (510.0 * rx.0 - 0.0, 510.0 * rx.1 + rmax);
        let yn = self.emit(format!("{name}/y_num"), Op::Linear(yn), vec![n], 0, yr);
        let q = self.emit(format!("{name}/round"), Op::Div(ir::DivOp { num: yn, den }), vec![n], 0, (-255.0, 255.0));
        // y - 0 = q + zp in [0, 256]; y = 255 - relu(255 - (q + zp)).
        let mut cols = Vec::with_capacity(2 * n);
        for e in 0..n as u32 {
            cols.extend([e, n as u32]);
        }
        let t = Self::ident_linear(vec![q, zp], cols, vec![-1; 2 * n], vec![255; n]);
        let t = self.emit(format!("{name}/sat"), Op::Linear(t), vec![n], 0, (-1.0, 510.0));
        let u = self.emit(
            format!("{name}/sat_relu"),
            Op::Requant(RequantOp { input: t, shift: 0, act: Activation::Relu }),
            vec![n],
            0,
            (0.0, 510.0),
        );
        let y = self.int(u, true, 255, 0, 255);
        let zq = self.int(zp, false, 0, 0, 255);
        let scale =
            QVal::Float(vec![Row { lin: Lin { terms: vec![((r, 0), unit / 255.0)], bias: 0.0 }, relus: vec![] }]);
        Ok([y, scale, zq])
    }

    /// A product of two activations, one of them a run-time scale (one
    /// element `c * R`, e.g. `y_scale * w_scale`) and the other integers
    /// (MatMulInteger/ConvInteger accumulators `A`): `s = round(c R 2^k / u)`
    /// (one requant, `s < 2^DYN_SCALE_BITS`), then `round(A * s / 2^k)` (a
    /// `Bilinear` and a requant): the product at `u = 2^-DYN_UNIT_BITS`,
    /// with `s`'s relative precision ~2^-(DYN_SCALE_BITS - slack of R's bound).
    pub(super) fn dyn_product(&mut self, v: ValueId, c: &Contract) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let refuse =
            |form: &str| CompileError::Quantization { node: name.clone(), op: "Mul".into(), form: form.into() };
        let (ra, rb) = (self.rows(node.inputs[0])?, self.rows(node.inputs[1])?);
        let scalar = |rows: &[Row]| match rows {
            [Row { lin: Lin { terms, bias }, relus }] if relus.is_empty() && *bias == 0.0 => match terms.as_slice() {
                [((id, 0), w)] if *w > 0.0 => Some((*id, *w)),
                _ => None,
            },
            _ => None,
        };
        let ((sid, cs), ints, int_idx) = match (scalar(&ra), scalar(&rb)) {
            (_, Some(s)) if ra.len() != 1 || scalar(&ra).is_none() => (s, ra, &c.terms.a_idx),
            (Some(s), _) => (s, rb, &c.terms.b_idx),
            _ => return self.act_product(v, c),
        };
        if (0..c.terms.rows()).any(|o| c.terms.row(o).len() != 1) {
            return self.act_product(v, c);
        }
        let integral = |x: f64| x.fract() == 0.0;
        let mut lins = Vec::with_capacity(ints.len());
        for r in &ints {
            if !r.relus.is_empty() || !integral(r.lin.bias) || r.lin.terms.iter().any(|(_, w)| !integral(*w)) {
                return Err(refuse("a product of a run-time scale and a tensor that is not an integer accumulator"));
            }
            // Merge repeated sources (the zero point appears once per term).
            let mut merged: Vec<(Src, f64)> = vec![];
            for &(src, w) in &r.lin.terms {
                match merged.iter_mut().find(|(s, _)| *s == src) {
                    Some(m) => m.1 += w,
                    None => merged.push((src, w)),
                }
            }
            merged.retain(|(_, w)| *w != 0.0);
            lins.push(Lin { terms: merged, bias: r.lin.bias });
        }
        let n_int = lins.len();
        let acc = self.scaled(
            &format!("{name}/acc"),
            &lins,
            &vec![1.0; n_int],
            &vec![0; n_int],
            Activation::Identity,
            false,
        )?;
        let unit = 2f64.powi(-(DYN_UNIT_BITS as i32));
        let need = (self.bound(sid).max(1.0) * cs / unit).log2();
        let k = (DYN_SCALE_BITS as f64 - need).floor();
        if !(0.0..=QuantSettings::MAX_SHIFT as f64).contains(&k) {
            return Err(refuse(&format!("a run-time scale product out of the supported range (2^{need:.1} units)")));
        }
        let k = k as u32;
        let sl = Lin { terms: vec![((sid, 0), cs * 2f64.powi(k as i32) / unit)], bias: 0.0 };
        let s = self.scaled(&format!("{name}/scale"), &[sl], &[1.0], &[0], Activation::Identity, false)?;
        let n = c.terms.rows();
        let pairs: Vec<(u32, u32)> = (0..n).map(|o| (int_idx[c.terms.row(o).start], 0)).collect();
        let pb = self.bound(acc) * self.bound(s);
        let p = ir::BilinearOp { a: acc, b: s, row_ptr: (0..=n as u32).collect(), pairs };
        let p = self.emit(format!("{name}/product"), Op::Bilinear(p), vec![n], 0, (-pb, pb));
        let rr = self.requant_range((-pb, pb), k, Activation::Identity);
        let from = self.nodes.len();
        let x = self.emit(
            format!("{name}/rescale"),
            Op::Requant(RequantOp { input: p, shift: k, act: Activation::Identity }),
            vec![n],
            0,
            rr,
        );
        self.clip_dyn(from);
        Ok(QVal::Float(
            (0..n)
                .map(|o| Row {
                    lin: Lin { terms: vec![((x, o), unit)], bias: c.bias.as_ref().map(|b| b[o]).unwrap_or(0.0) },
                    relus: vec![],
                })
                .collect(),
        ))
    }
}
