//! The `[portfolio]` configuration, typed, and its checks across fields.
//!
//! serde reads the section once (unknown keys, wrong types and unknown spellings are errors with
//! the key, line and column); [`PortfolioSpec::check`] then checks what one key alone cannot
//! say (budgets summing to one, every instrument naming a known factor and account, an account's
//! currency matching its instruments' contracts) and names the dotted key of the first problem.

use feeds::deribit::instruments::{parse_name, InstrumentKind};
use feeds::multi::InputKind;
use feeds::Market;
pub use risk_core::factor_cov::Shrinkage;
use risk_core::margin::deribit::DeribitRates;
use risk_core::margin::{Contract, MarginTiers};
use serde::Deserialize;

/// The allocation policy across factors. Configured as `risk-parity`, `kelly` or `vol-target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Risk parity with budgets (ERC): long-only weights whose risk contributions equal the
    /// factors' budgets, levered to the portfolio volatility target.
    RiskParity,
    /// Fractional multi-asset Kelly `c Σ⁻¹ (μ − r)` on the factors' expected returns; the
    /// volatility target, when set, only scales it down.
    Kelly,
    /// Fixed weights (the budgets, as signed notional weights) levered to the volatility target.
    VolTarget,
}

impl Policy {
    /// The name records and tables give it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::RiskParity => "risk_parity",
            Self::Kelly => "kelly",
            Self::VolTarget => "vol_target",
        }
    }
}

/// Which volatility stands on the covariance's diagonal. Configured as `ewma` or `garch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolModel {
    /// The EWMA covariance as it is.
    Ewma,
    /// GARCH(1,1) volatilities (variance-targeted on the EWMA variance) with the EWMA
    /// correlations.
    Garch,
}

/// The short-horizon depth forecast that shrinks what an instrument may take when it predicts a
/// liquidity void (`risk_core::depth_forecast`). Configured as `off`, `touch-1s` or `touch-5s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DepthForecastMode {
    /// No forecast: the book walk alone caps the size.
    #[default]
    Off,
    /// The touch depth one second ahead.
    #[serde(rename = "touch-1s")]
    Touch1s,
    /// The touch depth five seconds ahead.
    #[serde(rename = "touch-5s")]
    Touch5s,
}

/// `[portfolio.covariance]`: the sampling clock and the factor covariance.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CovarianceSpec {
    /// Sampling period of the factors' reference mids, ms of receive time.
    pub sample_ms: u64,
    /// EWMA decay per sample, (0, 1).
    pub lambda: f64,
    /// Samples a factor needs before it enters the matrix.
    pub min_samples: u32,
    /// Consecutive samples a factor may miss (no fresh mid) and still count as live.
    pub max_missed: u32,
    /// Shrinkage toward constant correlation: a fixed intensity in [0, 1] (`shrinkage = 0.1`) or
    /// Ledoit–Wolf's optimal one, estimated online (`shrinkage = "ledoit-wolf"`); raised when the
    /// matrix needs it to be positive definite.
    pub shrinkage: Shrinkage,
    /// `ewma` or `garch`.
    pub vol_model: VolModel,
    /// GARCH(1,1) α (with `vol_model = "garch"`).
    pub garch_alpha: f64,
    /// GARCH(1,1) β.
    pub garch_beta: f64,
}

impl Default for CovarianceSpec {
    fn default() -> Self {
        Self {
            sample_ms: 1000,
            lambda: 0.97,
            min_samples: 20,
            max_missed: 5,
            shrinkage: Shrinkage::Fixed(0.1),
            vol_model: VolModel::Ewma,
            garch_alpha: 0.08,
            garch_beta: 0.9,
        }
    }
}

/// `[portfolio.rebalance]`: when the targets are solved again.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RebalanceSpec {
    /// Rebalance every this many samples (the clock trigger).
    pub every_samples: u32,
    /// Rebalance when a factor's net exposure drifts from its target by more than this fraction
    /// of capital.
    pub drift_band: f64,
    /// Rebalance when a factor's volatility forecast moved by more than this fraction since the
    /// last rebalance.
    pub vol_jump: f64,
}

