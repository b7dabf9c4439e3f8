//! `feeds`: venue adapters. Owns the normalized [`MarketEvent`], the instrument [`Registry`],
//! exact-decimal L2 books and their venue sync procedures, frame parsers and capture readers.
//!
//! Must never: round a venue price or quantity through `f64` on the way into a book, allocate per
//! frame on the hot path, panic on anything that came from outside, or know about sizing.

#![forbid(unsafe_code)]

pub mod adapter;
pub mod binance;
pub mod book;
pub mod capture;
pub mod capture_writer;
pub mod cryptofeed;
pub mod decimal;
pub mod deribit;
pub mod event;
pub mod json_str;
pub mod marks;
pub mod multi;
pub mod registry;

pub use adapter::FeedAdapter;
pub use binance::{BinanceFeed, FeedStats, FrameError};
pub use book::L2Book;
pub use capture::{CaptureError, CaptureReader, MalformedLine, MalformedReason};
pub use decimal::{parse_decimal, write_decimal, DecimalError};
pub use event::{flags, EventKind, MarketEvent, PxQty, Side};
pub use marks::Marks;
pub use registry::{Instrument, InstrumentId, Market, Registry};
