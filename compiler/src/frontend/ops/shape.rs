//! Shape-computing and data-movement ops. Reshapes become aliases; every
//! other movement (Transpose, Concat, Expand, Tile, Gather, Slice) becomes an
//! index map. On constant operands they fold, which is how shape subgraphs
//! (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) disappear.

use crate::error::Result;
use crate::frontend::func::Func;
use crate::frontend::graph::{FOp, ValueId};
use crate::frontend::index::{broadcast_map, broadcast_shapes, for_each_index, norm_axis, numel, strides};
use crate::frontend::tensor::{Data, Tensor};
use crate::frontend::{Builder, NodeCtx};

pub fn alias(b: &mut Builder, ctx: &NodeCtx, x: ValueId, shape: Vec<usize>) -> Result<ValueId> {
    if crate::frontend::index::numel_checked(&shape) != Some(numel(b.shape(x))) {
        return Err(ctx.shape_err(format!("cannot reshape {:?} into {:?}", b.shape(x), shape)));
    }
    b.push(ctx, &ctx.name, FOp::Reshape, vec![x], shape)
}

pub fn identity(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    if ctx.op == "Dropout" {
        if let Some(mode) = ctx.opt_input(2) {
            if b.const_ints(ctx, mode)?.iter().any(|&m| m != 0) {
                return Err(ctx.unsupported());
            }
        }
    }
    let shape = b.shape(x).to_vec();
    Ok(vec![alias(b, ctx, x, shape)?])
}

pub fn cast(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let to = ctx.attrs().int("to").ok_or_else(|| ctx.attrs().err("to", "missing"))? as i32;
    let to_float = crate::frontend::tensor::is_float_dtype(to);
    if let Some(t) = b.konst(x) {
        let data = match (&t.data, to_float) {
            (Data::Float(v), false) if to == 9 => Data::Int(v.iter().map(|&x| (x != 0.0) as i64).collect()),
            (Data::Float(v), false) => Data::Int(v.iter().map(|&x| x.trunc() as i64).collect()),
            (Data::Int(v), false) if to == 9 => Data::Int(v.iter().map(|&x| (x != 0) as i64).collect()),
            (Data::Int(v), true) => Data::Float(v.iter().map(|&x| x as f64).collect()),
            (d, _) => d.clone(),
        };
        let t = Tensor { shape: t.shape.clone(), data };
        return Ok(vec![b.push_const(&ctx.name, t)]);
    }
    if !to_float {
        // Truncation toward zero (ONNX Cast float -> int), or [x != 0] for bool:
        // exact step tables.
        let f = if to == 9 { Func::NonZero } else { Func::Trunc };
        return Ok(vec![crate::frontend::ops::nonlinear::func(b, ctx, &ctx.name, x, f)?]);
    }
    let shape = b.shape(x).to_vec();
    Ok(vec![alias(b, ctx, x, shape)?])
}

/// CastLike: a Cast to the type of the second operand, which must be a
/// constant (its type is what the front-end knows), or is taken as float.
pub fn cast_like(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let target_int = b.konst(ctx.input(1)?).is_some_and(|t| t.is_int());
    if let Some(t) = b.konst(x) {
        let data = match (&t.data, target_int) {
            (Data::Float(v), true) => Data::Int(v.iter().map(|&x| x.trunc() as i64).collect()),
            (Data::Int(v), false) => Data::Float(v.iter().map(|&x| x as f64).collect()),
            (d, _) => d.clone(),
        };
        let t = Tensor { shape: t.shape.clone(), data };
        return Ok(vec![b.push_const(&ctx.name, t)]);
    }
    if target_int {
        return Ok(vec![crate::frontend::ops::nonlinear::func(b, ctx, &ctx.name, x, Func::Trunc)?]);
    }
    let shape = b.shape(x).to_vec();
    Ok(vec![alias(b, ctx, x, shape)?])
}

pub fn constant(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let a = ctx.attrs();
    let t = if let Some(t) = a.tensor("value")? {
        t
    } else if a.has("value_float") {
        Tensor::float(vec![], vec![a.float_or("value_float", 0.0)])
    } else if let Some(v) = a.floats("value_floats") {
        Tensor::float(vec![v.len()], v.iter().map(|&x| x as f64).collect())
    } else if let Some(v) = a.int("value_int") {
        Tensor::int(vec![], vec![v])
    } else if let Some(v) = a.ints("value_ints") {
        Tensor::int(vec![v.len()], v)
    } else if a.has("sparse_value") || a.has("value_string") || a.has("value_strings") {
        return Err(ctx.unsupported());
    } else {
        return Err(a.err("value", "Constant has no value attribute"));
    };
    let id = b.push_const(&ctx.name, t);
    if let Some(p) = ctx.proto.attribute.iter().find(|v| v.name == "value").and_then(|v| v.t.as_ref()) {
        b.elem_types.insert(id, p.data_type);
    }
    Ok(vec![id])
}

