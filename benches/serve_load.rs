//! Load test of `zkinfer serve` on loopback (issue 13): concurrent prove
//! requests for a small and a mid-size model against one server process;
//! throughput, p50/p95/p99 latency, rejected requests (429), and that every
//! returned proof verifies. Bounded: a fixed number of requests per model and
//! a wall-clock limit; it stops by itself.
//!
//! `cargo bench --bench serve_load --profile test` (the test profile is
//! opt-level 3 and reuses the suite's build; `cargo bench --bench serve_load`
//! for a release build). Arguments: `[REQUESTS] [CLIENTS]` (default 24, 6).
//! Results go to stdout as a Markdown table and to
//! `target/bench-serve/serve_load.json`.
//!
//! Server settings: `--workers 2`; in process with `--queue 2` (with more
//! clients than workers + queue some requests are refused with 429 and
//! retried after `Retry-After`: the refusals are counted) and `--queue 16`
//! (none are); then the default mode, a child process per proof, `--queue 16`.
//! Latency is measured per successful attempt (queue wait + proof) and per
//! request (first attempt to proof, retries included).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zkinfer::serve::client::request;
use zkinfer::{CompileOptions, ProofFile, SrsSource, Verifier};

const WALL_LIMIT: Duration = Duration::from_secs(300);
const WORKERS: usize = 2;
/// Server settings tried, `(queue, in process)`: a queue short enough to
/// refuse (429) and one that never does, in process; and the default mode
/// (a child process per proof) with the long queue.
const CONFIGS: [(usize, bool); 3] = [(2, true), (16, true), (16, false)];

struct Model {
    name: String,
    dir: PathBuf,
    input_len: usize,
}

fn prepare(repo: &Path, out: &Path, cache: &Path) -> Vec<Model> {
    // Small: the example MLP (k=12); mid-size: the example CNN (k=14, 4x the rows).
    let sources: Vec<(String, PathBuf)> = vec![
        ("mlp".into(), repo.join("examples/mlp/model.onnx")),
        ("cnn".into(), repo.join("examples/cnn/model.onnx")),
    ];
    sources
        .into_iter()
        .map(|(name, model)| {
            let dir = out.join(&name);
            let cal = model.with_file_name("calibration.json");
            let mut opts = CompileOptions::default();
            if cal.exists() {
                let text = std::fs::read_to_string(&cal).unwrap();
                opts.calibration = compiler::parse_calibration_json(&text).unwrap();
            }
            let m = zkinfer::compile(&model, &opts, &dir).unwrap();
            zkinfer::setup(&dir, &SrsSource::DevCached(cache.to_path_buf())).unwrap();
            let input_len = m.program.inputs.iter().map(|i| i.shape.iter().product::<usize>()).sum();
            println!("{name}: k={} rows={}", m.shape.k, m.settings.rows);
            Model { name, dir, input_len }
        })
        .collect()
}

