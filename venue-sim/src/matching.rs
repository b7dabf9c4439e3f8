//! The simulator's exchange: books (kept by Ballast's own venue adapters over the published
//! frames), the matching engine, open orders, subscriptions and the exact record.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use feeds::{L2Book, PxQty, Registry, Side};

use super::{Venue, SIM_SCALE};

/// Order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// Limit order.
    Limit,
    /// Market order (walks the book, the rest expires).
    Market,
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled: the unfilled rest rests in the book.
    Gtc,
    /// Immediate or cancel: the unfilled rest expires.
    Ioc,
    /// Fill or kill: fills completely at once or not at all.
    Fok,
}

/// State of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Resting, nothing filled.
    New,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled by request (possibly after partial fills).
    Cancelled,
    /// The unfilled rest of an IOC/FOK/market order expired.
    Expired,
}

impl OrderStatus {
    /// Whether the order still rests in the book.
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(self, Self::New | Self::PartiallyFilled)
    }
}

/// One order as received, with its current state. Prices and quantities at [`SIM_SCALE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOrder {
    /// Simulator order id (1, 2, …).
    pub order_id: u64,
    /// Client order id (`newClientOrderId` on Binance, `label` on Deribit; may be empty).
    pub client_id: String,
    /// Venue instrument name (`BTCUSDT`, `BTC-PERPETUAL`).
    pub instrument: String,
    /// `Buy` or `Sell`.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Post-only (Binance `LIMIT_MAKER`, Deribit `post_only`).
    pub post_only: bool,
    /// Limit price mantissa (0 for market orders); the latest after edits.
    pub px: i64,
    /// Order quantity mantissa; the latest after edits.
    pub qty: i64,
    /// Filled quantity mantissa.
    pub filled_qty: i64,
    /// Current state.
    pub status: OrderStatus,
    /// Simulator time the order arrived, ns since the simulator started.
    pub recv_ns: u64,
}

/// What an ack acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// A new order was accepted.
    New,
    /// A cancel was done.
    Cancel,
    /// An edit (Deribit `private/edit`) was done.
    Edit,
}

/// A positive response to an order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAck {
    /// The order.
    pub order_id: u64,
    /// Its client id.
    pub client_id: String,
    /// What was acknowledged.
    pub kind: AckKind,
    /// Order state in the response.
    pub status: OrderStatus,
    /// False when a [`super::Fault::LoseAcks`] swallowed the response.
    pub sent: bool,
    /// Simulator time, ns.
    pub t_ns: u64,
}

/// A rejected request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReject {
    /// Client id of the request (or the order id it named, as text).
    pub client_id: String,
    /// Instrument named, if any.
    pub instrument: String,
    /// The venue's error code.
    pub code: i64,
    /// The venue's error message.
    pub reason: String,
    /// Simulator time, ns.
    pub t_ns: u64,
}

/// One fill (a trade of one of the client's orders against the book).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFill {
    /// The order.
    pub order_id: u64,
    /// Its client id.
    pub client_id: String,
    /// Simulator trade id (1, 2, …).
    pub trade_id: u64,
    /// Instrument.
    pub instrument: String,
    /// Order side.
    pub side: Side,
    /// Price mantissa.
    pub px: i64,
    /// Quantity mantissa.
    pub qty: i64,
    /// Whether the order was resting (maker) when it filled.
    pub maker: bool,
    /// Simulator time, ns.
    pub t_ns: u64,
}

/// Everything the simulator did with orders, exactly, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimRecord {
    /// Every accepted order, by id (index = id − 1), in its current state.
    pub orders: Vec<SimOrder>,
    /// Acks, in the order produced.
    pub acks: Vec<SimAck>,
    /// Rejected requests.
    pub rejects: Vec<SimReject>,
    /// Fills, in the order produced.
    pub fills: Vec<SimFill>,
    /// Faults injected (debug form), in order.
    pub faults: Vec<String>,
}

