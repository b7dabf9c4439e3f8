//! The implied-volatility surface of one underlying, rebuilt as option tickers arrive.
//!
//! - One slice per expiry of the chain: a raw SVI smile ([`risk_core::vol::svi`]) fitted to the
//!   expiry's points `k = ln(K/F)`, `w = iv² T`, where `iv` is the mark IV or the mid of the
//!   bid/ask IVs ([`IvSource`]) and `F` the expiry's forward (the tickers' underlying price).
//!   A ticker refits only its own expiry (warm-started from the previous smile, at most
//!   [`SurfaceConfig::max_evals`] evaluations of the inner problem), so the work per tick is
//!   bounded by the largest expiry; nothing allocates after [`VolSurface::new`]. With
//!   [`SurfaceConfig::min_refit_interval_ns`] > 0 a ticker only marks its expiry dirty when the
//!   expiry was refitted less than that long ago; [`VolSurface::refit_due`] (called by the engine
//!   on hedge ticks) then refits at most one due expiry per call.
//! - An expiry with fewer than [`SurfaceConfig::min_points`] usable points, or whose fit fails,
//!   falls back to a flat smile at its ATM mark IV (the mark IV of the strike nearest the
//!   forward); an expiry with no IV at all is empty and skipped.
//! - Arbitrage is reported, not hidden: each fit carries its butterfly check
//!   ([`Slice::butterfly`]), and each refit checks calendar monotonicity of total variance against
//!   its neighbours ([`Slice::calendar_violations`], [`VolSurface::calendar_check`]).
//!
//! # Interpolation
//! At log-moneyness `k` and time to expiry `T`, total variance is interpolated linearly in `T`
//! between the two nearest usable expiries around `T` (each slice's `w(k)` rescaled to the current
//! time: `iv_e(k)² · T_e`). Before the first usable expiry and after the last, the extrapolation
//! is flat in implied volatility (the first / last slice's `iv(k)`). The ATM term structure is the
//! same at `k = 0`.

use risk_core::vol::svi::{self, ButterflyReport, CalendarReport, FitOptions, SviError, SviParams};

use super::chain::{OptionChain, NS_PER_YEAR};

/// Which implied volatility feeds the smile. Configured as `mark` or `mid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IvSource {
    /// The venue's mark IV.
    #[default]
    Mark,
    /// The mid of bid and ask IV (options without both sides are left out).
    Mid,
}

/// Settings of the surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfaceConfig {
    /// Which IV the smiles are fitted to.
    pub iv_source: IvSource,
    /// Fewest usable points (distinct strikes with an IV) to fit SVI; at least
    /// [`svi::MIN_POINTS`]. Fewer: the expiry falls back to its ATM mark IV.
    pub min_points: usize,
    /// Cap on inner-problem evaluations per refit (bounds the work of one ticker).
    pub max_evals: u32,
    /// Arbitrage checks run over `k ∈ [−arb_k, arb_k]`.
    pub arb_k: f64,
    /// Grid points of the arbitrage checks.
    pub arb_grid: u32,
    /// Nelder–Mead convergence in `(m, ln σ)` (smaller: more evaluations, same smile to the
    /// quotes' precision).
    pub x_tol: f64,
    /// Least time between two refits of one expiry, ns (0: refit on every ticker).
    pub min_refit_interval_ns: u64,
}

impl Default for SurfaceConfig {
    fn default() -> Self {
        Self {
            iv_source: IvSource::Mark,
            min_points: 7,
            max_evals: 400,
            arb_k: 1.0,
            arb_grid: 41,
            x_tol: 1e-6,
            min_refit_interval_ns: 0,
        }
    }
}

/// Why a surface could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SurfaceError {
    /// A setting is out of range.
    #[error("surface config: `{0}` out of range")]
    Config(&'static str),
}

/// What a slice currently holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceKind {
    /// No IV seen for this expiry.
    Empty,
    /// Too few points or a failed fit: flat at the ATM mark IV.
    Flat,
    /// A fitted SVI smile.
    Svi,
}

