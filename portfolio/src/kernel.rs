//! [`PortfolioKernel`]: the portfolio engine as a pipeline kernel.
//!
//! Per event: the instrument's touch is updated (bookkeeping only). When the event's receive time
//! crosses the sampling clock, each factor's reference mid is sampled into a log return (missing,
//! not zero, when its book is invalid), the factor covariance is updated, the accounts' margin is
//! measured, and the triggers are checked: the clock (`every_samples`), a factor's drift outside
//! its band, a jump of a factor's volatility forecast, a factor entering the matrix, or an
//! expected-return update from the signal input ([`crate::signal`], Kelly). A
//! rebalance solves the allocation ([`crate::allocate`]), splits each factor's trade across its
//! instruments ([`crate::split`]) and emits one resize order per instrument that must move, each
//! naming the rebalance and the constraint that bound it; the record goes to the sink.
//!
//! Hot path: no allocation after construction (every buffer is sized for the spec), no lock, no
//! I/O; NaN never reaches an order (a non-finite target is dropped and counted).

use engine::kernel::KernelStats;
use engine::order::{Fill, Order};
use engine::pipeline::{InstrumentResult, KernelLogic};
use feeds::{EventKind, MarketEvent, Registry, Side};
use risk_core::factor_cov::{FactorCovConfig, FactorCovariance};
use risk_core::kelly::CovTarget;

use crate::allocate::{risk_contributions, Allocator, FactorBinding};
use crate::record::{Rebalance, RebalanceSink, Trigger};
use crate::spec::{AccountKind, PortfolioSpec, SpecError, VolModel, USD};
use crate::state::{Account, Inst};

/// Milliseconds per year (the 365-day year crypto trades).
const MS_PER_YEAR: f64 = 365.0 * 86_400_000.0;

/// Counters of a portfolio run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortfolioStats {
    /// Samples taken.
    pub samples: u64,
    /// Rebalances, by trigger: start, clock, drift, vol jump, universe, signal.
    pub rebalances: [u64; 6],
    /// Expected-return updates applied from the signal input.
    pub signals: u64,
    /// Rebalances whose allocation failed (the previous targets stood).
    pub failed: u64,
    /// Orders dropped because their quantity was not finite.
    pub non_finite: u64,
}

/// Per factor, what the kernel tracks between samples.
#[derive(Debug, Clone, Copy, Default)]
struct FactorState {
    /// Reference instrument index.
    reference: usize,
    /// Reference mid at the last sample (0: none yet).
    last_mid: f64,
    /// Whether it was in the matrix at the last rebalance.
    in_matrix: bool,
    /// Target exposure of the last rebalance, USD.
    target: f64,
    /// Whether a target exists.
    has_target: bool,
    /// Annualized volatility forecast now.
    vol: f64,
    /// Forecast at the last rebalance.
    vol_at_rebalance: f64,
    /// GARCH conditional variance per sample (`garch` vol model).
    garch_var: f64,
    /// Whether the implied volatility entered `vol` at the last sample.
    implied_used: bool,
    /// Realized risk-contribution numerator `Σₜ eᵢ (Σe)ᵢ`.
    rc_num: f64,
}

