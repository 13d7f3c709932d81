//! `Requant{shift, Identity}` followed by `Requant{0, Relu}` as its only
//! consumer becomes one `Requant{shift, Relu}`: the same range check on the
//! same quotient, with the activation applied after it.

use ir::{Activation, Op, Program};

use crate::error::Result;
use crate::passes::ir_dead_nodes::remap_inputs;

pub fn run(p: &mut Program) -> Result<()> {
    let n = p.nodes.len();
    let mut uses = vec![0usize; n];
    for node in &p.nodes {
        for i in node.op.inputs() {
            uses[i] += 1;
        }
    }
    for o in &p.outputs {
        uses[o.value] += 1;
    }
    let mut repl: Vec<usize> = (0..n).collect();
    for i in 0..n {
        remap_inputs(&mut p.nodes[i].op, |v| repl[v]);
        let Op::Requant(r) = &p.nodes[i].op else {
            continue;
        };
        if r.shift != 0 || r.act != Activation::Relu {
            continue;
        }
        let prev = r.input;
        if uses[prev] != 1 {
            continue;
        }
        if let Op::Requant(pr) = &mut p.nodes[prev].op {
            if pr.act == Activation::Identity {
                pr.act = Activation::Relu;
                repl[i] = prev;
                let name = p.nodes[i].name.clone();
                p.nodes[prev].name = format!("{}+{}", p.nodes[prev].name, name);
            }
        }
    }
    for o in p.outputs.iter_mut() {
        o.value = repl[o.value];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ir::{InputSpec, Node, OutputSpec, QuantSettings, RequantOp, Visibility};

    fn requant(input: usize, shift: u32, act: Activation) -> Node {
        Node { name: "r".into(), op: Op::Requant(RequantOp { input, shift, act }), shape: vec![2], scale: 4 }
    }

    #[test]
    fn fuses_only_single_use_identity_requants() {
        let mut p = Program {
            format_version: ir::FORMAT_VERSION,
            name: "t".into(),
            quant: QuantSettings { scale_bits: 4, range_bits: 8 },
            inputs: vec![InputSpec { name: "x".into(), shape: vec![2], bound: None, int_range: None }],
            nodes: vec![
                Node { name: "x".into(), op: Op::Input { index: 0 }, shape: vec![2], scale: 4 },
                requant(0, 4, Activation::Identity), // 1: single use -> fused
                requant(1, 0, Activation::Relu),     // 2
                requant(0, 4, Activation::Identity), // 3: two uses -> kept
                requant(3, 0, Activation::Relu),     // 4
            ],
            outputs: vec![
                OutputSpec { name: "a".into(), value: 2, shape: vec![2], dequant: None },
                OutputSpec { name: "b".into(), value: 4, shape: vec![2], dequant: None },
                OutputSpec { name: "c".into(), value: 3, shape: vec![2], dequant: None },
            ],
            input_visibility: Visibility::Private,
            output_visibility: Visibility::Public,
            params: None,
        };
        run(&mut p).expect("fuse");
        crate::passes::ir_dead_nodes::run(&mut p).expect("dce");
        assert_eq!(p.nodes.len(), 4);
        assert_eq!(p.nodes[1].op, Op::Requant(RequantOp { input: 0, shift: 4, act: Activation::Relu }));
        assert_eq!(p.outputs[0].value, 1);
        assert_eq!(p.nodes[3].op, Op::Requant(RequantOp { input: 2, shift: 0, act: Activation::Relu }));
        p.validate().expect("valid");
    }
}