pub fn reshape(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let target = match ctx.opt_input(1) {
        Some(s) => b.const_ints(ctx, s)?,
        None => ctx.attrs().ints("shape").ok_or_else(|| ctx.shape_err("missing target shape"))?,
    };
    let allow_zero = ctx.attrs().int_or("allowzero", 0) != 0;
    let in_shape = b.shape(x).to_vec();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 if !allow_zero => {
                out.push(*in_shape.get(i).ok_or_else(|| ctx.shape_err("0 refers to a missing dimension"))?)
            }
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d >= 0 => out.push(d as usize),
            _ => return Err(ctx.shape_err(format!("invalid target shape {target:?}"))),
        }
    }
    if let Some(i) = infer {
        let known = numel(&out);
        if known == 0 || numel(&in_shape) / known * known != numel(&in_shape) {
            return Err(ctx.shape_err(format!("cannot reshape {in_shape:?} into {target:?}")));
        }
        out[i] = numel(&in_shape) / known;
    }
    Ok(vec![alias(b, ctx, x, out)?])
}

pub fn flatten(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let axis = ctx.attrs().int_or("axis", 1);
    // Axis in [-r, r]; a negative one counts from the back (-1 keeps the last axis apart).
    let r = s.len() as i64;
    let axis = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&axis) {
        return Err(ctx.attrs().err("axis", format!("{} is out of range for rank {r}", ctx.attrs().int_or("axis", 1))));
    }
    let axis = axis as usize;
    let out = vec![numel(&s[..axis]), numel(&s[axis..])];
    Ok(vec![alias(b, ctx, x, out)?])
}

/// Axes from the attribute (old opsets) or the second input (opset 13+).
fn axes(b: &Builder, ctx: &NodeCtx) -> Result<Option<Vec<i64>>> {
    if let Some(a) = ctx.attrs().ints("axes") {
        return Ok(Some(a));
    }
    match ctx.opt_input(1) {
        Some(v) => Ok(Some(b.const_ints(ctx, v)?)),
        None => Ok(None),
    }
}

pub fn squeeze(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let out = match axes(b, ctx)? {
        None => s.iter().copied().filter(|&d| d != 1).collect(),
        Some(ax) => {
            let mut drop = vec![false; s.len()];
            for a in ax {
                let a = norm_axis(a, s.len()).ok_or_else(|| ctx.shape_err(format!("axis {a} out of range")))?;
                if s[a] != 1 {
                    return Err(ctx.shape_err(format!("cannot squeeze axis {a} of size {}", s[a])));
                }
                drop[a] = true;
            }
            s.iter().zip(drop).filter(|(_, d)| !d).map(|(&x, _)| x).collect()
        }
    };
    Ok(vec![alias(b, ctx, x, out)?])
}

pub fn unsqueeze(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let ax = axes(b, ctx)?.ok_or_else(|| ctx.shape_err("missing axes"))?;
    let rank = s.len() + ax.len();
    let mut ones = vec![false; rank];
    for a in ax {
        let a = norm_axis(a, rank).ok_or_else(|| ctx.shape_err(format!("axis {a} out of range")))?;
        if ones[a] {
            return Err(ctx.shape_err(format!("repeated axis {a}")));
        }
        ones[a] = true;
    }
    let mut it = s.iter();
    let out = ones.iter().map(|&one| if one { 1 } else { it.next().copied().unwrap_or(1) }).collect();
    Ok(vec![alias(b, ctx, x, out)?])
}

fn gather_node(
    b: &mut Builder,
    ctx: &NodeCtx,
    inputs: Vec<ValueId>,
    map: Vec<u32>,
    shape: Vec<usize>,
) -> Result<ValueId> {
    b.push(ctx, &ctx.name, FOp::Gather(map), inputs, shape)
}

/// The index map of a transpose: `(out_shape, map)`.
pub fn transpose_map(s: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<u32>) {
    let st = strides(s);
    let out: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
    let mut map = Vec::with_capacity(numel(s));
    for_each_index(&out, |idx| {
        map.push(idx.iter().zip(perm).map(|(&i, &p)| i * st[p]).sum::<usize>() as u32);
    });
    (out, map)
}

