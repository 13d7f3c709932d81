//! Index arithmetic shared by shape inference, float evaluation and lowering:
//! every data-movement op becomes a flat index map.

/// Element count, `None` on overflow.
pub fn numel_checked(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Numpy broadcasting of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Calls `f` with every multi-index of `shape`, in row-major order.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// For each element of `out` (row-major), the flat index of the element of a
/// tensor of shape `inp` that broadcasts onto it (`inp` right-aligned).
/// The caller has checked that `inp` broadcasts to `out`.
pub fn broadcast_map(inp: &[usize], out: &[usize]) -> Vec<u32> {
    let st = strides(inp);
    let off = out.len() - inp.len().min(out.len());
    let mut map = Vec::with_capacity(numel(out));
    for_each_index(out, |idx| {
        let mut f = 0usize;
        for (d, &i) in idx.iter().enumerate().skip(off) {
            let k = d - off;
            if inp[k] != 1 {
                f += i * st[k];
            }
        }
        map.push(f as u32);
    });
    map
}

/// Normalizes a possibly negative axis against `rank`.
pub fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Some(a as usize)
    } else {
        None
    }
}