/// One expiry of the surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slice {
    /// Expiry, ns since the epoch.
    pub expiry_ns: u64,
    /// What the slice holds.
    pub kind: SliceKind,
    /// The smile (meaningful when `kind` is `Svi`), total variance at `t_fit_years`.
    pub params: SviParams,
    /// ATM mark IV (the slice's value when `kind` is `Flat`), fraction.
    pub atm_mark_iv: f64,
    /// Time to expiry at the last refit, years.
    pub t_fit_years: f64,
    /// Forward the smile's `k` is relative to, USD.
    pub forward: f64,
    /// Weighted RMSE of the fit in total variance (NaN unless `Svi`).
    pub rmse: f64,
    /// Usable points at the last refit.
    pub points: u32,
    /// Butterfly check of the last fit.
    pub butterfly: ButterflyReport,
    /// Calendar violations against the neighbouring usable slices at the last refit.
    pub calendar_violations: u32,
    /// Refits run.
    pub refits: u32,
    /// Fits that failed (the slice fell back to flat).
    pub fit_errors: u32,
    /// The last fit error.
    pub last_error: Option<SviError>,
    /// A ticker arrived since the last refit (throttled).
    pub dirty: bool,
    /// Time of the last refit, ns (0 before the first).
    pub last_refit_ns: u64,
    /// Forward of the latest ticker, used by the next refit, USD.
    pub pending_forward: f64,
}

/// Counters of the surface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SurfaceStats {
    /// Refits run (SVI or fallback).
    pub refits: u64,
    /// SVI fits that succeeded.
    pub svi_fits: u64,
    /// Refits that fell back to a flat slice.
    pub fallbacks: u64,
    /// Fits with butterfly arbitrage on the check grid.
    pub butterfly_flags: u64,
    /// Refits with calendar arbitrage against a neighbour.
    pub calendar_flags: u64,
    /// Tickers that only marked their expiry dirty (throttled).
    pub deferred: u64,
}

const NO_SLICE: u32 = u32::MAX;

/// The surface of one underlying over the chain's expiries.
#[derive(Debug)]
pub struct VolSurface {
    cfg: SurfaceConfig,
    fit_opts: FitOptions,
    slices: Vec<Slice>,
    /// Chain indices of slice `s`: `members[start[s]..start[s + 1]]`.
    start: Vec<u32>,
    members: Vec<u32>,
    /// Chain index → slice.
    slice_of: Vec<u32>,
    k_buf: Vec<f64>,
    w_buf: Vec<f64>,
    wt_buf: Vec<f64>,
    now_ns: u64,
    /// Round-robin start of [`VolSurface::refit_due`]'s scan.
    cursor: usize,
    stats: SurfaceStats,
}

