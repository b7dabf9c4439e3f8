//! `testkit`: the fixtures shared by the tests and benches of every crate, written once: the
//! counting allocator ([`alloc`]), the shared captures ([`data`]), running the binary and local
//! servers ([`cli`]), seeded inputs of the Greeks kernels ([`greeks`]), the options engine's
//! configuration and chains ([`options`]), the venue simulator harness ([`live`]), configured
//! runs of the default configuration ([`session`]), the property tests' settings ([`prop`]),
//! seeded covariance matrices and budgets of the portfolio solvers ([`portfolio`]).
//!
//! A dev-dependency only: nothing here is compiled into the engine or the binary.

pub mod alloc;
pub mod cli;
pub mod data;
pub mod greeks;
pub mod live;
pub mod options;
pub mod portfolio;
pub mod prop;
pub mod session;

pub use data::shared_data;
pub use session::{orders_csv, resolved, run_on};