/// The portfolio engine's kernel.
#[derive(Debug)]
pub struct PortfolioKernel<S> {
    pub(crate) spec: PortfolioSpec,
    pub(crate) insts: Vec<Inst>,
    pub(crate) accounts: Vec<Account>,
    factors: Vec<FactorState>,
    /// Global id → instrument index (`usize::MAX`: not held).
    by_id: Vec<usize>,
    /// Global id → held option index (`usize::MAX`: none).
    held_by_id: Vec<usize>,
    /// The held options.
    pub(crate) held: crate::held::HeldBook,
    /// Per factor: the held options' delta and gamma at the last sample.
    pub(crate) option_delta: Vec<f64>,
    pub(crate) option_gamma: Vec<f64>,
    cov: FactorCovariance,
    alloc: Allocator,
    sink: S,
    pub(crate) rec: Rebalance,
    // Scratch, sized at construction.
    returns: Vec<f64>,
    cov_idx: Vec<usize>,
    cov_mat: Vec<f64>,
    pub(crate) exposure: Vec<f64>,
    binding: Vec<FactorBinding>,
    pub(crate) sx: Vec<f64>,
    rc: Vec<f64>,
    /// Per factor, its instruments (spec order); built at construction.
    pub(crate) by_factor: Vec<Vec<usize>>,
    /// Scratch: one factor's instruments by cost.
    pub(crate) order_idx: Vec<usize>,
    /// Per account: margin figures at the last sample or rebalance.
    pub(crate) margins: Vec<crate::state::Margin>,
    /// Per account: the margin (maintenance for Binance's model, initial for Deribit's) the
    /// current rebalance's decisions add, so the account's later instruments see the room the
    /// earlier ones took.
    pub(crate) committed: Vec<f64>,
    /// Per factor: net exposure (USD) and net delta, measured at the last sample.
    pub(crate) net_usd: Vec<f64>,
    pub(crate) net_delta: Vec<f64>,
    /// Per instrument: its constraint chain and the index of its minimum-trade step.
    pub(crate) policies: Vec<(risk_core::policy::SizingPolicy, u8)>,
    /// Scratch decision.
    pub(crate) decision: risk_core::policy::Decision,
    /// Per instrument, its depth forecast (empty when off).
    pub(crate) forecasts: Vec<risk_core::depth_forecast::DepthForecast>,
    next_sample_ns: u64,
    samples_since: u32,
    /// Realized risk-contribution denominator `Σₜ eᵀΣe`.
    rc_den: f64,
    pub(crate) next_order_id: u64,
    pub(crate) outstanding: u32,
    pub(crate) stats: KernelStats,
    pub(crate) pstats: PortfolioStats,
    ann: f64,
    /// Whether records carry the covariance.
    log_covariance: bool,
    /// Per factor: the expected return Kelly uses now (configured, then the signal's updates).
    mu: Vec<f64>,
    /// The signal input's updates, in time order, and the next one to apply.
    signals: Vec<crate::signal::Signal>,
    next_signal: usize,
    /// Whether an update changed an expected return since the last rebalance.
    signal_pending: bool,
}

