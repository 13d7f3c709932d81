//! `zkinfer-fuzz TARGET|all --secs N [--seed S] [--max-len BYTES] [--cases N] [--timeout SECS]`
//! `zkinfer-fuzz TARGET --replay FILE`
//! `zkinfer-fuzz --make-corpus [DIR]`, `zkinfer-fuzz --list`
//!
//! Exit status: 0 clean, 1 a panic, timeout or accepted mutant, 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use zkinfer_fuzz::{corpus, runner, targets, Config, TARGETS};

const USAGE: &str = "usage: zkinfer-fuzz TARGET|all --secs N [--seed S] [--max-len BYTES] [--cases N] \
                     [--timeout SECS] [--artifacts DIR]\n       zkinfer-fuzz TARGET --replay FILE\n       \
                     zkinfer-fuzz --make-corpus [DIR]\n       zkinfer-fuzz --list";

fn usage(msg: &str) -> ExitCode {
    eprintln!("zkinfer-fuzz: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(first) = args.first() else { return usage("no target") };
    match first.as_str() {
        "--list" | "-l" => {
            for t in TARGETS {
                println!("{:<12} {}", t.name, t.doc);
            }
            return ExitCode::SUCCESS;
        }
        "--make-corpus" => {
            let dir = args.get(1).map(PathBuf::from).unwrap_or_else(|| Config::new(Duration::ZERO).corpus);
            return match corpus::make_corpus(&dir) {
                Ok(()) => {
                    println!("wrote seeds under {}", dir.display());
                    ExitCode::SUCCESS
                }
                Err(e) => usage(&format!("cannot write the corpus: {e}")),
            };
        }
        "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let chosen: Vec<&targets::Target> = if first == "all" {
        TARGETS.iter().collect()
    } else {
        match targets::find(first) {
            Some(t) => vec![t],
            None => return usage(&format!("unknown target `{first}` (see --list)")),
        }
    };
    let mut cfg = Config::new(Duration::from_secs(60));
    cfg.record_current = true;
    let mut replay = None;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else { return usage(&format!("{flag} needs a value")) };
        let num = || value.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        match (flag.as_str(), num()) {
            ("--secs", Some(v)) => cfg.budget = Duration::from_secs_f64(v),
            ("--timeout", Some(v)) => cfg.deadline = Duration::from_secs_f64(v),
            ("--seed", Some(_)) => cfg.seed = value.parse().unwrap_or(0),
            ("--max-len", Some(v)) => cfg.max_len = v as usize,
            ("--cases", Some(v)) => cfg.max_cases = v as u64,
            ("--artifacts", _) => cfg.artifacts = value.into(),
            ("--replay", _) => replay = Some(PathBuf::from(value)),
            _ => return usage(&format!("bad option {flag} {value}")),
        }
    }
    if let Some(file) = replay {
        let [t] = chosen[..] else { return usage("--replay needs one target") };
        let data = match std::fs::read(&file) {
            Ok(d) => d,
            Err(e) => return usage(&format!("cannot read {}: {e}", file.display())),
        };
        // No catch_unwind: a panic prints its message (and, with
        // RUST_BACKTRACE=1, its backtrace) and exits 101.
        let start = std::time::Instant::now();
        let outcome = (t.check)(&data);
        println!("{}: {} bytes, {:?}: {outcome:?}", t.name, data.len(), start.elapsed());
        return ExitCode::SUCCESS;
    }
    let mut failed = false;
    for t in chosen {
        let report = runner::run(t, &cfg);
        report.print();
        failed |= report.failed();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
