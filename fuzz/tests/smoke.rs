//! A brief fuzz run of every target for CI: the seeds and a fixed number of
//! seeded mutants each (deterministic), with no panic, timeout or wrongly
//! accepted proof. `bash scripts/fuzz.sh` runs the same targets for longer.

use std::time::Duration;

use zkinfer_fuzz::{run, Config, TARGETS};

/// Cases per target (seeds included), and a time cap per target.
const CASES: u64 = 150;
const CAP: Duration = Duration::from_secs(6);

fn config() -> Config {
    let mut cfg = Config::new(CAP);
    cfg.max_cases = CASES;
    cfg.seed = 1;
    cfg.artifacts = std::env::temp_dir().join(format!("zkinfer-fuzz-smoke-{}", std::process::id()));
    cfg
}

#[test]
fn every_target_survives_a_short_run() {
    // One test, targets in turn: the runner's panic hook is process-wide.
    let cfg = config();
    let mut failures = vec![];
    for t in TARGETS {
        let r = run(t, &cfg);
        r.print();
        assert!(r.cases > 0, "{}: no case ran", t.name);
        if r.failed() {
            failures.push(format!(
                "{}: setup {:?}, panics {:?}, accepted {:?}, timeouts {:?}",
                t.name, r.setup_error, r.panics, r.accepted_mutants, r.timeouts
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&cfg.artifacts);
    assert!(failures.is_empty(), "fuzz failures:\n{}", failures.join("\n"));
}
