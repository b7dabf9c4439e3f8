//! `engine`: pinned threads joined by lock-free rings, kernel state, the sizing pipeline, execution
//! adapters and latency histograms.
//!
//! Must never (on the hot path, after start-up): allocate, lock, log, or make a syscall other than
//! the socket's.
