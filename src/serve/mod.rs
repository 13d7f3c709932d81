//! `zkinfer serve`: compiled models over HTTP (axum + tokio).
//!
//! Routes (JSON unless said):
//! - `GET /health`: `{"status": "ok", "models": N}`
//! - `GET /v1/models`: per model: name, k, visibilities, input shapes, and
//!   the params commitment where params are hashed
//! - `POST /v1/models/{name}/prove`: body `input.json` (`{"input_data": ...}`),
//!   answer `proof.json`
//! - `POST /v1/models/{name}/verify`: body `proof.json`, answer
//!   `{"verified": bool, "reason": string|null}`
//! - `GET /metrics`: Prometheus text
//!
//! Errors answer `{"error": KIND, "message": TEXT}` with: 400 (`bad_json`),
//! 404 (`unknown_model`, `not_found`), 413 (`body_too_large`), 422
//! (`bad_input`: wrong count or shape, not finite, outside the calibrated
//! range), 429 (`queue_full`, with `Retry-After`), 504 (`timeout`), 500
//! (`internal`, `panic`).

pub mod client;
mod isolate;
mod metrics;
mod pool;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as AxPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::Error;
use crate::handle::{Prover, Verifier};
use crate::ProofFile;
pub use metrics::Metrics;
use pool::{Pool, Refused};

/// Limits of one server.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Proofs running at once.
    pub workers: usize,
    /// Prove requests waiting beyond `workers`; more answer 429.
    pub queue: usize,
    /// Largest request body in bytes; more answer 413.
    pub max_body: usize,
    /// Per prove request, queue wait included; past it 504.
    pub timeout: Duration,
    /// `Some(zkinfer binary)`: each proof runs in a child `zkinfer prove`,
    /// killed at its deadline, so a timed-out proof frees its worker at once
    /// (keys are then read per proof). `None`: in process, keys loaded once;
    /// a running proof cannot be stopped and keeps its worker until it ends.
    pub isolate: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        ServeConfig {
            workers: cores.div_ceil(2).max(1),
            queue: 16,
            max_body: 4 << 20,
            timeout: Duration::from_secs(300),
            isolate: None,
        }
    }
}

/// One served model.
struct Served {
    prover: Prover,
    verifier: Verifier,
    info: Value,
}

pub struct App {
    models: BTreeMap<String, Arc<Served>>,
    pool: Pool,
    metrics: Arc<Metrics>,
    timeout: Duration,
    isolate: Option<PathBuf>,
}

/// Loads every folder (compiled and set up), each served under its folder
/// name. Two folders with one name, or a folder that does not load, is an
/// error naming it.
pub fn load(dirs: &[PathBuf], cfg: &ServeConfig) -> Result<Arc<App>, Error> {
    let mut models = BTreeMap::new();
    for dir in dirs {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::File { path: dir.clone(), reason: "not a model folder".into() })?;
        let prover = Prover::load(dir)?;
        let verifier = prover.verifier();
        let info = model_info(&name, &prover)?;
        if models.insert(name.clone(), Arc::new(Served { prover, verifier, info })).is_some() {
            return Err(Error::File {
                path: dir.clone(),
                reason: format!("a second model folder named `{name}` (models are served by folder name)"),
            });
        }
    }
    let metrics = Arc::new(Metrics::default());
    Ok(Arc::new(App {
        models,
        pool: Pool::new(cfg.workers, cfg.queue, metrics.clone()),
        metrics,
        timeout: cfg.timeout,
        isolate: cfg.isolate.clone(),
    }))
}

