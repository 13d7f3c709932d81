//! Every op reads its inputs as flat vectors, so a consumer of a Reshape
//! alias (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Cast) can
//! read the alias's source directly. Aliases that are graph outputs stay, for
//! their shape.

use crate::error::Result;
use crate::frontend::graph::{FOp, Graph};

pub fn run(g: &mut Graph) -> Result<()> {
    for i in 0..g.nodes.len() {
        for k in 0..g.nodes[i].inputs.len() {
            let mut v = g.nodes[i].inputs[k];
            while let (FOp::Reshape, Some(&src)) = (&g.nodes[v].op, g.nodes[v].inputs.first()) {
                v = src;
            }
            g.nodes[i].inputs[k] = v;
        }
    }
    Ok(())
}
