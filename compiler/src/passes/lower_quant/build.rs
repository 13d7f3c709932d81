//! Node builders of the quantized lowering: emitting nodes with their static
//! ranges, rounding sums of rows to integers (requant, half to even,
//! saturation) and QuantizeLinear itself.

use super::*;

impl<'g> Lowerer<'g> {
    pub(super) fn emit(&mut self, name: String, op: Op, shape: Vec<usize>, scale: u32, range: (f64, f64)) -> usize {
        self.nodes.push(Node { name, op, shape, scale });
        self.range.push(range);
        self.nodes.len() - 1
    }

    /// Static bound of `|v|`.
    pub(super) fn bound(&self, v: usize) -> f64 {
        let (a, b) = self.range[v];
        a.abs().max(b.abs())
    }

    /// `(min, max)` of `w * v` plus `acc`.
    pub(super) fn add_term(&self, acc: (f64, f64), v: usize, w: f64) -> (f64, f64) {
        let (a, b) = self.range[v];
        let (x, y) = if w >= 0.0 { (a * w, b * w) } else { (b * w, a * w) };
        (acc.0 + x, acc.1 + y)
    }

    /// A requant's `(min, max)` from its input's, at `shift`, after `act`.
    pub(super) fn requant_range(&self, input: (f64, f64), shift: u32, act: Activation) -> (f64, f64) {
        let d = 2f64.powi(shift as i32);
        let (a, b) = ((input.0 / d).floor(), (input.1 / d).ceil() + 1.0);
        match act {
            Activation::Identity => (a, b),
            Activation::Relu => (a.max(0.0), b.max(0.0)),
        }
    }

    pub(super) fn rows_of(&self, q: &QVal) -> Vec<Row> {
        match q {
            QVal::Float(r) => r.clone(),
            &QVal::Int { id, neg, off, .. } => (0..self.nodes[id].len())
                .map(|i| Row {
                    lin: Lin { terms: vec![((id, i), if neg { -1.0 } else { 1.0 })], bias: off as f64 },
                    relus: vec![],
                })
                .collect(),
        }
    }

    pub(super) fn value(&mut self, v: ValueId) -> Result<QVal> {
        if let Some(q) = &self.vals[v] {
            return Ok(q.clone());
        }
        let node = &self.g.nodes[v];
        match &node.op {
            FOp::Const(t) => {
                let rows = t
                    .to_f64()
                    .into_iter()
                    .map(|x| Row { lin: Lin { terms: vec![], bias: x }, relus: vec![] })
                    .collect();
                Ok(QVal::Float(rows))
            }
            _ => Err(internal(&node.name, "value used before it is computed")),
        }
    }

    pub(super) fn rows(&mut self, v: ValueId) -> Result<Vec<Row>> {
        let q = self.value(v)?;
        Ok(self.rows_of(&q))
    }