impl<S: RebalanceSink> PortfolioKernel<S> {
    /// A kernel for `spec` over the instruments of `registry` (each spec instrument must be
    /// registered on its market: pre-register them), recording rebalances into `sink`.
    ///
    /// # Errors
    /// A [`SpecError`] from [`PortfolioSpec::check`], or naming an instrument the registry lacks.
    pub fn new(spec: PortfolioSpec, registry: &Registry, sink: S) -> Result<Self, SpecError> {
        let resolved = spec.check()?;
        let mut insts = Vec::with_capacity(resolved.len());
        let mut by_id = vec![usize::MAX; registry.len()];
        for (i, (s, r)) in spec.instruments.iter().zip(&resolved).enumerate() {
            let id = registry
                .id_in(r.market, &s.symbol)
                .ok_or_else(|| SpecError {
                    key: format!("portfolio.instruments[{i}].symbol"),
                    message: format!(
                        "`{}:{}` is not in the instrument registry",
                        s.market, s.symbol
                    ),
                })?;
            let inst = registry
                .get(id)
                .map_or((8, 8), |x| (x.px_scale, x.qty_scale));
            by_id[id.0 as usize] = i;
            insts.push(Inst::new(s, id, r.market, (r.factor, r.account), inst));
        }
        let held = crate::held::HeldBook::new(&spec)?;
        let mut held_by_id = vec![usize::MAX; registry.len()];
        for (j, o) in spec.options.iter().enumerate() {
            let id = registry
                .id_in(feeds::Market::Deribit, &o.symbol)
                .ok_or_else(|| SpecError {
                    key: format!("portfolio.options[{j}].symbol"),
                    message: format!("`deribit:{}` is not in the instrument registry", o.symbol),
                })?;
            held_by_id[id.0 as usize] = j;
        }
        let mut accounts = Vec::with_capacity(spec.accounts.len());
        for (a, s) in spec.accounts.iter().enumerate() {
            accounts.push(Account {
                kind: s.kind,
                coin: (s.currency != USD)
                    .then(|| spec.factors.iter().position(|f| f.name == s.currency))
                    .flatten(),
                wallet: s.collateral,
                tiers: spec.tiers(a)?,
                deribit: if s.kind == AccountKind::Deribit {
                    spec.deribit_rates(a)?
                } else {
                    risk_core::margin::deribit::DeribitRates::BTC
                },
                liq_k: s.liq_k,
                horizon_years: s.liq_horizon_days / 365.0,
                max_margin_ratio: s.max_margin_ratio,
                peak_margin_ratio: 0.0,
                min_liq_distance: f64::INFINITY,
            });
        }
        let n = spec.factors.len();
        let mut factors = vec![FactorState::default(); n];
        for (f, st) in factors.iter_mut().enumerate() {
            st.reference = spec.reference_of(f).unwrap_or(0);
        }
        let c = &spec.covariance;
        let cov = FactorCovariance::new(
            n,
            FactorCovConfig {
                lambda: c.lambda,
                min_samples: c.min_samples,
                max_missed: c.max_missed,
                target: CovTarget::ConstantCorrelation,
                shrinkage: c.shrinkage,
            },
        )
        .map_err(|e| SpecError {
            key: "portfolio.covariance".into(),
            message: e.to_string(),
        })?;
        let mut policies = Vec::with_capacity(insts.len());
        for (i, x) in insts.iter().enumerate() {
            let p = crate::split::instrument_policy(
                x,
                &accounts[x.account],
                spec.factors[x.factor].max_delta,
            )
            .map_err(|e| SpecError {
                key: format!("portfolio.instruments[{i}]"),
                message: format!("its constraint chain: {e}"),
            })?;
            policies.push(p);
        }
        let model = match spec.depth_forecast {
            crate::spec::DepthForecastMode::Off => None,
            crate::spec::DepthForecastMode::Touch1s => {
                Some(risk_core::depth_forecast::DepthModel::TOUCH_1S)
            }
            crate::spec::DepthForecastMode::Touch5s => {
                Some(risk_core::depth_forecast::DepthModel::TOUCH_5S)
            }
        };
        let forecasts = model.map_or_else(Vec::new, |model| {
            (0..insts.len())
                .map(|_| {
                    risk_core::depth_forecast::DepthForecast::new(
                        risk_core::depth_forecast::DepthForecastConfig {
                            model,
                            ..Default::default()
                        },
                    )
                })
                .collect()
        });
        let m = insts.len();
        let ann = MS_PER_YEAR / c.sample_ms as f64;
        let spec_mu = spec.factors.iter().map(|f| f.expected_return).collect();
        Ok(Self {
            rec: Rebalance::with_capacity(n, m, accounts.len()),
            returns: vec![0.0; n],
            cov_idx: vec![0; n],
            cov_mat: vec![0.0; n * n],
            exposure: vec![0.0; n],
            binding: vec![FactorBinding::Model; n],
            sx: vec![0.0; n.max(m)],
            rc: vec![0.0; n],
            by_factor: (0..n)
                .map(|f| (0..m).filter(|&i| insts[i].factor == f).collect())
                .collect(),
            order_idx: vec![0; m],
            margins: vec![crate::state::Margin::default(); accounts.len()],
            committed: vec![0.0; accounts.len()],
            net_usd: vec![0.0; n],
            net_delta: vec![0.0; n],
            policies,
            decision: risk_core::policy::Decision::default(),
            forecasts,
            alloc: Allocator::new(n),
            spec,
            insts,
            accounts,
            factors,
            by_id,
            held_by_id,
            held,
            option_delta: vec![0.0; n],
            option_gamma: vec![0.0; n],
            cov,
            sink,
            next_sample_ns: 0,
            samples_since: 0,
            rc_den: 0.0,
            next_order_id: 1,
            outstanding: 0,
            stats: KernelStats::default(),
            pstats: PortfolioStats::default(),
            ann,
            log_covariance: true,
            mu: spec_mu,
            signals: Vec::new(),
            next_signal: 0,
            signal_pending: false,
        })
    }

    /// Whether each record carries the `k × k` covariance its rebalance used (on by default;
    /// off saves copying it when no one will read it).
    #[must_use]
    pub fn with_covariance_log(mut self, on: bool) -> Self {
        self.log_covariance = on;
        self
    }

