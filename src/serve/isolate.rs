//! Proofs in a child process (`zkinfer serve --isolate`): a proof that runs
//! past its deadline is killed, so its worker is free again at the deadline.
//! In-process proofs (the default) are faster, keys being loaded once, but
//! halo2's prover cannot be stopped midway: a timed-out in-process proof
//! keeps its worker until it ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ProofFile;

/// Why an isolated proof gave no proof file.
#[derive(Debug)]
pub enum ChildFailure {
    /// Killed at the deadline.
    Killed,
    /// The child failed: its last stderr lines, or why it could not run.
    Failed(String),
}

/// Proves `inputs` for the model folder `dir` with `exe prove` (the running
/// `zkinfer` binary), killing it at `deadline`. Its input and output files
/// are temporary and removed whatever happens.
pub fn prove(exe: &Path, dir: &Path, inputs: &[Vec<f64>], deadline: Instant) -> Result<ProofFile, ChildFailure> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("zkinfer-serve-{}-{n}", std::process::id()));
    let files = Temp(vec![base.with_extension("in.json"), base.with_extension("out.json"), base.with_extension("err")]);
    let [input, output, err] = [&files.0[0], &files.0[1], &files.0[2]];
    let fail = |what: &str, e: std::io::Error| ChildFailure::Failed(format!("{what}: {e}"));
    let body = serde_json::to_vec(&serde_json::json!({ "input_data": inputs }))
        .map_err(|e| ChildFailure::Failed(e.to_string()))?;
    std::fs::write(input, body).map_err(|e| fail("cannot write the child's input", e))?;
    let stderr = std::fs::File::create(err).map_err(|e| fail("cannot create the child's log", e))?;
    let mut child = Command::new(exe)
        .arg("prove")
        .arg(dir)
        .arg("--input")
        .arg(input)
        .arg("-o")
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| fail("cannot start the prover process", e))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ChildFailure::Killed);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(fail("cannot wait for the prover process", e)),
        }
    };
    if !status.success() {
        let log = std::fs::read_to_string(err).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        return Err(ChildFailure::Failed(format!(
            "the prover process exited with {status}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )));
    }
    let text = std::fs::read(output).map_err(|e| fail("cannot read the child's proof", e))?;
    serde_json::from_slice(&text).map_err(|e| ChildFailure::Failed(format!("the child's proof file: {e}")))
}

/// Files removed on drop.
struct Temp(Vec<PathBuf>);

impl Drop for Temp {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}
