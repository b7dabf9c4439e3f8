//! `[live]`: the venue connection and execution adapter of `ballast run`.

use std::path::PathBuf;

use serde::Deserialize;

use feeds::multi::Venue;

/// The execution adapter behind the risk gate. Named here, not in `venues` (which this crate must
/// not reach): the binary builds the adapter the file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecAdapter {
    /// Paper execution at the touch (also spelled as an empty string).
    #[default]
    #[serde(alias = "")]
    Paper,
    /// The Binance WebSocket API.
    Binance,
    /// Deribit JSON-RPC.
    Deribit,
}

/// How the `binance` adapter authenticates (the credentials come from elsewhere, see
/// [`LiveSection::credentials_env`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinanceAuthMode {
    /// One Ed25519-signed `session.logon` per connection, again after every reconnect, and no
    /// signing per order; the secret is the base64 of the 32-byte Ed25519 seed.
    #[default]
    Logon,
    /// An HMAC-SHA256 signature on every request.
    Hmac,
}

impl BinanceAuthMode {
    /// The spelling in the file (`logon`, `hmac`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logon => "logon",
            Self::Hmac => "hmac",
        }
    }
}

/// `[live]`: one venue connection for `ballast run`. Credentials are never in this file: it names
/// an environment-variable prefix or an owner-only file holding them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LiveSection {
    /// `binance` or `deribit` (required).
    pub venue: Venue,
    /// Websocket URL (Binance: host base; Deribit: full `…/ws/api/v2`).
    #[serde(default)]
    pub url: String,
    /// Binance REST base for depth snapshots (default: the websocket host over http).
    #[serde(default)]
    pub rest: Option<String>,
    /// Channels as the venue names them (`btcusdt@depth@100ms`, `book.BTC-PERPETUAL.100ms`).
    #[serde(default)]
    pub channels: Vec<String>,
    /// A stream silent this long marks its instrument stale, ms (0 = never).
    #[serde(default)]
    pub stale_ms: u64,
    /// Execution adapter: `paper` (default), `binance` (WebSocket API) or `deribit` (JSON-RPC).
    #[serde(default)]
    pub adapter: ExecAdapter,
    /// Order websocket URL: the WebSocket API of the `binance` adapter (required); the JSON-RPC
    /// endpoint of the `deribit` adapter (default: `url`).
    #[serde(default)]
    pub exec_url: Option<String>,
    /// How the `binance` adapter authenticates: `logon` (default) or `hmac`.
    #[serde(default)]
    pub auth: BinanceAuthMode,
    /// Deribit `public/set_heartbeat` interval, s (0 = no heartbeats; default 10).
    #[serde(default = "default_heartbeat_s")]
    pub heartbeat_s: u32,
    /// Credentials from `{prefix}_API_KEY` / `{prefix}_API_SECRET`.
    #[serde(default)]
    pub credentials_env: Option<String>,
    /// Credentials from this owner-only file (`key=`, `secret=` lines).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// Stop after this many seconds (0 = until SIGINT/SIGTERM).
    #[serde(default)]
    pub duration_s: f64,
}

const fn default_heartbeat_s() -> u32 {
    10
}
