//! Selection by computed indices, through exact one-hot rows built from
//! `compare`'s steps (`[idx == j]` = `[idx - j >= 0] + [j - idx >= 0] - 1`):
//! OneHot, Gather / GatherElements / GatherND with computed indices,
//! ScatterElements / ScatterND (reduction none or add), and TopK (K passes
//! of the exact max and arg-max). Cost is `O(indices × axis length)`.

use crate::error::Result;
use crate::frontend::graph::{Affine, Contract, FOp, Terms, ValueId};
use crate::frontend::index::{broadcast_map, norm_axis, numel};
use crate::frontend::ops::activation::{combine, scale_shift};
use crate::frontend::ops::compare::step;
use crate::frontend::ops::elementwise::weighted_sum;
use crate::frontend::ops::reduce::{max_of, reduction};
use crate::frontend::tensor::Tensor;
use crate::frontend::{Builder, NodeCtx};

/// OneHot(indices, depth, values = [off, on]): along the new axis,
/// `off + (on - off)·[indices == j]` with `Equal` as above; negative indices
/// count from the end (`indices + depth` where `indices < 0`) only for
/// constant indices.
pub fn one_hot(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (idx, depth_v, values_v) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?);
    let depth = b.const_ints(ctx, depth_v).or_else(|_| {
        b.konst(depth_v).map(|t| t.to_f64().iter().map(|&x| x as i64).collect()).ok_or_else(|| ctx.unsupported())
    })?;
    let depth = match depth.as_slice() {
        [d] if *d > 0 && *d <= 1 << 20 => *d as usize,
        _ => return Err(ctx.shape_err(format!("depth {depth:?} must be one positive number"))),
    };
    let values = b.konst(values_v).ok_or_else(|| ctx.unsupported())?.to_f64();
    let [off, on] = values[..] else {
        return Err(ctx.shape_err(format!("values must hold 2 numbers, got {}", values.len())));
    };
    let ishape = b.shape(idx).to_vec();
    let rank = ishape.len() + 1;
    let a = ctx.attrs().int_or("axis", -1);
    let axis = norm_axis(a, rank).ok_or_else(|| ctx.attrs().err("axis", format!("{a} is out of range")))?;
    let mut out = ishape.clone();
    out.insert(axis, depth);
    // Index broadcast along the new axis, and the constant positions j.
    let mut idx_shape = ishape.clone();
    idx_shape.insert(axis, 1);
    let idx_b = b.push(ctx, &ctx.sub("indices"), FOp::Reshape, vec![idx], idx_shape)?;
    let mut j_shape = vec![1; rank];
    j_shape[axis] = depth;
    let j = b.push_const(&ctx.sub("positions"), Tensor::float(j_shape, (0..depth).map(|j| j as f64).collect()));
    if let Some(t) = b.konst(idx_b) {
        let (vi, mi, mj) = (t.to_f64(), broadcast_map(&t.shape, &out), broadcast_map(b.shape(j), &out));
        let v = mi
            .iter()
            .zip(&mj)
            .map(|(&i, &jj)| {
                let k = vi[i as usize];
                let k = if k < 0.0 { k + depth as f64 } else { k };
                if k == jj as f64 {
                    on
                } else {
                    off
                }
            })
            .collect();
        return Ok(vec![b.push_const(&ctx.name, Tensor::float(out, v))]);
    }
    let ge = weighted_sum(b, ctx, &ctx.sub("i-j"), idx_b, 1.0, j, -1.0, out.clone())?;
    let ge = step(b, ctx, &ctx.sub("i>=j"), ge, true)?;
    let le = weighted_sum(b, ctx, &ctx.sub("j-i"), idx_b, -1.0, j, 1.0, out.clone())?;
    let le = step(b, ctx, &ctx.sub("i<=j"), le, true)?;
    // eq = ge + le - 1; out = off + (on - off)·eq
    let w = on - off;
    Ok(vec![combine(b, ctx, &ctx.name, &[(ge, &[w]), (le, &[w])], &[off - w])?])
}