impl Default for RebalanceSpec {
    fn default() -> Self {
        Self {
            every_samples: 30,
            drift_band: 0.02,
            vol_jump: 0.25,
        }
    }
}

/// `[[portfolio.factors]]`: one underlying.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorSpec {
    /// Its name (`BTC`); coin-margined accounts name it as their currency.
    pub name: String,
    /// Risk budget (risk parity; budgets sum to 1), or the signed notional weight (vol-target).
    #[serde(default)]
    pub budget: f64,
    /// Annualized expected return μ (Kelly).
    #[serde(default)]
    pub expected_return: f64,
    /// Largest |net exposure| as a multiple of capital (the factor cap).
    #[serde(default = "inf")]
    pub max_weight: f64,
    /// Largest |net delta| in units of the underlying (the Greeks limit); unlimited by default.
    #[serde(default = "inf")]
    pub max_delta: f64,
    /// Weight in [0, 1] of the implied at-the-money volatility in the factor's volatility: `(1 −
    /// w) × forecast + w × implied`, the implied one read from the tickers of the factor's
    /// `[[portfolio.options]]` (a quantity of 0 watches an option without holding it); the
    /// forecast alone while none has a ticker.
    #[serde(default)]
    pub implied_weight: f64,
    /// The instrument whose mid is the factor's price (`binance-usdm:BTCUSDT`); the factor's first
    /// instrument by default.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `currency` of an account: `USD` (quote-margined) or a factor's name (coin-margined).
pub const USD: &str = "USD";

/// The kind of an account. Configured as `margin`, `spot` or `deribit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountKind {
    /// A derivatives account under Binance's tiered maintenance margin (cross margin; `tiers` or
    /// a flat `mmr`).
    Margin,
    /// A spot account: buys are paid in cash, sells come from holdings (no short, no leverage).
    Spot,
    /// A Deribit standard-margin account in a coin (`currency` = a factor): inverse futures and
    /// perpetuals whose margin rate grows with the position's size in coin, and the held options
    /// of its coin, whose mark value counts in equity and whose short positions carry Deribit's
    /// option margin ([`risk_core::margin::deribit`]).
    Deribit,
}

impl AccountKind {
    /// The name records and tables give it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Margin => "margin",
            Self::Spot => "spot",
            Self::Deribit => "deribit",
        }
    }
}

/// `[[portfolio.accounts]]`: one venue account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Its name, as instruments refer to it.
    pub name: String,
    /// `margin`, `spot` or `deribit`.
    pub kind: AccountKind,
    /// `USD`, or the factor whose coin is the collateral (COIN-M).
    #[serde(default = "usd")]
    pub currency: String,
    /// Collateral (margin) or cash (spot), in `currency`.
    pub collateral: f64,
    /// Maintenance-margin brackets `[[notional_floor, mmr], …]` (Binance's shape; `margin`
    /// accounts); a flat rate with `mmr`.
    #[serde(default)]
    pub tiers: Vec<(f64, f64)>,
    /// Flat maintenance-margin rate when `tiers` is empty (`margin` accounts; 0.004 when unset).
    #[serde(default)]
    pub mmr: Option<f64>,
    /// `deribit` accounts: futures initial-margin base rate (Deribit's 0.02 when unset).
    #[serde(default)]
    pub future_im: Option<f64>,
    /// `deribit` accounts: futures maintenance-margin base rate (0.01).
    #[serde(default)]
    pub future_mm: Option<f64>,
    /// `deribit` accounts: increase of both futures rates per coin of position size (Deribit's
    /// published 0.00005 for BTC and 0.000004 for ETH; required for any other currency).
    #[serde(default)]
    pub slope_per_coin: Option<f64>,
    /// `deribit` accounts: short-option maintenance rate, coin per contract (0.075).
    #[serde(default)]
    pub option_mm: Option<f64>,
    /// `deribit` accounts: short-option initial rate before the out-of-the-money reduction
    /// (0.15).
    #[serde(default)]
    pub option_im: Option<f64>,
    /// `deribit` accounts: floor of the reduced short-option initial rate (0.1).
    #[serde(default)]
    pub option_im_floor: Option<f64>,
    /// Standard deviations of price move the liquidation price must stay away (the buffer).
    #[serde(default = "default_liq_k")]
    pub liq_k: f64,
    /// The buffer's horizon, days.
    #[serde(default = "one")]
    pub liq_horizon_days: f64,
    /// Highest maintenance margin / equity the account may reach.
    #[serde(default = "default_max_margin_ratio")]
    pub max_margin_ratio: f64,
}