    /// Expected-return updates from a signal input ([`crate::signal`]), in time order (as
    /// [`crate::signal::read_signals`] returns them). Each applies at the first sample boundary
    /// after its receive time; a change triggers a rebalance at that sample. Updates naming a
    /// factor the spec lacks are ignored.
    #[must_use]
    pub fn with_signals(mut self, signals: Vec<crate::signal::Signal>) -> Self {
        self.signals = signals;
        self.next_signal = 0;
        self
    }

    /// The expected return factor `f`'s Kelly solve uses now.
    #[must_use]
    pub fn expected_return(&self, f: usize) -> Option<f64> {
        self.mu.get(f).copied()
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &PortfolioSpec {
        &self.spec
    }

    /// Portfolio counters.
    #[must_use]
    pub fn portfolio_stats(&self) -> PortfolioStats {
        self.pstats
    }

    /// The sink.
    #[must_use]
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Instrument `i`'s position, quantity units.
    #[must_use]
    pub fn position(&self, i: usize) -> f64 {
        self.insts.get(i).map_or(0.0, |x| x.pos)
    }

    /// Instrument `i`'s state (touch, position, entry price, PnL).
    #[must_use]
    pub fn instrument(&self, i: usize) -> Option<&Inst> {
        self.insts.get(i)
    }

    /// Account `a`'s state (wallet, margin model, extremes).
    #[must_use]
    pub fn account(&self, a: usize) -> Option<&Account> {
        self.accounts.get(a)
    }

    /// The held options as of the last sample.
    #[must_use]
    pub fn held(&self) -> &crate::held::HeldBook {
        &self.held
    }

    /// Realized risk contribution of factor `f` over the run: `Σₜ eᵢ(Σe)ᵢ / Σₜ eᵀΣe` over the
    /// samples, with each sample's exposures and covariance (`None` before any).
    #[must_use]
    pub fn realized_rc(&self, f: usize) -> Option<f64> {
        (self.rc_den > 0.0).then(|| self.factors[f].rc_num / self.rc_den)
    }

    /// Factor `f`'s target exposure of the last rebalance, USD (`None` before the first).
    #[must_use]
    pub fn target(&self, f: usize) -> Option<f64> {
        let s = self.factors.get(f)?;
        s.has_target.then_some(s.target)
    }

    /// Factor `f`'s annualized volatility forecast now.
    #[must_use]
    pub fn vol(&self, f: usize) -> f64 {
        self.factors.get(f).map_or(0.0, |s| s.vol)
    }

    /// Account `a`'s peak margin ratio and closest liquidation distance over the samples.
    #[must_use]
    pub fn account_extremes(&self, a: usize) -> Option<(f64, f64)> {
        self.accounts
            .get(a)
            .map(|x| (x.peak_margin_ratio, x.min_liq_distance))
    }

    /// Account `a`'s margin figures now.
    #[must_use]
    pub fn account_margin(&self, a: usize) -> Option<crate::state::Margin> {
        let mut out = vec![crate::state::Margin::default(); self.accounts.len()];
        crate::state::measure_accounts(&self.accounts, &self.insts, &self.held, &mut out);
        out.get(a).copied()
    }

    /// Net exposure of factor `f` across every venue, USD, and its net delta in underlying units:
    /// positions plus the coin collateral of inverse accounts.
    #[must_use]
    pub fn net_exposure(&self, f: usize) -> (f64, f64) {
        let mut usd = 0.0;
        let mut delta = 0.0;
        for &i in self.by_factor.get(f).map_or(&[][..], Vec::as_slice) {
            let x = &self.insts[i];
            let d = x.delta();
            delta += d;
            usd += d * x.mid();
        }
        let px = self.insts[self.factors[f].reference].mid();
        for a in self.accounts.iter().filter(|a| a.coin == Some(f)) {
            delta += a.wallet;
            usd += a.wallet * px;
        }
        let od = self.option_delta.get(f).copied().unwrap_or(0.0);
        delta += od;
        usd += od * px;
        (usd, delta)
    }

    /// Samples every factor at a clock tick, updates the covariance, the vols, the accounts'
    /// extremes and the realized risk contributions; returns the trigger of a rebalance due.
    fn sample(&mut self) -> Option<Trigger> {
        self.pstats.samples += 1;
        let n = self.factors.len();
        for f in 0..n {
            let st = &mut self.factors[f];
            let x = &self.insts[st.reference];
            let mid = x.mid();
            self.returns[f] = if x.live && mid > 0.0 && st.last_mid > 0.0 {
                (mid / st.last_mid).ln()
            } else {
                f64::NAN
            };
            if x.live && mid > 0.0 {
                st.last_mid = mid;
            }
        }
        // The configuration was checked: `update` fails only on a length mismatch.
        let _ = self.cov.update(&self.returns);
        let (alpha, beta) = (
            self.spec.covariance.garch_alpha,
            self.spec.covariance.garch_beta,
        );
        let now = self.sample_time();
        for f in 0..n {
            let Some(var) = self.cov.estimate(f, f) else {
                continue;
            };
            let st = &mut self.factors[f];
            let per_sample = match self.spec.covariance.vol_model {
                VolModel::Ewma => var,
                VolModel::Garch => {
                    // Variance targeting on the EWMA variance: ω = (1 − α − β) σ²_ewma.
                    let r = self.returns[f];
                    if st.garch_var <= 0.0 {
                        st.garch_var = var;
                    } else if r.is_finite() {
                        st.garch_var =
                            (1.0 - alpha - beta) * var + alpha * r * r + beta * st.garch_var;
                    }
                    st.garch_var
                }
            };
            st.vol = (per_sample * self.ann).sqrt();
            st.implied_used = false;
            let w = self.spec.factors[f].implied_weight;
            if w > 0.0 {
                if let Some(iv) = self.held.atm_iv(f, now) {
                    st.vol = (1.0 - w) * st.vol + w * iv;
                    st.implied_used = true;
                }
            }
        }
        // Options first: a deribit account's equity and margin count their marks.
        self.revalue_options();
        crate::state::measure_accounts(&self.accounts, &self.insts, &self.held, &mut self.margins);
        for (acc, m) in self.accounts.iter_mut().zip(&self.margins) {
            acc.peak_margin_ratio = acc.peak_margin_ratio.max(m.ratio);
            acc.min_liq_distance = acc.min_liq_distance.min(m.liq_distance);
        }
        for f in 0..n {
            (self.net_usd[f], self.net_delta[f]) = self.net_exposure(f);
        }
        self.samples_since += 1;
        self.accumulate_realized_rc();
        self.trigger()
    }

    /// Applies the signal's updates received before `until` (a sample boundary).
    fn apply_signals(&mut self, until: u64) {
        while let Some(s) = self.signals.get(self.next_signal) {
            if s.recv_ns >= until {
                break;
            }
            self.next_signal += 1;
            if let Some(mu) = self.mu.get_mut(s.factor) {
                self.pstats.signals += 1;
                if *mu != s.expected_return {
                    *mu = s.expected_return;
                    self.signal_pending = true;
                }
            }
        }
    }

    /// The boundary of the sample being taken (the clock already points at the next one).
    fn sample_time(&self) -> u64 {
        self.next_sample_ns
            .saturating_sub(self.spec.covariance.sample_ms * 1_000_000)
    }

    /// Revalues the held options (one SIMD batch) and sums their delta and gamma per factor.
    fn revalue_options(&mut self) {
        if self.held.is_empty() {
            return;
        }
        self.held.revalue(self.sample_time());
        self.option_delta.fill(0.0);
        self.option_gamma.fill(0.0);
        for j in 0..self.held.len() {
            let f = self.held.factor[j];
            self.option_delta[f] += self.held.qty[j] * self.held.delta[j];
            self.option_gamma[f] += self.held.qty[j] * self.held.gamma[j];
        }
    }

    /// Adds this sample's `eᵢ(Σe)ᵢ` and `eᵀΣe` with the held exposures and the EWMA covariance
    /// of the ready factors (unshrunk: O(k²), no factorization per sample; the ratio needs no
    /// annualization).
    fn accumulate_realized_rc(&mut self) {
        let mut k = 0;
        for f in 0..self.factors.len() {
            if self.cov.is_ready(f) {
                self.cov_idx[k] = f;
                self.exposure[k] = self.net_usd[f];
                k += 1;
            }
        }
        if k == 0 {
            return;
        }
        if self
            .cov
            .estimates_into(&self.cov_idx[..k], &mut self.cov_mat)
            .is_err()
        {
            return;
        }
        let cov = &self.cov_mat[..k * k];
        if risk_contributions(
            cov,
            &self.exposure[..k],
            &mut self.sx[..k],
            &mut self.rc[..k],
        ) {
            let var: f64 = self.exposure[..k]
                .iter()
                .zip(&self.sx[..k])
                .map(|(e, s)| e * s)
                .sum();
            self.rc_den += var;
            for a in 0..k {
                self.factors[self.cov_idx[a]].rc_num += self.rc[a] * var;
            }
        }
    }

    /// Turns the per-sample matrix `cov_mat[..k²]` into the annualized one the allocation uses:
    /// the EWMA matrix × samples per year, with GARCH volatilities on the diagonal when
    /// configured (EWMA correlations kept).
    fn annualize(&mut self, k: usize) {
        let ann = self.ann;
        let garch = self.spec.covariance.vol_model == VolModel::Garch;
        for a in 0..k {
            let va = self.cov_mat[a * k + a];
            let st = &self.factors[self.cov_idx[a]];
            // The diagonal carries the factor's volatility (GARCH, blended with the implied one);
            // the correlations stay the EWMA's.
            let sa = if st.implied_used {
                st.vol / (va * ann).sqrt()
            } else if garch {
                (st.garch_var / va).sqrt()
            } else {
                1.0
            };
            self.sx[a] = if sa.is_finite() && sa > 0.0 { sa } else { 1.0 };
        }
        for a in 0..k {
            for b in 0..k {
                self.cov_mat[a * k + b] *= ann * self.sx[a] * self.sx[b];
            }
        }
    }

    /// The trigger of a rebalance due now, if any.
    fn trigger(&mut self) -> Option<Trigger> {
        let n = self.factors.len();
        let ready = (0..n).filter(|&f| self.cov.is_ready(f)).count();
        if ready == 0 {
            return None;
        }
        if !self.factors.iter().any(|f| f.has_target) {
            return Some(Trigger::Start);
        }
        if (0..n).any(|f| self.cov.is_ready(f) != self.factors[f].in_matrix) {
            return Some(Trigger::Universe);
        }
        if self.signal_pending {
            return Some(Trigger::Signal);
        }
        if self.samples_since >= self.spec.rebalance.every_samples {
            return Some(Trigger::Clock);
        }
        let band = self.spec.rebalance.drift_band * self.spec.capital;
        for f in 0..n {
            let st = self.factors[f];
            if st.in_matrix && (self.net_usd[f] - st.target).abs() > band {
                return Some(Trigger::Drift);
            }
        }
        for st in &self.factors {
            if st.in_matrix
                && st.vol_at_rebalance > 0.0
                && (st.vol / st.vol_at_rebalance - 1.0).abs() > self.spec.rebalance.vol_jump
            {
                return Some(Trigger::VolJump);
            }
        }
        None
    }

    /// Solves the allocation and splits it into orders (see the module docs).
    fn rebalance(
        &mut self,
        trigger: Trigger,
        ev: &MarketEvent,
        t_ingest: u64,
        emit: &mut impl FnMut(Order),
    ) {
        let Ok(snap) = self.cov.matrix(&mut self.cov_idx, &mut self.cov_mat) else {
            self.pstats.failed += 1;
            return;
        };
        let k = snap.k;
        self.annualize(k);
        let n = self.factors.len();
        let r = self.alloc.allocate_with_returns(
            &self.spec,
            &self.cov_idx[..k],
            &self.cov_mat[..k * k],
            Some(&self.mu),
            &mut self.exposure,
            &mut self.binding,
        );
        let report = match r {
            Ok(rep) => rep,
            Err(_) => {
                self.pstats.failed += 1;
                return;
            }
        };
        self.pstats.rebalances[trigger as usize] += 1;
        self.samples_since = 0;
        self.signal_pending = false;
        let seq = self.rec.seq + 1;
        self.rec.seq = seq;
        self.rec.recv_ns = ev.recv_ns;
        self.rec.trigger = trigger;
        self.rec.policy = self.spec.policy;
        self.rec.portfolio_vol = report.portfolio_vol;
        self.rec.gross_leverage = report.gross_leverage;
        self.rec.net_leverage = report.net_leverage;
        self.rec.solver_error = report.solver_error;
        self.rec.shrinkage = snap.intensity;
        self.rec.cov_factors.clear();
        self.rec.cov_factors.extend_from_slice(&self.cov_idx[..k]);
        self.rec.cov.clear();
        if self.log_covariance {
            self.rec.cov.extend_from_slice(&self.cov_mat[..k * k]);
        }
        let ok = risk_contributions(
            &self.cov_mat[..k * k],
            &self.exposure[..k],
            &mut self.sx[..k],
            &mut self.rc[..k],
        );
        let budget_total: f64 = self.cov_idx[..k]
            .iter()
            .map(|&f| self.spec.factors[f].budget)
            .sum();
        for f in 0..n {
            let (net, delta) = (self.net_usd[f], self.net_delta[f]);
            let row = &mut self.rec.factors[f];
            row.ready = false;
            row.weight = net / self.spec.capital;
            row.budget = self.spec.factors[f].budget;
            row.risk_contribution = 0.0;
            row.vol = self.factors[f].vol;
            row.expected_return = self.mu[f];
            row.target_exposure = net;
            row.net_exposure = net;
            row.net_delta = delta;
            row.option_delta = self.option_delta[f];
            row.option_gamma = self.option_gamma[f];
            row.binding = FactorBinding::Masked;
            self.factors[f].in_matrix = false;
        }
        for a in 0..k {
            let f = self.cov_idx[a];
            let row = &mut self.rec.factors[f];
            row.ready = true;
            row.weight = self.exposure[a] / self.spec.capital;
            if self.spec.policy == crate::spec::Policy::RiskParity {
                row.budget /= budget_total;
            }
            row.risk_contribution = if ok { self.rc[a] } else { f64::NAN };
            row.target_exposure = self.exposure[a];
            row.binding = self.binding[a];
            let st = &mut self.factors[f];
            st.in_matrix = true;
            st.target = self.exposure[a];
            st.has_target = true;
            st.vol_at_rebalance = st.vol;
        }
        for f in 0..n {
            self.rec.factors[f].planned_exposure = self.rec.factors[f].target_exposure;
        }
        crate::state::measure_accounts(&self.accounts, &self.insts, &self.held, &mut self.margins);
        self.committed.fill(0.0);
        for (a, m) in self.margins.iter().enumerate() {
            let row = &mut self.rec.accounts[a];
            row.equity = m.equity;
            row.maintenance = m.maintenance;
            row.margin_ratio = m.ratio;
            row.liq_distance = m.liq_distance;
        }
        for row in &mut self.rec.instruments {
            *row = crate::record::InstrumentRow {
                binding: "model",
                flow_multiplier: 1.0,
                ..Default::default()
            };
        }
        for f in 0..n {
            if self.rec.factors[f].ready {
                self.split_factor(f, seq, ev, t_ingest, emit);
            }
        }
        for (x, row) in self.insts.iter().zip(&mut self.rec.instruments) {
            if row.order_id == 0 {
                row.position_qty = x.pos + x.working();
                row.target_qty = row.position_qty;
            }
        }
        self.sink.record(&self.rec);
    }
}

impl<S: RebalanceSink> KernelLogic for PortfolioKernel<S> {
    fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, emit: &mut impl FnMut(Order)) {
        self.stats.events += 1;
        let period = self.spec.covariance.sample_ms * 1_000_000;
        if self.next_sample_ns == 0 {
            self.next_sample_ns = (ev.recv_ns / period + 1) * period;
        }
        // Sample at every boundary crossed, with the touches as of the boundary (this event is
        // applied after): a quiet clock period is a zero return, not a missing one.
        while ev.recv_ns >= self.next_sample_ns {
            self.apply_signals(self.next_sample_ns);
            self.next_sample_ns += period;
            if let Some(t) = self.sample() {
                self.rebalance(t, ev, t_ingest, emit);
            }
        }
        let Some(&i) = self.by_id.get(ev.instrument.0 as usize) else {
            self.stats.unknown_instrument += 1;
            return;
        };
        if ev.kind == EventKind::OptionTicker {
            if let Some(&j) = self.held_by_id.get(ev.instrument.0 as usize) {
                if j != usize::MAX {
                    self.held.on_ticker(j, ev);
                    return;
                }
            }
        }
        let Some(x) = self.insts.get_mut(i) else {
            self.stats.unknown_instrument += 1;
            return;
        };
        match ev.kind {
            EventKind::Bbo => {
                self.stats.bbo += 1;
                let (b, a) = (ev.bid, ev.ask);
                x.live = ev.book_valid() && b.px > 0 && a.px > b.px && b.qty > 0 && a.qty > 0;
                if !x.live {
                    self.stats.skipped_crossed += 1;
                    return;
                }
                let scale = feeds::registry::POW10[usize::from(x.px_scale)] as f64;
                x.bid_m = b.px;
                x.ask_m = a.px;
                x.bid_qm = b.qty;
                x.ask_qm = a.qty;
                x.bid = b.px as f64 / scale;
                x.ask = a.px as f64 / scale;
                x.bid_qty = x.qty_of(b.qty);
                x.ask_qty = x.qty_of(a.qty);
                if let Some(fc) = self.forecasts.get_mut(i) {
                    fc.on_bbo(ev.recv_ns, x.bid, x.bid_qty, x.ask, x.ask_qty);
                }
            }
            EventKind::Gap | EventKind::SnapshotBegin => {
                if ev.kind == EventKind::Gap {
                    self.stats.gaps += 1;
                }
                x.live = false;
            }
            EventKind::SnapshotEnd => self.stats.resyncs += 1,
            EventKind::Trade => {
                self.stats.trades += 1;
                if let Some(fc) = self.forecasts.get_mut(i) {
                    let px =
                        ev.bid.px as f64 / feeds::registry::POW10[usize::from(x.px_scale)] as f64;
                    let side = if ev.side == Side::Sell {
                        risk_core::liquidity::TradeSide::Sell
                    } else {
                        risk_core::liquidity::TradeSide::Buy
                    };
                    fc.on_trade(ev.recv_ns, px, x.qty_of(ev.bid.qty), side);
                }
            }
            EventKind::Level | EventKind::OptionTicker => {}
        }
    }