    /// Emits `round(lin_i / div_i) + extra_i` for every element (`Linear`,
    /// then `Requant{n, act}`; no requant when the map is exact in integers),
    /// then `act`. Rounds half up, or half to even where the multipliers are
    /// exact and a tie is possible (see [`Self::half_even`]).
    pub(super) fn scaled(
        &mut self,
        name: &str,
        lins: &[Lin],
        div: &[f64],
        extra: &[i64],
        act: Activation,
        even: bool,
    ) -> Result<usize> {
        let n_out = lins.len();
        let mut exact = true;
        let mut acc_max: f64 = 1.0;
        for (i, l) in lins.iter().enumerate() {
            let mut a = (l.bias / div[i]).abs() + extra[i].unsigned_abs() as f64;
            exact &= (l.bias / div[i]).fract() == 0.0;
            for &((v, _), w) in &l.terms {
                let r = w / div[i];
                exact &= r.fract() == 0.0;
                a += r.abs() * self.bound(v);
            }
            acc_max = acc_max.max(a);
        }
        let shift: u32 = if exact {
            0
        } else {
            (ACC_BITS - acc_max.log2().ceil() as i32).clamp(0, QuantSettings::MAX_SHIFT as i32) as u32
        };
        if !exact && shift < 16 {
            return Err(internal(name, format!("values too large to requantize precisely (|x| up to {acc_max:.3e})")));
        }
        let mult = 2f64.powi(shift as i32);
        let mut inputs: Vec<usize> = vec![];
        let mut offset: HashMap<usize, u32> = HashMap::new();
        let mut lin =
            LinearOp { inputs: vec![], row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![], params: None };
        let mut lin_range = (f64::INFINITY, f64::NEG_INFINITY);
        // Whether every multiplier is exact at 2^shift (a dyadic scale ratio):
        // then ties are real ties, which onnxruntime rounds to even.
        let mut exact_mult = true;
        let mut gcd: u64 = 1u64 << shift;
        let mut core_bias: Vec<i64> = Vec::with_capacity(n_out);
        for (i, l) in lins.iter().enumerate() {
            let mut r = (0.0f64, 0.0f64);
            for &((v, e), w) in &l.terms {
                exact_mult &= (w / div[i] * mult).fract() == 0.0;
                let m = (w / div[i] * mult).round();
                if m == 0.0 {
                    continue;
                }
                let off = match offset.get(&v) {
                    Some(&o) => o,
                    None => {
                        let o = inputs.iter().map(|&x| self.nodes[x].len()).sum::<usize>() as u32;
                        inputs.push(v);
                        offset.insert(v, o);
                        o
                    }
                };
                lin.cols.push(off + e as u32);
                lin.weights.push(m as i64);
                gcd = gcd_u64(gcd, m.abs() as u64);
                r = self.add_term(r, v, m);
            }
            exact_mult &= (l.bias / div[i] * mult).fract() == 0.0;
            core_bias.push((l.bias / div[i] * mult).round() as i64);
            // In i128: a hostile bias or shift must be an error, not an overflow.
            let wide = ((l.bias / div[i] * mult).round() as i128)
                .saturating_add((extra[i] as i128).saturating_mul(1i128 << shift.min(100)));
            if shift >= 62 || wide.unsigned_abs() >= 1u128 << 62 {
                return Err(internal(name, "a bias or rescale exceeds 62 bits"));
            }
            let bias = wide as i64;
            lin_range = (lin_range.0.min(r.0 + bias as f64), lin_range.1.max(r.1 + bias as f64));
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
        }
        if n_out == 0 {
            lin_range = (0.0, 0.0);
        }
        if lin_range.0.abs().max(lin_range.1.abs()) >= 2f64.powi(62) {
            return Err(internal(name, "accumulator could exceed 62 bits"));
        }
        lin.inputs = inputs;
        let shape = vec![n_out];
        // A tie needs x = 2^(shift-1) mod 2^shift, and x = bias mod gcd.
        let tie_possible = even
            && shift > 0
            && exact_mult
            && core_bias.iter().any(|&b| ((1i128 << (shift - 1)) - b as i128).rem_euclid(gcd as i128) == 0);
        if tie_possible {
            let extra_range = extra.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &e| {
                let e = (e as f64) * mult;
                (a.min(e), b.max(e))
            });
            lin.bias = core_bias;
            let core_range = (lin_range.0 - extra_range.1, lin_range.1 - extra_range.0);
            let id = self.emit(format!("{name}/linear"), Op::Linear(lin), shape, 0, core_range);
            return Ok(self.half_even(name, id, shift, extra, act));
        }
        let id = self.emit(format!("{name}/linear"), Op::Linear(lin), shape.clone(), 0, lin_range);
        if shift == 0 && act == Activation::Identity {
            return Ok(id);
        }
        let qr = self.requant_range(lin_range, shift, act);
        Ok(self.emit(format!("{name}/requant"), Op::Requant(RequantOp { input: id, shift, act }), shape, 0, qr))
    }

    /// `round_half_even(x / 2^shift) + extra` then `act`, from `Requant`s
    /// (which round half up) alone: `a = floor(x / 2^shift)`,
    /// `p = a mod 2` (via `floor(a / 2)`), and
    /// `floor((x + 2^(shift-1) - 1 + p) / 2^shift)`, which is `a + 1` exactly
    /// when the fraction is above one half, or one half and `a` is odd.
    /// Three range rows instead of one; sound by the ops' own constraints.
    pub(super) fn half_even(&mut self, name: &str, x: usize, shift: u32, extra: &[i64], act: Activation) -> usize {
        let n = extra.len();
        let h = 1i64 << (shift - 1);
        let ident = |input: usize, bias: i64| LinearOp {
            inputs: vec![input],
            row_ptr: (0..=n as u32).collect(),
            cols: (0..n as u32).collect(),
            weights: vec![1; n],
            bias: vec![bias; n],
            params: None,
        };
        let xr = self.range[x];
        let fl = self.emit(format!("{name}/floor_in"), Op::Linear(ident(x, -h)), vec![n], 0, (xr.0 - h as f64, xr.1));
        let ar = self.requant_range(self.range[fl], shift, Activation::Identity);
        let a = self.emit(
            format!("{name}/floor"),
            Op::Requant(RequantOp { input: fl, shift, act: Activation::Identity }),
            vec![n],
            0,
            ar,
        );
        let hl = self.emit(format!("{name}/half_in"), Op::Linear(ident(a, -1)), vec![n], 0, (ar.0 - 1.0, ar.1));
        let br = self.requant_range(self.range[hl], 1, Activation::Identity);
        let b = self.emit(
            format!("{name}/half"),
            Op::Requant(RequantOp { input: hl, shift: 1, act: Activation::Identity }),
            vec![n],
            0,
            br,
        );
        let mut lin = LinearOp {
            inputs: vec![x, a, b],
            row_ptr: vec![0],
            cols: vec![],
            weights: vec![],
            bias: vec![],
            params: None,
        };
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, &e) in extra.iter().enumerate() {
            lin.cols.extend([i as u32, (n + i) as u32, (2 * n + i) as u32]);
            lin.weights.extend([1, 1, -2]);
            let bias = -1 + e * (1i64 << shift);
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
            let r = self.add_term(self.add_term(self.add_term((0.0, 0.0), x, 1.0), a, 1.0), b, -2.0);
            range = (range.0.min(r.0 + bias as f64), range.1.max(r.1 + bias as f64));
        }
        let f = self.emit(format!("{name}/even_in"), Op::Linear(lin), vec![n], 0, range);
        let qr = self.requant_range(range, shift, act);
        self.emit(format!("{name}/requant"), Op::Requant(RequantOp { input: f, shift, act }), vec![n], 0, qr)
    }

    /// Rounds every part of `rows` at `div` (per element): the linear part to
    /// `round(lin / div) + extra`, each relu term `c * relu(arg)` to
    /// `sign(c) * relu(round(|c| * arg / div))`.
    pub(super) fn round_parts(
        &mut self,
        name: &str,
        rows: &[Row],
        div: &[f64],
        extra: &[i64],
        even: bool,
    ) -> Result<Sum> {
        let n = rows.len();
        let mut sum = Sum { parts: vec![], konst: vec![0; n] };
        let has_lin = rows.iter().any(|r| !r.lin.terms.is_empty() || r.lin.bias != 0.0);
        if has_lin {
            let lins: Vec<Lin> = rows.iter().map(|r| r.lin.clone()).collect();
            let id = self.scaled(name, &lins, div, extra, Activation::Identity, even)?;
            sum.parts.push((id, vec![1; n]));
        } else {
            sum.konst = extra.to_vec();
        }
        let slots = rows.iter().map(|r| r.relus.len()).max().unwrap_or(0);
        for j in 0..slots {
            let lins: Vec<Lin> =
                rows.iter().map(|r| r.relus.get(j).map(|(c, a)| a.scaled(c.abs())).unwrap_or_default()).collect();
            let signs: Vec<i64> =
                rows.iter().map(|r| r.relus.get(j).map(|(c, _)| if *c < 0.0 { -1 } else { 1 }).unwrap_or(1)).collect();
            let id = self.scaled(&format!("{name}/relu{j}"), &lins, div, &vec![0; n], Activation::Relu, even)?;
            sum.parts.push((id, signs));
        }
        Ok(sum)
    }

    /// Static `(min, max)` of a sum over all elements.
    pub(super) fn sum_range(&self, s: &Sum) -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..s.konst.len() {
            let mut r = (s.konst[i] as f64, s.konst[i] as f64);
            for (id, signs) in &s.parts {
                r = self.add_term(r, *id, signs[i] as f64);
            }
            lo = lo.min(r.0);
            hi = hi.max(r.1);
        }
        (lo, hi)
    }

    /// Emits `sign * (sum) + k` (k per element) as a `Linear` over the parts,
    /// then `act` (a `Requant{0}`) when Relu.
    pub(super) fn emit_sum(&mut self, name: &str, s: &Sum, sign: i64, k: &[i64], act: Activation) -> usize {
        let n = s.konst.len();
        let inputs: Vec<usize> = s.parts.iter().map(|(id, _)| *id).collect();
        let mut lin = LinearOp { inputs, row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![], params: None };
        let mut range = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..n {
            let mut r = (0.0, 0.0);
            for (p, (id, signs)) in s.parts.iter().enumerate() {
                lin.cols.push((p * n + i) as u32);
                lin.weights.push(sign * signs[i]);
                r = self.add_term(r, *id, (sign * signs[i]) as f64);
            }
            let bias = sign * s.konst[i] + k[i];
            lin.bias.push(bias);
            lin.row_ptr.push(lin.cols.len() as u32);
            range = (range.0.min(r.0 + bias as f64), range.1.max(r.1 + bias as f64));
        }
        let id = self.emit(format!("{name}/sum"), Op::Linear(lin), vec![n], 0, range);
        if act == Activation::Identity {
            return id;
        }
        let r = self.requant_range(range, 0, act);
        self.emit(format!("{name}/clamp"), Op::Requant(RequantOp { input: id, shift: 0, act }), vec![n], 0, r)
    }

    /// A sum as one program value `v` with `sum = v + off` (off uniform) when
    /// it already is one, else emitted.
    pub(super) fn single(&mut self, name: &str, s: &Sum) -> (usize, i64) {
        if let [(id, signs)] = s.parts.as_slice() {
            if signs.iter().all(|&x| x == 1) && s.konst.windows(2).all(|w| w[0] == w[1]) {
                return (*id, s.konst.first().copied().unwrap_or(0));
            }
        }
        let n = s.konst.len();
        (self.emit_sum(name, s, 1, &vec![0; n], Activation::Identity), 0)
    }

    /// QuantizeLinear of `rows`.
    pub(super) fn quantize(&mut self, name: &str, rows: &[Row], q: &Quantize) -> Result<QVal> {
        let n = rows.len();
        if let Some(v) = self.identity_quantize(rows, q) {
            return Ok(v);
        }
        let (lo, hi) = (q.lo, q.hi);
        let only_lin = rows.iter().all(|r| r.relus.is_empty());
        // Fuse the lower clamp into the requant when there is one linear part.
        let sum = if only_lin {
            let extra: Vec<i64> = q.zero_point.iter().map(|z| z - lo).collect();
            let lins: Vec<Lin> = rows.iter().map(|r| r.lin.clone()).collect();
            let id = self.scaled(name, &lins, &q.scale, &extra, Activation::Relu, true)?;
            Sum { parts: vec![(id, vec![1; n])], konst: vec![0; n] }
        } else {
            let mut s = self.round_parts(name, rows, &q.scale, &q.zero_point, true)?;
            for k in s.konst.iter_mut() {
                *k -= lo;
            }
            if self.sum_range(&s).0 < 0.0 {
                let id = self.emit_sum(name, &s, 1, &vec![0; n], Activation::Relu);
                s = Sum { parts: vec![(id, vec![1; n])], konst: vec![0; n] };
            }
            s
        };
        // `sum` = y - lo >= 0; upper clamp: y = hi - relu(hi - lo - sum).
        if self.sum_range(&sum).1 > (hi - lo) as f64 {
            let u = self.emit_sum(&format!("{name}/sat"), &sum, -1, &vec![hi - lo; n], Activation::Relu);
            return Ok(self.int(u, true, hi, lo, hi));
        }
        let (id, off) = self.single(name, &sum);
        let (a, b) = self.sum_range(&sum);
        Ok(self.int(id, false, off + lo, (a as i64 + lo).max(lo), (b as i64 + lo).min(hi)))
    }

    pub(super) fn int(&mut self, id: usize, neg: bool, off: i64, lo: i64, hi: i64) -> QVal {
        let r = if neg { (off - hi, off - lo) } else { (lo - off, hi - off) };
        self.int_ranges.insert(id, r);
        QVal::Int { id, neg, off, lo, hi }
    }

    /// `Q(DQ(y))` with the same scale, an integral zero-point shift and a
    /// range that cannot saturate: the integers themselves, no rows.
    pub(super) fn identity_quantize(&self, rows: &[Row], q: &Quantize) -> Option<QVal> {
        let mut found: Option<(usize, f64, f64)> = None;
        for (i, r) in rows.iter().enumerate() {
            let [((id, e), w)] = r.lin.terms.as_slice() else { return None };
            if !r.relus.is_empty() || *e != i {
                return None;
            }
            let ratio = w / q.scale[i];
            let k = r.lin.bias / q.scale[i] + q.zero_point[i] as f64;
            if ratio.abs() != 1.0 || k.fract() != 0.0 {
                return None;
            }
            match found {
                None => found = Some((*id, ratio, k)),
                Some(f) if f == (*id, ratio, k) => {}
                _ => return None,
            }
        }
        let (id, ratio, k) = found?;
        // The integers of `id` must be a known range: a quantized tensor.
        let (vlo, vhi) = self.int_ranges.get(&id).copied()?;
        let (ylo, yhi) = if ratio > 0.0 { (vlo + k as i64, vhi + k as i64) } else { (k as i64 - vhi, k as i64 - vlo) };
        // `y = ratio * (±v + off) ...` is folded in the rows already: `ratio * v + k`.
        (ylo >= q.lo && yhi <= q.hi).then_some(QVal::Int { id, neg: ratio < 0.0, off: k as i64, lo: ylo, hi: yhi })
    }
}
