//! Recurrent layers (RNN, GRU, LSTM), unrolled over the sequence into dense
//! affine maps (constant `W`, `R`, biases), function tables for the gate
//! activations, and elementwise products. Directions forward, reverse and
//! bidirectional; `layout` 0 and 1; initial states constant or computed.
//! Not supported (clear errors): `sequence_lens`, peepholes (`P`), `clip`,
//! and activations other than Sigmoid, Tanh and Relu.

use crate::error::Result;
use crate::frontend::func::Func;
use crate::frontend::graph::{Affine, FOp, ValueId};
use crate::frontend::index::numel;
use crate::frontend::ops::elementwise::{product, weighted_sum};
use crate::frontend::ops::nonlinear::func;
use crate::frontend::{Builder, NodeCtx};

#[derive(Clone, Copy)]
enum Act {
    Func(Func),
    Relu,
}

fn act(ctx: &NodeCtx, name: &str) -> Result<Act> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "sigmoid" => Act::Func(Func::Sigmoid),
        "tanh" => Act::Func(Func::Tanh),
        "relu" => Act::Relu,
        _ => return Err(ctx.attrs().err("activations", format!("activation '{name}' is not supported"))),
    })
}

fn apply(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, a: Act) -> Result<ValueId> {
    match a {
        Act::Func(f) => func(b, ctx, name, x, f),
        Act::Relu => {
            let shape = b.shape(x).to_vec();
            b.push(ctx, name, FOp::Relu, vec![x], shape)
        }
    }
}

/// `out[bb, o] = bias[o] + sum_p sum_j m_p[o, j] * v_p[bb, j]` for `batch`
/// rows; each part `(value, matrix [out x n_p] row-major, n_p)`. Constant
/// parts fold into the bias.
fn dense(
    b: &mut Builder,
    ctx: &NodeCtx,
    name: &str,
    batch: usize,
    parts: &[(ValueId, &[f64], usize)],
    bias: &[f64],
) -> Result<ValueId> {
    let n_out = bias.len();
    let mut inputs = vec![];
    let mut offsets = vec![];
    let mut off = 0u32;
    for &(v, _, n) in parts {
        if b.is_const(v) {
            offsets.push(None);
        } else {
            inputs.push(v);
            offsets.push(Some(off));
            off += (batch * n) as u32;
        }
    }
    let mut a = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![] };
    for bb in 0..batch {
        for o in 0..n_out {
            let mut bias_o = bias[o];
            for (&(v, m, n), offset) in parts.iter().zip(&offsets) {
                for j in 0..n {
                    let w = m[o * n + j];
                    if w == 0.0 {
                        continue;
                    }
                    match offset {
                        Some(base) => {
                            a.cols.push(base + (bb * n + j) as u32);
                            a.weights.push(w);
                        }
                        None => bias_o += w * b.konst(v).map_or(0.0, |t| t.get_f64(bb * n + j)),
                    }
                }
            }
            a.bias.push(bias_o);
            a.row_ptr.push(a.cols.len() as u32);
        }
    }
    b.push(ctx, name, FOp::Affine(a), inputs, vec![batch, n_out])
}

/// Columns `[lo, lo + n)` of a `[batch, width]` value.
fn cols(b: &mut Builder, ctx: &NodeCtx, name: &str, x: ValueId, width: usize, lo: usize, n: usize) -> Result<ValueId> {
    let batch = numel(b.shape(x)) / width.max(1);
    let map = (0..batch).flat_map(|bb| (lo..lo + n).map(move |j| (bb * width + j) as u32)).collect();
    b.push(ctx, name, FOp::Gather(map), vec![x], vec![batch, n])
}

/// Rows `[lo, lo+n)` of a constant `[rows, cols]` block inside `t` at `base`.
fn block(t: &[f64], base: usize, lo: usize, n: usize, width: usize) -> Vec<f64> {
    t[base + lo * width..base + (lo + n) * width].to_vec()
}

