//! Ballast's portfolio engine: one risk budget across underlyings, instruments and venues.
//!
//! An instrument is (venue, market, symbol) and carries one risk factor (its underlying) with an
//! exposure per unit in USD: linear (spot, USD-M) or inverse (COIN-M and Deribit futures, where the
//! coin collateral is exposure too). Accounts follow their venue's margin model: Binance's tiered
//! maintenance margin, or Deribit's standard margin, which also counts the held options' value
//! and the written options' margin ([`state`]). The kernel samples each factor's reference mid on a receive-time clock into an
//! online masked EWMA covariance ([`risk_core::factor_cov`], optionally GARCH(1,1) volatilities
//! with EWMA correlations), allocates capital across the factors by risk parity with budgets,
//! fractional Kelly (expected returns configured or from an input signal, [`signal`]) or volatility targeting under gross/net leverage and factor caps
//! ([`allocate`]), and splits each factor's trade across the instruments that carry it by cost
//! and capacity under each account's margin model and the book's liquidity ([`split`]): the
//! controlled quantity is the **net** exposure of each underlying across every venue. Each
//! rebalance is recorded with the covariance it used ([`record`]).
//!
//! Owns: the `[portfolio]` configuration ([`spec`]), the allocation, the execution allocation, the
//! kernel. Never: I/O on the kernel thread, allocation per tick, a constraint outside
//! [`risk_core::policy`] for an instrument's size.

#![forbid(unsafe_code)]

pub mod allocate;
pub mod held;
pub mod kernel;
pub mod record;
pub mod signal;
pub mod spec;
pub mod split;
pub mod state;

pub use allocate::{AllocReport, Allocator, FactorBinding};
pub use kernel::{PortfolioKernel, PortfolioStats};
pub use record::{
    record_ring, write_rebalance, KeepRecords, NoRecords, Rebalance, RebalanceSink, RecordDrain,
    RecordRing, Trigger,
};
pub use signal::{read_signals, Signal, SignalError};
pub use spec::{Policy, PortfolioSpec, SpecError};