/// `[[portfolio.instruments]]`: one (venue, market, symbol) and the factor it carries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// The capture tag of its market (`binance-spot`, `binance-usdm`, `binance-coinm`,
    /// `deribit`).
    pub market: String,
    /// Venue symbol (`BTCUSDT`, `BTCUSD_PERP`, `BTC-PERPETUAL`, `BTC-27SEP24`).
    pub symbol: String,
    /// The factor it carries.
    pub factor: String,
    /// The account it trades in.
    pub account: String,
    /// `linear` or `inverse`.
    pub contract: Contract,
    /// Linear: underlying units per quantity unit (1 for Binance); inverse: quote face value per
    /// contract (100 USD for Binance's BTC COIN-M, 10 for the others). Deribit futures: 1, since
    /// Deribit states their amounts in USD (one quantity unit is one USD of face value).
    #[serde(default = "one")]
    pub multiplier: f64,
    /// Quantity step, in quantity units (contracts for Binance's inverse contracts; Deribit
    /// futures: the contract size in USD, 10 for BTC and 1 for ETH).
    pub lot: f64,
    /// Smallest order notional, quote.
    #[serde(default)]
    pub min_notional: f64,
    /// Taker fee, bps of notional.
    #[serde(default)]
    pub fee_bps: f64,
    /// Funding paid by a long per day, bps (perpetuals; negative: longs receive).
    #[serde(default)]
    pub funding_bps_per_day: f64,
    /// Average-fill slippage limit of one order, bps of the mid (the book walk).
    #[serde(default = "default_slippage")]
    pub max_slippage_bps: f64,
    /// Largest |position notional|, quote.
    #[serde(default = "inf")]
    pub max_notional: f64,
}

/// `[[portfolio.options]]`: a held option (not traded by the portfolio) whose delta counts in
/// its underlying's net delta, so the portfolio hedges it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldOptionSpec {
    /// Deribit option name (`BTC-27SEP24-60000-C`).
    pub symbol: String,
    /// The factor whose delta it carries.
    pub factor: String,
    /// Position, contracts of one underlying unit (signed; negative: written).
    pub qty: f64,
    /// The `deribit` account holding it: its mark value counts in that account's equity and a
    /// written option in its margin. By default the `deribit` account in the factor's coin when
    /// there is exactly one; none (the option is held outside every modelled account) when there
    /// is none.
    #[serde(default)]
    pub account: Option<String>,
}

/// `[portfolio]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioSpec {
    /// Capital the weights are fractions of, in USD.
    pub capital: f64,
    /// `risk-parity`, `kelly` or `vol-target`.
    pub policy: Policy,
    /// Annualized portfolio volatility target (risk parity and vol-target: the level; Kelly: a
    /// ceiling). Unset for Kelly means no ceiling.
    #[serde(default)]
    pub target_vol: Option<f64>,
    /// Kelly fraction `c ∈ (0, 1]`.
    #[serde(default = "default_kelly_fraction")]
    pub kelly_fraction: f64,
    /// Annualized risk-free rate (Kelly).
    #[serde(default)]
    pub rf: f64,
    /// Largest `Σ |exposure|` as a multiple of capital.
    #[serde(default = "inf")]
    pub max_gross_leverage: f64,
    /// Largest `|Σ exposure|` as a multiple of capital.
    #[serde(default = "inf")]
    pub max_net_leverage: f64,
    /// Holding horizon over which funding is charged when instruments compete, days.
    #[serde(default = "one")]
    pub horizon_days: f64,
    /// `off`, `touch-1s` or `touch-5s`: the depth forecast multiplying each instrument's
    /// liquidity cap when it predicts a void.
    #[serde(default)]
    pub depth_forecast: DepthForecastMode,
    /// `[portfolio.covariance]`.
    #[serde(default)]
    pub covariance: CovarianceSpec,
    /// `[portfolio.rebalance]`.
    #[serde(default)]
    pub rebalance: RebalanceSpec,
    /// The factors.
    pub factors: Vec<FactorSpec>,
    /// The accounts.
    pub accounts: Vec<AccountSpec>,
    /// The instruments.
    pub instruments: Vec<InstrumentSpec>,
    /// Held options (Deribit) whose deltas the portfolio hedges.
    #[serde(default)]
    pub options: Vec<HeldOptionSpec>,
    /// A signal file of expected returns over time for the Kelly policy
    /// ([`crate::signal`]), relative to the configuration file; the factors'
    /// `expected_return` hold until a factor's first update.
    #[serde(default)]
    pub signals: Option<String>,
}