/// `[idx == j]` for every element of the activation `idx` (integer-valued)
/// and every `j < d`, shape `idx.shape + [d]`. Negative indices count from
/// the end (`idx + d·[idx < 0]`); an index outside `[-d, d)` selects nothing
/// (an all-zero row).
fn one_hot_eq(b: &mut Builder, ctx: &NodeCtx, idx: ValueId, d: usize) -> Result<ValueId> {
    let nonneg = step(b, ctx, &ctx.sub("idx>=0"), idx, true)?;
    let idx = combine(b, ctx, &ctx.sub("wrapped"), &[(idx, &[1.0]), (nonneg, &[-(d as f64)])], &[d as f64])?;
    let mut ishape = b.shape(idx).to_vec();
    ishape.push(1);
    let idx_b = b.push(ctx, &ctx.sub("indices"), FOp::Reshape, vec![idx], ishape.clone())?;
    let mut out = ishape.clone();
    *out.last_mut().expect("rank >= 1") = d;
    let j = b.push_const(&ctx.sub("positions"), Tensor::float(vec![d], (0..d).map(|j| j as f64).collect()));
    let ge = weighted_sum(b, ctx, &ctx.sub("i-j"), idx_b, 1.0, j, -1.0, out.clone())?;
    let ge = step(b, ctx, &ctx.sub("i>=j"), ge, true)?;
    let le = weighted_sum(b, ctx, &ctx.sub("j-i"), idx_b, -1.0, j, 1.0, out.clone())?;
    let le = step(b, ctx, &ctx.sub("i<=j"), le, true)?;
    combine(b, ctx, &ctx.sub("onehot"), &[(ge, &[1.0]), (le, &[1.0])], &[-1.0])
}

/// `out[o] = sum_j x[src(o, j)] * eq[sel(o, j)]`: a selection by one-hot
/// rows; an affine map when `x` is constant, else products.
fn select(
    b: &mut Builder,
    ctx: &NodeCtx,
    x: ValueId,
    eq: ValueId,
    pairs: &[Vec<(u32, u32)>],
    out: Vec<usize>,
) -> Result<ValueId> {
    if let Some(t) = b.konst(x).map(|t| t.to_f64()) {
        let mut aff = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0.0; pairs.len()] };
        for row in pairs {
            for &(xi, ei) in row {
                let w = t[xi as usize];
                if w != 0.0 {
                    aff.cols.push(ei);
                    aff.weights.push(w);
                }
            }
            aff.row_ptr.push(aff.cols.len() as u32);
        }
        return b.push(ctx, &ctx.name, FOp::Affine(aff), vec![eq], out);
    }
    let mut terms = Terms::new();
    for row in pairs {
        for &(xi, ei) in row {
            terms.a_idx.push(xi);
            terms.b_idx.push(ei);
        }
        terms.end_row();
    }
    b.push(ctx, &ctx.name, FOp::Contract(Contract { terms, bias: None }), vec![x, eq], out)
}

/// Gather with computed indices (e.g. a class label picked by ArgMax):
/// each output is `sum_j x[.., j, ..] * [idx == j]`.
pub fn gather_dynamic(b: &mut Builder, ctx: &NodeCtx, x: ValueId, idx: ValueId, axis: usize) -> Result<ValueId> {
    let s = b.shape(x).to_vec();
    let ishape = b.shape(idx).to_vec();
    let (d, outer, inner) = (s[axis], numel(&s[..axis]), numel(&s[axis + 1..]));
    let ni = numel(&ishape);
    let eq = one_hot_eq(b, ctx, idx, d)?;
    let mut out = s[..axis].to_vec();
    out.extend(&ishape);
    out.extend(&s[axis + 1..]);
    let mut pairs = Vec::with_capacity(numel(&out));
    for o in 0..outer {
        for i in 0..ni {
            for k in 0..inner {
                pairs.push((0..d).map(|j| (((o * d + j) * inner + k) as u32, (i * d + j) as u32)).collect());
            }
        }
    }
    select(b, ctx, x, eq, &pairs, out)
}