fn model_info(name: &str, prover: &Prover) -> Result<Value, Error> {
    let m = prover.model();
    let p = &m.program;
    let mut commitments = serde_json::Map::new();
    if p.params_hashed() {
        if let Some(c) = crate::pipeline::commitments(&m.dir, None, true, None)?.remove("params") {
            commitments.insert("params".into(), c.into());
        }
    }
    Ok(json!({
        "name": name,
        "k": m.shape.k,
        "rows": m.settings.rows,
        "digest": m.settings.digest,
        "param_visibility": m.settings.param_visibility,
        "input_visibility": p.input_visibility,
        "output_visibility": p.output_visibility,
        "inputs": p.inputs.iter().map(|i| json!({"name": i.name, "shape": i.shape})).collect::<Vec<_>>(),
        "outputs": p.outputs.iter().map(|o| json!({"name": o.name, "shape": o.shape})).collect::<Vec<_>>(),
        "commitments": commitments,
    }))
}

/// The routes, with the body limit.
pub fn router(app: Arc<App>, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(list))
        .route("/v1/models/{name}/prove", post(prove))
        .route("/v1/models/{name}/verify", post(verify))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
}

/// Serves until `shutdown` completes, then stops accepting and finishes
/// the requests in flight (running proofs included).
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    max_body: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app, max_body)).with_graceful_shutdown(shutdown).await
}

/// An error answer.
fn fail(app: &App, route: &str, status: StatusCode, kind: &'static str, message: String) -> Response {
    app.metrics.request(route, status.as_u16());
    app.metrics.failure(kind);
    (status, Json(json!({"error": kind, "message": message}))).into_response()
}

fn ok(app: &App, route: &str, body: Value) -> Response {
    app.metrics.request(route, 200);
    (StatusCode::OK, Json(body)).into_response()
}

async fn health(State(app): State<Arc<App>>) -> Response {
    ok(&app, "health", json!({"status": "ok", "models": app.models.len()}))
}

async fn list(State(app): State<Arc<App>>) -> Response {
    let infos: Vec<Value> = app.models.values().map(|s| s.info.clone()).collect();
    ok(&app, "models", json!({ "models": infos }))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.request("metrics", 200);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    fail(&app, "other", StatusCode::NOT_FOUND, "not_found", "no such route".into())
}

/// The body as UTF-8, or the error answer (413 past the limit).
// The `Err` is the answer itself, returned once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn body_text(app: &App, route: &str, body: Result<Bytes, BytesRejection>) -> Result<String, Response> {
    let bytes = body.map_err(|r| {
        let status = r.status();
        let kind = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "bad_request" };
        fail(app, route, status, kind, r.body_text())
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|e| fail(app, route, StatusCode::BAD_REQUEST, "bad_json", format!("body is not UTF-8: {e}")))
}

#[allow(clippy::result_large_err)]
fn model<'a>(app: &'a App, route: &str, name: &str) -> Result<&'a Arc<Served>, Response> {
    app.models.get(name).ok_or_else(|| {
        let known: Vec<&str> = app.models.keys().map(String::as_str).collect();
        fail(app, route, StatusCode::NOT_FOUND, "unknown_model", format!("no model `{name}` (served: {known:?})"))
    })
}

/// The served model a request names, and its body as text; or the error answer.
#[allow(clippy::result_large_err)]
fn request(
    app: &App,
    route: &str,
    name: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Arc<Served>, String), Response> {
    let served = model(app, route, name)?.clone();
    Ok((served, body_text(app, route, body)?))
}

/// Why a prove job gave no proof.
enum JobError {
    Prove(Error),
    Child(isolate::ChildFailure),
}

fn timed_out(app: &App, route: &str) -> Response {
    let msg = format!("no proof within {:.3} s", app.timeout.as_secs_f64());
    fail(app, route, StatusCode::GATEWAY_TIMEOUT, "timeout", msg)
}

/// Errors of a prove request that are the client's: its input.
fn is_input_error(e: &Error) -> bool {
    matches!(e, Error::Ir(_))
}

