//! The bounded proving pool: `workers` proofs at once, at most `queue`
//! more waiting; a request past that is refused at once (HTTP 429), never
//! buffered.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::metrics::Metrics;

pub struct Pool {
    workers: Arc<Semaphore>,
    /// Requests admitted and not yet finished (waiting or running).
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    metrics: Arc<Metrics>,
}

/// Why a job produced no result.
#[derive(Debug)]
pub enum Refused {
    /// Every worker busy and the queue full.
    Full,
    /// The time limit passed (waiting or running).
    TimedOut,
    /// The job panicked: a bug, reported as one.
    Panicked(String),
}

/// Runs its closure when dropped: a counter's decrement that happens
/// however the job ends (done, timed out, cancelled, panicked).
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

impl Pool {
    pub fn new(workers: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        let workers = workers.max(1);
        Pool {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
            metrics,
        }
    }

    /// Runs `job` on a worker thread within `limit` (queue wait included).
    ///
    /// On time-out the caller is answered at once; a job already running
    /// keeps its worker until it returns (halo2's prover cannot be stopped
    /// midway), while a job whose deadline passed in the queue is dropped
    /// without running, so expired work never occupies a worker.
    pub async fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        let count = self.admitted.clone();
        let admitted = OnDrop(move || {
            count.fetch_sub(1, Ordering::AcqRel);
        });
        let deadline = Instant::now() + limit;
        let metrics = self.metrics.clone();
        let workers = self.workers.clone();
        let work = async move {
            metrics.queued.fetch_add(1, Ordering::Relaxed);
            let m = metrics.clone();
            let waiting = OnDrop(move || {
                m.queued.fetch_sub(1, Ordering::Relaxed);
            });
            let permit = workers.acquire_owned().await;
            drop(waiting);
            let Ok(permit) = permit else { return Err(Refused::TimedOut) };
            let handle = tokio::task::spawn_blocking(move || {
                // Held until the job returns, even when the caller has gone.
                let (_permit, _admitted) = (permit, admitted);
                if Instant::now() >= deadline {
                    return Err(Refused::TimedOut);
                }
                metrics.running.fetch_add(1, Ordering::Relaxed);
                let _running = OnDrop(|| {
                    metrics.running.fetch_sub(1, Ordering::Relaxed);
                });
                std::panic::catch_unwind(AssertUnwindSafe(job))
                    .map_err(|p| Refused::Panicked(panic_message(p.as_ref())))
            });
            match handle.await {
                Ok(r) => r,
                Err(e) => Err(Refused::Panicked(e.to_string())),
            }
        };
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(r) => r,
            Err(_) => Err(Refused::TimedOut),
        }
    }
}

pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
