//! Masked attention under MockProver (issue 11 part 3): a torch GPT block
//! whose causal mask is a `-inf` fill proves, and the constrained rows of
//! the masked softmax (the max over the kept scores, the exp and reciprocal
//! tables, the normalizing product) reject a tampered witness. Its `kept`
//! and output Gathers are wiring (consumers read the source cells through
//! copy constraints), so there is nothing of theirs to tamper.

mod common;

use circuits::{Tamper, TamperTarget};
use common::*;
use ir::Op;

#[test]
fn masked_softmax_rows_reject_tampered_witnesses() {
    for name in ["gpt_mask_ninf_torchscript", "gpt_mask_finfo_dynamo"] {
        let c = case(&real_fixture(name));
        let bench = MockBench::new(compiler::compile_file(&c.model, &options(&c)).unwrap(), &c.inputs);
        bench.verify(vec![]).expect("the honest witness verifies");
        let picked: Vec<usize> = bench
            .program
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.name.to_ascii_lowercase().contains("softmax"))
            .filter(|(_, n)| matches!(n.op, Op::Max(_) | Op::Table(_) | Op::Bilinear(_)))
            .map(|(i, _)| i)
            .collect();
        let kinds: Vec<&str> = picked.iter().map(|&i| bench.program.nodes[i].op.kind()).collect();
        println!("{name}: tampering {kinds:?}");
        assert!(kinds.contains(&"max") && kinds.contains(&"table"), "{name}: masked softmax rows not found: {kinds:?}");
        for id in picked {
            let last = bench.program.nodes[id].len() - 1;
            let t = Tamper { node: id, element: last, target: TamperTarget::Output, delta: 1 };
            assert!(bench.verify(vec![t]).is_err(), "{name}: tampered {} verified", bench.program.nodes[id].name);
        }
    }
}
