//! Benchmarks live in `benches/`; this library is empty so the package can hold them.
