//! Constant tensors of the front-end graph and their decoding from ONNX
//! `TensorProto`s. Floats are held as `f64`, integers and bools as `i64`.
//!
//! `raw_data` is decoded here (little-endian) rather than through
//! onnx-protobuf's typed accessors, which are wrong for int8/int16 and
//! unimplemented for other types.

use onnx_protobuf::TensorProto;

use crate::error::{CompileError, Result};

/// Largest tensor the compiler accepts, in elements
/// ([`ir::limits::max_tensor_elements`]); guards against allocating on
/// absurd shapes in malformed or hostile files.
pub fn max_elements() -> usize {
    ir::limits::max_tensor_elements()
}

/// The element count of `shape`, or why it is refused: it overflows, or it
/// is over [`max_elements`].
pub fn checked_elements(shape: &[usize]) -> std::result::Result<usize, String> {
    match crate::frontend::index::numel_checked(shape) {
        None => Err(format!("shape {shape:?} overflows an element count")),
        Some(n) if n > max_elements() => Err(format!(
            "shape {shape:?} has {n} elements, over the cap of {} (raise it with ZKINFER_MAX_TENSOR_ELEMENTS)",
            max_elements()
        )),
        Some(n) => Ok(n),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Tensor {
    pub fn float(shape: Vec<usize>, v: Vec<f64>) -> Tensor {
        Tensor { shape, data: Data::Float(v) }
    }
    pub fn int(shape: Vec<usize>, v: Vec<i64>) -> Tensor {
        Tensor { shape, data: Data::Int(v) }
    }
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn is_int(&self) -> bool {
        matches!(self.data, Data::Int(_))
    }
    /// The values as floats (integers converted).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            Data::Float(v) => v.clone(),
            Data::Int(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }
    pub fn get_f64(&self, i: usize) -> f64 {
        match &self.data {
            Data::Float(v) => v.get(i).copied().unwrap_or(0.0),
            Data::Int(v) => v.get(i).map(|&x| x as f64).unwrap_or(0.0),
        }
    }
    /// The values as integers; floats must be integral.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::Int(v) => Some(v.clone()),
            Data::Float(v) => {
                v.iter().map(|&x| if x.fract() == 0.0 && x.abs() < 9.0e18 { Some(x as i64) } else { None }).collect()
            }
        }
    }
    /// Gathers elements by flat index (`None` = zero), keeping the element kind.
    pub fn gather(&self, shape: Vec<usize>, idx: impl Iterator<Item = Option<usize>>) -> Tensor {
        match &self.data {
            Data::Float(v) => {
                Tensor::float(shape, idx.map(|i| i.and_then(|i| v.get(i).copied()).unwrap_or(0.0)).collect())
            }
            Data::Int(v) => Tensor::int(shape, idx.map(|i| i.and_then(|i| v.get(i).copied()).unwrap_or(0)).collect()),
        }
    }
}

/// ONNX element type names, for messages.
pub fn dtype_name(t: i32) -> &'static str {
    match t {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "unsupported type",
    }
}

/// Integer and bool element types (model inputs of these are data too).
pub fn is_integer_dtype(t: i32) -> bool {
    matches!(t, 2..=7 | 9 | 12 | 13)
}