pub fn transpose(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let perm: Vec<usize> = match ctx.attrs().ints("perm") {
        None => (0..s.len()).rev().collect(),
        Some(p) => {
            let p: Vec<usize> = p.iter().filter_map(|&a| norm_axis(a, s.len())).collect();
            let mut seen = vec![false; s.len()];
            p.iter().for_each(|&a| seen[a] = true);
            if p.len() != s.len() || seen.iter().any(|x| !x) {
                return Err(ctx.attrs().err("perm", format!("not a permutation of {} axes", s.len())));
            }
            p
        }
    };
    let (out, map) = transpose_map(&s, &perm);
    Ok(vec![gather_node(b, ctx, vec![x], map, out)?])
}

pub fn concat(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let ins: Vec<ValueId> = ctx.inputs.iter().flatten().copied().collect();
    let first = ins.first().map(|&i| b.shape(i).to_vec()).ok_or_else(|| ctx.shape_err("no inputs"))?;
    let axis = ctx.attrs().int("axis").ok_or_else(|| ctx.attrs().err("axis", "missing"))?;
    let axis = norm_axis(axis, first.len()).ok_or_else(|| ctx.attrs().err("axis", "out of range"))?;
    let mut out = first.clone();
    out[axis] = 0;
    for &i in &ins {
        let s = b.shape(i);
        if s.len() != first.len() || s.iter().zip(&first).enumerate().any(|(d, (x, y))| d != axis && x != y) {
            return Err(ctx.shape_err(format!("input shapes {first:?} and {s:?} differ outside axis {axis}")));
        }
        out[axis] += s[axis];
    }
    let outer = numel(&first[..axis]);
    let inner = numel(&first[axis + 1..]);
    let mut map = Vec::with_capacity(numel(&out));
    for o in 0..outer {
        let mut base = 0usize;
        for &i in &ins {
            let chunk = b.shape(i)[axis] * inner;
            map.extend((0..chunk).map(|k| (base + o * chunk + k) as u32));
            base += numel(b.shape(i));
        }
    }
    Ok(vec![gather_node(b, ctx, ins, map, out)?])
}

pub fn expand(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let target = b.const_ints(ctx, ctx.input(1)?)?;
    let target: Vec<usize> = target.iter().map(|&d| d.max(0) as usize).collect();
    let s = b.shape(x).to_vec();
    let out =
        broadcast_shapes(&s, &target).ok_or_else(|| ctx.shape_err(format!("cannot expand {s:?} to {target:?}")))?;
    if !matches!(crate::frontend::index::numel_checked(&out), Some(n) if n <= crate::frontend::tensor::max_elements()) {
        return Err(ctx.shape_err(format!("expanded shape {out:?} is too large")));
    }
    let map = broadcast_map(&s, &out);
    Ok(vec![gather_node(b, ctx, vec![x], map, out)?])
}

pub fn tile(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let reps = b.const_ints(ctx, ctx.input(1)?)?;
    let s = b.shape(x).to_vec();
    if reps.len() != s.len() || reps.iter().any(|&r| r < 0) {
        return Err(ctx.shape_err(format!("repeats {reps:?} do not match rank {}", s.len())));
    }
    let out: Vec<usize> = s.iter().zip(&reps).map(|(&d, &r)| d * r as usize).collect();
    if !matches!(crate::frontend::index::numel_checked(&out), Some(n) if n <= crate::frontend::tensor::max_elements()) {
        return Err(ctx.shape_err("tiled tensor is too large"));
    }
    let st = strides(&s);
    let mut map = Vec::with_capacity(numel(&out));
    for_each_index(&out, |idx| {
        map.push(idx.iter().zip(&s).zip(&st).map(|((&i, &d), &k)| (i % d) * k).sum::<usize>() as u32)
    });
    Ok(vec![gather_node(b, ctx, vec![x], map, out)?])
}

