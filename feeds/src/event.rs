//! The normalized market event that crosses the rings: fixed size, `Copy`, plain data.

use crate::registry::InstrumentId;

/// What a [`MarketEvent`] carries. `#[repr(u8)]` so the event stays plain data.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Best bid and offer. `bid`/`ask` hold price and quantity of the touch. Emitted for a venue
    /// ticker (`bookTicker`) and after every applied depth diff (flag [`flags::FROM_BOOK`]).
    Bbo = 1,
    /// A trade. `bid` holds price and quantity; `side` is the aggressor.
    Trade = 2,
    /// One price level changed. `bid` holds price and new quantity (0 = removed); `side` says which
    /// side of the book.
    Level = 3,
    /// A snapshot is about to be applied: downstream state for this instrument is reset.
    SnapshotBegin = 4,
    /// The snapshot and its bridging diff were applied: the book is valid again. `seq` is the
    /// book's update id.
    SnapshotEnd = 5,
    /// A sequence gap: the book is invalid until the next `SnapshotEnd`. `seq` is the last id
    /// applied; `bid.px` carries the first id of the diff that broke continuity.
    Gap = 6,
    /// Option ticker (reserved for the options engine): `bid`/`ask` carry mark price and implied
    /// volatilities as raw `f64` bits, interpretation fixed by that issue.
    OptionTicker = 7,
}

/// Aggressor or book side.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Not applicable (BBO, snapshot markers, gaps).
    None = 0,
    /// Bid side, or a buyer-initiated trade.
    Buy = 1,
    /// Ask side, or a seller-initiated trade.
    Sell = 2,
}

/// Bit flags of [`MarketEvent::flags`].
pub mod flags {
    /// The instrument's L2 book is synced (or the instrument has no depth stream and the ticker is
    /// the whole truth). The kernel never sizes from an event without it.
    pub const BOOK_VALID: u16 = 1 << 0;
    /// The BBO was read from Ballast's own L2 book (after a depth diff), not from a venue ticker.
    pub const FROM_BOOK: u16 = 1 << 1;
    /// A synthetic event injected by a test or a simulator.
    pub const SYNTHETIC: u16 = 1 << 2;
}

/// An exact decimal price/quantity pair: integer mantissas at the instrument's scales (see
/// [`crate::registry::Instrument`]). Never rounded through `f64`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PxQty {
    /// Price mantissa: price = `px` × 10^-`px_scale`.
    pub px: i64,
    /// Quantity mantissa: quantity = `qty` × 10^-`qty_scale`.
    pub qty: i64,
}

/// A normalized market event. 64 bytes, one cache line, `Copy`, `#[repr(C)]`.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketEvent {
    /// Local receive time of the frame that produced this event, ns since the Unix epoch.
    pub recv_ns: u64,
    /// Venue event time, ns since the Unix epoch (0 when the frame has none, e.g. spot bookTicker).
    pub exch_ns: u64,
    /// Venue sequence: final update id for depth and book tickers, trade id for trades.
    pub seq: u64,
    /// Registered instrument.
    pub instrument: InstrumentId,
    /// What this event carries.
    pub kind: EventKind,
    /// Aggressor / book side where it applies.
    pub side: Side,
    /// [`flags`] bits.
    pub flags: u16,
    /// Best bid (BBO), or the price/quantity of a trade or level.
    pub bid: PxQty,
    /// Best ask (BBO).
    pub ask: PxQty,
}

const _: () = assert!(std::mem::size_of::<MarketEvent>() == 64);
const _: () = assert!(std::mem::align_of::<MarketEvent>() == 64);

impl MarketEvent {
    /// An empty event of `kind` for `instrument` at `recv_ns`.
    #[must_use]
    pub const fn new(kind: EventKind, instrument: InstrumentId, recv_ns: u64) -> Self {
        Self {
            recv_ns,
            exch_ns: 0,
            seq: 0,
            instrument,
            kind,
            side: Side::None,
            flags: 0,
            bid: PxQty { px: 0, qty: 0 },
            ask: PxQty { px: 0, qty: 0 },
        }
    }

    /// Whether the instrument's book was valid when this event was produced.
    #[must_use]
    pub const fn book_valid(&self) -> bool {
        self.flags & flags::BOOK_VALID != 0
    }
}