fn inf() -> f64 {
    f64::INFINITY
}
fn one() -> f64 {
    1.0
}
fn usd() -> String {
    USD.to_owned()
}
/// Flat maintenance rate of a `margin` account without `tiers` or `mmr`.
const DEFAULT_MMR: f64 = 0.004;
fn default_liq_k() -> f64 {
    4.0
}
fn default_max_margin_ratio() -> f64 {
    0.5
}
fn default_slippage() -> f64 {
    10.0
}
fn default_kelly_fraction() -> f64 {
    0.5
}

/// A `[portfolio]` whose fields disagree: the dotted key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct SpecError {
    /// The dotted key (`portfolio.instruments[2].factor`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        key: key.into(),
        message: message.into(),
    }
}

fn positive(key: String, v: f64) -> Result<(), SpecError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(err(key, format!("{v} is not a positive finite number")))
    }
}

fn positive_or_inf(key: String, v: f64) -> Result<(), SpecError> {
    if v > 0.0 {
        Ok(())
    } else {
        Err(err(key, format!("{v} is not positive")))
    }
}

/// One instrument resolved: its market and the indices of its factor and account.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedInstrument {
    /// Market.
    pub market: Market,
    /// Factor index.
    pub factor: usize,
    /// Account index.
    pub account: usize,
}

impl PortfolioSpec {
    /// The market of instrument `i`'s tag.
    fn market_of(&self, i: usize) -> Result<Market, SpecError> {
        let s = &self.instruments[i];
        InputKind::from_tag(&s.market)
            .and_then(|k| k.market)
            .ok_or_else(|| {
                err(
                    format!("portfolio.instruments[{i}].market"),
                    format!(
                        "`{}` is not a market, expected one of binance-spot, binance-usdm, binance-coinm, deribit",
                        s.market
                    ),
                )
            })
    }

    /// The maintenance-margin brackets of account `a`.
    ///
    /// # Errors
    /// A [`SpecError`] naming `portfolio.accounts[a].tiers` or `.mmr`.
    pub fn tiers(&self, a: usize) -> Result<MarginTiers, SpecError> {
        let acc = &self.accounts[a];
        if acc.tiers.is_empty() {
            MarginTiers::flat(acc.mmr.unwrap_or(DEFAULT_MMR))
                .map_err(|e| err(format!("portfolio.accounts[{a}].mmr"), e.to_string()))
        } else {
            MarginTiers::new(&acc.tiers)
                .map_err(|e| err(format!("portfolio.accounts[{a}].tiers"), e.to_string()))
        }
    }

