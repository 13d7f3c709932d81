//! The loop: seeds first, then mutants, each case under `catch_unwind` with
//! a silenced panic hook and watched by a deadline thread. Failing inputs
//! are saved under `artifacts/<target>/` as `crash-<hash>`, `accepted-<hash>`
//! or `timeout-<hash>` (with a `.txt` saying why).

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha3::{Digest, Keccak256};

use crate::mutate::Mutator;
use crate::targets::{Target, ACCEPTED};

#[derive(Clone, Debug)]
pub struct Config {
    /// Stop after this long (seeds included)...
    pub budget: Duration,
    /// ...or after this many cases, whichever comes first.
    pub max_cases: u64,
    pub seed: u64,
    /// Mutants are cut to this length (or to the largest seed, if longer).
    pub max_len: usize,
    /// A case over this is a timeout; over three times this the process
    /// exits (a thread cannot be killed).
    pub deadline: Duration,
    /// Where failing inputs go (`<artifacts>/<target>/`).
    pub artifacts: PathBuf,
    /// Where `corpus/<target>/` seeds are read from.
    pub corpus: PathBuf,
    /// Write each input to `<artifacts>/<target>/.current` before running
    /// it, so an input that aborts the process (out of memory under
    /// `ulimit -v`, stack overflow) is left behind.
    pub record_current: bool,
}

impl Config {
    pub fn new(budget: Duration) -> Self {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        Config {
            budget,
            max_cases: u64::MAX,
            seed: 0,
            max_len: 64 * 1024,
            deadline: Duration::from_secs(10),
            artifacts: here.join("artifacts"),
            corpus: here.join("corpus"),
            record_current: false,
        }
    }
}

/// Failing inputs with one panic message and location (the innermost
/// frame of a workspace crate); the first few are saved.
#[derive(Debug, Clone)]
pub struct Finding {
    pub signature: String,
    pub count: u64,
    pub saved: Vec<PathBuf>,
}

/// Inputs saved per finding.
const SAVE_PER_FINDING: usize = 3;

fn record(findings: &mut Vec<Finding>, signature: String, save_input: impl FnOnce() -> PathBuf) {
    match findings.iter_mut().find(|f| f.signature == signature) {
        Some(f) => {
            f.count += 1;
            if f.saved.len() < SAVE_PER_FINDING {
                f.saved.push(save_input());
            }
        }
        None => findings.push(Finding { signature, count: 1, saved: vec![save_input()] }),
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub target: String,
    pub seeds: usize,
    pub cases: u64,
    pub accepted: u64,
    /// Refusals grouped by the first words of their message.
    pub errors: BTreeMap<String, u64>,
    /// Panics and wrongly accepted mutants, by message and location.
    pub panics: Vec<Finding>,
    pub accepted_mutants: Vec<Finding>,
    pub timeouts: Vec<PathBuf>,
    pub slowest: Duration,
    pub elapsed: Duration,
    /// VmHWM (kB) at the end; the process peak since the target started
    /// where the kernel allows resetting it, else since the process started.
    pub peak_rss_kb: Option<u64>,
    /// Why the target could not start (its generated seeds failed).
    pub setup_error: Option<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.setup_error.is_some()
            || !self.panics.is_empty()
            || !self.accepted_mutants.is_empty()
            || !self.timeouts.is_empty()
    }

    pub fn print(&self) {
        if let Some(e) = &self.setup_error {
            println!("== {}: SETUP FAILED: {e}", self.target);
            return;
        }
        let rate = self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "== {}: {} cases ({} seeds) in {:.1}s ({rate:.0}/s), {} accepted, {} distinct errors, {} panics, {} \
             timeouts, {} accepted mutants, slowest case {} ms, peak RSS {}",
            self.target,
            self.cases,
            self.seeds,
            self.elapsed.as_secs_f64(),
            self.accepted,
            self.errors.len(),
            self.panics.iter().map(|f| f.count).sum::<u64>(),
            self.timeouts.len(),
            self.accepted_mutants.iter().map(|f| f.count).sum::<u64>(),
            self.slowest.as_millis(),
            self.peak_rss_kb.map_or("?".into(), |k| format!("{} MiB", k / 1024)),
        );
        let mut top: Vec<_> = self.errors.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (msg, n) in top.iter().take(12) {
            println!("   {n:>8}  {msg}");
        }
        if top.len() > 12 {
            println!("   ... and {} more", top.len() - 12);
        }
        for f in self.panics.iter().chain(&self.accepted_mutants) {
            println!("   FAIL x{} {}", f.count, f.signature);
            for p in &f.saved {
                println!("        {}", p.display());
            }
        }
        for p in &self.timeouts {
            println!("   TIMEOUT {}", p.display());
        }
    }
}

/// The first words of an error, numbers and hex replaced, so messages that
/// differ only in values group together.
pub fn error_key(msg: &str) -> String {
    let mut words = vec![];
    for w in msg.split_whitespace().take(7) {
        let w: String = w.chars().take(40).collect();
        let digits = w.chars().filter(char::is_ascii_digit).count();
        words.push(if digits * 2 >= w.len().max(1) || w.starts_with("0x") { "#".into() } else { w });
    }
    words.join(" ")
}

