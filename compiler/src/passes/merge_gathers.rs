//! Composes a Gather that reads another Gather into one index map (so a
//! Transpose -> Reshape -> Concat chain costs one wiring step), and turns a
//! Gather that maps its single input onto itself into an alias.

use ir::ZERO_SRC;

use crate::error::Result;
use crate::frontend::graph::{FOp, Graph};
use crate::frontend::index::numel;

pub fn run(g: &mut Graph) -> Result<()> {
    for i in 0..g.nodes.len() {
        let map = match &g.nodes[i].op {
            FOp::Gather(m) => m.clone(),
            _ => continue,
        };
        let mut inputs = vec![];
        // Per old input: its old offset, length, and where its elements now come from.
        let mut remap: Vec<(u32, u32, Vec<u32>)> = vec![];
        let mut old_off = 0u32;
        for &v in &g.nodes[i].inputs {
            let len = numel(&g.nodes[v].shape) as u32;
            let new_off: u32 = inputs.iter().map(|&x: &usize| numel(&g.nodes[x].shape) as u32).sum();
            let table = match &g.nodes[v].op {
                FOp::Gather(inner) => {
                    inputs.extend(g.nodes[v].inputs.iter().copied());
                    inner.iter().map(|&m| if m == ZERO_SRC { ZERO_SRC } else { m + new_off }).collect()
                }
                _ => {
                    inputs.push(v);
                    (0..len).map(|k| k + new_off).collect()
                }
            };
            remap.push((old_off, len, table));
            old_off += len;
        }
        let new_map: Vec<u32> = map
            .iter()
            .map(|&m| {
                if m == ZERO_SRC {
                    return ZERO_SRC;
                }
                remap
                    .iter()
                    .find(|(off, len, _)| m >= *off && m < off + len)
                    .map(|(off, _, t)| t[(m - off) as usize])
                    .unwrap_or(ZERO_SRC)
            })
            .collect();
        let identity = inputs.len() == 1
            && new_map.len() == numel(&g.nodes[inputs[0]].shape)
            && new_map.iter().enumerate().all(|(k, &m)| m as usize == k);
        let node = &mut g.nodes[i];
        node.inputs = inputs;
        node.op = if identity { FOp::Reshape } else { FOp::Gather(new_map) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::graph::{GraphInput, Node};

    fn node(op: FOp, inputs: Vec<usize>, shape: Vec<usize>) -> Node {
        Node { name: "n".into(), op, inputs, shape }
    }

    #[test]
    fn composes_chains_and_drops_identities() {
        let mut g = Graph {
            inputs: vec![GraphInput { name: "x".into(), shape: vec![4], bound: None, int_range: None }],
            nodes: vec![
                node(FOp::Input(0), vec![], vec![4]),
                node(FOp::Gather(vec![3, 2, 1, 0]), vec![0], vec![4]), // reverse
                node(FOp::Gather(vec![1, ZERO_SRC, 6, 4]), vec![1, 0], vec![4]), // reads both
                node(FOp::Gather(vec![3, 2, 1, 0]), vec![1], vec![4]), // reverse twice
            ],
            outputs: vec![("a".into(), 2), ("b".into(), 3)],
        };
        run(&mut g).expect("pass");
        assert_eq!(g.nodes[2].op, FOp::Gather(vec![2, ZERO_SRC, 6, 4]));
        assert_eq!(g.nodes[2].inputs, vec![0, 0]);
        assert_eq!(g.nodes[3].op, FOp::Reshape);
        assert_eq!(g.nodes[3].inputs, vec![0]);
    }
}