struct Common {
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    dirs: usize,
    layout: i64,
    w: Vec<f64>,
    r: Vec<f64>,
    bias: Option<Vec<f64>>,
    x: ValueId,
    h0: Option<ValueId>,
}

fn common(b: &mut Builder, ctx: &NodeCtx, gates: usize) -> Result<Common> {
    let a = ctx.attrs();
    if ctx.opt_input(4).is_some() {
        return Err(ctx.attrs().err("sequence_lens", "variable sequence lengths are not supported"));
    }
    if a.has("clip") {
        return Err(a.err("clip", "cell clipping is not supported"));
    }
    let hidden = a.int("hidden_size").ok_or_else(|| a.err("hidden_size", "required"))?;
    let hidden = usize::try_from(hidden).map_err(|_| a.err("hidden_size", "must be positive"))?;
    let dirs = match a.string("direction").as_deref().unwrap_or("forward") {
        "forward" | "reverse" => 1,
        "bidirectional" => 2,
        d => return Err(a.err("direction", format!("'{d}' is not forward, reverse or bidirectional"))),
    };
    let layout = a.int_or("layout", 0);
    let x = ctx.input(0)?;
    let xs = b.shape(x).to_vec();
    if xs.len() != 3 {
        return Err(ctx.shape_err(format!("X must have rank 3, got {xs:?}")));
    }
    let (seq, batch, input) = if layout == 0 { (xs[0], xs[1], xs[2]) } else { (xs[1], xs[0], xs[2]) };
    let konst = |i: usize, what: &str, len: usize| -> Result<Vec<f64>> {
        let v = ctx.input(i)?;
        let t = b.konst(v).ok_or_else(|| ctx.unsupported())?;
        if t.len() != len {
            return Err(ctx.shape_err(format!("{what} has {} values, expected {len}", t.len())));
        }
        Ok(t.to_f64())
    };
    let w = konst(1, "W", dirs * gates * hidden * input)?;
    let r = konst(2, "R", dirs * gates * hidden * hidden)?;
    let bias = match ctx.opt_input(3) {
        Some(_) => Some(konst(3, "B", dirs * 2 * gates * hidden)?),
        None => None,
    };
    Ok(Common { seq, batch, input, hidden, dirs, layout, w, r, bias, x, h0: ctx.opt_input(5) })
}

impl Common {
    /// `X_t` as `[batch, input]`.
    fn x_t(&self, b: &mut Builder, ctx: &NodeCtx, t: usize) -> Result<ValueId> {
        let (seq, batch, input) = (self.seq, self.batch, self.input);
        let map = (0..batch)
            .flat_map(|bb| {
                (0..input).map(move |j| {
                    let flat = if self.layout == 0 { (t * batch + bb) * input + j } else { (bb * seq + t) * input + j };
                    flat as u32
                })
            })
            .collect();
        b.push(ctx, &ctx.sub(&format!("x{t}")), FOp::Gather(map), vec![self.x], vec![batch, input])
    }

    /// Initial state `d` (`[dirs, batch, hidden]`, or `[batch, dirs, hidden]` in layout 1) as `[batch, hidden]`.
    fn state0(&self, b: &mut Builder, ctx: &NodeCtx, v: Option<ValueId>, d: usize, what: &str) -> Result<ValueId> {
        let (batch, hidden, dirs) = (self.batch, self.hidden, self.dirs);
        match v {
            None => Ok(b.push_const(
                &ctx.sub(what),
                crate::frontend::tensor::Tensor::float(vec![batch, hidden], vec![0.0; batch * hidden]),
            )),
            Some(v) => {
                if numel(b.shape(v)) != dirs * batch * hidden {
                    return Err(ctx.shape_err(format!("{what} has shape {:?}", b.shape(v))));
                }
                let layout = self.layout;
                let map = (0..batch)
                    .flat_map(|bb| {
                        (0..hidden).map(move |j| {
                            let f =
                                if layout == 0 { (d * batch + bb) * hidden + j } else { (bb * dirs + d) * hidden + j };
                            f as u32
                        })
                    })
                    .collect();
                b.push(ctx, &ctx.sub(&format!("{what}{d}")), FOp::Gather(map), vec![v], vec![batch, hidden])
            }
        }
    }

