//! The graph walk of the quantized lowering: each float-graph node becomes
//! rows (symbolic sums over integer values) or integer program values;
//! contractions, max pooling and the outputs.

use super::*;
use crate::passes::int_input;

impl<'g> Lowerer<'g> {
    /// The smallest non-zero coefficient magnitude of `rows` (the natural
    /// resolution of the value), or `None` when every row is constant.
    pub(super) fn finest(rows: &[Row]) -> Option<f64> {
        let mut m = f64::INFINITY;
        for r in rows {
            for &(_, w) in &r.lin.terms {
                if w != 0.0 {
                    m = m.min(w.abs());
                }
            }
            for (c, a) in &r.relus {
                for &(_, w) in &a.terms {
                    if w * c != 0.0 {
                        m = m.min((w * c).abs());
                    }
                }
            }
        }
        m.is_finite().then_some(m)
    }

    /// Rounds `rows` to integers at `unit` (2^-OUT_EXTRA_BITS of the finest
    /// coefficient, a power of two) and returns the equivalent linear rows.
    pub(super) fn materialize(&mut self, name: &str, rows: &[Row]) -> Result<Vec<Row>> {
        let Some(fine) = Self::finest(rows) else { return Ok(rows.to_vec()) };
        let unit = 2f64.powi(fine.log2().floor() as i32 - OUT_EXTRA_BITS as i32);
        let n = rows.len();
        let s = self.round_parts(name, rows, &vec![unit; n], &vec![0; n], false)?;
        Ok((0..n)
            .map(|i| Row {
                lin: Lin {
                    terms: s.parts.iter().map(|(id, signs)| ((*id, i), signs[i] as f64 * unit)).collect(),
                    bias: s.konst[i] as f64 * unit,
                },
                relus: vec![],
            })
            .collect())
    }

