//! EZKL-style JSON data files: `{"input_data": [[...], ...]}` and
//! `{"output_data": [[...], ...]}`; each entry is one tensor, flattened.

use serde_json::Value;

use crate::error::{CompileError, Result};

fn flatten(v: &Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        Value::Number(n) => out.push(n.as_f64().ok_or_else(|| CompileError::Json {
            reason: format!("bad number {n}"),
        })?),
        Value::Bool(b) => out.push(if *b { 1.0 } else { 0.0 }),
        Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out))?,
        other => {
            return Err(CompileError::Json {
                reason: format!("expected numbers, got {other}"),
            })
        }
    }
    Ok(())
}

fn tensors(text: &str, key: &str) -> Result<Vec<Vec<f64>>> {
    let v: Value = serde_json::from_str(text).map_err(|e| CompileError::Json {
        reason: e.to_string(),
    })?;
    let data = match &v {
        Value::Object(m) => m.get(key).ok_or_else(|| CompileError::Json {
            reason: format!("missing \"{key}\""),
        })?,
        other => other,
    };
    let Value::Array(items) = data else {
        return Err(CompileError::Json {
            reason: format!("\"{key}\" must be a list of tensors"),
        });
    };
    if items
        .iter()
        .all(|x| matches!(x, Value::Number(_) | Value::Bool(_)))
        && !items.is_empty()
    {
        let mut one = vec![];
        flatten(data, &mut one)?;
        return Ok(vec![one]);
    }
    items
        .iter()
        .map(|x| {
            let mut t = vec![];
            flatten(x, &mut t)?;
            Ok(t)
        })
        .collect()
}

/// `{"input_data": [[...], ...]}`, one flattened list per model input; a flat
/// list of numbers is one input; bools read as 0/1; nested lists are flattened.
pub fn parse_input_json(text: &str) -> Result<Vec<Vec<f64>>> {
    tensors(text, "input_data")
}

/// `{"output_data": [[...], ...]}`, one flattened list per model output.
pub fn parse_expected_json(text: &str) -> Result<Vec<Vec<f64>>> {
    tensors(text, "output_data")
}
