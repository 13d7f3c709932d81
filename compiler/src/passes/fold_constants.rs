//! Evaluates every node whose inputs are all constant (the loader already
//! folds as it builds; this catches what other passes expose).

use crate::error::Result;
use crate::frontend::eval::eval_op;
use crate::frontend::graph::{FOp, Graph};
use crate::frontend::tensor::Tensor;

pub fn run(g: &mut Graph) -> Result<()> {
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        if matches!(n.op, FOp::Input(_) | FOp::Const(_)) || n.inputs.is_empty() {
            continue;
        }
        let ins: Option<Vec<&Tensor>> = n.inputs.iter().map(|&v| g.konst(v)).collect();
        if let Some(ins) = ins {
            let t = eval_op(&n.op, &ins, &n.shape)?;
            let n = &mut g.nodes[i];
            n.op = FOp::Const(t);
            n.inputs.clear();
        }
    }
    Ok(())
}
