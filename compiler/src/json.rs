//! EZKL-style JSON data files: `{"input_data": [[...], ...]}` and
//! `{"output_data": [[...], ...]}`; each entry is one tensor, flattened.

use serde_json::Value;

use crate::error::{CompileError, Result};

fn flatten(v: &Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        Value::Number(n) => {
            out.push(n.as_f64().ok_or_else(|| CompileError::Json { reason: format!("bad number {n}") })?)
        }
        Value::Bool(b) => out.push(if *b { 1.0 } else { 0.0 }),
        // Non-standard tokens (Python's json writes them) and null: kept as
        // non-finite so the input check names the element.
        Value::String(s) if s == NAN_TOKEN || s == "NaN" => out.push(f64::NAN),
        Value::String(s) if s == "Infinity" => out.push(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => out.push(f64::NEG_INFINITY),
        Value::Null => out.push(f64::NAN),
        Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out))?,
        other => return Err(CompileError::Json { reason: format!("expected numbers, got {other}") }),
    }
    Ok(())
}

const NAN_TOKEN: &str = "NaN";

/// Quotes the bare `NaN`, `Infinity` and `-Infinity` tokens outside strings.
fn quote_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_str, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_str {
            in_str = c != '"' || escaped;
            escaped = c == '\\' && !escaped;
        } else if c == '"' {
            in_str = true;
        } else {
            let tok = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t));
            if let Some(t) = tok {
                out.push('"');
                out.push_str(t);
                out.push('"');
                rest = &rest[t.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(&quote_non_finite(text)).map_err(|e| CompileError::Json { reason: e.to_string() })
}

fn tensors(text: &str, key: &str) -> Result<Vec<Vec<f64>>> {
    let v = parse(text)?;
    let data = match &v {
        Value::Object(m) => m.get(key).ok_or_else(|| CompileError::Json { reason: format!("missing \"{key}\"") })?,
        other => other,
    };
    tensor_list(data, key)
}

/// One list of flattened tensors; a flat list of numbers is one tensor.
fn tensor_list(data: &Value, key: &str) -> Result<Vec<Vec<f64>>> {
    let Value::Array(items) = data else {
        return Err(CompileError::Json { reason: format!("\"{key}\" must be a list of tensors") });
    };
    if items.iter().all(|x| matches!(x, Value::Number(_) | Value::Bool(_) | Value::String(_) | Value::Null))
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

/// Calibration samples: `{"calibration_data": [sample, ...]}` where each
/// sample is one list of tensors (one per model input, as in `input_data`);
/// an `{"input_data": ...}` file is one sample.
pub fn parse_calibration_json(text: &str) -> Result<Vec<Vec<Vec<f64>>>> {
    let v = parse(text)?;
    match &v {
        Value::Object(m) if m.contains_key("calibration_data") => {
            let Some(Value::Array(samples)) = m.get("calibration_data") else {
                return Err(CompileError::Json { reason: "\"calibration_data\" must be a list of samples".into() });
            };
            samples.iter().map(|s| tensor_list(s, "calibration_data")).collect()
        }
        _ => Ok(vec![tensors(text, "input_data")?]),
    }
}

#[cfg(test)]
mod nan_tests {
    use super::*;
    #[test]
    fn non_finite_tokens_parse_as_non_finite() {
        let v =
            parse_input_json(r#"{"input_data": [[1.0, NaN, -Infinity, Infinity, null]], "note": "NaN in a string"}"#)
                .unwrap();
        assert!(v[0][1].is_nan() && v[0][2] == f64::NEG_INFINITY && v[0][3] == f64::INFINITY && v[0][4].is_nan());
        assert_eq!(v[0][0], 1.0);
    }
}
