//! Drops integer nodes that no output depends on (model inputs always stay)
//! and renumbers the rest, keeping their order.

use ir::{Op, Program};

use crate::error::Result;

/// Rewrites every value an op reads through `f`.
pub fn remap_inputs(op: &mut Op, f: impl Fn(usize) -> usize) {
    match op {
        Op::Input { .. } => {}
        Op::Linear(l) => l.inputs.iter_mut().for_each(|i| *i = f(*i)),
        Op::Bilinear(b) => {
            b.a = f(b.a);
            b.b = f(b.b);
        }
        Op::Requant(r) => r.input = f(r.input),
        Op::Max(m) => m.input = f(m.input),
        Op::Gather(g) => g.inputs.iter_mut().for_each(|i| *i = f(*i)),
        Op::Table(t) => t.input = f(t.input),
        Op::Div(d) => {
            d.num = f(d.num);
            d.den = f(d.den);
        }
    }
}

pub fn run(p: &mut Program) -> Result<()> {
    let n = p.nodes.len();
    let mut live = vec![false; n];
    for o in &p.outputs {
        if o.value < n {
            live[o.value] = true;
        }
    }
    for i in (0..n).rev() {
        if matches!(p.nodes[i].op, Op::Input { .. }) {
            live[i] = true;
        }
        if live[i] {
            for j in p.nodes[i].op.inputs() {
                if j < n {
                    live[j] = true;
                }
            }
        }
    }
    let mut new_id = vec![usize::MAX; n];
    let mut k = 0;
    for i in 0..n {
        if live[i] {
            new_id[i] = k;
            k += 1;
        }
    }
    let old = std::mem::take(&mut p.nodes);
    p.nodes = old
        .into_iter()
        .enumerate()
        .filter(|(i, _)| live[*i])
        .map(|(_, mut node)| {
            remap_inputs(&mut node.op, |v| new_id[v]);
            node
        })
        .collect();
    for o in p.outputs.iter_mut() {
        o.value = new_id[o.value];
    }
    Ok(())
}
