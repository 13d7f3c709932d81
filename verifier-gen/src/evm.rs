//! Stub, filled below.