/// Float element types that may flow through the circuit as activations.
pub fn is_float_dtype(t: i32) -> bool {
    matches!(t, 1 | 10 | 11 | 16)
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let frac = (bits & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn bf16_to_f64(bits: u16) -> f64 {
    f32::from_bits((bits as u32) << 16) as f64
}

/// Decodes a `TensorProto` (initializer or attribute tensor).
pub fn from_proto(t: &TensorProto) -> Result<Tensor> {
    let name = if t.name.is_empty() { "<unnamed>".to_string() } else { t.name.clone() };
    let err = |reason: String| CompileError::Tensor { tensor: name.clone(), reason };
    if crate::frontend::external::is_external(t) {
        // `frontend::external::resolve` reads these before decoding.
        return Err(err("external data was not loaded; load the model from its file".into()));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let n = checked_elements(&shape).map_err(err)?;
    let raw = &t.raw_data;
    let chunks = |w: usize| -> Result<std::slice::ChunksExact<'_, u8>> {
        if raw.len() != n * w {
            return Err(err(format!("raw_data has {} bytes, expected {} for shape {:?}", raw.len(), n * w, shape)));
        }
        Ok(raw.chunks_exact(w))
    };
    let check_len = |got: usize| -> Result<()> {
        if got != n {
            return Err(err(format!("has {got} values, expected {n} for shape {shape:?}")));
        }
        Ok(())
    };
    let use_raw = !raw.is_empty() || n == 0;
    let data = match t.data_type {
        1 => Data::Float(if use_raw {
            chunks(4)?.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect()
        } else {
            check_len(t.float_data.len())?;
            t.float_data.iter().map(|&x| x as f64).collect()
        }),
        11 => Data::Float(if use_raw {
            chunks(8)?.map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
        } else {
            check_len(t.double_data.len())?;
            t.double_data.clone()
        }),
        10 | 16 => {
            let conv = if t.data_type == 10 { f16_to_f64 } else { bf16_to_f64 };
            Data::Float(if use_raw {
                chunks(2)?.map(|c| conv(u16::from_le_bytes([c[0], c[1]]))).collect()
            } else {
                check_len(t.int32_data.len())?;
                t.int32_data.iter().map(|&x| conv(x as u16)).collect()
            })
        }
        7 => Data::Int(if use_raw {
            chunks(8)?.map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
        } else {
            check_len(t.int64_data.len())?;
            t.int64_data.clone()
        }),
        2..=6 | 9 => {
            if use_raw {
                Data::Int(match t.data_type {
                    2 => chunks(1)?.map(|c| c[0] as i64).collect(),
                    3 => chunks(1)?.map(|c| c[0] as i8 as i64).collect(),
                    9 => chunks(1)?.map(|c| (c[0] != 0) as i64).collect(),
                    4 => chunks(2)?.map(|c| u16::from_le_bytes([c[0], c[1]]) as i64).collect(),
                    5 => chunks(2)?.map(|c| i16::from_le_bytes([c[0], c[1]]) as i64).collect(),
                    _ => chunks(4)?.map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect(),
                })
            } else {
                // int32_data holds every narrow integer type, one value per entry.
                check_len(t.int32_data.len())?;
                Data::Int(t.int32_data.iter().map(|&x| x as i64).collect())
            }
        }
        12 | 13 => Data::Int(if use_raw {
            if t.data_type == 12 {
                chunks(4)?.map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect()
            } else {
                chunks(8)?
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as i64)
                    .collect()
            }
        } else {
            check_len(t.uint64_data.len())?;
            t.uint64_data.iter().map(|&x| x as i64).collect()
        }),
        other => return Err(err(format!("element type {} ({other}) is not supported", dtype_name(other)))),
    };
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(data_type: i32, dims: Vec<i64>, raw: Vec<u8>) -> TensorProto {
        TensorProto { name: "t".into(), dims, data_type, raw_data: raw, ..Default::default() }
    }

    #[test]
    fn decodes_raw_little_endian() {
        let t = from_proto(&proto(5, vec![2], vec![0xfe, 0xff, 0x00, 0x01])).expect("int16");
        assert_eq!(t.data, Data::Int(vec![-2, 256]));
        let t = from_proto(&proto(10, vec![2], vec![0x00, 0x3c, 0x00, 0xc0])).expect("float16");
        assert_eq!(t.data, Data::Float(vec![1.0, -2.0]));
        let t = from_proto(&proto(9, vec![3], vec![1, 0, 7])).expect("bool");
        assert_eq!(t.data, Data::Int(vec![1, 0, 1]));
        let t = from_proto(&proto(11, vec![], 0.5f64.to_le_bytes().to_vec())).expect("double scalar");
        assert_eq!((t.shape.clone(), t.data), (vec![], Data::Float(vec![0.5])));
        let t = from_proto(&TensorProto { data_type: 6, dims: vec![2], int32_data: vec![-3, 4], ..Default::default() })
            .expect("int32_data");
        assert_eq!(t.data, Data::Int(vec![-3, 4]));
    }

    #[test]
    fn rejects_bad_tensors() {
        assert!(from_proto(&proto(1, vec![3], vec![0; 8])).is_err());
        assert!(from_proto(&proto(1, vec![-1], vec![])).is_err());
        assert!(from_proto(&proto(8, vec![1], vec![0])).is_err());
        assert!(from_proto(&proto(1, vec![1 << 40, 1 << 40], vec![])).is_err());
    }
}
