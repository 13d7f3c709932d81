//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use zkinfer::CompileOptions;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus` beside the checkout; `None` (and a note) when absent.
pub fn corpus() -> Option<PathBuf> {
    let p = repo().join("..").join("shared").join("corpus");
    if p.join("MANIFEST.md").exists() {
        Some(p)
    } else {
        eprintln!("note: ../shared/corpus not found; corpus tests skipped");
        None
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

pub fn srs_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srs-cache")
}

pub use zkinfer::coverage::Case;

/// A model folder: model.onnx, input.json, expected.json (and calibration.json if present).
pub fn case(dir: &Path) -> Case {
    Case::read(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

pub fn options(c: &Case) -> CompileOptions {
    c.options()
}
