use thiserror::Error;

#[derive(Debug, Error)]
pub enum CircuitError {
    #[error("the model needs {rows} rows, more than the largest supported circuit (k = {max_k})")]
    TooLarge { rows: usize, max_k: u32 },
    #[error("the program's lookup table needs {table_rows} rows (range_bits = {range_bits}); k > {max_k} is not supported")]
    TableTooLarge { table_rows: usize, range_bits: u32, max_k: u32 },
    #[error(transparent)]
    Ir(#[from] ir::IrError),
}