/// GatherElements with computed indices: `out[p] = x[p with axis -> idx[p]]`.
pub fn gather_elements(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, iv) = (ctx.input(0)?, ctx.input(1)?);
    let s = b.shape(x).to_vec();
    let ishape = b.shape(iv).to_vec();
    let a = ctx.attrs().int_or("axis", 0);
    let axis = norm_axis(a, s.len()).ok_or_else(|| ctx.attrs().err("axis", format!("{a} is out of range")))?;
    if ishape.len() != s.len() || ishape.iter().zip(&s).enumerate().any(|(k, (&i, &n))| k != axis && i > n) {
        return Err(ctx.shape_err(format!("indices {ishape:?} do not fit data {s:?}")));
    }
    let d = s[axis];
    let xs = crate::frontend::index::strides(&s);
    let mut pairs = Vec::with_capacity(numel(&ishape));
    if let Some(idx) = b.konst(iv).and_then(|t| t.to_i64()) {
        // Constant indices: a plain index map.
        let mut map = Vec::with_capacity(idx.len());
        let mut bad = None;
        crate::frontend::index::for_each_index(&ishape, |p| {
            let k = map.len();
            let j = if idx[k] < 0 { idx[k] + d as i64 } else { idx[k] };
            if !(0..d as i64).contains(&j) {
                bad = Some(idx[k]);
            }
            let f: usize =
                p.iter().enumerate().map(|(q, &v)| if q == axis { j.max(0) as usize } else { v } * xs[q]).sum();
            map.push(f as u32);
        });
        if let Some(i) = bad {
            return Err(ctx.shape_err(format!("index {i} out of range for axis of size {d}")));
        }
        return Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], ishape)?]);
    }
    let eq = one_hot_eq(b, ctx, iv, d)?;
    let mut k = 0usize;
    crate::frontend::index::for_each_index(&ishape, |p| {
        let base: usize = p.iter().enumerate().filter(|(q, _)| *q != axis).map(|(q, &v)| v * xs[q]).sum();
        pairs.push((0..d).map(|j| ((base + j * xs[axis]) as u32, (k * d + j) as u32)).collect::<Vec<_>>());
        k += 1;
    });
    Ok(vec![select(b, ctx, x, eq, &pairs, ishape)?])
}

/// `data` with `upd[q]` written where `hits[r]` lists `(q, eq index)`:
/// `out[r] = data[r]·(1 - Σ eq) + Σ upd[q]·eq` (replace), or
/// `data[r] + Σ upd[q]·eq` (add). One-hot rows are 0/1, so this is exact.
fn scatter_rows(
    b: &mut Builder,
    ctx: &NodeCtx,
    data: ValueId,
    upd: ValueId,
    eq: ValueId,
    hits: &[Vec<(u32, u32)>],
    replace: bool,
) -> Result<ValueId> {
    let shape = b.shape(data).to_vec();
    let n = numel(&shape);
    let neg = scale_shift(b, ctx, &ctx.sub("neg_data"), data, -1.0, 0.0)?;
    let nu = numel(b.shape(upd));
    let cat = b.push(
        ctx,
        &ctx.sub("data_updates"),
        FOp::Gather((0..(n + nu) as u32).collect()),
        vec![neg, upd],
        vec![n + nu],
    )?;
    let mut terms = Terms::new();
    for (r, row) in hits.iter().enumerate() {
        for &(q, e) in row {
            if replace {
                terms.a_idx.push(r as u32);
                terms.b_idx.push(e);
            }
            terms.a_idx.push(n as u32 + q);
            terms.b_idx.push(e);
        }
        terms.end_row();
    }
    let delta =
        b.push(ctx, &ctx.sub("writes"), FOp::Contract(Contract { terms, bias: None }), vec![cat, eq], shape.clone())?;
    weighted_sum(b, ctx, &ctx.name, data, 1.0, delta, 1.0, shape)
}

fn reduction_mode(ctx: &NodeCtx) -> Result<bool> {
    match ctx.attrs().string("reduction").as_deref().unwrap_or("none") {
        "none" => Ok(true),
        "add" => Ok(false),
        r => Err(ctx.attrs().err("reduction", format!("'{r}' is not supported (none, add)"))),
    }
}

/// Flat position `Σ_k idx[.., k]·stride_k` over the first `m` data dims
/// (the last axis of `idx` has `m` components), shape `idx.shape[..-1]`.
fn flat_position(b: &mut Builder, ctx: &NodeCtx, idx: ValueId, dims: &[usize]) -> Result<ValueId> {
    let ishape = b.shape(idx).to_vec();
    let m = dims.len();
    let st = crate::frontend::index::strides(dims);
    let outer = numel(&ishape[..ishape.len() - 1]);
    let mut a = Affine { row_ptr: vec![0], cols: vec![], weights: vec![], bias: vec![0.0; outer] };
    for o in 0..outer {
        for (k, &sk) in st.iter().enumerate() {
            a.cols.push((o * m + k) as u32);
            a.weights.push(sk as f64);
        }
        a.row_ptr.push(a.cols.len() as u32);
    }
    b.push(ctx, &ctx.sub("position"), FOp::Affine(a), vec![idx], ishape[..ishape.len() - 1].to_vec())
}

