//! The latency lab behind `ballast bench`: what a desk runs on its own box to learn which cores
//! talk fastest ([`cores`]), what the engine costs per hop at a fixed offered rate on each topology
//! ([`load`], [`bench`](mod@bench)), and what the venue link costs ([`venue`]); every result is written in
//! HdrHistogram's formats and a JSON summary that [`report::compare`] sets against a baseline.
//!
//! Latency is measured from each message's *intended* send time (a fixed schedule, start +
//! k / rate), not from when the sender got round to it, so a stall is charged to every message it
//! delayed (no coordinated omission); the uncorrected figures are kept beside for contrast.
//!
//! Nothing here runs on the hot path except [`load::RateSource`] and [`load::BusyWaitSizer`], which
//! the pipeline drives like any source and sizer (no allocation once built).

#![forbid(unsafe_code)]

pub mod bench;
pub mod c2c;
pub mod cores;
pub mod load;
pub mod report;
pub mod venue;
