//! The root package of the vectorflow workspace: it hosts the runnable programs in
//! `examples/` and the integration tests in `tests/`. The library is `vectorflow`.
