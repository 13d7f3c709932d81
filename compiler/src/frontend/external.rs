//! ONNX external data: tensors whose bytes live in a side file (torch >= 2.9
//! writes `model.onnx.data` by default). [`resolve`] reads them into
//! `raw_data` before decoding, so the rest of the front end sees ordinary
//! tensors.
//!
//! Safety: a location is resolved relative to the model file's folder only;
//! absolute paths, `..` components and symlinks leading out of the folder are
//! refused; offset and length are checked against the file size and against
//! the tensor's byte size (dims x element width) before anything is
//! allocated. The optional `checksum` key (SHA-1) is not verified.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use onnx_protobuf::{tensor_proto::DataLocation, GraphProto, ModelProto, TensorProto};
use protobuf::EnumOrUnknown;

use crate::error::{CompileError, Result};
use crate::frontend::tensor::{checked_elements, dtype_name};

/// Whether the tensor's data is stored outside the model file.
pub fn is_external(t: &TensorProto) -> bool {
    t.data_location.value() == DataLocation::EXTERNAL as i32 || !t.external_data.is_empty()
}

/// Bytes per element of the types `raw_data` can hold.
fn elem_width(t: i32) -> Option<u64> {
    Some(match t {
        2 | 3 | 9 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 => 8,
        _ => return None,
    })
}

/// Reads every external tensor of the model (initializers, attribute
/// tensors, subgraphs) into its `raw_data`. `dir` is the model file's folder;
/// `None` (bytes without a file) makes any external tensor an error.
pub fn resolve(model: &mut ModelProto, dir: Option<&Path>) -> Result<()> {
    if let Some(g) = model.graph.as_mut() {
        let mut base = None;
        resolve_graph(g, dir, &mut base)?;
    }
    Ok(())
}

fn resolve_graph(g: &mut GraphProto, dir: Option<&Path>, base: &mut Option<PathBuf>) -> Result<()> {
    for t in &mut g.initializer {
        resolve_tensor(t, dir, base)?;
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            if let Some(t) = a.t.as_mut() {
                resolve_tensor(t, dir, base)?;
            }
            for t in &mut a.tensors {
                resolve_tensor(t, dir, base)?;
            }
            if let Some(sub) = a.g.as_mut() {
                resolve_graph(sub, dir, base)?;
            }
            for sub in &mut a.graphs {
                resolve_graph(sub, dir, base)?;
            }
        }
    }
    Ok(())
}

fn resolve_tensor(t: &mut TensorProto, dir: Option<&Path>, base: &mut Option<PathBuf>) -> Result<()> {
    if !is_external(t) {
        return Ok(());
    }
    let name = if t.name.is_empty() { "<unnamed>".to_string() } else { t.name.clone() };
    let err = |reason: String| CompileError::Tensor { tensor: name.clone(), reason };
    let mut location = None;
    let mut offset = None;
    let mut length = None;
    for kv in &t.external_data {
        let num = |v: &str| {
            v.trim().parse::<u64>().map_err(|_| err(format!("external data {}: '{v}' is not a byte count", kv.key)))
        };
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = Some(num(&kv.value)?),
            "length" => length = Some(num(&kv.value)?),
            _ => {} // checksum (SHA-1, not verified) and unknown keys
        }
    }
    let location = location
        .filter(|l| !l.is_empty())
        .ok_or_else(|| err("external data has no 'location' (the side file's name)".into()))?;
    let dir = dir.ok_or_else(|| {
        err(format!(
            "data is stored in external file '{location}'; load the model from its file (not from bytes) so the \
             file can be found next to it"
        ))
    })?;
    let rel = Path::new(&location);
    let escapes = rel.is_absolute()
        || location.starts_with('/')
        || location.starts_with('\\')
        || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(err(format!(
            "external data location '{location}' leaves the model's folder (absolute or '..' paths are refused)"
        )));
    }
    if base.is_none() {
        let canon = std::fs::canonicalize(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
            .map_err(|e| err(format!("cannot resolve the model's folder {}: {e}", dir.display())))?;
        *base = Some(canon);
    }
    let base_dir = base.as_deref().unwrap_or(dir);
    let file = dir.join(rel);
    let canon = std::fs::canonicalize(&file)
        .map_err(|e| err(format!("external data file '{location}' not found (looked for {}): {e}", file.display())))?;
    if !canon.starts_with(base_dir) {
        return Err(err(format!(
            "external data location '{location}' resolves to {} outside the model's folder {} (symlink?)",
            canon.display(),
            base_dir.display()
        )));
    }
    // The tensor's expected size, before touching the file's bytes.
    let width = elem_width(t.data_type).ok_or_else(|| {
        err(format!("element type {} ({}) cannot be stored as external data", dtype_name(t.data_type), t.data_type))
    })?;
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let n = checked_elements(&shape).map_err(err)?;
    let expected = n as u64 * width;
    let size =
        std::fs::metadata(&canon).map_err(|e| err(format!("cannot read external data file '{location}': {e}")))?.len();
    let offset = offset.unwrap_or(0);
    let length = length.unwrap_or_else(|| size.saturating_sub(offset));
    if length != expected {
        return Err(err(format!(
            "external data length {length} bytes does not match shape {shape:?} of {} ({expected} bytes)",
            dtype_name(t.data_type)
        )));
    }
    match offset.checked_add(length) {
        Some(end) if end <= size => {}
        _ => {
            return Err(err(format!(
                "external data file '{location}' is truncated: needs bytes {offset}..{} but has {size} bytes",
                offset.saturating_add(length)
            )))
        }
    }
    let mut f = File::open(&canon).map_err(|e| err(format!("cannot open external data file '{location}': {e}")))?;
    let mut raw = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut raw))
        .map_err(|e| err(format!("cannot read external data file '{location}': {e}")))?;
    t.raw_data = raw;
    t.external_data.clear();
    t.data_location = EnumOrUnknown::new(DataLocation::DEFAULT);
    Ok(())
}
