//! The mutations: AFL-style byte havoc for every target, plus structural
//! mutations for JSON (on the parsed value) and ONNX (on the decoded
//! protobuf), so most cases get past the outer parser. Every choice comes
//! from one seeded ChaCha stream: a seed replays a run exactly.

use onnx_protobuf::{Message, ModelProto};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::Value;

/// What a target's input is, so the mutator knows which structure to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Binary,
    Json,
    Onnx,
}

const INTERESTING_8: [u8; 9] = [0, 1, 0x10, 0x20, 0x40, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_32: [u32; 10] = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const INTERESTING_64: [u64; 6] = [0, 1, 1 << 32, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, u64::MAX];
const INTERESTING_I64: [i64; 12] = [0, 1, -1, 2, 3, 7, 64, 255, 1 << 20, i32::MAX as i64, i64::MAX, i64::MIN];

/// JSON tokens a parser or a later stage might mishandle (written as text:
/// several are not representable as a `serde_json::Value`).
const JSON_TOKENS: [&str; 24] = [
    "0",
    "-0",
    "-1",
    "1.5",
    "-2.5e-7",
    "1e308",
    "-1e308",
    "1e400",
    "-1e400",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "9007199254740993",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "true",
    "\"\"",
    "\"0x\"",
    "\"NaN\"",
    "[]",
    "{}",
];

const ONNX_OPS: [&str; 48] = [
    "Abs",
    "Add",
    "ArgMax",
    "AveragePool",
    "BatchNormalization",
    "BitShift",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "CumSum",
    "DequantizeLinear",
    "Div",
    "Einsum",
    "Expand",
    "Flatten",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gemm",
    "GRU",
    "LSTM",
    "MatMul",
    "MaxPool",
    "Mod",
    "Mul",
    "NonZero",
    "OneHot",
    "Pad",
    "Pow",
    "QLinearMatMul",
    "QuantizeLinear",
    "Range",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "ScatterND",
    "Slice",
    "Softmax",
    "Split",
    "Tile",
    "TopK",
    "Transpose",
    "Where",
];

pub struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A uniform number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// A mutant of `seed`: one structural mutation (for JSON and ONNX, half
    /// of the time) or a stack of 1 to 8 byte mutations; never longer than
    /// `max_len`. `corpus` supplies splice partners.
    pub fn mutate(&mut self, seed: &[u8], corpus: &[Vec<u8>], kind: InputKind, max_len: usize) -> Vec<u8> {
        let structural = match kind {
            InputKind::Json if self.chance(2) => self.mutate_json(seed),
            InputKind::Onnx if self.chance(2) => self.mutate_onnx(seed),
            _ => None,
        };
        let mut data = match structural {
            Some(d) => d,
            None => {
                let mut d = seed.to_vec();
                for _ in 0..1 + self.below(8) {
                    self.mutate_bytes(&mut d, corpus, max_len);
                }
                d
            }
        };
        data.truncate(max_len);
        data
    }

    /// One byte-level mutation, in place.
    pub fn mutate_bytes(&mut self, d: &mut Vec<u8>, corpus: &[Vec<u8>], max_len: usize) {
        if d.is_empty() {
            d.push(*self.pick(&INTERESTING_8));
            return;
        }
        let len = d.len();
        match self.below(14) {
            0 | 1 => {
                let bit = self.below(len * 8);
                d[bit / 8] ^= 1 << (bit % 8);
            }
            2 => {
                let i = self.below(len);
                d[i] = *self.pick(&INTERESTING_8);
            }
            3 => {
                let i = self.below(len);
                d[i] = self.rng.next_u32() as u8;
            }
            4 if len >= 4 => {
                let i = self.below(len - 3);
                let v = *self.pick(&INTERESTING_32);
                let b = if self.chance(2) { v.to_le_bytes() } else { v.to_be_bytes() };
                d[i..i + 4].copy_from_slice(&b);
            }
            5 if len >= 8 => {
                let i = self.below(len - 7);
                let v = *self.pick(&INTERESTING_64);
                let b = if self.chance(2) { v.to_le_bytes() } else { v.to_be_bytes() };
                d[i..i + 8].copy_from_slice(&b);
            }
            6 => {
                // Add or subtract a small amount (a length or count off by a few).
                let i = self.below(len);
                let delta = 1 + self.below(35) as u8;
                d[i] = if self.chance(2) { d[i].wrapping_add(delta) } else { d[i].wrapping_sub(delta) };
            }
            7 => d.truncate(self.below(len)),
            8 => {
                let n = 1 + self.below(64.min(max_len.saturating_sub(len)).max(1));
                let at = self.below(len + 1);
                let fill: Vec<u8> = (0..n).map(|_| self.rng.next_u32() as u8).collect();
                d.splice(at..at, fill);
            }
            9 => {
                // Duplicate a chunk somewhere else.
                let (a, n) = self.chunk(len);
                let chunk = d[a..a + n].to_vec();
                let at = self.below(len + 1);
                d.splice(at..at, chunk);
            }
            10 => {
                let (a, n) = self.chunk(len);
                d.drain(a..a + n);
            }
            11 => {
                // Overwrite a chunk with another chunk of the same input.
                let (a, n) = self.chunk(len);
                let b = self.below(len - n + 1);
                d.copy_within(a..a + n, b);
            }
            12 if !corpus.is_empty() => {
                // Splice: our head, another entry's tail.
                let other = self.pick(corpus);
                if !other.is_empty() {
                    let cut = self.below(len);
                    let from = self.below(other.len());
                    d.truncate(cut);
                    d.extend_from_slice(&other[from..]);
                }
            }
            _ => {
                // An ASCII digit run (numbers in text formats).
                let i = self.below(len);
                let digits = b"0123456789-.eE";
                let end = len.min(i + 1 + self.below(4));
                let run: Vec<u8> = (i..end).map(|_| *self.pick(digits)).collect();
                d[i..end].copy_from_slice(&run);
            }
        }
        d.truncate(max_len);
    }

    /// A random `(start, len)` with `len >= 1` inside `0..len`.
    fn chunk(&mut self, len: usize) -> (usize, usize) {
        let n = 1 + self.below(len.min(256));
        (self.below(len - n + 1), n)
    }

    // ----- JSON -----

    /// A structural mutant of a JSON document, or `None` when it does not
    /// parse (the caller falls back to bytes).
    pub fn mutate_json(&mut self, seed: &[u8]) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(seed).ok()?;
        let n = count_nodes(&v);
        let target = self.below(n);
        // Raw text replacements go in through a unique marker string.
        const MARK: &str = "__zkinfer_fuzz_raw__";
        let mut raw: Option<String> = None;
        let donor = nth_node(&v, self.below(n)).cloned();
        let choice = self.below(12);
        {
            let node = nth_node_mut(&mut v, target)?;
            match choice {
                0..=3 => {
                    raw = Some(self.pick(&JSON_TOKENS).to_string());
                    *node = Value::String(MARK.into());
                }
                4 => {
                    let depth = *self.pick(&[2usize, 64, 127, 128, 129, 1000, 100_000]);
                    raw = Some(format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
                    *node = Value::String(MARK.into());
                }
                5 => {
                    // Wrong type: wrap or unwrap.
                    *node = match node.take() {
                        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                        other => Value::Array(vec![other]),
                    };
                }
                6 => {
                    if let Some(d) = donor {
                        *node = d;
                    }
                }
                7 => match node {
                    Value::Array(a) if !a.is_empty() => {
                        let i = self.below(a.len());
                        a.remove(i);
                    }
                    Value::Object(m) if !m.is_empty() => {
                        let k = m.keys().nth(self.below(m.len())).cloned()?;
                        m.remove(&k);
                    }
                    _ => *node = Value::Null,
                },
                8 => {
                    if let Value::Array(a) = node {
                        // Grow a list (shape mismatches, big inputs).
                        if let Some(x) = a.first().cloned() {
                            let times = *self.pick(&[1usize, 2, 100, 10_000]);
                            a.extend(std::iter::repeat_n(x, times));
                        }
                    } else if let Value::Object(m) = node {
                        m.insert("unexpected".into(), Value::from(1));
                    }
                }
                9 => {
                    if let Value::String(s) = node {
                        *s = self.mutate_text(s);
                    } else if let Value::Number(x) = node {
                        let i = *self.pick(&INTERESTING_I64);
                        *node = if self.chance(2) {
                            Value::from(i)
                        } else {
                            Value::from(x.as_f64().unwrap_or(0.0) * 2f64.powi(self.below(80) as i32 - 40))
                        };
                    }
                }
                10 => {
                    if let Value::Number(x) = node {
                        // Near an integer boundary, or just off an integer.
                        let f = x.as_f64().unwrap_or(0.0);
                        *node = Value::from(f + *self.pick(&[1e-9, -1e-9, 0.5, 1.0, -1.0]));
                    }
                }
                _ => {
                    if let Value::Array(a) = node {
                        if a.len() >= 2 {
                            let (i, j) = (self.below(a.len()), self.below(a.len()));
                            a.swap(i, j);
                        }
                    }
                }
            }
        }
        let mut text = serde_json::to_string(&v).ok()?;
        if let Some(r) = raw {
            text = text.replacen(&format!("\"{MARK}\""), &r, 1);
        }
        Some(text.into_bytes())
    }

    /// A small edit of a string: hex digits, case, prefix, length.
    fn mutate_text(&mut self, s: &str) -> String {
        let mut b: Vec<u8> = s.as_bytes().to_vec();
        match self.below(6) {
            0 if !b.is_empty() => {
                let i = self.below(b.len());
                b[i] = *self.pick(b"0123456789abcdefABCDEFxg ");
            }
            1 => b.truncate(self.below(b.len() + 1)),
            2 => return s.to_ascii_uppercase(),
            3 => return s.trim_start_matches("0x").to_string(),
            4 => b.extend_from_slice(b"00"),
            _ => {
                let n = 1 + self.below(4);
                for _ in 0..n.min(b.len()) {
                    let i = self.below(b.len());
                    b.remove(i);
                }
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }

    // ----- ONNX -----

    /// A structural mutant of an ONNX model (decoded, edited, encoded), or
    /// `None` when it does not decode.
    pub fn mutate_onnx(&mut self, seed: &[u8]) -> Option<Vec<u8>> {
        let mut m = ModelProto::parse_from_bytes(seed).ok()?;
        for _ in 0..1 + self.below(3) {
            self.mutate_model(&mut m);
        }
        m.write_to_bytes().ok()
    }

    fn int(&mut self) -> i64 {
        if self.chance(3) {
            self.below(9) as i64 - 4
        } else {
            *self.pick(&INTERESTING_I64)
        }
    }

    fn float(&mut self) -> f32 {
        *self.pick(&[
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1e-30,
            1e30,
            f32::MAX,
            f32::MIN,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
        ])
    }

    fn mutate_model(&mut self, m: &mut ModelProto) {
        let names: Vec<String> = {
            let g = m.graph.get_or_default();
            g.node.iter().flat_map(|n| n.input.iter().chain(&n.output).cloned()).collect()
        };
        let choice = self.below(12);
        if choice == 11 {
            if let Some(op) = m.opset_import.first_mut() {
                op.version = *self.pick(&[0, 1, 7, 9, 11, 13, 17, 21, 1000, -1]);
            }
            return;
        }
        let g = m.graph.mut_or_insert_default();
        match choice {
            0 | 1 if !g.node.is_empty() => {
                let i = self.below(g.node.len());
                let n = &mut g.node[i];
                if n.attribute.is_empty() || self.chance(3) {
                    n.op_type = self.pick(&ONNX_OPS).to_string();
                } else {
                    let j = self.below(n.attribute.len());
                    let v = self.int();
                    let f = self.float();
                    let a = &mut n.attribute[j];
                    match self.below(5) {
                        0 => a.i = v,
                        1 if !a.ints.is_empty() => {
                            let k = self.below(a.ints.len());
                            a.ints[k] = v;
                        }
                        1 => a.ints.push(v),
                        2 => a.f = f,
                        3 => a.ints.truncate(self.below(a.ints.len() + 1)),
                        _ => a.type_ = protobuf::EnumOrUnknown::from_i32(self.below(16) as i32),
                    }
                }
            }
            2 if !g.node.is_empty() && !names.is_empty() => {
                // Rewire: an input names another value, nothing, or itself.
                let i = self.below(g.node.len());
                let name = match self.below(3) {
                    0 => String::new(),
                    1 => g.node[i].output.first().cloned().unwrap_or_default(),
                    _ => self.pick(&names).clone(),
                };
                let n = &mut g.node[i];
                if n.input.is_empty() || self.chance(4) {
                    n.input.push(name);
                } else {
                    let k = self.below(n.input.len());
                    n.input[k] = name;
                }
            }
            3 if !g.node.is_empty() => {
                let i = self.below(g.node.len());
                match self.below(3) {
                    0 => {
                        g.node.remove(i);
                    }
                    1 => {
                        let n = g.node[i].clone();
                        g.node.insert(self.below(g.node.len() + 1), n);
                    }
                    _ => {
                        let j = self.below(g.node.len());
                        g.node.swap(i, j);
                    }
                }
            }
            4..=6 if !g.initializer.is_empty() => {
                let i = self.below(g.initializer.len());
                let v = self.int();
                let f = self.float();
                let t = &mut g.initializer[i];
                match self.below(7) {
                    0 if !t.dims.is_empty() => {
                        let k = self.below(t.dims.len());
                        t.dims[k] = v;
                    }
                    0 | 1 => {
                        if self.chance(2) {
                            t.dims.push(v)
                        } else {
                            t.dims.pop();
                        }
                    }
                    2 => t.data_type = self.below(24) as i32,
                    3 => {
                        let n = t.raw_data.len();
                        t.raw_data.truncate(self.below(n + 1));
                    }
                    4 if !t.raw_data.is_empty() && t.raw_data.len().is_multiple_of(4) => {
                        // A float element set to a special value.
                        let k = self.below(t.raw_data.len() / 4) * 4;
                        t.raw_data[k..k + 4].copy_from_slice(&f.to_le_bytes());
                    }
                    4 => t.float_data.push(f),
                    5 => {
                        if !t.int64_data.is_empty() {
                            let k = self.below(t.int64_data.len());
                            t.int64_data[k] = v;
                        } else {
                            t.int64_data.push(v);
                        }
                    }
                    _ => {
                        let extra = t.raw_data.clone();
                        t.raw_data.extend(extra);
                    }
                }
            }
            7 | 8 if !g.input.is_empty() => {
                use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
                use onnx_protobuf::type_proto::Value as Ty;
                let i = self.below(g.input.len());
                let v = self.int();
                let ty = g.input[i].type_.mut_or_insert_default();
                if let Some(Ty::TensorType(tt)) = &mut ty.value {
                    match self.below(4) {
                        0 => tt.elem_type = self.below(24) as i32,
                        1 => {
                            tt.shape.mut_or_insert_default().dim.pop();
                        }
                        _ => {
                            let shape = tt.shape.mut_or_insert_default();
                            let dim = if self.chance(4) { Dim::DimParam("N".into()) } else { Dim::DimValue(v) };
                            if shape.dim.is_empty() || self.chance(4) {
                                shape.dim.push(Default::default());
                            }
                            let k = self.below(shape.dim.len());
                            shape.dim[k].value = Some(dim);
                        }
                    }
                } else {
                    ty.value = None;
                }
            }
            9 if !g.output.is_empty() => {
                let i = self.below(g.output.len());
                if self.chance(2) || names.is_empty() {
                    g.output.remove(i);
                } else {
                    g.output[i].name = self.pick(&names).clone();
                }
            }
            _ => {
                // A graph input or initializer duplicated (name clashes).
                if !g.initializer.is_empty() && self.chance(2) {
                    let t = g.initializer[self.below(g.initializer.len())].clone();
                    g.initializer.push(t);
                } else if !g.input.is_empty() {
                    let x = g.input[self.below(g.input.len())].clone();
                    g.input.push(x);
                }
            }
        }
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order.
fn nth_node(v: &Value, n: usize) -> Option<&Value> {
    fn go<'a>(v: &'a Value, n: &mut usize) -> Option<&'a Value> {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter().find_map(|x| go(x, n)),
            Value::Object(m) => m.values().find_map(|x| go(x, n)),
            _ => None,
        }
    }
    go(v, &mut { n })
}

fn nth_node_mut(v: &mut Value, n: usize) -> Option<&mut Value> {
    fn go<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|x| go(x, n)),
            Value::Object(m) => m.values_mut().find_map(|x| go(x, n)),
            _ => None,
        }
    }
    go(v, &mut { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_mutants() {
        let seed = br#"{"input_data": [[0.5, 1, 2]]}"#;
        let run = |s| {
            let mut m = Mutator::new(s);
            (0..50).map(|_| m.mutate(seed, &[], InputKind::Json, 4096)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mutants_respect_max_len() {
        let mut m = Mutator::new(1);
        for _ in 0..500 {
            assert!(m.mutate(&[7; 40], &[vec![1; 100]], InputKind::Binary, 64).len() <= 64);
        }
    }
}