/// GatherND (batch_dims = 0) with computed or constant indices.
pub fn gather_nd(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, iv) = (ctx.input(0)?, ctx.input(1)?);
    if ctx.attrs().int_or("batch_dims", 0) != 0 {
        return Err(ctx.attrs().err("batch_dims", "only 0 is supported"));
    }
    let (s, ishape) = (b.shape(x).to_vec(), b.shape(iv).to_vec());
    let m = *ishape.last().ok_or_else(|| ctx.shape_err("indices must have rank >= 1"))?;
    if m == 0 || m > s.len() {
        return Err(ctx.shape_err(format!("indices' last dimension {m} does not fit data {s:?}")));
    }
    let inner: usize = numel(&s[m..]);
    let mut out = ishape[..ishape.len() - 1].to_vec();
    out.extend(&s[m..]);
    let p = numel(&s[..m]);
    if let Some(idx) = b.konst(iv).and_then(|t| t.to_i64()) {
        let st = crate::frontend::index::strides(&s[..m]);
        let mut map = Vec::with_capacity(numel(&out));
        for row in idx.chunks(m) {
            let mut f = 0usize;
            for (k, &i) in row.iter().enumerate() {
                let j = if i < 0 { i + s[k] as i64 } else { i };
                if !(0..s[k] as i64).contains(&j) {
                    return Err(ctx.shape_err(format!("index {i} out of range for axis of size {}", s[k])));
                }
                f += j as usize * st[k];
            }
            map.extend((0..inner).map(|t| (f * inner + t) as u32));
        }
        return Ok(vec![b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], out)?]);
    }
    let pos = flat_position(b, ctx, iv, &s[..m])?;
    let flat = b.push(ctx, &ctx.sub("rows"), FOp::Reshape, vec![x], vec![p, inner])?;
    let g = gather_dynamic(b, ctx, flat, pos, 0)?;
    // gather_dynamic names its output after the node; give the final shape.
    Ok(vec![b.push(ctx, &ctx.sub("shaped"), FOp::Reshape, vec![g], out)?])
}

/// ScatterElements (reduction none or add) with computed indices.
pub fn scatter_elements(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, iv, upd) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?);
    let replace = reduction_mode(ctx)?;
    let (s, ishape) = (b.shape(x).to_vec(), b.shape(iv).to_vec());
    if b.shape(upd) != ishape.as_slice() {
        return Err(ctx.shape_err(format!("updates {:?} differ from indices {ishape:?}", b.shape(upd))));
    }
    let a = ctx.attrs().int_or("axis", 0);
    let axis = norm_axis(a, s.len()).ok_or_else(|| ctx.attrs().err("axis", format!("{a} is out of range")))?;
    if ishape.len() != s.len() || ishape.iter().zip(&s).enumerate().any(|(k, (&i, &n))| k != axis && i > n) {
        return Err(ctx.shape_err(format!("indices {ishape:?} do not fit data {s:?}")));
    }
    if b.is_const(iv) && b.is_const(x) && b.is_const(upd) {
        return Err(ctx.unsupported());
    }
    let d = s[axis];
    let eq = one_hot_eq(b, ctx, iv, d)?;
    let ist = crate::frontend::index::strides(&ishape);
    let mut hits = Vec::with_capacity(numel(&s));
    crate::frontend::index::for_each_index(&s, |c| {
        let fits = c.iter().enumerate().all(|(k, &v)| k == axis || v < ishape[k]);
        let mut row = vec![];
        if fits {
            for i in 0..ishape[axis] {
                let q: usize = c.iter().enumerate().map(|(k, &v)| if k == axis { i } else { v } * ist[k]).sum();
                row.push((q as u32, (q * d + c[axis]) as u32));
            }
        }
        hits.push(row);
    });
    Ok(vec![scatter_rows(b, ctx, x, upd, eq, &hits, replace)?])
}

/// ScatterND (reduction none or add) with computed indices.
pub fn scatter_nd(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let (x, iv, upd) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?);
    let replace = reduction_mode(ctx)?;
    let (s, ishape) = (b.shape(x).to_vec(), b.shape(iv).to_vec());
    let m = *ishape.last().ok_or_else(|| ctx.shape_err("indices must have rank >= 1"))?;
    if m == 0 || m > s.len() {
        return Err(ctx.shape_err(format!("indices' last dimension {m} does not fit data {s:?}")));
    }
    let nq = numel(&ishape[..ishape.len() - 1]);
    let inner = numel(&s[m..]);
    if numel(b.shape(upd)) != nq * inner {
        return Err(ctx.shape_err(format!("updates {:?} do not match indices {ishape:?} and data {s:?}", b.shape(upd))));
    }
    let p = numel(&s[..m]);
    let pos = flat_position(b, ctx, iv, &s[..m])?;
    let eq = one_hot_eq(b, ctx, pos, p)?;
    let mut hits = Vec::with_capacity(numel(&s));
    for pp in 0..p {
        for j in 0..inner {
            hits.push((0..nq).map(|q| ((q * inner + j) as u32, (q * p + pp) as u32)).collect());
        }
    }
    Ok(vec![scatter_rows(b, ctx, x, upd, eq, &hits, replace)?])
}