impl SimRecord {
    /// The record as JSON (for `GET /sim/record`); prices and quantities as decimal strings.
    #[must_use]
    pub fn to_json(&self) -> String {
        let dec = |m: i64| {
            let mut v = Vec::new();
            feeds::write_decimal(&mut v, m, SIM_SCALE, 0);
            String::from_utf8(v).unwrap_or_default()
        };
        let side = |s: Side| match s {
            Side::Buy => "buy",
            Side::Sell => "sell",
            Side::None => "none",
        };
        let orders: Vec<_> = self
            .orders
            .iter()
            .map(|o| {
                serde_json::json!({"order_id": o.order_id, "client_id": o.client_id, "instrument": o.instrument,
                "side": side(o.side), "type": format!("{:?}", o.order_type), "tif": format!("{:?}", o.tif),
                "post_only": o.post_only, "price": dec(o.px), "qty": dec(o.qty), "filled_qty": dec(o.filled_qty),
                "status": format!("{:?}", o.status), "recv_ns": o.recv_ns})
            })
            .collect();
        let acks: Vec<_> = self
            .acks
            .iter()
            .map(|a| {
                serde_json::json!({"order_id": a.order_id, "client_id": a.client_id, "kind": format!("{:?}", a.kind),
                "status": format!("{:?}", a.status), "sent": a.sent, "t_ns": a.t_ns})
            })
            .collect();
        let rejects: Vec<_> = self
            .rejects
            .iter()
            .map(|r| {
                serde_json::json!({"client_id": r.client_id, "instrument": r.instrument, "code": r.code,
                "reason": r.reason, "t_ns": r.t_ns})
            })
            .collect();
        let fills: Vec<_> = self
            .fills
            .iter()
            .map(|f| {
                serde_json::json!({"order_id": f.order_id, "client_id": f.client_id, "trade_id": f.trade_id,
                "instrument": f.instrument, "side": side(f.side), "price": dec(f.px), "qty": dec(f.qty),
                "maker": f.maker, "t_ns": f.t_ns})
            })
            .collect();
        serde_json::json!({"orders": orders, "acks": acks, "rejects": rejects, "fills": fills, "faults": self.faults})
            .to_string()
    }
}

/// A request to place an order, venue-neutral.
#[derive(Debug, Clone)]
pub(super) struct NewOrder {
    pub client_id: String,
    pub instrument: String,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub post_only: bool,
    pub px: i64,
    pub qty: i64,
}

/// A venue error: code and message.
#[derive(Debug, Clone)]
pub(super) struct VenueError {
    pub code: i64,
    pub msg: String,
}

impl VenueError {
    pub fn new(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
}

/// A message queued to a connection.
#[derive(Debug, Clone)]
pub(super) struct Out {
    pub text: String,
    /// An order response (subject to ack delay).
    pub ack: bool,
}

/// A Binance stream subscription: the name the client used and the name it matches.
#[derive(Debug, Clone)]
pub(super) struct BStream {
    /// As the client wrote it (echoed in the envelope).
    pub client: String,
    /// Lowercase symbol.
    pub symbol: String,
    /// Lowercase kind: `bookticker`, `trade`, `aggtrade`, `depth` (any depth speed).
    pub kind: String,
}

/// Kind of a Deribit public channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DKind {
    Book,
    Ticker,
    Trades,
    /// `user.orders.*` (`instrument` is an instrument, a currency or `any`).
    UserOrders,
    /// `user.trades.*`.
    UserTrades,
}

/// A Deribit public subscription.
#[derive(Debug, Clone)]
pub(super) struct DSub {
    pub kind: DKind,
    pub instrument: String,
    /// As the client wrote it (echoed in notifications).
    pub client: String,
    /// Book subscription still waiting for a snapshot (the simulator's book was not valid yet).
    pub awaiting_snapshot: bool,
}

/// One connection's subscriptions and outbound queue.
#[derive(Debug)]
pub(super) struct Conn {
    pub tx: Sender<Out>,
    /// Messages queued and not yet written (back-pressure for the market-data thread).
    pub queued: Arc<AtomicUsize>,
    pub bstreams: Vec<BStream>,
    pub dsubs: Vec<DSub>,
    /// Binance user data stream subscribed (execution reports).
    pub user_orders: bool,
    /// Logged on (Binance `session.logon`) or authenticated (Deribit `public/auth`).
    pub authed: bool,
}

impl Conn {
    pub fn new(tx: Sender<Out>, queued: Arc<AtomicUsize>) -> Self {
        Self {
            tx,
            queued,
            bstreams: Vec::new(),
            dsubs: Vec::new(),
            user_orders: false,
            authed: false,
        }
    }

    pub fn send(&self, text: String, ack: bool) {
        // Relaxed: a back-pressure estimate; the channel itself synchronizes the message.
        self.queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.tx.send(Out { text, ack });
    }
}