    fn on_fill(&mut self, f: &Fill) {
        self.stats.fills += 1;
        self.outstanding = self.outstanding.saturating_sub(1);
        let Some(&i) = self.by_id.get(f.instrument.0 as usize) else {
            return;
        };
        let Some(x) = self.insts.get_mut(i) else {
            return;
        };
        let sign: i64 = if f.side == Side::Buy { 1 } else { -1 };
        x.working_m -= sign * (f.qty + f.cancelled_qty);
        if f.qty == 0 {
            return;
        }
        x.pos_m += sign * f.qty;
        let qty = x.qty_of(sign * f.qty);
        let px = f.px as f64 / feeds::registry::POW10[usize::from(x.px_scale)] as f64;
        let realized_before = x.realized;
        let fees_before = x.fees;
        let cash = x.apply_fill(qty, px);
        // Keep the float position equal to the exact mantissa (no drift over many fills).
        x.pos = x.qty_of(x.pos_m);
        let acc = &mut self.accounts[x.account];
        match acc.kind {
            AccountKind::Spot => acc.wallet += cash,
            AccountKind::Margin | AccountKind::Deribit => {
                acc.wallet += (x.realized - realized_before) - (x.fees - fees_before);
            }
        }
    }

    fn outstanding(&self) -> u32 {
        self.outstanding
    }

    fn stats(&self) -> KernelStats {
        self.stats
    }

    fn instrument_results(&self) -> Vec<InstrumentResult> {
        self.insts
            .iter()
            .map(|x| InstrumentResult {
                id: x.id,
                position: x.pos_m,
                pnl: x.realized + x.unrealized() - x.fees,
                last_mid_px: (x.mid() > 0.0).then(|| x.mid()),
            })
            .collect()
    }

    fn max_orders_per_event(&self) -> usize {
        self.insts.len().max(1)
    }
}