pub fn short_hash(data: &[u8]) -> String {
    Keccak256::digest(data)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The seeds of `target`: `corpus/<name>/*` then the generated ones (an
/// error if those cannot be made).
pub fn seeds(target: &Target, corpus: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(target.name))
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    let mut out: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    out.extend((target.generated)()?);
    Ok(out)
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS (Linux >= 4.0); best effort.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The innermost frame of a workspace crate in a backtrace: where a panic
/// in the standard library (an overflowing `product`, a slice index) was
/// called from.
fn workspace_frame(bt: &str) -> String {
    const CRATES: [&str; 5] = ["ir::", "compiler::", "circuits::", "prover::", "zkinfer::"];
    bt.lines()
        .map(str::trim)
        .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
        .find(|f| CRATES.iter().any(|c| f.starts_with(c) || f.starts_with(&format!("<{c}"))))
        .map(|f| f.to_string())
        .unwrap_or_else(|| "<no workspace frame>".into())
}

/// A panic payload's message.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic payload>".into())
}

/// The message and location the hook recorded, else the payload's message.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match LAST_PANIC.lock().map(|mut l| l.take()) {
        Ok(Some(full)) => full,
        _ => payload_text(payload),
    }
}

/// The case the watchdog is watching.
struct Watched {
    started: Option<Instant>,
    input: Arc<Vec<u8>>,
    flagged: bool,
}

fn save(dir: &Path, kind: &str, data: &[u8], why: &str) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{kind}-{}", short_hash(data)));
    let _ = std::fs::write(&path, data);
    let _ = std::fs::write(path.with_extension("txt"), format!("{why}\n"));
    path
}

/// Runs `target` per `cfg`. Installs a silent panic hook for the duration
/// (process-wide: do not run two at once in one process).
pub fn run(target: &Target, cfg: &Config) -> Report {
    let dir = cfg.artifacts.join(target.name);
    let current = dir.join(".current");
    if current.exists() {
        if let Ok(d) = std::fs::read(&current) {
            let p = save(&dir, "abort", &d, "the process died running this input (abort, OOM or stack overflow)");
            eprintln!("{}: an earlier run died on an input; saved as {}", target.name, p.display());
        }
        let _ = std::fs::remove_file(&current);
    }
    // The budget starts after the seeds (and the fixture they may need) exist.
    let seeds = match seeds(target, &cfg.corpus) {
        Ok(s) => s,
        Err(e) => return Report { target: target.name.into(), setup_error: Some(e), ..Report::default() },
    };
    let t0 = Instant::now();
    let max_len = cfg.max_len.max(seeds.iter().map(Vec::len).max().unwrap_or(0));
    let mut report = Report { target: target.name.into(), seeds: seeds.len(), ..Report::default() };

    let prev_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let msg = payload_text(info.payload());
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let frame = workspace_frame(&std::backtrace::Backtrace::force_capture().to_string());
        if let Ok(mut l) = LAST_PANIC.lock() {
            *l = Some(format!("{msg} (at {at}; in {frame})"));
        }
    }));
    let watched = Arc::new(Mutex::new(Watched { started: None, input: Arc::new(vec![]), flagged: false }));
    let stop = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (watched, stop, dir, deadline, name) =
            (watched.clone(), stop.clone(), dir.clone(), cfg.deadline, target.name);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let Ok(mut w) = watched.lock() else { return };
                let Some(started) = w.started else { continue };
                let took = started.elapsed();
                if took > deadline && !w.flagged {
                    w.flagged = true;
                    let p = save(&dir, "timeout", &w.input, &format!("over the {deadline:?} deadline"));
                    eprintln!("{name}: case over {deadline:?}, saved as {}", p.display());
                }
                if took > deadline * 3 {
                    eprintln!("{name}: case hung for {took:?}; exiting (input saved above)");
                    std::process::exit(3);
                }
            }
        })
    };

    // Peak memory is measured after the fixture exists (a one-off cost).
    if seeds.is_empty() {
        eprintln!("{}: no seeds", target.name);
    }
    reset_peak_rss();
    let name_hash: [u8; 8] = Keccak256::digest(target.name)[..8].try_into().expect("8 bytes");
    let mut mutator = Mutator::new(cfg.seed ^ u64::from_le_bytes(name_hash));
    let mut i = 0u64;
    while i < cfg.max_cases && t0.elapsed() < cfg.budget && !seeds.is_empty() {
        let input = if (i as usize) < seeds.len() {
            seeds[i as usize].clone()
        } else {
            let s = &seeds[mutator.below(seeds.len())];
            mutator.mutate(s, &seeds, target.kind, max_len)
        };
        i += 1;
        let input = Arc::new(input);
        if cfg.record_current {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(&current, &*input);
        }
        if let Ok(mut w) = watched.lock() {
            *w = Watched { started: Some(Instant::now()), input: input.clone(), flagged: false };
        }
        let start = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.check)(&input)));
        let took = start.elapsed();
        report.slowest = report.slowest.max(took);
        let flagged = watched.lock().map(|mut w| {
            w.started = None;
            w.flagged
        });
        report.cases += 1;
        match result {
            Ok(Ok(())) => report.accepted += 1,
            Ok(Err(e)) => *report.errors.entry(error_key(&e)).or_insert(0) += 1,
            Err(payload) => {
                let msg = panic_text(&*payload);
                let (findings, kind) = if msg.contains(ACCEPTED) {
                    (&mut report.accepted_mutants, "accepted")
                } else {
                    (&mut report.panics, "crash")
                };
                record(findings, msg.clone(), || save(&dir, kind, &input, &msg));
            }
        }
        if flagged.unwrap_or(false) || took > cfg.deadline {
            let why = format!("took {took:?}, over the {:?} deadline", cfg.deadline);
            report.timeouts.push(save(&dir, "timeout", &input, &why));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    panic::set_hook(prev_hook);
    if cfg.record_current {
        let _ = std::fs::remove_file(&current);
    }
    report.elapsed = t0.elapsed();
    report.peak_rss_kb = peak_rss_kb();
    report
}