impl VolSurface {
    /// A surface over `chain`'s expiries (start-up; the only allocation).
    ///
    /// # Errors
    /// [`SurfaceError::Config`] for `min_points < svi::MIN_POINTS`, `max_evals < 16`, a
    /// non-positive or non-finite `arb_k`, or `arb_grid < 2`.
    pub fn new(chain: &OptionChain, cfg: SurfaceConfig) -> Result<Self, SurfaceError> {
        let bad = |s| Err(SurfaceError::Config(s));
        if cfg.min_points < svi::MIN_POINTS {
            return bad("min_points");
        }
        if cfg.max_evals < 16 {
            return bad("max_evals");
        }
        if !(cfg.arb_k > 0.0 && cfg.arb_k.is_finite()) {
            return bad("arb_k");
        }
        if cfg.arb_grid < 2 {
            return bad("arb_grid");
        }
        if !(cfg.x_tol > 0.0 && cfg.x_tol.is_finite()) {
            return bad("x_tol");
        }
        let mut expiries: Vec<u64> = chain.expiry_ns.clone();
        expiries.sort_unstable();
        expiries.dedup();
        let empty = Slice {
            expiry_ns: 0,
            kind: SliceKind::Empty,
            params: SviParams {
                a: 0.0,
                b: 0.0,
                rho: 0.0,
                m: 0.0,
                sigma: 0.1,
            },
            atm_mark_iv: f64::NAN,
            t_fit_years: 0.0,
            forward: f64::NAN,
            rmse: f64::NAN,
            points: 0,
            butterfly: ButterflyReport {
                violations: 0,
                min_g: f64::NAN,
                k_at_min_g: f64::NAN,
            },
            calendar_violations: 0,
            refits: 0,
            fit_errors: 0,
            last_error: None,
            dirty: false,
            last_refit_ns: 0,
            pending_forward: f64::NAN,
        };
        let slices: Vec<Slice> = expiries
            .iter()
            .map(|&e| Slice {
                expiry_ns: e,
                ..empty
            })
            .collect();
        let mut slice_of = vec![NO_SLICE; chain.len()];
        let mut start = Vec::with_capacity(slices.len() + 1);
        let mut members = Vec::with_capacity(chain.len());
        let mut widest = 0;
        for (s, &e) in expiries.iter().enumerate() {
            start.push(members.len() as u32);
            for (i, &ei) in chain.expiry_ns.iter().enumerate() {
                if ei == e {
                    members.push(i as u32);
                    slice_of[i] = s as u32;
                }
            }
            widest = widest.max(members.len() - start[s] as usize);
        }
        start.push(members.len() as u32);
        Ok(Self {
            cfg,
            fit_opts: FitOptions {
                max_evals: cfg.max_evals,
                x_tol: cfg.x_tol,
            },
            cursor: 0,
            slices,
            start,
            members,
            slice_of,
            k_buf: vec![0.0; widest],
            w_buf: vec![0.0; widest],
            wt_buf: vec![0.0; widest],
            now_ns: 0,
            stats: SurfaceStats::default(),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &SurfaceConfig {
        &self.cfg
    }

    /// The slices, by increasing expiry.
    #[must_use]
    pub fn slices(&self) -> &[Slice] {
        &self.slices
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> SurfaceStats {
        self.stats
    }

    /// The surface's clock: time to expiry of queries is measured from here.
    #[must_use]
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Advances the surface's clock (the engine calls it on every event).
    pub fn set_time(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
    }

    /// Slice of chain option `i`, if any.
    #[must_use]
    pub fn slice_of(&self, i: usize) -> Option<usize> {
        match self.slice_of.get(i) {
            Some(&s) if s != NO_SLICE => Some(s as usize),
            _ => None,
        }
    }

    /// A ticker of chain option `i` arrived (its IVs are already in `chain`): refits its expiry
    /// with forward `forward` (the ticker's underlying price) at `now_ns`, or only marks it dirty
    /// when it was refitted less than `min_refit_interval_ns` ago. Returns the slice index
    /// refitted. No allocation.
    pub fn on_ticker(
        &mut self,
        chain: &OptionChain,
        i: usize,
        forward: f64,
        now_ns: u64,
    ) -> Option<usize> {
        let s = self.slice_of(i)?;
        self.set_time(now_ns);
        let sl = &mut self.slices[s];
        if forward > 0.0 && forward.is_finite() {
            sl.pending_forward = forward;
        }
        let due = sl.refits == 0
            || self.now_ns.saturating_sub(sl.last_refit_ns) >= self.cfg.min_refit_interval_ns;
        if !due {
            sl.dirty = true;
            self.stats.deferred += 1;
            return None;
        }
        let fwd = sl.pending_forward;
        self.refit(chain, s, fwd, now_ns);
        Some(s)
    }

    /// Refits at most one dirty expiry whose refit interval has elapsed (round robin), at
    /// `now_ns`. Returns it. No allocation; `O(expiries)` to find it when none is due.
    pub fn refit_due(&mut self, chain: &OptionChain, now_ns: u64) -> Option<usize> {
        self.set_time(now_ns);
        let n = self.slices.len();
        for j in 0..n {
            let s = (self.cursor + j) % n;
            let sl = &self.slices[s];
            if sl.dirty
                && self.now_ns.saturating_sub(sl.last_refit_ns) >= self.cfg.min_refit_interval_ns
            {
                self.cursor = (s + 1) % n;
                let fwd = sl.pending_forward;
                self.refit(chain, s, fwd, now_ns);
                return Some(s);
            }
        }
        None
    }

    /// Refits slice `s` from the chain's current IVs (see the module docs). A non-positive or
    /// non-finite `forward` keeps the slice's previous forward (and does nothing before one is
    /// known). No allocation.
    pub fn refit(&mut self, chain: &OptionChain, s: usize, forward: f64, now_ns: u64) {
        self.set_time(now_ns);
        let Some(slice) = self.slices.get(s).copied() else {
            return;
        };
        self.slices[s].dirty = false;
        let fwd = if forward > 0.0 && forward.is_finite() {
            forward
        } else {
            slice.forward
        };
        if !(fwd > 0.0) || slice.expiry_ns <= self.now_ns {
            return;
        }
        let t = (slice.expiry_ns - self.now_ns) as f64 / NS_PER_YEAR;
        // Gather the points and the ATM mark IV.
        let (mut n, mut atm_iv, mut atm_d) = (0usize, f64::NAN, f64::INFINITY);
        for &ci in &self.members[self.start[s] as usize..self.start[s + 1] as usize] {
            let ci = ci as usize;
            let k = (chain.strike[ci] / fwd).ln();
            let mark = chain.mark_iv[ci];
            if mark > 0.0 && mark.is_finite() && k.abs() < atm_d {
                (atm_d, atm_iv) = (k.abs(), mark);
            }
            let iv = match self.cfg.iv_source {
                IvSource::Mark => mark,
                IvSource::Mid => {
                    let (b, a) = (chain.bid_iv[ci], chain.ask_iv[ci]);
                    if b > 0.0 && a >= b {
                        0.5 * (a + b)
                    } else {
                        0.0
                    }
                }
            };
            let w = iv * iv * t;
            if iv > 0.0 && w <= svi::W_MAX && k.abs() <= svi::K_ABS_MAX {
                self.k_buf[n] = k;
                self.w_buf[n] = w;
                self.wt_buf[n] = 1.0;
                n += 1;
            }
        }
        self.stats.refits += 1;
        let sl = &mut self.slices[s];
        sl.refits += 1;
        sl.dirty = false;
        sl.last_refit_ns = self.now_ns;
        sl.forward = fwd;
        sl.t_fit_years = t;
        sl.points = n as u32;
        sl.atm_mark_iv = atm_iv;
        let result = if n >= self.cfg.min_points {
            let (k, w, wt) = (&self.k_buf[..n], &self.w_buf[..n], &self.wt_buf[..n]);
            Some(if sl.kind == SliceKind::Svi {
                svi::fit_from(k, w, wt, &sl.params, &self.fit_opts)
            } else {
                svi::fit(k, w, wt, &self.fit_opts)
            })
        } else {
            None
        };
        match result {
            Some(Ok(f)) => {
                sl.kind = SliceKind::Svi;
                sl.params = f.params;
                sl.rmse = f.rmse;
                sl.butterfly = svi::butterfly(
                    &f.params,
                    -self.cfg.arb_k,
                    self.cfg.arb_k,
                    self.cfg.arb_grid,
                );
                self.stats.svi_fits += 1;
                if !sl.butterfly.is_free() {
                    self.stats.butterfly_flags += 1;
                }
            }
            other => {
                if let Some(Err(e)) = other {
                    sl.fit_errors += 1;
                    sl.last_error = Some(e);
                }
                sl.kind = if atm_iv > 0.0 {
                    SliceKind::Flat
                } else {
                    SliceKind::Empty
                };
                sl.rmse = f64::NAN;
                self.stats.fallbacks += 1;
            }
        }
        // Calendar check against the neighbouring usable slices.
        let mut v = 0;
        let pair = |a: usize, b: usize| {
            svi::calendar_by(
                2,
                |j, k| {
                    self.total_variance_now(if j == 0 { a } else { b }, k)
                        .unwrap_or(f64::NAN)
                },
                -self.cfg.arb_k,
                self.cfg.arb_k,
                self.cfg.arb_grid,
            )
            .violations
        };
        if self.usable(s) {
            if let Some(p) = (0..s).rev().find(|&p| self.usable(p)) {
                v += pair(p, s);
            }
            if let Some(q) = (s + 1..self.slices.len()).find(|&q| self.usable(q)) {
                v += pair(s, q);
            }
        }
        self.slices[s].calendar_violations = v;
        if v > 0 {
            self.stats.calendar_flags += 1;
        }
    }

    fn usable(&self, s: usize) -> bool {
        let sl = &self.slices[s];
        sl.kind != SliceKind::Empty && sl.expiry_ns > self.now_ns
    }

    /// Implied vol of slice `s` at `k` (its own fit-time vol; unaffected by the clock).
    fn slice_iv(&self, s: usize, k: f64) -> Option<f64> {
        let sl = &self.slices[s];
        let iv = match sl.kind {
            SliceKind::Empty => return None,
            SliceKind::Flat => sl.atm_mark_iv,
            SliceKind::Svi => sl.params.implied_vol(k, sl.t_fit_years),
        };
        (iv.is_finite() && iv >= 0.0).then_some(iv)
    }

    /// Total variance of slice `s` at `k`, at the surface's current time.
    fn total_variance_now(&self, s: usize, k: f64) -> Option<f64> {
        let iv = self.slice_iv(s, k)?;
        let t = self.slices[s].expiry_ns.saturating_sub(self.now_ns) as f64 / NS_PER_YEAR;
        Some(iv * iv * t)
    }

    /// Implied volatility at log-moneyness `k` for expiry `expiry_ns` (interpolation and
    /// extrapolation of the module docs). `None` when no slice is usable.
    #[must_use]
    pub fn implied_vol_k(&self, k: f64, expiry_ns: u64) -> Option<f64> {
        if !k.is_finite() {
            return None;
        }
        let t = expiry_ns.saturating_sub(self.now_ns) as f64 / NS_PER_YEAR;
        let (mut lo, mut hi) = (None, None);
        for s in 0..self.slices.len() {
            if !self.usable(s) {
                continue;
            }
            if self.slices[s].expiry_ns <= expiry_ns {
                lo = Some(s);
            } else if hi.is_none() {
                hi = Some(s);
            }
        }
        match (lo, hi) {
            (None, None) => None,
            (Some(s), None) | (None, Some(s)) => self.slice_iv(s, k),
            (Some(a), Some(b)) => {
                let now = self.now_ns;
                let ta = self.slices[a].expiry_ns.saturating_sub(now) as f64 / NS_PER_YEAR;
                let tb = self.slices[b].expiry_ns.saturating_sub(now) as f64 / NS_PER_YEAR;
                if t <= ta {
                    // On the slice itself (or same expiry).
                    return self.slice_iv(a, k);
                }
                let (wa, wb) = (
                    self.total_variance_now(a, k)?,
                    self.total_variance_now(b, k)?,
                );
                let w = wa + (wb - wa) * (t - ta) / (tb - ta);
                let iv = (w.max(0.0) / t).sqrt();
                iv.is_finite().then_some(iv)
            }
        }
    }

    /// Implied volatility for `strike` and `expiry_ns` with the underlying's forward `forward`
    /// (`k = ln(strike/forward)`), at the surface's clock. `None` when no slice is usable or
    /// the inputs are not positive and finite.
    #[must_use]
    pub fn implied_vol(&self, strike: f64, expiry_ns: u64, forward: f64) -> Option<f64> {
        if !(strike > 0.0 && forward > 0.0) {
            return None;
        }
        self.implied_vol_k((strike / forward).ln(), expiry_ns)
    }

    /// ATM (`k = 0`) implied volatility for `expiry_ns`: the ATM term structure.
    #[must_use]
    pub fn atm_vol(&self, expiry_ns: u64) -> Option<f64> {
        self.implied_vol_k(0.0, expiry_ns)
    }

    /// ATM total variance for `expiry_ns` (`atm_vol² · T`), at the surface's clock.
    #[must_use]
    pub fn atm_total_variance(&self, expiry_ns: u64) -> Option<f64> {
        let t = expiry_ns.saturating_sub(self.now_ns) as f64 / NS_PER_YEAR;
        self.atm_vol(expiry_ns).map(|v| v * v * t)
    }

    /// Calendar check over all adjacent usable slices at the current clock (not for the hot
    /// path's every tick: `O(slices × grid)`).
    #[must_use]
    pub fn calendar_check(&self) -> CalendarReport {
        let mut r = CalendarReport {
            violations: 0,
            worst_drop: 0.0,
            worst_k: 0.0,
            worst_slice: 0,
        };
        let mut prev: Option<usize> = None;
        for s in 0..self.slices.len() {
            if !self.usable(s) {
                continue;
            }
            if let Some(p) = prev {
                let c = svi::calendar_by(
                    2,
                    |j, k| {
                        self.total_variance_now(if j == 0 { p } else { s }, k)
                            .unwrap_or(f64::NAN)
                    },
                    -self.cfg.arb_k,
                    self.cfg.arb_k,
                    self.cfg.arb_grid,
                );
                r.violations += c.violations;
                if c.worst_drop > r.worst_drop {
                    r.worst_drop = c.worst_drop;
                    r.worst_k = c.worst_k;
                    r.worst_slice = p;
                }
            }
            prev = Some(s);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::OptionSpec;
    use feeds::InstrumentId;

    const T0: u64 = 1_700_000_000_000_000_000;
    const DAY: u64 = 86_400_000_000_000;

    fn chain(expiries: &[u64], strikes: &[f64]) -> OptionChain {
        let mut c = OptionChain::default();
        let mut id = 0;
        for &e in expiries {
            for &k in strikes {
                c.push(&OptionSpec {
                    instrument: InstrumentId(id),
                    strike: k,
                    expiry_ns: T0 + e * DAY,
                    is_call: true,
                    lot_qty: 0.1,
                    min_lots: 1,
                });
                id += 1;
            }
        }
        c
    }

    #[test]
    fn flat_fallback_interpolation_and_extrapolation() {
        let strikes = [45_000.0, 50_000.0, 55_000.0];
        let mut c = chain(&[10, 40], &strikes);
        // Near expiry 0.5 flat, far expiry 0.4 flat (3 points: too few for SVI).
        for i in 0..3 {
            c.mark_iv[i] = 0.5;
            c.mark_iv[3 + i] = 0.4;
        }
        let mut s = VolSurface::new(&c, SurfaceConfig::default()).unwrap();
        s.on_ticker(&c, 0, 50_000.0, T0);
        s.on_ticker(&c, 3, 50_000.0, T0);
        assert_eq!(s.slices()[0].kind, SliceKind::Flat);
        assert!((s.atm_vol(T0 + 10 * DAY).unwrap() - 0.5).abs() < 1e-12);
        assert!((s.atm_vol(T0 + 40 * DAY).unwrap() - 0.4).abs() < 1e-12);
        // Flat in vol outside the expiries.
        assert!((s.atm_vol(T0 + DAY).unwrap() - 0.5).abs() < 1e-12);
        assert!((s.atm_vol(T0 + 400 * DAY).unwrap() - 0.4).abs() < 1e-12);
        // Linear in total variance in between.
        let (t1, t2, t): (f64, f64, f64) = (10.0, 40.0, 25.0);
        let w = 0.25 * t1 + (0.16 * t2 - 0.25 * t1) * (t - t1) / (t2 - t1);
        let want = (w / t).sqrt();
        let got = s.atm_vol(T0 + 25 * DAY).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let tv = s.atm_total_variance(T0 + 25 * DAY).unwrap();
        assert!((tv - w / 365.0).abs() < 1e-12);
        // 0.5² × 10 > 0.4² × 40? No: 2.5 < 6.4, so no calendar arbitrage.
        assert!(s.calendar_check().is_free());
    }

    #[test]
    fn throttled_refits_wait_for_the_interval_then_one_per_call() {
        let strikes = [45_000.0, 50_000.0, 55_000.0];
        let mut c = chain(&[10, 40], &strikes);
        for v in &mut c.mark_iv {
            *v = 0.5;
        }
        let cfg = SurfaceConfig {
            min_refit_interval_ns: 1_000,
            ..SurfaceConfig::default()
        };
        let mut s = VolSurface::new(&c, cfg).unwrap();
        assert_eq!(s.on_ticker(&c, 0, 50_000.0, T0), Some(0));
        assert_eq!(s.on_ticker(&c, 3, 50_000.0, T0), Some(1));
        // Within the interval: deferred, the old value stands.
        c.mark_iv[1] = 0.7;
        c.mark_iv[4] = 0.6;
        assert_eq!(s.on_ticker(&c, 1, 50_000.0, T0 + 10), None);
        assert_eq!(s.on_ticker(&c, 4, 50_000.0, T0 + 20), None);
        assert_eq!(s.stats().deferred, 2);
        assert!(s.slices()[0].dirty && s.slices()[1].dirty);
        assert!((s.atm_vol(T0 + 10 * DAY).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(s.refit_due(&c, T0 + 500), None);
        // Due: one refit per call.
        assert_eq!(s.refit_due(&c, T0 + 1_000), Some(0));
        assert_eq!(s.refit_due(&c, T0 + 1_001), Some(1));
        assert_eq!(s.refit_due(&c, T0 + 1_002), None);
        assert!((s.atm_vol(T0 + 10 * DAY).unwrap() - 0.7).abs() < 1e-12);
        assert!((s.atm_vol(T0 + 40 * DAY).unwrap() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn empty_and_bad_config() {
        let c = chain(&[10], &[50_000.0]);
        let s = VolSurface::new(&c, SurfaceConfig::default()).unwrap();
        assert_eq!(s.atm_vol(T0 + DAY), None);
        assert_eq!(s.implied_vol(f64::NAN, T0 + DAY, 50_000.0), None);
        for cfg in [
            SurfaceConfig {
                min_points: 2,
                ..SurfaceConfig::default()
            },
            SurfaceConfig {
                arb_k: f64::NAN,
                ..SurfaceConfig::default()
            },
        ] {
            assert!(VolSurface::new(&c, cfg).is_err());
        }
    }
}
