//! Venue execution adapters: each implements the engine's [`engine::exec::ExecutionAdapter`] over
//! a venue's own order protocol ([`binance::BinanceExec`]: WebSocket API with HMAC or Ed25519
//! signatures; [`deribit::DeribitExec`]: JSON-RPC over websocket) and reports asynchronously from
//! `poll`. Answers are read in one pass ([`ack`]); requests are written into reused buffers
//! ([`encode`]); credentials come from the environment or an owner-only file ([`credentials`]).

pub mod ack;
pub mod binance;
pub mod credentials;
pub mod deribit;
pub mod encode;
pub mod sign;

pub use credentials::{Credentials, CredentialsError};
pub use engine::exec::{cancelled, ExecutionAdapter, INFLIGHT_CAPACITY};
pub use sign::HmacSigner;
