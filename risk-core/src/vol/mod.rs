//! Volatility forecasts: EWMA (RiskMetrics) and, in later modules, GARCH(1,1).

pub mod ewma;

pub use ewma::Ewma;