    /// Gate pre-activations of direction `d` for gates `g0..g0+n` (each `hidden` wide) from `x` and `h`.
    #[allow(clippy::too_many_arguments)]
    fn gates(
        &self,
        b: &mut Builder,
        ctx: &NodeCtx,
        name: &str,
        d: usize,
        gates: usize,
        (g0, n): (usize, usize),
        x: Option<ValueId>,
        h: Option<ValueId>,
        with_r_bias: bool,
    ) -> Result<ValueId> {
        let (hs, is) = (self.hidden, self.input);
        let wd = d * gates * hs * is;
        let rd = d * gates * hs * hs;
        let wm = block(&self.w, wd, g0 * hs, n * hs, is);
        let rm = block(&self.r, rd, g0 * hs, n * hs, hs);
        let mut bias = vec![0.0; n * hs];
        if let Some(bv) = &self.bias {
            let base = d * 2 * gates * hs;
            for (k, o) in bias.iter_mut().enumerate() {
                if x.is_some() {
                    *o += bv[base + g0 * hs + k];
                }
                if with_r_bias {
                    *o += bv[base + gates * hs + g0 * hs + k];
                }
            }
        }
        let mut parts: Vec<(ValueId, &[f64], usize)> = vec![];
        if let Some(x) = x {
            parts.push((x, &wm, is));
        }
        if let Some(h) = h {
            parts.push((h, &rm, hs));
        }
        dense(b, ctx, name, self.batch, &parts, &bias)
    }

    /// Time steps of direction `d`, in processing order.
    fn steps(&self, ctx: &NodeCtx, d: usize) -> Vec<usize> {
        let reverse = d == 1 || ctx.attrs().string("direction").as_deref() == Some("reverse");
        if reverse {
            (0..self.seq).rev().collect()
        } else {
            (0..self.seq).collect()
        }
    }

    /// Outputs `Y` (`[seq, dirs, batch, hidden]`) and `Y_h` from per-direction, per-step states.
    fn outputs(
        &self,
        b: &mut Builder,
        ctx: &NodeCtx,
        hs: &[Vec<ValueId>],
        last: &[ValueId],
    ) -> Result<(ValueId, ValueId)> {
        let (seq, batch, hidden, dirs) = (self.seq, self.batch, self.hidden, self.dirs);
        // Inputs: hs[d][t] in order d-major, t-minor; each [batch, hidden].
        let inputs: Vec<ValueId> = hs.iter().flatten().copied().collect();
        let blk = batch * hidden;
        let mut map = vec![];
        let y_shape = if self.layout == 0 { vec![seq, dirs, batch, hidden] } else { vec![batch, seq, dirs, hidden] };
        if self.layout == 0 {
            for t in 0..seq {
                for d in 0..dirs {
                    for k in 0..blk {
                        map.push(((d * seq + t) * blk + k) as u32);
                    }
                }
            }
        } else {
            for bb in 0..batch {
                for t in 0..seq {
                    for d in 0..dirs {
                        for j in 0..hidden {
                            map.push(((d * seq + t) * blk + bb * hidden + j) as u32);
                        }
                    }
                }
            }
        }
        let y = b.push(ctx, &ctx.sub("Y"), FOp::Gather(map), inputs, y_shape)?;
        let yh = self.stack(b, ctx, "Y_h", last)?;
        Ok((y, yh))
    }

    /// Per-direction `[batch, hidden]` states stacked as `[dirs, batch, hidden]` (layout 1: `[batch, dirs, hidden]`).
    fn stack(&self, b: &mut Builder, ctx: &NodeCtx, name: &str, per_dir: &[ValueId]) -> Result<ValueId> {
        let (batch, hidden, dirs) = (self.batch, self.hidden, self.dirs);
        let blk = batch * hidden;
        let (shape, map): (Vec<usize>, Vec<u32>) = if self.layout == 0 {
            (vec![dirs, batch, hidden], (0..dirs * blk).map(|k| k as u32).collect())
        } else {
            let mut m = vec![];
            for bb in 0..batch {
                for d in 0..dirs {
                    for j in 0..hidden {
                        m.push((d * blk + bb * hidden + j) as u32);
                    }
                }
            }
            (vec![batch, dirs, hidden], m)
        };
        b.push(ctx, &ctx.sub(name), FOp::Gather(map), per_dir.to_vec(), shape)
    }
}