/// TopK along the last axis with a constant K: K passes of an exact
/// max/arg-max (first index among equals, as ONNX orders ties), each pass
/// pushing the chosen element below the row's minimum (`x + eq·(min - 1 - x)`
/// with the one-hot `eq` of the index). `largest = 0` runs on `-x`. Values
/// and indices come out sorted; `O(K·n)` rows per row of the input.
pub fn top_k(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x0 = ctx.input(0)?;
    let s = b.shape(x0).to_vec();
    let a = ctx.attrs();
    let rank = s.len();
    let axis = norm_axis(a.int_or("axis", -1), rank).ok_or_else(|| a.err("axis", "out of range"))?;
    if axis + 1 != rank {
        return Err(a.err("axis", "only the last axis is supported"));
    }
    let k = match ctx.opt_input(1) {
        Some(kv) => b.const_ints(ctx, kv)?,
        None => vec![a.int("k").ok_or_else(|| a.err("k", "missing"))?],
    };
    let n = s[axis];
    let k = match k.as_slice() {
        [k] if *k >= 1 && (*k as usize) <= n => *k as usize,
        _ => return Err(ctx.shape_err(format!("K {k:?} must be one number in 1..={n}"))),
    };
    let largest = a.int_or("largest", 1) != 0;
    let rows = numel(&s[..axis]);
    let flat = vec![rows, n];
    let x = b.push(ctx, &ctx.sub("rows"), FOp::Reshape, vec![x0], flat.clone())?;
    let x = if largest { x } else { scale_shift(b, ctx, &ctx.sub("neg"), x, -1.0, 0.0)? };
    let rowwise = reduction(&flat, &[false, true], true);
    // Row minimum minus one: below every element, so a chosen one never returns.
    let nx = scale_shift(b, ctx, &ctx.sub("negx"), x, -1.0, 0.0)?;
    let neg_min = max_of(b, ctx, &ctx.sub("neg_min"), nx, &rowwise)?;
    let floor = scale_shift(b, ctx, &ctx.sub("floor"), neg_min, -1.0, -1.0)?;
    let rank_w: Vec<f64> = (0..rows * n).map(|f| (n - f % n) as f64).collect();
    let (mut vals, mut idxs) = (vec![], vec![]);
    let mut cur = x;
    for t in 0..k {
        let p = |w: &str| ctx.sub(&format!("pass{t}/{w}"));
        let m = max_of(b, ctx, &p("max"), cur, &rowwise)?;
        let d = weighted_sum(b, ctx, &p("minus_max"), cur, 1.0, m, -1.0, flat.clone())?;
        let e = step(b, ctx, &p("is_max"), d, true)?;
        let g = combine(b, ctx, &p("rank"), &[(e, &rank_w)], &[0.0])?;
        let gm = max_of(b, ctx, &p("best"), g, &rowwise)?;
        let idx = scale_shift(b, ctx, &p("index"), gm, -1.0, n as f64)?;
        vals.push(m);
        idxs.push(idx);
        if t + 1 < k {
            let eq = one_hot_eq(b, ctx, idx, n)?;
            let eq = b.push(ctx, &p("onehot"), FOp::Reshape, vec![eq], flat.clone())?;
            let gap = weighted_sum(b, ctx, &p("gap"), floor, 1.0, cur, -1.0, flat.clone())?;
            let drop = crate::frontend::ops::elementwise::product(b, ctx, &p("drop"), eq, gap, flat.clone())?;
            cur = weighted_sum(b, ctx, &p("rest"), cur, 1.0, drop, 1.0, flat.clone())?;
        }
    }
    let mut out = s.clone();
    out[axis] = k;
    // Interleave: row r, pass t -> r*k + t.
    let map: Vec<u32> = (0..rows).flat_map(|r| (0..k).map(move |t| (t * rows + r) as u32)).collect();
    let v = b.push(ctx, &ctx.sub("values_sorted"), FOp::Gather(map.clone()), vals, out.clone())?;
    let v = if largest { v } else { scale_shift(b, ctx, &ctx.sub("values"), v, -1.0, 0.0)? };
    let i = b.push(ctx, &ctx.sub("indices"), FOp::Gather(map), idxs, out)?;
    Ok(vec![v, i])
}
