//! `engine`: pinned threads joined by lock-free rings, kernel state, the sizing pipeline, execution
//! adapters and latency histograms.
//!
//! Must never (on the hot path, after start-up): allocate, lock, log, or make a syscall other than
//! the socket's. Reads time only through [`clock`].

pub mod c2c;
pub mod clock;
pub mod config;
pub mod exec;
pub mod kernel;
pub mod lab;
pub mod latency;
pub mod live;
pub mod options;
pub mod order;
pub mod pipeline;
pub mod probe;
pub mod ring;
pub mod risk_gate;
pub mod session;
pub mod sizer;
pub mod source;
pub mod synth;
pub mod topology;
pub mod venue_sim;
