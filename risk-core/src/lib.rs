//! `risk-core`: Ballast's pure math — option Greeks and implied volatility (SIMD with scalar
//! twins), volatility forecasts, and the sizing models and constraints the kernel thread calls on
//! every tick.
//!
//! Must never: allocate inside a per-tick kernel, perform I/O, spawn or block on threads, or read a
//! clock. Inputs and outputs are plain numbers in documented units.

#![forbid(unsafe_code)]

pub mod depth_forecast;
pub mod factor_cov;
pub mod greeks;
pub mod greeks_limits;
pub mod kelly;
pub mod linalg;
pub mod liquidity;
pub mod margin;
pub mod optim;
pub mod policy;
pub mod risk_parity;
pub mod vol;
pub mod vol_target;
