//! Where to cut a program into segments (issue 14; `ir::segment` does the
//! cutting): each segment, with its boundary's input checks and hashes,
//! must fit `2^max_k` rows.

use ir::{segment, Program};

use crate::{error::CircuitError, layout, poseidon};

/// Lanes the row estimate assumes unless told (each segment is then planned
/// on its own, within `max_k`).
pub const ESTIMATE_LANES: usize = 16;
/// Rows kept free for blinding and the zero cell.
const RESERVED_ROWS: usize = 64;

/// Per cut position `c` (0..=n): the boundary's element count, and whether
/// it is a valid cut (every boundary value range-safe).
fn boundaries(p: &Program) -> (Vec<usize>, Vec<bool>) {
    let n = p.nodes.len();
    let safe = segment::range_safe(p);
    let mut last_use: Vec<usize> = (0..n).collect();
    for (i, node) in p.nodes.iter().enumerate() {
        for v in node.op.inputs() {
            last_use[v] = last_use[v].max(i);
        }
    }
    for o in &p.outputs {
        last_use[o.value] = n;
    }
    // Values whose last use is node i leave the live set after i.
    let mut ends: Vec<Vec<usize>> = vec![vec![]; n + 1];
    for (v, &u) in last_use.iter().enumerate() {
        if u > v {
            ends[u].push(v);
        }
    }
    let (mut elems, mut unsafe_live) = (0usize, 0usize);
    let mut sizes = vec![0; n + 1];
    let mut valid = vec![false; n + 1];
    for c in 1..=n {
        // Value c-1 becomes live if it is read after it; values last read by
        // node c-1 are dead from c on.
        let v = c - 1;
        if last_use[v] > v {
            elems += p.nodes[v].len();
            unsafe_live += usize::from(!safe[v]);
        }
        for &d in &ends[v] {
            elems -= p.nodes[d].len();
            unsafe_live -= usize::from(!safe[d]);
        }
        sizes[c] = elems;
        valid[c] = c < n && unsafe_live == 0;
    }
    (sizes, valid)
}

/// The cuts, or `Err((start, node))`: the segment from `start` overflows at
/// `node` with no valid cut that fits before it.
/// Rows of hashing a boundary of `elems` elements (0 for none).
fn hash(elems: usize) -> usize {
    if elems == 0 {
        0
    } else {
        poseidon::rows(elems, poseidon::block(ESTIMATE_LANES))
    }
}

fn greedy(rows: &[usize], sizes: &[usize], valid: &[bool], budget: usize) -> Result<Vec<usize>, (usize, usize)> {
    let n = rows.len();
    let mut cuts = vec![];
    let mut start = 0;
    loop {
        let base = if start > 0 { sizes[start] + hash(sizes[start]) } else { 0 };
        let mut acc = base;
        let mut best = None;
        let mut over = n - 1;
        for (i, &r) in rows.iter().enumerate().skip(start) {
            acc += r;
            let c = i + 1;
            if c == n && acc <= budget {
                return Ok(cuts);
            }
            if acc > budget {
                over = i;
                break;
            }
            if valid[c] && acc + hash(sizes[c]) <= budget {
                best = Some(c);
            }
        }
        let c = best.ok_or((start, over))?;
        cuts.push(c);
        start = c;
    }
}

/// Cuts that make every segment fit `budget` estimated rows: the latest
/// valid cut that fits, segment by segment. With `segments`, the smallest
/// budget giving at most that many segments (so as even as the greedy cut
/// allows). `None` budget: `2^max_k` minus reserved rows.
pub fn plan_cuts(
    p: &Program,
    max_k: u32,
    segments: Option<usize>,
    budget: Option<usize>,
) -> Result<Vec<usize>, CircuitError> {
    plan_cuts_at(p, max_k, segments, budget, ESTIMATE_LANES)
}

/// [`plan_cuts`] with the rows estimated at `lanes` dot lanes (the lane
/// count a forced or memory-bounded shape will have).
pub fn plan_cuts_at(
    p: &Program,
    max_k: u32,
    segments: Option<usize>,
    budget: Option<usize>,
    lanes: usize,
) -> Result<Vec<usize>, CircuitError> {
    let masks = layout::zero_masks(p);
    let lanes = lanes.max(crate::columns::MIN_LANES);
    let rows: Vec<usize> = (0..p.nodes.len()).map(|i| layout::node_rows(p, &masks, i, lanes, None)).collect();
    let (sizes, valid) = boundaries(p);
    let cap = budget.unwrap_or((1usize << max_k).saturating_sub(RESERVED_ROWS));
    let too_large = |(start, node): (usize, usize)| CircuitError::SegmentTooLarge {
        start,
        node,
        name: p.nodes.get(node).map(|n| n.name.clone()).unwrap_or_default(),
        max_k,
    };
    let fit = greedy(&rows, &sizes, &valid, cap).map_err(too_large)?;
    let Some(want) = segments else { return Ok(fit) };
    if want <= fit.len() + 1 {
        // More segments than asked are needed to fit 2^max_k: keep those.
        return Ok(fit);
    }
    // Binary search the smallest budget giving at most `want` segments.
    let (mut lo, mut hi) = (1usize, cap);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match greedy(&rows, &sizes, &valid, mid) {
            Ok(c) if c.len() < want => hi = mid, // c.len() + 1 segments
            _ => lo = mid + 1,
        }
    }
    let res = greedy(&rows, &sizes, &valid, lo).map_err(too_large)?;
    if res.len() + 1 >= want {
        return Ok(res);
    }
    // The greedy cut fills segments from the front and may reach the budget
    // with fewer segments than asked: cut at the valid boundaries nearest
    // the row quantiles instead, when every segment still fits `cap`.
    let mut cum = vec![0usize; rows.len() + 1];
    for (i, r) in rows.iter().enumerate() {
        cum[i + 1] = cum[i] + r;
    }
    let total = cum[rows.len()];
    let mut cuts: Vec<usize> = vec![];
    for j in 1..want {
        let target = total * j / want;
        let after = cuts.last().copied().unwrap_or(0);
        let best = (after + 1..rows.len()).filter(|&c| valid[c]).min_by_key(|&c| cum[c].abs_diff(target));
        match best {
            Some(c) => cuts.push(c),
            None => return Ok(res),
        }
    }
    let mut bounds = vec![0];
    bounds.extend_from_slice(&cuts);
    bounds.push(rows.len());
    let fits = bounds.windows(2).all(|w| {
        let (a, b) = (w[0], w[1]);
        let inp = if a > 0 { sizes[a] + hash(sizes[a]) } else { 0 };
        let out = if b < rows.len() { hash(sizes[b]) } else { 0 };
        inp + cum[b] - cum[a] + out <= cap
    });
    Ok(if fits { cuts } else { res })
}

/// Estimated rows of each segment of `p` cut at `cuts` (for reports).
pub fn estimate_rows(p: &Program, cuts: &[usize]) -> Vec<usize> {
    estimate_rows_at(p, cuts, ESTIMATE_LANES)
}

/// [`estimate_rows`] at `lanes` dot lanes.
pub fn estimate_rows_at(p: &Program, cuts: &[usize], lanes: usize) -> Vec<usize> {
    let masks = layout::zero_masks(p);
    let lanes = lanes.max(crate::columns::MIN_LANES);
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(p.nodes.len());
    bounds.windows(2).map(|w| (w[0]..w[1]).map(|i| layout::node_rows(p, &masks, i, lanes, None)).sum()).collect()
}
