use thiserror::Error;

#[derive(Debug, Error)]
pub enum CircuitError {
    #[error("the model needs {rows} rows, more than the largest supported circuit (k = {max_k})")]
    TooLarge { rows: usize, max_k: u32 },
    /// A circuit shape (from `settings.json`) that does not fit its program.
    #[error("the circuit shape does not fit the program: {field} is {got}, the program needs {expected}")]
    Shape { field: &'static str, expected: String, got: String },
    #[error(transparent)]
    Ir(#[from] ir::IrError),
}
