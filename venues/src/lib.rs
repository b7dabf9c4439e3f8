//! `venues`: Ballast's live venues. Supervised market-data connections ([`live`]: subscriptions,
//! heartbeats, stale streams, reconnect with backoff, book resync, captures) and the execution
//! adapters that speak each venue's order protocol ([`exec`]: Binance WebSocket API, Deribit
//! JSON-RPC), both on the `net` crate's websocket client.
//!
//! Owns: each venue's session rules (subscribe, logon, sign, acknowledge, reconcile).
//! Must never: size or gate an order (the `engine` crate does), or reach from the market-data feed
//! into the execution side: marks travel through [`feeds::marks::Marks`].

#![forbid(unsafe_code)]

pub mod exec;
pub mod live;