pub fn gather(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let iv = ctx.input(1)?;
    let s = b.shape(x).to_vec();
    let axis =
        norm_axis(ctx.attrs().int_or("axis", 0), s.len()).ok_or_else(|| ctx.attrs().err("axis", "out of range"))?;
    if !b.is_const(iv) {
        // Computed indices: a selection by one-hot rows.
        return Ok(vec![crate::frontend::ops::indexed::gather_dynamic(b, ctx, x, iv, axis)?]);
    }
    let indices = b.const_ints(ctx, iv)?;
    let ishape = b.shape(iv).to_vec();
    let d = s[axis];
    let idx: Vec<usize> = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + d as i64 } else { i };
            if (0..d as i64).contains(&j) {
                Ok(j as usize)
            } else {
                Err(ctx.shape_err(format!("index {i} out of range for axis of size {d}")))
            }
        })
        .collect::<Result<_>>()?;
    let outer = numel(&s[..axis]);
    let inner = numel(&s[axis + 1..]);
    let mut out = s[..axis].to_vec();
    out.extend(&ishape);
    out.extend(&s[axis + 1..]);
    let mut map = Vec::with_capacity(numel(&out));
    for o in 0..outer {
        for &j in &idx {
            map.extend((0..inner).map(|k| ((o * d + j) * inner + k) as u32));
        }
    }
    Ok(vec![gather_node(b, ctx, vec![x], map, out)?])
}

pub fn slice(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let a = ctx.attrs();
    let (starts, ends, axes, steps) = if a.has("starts") {
        let st = a.ints("starts").unwrap_or_default();
        let en = a.ints("ends").ok_or_else(|| a.err("ends", "missing"))?;
        (st, en, a.ints("axes"), None)
    } else {
        let get = |i: usize| -> Result<Option<Vec<i64>>> { ctx.opt_input(i).map(|v| b.const_ints(ctx, v)).transpose() };
        (
            get(1)?.ok_or_else(|| ctx.shape_err("missing starts"))?,
            get(2)?.ok_or_else(|| ctx.shape_err("missing ends"))?,
            get(3)?,
            get(4)?,
        )
    };
    let axes: Vec<i64> = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(ctx.shape_err("starts, ends, axes and steps differ in length"));
    }
    // Per axis: first index and step; the output size.
    let mut first = vec![0i64; s.len()];
    let mut step = vec![1i64; s.len()];
    let mut out = s.clone();
    for k in 0..starts.len() {
        let ax = norm_axis(axes[k], s.len()).ok_or_else(|| ctx.shape_err(format!("axis {} out of range", axes[k])))?;
        let d = s[ax] as i64;
        let st = steps[k];
        if st == 0 {
            return Err(ctx.shape_err("step 0"));
        }
        let adj = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (lo, n) = if st > 0 {
            let lo = adj(starts[k]).clamp(0, d);
            let hi = adj(ends[k]).clamp(0, d);
            let st = st as i128;
            (lo, if hi > lo { ((hi - lo) as i128 + st - 1) / st } else { 0 } as i64)
        } else {
            let lo = adj(starts[k]).clamp(-1, d - 1);
            let hi = adj(ends[k]).clamp(-1, d - 1);
            (lo, if lo > hi { (lo - hi + (-st) - 1) / (-st) } else { 0 })
        };
        first[ax] = lo;
        step[ax] = st;
        out[ax] = n as usize;
    }
    let strd = strides(&s);
    let mut map = Vec::with_capacity(numel(&out));
    for_each_index(&out, |idx| {
        let f: i64 = idx.iter().enumerate().map(|(d, &i)| (first[d] + i as i64 * step[d]) * strd[d] as i64).sum();
        map.push(f as u32);
    });
    Ok(vec![gather_node(b, ctx, vec![x], map, out)?])
}

pub fn shape(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s: Vec<i64> = b.shape(x).iter().map(|&d| d as i64).collect();
    let r = s.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let lo = clamp(ctx.attrs().int_or("start", 0));
    let hi = clamp(ctx.attrs().int_or("end", r));
    let v: Vec<i64> = if lo < hi { s[lo..hi].to_vec() } else { vec![] };
    Ok(vec![b.push_const(&ctx.name, Tensor::int(vec![v.len()], v))])
}

/// Size: the element count, a constant (shapes are static).
pub fn size(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let n = numel(b.shape(ctx.input(0)?)) as i64;
    Ok(vec![b.push_const(&ctx.name, Tensor::int(vec![], vec![n]))])
}

