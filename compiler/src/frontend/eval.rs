//! Float evaluation of the front-end graph: the reference the quantized
//! program is measured against, and the source of calibration ranges.

use crate::error::{CompileError, Result};
use crate::frontend::graph::{FOp, Graph};
use crate::frontend::tensor::{Data, Tensor};

/// Evaluates one op on its (already computed) inputs.
pub fn eval_op(op: &FOp, inputs: &[&Tensor], shape: &[usize]) -> Result<Tensor> {
    let shape = shape.to_vec();
    let first = || inputs.first().copied().ok_or_else(|| internal(op, "missing input"));
    Ok(match op {
        FOp::Input(_) => return Err(internal(op, "inputs are not evaluated")),
        FOp::Const(t) => t.clone(),
        FOp::Reshape => Tensor { shape, data: first()?.data.clone() },
        FOp::Gather(map) => {
            let all_int = inputs.iter().all(|t| t.is_int());
            if all_int {
                let cat: Vec<i64> = inputs.iter().flat_map(|t| t.to_i64().unwrap_or_default()).collect();
                Tensor::int(shape, map.iter().map(|&m| cat.get(m as usize).copied().unwrap_or(0)).collect())
            } else {
                let cat: Vec<f64> = inputs.iter().flat_map(|t| t.to_f64()).collect();
                Tensor::float(shape, map.iter().map(|&m| cat.get(m as usize).copied().unwrap_or(0.0)).collect())
            }
        }
        FOp::Contract(c) => {
            let (a, b) = match inputs {
                [a, b] => (a.to_f64(), b.to_f64()),
                _ => return Err(internal(op, "expects two inputs")),
            };
            let mut out = Vec::with_capacity(c.terms.rows());
            for o in 0..c.terms.rows() {
                let mut acc = c.bias.as_ref().and_then(|b| b.get(o).copied()).unwrap_or(0.0);
                for t in c.terms.row(o) {
                    acc += a.get(c.terms.a_idx[t] as usize).copied().unwrap_or(0.0)
                        * b.get(c.terms.b_idx[t] as usize).copied().unwrap_or(0.0);
                }
                out.push(acc);
            }
            Tensor::float(shape, out)
        }
        FOp::Affine(l) => {
            let x: Vec<f64> = inputs.iter().flat_map(|t| t.to_f64()).collect();
            let out = (0..l.bias.len())
                .map(|o| {
                    l.bias[o]
                        + l.row(o)
                            .map(|t| x.get(l.cols[t] as usize).copied().unwrap_or(0.0) * l.weights[t])
                            .sum::<f64>()
                })
                .collect();
            Tensor::float(shape, out)
        }
        FOp::Max(w) => {
            let x = first()?.to_f64();
            let out = (0..w.row_ptr.len().saturating_sub(1))
                .map(|o| {
                    (w.row_ptr[o] as usize..w.row_ptr[o + 1] as usize)
                        .map(|t| x.get(w.cols[t] as usize).copied().unwrap_or(f64::NEG_INFINITY))
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .collect();
            Tensor::float(shape, out)
        }
        FOp::Func(f) => Tensor::float(shape, first()?.to_f64().into_iter().map(|x| f.apply(x)).collect()),
        FOp::Relu => match &first()?.data {
            Data::Float(v) => Tensor::float(shape, v.iter().map(|&x| x.max(0.0)).collect()),
            Data::Int(v) => Tensor::int(shape, v.iter().map(|&x| x.max(0)).collect()),
        },
        FOp::Step { or_equal } => {
            let step = |x: f64| (x > 0.0 || (*or_equal && x == 0.0)) as i64;
            match &first()?.data {
                Data::Float(v) => Tensor::float(shape, v.iter().map(|&x| step(x) as f64).collect()),
                Data::Int(v) => Tensor::int(shape, v.iter().map(|&x| step(x as f64)).collect()),
            }
        }
        FOp::Quantize(q) => crate::frontend::ops::quant::eval_quantize(q, first()?, shape),
        FOp::DynQuant(part) => crate::frontend::ops::quant::eval_dyn_quantize(*part, first()?, shape),
        FOp::BitShift(op) => crate::frontend::ops::bitwise::eval_bit_shift(op, first()?, shape)?,
        FOp::QTable(t) => crate::frontend::ops::qop::eval_table(t, first()?, shape)?,
    })
}

fn internal(op: &FOp, reason: &str) -> CompileError {
    CompileError::Shape { node: "<internal>".into(), op: op.kind().into(), reason: reason.into() }
}

/// Checks float inputs against the graph's input shapes.
pub fn check_inputs(g: &Graph, inputs: &[Vec<f64>]) -> Result<()> {
    if inputs.len() != g.inputs.len() {
        return Err(CompileError::InputCount { expected: g.inputs.len(), got: inputs.len() });
    }
    for (index, (spec, data)) in g.inputs.iter().zip(inputs).enumerate() {
        let expected: usize = spec.shape.iter().product();
        if data.len() != expected {
            return Err(CompileError::InputLength {
                index,
                name: spec.name.clone(),
                shape: spec.shape.clone(),
                expected,
                got: data.len(),
            });
        }
        if let Some((element, &value)) = data.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(CompileError::NotFinite { index, name: spec.name.clone(), element, value });
        }
    }
    Ok(())
}

/// Every value of the graph on one sample.
pub fn eval_graph(g: &Graph, inputs: &[Vec<f64>]) -> Result<Vec<Tensor>> {
    check_inputs(g, inputs)?;
    let mut values: Vec<Tensor> = Vec::with_capacity(g.nodes.len());
    for node in &g.nodes {
        let t = match &node.op {
            FOp::Input(i) => Tensor::float(node.shape.clone(), inputs[*i].clone()),
            op => {
                let ins: Vec<&Tensor> = node.inputs.iter().map(|&i| &values[i]).collect();
                eval_op(op, &ins, &node.shape).map_err(|e| match e {
                    CompileError::Shape { op, reason, .. } => {
                        CompileError::Shape { node: node.name.clone(), op, reason }
                    }
                    e => e,
                })?
            }
        };
        values.push(t);
    }
    Ok(values)
}

/// The graph's outputs on one sample, flattened.
pub fn run(g: &Graph, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let values = eval_graph(g, inputs)?;
    Ok(g.outputs.iter().map(|(_, v)| values[*v].to_f64()).collect())
}