fn activations(ctx: &NodeCtx, dirs: usize, defaults: &[&str]) -> Result<Vec<Act>> {
    let names = ctx.attrs().strings("activations").filter(|v| !v.is_empty());
    let names: Vec<String> = match names {
        Some(v) => v,
        None => (0..dirs).flat_map(|_| defaults.iter().map(|s| s.to_string())).collect(),
    };
    if names.len() != dirs * defaults.len() {
        return Err(ctx
            .attrs()
            .err("activations", format!("expected {} names, got {}", dirs * defaults.len(), names.len())));
    }
    if ctx.attrs().has("activation_alpha") || ctx.attrs().has("activation_beta") {
        return Err(ctx.attrs().err("activation_alpha", "activation parameters are not supported"));
    }
    names.iter().map(|n| act(ctx, n)).collect()
}

#[allow(clippy::needless_range_loop)]
pub fn rnn(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let c = common(b, ctx, 1)?;
    let acts = activations(ctx, c.dirs, &["Tanh"])?;
    let mut hs = vec![];
    let mut last = vec![];
    for d in 0..c.dirs {
        let mut h = c.state0(b, ctx, c.h0, d, "h0")?;
        let mut seq_h = vec![usize::MAX; c.seq];
        for t in c.steps(ctx, d) {
            let x = c.x_t(b, ctx, t)?;
            let z = c.gates(b, ctx, &ctx.sub(&format!("d{d}t{t}/z")), d, 1, (0, 1), Some(x), Some(h), true)?;
            h = apply(b, ctx, &ctx.sub(&format!("d{d}t{t}/h")), z, acts[d])?;
            seq_h[t] = h;
        }
        hs.push(seq_h);
        last.push(h);
    }
    let (y, yh) = c.outputs(b, ctx, &hs, &last)?;
    Ok(vec![y, yh])
}

pub fn gru(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let c = common(b, ctx, 3)?;
    let acts = activations(ctx, c.dirs, &["Sigmoid", "Tanh"])?;
    let lbr = ctx.attrs().int_or("linear_before_reset", 0) != 0;
    let hsz = vec![c.batch, c.hidden];
    let mut hs = vec![];
    let mut last = vec![];
    for d in 0..c.dirs {
        let (f, g) = (acts[2 * d], acts[2 * d + 1]);
        let mut h = c.state0(b, ctx, c.h0, d, "h0")?;
        let mut seq_h = vec![usize::MAX; c.seq];
        for t in c.steps(ctx, d) {
            let p = |k: &str| ctx.sub(&format!("d{d}t{t}/{k}"));
            let x = c.x_t(b, ctx, t)?;
            let zr = c.gates(b, ctx, &p("zr_pre"), d, 3, (0, 2), Some(x), Some(h), true)?;
            let zr = apply(b, ctx, &p("zr"), zr, f)?;
            let z = cols(b, ctx, &p("z"), zr, 2 * c.hidden, 0, c.hidden)?;
            let r = cols(b, ctx, &p("r"), zr, 2 * c.hidden, c.hidden, c.hidden)?;
            let pre = if lbr {
                // g(X Wh + Wbh + r * (H Rh + Rbh))
                let xw = c.gates(b, ctx, &p("xw"), d, 3, (2, 1), Some(x), None, false)?;
                let hr = c.gates(b, ctx, &p("hr"), d, 3, (2, 1), None, Some(h), true)?;
                let rh = product(b, ctx, &p("r*hr"), r, hr, hsz.clone())?;
                weighted_sum(b, ctx, &p("h_pre"), xw, 1.0, rh, 1.0, hsz.clone())?
            } else {
                // g(X Wh + (r * H) Rh + Wbh + Rbh)
                let rh = product(b, ctx, &p("r*h"), r, h, hsz.clone())?;
                c.gates(b, ctx, &p("h_pre"), d, 3, (2, 1), Some(x), Some(rh), true)?
            };
            let hc = apply(b, ctx, &p("h~"), pre, g)?;
            // H = h~ + z * (H_prev - h~)
            let diff = weighted_sum(b, ctx, &p("h-h~"), h, 1.0, hc, -1.0, hsz.clone())?;
            let zd = product(b, ctx, &p("z*(h-h~)"), z, diff, hsz.clone())?;
            h = weighted_sum(b, ctx, &p("h"), hc, 1.0, zd, 1.0, hsz.clone())?;
            seq_h[t] = h;
        }
        hs.push(seq_h);
        last.push(h);
    }
    let (y, yh) = c.outputs(b, ctx, &hs, &last)?;
    Ok(vec![y, yh])
}

