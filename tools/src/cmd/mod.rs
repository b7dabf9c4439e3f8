//! Subcommands, one file each.

pub mod bench;
pub mod book;
pub mod capture;
pub mod demo;
pub mod demo_options;
pub mod demo_portfolio;
pub mod greeks;
pub mod liquidity;
pub mod options_replay;
pub mod portfolio;
pub mod replay;
pub mod run;
pub mod run_common;
pub mod size;
pub mod venue_sim;
pub mod vol;
