//! Folds a diagonal affine map (BatchNormalization, or Mul/Add by per-channel
//! constants) into the preceding product with constant weights (Conv, Gemm,
//! MatMul) when the product has no other consumer:
//! `w_o * (sum_t a[t] * W[t] + bias_o) + c_o` scales the weights of row `o`
//! by `w_o`, which works whenever every weight element is used by rows that
//! share one `w_o` (true for the output-channel axis of Conv and Gemm).

use crate::error::Result;
use crate::frontend::graph::{FOp, Graph, Node};
use crate::frontend::tensor::Tensor;

pub fn run(g: &mut Graph) -> Result<()> {
    let mut uses = g.use_counts();
    for j in 0..g.nodes.len() {
        let (p, aff) = match (&g.nodes[j].op, g.nodes[j].inputs.as_slice()) {
            (FOp::Affine(a), [p]) => (*p, a.clone()),
            _ => continue,
        };
        let n = aff.bias.len();
        let diagonal = aff.row_ptr.len() == n + 1
            && aff.row_ptr.iter().enumerate().all(|(o, &r)| r as usize == o)
            && aff.cols.iter().enumerate().all(|(o, &c)| c as usize == o);
        if !diagonal || uses[p] != 1 || g.is_output(p) {
            continue;
        }
        let contract = match &g.nodes[p].op {
            FOp::Contract(c) if c.terms.rows() == n => c.clone(),
            _ => continue,
        };
        let (a, b) = (g.nodes[p].inputs[0], g.nodes[p].inputs[1]);
        let (wv, weights_are_b) = match (g.konst(a), g.konst(b)) {
            (_, Some(_)) => (b, true),
            (Some(_), None) => (a, false),
            _ => continue,
        };
        let w = match g.konst(wv) {
            Some(t) => t.clone(),
            None => continue,
        };
        let idx = if weights_are_b { &contract.terms.b_idx } else { &contract.terms.a_idx };
        let mut factor: Vec<Option<f64>> = vec![None; w.len()];
        let mut ok = true;
        'rows: for o in 0..n {
            let f = aff.weights[o];
            for t in contract.terms.row(o) {
                match &mut factor[idx[t] as usize] {
                    Some(x) if *x != f => {
                        ok = false;
                        break 'rows;
                    }
                    slot => *slot = Some(f),
                }
            }
        }
        if !ok {
            continue;
        }
        let scaled: Vec<f64> = w.to_f64().iter().zip(&factor).map(|(x, f)| x * f.unwrap_or(1.0)).collect();
        let bias: Vec<f64> =
            (0..n).map(|o| aff.weights[o] * contract.bias.as_ref().map_or(0.0, |b| b[o]) + aff.bias[o]).collect();
        let new_w = g.nodes.len();
        g.nodes.push(Node {
            name: format!("{}/folded", g.nodes[wv].name),
            op: FOp::Const(Tensor::float(w.shape.clone(), scaled)),
            inputs: vec![],
            shape: w.shape.clone(),
        });
        uses.push(1);
        let jname = g.nodes[j].name.clone();
        let pn = &mut g.nodes[p];
        pn.inputs[if weights_are_b { 1 } else { 0 }] = new_w;
        pn.op = FOp::Contract(crate::frontend::graph::Contract { terms: contract.terms, bias: Some(bias) });
        pn.name = format!("{}+{}", pn.name, jname);
        let jn = &mut g.nodes[j];
        jn.op = FOp::Reshape;
    }
    Ok(())
}