    /// The Deribit rates of account `a`: each key given, else Deribit's published value for its
    /// currency (the base and option rates are the same for BTC and ETH; the slope is per
    /// currency).
    ///
    /// # Errors
    /// A [`SpecError`] naming `portfolio.accounts[a].slope_per_coin` when the currency has no
    /// published slope and none is given, or the first rate out of range.
    pub fn deribit_rates(&self, a: usize) -> Result<DeribitRates, SpecError> {
        let acc = &self.accounts[a];
        let key = |k: &str| format!("portfolio.accounts[{a}].{k}");
        let published = DeribitRates::published(&acc.currency);
        let base = published.unwrap_or(DeribitRates::BTC);
        let slope = match (acc.slope_per_coin, published) {
            (Some(s), _) => s,
            (None, Some(p)) => p.slope_per_coin,
            (None, None) => {
                return Err(err(
                    key("slope_per_coin"),
                    format!(
                        "Deribit publishes no default for `{}` here (BTC, ETH): set it",
                        acc.currency
                    ),
                ))
            }
        };
        let rates = DeribitRates {
            future_im: acc.future_im.unwrap_or(base.future_im),
            future_mm: acc.future_mm.unwrap_or(base.future_mm),
            slope_per_coin: slope,
            option_mm: acc.option_mm.unwrap_or(base.option_mm),
            option_im: acc.option_im.unwrap_or(base.option_im),
            option_im_floor: acc.option_im_floor.unwrap_or(base.option_im_floor),
        };
        for (k, v) in [
            ("future_im", rates.future_im),
            ("future_mm", rates.future_mm),
            ("option_mm", rates.option_mm),
            ("option_im", rates.option_im),
            ("option_im_floor", rates.option_im_floor),
        ] {
            if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                return Err(err(key(k), format!("{v} is not a rate in [0, 1)")));
            }
        }
        if !(rates.slope_per_coin.is_finite() && rates.slope_per_coin >= 0.0) {
            return Err(err(
                key("slope_per_coin"),
                format!("{} is not a finite number ≥ 0", rates.slope_per_coin),
            ));
        }
        if rates.future_mm > rates.future_im {
            return Err(err(
                key("future_mm"),
                format!(
                    "{} is above the initial rate {}",
                    rates.future_mm, rates.future_im
                ),
            ));
        }
        if rates.option_im_floor > rates.option_im {
            return Err(err(
                key("option_im_floor"),
                format!(
                    "{} is above the initial rate {}",
                    rates.option_im_floor, rates.option_im
                ),
            ));
        }
        rates
            .check()
            .map_err(|e| err(format!("portfolio.accounts[{a}]"), e.to_string()))
    }

    /// Index of the account holding held option `j`: its `account`, else the only `deribit`
    /// account in its factor's coin (`None`: held outside every account).
    ///
    /// # Errors
    /// A [`SpecError`] naming `portfolio.options[j].account` for an unknown account, one that is
    /// not a `deribit` account in the option's factor, or an ambiguous default.
    pub fn option_account(&self, j: usize) -> Result<Option<usize>, SpecError> {
        let o = &self.options[j];
        let key = format!("portfolio.options[{j}].account");
        let fits = |a: &AccountSpec| a.kind == AccountKind::Deribit && a.currency == o.factor;
        match &o.account {
            Some(name) => {
                let a = self
                    .accounts
                    .iter()
                    .position(|a| &a.name == name)
                    .ok_or_else(|| err(key.clone(), format!("no account `{name}`")))?;
                if !fits(&self.accounts[a]) {
                    return Err(err(
                        key,
                        format!(
                            "`{name}` is not a deribit account in `{}`, the option's factor",
                            o.factor
                        ),
                    ));
                }
                Ok(Some(a))
            }
            None => {
                let mut it = self
                    .accounts
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| fits(a))
                    .map(|(a, _)| a);
                let first = it.next();
                if it.next().is_some() {
                    return Err(err(
                        key,
                        format!(
                            "more than one deribit account in `{}`: name the one holding it",
                            o.factor
                        ),
                    ));
                }
                Ok(first)
            }
        }
    }

    /// Checks what single keys cannot, and resolves every instrument's market, factor and
    /// account.
    ///
    /// # Errors
    /// The first [`SpecError`], naming its dotted key.
    pub fn check(&self) -> Result<Vec<ResolvedInstrument>, SpecError> {
        positive("portfolio.capital".into(), self.capital)?;
        if let Some(v) = self.target_vol {
            positive("portfolio.target_vol".into(), v)?;
        }
        if !(self.kelly_fraction > 0.0 && self.kelly_fraction <= 1.0) {
            return Err(err(
                "portfolio.kelly_fraction",
                format!("{} is not in (0, 1]", self.kelly_fraction),
            ));
        }
        positive_or_inf(
            "portfolio.max_gross_leverage".into(),
            self.max_gross_leverage,
        )?;
        positive_or_inf("portfolio.max_net_leverage".into(), self.max_net_leverage)?;
        positive("portfolio.horizon_days".into(), self.horizon_days)?;
        if !self.rf.is_finite() {
            return Err(err("portfolio.rf", "not finite"));
        }
        if self.signals.is_some() && self.policy != Policy::Kelly {
            return Err(err(
                "portfolio.signals",
                format!(
                    "expected returns are read by the kelly policy only, not {}",
                    self.policy.name()
                ),
            ));
        }
        let c = &self.covariance;
        if c.sample_ms == 0 {
            return Err(err("portfolio.covariance.sample_ms", "must be at least 1"));
        }
        if !(c.lambda > 0.0 && c.lambda < 1.0) {
            return Err(err(
                "portfolio.covariance.lambda",
                format!("{} is not in (0, 1)", c.lambda),
            ));
        }
        if let Shrinkage::Fixed(d) = c.shrinkage {
            if !(0.0..=1.0).contains(&d) {
                return Err(err(
                    "portfolio.covariance.shrinkage",
                    format!("{d} is not in [0, 1] (or `{}`)", Shrinkage::LEDOIT_WOLF),
                ));
            }
        }
        if !(c.garch_alpha >= 0.0 && c.garch_beta >= 0.0 && c.garch_alpha + c.garch_beta < 1.0) {
            return Err(err(
                "portfolio.covariance.garch_alpha",
                "α ≥ 0, β ≥ 0 and α + β < 1 are required",
            ));
        }
        let r = &self.rebalance;
        if r.every_samples == 0 {
            return Err(err(
                "portfolio.rebalance.every_samples",
                "must be at least 1",
            ));
        }
        positive_or_inf("portfolio.rebalance.drift_band".into(), r.drift_band)?;
        positive_or_inf("portfolio.rebalance.vol_jump".into(), r.vol_jump)?;
        self.check_factors()?;
        for a in 0..self.accounts.len() {
            self.check_account(a)?;
        }
        for j in 0..self.options.len() {
            self.option_account(j)?;
        }
        let mut out = Vec::with_capacity(self.instruments.len());
        for i in 0..self.instruments.len() {
            out.push(self.check_instrument(i)?);
        }
        for (f, fs) in self.factors.iter().enumerate() {
            if !out.iter().any(|r| r.factor == f) {
                return Err(err(
                    format!("portfolio.factors[{f}]"),
                    format!("no instrument carries factor `{}`", fs.name),
                ));
            }
            if let Some(reference) = &fs.reference {
                self.reference_of(f).ok_or_else(|| {
                    err(
                        format!("portfolio.factors[{f}].reference"),
                        format!("`{reference}` is not `market:symbol` of one of the factor's instruments"),
                    )
                })?;
            }
        }
        Ok(out)
    }

    fn check_factors(&self) -> Result<(), SpecError> {
        if self.factors.is_empty() {
            return Err(err("portfolio.factors", "at least one factor is needed"));
        }
        let mut sum = 0.0;
        for (f, fs) in self.factors.iter().enumerate() {
            if self.factors[..f].iter().any(|g| g.name == fs.name) {
                return Err(err(
                    format!("portfolio.factors[{f}].name"),
                    format!("`{}` is named twice", fs.name),
                ));
            }
            if !fs.budget.is_finite() {
                return Err(err(format!("portfolio.factors[{f}].budget"), "not finite"));
            }
            if self.policy == Policy::RiskParity && fs.budget <= 0.0 {
                return Err(err(
                    format!("portfolio.factors[{f}].budget"),
                    format!("{} is not positive (risk parity)", fs.budget),
                ));
            }
            if !fs.expected_return.is_finite() {
                return Err(err(
                    format!("portfolio.factors[{f}].expected_return"),
                    "not finite",
                ));
            }
            positive_or_inf(format!("portfolio.factors[{f}].max_weight"), fs.max_weight)?;
            if !(0.0..=1.0).contains(&fs.implied_weight) {
                return Err(err(
                    format!("portfolio.factors[{f}].implied_weight"),
                    format!("{} is not in [0, 1]", fs.implied_weight),
                ));
            }
            positive_or_inf(format!("portfolio.factors[{f}].max_delta"), fs.max_delta)?;
            sum += fs.budget;
        }
        if self.policy == Policy::RiskParity && (sum - 1.0).abs() > 1e-9 {
            return Err(err(
                "portfolio.factors",
                format!("budgets sum to {sum}, not 1"),
            ));
        }
        if self.policy != Policy::Kelly && self.target_vol.is_none() {
            return Err(err(
                "portfolio.target_vol",
                format!("`{}` needs a volatility target", self.policy.name()),
            ));
        }
        Ok(())
    }

    fn check_account(&self, a: usize) -> Result<(), SpecError> {
        let acc = &self.accounts[a];
        if self.accounts[..a].iter().any(|b| b.name == acc.name) {
            return Err(err(
                format!("portfolio.accounts[{a}].name"),
                format!("`{}` is named twice", acc.name),
            ));
        }
        if acc.currency != USD && !self.factors.iter().any(|f| f.name == acc.currency) {
            return Err(err(
                format!("portfolio.accounts[{a}].currency"),
                format!("`{}` is neither USD nor a factor", acc.currency),
            ));
        }
        if !(acc.collateral >= 0.0 && acc.collateral.is_finite()) {
            return Err(err(
                format!("portfolio.accounts[{a}].collateral"),
                format!("{} is not a finite number ≥ 0", acc.collateral),
            ));
        }
        positive(format!("portfolio.accounts[{a}].liq_k"), acc.liq_k)?;
        positive(
            format!("portfolio.accounts[{a}].liq_horizon_days"),
            acc.liq_horizon_days,
        )?;
        if !(acc.max_margin_ratio > 0.0 && acc.max_margin_ratio <= 1.0) {
            return Err(err(
                format!("portfolio.accounts[{a}].max_margin_ratio"),
                format!("{} is not in (0, 1]", acc.max_margin_ratio),
            ));
        }
        let deribit_keys = [
            ("future_im", acc.future_im),
            ("future_mm", acc.future_mm),
            ("slope_per_coin", acc.slope_per_coin),
            ("option_mm", acc.option_mm),
            ("option_im", acc.option_im),
            ("option_im_floor", acc.option_im_floor),
        ];
        if acc.kind == AccountKind::Deribit {
            if acc.currency == USD {
                return Err(err(
                    format!("portfolio.accounts[{a}].currency"),
                    "a deribit account is margined in a coin: name the factor whose coin it holds",
                ));
            }
            if !acc.tiers.is_empty() || acc.mmr.is_some() {
                return Err(err(
                    format!(
                        "portfolio.accounts[{a}].{}",
                        if acc.tiers.is_empty() { "mmr" } else { "tiers" }
                    ),
                    "Binance's brackets do not apply to a deribit account (its rates are future_im, future_mm, slope_per_coin, option_mm, option_im, option_im_floor)",
                ));
            }
            return self.deribit_rates(a).map(|_| ());
        }
        if let Some((k, _)) = deribit_keys.iter().find(|(_, v)| v.is_some()) {
            return Err(err(
                format!("portfolio.accounts[{a}].{k}"),
                format!(
                    "a Deribit rate on a {} account (only `kind = \"deribit\"` accounts take it)",
                    acc.kind.name()
                ),
            ));
        }
        self.tiers(a).map(|_| ())
    }

    fn check_instrument(&self, i: usize) -> Result<ResolvedInstrument, SpecError> {
        let s = &self.instruments[i];
        let key = |k: &str| format!("portfolio.instruments[{i}].{k}");
        let market = self.market_of(i)?;
        if self.instruments[..i]
            .iter()
            .any(|o| o.market == s.market && o.symbol == s.symbol)
        {
            return Err(err(
                key("symbol"),
                format!("`{}:{}` is listed twice", s.market, s.symbol),
            ));
        }
        let factor = self
            .factors
            .iter()
            .position(|f| f.name == s.factor)
            .ok_or_else(|| err(key("factor"), format!("no factor `{}`", s.factor)))?;
        let account = self
            .accounts
            .iter()
            .position(|a| a.name == s.account)
            .ok_or_else(|| err(key("account"), format!("no account `{}`", s.account)))?;
        let acc = &self.accounts[account];
        if market == Market::Deribit {
            self.check_deribit_instrument(i, acc)?;
        } else if acc.kind == AccountKind::Deribit {
            return Err(err(
                key("account"),
                format!(
                    "`{}` is a deribit account: only Deribit futures trade in it",
                    acc.name
                ),
            ));
        }
        match (acc.kind, s.contract, acc.currency == USD) {
            (AccountKind::Spot, Contract::Linear, true)
            | (AccountKind::Margin, Contract::Linear, true) => {}
            (AccountKind::Margin | AccountKind::Deribit, Contract::Inverse, false)
                if acc.currency == s.factor => {}
            _ => {
                return Err(err(
                    key("account"),
                    format!(
                        "a {} contract on `{}` cannot trade in the {} account `{}` of currency {} (linear: USD accounts; inverse: a margin or deribit account in the factor's coin)",
                        contract_name(s.contract), s.factor, acc.kind.name(), acc.name, acc.currency
                    ),
                ))
            }
        }
        positive(key("multiplier"), s.multiplier)?;
        positive(key("lot"), s.lot)?;
        if !(s.min_notional >= 0.0 && s.min_notional.is_finite()) {
            return Err(err(key("min_notional"), "not a finite number ≥ 0"));
        }
        if !s.fee_bps.is_finite() || !s.funding_bps_per_day.is_finite() {
            return Err(err(key("fee_bps"), "fees and funding must be finite"));
        }
        positive(key("max_slippage_bps"), s.max_slippage_bps)?;
        positive_or_inf(key("max_notional"), s.max_notional)?;
        Ok(ResolvedInstrument {
            market,
            factor,
            account,
        })
    }

    /// A Deribit instrument: a future or perpetual (options are held, not traded), inverse, in a
    /// `deribit` account, with amounts in USD (`multiplier = 1`).
    fn check_deribit_instrument(&self, i: usize, acc: &AccountSpec) -> Result<(), SpecError> {
        let s = &self.instruments[i];
        let key = |k: &str| format!("portfolio.instruments[{i}].{k}");
        match parse_name(&s.symbol).map(|x| x.kind) {
            Some(InstrumentKind::Future | InstrumentKind::Perpetual) => {}
            Some(InstrumentKind::Option) => {
                return Err(err(
                    key("symbol"),
                    format!(
                        "`{}` is a Deribit option: options are held ([[portfolio.options]]), not traded",
                        s.symbol
                    ),
                ))
            }
            _ => {
                return Err(err(
                    key("symbol"),
                    format!(
                        "`{}` is not a Deribit future or perpetual name (`BTC-PERPETUAL`, `BTC-27SEP24`)",
                        s.symbol
                    ),
                ))
            }
        }
        if acc.kind != AccountKind::Deribit {
            return Err(err(
                key("account"),
                format!(
                    "a Deribit future trades in a deribit account, `{}` is a {} account",
                    acc.name,
                    acc.kind.name()
                ),
            ));
        }
        if s.contract != Contract::Inverse {
            return Err(err(key("contract"), "Deribit's coin futures are inverse"));
        }
        if s.multiplier != 1.0 {
            return Err(err(
                key("multiplier"),
                format!(
                    "{} is not 1: Deribit states futures amounts in USD, so one quantity unit is one USD of face value (the contract size goes in `lot`: 10 for BTC, 1 for ETH)",
                    s.multiplier
                ),
            ));
        }
        Ok(())
    }

    /// Index of factor `f`'s reference instrument: the one its `reference` names, else its
    /// first instrument.
    #[must_use]
    pub fn reference_of(&self, f: usize) -> Option<usize> {
        let name = &self.factors.get(f)?.name;
        let carries = |s: &&InstrumentSpec| &s.factor == name;
        match &self.factors[f].reference {
            None => self.instruments.iter().position(|s| carries(&s)),
            Some(r) => {
                let (m, sym) = r.split_once(':')?;
                self.instruments
                    .iter()
                    .position(|s| carries(&s) && s.market == m && s.symbol == sym)
            }
        }
    }
}

/// `linear` or `inverse`.
#[must_use]
pub const fn contract_name(c: Contract) -> &'static str {
    match c {
        Contract::Linear => "linear",
        Contract::Inverse => "inverse",
    }
}