/// The venue's books.
#[derive(Debug)]
pub(super) enum Books {
    Binance(Box<feeds::BinanceFeed>),
    Deribit(Box<feeds::deribit::DeribitFeed>),
}

impl Books {
    pub fn book(&self, instrument: &str) -> Option<&L2Book> {
        match self {
            Self::Binance(f) => f.registry().id(instrument).and_then(|id| f.book(id)),
            Self::Deribit(f) => f.registry().id(instrument).and_then(|id| f.book(id)),
        }
    }

    pub fn registry(&self) -> &Registry {
        match self {
            Self::Binance(f) => f.registry(),
            Self::Deribit(f) => f.registry(),
        }
    }
}

/// The exchange state, behind one mutex.
#[derive(Debug)]
pub(super) struct Exchange {
    /// Market data to publish, `(recv ns, frame)`.
    pub frames: Vec<(u64, Vec<u8>)>,
    pub next_frame: usize,
    pub source_done: bool,
    /// Deribit `public/get_instruments` result arrays by currency (`BTC`, `ETH`, …).
    pub instruments: Vec<(String, String)>,
    /// Binance REST snapshot frames (no symbol in the body): frame index → symbol.
    pub snapshot_for: HashMap<usize, String>,
    pub books: Books,
    pub conns: HashMap<u64, Conn>,
    pub record: SimRecord,
    /// Indices into `record.orders` of open orders.
    pub open: Vec<usize>,
    next_trade_id: u64,
}

impl Exchange {
    /// Sends `text` on connection `conn` if it is still open (`ack`: an order acknowledgement,
    /// subject to the configured faults).
    pub fn send_to(&self, conn: u64, text: String, ack: bool) {
        if let Some(c) = self.conns.get(&conn) {
            c.send(text, ack);
        }
    }

    pub fn new(venue: Venue, src: super::server::SourceData) -> std::io::Result<Self> {
        let books = match venue {
            Venue::Binance => Books::Binance(Box::new(feeds::BinanceFeed::new(src.registry))),
            Venue::Deribit => {
                Books::Deribit(Box::new(feeds::deribit::DeribitFeed::new(Registry::new())))
            }
        };
        Ok(Self {
            frames: src.frames,
            next_frame: 0,
            source_done: false,
            instruments: src.instruments,
            snapshot_for: src.snapshot_for,
            books,
            conns: HashMap::new(),
            record: SimRecord::default(),
            open: Vec::new(),
            next_trade_id: 1,
        })
    }

