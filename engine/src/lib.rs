//! `engine`: the hot core of Ballast. Pinned threads joined by lock-free rings ([`ring`],
//! [`pipeline`], [`topology`]), the one clock ([`clock`]), order and fill types ([`order`]), the
//! single-instrument kernel and its sizers ([`kernel`], [`sizer`]), the [`pipeline::KernelLogic`]
//! seam any kernel plugs into, latency histograms ([`latency`]), the execution-adapter seam with
//! paper execution ([`exec`]) and the pre-trade risk gate ([`risk_gate`]).
//!
//! Owns: everything a frame touches between the feed adapter and the execution adapter.
//! Must never: compile a transport, configuration, simulator or random-number crate (the
//! `layering` test checks `cargo metadata`); and on the hot path, after start-up, allocate,
//! lock, log, or make a syscall other than the socket's. Reads time only through [`clock`].

#![forbid(unsafe_code)]

pub mod clock;
pub mod exec;
pub mod kernel;
pub mod latency;
pub mod order;
pub mod pipeline;
pub mod probe;
pub mod ring;
pub mod risk_gate;
pub mod sizer;
pub mod source;
pub mod topology;
