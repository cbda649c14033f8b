//! Benchmarks only; see `benches/vs_c.rs`.
