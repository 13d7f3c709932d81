//! Drops nodes the outputs do not depend on (model inputs always stay) and
//! renumbers the rest in topological order.

use crate::error::Result;
use crate::frontend::graph::Graph;

pub fn run(g: &mut Graph) -> Result<()> {
    g.compact();
    Ok(())
}
