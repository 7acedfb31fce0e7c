//! Benches only; see `benches/*.rs`.