    /// Fills an incoming `side` order of `qty` up to `limit` (None = market) takes from `book`.
    fn cross(book: &L2Book, side: Side, limit: Option<i64>, qty: i64) -> Vec<PxQty> {
        let mut out = Vec::new();
        let mut left = qty;
        let levels: Box<dyn Iterator<Item = PxQty> + '_> = match side {
            Side::Buy => Box::new(book.asks()),
            Side::Sell => Box::new(book.bids()),
            Side::None => return out,
        };
        for l in levels {
            if left <= 0 {
                break;
            }
            let crosses = match (side, limit) {
                (_, None) => true,
                (Side::Buy, Some(p)) => l.px <= p,
                (Side::Sell, Some(p)) => l.px >= p,
                (Side::None, _) => false,
            };
            if !crosses {
                break;
            }
            let q = l.qty.min(left);
            if q > 0 {
                out.push(PxQty { px: l.px, qty: q });
                left -= q;
            }
        }
        out
    }

    fn book_for(&self, instrument: &str) -> Result<&L2Book, VenueError> {
        match self.books.book(instrument) {
            Some(b) if b.is_valid() => Ok(b),
            Some(_) => Err(VenueError::new(-1, "book not available")),
            None => Err(VenueError::new(-1121, "Invalid symbol.")),
        }
    }

    fn push_fills(
        &mut self,
        idx: usize,
        takes: &[PxQty],
        maker: bool,
        now_ns: u64,
    ) -> Vec<SimFill> {
        let mut fills = Vec::with_capacity(takes.len());
        for t in takes {
            let o = &mut self.record.orders[idx];
            o.filled_qty += t.qty;
            let f = SimFill {
                order_id: o.order_id,
                client_id: o.client_id.clone(),
                trade_id: self.next_trade_id,
                instrument: o.instrument.clone(),
                side: o.side,
                px: t.px,
                qty: t.qty,
                maker,
                t_ns: now_ns,
            };
            self.next_trade_id += 1;
            self.record.fills.push(f.clone());
            fills.push(f);
        }
        fills
    }

    /// Places an order. Returns the record index of the order and its immediate fills.
    ///
    /// # Errors
    /// A venue error (recorded as a reject) for an unknown instrument, a book not yet valid, a
    /// non-positive quantity or price, or a post-only order that would cross.
    pub fn place(&mut self, o: NewOrder, now_ns: u64) -> Result<(usize, Vec<SimFill>), VenueError> {
        let r = self.place_inner(o.clone(), now_ns);
        if let Err(e) = &r {
            self.reject(&o.client_id, &o.instrument, e, now_ns);
        }
        r
    }

    pub fn reject(&mut self, client_id: &str, instrument: &str, e: &VenueError, now_ns: u64) {
        self.record.rejects.push(SimReject {
            client_id: client_id.to_owned(),
            instrument: instrument.to_owned(),
            code: e.code,
            reason: e.msg.clone(),
            t_ns: now_ns,
        });
    }

    fn place_inner(
        &mut self,
        o: NewOrder,
        now_ns: u64,
    ) -> Result<(usize, Vec<SimFill>), VenueError> {
        if o.qty <= 0 {
            return Err(VenueError::new(-1013, "Invalid quantity."));
        }
        if o.order_type == OrderType::Limit && o.px <= 0 {
            return Err(VenueError::new(-1013, "Invalid price."));
        }
        if o.side == Side::None {
            return Err(VenueError::new(-1102, "Invalid side."));
        }
        let book = self.book_for(&o.instrument)?;
        let limit = (o.order_type == OrderType::Limit).then_some(o.px);
        let takes = Self::cross(book, o.side, limit, o.qty);
        let take_qty: i64 = takes.iter().map(|t| t.qty).sum();
        if o.post_only && !takes.is_empty() {
            return Err(VenueError::new(
                -2010,
                "Order would immediately match and take.",
            ));
        }
        let tif = if o.order_type == OrderType::Market {
            TimeInForce::Ioc
        } else {
            o.tif
        };
        let takes = if tif == TimeInForce::Fok && take_qty < o.qty {
            Vec::new()
        } else {
            takes
        };
        let idx = self.record.orders.len();
        self.record.orders.push(SimOrder {
            order_id: idx as u64 + 1,
            client_id: o.client_id,
            instrument: o.instrument,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            post_only: o.post_only,
            px: if o.order_type == OrderType::Limit {
                o.px
            } else {
                0
            },
            qty: o.qty,
            filled_qty: 0,
            status: OrderStatus::New,
            recv_ns: now_ns,
        });
        let fills = self.push_fills(idx, &takes, false, now_ns);
        let ord = &mut self.record.orders[idx];
        ord.status = if ord.filled_qty >= ord.qty {
            OrderStatus::Filled
        } else if tif != TimeInForce::Gtc {
            OrderStatus::Expired
        } else if ord.filled_qty > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        };
        if ord.status.is_open() {
            self.open.push(idx);
        }
        Ok((idx, fills))
    }

    /// Finds an order by id or client id.
    pub fn find(&self, order_id: Option<u64>, client_id: Option<&str>) -> Option<usize> {
        if let Some(id) = order_id {
            let idx = usize::try_from(id).ok()?.checked_sub(1)?;
            return (idx < self.record.orders.len()).then_some(idx);
        }
        let c = client_id?;
        if c.is_empty() {
            return None;
        }
        self.record.orders.iter().rposition(|o| o.client_id == c)
    }

    /// Cancels an open order.
    ///
    /// # Errors
    /// Unknown order or not open (recorded as a reject).
    pub fn cancel(
        &mut self,
        idx: Option<usize>,
        name: &str,
        now_ns: u64,
    ) -> Result<usize, VenueError> {
        let r = match idx {
            None => Err(VenueError::new(-2011, "Unknown order sent.")),
            Some(i) if !self.record.orders[i].status.is_open() => {
                Err(VenueError::new(-2011, "Order is not open."))
            }
            Some(i) => {
                self.record.orders[i].status = OrderStatus::Cancelled;
                self.open.retain(|&k| k != i);
                Ok(i)
            }
        };
        if let Err(e) = &r {
            let inst = idx
                .map(|i| self.record.orders[i].instrument.clone())
                .unwrap_or_default();
            self.reject(name, &inst, e, now_ns);
        }
        r
    }

    /// Edits an open order's quantity and price (Deribit `private/edit`); may fill at once.
    ///
    /// # Errors
    /// Unknown or closed order, or a bad amount/price (recorded as a reject).
    pub fn edit(
        &mut self,
        idx: Option<usize>,
        name: &str,
        qty: i64,
        px: i64,
        now_ns: u64,
    ) -> Result<(usize, Vec<SimFill>), VenueError> {
        let r = self.edit_inner(idx, qty, px, now_ns);
        if let Err(e) = &r {
            let inst = idx
                .map(|i| self.record.orders[i].instrument.clone())
                .unwrap_or_default();
            self.reject(name, &inst, e, now_ns);
        }
        r
    }

    fn edit_inner(
        &mut self,
        idx: Option<usize>,
        qty: i64,
        px: i64,
        now_ns: u64,
    ) -> Result<(usize, Vec<SimFill>), VenueError> {
        let i = idx.ok_or_else(|| VenueError::new(-2011, "Unknown order sent."))?;
        if !self.record.orders[i].status.is_open() {
            return Err(VenueError::new(-2011, "Order is not open."));
        }
        let o = &self.record.orders[i];
        if qty <= o.filled_qty || px <= 0 {
            return Err(VenueError::new(-1013, "Invalid quantity or price."));
        }
        let book = self.book_for(&o.instrument)?;
        let takes = Self::cross(book, o.side, Some(px), qty - o.filled_qty);
        if o.post_only && !takes.is_empty() {
            return Err(VenueError::new(
                -2010,
                "Order would immediately match and take.",
            ));
        }
        let o = &mut self.record.orders[i];
        o.qty = qty;
        o.px = px;
        let fills = self.push_fills(i, &takes, false, now_ns);
        self.settle(i);
        Ok((i, fills))
    }

    /// Updates an open order's status after fills and drops it from the open list when done.
    fn settle(&mut self, i: usize) {
        let o = &mut self.record.orders[i];
        if o.filled_qty >= o.qty {
            o.status = OrderStatus::Filled;
            self.open.retain(|&k| k != i);
        } else if o.filled_qty > 0 {
            o.status = OrderStatus::PartiallyFilled;
        }
    }

    /// Matches resting orders of `instrument` against its current book. Returns the record
    /// indices that filled, with their fills.
    pub fn rematch(&mut self, instrument: &str, now_ns: u64) -> Vec<(usize, Vec<SimFill>)> {
        let mut out = Vec::new();
        let idxs: Vec<usize> = self
            .open
            .iter()
            .copied()
            .filter(|&i| self.record.orders[i].instrument == instrument)
            .collect();
        for i in idxs {
            let o = &self.record.orders[i];
            let Some(book) = self.books.book(instrument).filter(|b| b.is_valid()) else {
                return out;
            };
            let takes = Self::cross(book, o.side, Some(o.px), o.qty - o.filled_qty);
            if takes.is_empty() {
                continue;
            }
            let fills = self.push_fills(i, &takes, true, now_ns);
            self.settle(i);
            out.push((i, fills));
        }
        out
    }

    /// Records an ack.
    pub fn ack(&mut self, idx: usize, kind: AckKind, sent: bool, now_ns: u64) {
        let o = &self.record.orders[idx];
        self.record.acks.push(SimAck {
            order_id: o.order_id,
            client_id: o.client_id.clone(),
            kind,
            status: o.status,
            sent,
            t_ns: now_ns,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> L2Book {
        let mut b = L2Book::with_capacity(8);
        b.load_snapshot(
            &[PxQty { px: 100, qty: 5 }, PxQty { px: 99, qty: 5 }],
            &[PxQty { px: 101, qty: 3 }, PxQty { px: 102, qty: 4 }],
            1,
        );
        b.set_valid(true);
        b
    }

    #[test]
    fn cross_walks_levels_up_to_the_limit() {
        let b = book();
        assert_eq!(
            Exchange::cross(&b, Side::Buy, Some(101), 10),
            vec![PxQty { px: 101, qty: 3 }]
        );
        assert_eq!(
            Exchange::cross(&b, Side::Buy, None, 5),
            vec![PxQty { px: 101, qty: 3 }, PxQty { px: 102, qty: 2 }]
        );
        assert_eq!(
            Exchange::cross(&b, Side::Sell, Some(99), 7),
            vec![PxQty { px: 100, qty: 5 }, PxQty { px: 99, qty: 2 }]
        );
        assert!(Exchange::cross(&b, Side::Sell, Some(101), 7).is_empty());
    }
}