struct Server {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn start(dirs: &[PathBuf], queue: usize, in_process: bool) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .arg("serve")
        .args(dirs)
        .args(["--addr", "127.0.0.1:0", "--workers", &WORKERS.to_string(), "--queue", &queue.to_string()])
        .args(["--timeout", "120"])
        .args(if in_process { &["--in-process"][..] } else { &[] })
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[derive(serde::Serialize)]
struct Row {
    model: String,
    mode: &'static str,
    queue: usize,
    requests: usize,
    clients: usize,
    proved: usize,
    rejected_429: usize,
    failed: usize,
    verified: usize,
    wall_s: f64,
    proofs_per_s: f64,
    attempt_p50_ms: f64,
    attempt_p95_ms: f64,
    attempt_p99_ms: f64,
    request_p50_ms: f64,
    request_p95_ms: f64,
    request_p99_ms: f64,
}

fn load(server: &Server, m: &Model, (queue, in_process): (usize, bool), requests: usize, clients: usize) -> Row {
    let next = AtomicUsize::new(0);
    let rejected = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let attempts = Mutex::new(Vec::new());
    let totals = Mutex::new(Vec::new());
    let proofs = Mutex::new(Vec::new());
    let start = Instant::now();
    let path = format!("/v1/models/{}/prove", m.name);
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || start.elapsed() > WALL_LIMIT {
                    return;
                }
                let v: Vec<f64> = (0..m.input_len).map(|j| ((j * 7 + i * 13) % 17) as f64 / 17.0 - 0.5).collect();
                let body = serde_json::to_vec(&serde_json::json!({ "input_data": [v] })).unwrap();
                let first = Instant::now();
                loop {
                    let t = Instant::now();
                    match request(server.addr, "POST", &path, Some(&body), Duration::from_secs(150)) {
                        Ok(a) if a.status == 200 => {
                            attempts.lock().unwrap().push(t.elapsed().as_secs_f64() * 1e3);
                            totals.lock().unwrap().push(first.elapsed().as_secs_f64() * 1e3);
                            proofs.lock().unwrap().push(a.body);
                            break;
                        }
                        Ok(a) if a.status == 429 => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                            let wait: u64 = a.header("retry-after").and_then(|s| s.parse().ok()).unwrap_or(1);
                            if start.elapsed() > WALL_LIMIT {
                                failed.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            std::thread::sleep(Duration::from_secs(wait));
                        }
                        Ok(a) => {
                            eprintln!("{}: status {}: {}", m.name, a.status, a.text());
                            failed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => {
                            eprintln!("{}: {e}", m.name);
                            failed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let verifier = Verifier::load(&m.dir).unwrap();
    let proofs = proofs.into_inner().unwrap();
    let verified = proofs
        .iter()
        .filter(|b| serde_json::from_slice::<ProofFile>(b).map(|p| verifier.verify(&p).is_ok()).unwrap_or(false))
        .count();
    let mut a = attempts.into_inner().unwrap();
    let mut t = totals.into_inner().unwrap();
    a.sort_by(f64::total_cmp);
    t.sort_by(f64::total_cmp);
    Row {
        model: m.name.clone(),
        mode: if in_process { "in process" } else { "child" },
        queue,
        requests,
        clients,
        proved: proofs.len(),
        rejected_429: rejected.into_inner(),
        failed: failed.into_inner(),
        verified,
        wall_s: wall,
        proofs_per_s: proofs.len() as f64 / wall,
        attempt_p50_ms: quantile(&a, 0.5),
        attempt_p95_ms: quantile(&a, 0.95),
        attempt_p99_ms: quantile(&a, 0.99),
        request_p50_ms: quantile(&t, 0.5),
        request_p95_ms: quantile(&t, 0.95),
        request_p99_ms: quantile(&t, 0.99),
    }
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let requests = args.first().copied().unwrap_or(24);
    let clients = args.get(1).copied().unwrap_or(6);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = repo.join("target").join("bench-serve");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let cache =
        std::env::var_os("ZKINFER_CACHE").map(PathBuf::from).unwrap_or_else(|| repo.join("target").join("srs-cache"));
    let models = prepare(&repo, &out, &cache);
    let dirs: Vec<PathBuf> = models.iter().map(|m| m.dir.clone()).collect();
    let mut rows = vec![];
    for (queue, in_process) in CONFIGS {
        let server = start(&dirs, queue, in_process);
        for (i, m) in models.iter().enumerate() {
            // The mid-size model gets half the requests (each takes ~4x longer).
            let n = if i == 0 { requests } else { requests.div_ceil(2) };
            rows.push(load(&server, m, (queue, in_process), n, clients));
        }
    }
    println!(
        "\nserver: --workers {WORKERS}; {clients} clients; clients wait Retry-After on a 429 and retry; {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!("| model | proofs | queue | requests | proved | 429s | failed | verified | wall s | proofs/s | attempt p50/p95/p99 ms | request p50/p95/p99 ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} / {:.0} |",
            r.model,
            r.mode,
            r.queue,
            r.requests,
            r.proved,
            r.rejected_429,
            r.failed,
            r.verified,
            r.wall_s,
            r.proofs_per_s,
            r.attempt_p50_ms,
            r.attempt_p95_ms,
            r.attempt_p99_ms,
            r.request_p50_ms,
            r.request_p95_ms,
            r.request_p99_ms
        );
    }
    std::fs::write(out.join("serve_load.json"), serde_json::to_vec_pretty(&rows).unwrap()).unwrap();
    let bad = rows.iter().any(|r| r.verified != r.proved || r.failed > 0);
    if bad {
        eprintln!("some requests failed or some proofs did not verify");
        std::process::exit(1);
    }
}
