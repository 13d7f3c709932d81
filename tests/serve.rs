//! `zkinfer serve` over loopback: the routes, every error status, graceful
//! shutdown on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use zkinfer::serve::client::{request, Answer};
use zkinfer::{CompileOptions, ProofFile, SrsSource};

const T: Duration = Duration::from_secs(120);

struct Server {
    child: Child,
    addr: SocketAddr,
    out: BufReader<std::process::ChildStdout>,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
            .arg("serve")
            .arg(dir)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("listening on http://")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr, out }
    }

    fn get(&self, path: &str) -> Answer {
        request(self.addr, "GET", path, None, T).unwrap()
    }

    fn post(&self, path: &str, body: &[u8]) -> Answer {
        request(self.addr, "POST", path, Some(body), T).unwrap()
    }

    fn sigterm(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn error_kind(a: &Answer) -> String {
    a.json()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no JSON error: {}", a.text()))
}

fn input(n: usize, v: f64) -> Vec<u8> {
    serde_json::to_vec(&json!({ "input_data": [vec![v; n]] })).unwrap()
}

#[test]
fn serve_proves_verifies_and_answers_every_error_status() {
    let dir = common::tmp("serve").join("mlp");
    std::fs::create_dir_all(&dir).unwrap();
    zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "mlp", &CompileOptions::default(), &dir).unwrap();
    zkinfer::setup(&dir, &SrsSource::DevCached(common::srs_cache())).unwrap();
    let m = zkinfer::load(&dir).unwrap();
    let n: usize = m.program.inputs[0].shape.iter().product();

    let mut s = Server::start(&dir, &["--workers", "1", "--queue", "0", "--max-body-bytes", "65536"]);
    let h = s.get("/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json().unwrap()["models"], 1);

    let models = s.get("/v1/models").json().unwrap();
    let info = &models["models"][0];
    assert_eq!(info["name"], "mlp");
    assert_eq!(info["k"], m.shape.k);
    assert_eq!(info["inputs"][0]["shape"], json!(m.program.inputs[0].shape));
    assert_eq!(info["param_visibility"], "fixed");

    // Prove over HTTP; the answer is a proof.json that verifies here and there.
    let a = s.post("/v1/models/mlp/prove", &input(n, 0.25));
    assert_eq!(a.status, 200, "{}", a.text());
    let proof: ProofFile = serde_json::from_slice(&a.body).unwrap();
    zkinfer::verify(&dir, &proof, Path::new("http")).unwrap();
    let direct = zkinfer::prove(&dir, &[vec![0.25; n]]).unwrap().proof;
    assert_eq!(proof.instances, direct.instances, "the served proof proves the same statement");
    let v = s.post("/v1/models/mlp/verify", &a.body).json().unwrap();
    assert_eq!(v, json!({"verified": true, "reason": null}));

    // A tampered proof and an edited output are answered verified: false.
    let mut bad = proof.clone();
    let mid = bad.proof.len() / 2;
    let c = if &bad.proof[mid..mid + 1] == "0" { "1" } else { "0" };
    bad.proof.replace_range(mid..mid + 1, c);
    let v = s.post("/v1/models/mlp/verify", &serde_json::to_vec(&bad).unwrap()).json().unwrap();
    assert_eq!(v["verified"], false, "{v}");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let mut edited = proof.clone();
    edited.outputs_quantized[0][0] += 1;
    let v = s.post("/v1/models/mlp/verify", &serde_json::to_vec(&edited).unwrap()).json().unwrap();
    assert_eq!(v["verified"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("outputs"), "{v}");

    // 400: not JSON, not an input.json, not a proof.json.
    for body in [&b"{not json"[..], b"{\"input_data\": [[\"a\"]]}", b"\xff\xfe"] {
        let a = s.post("/v1/models/mlp/prove", body);
        assert_eq!((a.status, error_kind(&a).as_str()), (400, "bad_json"), "{}", a.text());
    }
    let a = s.post("/v1/models/mlp/verify", b"{\"proof\": 1}");
    assert_eq!((a.status, error_kind(&a).as_str()), (400, "bad_json"));
    // 422: wrong length, wrong input count, outside the calibrated range;
    // the message names the input.
    for body in [input(n + 1, 0.1), serde_json::to_vec(&json!({"input_data": [[0.1], [0.1]]})).unwrap(), input(n, 1e12)]
    {
        let a = s.post("/v1/models/mlp/prove", &body);
        assert_eq!((a.status, error_kind(&a).as_str()), (422, "bad_input"), "{}", a.text());
        assert!(a.json().unwrap()["message"].as_str().unwrap().contains("input"), "{}", a.text());
    }
    // 404: unknown model, unknown route.
    let a = s.post("/v1/models/nope/prove", &input(n, 0.1));
    assert_eq!((a.status, error_kind(&a).as_str()), (404, "unknown_model"));
    assert_eq!(s.get("/v2/else").status, 404);
    // 413: a body over the limit.
    let big = vec![b' '; 100_000];
    let a = s.post("/v1/models/mlp/prove", &big);
    assert_eq!(a.status, 413, "{}", a.text());
    assert_eq!(error_kind(&a), "body_too_large");

    // 429: one worker, no queue, four at once.
    let answers: Vec<Answer> = std::thread::scope(|sc| {
        let s = &s;
        let hs: Vec<_> =
            (0..4).map(|i| sc.spawn(move || s.post("/v1/models/mlp/prove", &input(n, 0.1 * i as f64)))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.contains(&200) && statuses.contains(&429), "{statuses:?}");
    for a in answers.iter().filter(|a| a.status == 429) {
        assert_eq!(a.header("retry-after"), Some("1"));
        assert_eq!(error_kind(a), "queue_full");
    }
    for a in answers.iter().filter(|a| a.status == 200) {
        let p: ProofFile = serde_json::from_slice(&a.body).unwrap();
        zkinfer::verify(&dir, &p, Path::new("http")).unwrap();
    }

    // Metrics count what happened.
    let metrics = s.get("/metrics");
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = metrics.text();
    for needle in [
        "zkinfer_requests_total{route=\"prove\",status=\"200\"}",
        "zkinfer_requests_total{route=\"prove\",status=\"429\"}",
        "zkinfer_failures_total{kind=\"bad_input\"} 3",
        "zkinfer_prove_seconds_count{model=\"mlp\"}",
        "zkinfer_queue_depth 0",
        "zkinfer_workers_busy 0",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }

    // SIGTERM while a proof runs: the proof is answered, then the server stops.
    std::thread::scope(|sc| {
        let running = sc.spawn(|| s.post("/v1/models/mlp/prove", &input(n, 0.3)));
        std::thread::sleep(Duration::from_millis(100));
        s.sigterm();
        let a = running.join().unwrap();
        assert_eq!(a.status, 200, "the running proof was not finished: {}", a.text());
    });
    let status = s.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut s.out, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");

    // 504: a time limit no proof meets.
    let s = Server::start(&dir, &["--timeout", "0.001"]);
    let a = s.post("/v1/models/mlp/prove", &input(n, 0.1));
    assert_eq!((a.status, error_kind(&a).as_str()), (504, "timeout"), "{}", a.text());
    // The server still proves after a time-out (the worker was not lost).
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn serve_refuses_bad_folders() {
    let out = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["serve", "/nonexistent/model", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model"), "{err}");
}

/// Resident memory of a process (VmRSS), in MiB.
fn rss_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// A hostile client: garbage bytes, broken HTTP, wrong methods and routes,
/// hostile JSON (deep nesting, huge numbers, wrong types, huge arrays,
/// truncation), over and over. The server answers each with a 4xx (or drops
/// a broken connection), never a 5xx or a panic, stays healthy, and its
/// memory does not grow with the number of requests.
#[test]
fn hostile_clients_cannot_panic_the_server_or_grow_its_memory() {
    use std::io::{Read, Write};
    let dir = common::tmp("serve_hostile").join("mlp");
    std::fs::create_dir_all(&dir).unwrap();
    zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "mlp", &CompileOptions::default(), &dir).unwrap();
    zkinfer::setup(&dir, &SrsSource::DevCached(common::srs_cache())).unwrap();
    let n: usize = zkinfer::load(&dir).unwrap().program.inputs[0].shape.iter().product();
    let s = Server::start(&dir, &["--workers", "1", "--queue", "1", "--max-body-bytes", "262144"]);

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        deep.into_bytes(),
        br#"{"input_data": "0.5"}"#.to_vec(),
        br#"{"input_data": [[1e999]]}"#.to_vec(),
        br#"{"input_data": [[-1e308, 1e308]]}"#.to_vec(),
        serde_json::to_vec(&json!({ "input_data": [vec![1e300; n]] })).unwrap(),
        serde_json::to_vec(&json!({ "input_data": [vec![0.1; n + 1]] })).unwrap(),
        serde_json::to_vec(&json!({ "input_data": [vec![0.1; n], vec![0.1; n]] })).unwrap(),
        serde_json::to_vec(&json!({ "input_data": [vec![json!("x"); n]] })).unwrap(),
        serde_json::to_vec(&json!({ "input_data": [vec![0.0; 30_000]] })).unwrap(),
        br#"{"proof": "0x00", "instances": [["0x01"]]}"#.to_vec(),
    ];
    let mut statuses = std::collections::BTreeMap::new();
    let mut round = || {
        for b in &bodies {
            for route in ["/v1/models/mlp/prove", "/v1/models/mlp/verify", "/v1/models/nope/prove"] {
                let a = s.post(route, b);
                assert!((400..500).contains(&a.status), "{route} answered {} to {:?}", a.status, &b[..b.len().min(40)]);
                assert!(a.json().is_some_and(|v| v["error"].is_string()), "no JSON error: {}", a.text());
                *statuses.entry(a.status).or_insert(0) += 1;
            }
        }
        // Broken HTTP: raw bytes on a socket; the server may answer 400 or close.
        for raw in [&b"GARBAGE\r\n\r\n"[..], b"POST /v1/models/mlp/prove HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{"]
        {
            let mut c = std::net::TcpStream::connect(s.addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = c.write_all(raw);
            let _ = c.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = c.read_to_end(&mut sink);
        }
    };
    round();
    let before = rss_mib(s.child.id());
    for _ in 0..5 {
        round();
    }
    let after = rss_mib(s.child.id());
    assert_eq!(s.get("/health").status, 200, "the server is unhealthy after the hostile requests");
    let ok = s.post("/v1/models/mlp/prove", &input(n, 0.1));
    assert_eq!(ok.status, 200, "{}", ok.text());
    println!("hostile requests by status: {statuses:?}; server RSS {before:.0} -> {after:.0} MiB");
    assert!(after - before < 64.0, "server memory grew from {before:.0} to {after:.0} MiB over 5 rounds");
    let metrics = s.get("/metrics").text();
    assert!(!metrics.contains("kind=\"panic\""), "a request panicked:\n{metrics}");
}

/// With `--in-process`, a proof past its time limit cannot be stopped and
/// keeps its worker; by default it runs in a child process that is killed at
/// the deadline, so the worker is free again at once: with one worker and no
/// queue, the request right after a 504 is refused (429) in process, and
/// admitted (and timed out in turn) when isolated. Isolated proofs verify.
#[test]
fn isolated_proofs_free_their_worker_at_the_time_limit() {
    let dir = common::tmp("serve_isolate").join("mlp");
    std::fs::create_dir_all(&dir).unwrap();
    zkinfer::compile_bytes(zkinfer::EXAMPLE_MODEL, "mlp", &CompileOptions::default(), &dir).unwrap();
    zkinfer::setup(&dir, &SrsSource::DevCached(common::srs_cache())).unwrap();
    let n: usize = zkinfer::load(&dir).unwrap().program.inputs[0].shape.iter().product();
    let tight = ["--workers", "1", "--queue", "0", "--timeout", "0.15"];

    let s = Server::start(&dir, &[&tight[..], &["--in-process"]].concat());
    let a = s.post("/v1/models/mlp/prove", &input(n, 0.1));
    assert_eq!((a.status, error_kind(&a).as_str()), (504, "timeout"), "{}", a.text());
    let b = s.post("/v1/models/mlp/prove", &input(n, 0.2));
    assert_eq!((b.status, error_kind(&b).as_str()), (429, "queue_full"), "in process: {}", b.text());
    drop(s);

    let s = Server::start(&dir, &tight);
    for v in [0.1, 0.2, 0.3] {
        let a = s.post("/v1/models/mlp/prove", &input(n, v));
        assert_eq!((a.status, error_kind(&a).as_str()), (504, "timeout"), "isolated: {}", a.text());
    }
    std::thread::sleep(Duration::from_millis(100));
    let metrics = s.get("/metrics").text();
    assert!(metrics.contains("zkinfer_workers_busy 0"), "{metrics}");
    drop(s);

    let s = Server::start(&dir, &["--timeout", "120"]);
    let a = s.post("/v1/models/mlp/prove", &input(n, 0.25));
    assert_eq!(a.status, 200, "{}", a.text());
    let proof: ProofFile = serde_json::from_slice(&a.body).unwrap();
    zkinfer::verify(&dir, &proof, Path::new("http")).unwrap();
    let direct = zkinfer::prove(&dir, &[vec![0.25; n]]).unwrap().proof;
    assert_eq!(proof.instances, direct.instances);
}