pub fn lstm(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    if ctx.opt_input(7).is_some() {
        return Err(ctx.attrs().err("P", "peephole connections are not supported"));
    }
    if ctx.attrs().int_or("input_forget", 0) != 0 {
        return Err(ctx.attrs().err("input_forget", "coupled input-forget gates are not supported"));
    }
    let c = common(b, ctx, 4)?;
    let acts = activations(ctx, c.dirs, &["Sigmoid", "Tanh", "Tanh"])?;
    let hsz = vec![c.batch, c.hidden];
    let hn = c.hidden;
    let mut hs = vec![];
    let (mut last_h, mut last_c) = (vec![], vec![]);
    for d in 0..c.dirs {
        let (f, g, hact) = (acts[3 * d], acts[3 * d + 1], acts[3 * d + 2]);
        let mut h = c.state0(b, ctx, c.h0, d, "h0")?;
        let mut cell = c.state0(b, ctx, ctx.opt_input(6), d, "c0")?;
        let mut seq_h = vec![usize::MAX; c.seq];
        for t in c.steps(ctx, d) {
            let p = |k: &str| ctx.sub(&format!("d{d}t{t}/{k}"));
            let x = c.x_t(b, ctx, t)?;
            // Gate order i, o, f, c.
            let iof = c.gates(b, ctx, &p("iof_pre"), d, 4, (0, 3), Some(x), Some(h), true)?;
            let iof = apply(b, ctx, &p("iof"), iof, f)?;
            let gi = cols(b, ctx, &p("i"), iof, 3 * hn, 0, hn)?;
            let go = cols(b, ctx, &p("o"), iof, 3 * hn, hn, hn)?;
            let gf = cols(b, ctx, &p("f"), iof, 3 * hn, 2 * hn, hn)?;
            let cpre = c.gates(b, ctx, &p("c_pre"), d, 4, (3, 1), Some(x), Some(h), true)?;
            let cc = apply(b, ctx, &p("c~"), cpre, g)?;
            let ic = product(b, ctx, &p("i*c~"), gi, cc, hsz.clone())?;
            cell = if b.konst(cell).is_some_and(|t| t.to_f64().iter().all(|&v| v == 0.0)) {
                ic
            } else {
                let fc = product(b, ctx, &p("f*c"), gf, cell, hsz.clone())?;
                weighted_sum(b, ctx, &p("c"), fc, 1.0, ic, 1.0, hsz.clone())?
            };
            let hc = apply(b, ctx, &p("h(c)"), cell, hact)?;
            h = product(b, ctx, &p("h"), go, hc, hsz.clone())?;
            seq_h[t] = h;
        }
        hs.push(seq_h);
        last_h.push(h);
        last_c.push(cell);
    }
    let (y, yh) = c.outputs(b, ctx, &hs, &last_h)?;
    let yc = c.stack(b, ctx, "Y_c", &last_c)?;
    Ok(vec![y, yh, yc])
}
