//! Subcommands, one file each.

pub mod bench;
pub mod book;
pub mod demo;
pub mod greeks;
pub mod replay;
pub mod run_common;
pub mod size;
pub mod venue_sim;
pub mod vol;