async fn prove(
    State(app): State<Arc<App>>,
    AxPath(name): AxPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    const ROUTE: &str = "prove";
    let (served, text) = match request(&app, ROUTE, &name, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let inputs = match compiler::parse_input_json(&text) {
        Ok(i) => i,
        Err(e) => return fail(&app, ROUTE, StatusCode::BAD_REQUEST, "bad_json", e.to_string()),
    };
    // Shapes and ranges are checked before the request takes a queue slot.
    let quantized = match ir::eval::quantize_inputs(&served.prover.model().program, &inputs) {
        Ok(q) => q,
        Err(e) => return fail(&app, ROUTE, StatusCode::UNPROCESSABLE_ENTITY, "bad_input", e.to_string()),
    };
    let t = Instant::now();
    let deadline = t + app.timeout;
    let job = {
        let (served, exe) = (served.clone(), app.isolate.clone());
        move || match exe {
            None => served.prover.prove(&inputs).map(|o| o.proof).map_err(JobError::Prove),
            // Expired while queued: never start the child.
            Some(_) if Instant::now() >= deadline => Err(JobError::Child(isolate::ChildFailure::Killed)),
            Some(exe) => {
                // The witness here first (milliseconds next to a proof), so that
                // a value outside the calibrated ranges is the client's 422,
                // named, not a child's exit status.
                ir::eval(&served.prover.model().program, &quantized).map_err(|e| JobError::Prove(e.into()))?;
                isolate::prove(&exe, &served.prover.model().dir, &inputs, deadline).map_err(JobError::Child)
            }
        }
    };
    // An isolated job ends itself at `deadline` (its child killed) and frees
    // its worker before it answers 504; the pool's own limit, a little later,
    // then only bounds the queue wait. In process, the pool answers at the
    // deadline and the proof keeps its worker until it ends.
    let limit = if app.isolate.is_some() { app.timeout + Duration::from_secs(1) } else { app.timeout };
    match app.pool.run(limit, job).await {
        Ok(Ok(proof)) => {
            app.metrics.proved(&name, t.elapsed().as_secs_f64());
            match serde_json::to_value(&proof) {
                Ok(v) => ok(&app, ROUTE, v),
                Err(e) => fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
            }
        }
        Ok(Err(JobError::Prove(e))) if is_input_error(&e) => {
            fail(&app, ROUTE, StatusCode::UNPROCESSABLE_ENTITY, "bad_input", e.to_string())
        }
        Ok(Err(JobError::Prove(e))) => fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        Ok(Err(JobError::Child(isolate::ChildFailure::Failed(m)))) => {
            fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "internal", m)
        }
        Ok(Err(JobError::Child(isolate::ChildFailure::Killed))) => timed_out(&app, ROUTE),
        Err(Refused::Full) => {
            let mut r = fail(
                &app,
                ROUTE,
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                "every worker is busy and the queue is full; retry later".into(),
            );
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(Refused::TimedOut) => timed_out(&app, ROUTE),
        Err(Refused::Panicked(m)) => fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "panic", m),
    }
}

async fn verify(
    State(app): State<Arc<App>>,
    AxPath(name): AxPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    const ROUTE: &str = "verify";
    let (served, text) = match request(&app, ROUTE, &name, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let proof: ProofFile = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => return fail(&app, ROUTE, StatusCode::BAD_REQUEST, "bad_json", format!("not a proof.json: {e}")),
    };
    // Verification takes milliseconds: a blocking thread, outside the pool.
    let job = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| served.verifier.verify(&proof)))
    });
    match job.await {
        Ok(Ok(Ok(()))) => ok(&app, ROUTE, json!({"verified": true, "reason": null})),
        Ok(Ok(Err(e))) => ok(&app, ROUTE, json!({"verified": false, "reason": e.to_string()})),
        Ok(Err(p)) => fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "panic", pool::panic_message(p.as_ref())),
        Err(e) => fail(&app, ROUTE, StatusCode::INTERNAL_SERVER_ERROR, "panic", e.to_string()),
    }
}