pub fn constant_of_shape(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let dims = b.const_ints(ctx, ctx.input(0)?)?;
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| ctx.shape_err(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let n = crate::frontend::index::numel_checked(&shape)
        .filter(|&n| n <= crate::frontend::tensor::max_elements())
        .ok_or_else(|| ctx.shape_err("shape too large"))?;
    let t = match ctx.attrs().tensor("value")? {
        None => Tensor::float(shape, vec![0.0; n]),
        Some(v) => match &v.data {
            Data::Int(x) => Tensor::int(shape, vec![x.first().copied().unwrap_or(0); n]),
            Data::Float(x) => Tensor::float(shape, vec![x.first().copied().unwrap_or(0.0); n]),
        },
    };
    Ok(vec![b.push_const(&ctx.name, t)])
}

/// Pad (constant, edge, reflect, wrap): an index map; a non-zero constant
/// value is added to the padded positions by an affine map.
pub fn pad(b: &mut Builder, ctx: &NodeCtx) -> Result<Vec<ValueId>> {
    let x = ctx.input(0)?;
    let s = b.shape(x).to_vec();
    let r = s.len();
    let a = ctx.attrs();
    let mode = a.string("mode").unwrap_or_else(|| "constant".into());
    let (pads, value) = if let Some(p) = a.ints("pads") {
        (p, a.float_or("value", 0.0))
    } else {
        let p = b.const_ints(ctx, ctx.input(1)?)?;
        let v = match ctx.opt_input(2) {
            Some(v) => b.konst(v).ok_or_else(|| ctx.unsupported())?.get_f64(0),
            None => 0.0,
        };
        (p, v)
    };
    let axes: Vec<usize> = match ctx.opt_input(3) {
        Some(v) => b
            .const_ints(ctx, v)?
            .iter()
            .map(|&ax| norm_axis(ax, r).ok_or_else(|| ctx.shape_err(format!("axis {ax} out of range"))))
            .collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(ctx.shape_err(format!("{} pads for {} axes", pads.len(), axes.len())));
    }
    let (mut pb, mut pe) = (vec![0i64; r], vec![0i64; r]);
    for (k, &ax) in axes.iter().enumerate() {
        pb[ax] = pads[k];
        pe[ax] = pads[k + axes.len()];
    }
    let mut out = Vec::with_capacity(r);
    for d in 0..r {
        let limit = 1i64 << 30;
        if pb[d].abs() > limit || pe[d].abs() > limit {
            return Err(ctx.shape_err(format!("pads {pads:?} are too large")));
        }
        let n = s[d] as i64 + pb[d] + pe[d];
        if n < 0 || (s[d] == 0 && n > 0 && mode != "constant") {
            return Err(ctx.shape_err(format!("pads {pads:?} do not fit shape {s:?}")));
        }
        out.push(n as usize);
    }
    if !matches!(crate::frontend::index::numel_checked(&out), Some(n) if n <= crate::frontend::tensor::max_elements()) {
        return Err(ctx.shape_err("padded tensor is too large"));
    }
    let st = strides(&s);
    let mut map = Vec::with_capacity(numel(&out));
    let mut bad_mode = false;
    for_each_index(&out, |idx| {
        let mut flat = 0usize;
        let mut zero = false;
        for d in 0..r {
            let n = s[d] as i64;
            let mut c = idx[d] as i64 - pb[d];
            if !(0..n).contains(&c) {
                match mode.as_str() {
                    "constant" => zero = true,
                    "edge" => c = c.clamp(0, n - 1),
                    "wrap" => c = c.rem_euclid(n),
                    "reflect" => {
                        let period = 2 * (n - 1);
                        c = if period == 0 { 0 } else { c.rem_euclid(period) };
                        if c >= n {
                            c = period - c;
                        }
                    }
                    _ => bad_mode = true,
                }
            }
            flat += c.max(0) as usize * st[d];
        }
        map.push(if zero { ir::ZERO_SRC } else { flat as u32 });
    });
    if bad_mode {
        return Err(ctx.attrs().err("mode", format!("unknown mode {mode:?}")));
    }
    let padded: Vec<bool> = map.iter().map(|&m| m == ir::ZERO_SRC).collect();
    let g = b.push(ctx, &ctx.name, FOp::Gather(map), vec![x], out.clone())?;
    if value == 0.0 || !padded.iter().any(|&p| p) {
        return Ok(vec![g]);
    }
    let n = padded.len();
    let aff = crate::frontend::graph::Affine {
        row_ptr: (0..=n as u32).collect(),
        cols: (0..n as u32).collect(),
        weights: vec![1.0; n],
        bias: padded.iter().map(|&p| if p { value } else { 0.0 }).collect(),
    };
    Ok(vec![b.push(ctx, &ctx.sub("value"), FOp::Affine(aff), vec![g], out)?])
}
