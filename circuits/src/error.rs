use thiserror::Error;

#[derive(Debug, Error)]
pub enum CircuitError {
    #[error("the model needs {rows} rows, more than the largest supported circuit (k = {max_k})")]
    TooLarge { rows: usize, max_k: u32 },
    #[error(transparent)]
    Ir(#[from] ir::IrError),
}
