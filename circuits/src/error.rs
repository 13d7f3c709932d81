use thiserror::Error;

#[derive(Debug, Error)]
pub enum CircuitError {
    #[error("the model needs {rows} rows, more than the largest supported circuit (k = {max_k})")]
    TooLarge { rows: usize, max_k: u32 },
    /// A circuit shape (from `settings.json`) that does not fit its program.
    #[error("the circuit shape does not fit the program: {field} is {got}, the program needs {expected}")]
    Shape { field: &'static str, expected: String, got: String },
    /// No cut gives segments of `2^max_k` rows: the segment starting at
    /// node `start` cannot end at a valid cut (a range-safe boundary) within
    /// the budget; `node` is where it overflows.
    #[error(
        "cannot cut the model into segments of at most 2^{max_k} rows: the segment from node {start} overflows at \
         node {node} ({name}) with no valid cut (a boundary of range-checked values) before it; raise --max-k"
    )]
    SegmentTooLarge { start: usize, node: usize, name: String, max_k: u32 },
    /// Shapes fit `2^max_k` rows, but every one of them is predicted to need
    /// more memory to prove than the budget (`compile --max-memory`).
    #[error(
        "every circuit shape of at most 2^{max_k} rows needs at least {:.2} GiB to prove (predicted), over the budget of {:.2} GiB; \
         cut into smaller segments (--max-k) or raise --max-memory",
        *need as f64 / (1u64 << 30) as f64,
        *budget as f64 / (1u64 << 30) as f64
    )]
    OverMemory { need: u64, budget: u64, max_k: u32 },
    #[error(transparent)]
    Ir(#[from] ir::IrError),
}