    pub(super) fn contract(&mut self, v: ValueId, c: &Contract) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (w, idx_w, x, idx_x) = match (self.g.konst(a), self.g.konst(b)) {
            (_, Some(w)) => (w.to_f64(), &c.terms.b_idx, a, &c.terms.a_idx),
            (Some(w), None) => (w.to_f64(), &c.terms.a_idx, b, &c.terms.b_idx),
            _ if self.dynamic => return self.dyn_product(v, c),
            _ => return self.act_product(v, c),
        };
        let mut xr = self.rows(x)?;
        let fan_in = xr.iter().map(|r| r.terms()).max().unwrap_or(0);
        if xr.iter().any(|r| !r.relus.is_empty()) || fan_in > 4 {
            xr = self.materialize(&format!("{name}/input"), &xr)?;
        }
        let n = c.terms.rows();
        let mut out = Vec::with_capacity(n);
        for o in 0..n {
            let mut row = Row::default();
            row.lin.bias = c.bias.as_ref().map(|b| b[o]).unwrap_or(0.0);
            for t in c.terms.row(o) {
                let wt = w[idx_w[t] as usize];
                if wt != 0.0 {
                    row.add(&xr[idx_x[t] as usize], wt);
                }
            }
            out.push(row);
        }
        Ok(QVal::Float(out))
    }

    /// Max over windows: on the integers when every window's elements share
    /// one positive coefficient and bias, else on materialized values.
    pub(super) fn max(&mut self, v: ValueId, row_ptr: &[u32], cols: &[u32]) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let mut xr = self.rows(node.inputs[0])?;
        for attempt in 0..2 {
            let simple = |r: &Row| match r.lin.terms.as_slice() {
                [(s, w)] if r.relus.is_empty() && *w > 0.0 => Some((*s, *w, r.lin.bias)),
                _ => None,
            };
            let singles: Option<Vec<(Src, f64, f64)>> = xr.iter().map(simple).collect();
            let ok = singles.as_ref().is_some_and(|s| {
                (0..row_ptr.len() - 1).all(|o| {
                    let win = &cols[row_ptr[o] as usize..row_ptr[o + 1] as usize];
                    win.iter().all(|&c| {
                        let (a, b) = (s[c as usize], s[win[0] as usize]);
                        a.1 == b.1 && a.2 == b.2
                    })
                })
            });
            if let (true, Some(s)) = (ok, singles) {
                // Gather the sources into one value, then Max over it.
                let mut inputs: Vec<usize> = vec![];
                let mut offsets: HashMap<usize, u32> = HashMap::new();
                let mut map = Vec::with_capacity(s.len());
                for &((id, e), _, _) in &s {
                    let off = match offsets.get(&id) {
                        Some(&o) => o,
                        None => {
                            let o = inputs.iter().map(|&x| self.nodes[x].len()).sum::<usize>() as u32;
                            inputs.push(id);
                            offsets.insert(id, o);
                            o
                        }
                    };
                    map.push(off + e as u32);
                }
                let range = inputs
                    .iter()
                    .map(|&i| self.range[i])
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
                let identity = inputs.len() == 1 && map.iter().enumerate().all(|(i, &m)| m as usize == i);
                let src = if identity {
                    inputs[0]
                } else {
                    let n = map.len();
                    self.emit(format!("{name}/gather"), Op::Gather(GatherOp { inputs, map }), vec![n], 0, range)
                };
                let op = Op::Max(MaxOp { input: src, row_ptr: row_ptr.to_vec(), cols: cols.to_vec() });
                let m = self.emit(name.clone(), op, vec![row_ptr.len() - 1], 0, range);
                if let Some(&r) = self.int_ranges.get(&src) {
                    self.int_ranges.insert(m, r);
                }
                let rows = (0..row_ptr.len() - 1)
                    .map(|o| {
                        let (_, w, b) = s[cols[row_ptr[o] as usize] as usize];
                        Row { lin: Lin { terms: vec![((m, o), w)], bias: b }, relus: vec![] }
                    })
                    .collect();
                return Ok(QVal::Float(rows));
            }
            if attempt == 0 {
                xr = self.materialize(&format!("{name}/input"), &xr)?;
            }
        }
        Err(internal(&name, "max over elements with different scales"))
    }

    pub(super) fn node(&mut self, v: ValueId) -> Result<()> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let q = match &node.op {
            FOp::Const(_) => return Ok(()),
            FOp::Input(i) => {
                let spec = node.shape.clone();
                let id = match self.g.inputs[*i].int_range {
                    Some(ty) => {
                        let first = self.nodes.len();
                        let max_bits = QuantSettings::MAX_RANGE_BITS;
                        let r = int_input::int_input(first, &name, *i, &spec, ty, self.input_bits, max_bits);
                        for (n, range) in r.nodes {
                            self.nodes.push(n);
                            self.range.push(range);
                        }
                        self.int_inputs.insert(r.value, r.integer);
                        r.value
                    }
                    None => {
                        let b = 2f64.powi(self.input_range_bits as i32);
                        self.emit(name, Op::Input { index: *i }, spec, self.input_bits, (-b, b))
                    }
                };
                let w = 2f64.powi(-(self.input_bits as i32));
                QVal::Float(
                    (0..self.nodes[id].len())
                        .map(|e| Row { lin: Lin { terms: vec![((id, e), w)], bias: 0.0 }, relus: vec![] })
                        .collect(),
                )
            }
            FOp::Reshape => self.value(node.inputs[0])?,
            FOp::Gather(map) => {
                let mut cat: Vec<Row> = vec![];
                for &i in &node.inputs {
                    cat.extend(self.rows(i)?);
                }
                QVal::Float(
                    map.iter().map(|&m| if m == ZERO_SRC { Row::default() } else { cat[m as usize].clone() }).collect(),
                )
            }
            FOp::Affine(a) => {
                let mut cat: Vec<Row> = vec![];
                for &i in &node.inputs {
                    cat.extend(self.rows(i)?);
                }
                let mut out = Vec::with_capacity(a.bias.len());
                for o in 0..a.bias.len() {
                    let mut row = Row::default();
                    row.lin.bias = a.bias[o];
                    for t in a.row(o) {
                        row.add(&cat[a.cols[t] as usize], a.weights[t]);
                    }
                    out.push(row);
                }
                QVal::Float(out)
            }
            FOp::Contract(c) => self.contract(v, c)?,
            FOp::Max(w) => self.max(v, &w.row_ptr, &w.cols)?,
            FOp::Relu => {
                let mut rows = self.rows(node.inputs[0])?;
                let already =
                    |r: &Row| r.lin.terms.is_empty() && r.lin.bias == 0.0 && r.relus.iter().all(|(c, _)| *c > 0.0);
                if rows.iter().all(already) {
                    // relu(c * relu(a)) = c * relu(a) for c > 0.
                    if rows.iter().all(|r| r.relus.len() <= 1) {
                        self.vals[v] = Some(QVal::Float(rows));
                        return Ok(());
                    }
                }
                if rows.iter().any(|r| !r.relus.is_empty()) {
                    rows = self.materialize(&format!("{name}/input"), &rows)?;
                }
                QVal::Float(rows.into_iter().map(|r| Row { lin: Lin::default(), relus: vec![(1.0, r.lin)] }).collect())
            }
            FOp::Quantize(q) => {
                let rows = self.rows(node.inputs[0])?;
                self.quantize(&name, &rows, q)?
            }
            FOp::DynQuant(part) => {
                let x = node.inputs[0];
                if !self.dyn_cache.contains_key(&x) {
                    let parts = self.dyn_quantize(&name, x)?;
                    self.dyn_cache.insert(x, parts);
                }
                let i = match part {
                    DynPart::Y => 0,
                    DynPart::Scale => 1,
                    DynPart::ZeroPoint => 2,
                };
                self.dyn_cache[&x][i].clone()
            }
            FOp::QTable(t) => self.qtable(v, t)?,
            // Function tables and steps inside a quantized graph (e.g. a float
            // Sigmoid between DQ and Q) are not lowered with integer semantics yet.
            FOp::Func(_) | FOp::Step { .. } | FOp::BitShift(_) => {
                return Err(CompileError::Unsupported {
                    ops: vec![(format!("{} in a quantized graph", node.op.kind()), name)],
                })
            }
        };
        self.vals[v] = Some(q);
        Ok(())
    }

    /// Graph output `v` as a program value, its node scale and dequantization.
    pub(super) fn output(&mut self, name: &str, v: ValueId) -> Result<(usize, Option<OutputDequant>)> {
        let q = self.value(v)?;
        let node = &self.g.nodes[v];
        // Exactly a DequantizeLinear of a quantized tensor: the integers themselves.
        if let (FOp::Affine(a), [src]) = (&node.op, node.inputs.as_slice()) {
            if let Some(QVal::Int { id, neg, off, lo, hi }) = self.vals[*src].clone() {
                let n = a.bias.len();
                let diagonal = a.row_ptr.iter().enumerate().all(|(o, &r)| r as usize == o)
                    && a.cols.iter().enumerate().all(|(o, &c)| c as usize == o)
                    && n == self.nodes[id].len();
                let zp: Option<Vec<i64>> = (0..n)
                    .map(|o| {
                        let z = -a.bias.get(o)? / a.weights.get(o)?;
                        (diagonal && z.fract() == 0.0 && a.weights[o] > 0.0).then_some(z as i64)
                    })
                    .collect();
                if let Some(zp) = zp {
                    let id = self.materialize_int(name, id, neg, off, lo, hi);
                    return Ok((id, Some(OutputDequant { scale: a.weights.clone(), zero_point: zp })));
                }
            }
        }
        match q {
            QVal::Int { id, neg, off, lo, hi } => Ok((self.materialize_int(name, id, neg, off, lo, hi), None)),
            QVal::Float(rows) => {
                let fine = Self::finest(&rows).unwrap_or(1.0);
                let bits = if self.dynamic {
                    DYN_UNIT_BITS
                } else {
                    (OUT_EXTRA_BITS as i32 - fine.log2().floor() as i32).clamp(0, 62) as u32
                };
                let n = rows.len();
                let unit = 2f64.powi(-(bits as i32));
                let from = self.nodes.len();
                let s = self.round_parts(name, &rows, &vec![unit; n], &vec![0; n], false)?;
                if self.dynamic {
                    self.clip_dyn(from);
                }
                let (id, off) = self.single(name, &s);
                let id = if off != 0 {
                    let sum = Sum { parts: vec![(id, vec![1; n])], konst: vec![off; n] };
                    self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity)
                } else {
                    id
                };
                self.nodes[id].scale = bits;
                Ok((id, None))
            }
        }
    }

    /// A lookup on quantized integers (QLinearSigmoid/QLinearLeakyRelu): one
    /// `Table` row per element, indexed by the program value `v` itself
    /// (`y = ±v + off` folded into the table).
    pub(super) fn qtable(&mut self, v: ValueId, t: &QTable) -> Result<QVal> {
        let node = &self.g.nodes[v];
        let name = node.name.clone();
        let Some(QVal::Int { id, neg, off, lo, hi }) = self.vals[node.inputs[0]].clone() else {
            return Err(CompileError::Unsupported {
                ops: vec![("quantized lookup of a tensor that is not a quantized activation".into(), name)],
            });
        };
        let (vlo, vhi) = if neg { (off - hi, off - lo) } else { (lo - off, hi - off) };
        let values = (vlo..=vhi)
            .map(|x| {
                let y = if neg { -x } else { x } + off;
                usize::try_from(y - t.lo).ok().and_then(|i| t.values.get(i).copied()).ok_or_else(|| {
                    internal(
                        &name,
                        format!("input {y} outside the table's [{}, {}]", t.lo, t.lo + t.values.len() as i64 - 1),
                    )
                })
            })
            .collect::<Result<Vec<i64>>>()?;
        let (ylo, yhi) = (values.iter().copied().min().unwrap_or(0), values.iter().copied().max().unwrap_or(0));
        let len = self.nodes[id].len();
        let op = Op::Table(TableOp { input: id, lo: vlo, values });
        let out = self.emit(name, op, vec![len], 0, (ylo as f64, yhi as f64));
        self.int_ranges.insert(out, (ylo, yhi));
        Ok(QVal::Int { id: out, neg: false, off: 0, lo: ylo, hi: yhi })
    }

    /// The quantized integers `±v + off` as one program value.
    pub(super) fn materialize_int(&mut self, name: &str, id: usize, neg: bool, off: i64, lo: i64, hi: i64) -> usize {
        if !neg && off == 0 {
            return id;
        }
        let n = self.nodes[id].len();
        let sum = Sum { parts: vec![(id, vec![if neg { -1 } else { 1 }; n])], konst: vec![off; n] };
        let out = self.emit_sum(name, &sum, 1, &vec![0; n], Activation::Identity);
        self.int_ranges.insert(out, (lo, hi));
        out
    }
}
