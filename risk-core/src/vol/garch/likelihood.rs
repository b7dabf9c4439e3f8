//! The GARCH(1,1) likelihood in scaled units, as the fit optimizes it: the unconstrained
//! reparameterization of the module docs, the log-likelihood with its analytic gradient, the
//! optimizer runs over the free coordinates, and the standard errors at the optimum.

use super::{FitStdErrors, StdErrors, MAX_PERSISTENCE, NU_BOUNDS};
use crate::vol::special::{digamma, ln_gamma};
use crate::{linalg, optim};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The likelihood in scaled units: `yₜ = rₜ / s`.
pub(super) struct Problem<'a> {
    /// The returns, unscaled.
    pub(super) r: &'a [f64],
    /// `1 / s`.
    pub(super) inv_scale: f64,
    /// Backcast of the scaled residuals.
    pub(super) bc: f64,
    /// Whether μ is estimated.
    pub(super) mean_free: bool,
    /// Whether the innovations are Student-t (ν estimated).
    pub(super) t_dist: bool,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

const NU_SPAN: f64 = NU_BOUNDS.1 - NU_BOUNDS.0;

impl Problem<'_> {
    pub(super) fn dim(&self) -> usize {
        3 + usize::from(self.mean_free) + usize::from(self.t_dist)
    }

    /// Index in x of μ and ν.
    fn slots(&self) -> (Option<usize>, Option<usize>) {
        let mu = self.mean_free.then_some(3);
        let nu = self.t_dist.then_some(3 + usize::from(self.mean_free));
        (mu, nu)
    }

    pub(super) fn to_theta(&self, x: &[f64; 5]) -> [f64; 5] {
        let p = MAX_PERSISTENCE * logistic(x[1]);
        let a = logistic(x[2]);
        let (mu_i, nu_i) = self.slots();
        [
            x[0].exp(),
            p * a,
            p * (1.0 - a),
            mu_i.map_or(0.0, |i| x[i]),
            nu_i.map_or(0.0, |i| NU_BOUNDS.0 + NU_SPAN * logistic(x[i])),
        ]
    }

    pub(super) fn to_x(&self, theta: &[f64; 5]) -> [f64; 5] {
        let p = theta[1] + theta[2];
        let mut x = [
            theta[0].ln(),
            logit(p / MAX_PERSISTENCE),
            logit(theta[1] / p),
            0.0,
            0.0,
        ];
        let (mu_i, nu_i) = self.slots();
        if let Some(i) = mu_i {
            x[i] = theta[3];
        }
        if let Some(i) = nu_i {
            x[i] = logit((theta[4] - NU_BOUNDS.0) / NU_SPAN);
        }
        x
    }

    /// Objective −ℓ/n in x space, with its gradient.
    pub(super) fn objective(&self, x: &[f64; 5], grad: Option<&mut [f64; 5]>) -> f64 {
        let theta = self.to_theta(x);
        let nf = self.r.len() as f64;
        let Some(g) = grad else {
            return -self.eval(&theta, None, None) / nf;
        };
        let mut gt = [0.0; 5];
        let ll = self.eval(&theta, Some(&mut gt), None);
        // Chain rule through the reparameterization.
        let sp = logistic(x[1]);
        let a = logistic(x[2]);
        let p = MAX_PERSISTENCE * sp;
        let dp = MAX_PERSISTENCE * sp * (1.0 - sp);
        let da = a * (1.0 - a);
        *g = [0.0; 5];
        g[0] = gt[0] * theta[0];
        g[1] = gt[1] * dp * a + gt[2] * dp * (1.0 - a);
        g[2] = (gt[1] - gt[2]) * p * da;
        let (mu_i, nu_i) = self.slots();
        if let Some(i) = mu_i {
            g[i] = gt[3];
        }
        if let Some(i) = nu_i {
            let s = logistic(x[i]);
            g[i] = gt[4] * NU_SPAN * s * (1.0 - s);
        }
        for gi in g.iter_mut() {
            *gi = -*gi / nf;
        }
        -ll / nf
    }

    /// [`Problem::objective`] of the free coordinates `v` (the first [`Problem::dim`] of x), as
    /// the optimizers see it.
    fn objective_free(&self, v: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let mut x = [0.0; 5];
        x[..v.len()].copy_from_slice(v);
        let Some(g) = grad else {
            return self.objective(&x, None);
        };
        let mut full = [0.0; 5];
        let f = self.objective(&x, Some(&mut full));
        g.copy_from_slice(&full[..g.len()]);
        f
    }

    /// BFGS from `x0` over the free coordinates: the point reached and how.
    pub(super) fn bfgs(&self, x0: [f64; 5]) -> ([f64; 5], optim::BfgsMin) {
        const OPTS: optim::Bfgs = optim::Bfgs {
            max_iter: 500,
            g_tol: 1e-9,
            g_tol_flat: 1e-7,
            max_step: 5.0,
        };
        let mut x = x0;
        let out = optim::bfgs(
            |v, g| self.objective_free(v, g),
            &mut x[..self.dim()],
            &OPTS,
        );
        (x, out)
    }

    /// Nelder–Mead from `x0` over the free coordinates (steps of a tenth of each coordinate, at
    /// least 0.025, or 0.25 at zero; until the vertices agree to 1e-15 relative): the best
    /// vertex, for BFGS to take over again.
    pub(super) fn nelder_mead(&self, x0: [f64; 5]) -> [f64; 5] {
        let k = self.dim();
        let mut step = [0.0; 5];
        for (s, v) in step.iter_mut().zip(x0) {
            *s = if v.abs() > 1e-3 {
                0.1 * v.abs().max(0.25)
            } else {
                0.25
            };
        }
        let mut x = x0;
        let finite = |f: f64| if f.is_finite() { f } else { f64::INFINITY };
        optim::nelder_mead(
            |v| finite(self.objective_free(v, None)),
            &mut x[..k],
            &optim::NelderMead {
                step: &step[..k],
                bounds: None,
                max_evals: 4_000,
                ties: optim::Ties::Slot,
                x_tol: 0.0,
                f_rel_tol: 1e-15,
                f_abs_tol: 0.0,
            },
        );
        x
    }

    /// Log-likelihood at natural parameters θ = [ω, α, β, μ, ν] (scaled units); optionally its
    /// gradient in θ and the sum of outer products of per-observation scores.
    pub(super) fn eval(
        &self,
        th: &[f64; 5],
        grad: Option<&mut [f64; 5]>,
        mut opg: Option<&mut [[f64; 5]; 5]>,
    ) -> f64 {
        let [w, a, b, mu, nu] = *th;
        if !(th.iter().all(|v| v.is_finite())) || (self.t_dist && !(nu > 2.0)) {
            return f64::NAN;
        }
        let n = self.r.len();
        let nf = n as f64;
        let want_grad = grad.is_some() || opg.is_some();
        let mut h = w + (a + b) * self.bc;
        let mut dh = [1.0, self.bc, self.bc, 0.0];
        let mut ll = 0.0;
        let mut gsum = [0.0; 5];
        let (c_nu, half_nu1, inv_nu2, dconst_nu) = if self.t_dist {
            (
                ln_gamma(0.5 * (nu + 1.0))
                    - ln_gamma(0.5 * nu)
                    - 0.5 * (std::f64::consts::PI * (nu - 2.0)).ln(),
                0.5 * (nu + 1.0),
                1.0 / (nu - 2.0),
                0.5 * digamma(0.5 * (nu + 1.0)) - 0.5 * digamma(0.5 * nu) - 0.5 / (nu - 2.0),
            )
        } else {
            (0.0, 0.0, 0.0, 0.0)
        };
        for &ri in self.r {
            if !(h > 0.0) {
                return f64::NAN;
            }
            let e = ri * self.inv_scale - mu;
            let e2 = e * e;
            let inv_h = 1.0 / h;
            let (dl_dh, dl_dmu, dl_dnu);
            if self.t_dist {
                let z = e2 * inv_h * inv_nu2;
                let l1z = z.ln_1p();
                ll += -0.5 * h.ln() - half_nu1 * l1z;
                if want_grad {
                    let q = z / (1.0 + z);
                    dl_dh = inv_h * (-0.5 + half_nu1 * q);
                    dl_dmu = 2.0 * half_nu1 * e * inv_h * inv_nu2 / (1.0 + z);
                    dl_dnu = dconst_nu - 0.5 * l1z + half_nu1 * q * inv_nu2;
                } else {
                    (dl_dh, dl_dmu, dl_dnu) = (0.0, 0.0, 0.0);
                }
            } else {
                ll += -0.5 * (h.ln() + e2 * inv_h);
                dl_dh = -0.5 * inv_h * (1.0 - e2 * inv_h);
                dl_dmu = e * inv_h;
                dl_dnu = 0.0;
            }
            if want_grad {
                let s = [
                    dl_dh * dh[0],
                    dl_dh * dh[1],
                    dl_dh * dh[2],
                    dl_dh * dh[3] + dl_dmu,
                    dl_dnu,
                ];
                for k in 0..5 {
                    gsum[k] += s[k];
                }
                if let Some(o) = opg.as_deref_mut() {
                    for i in 0..5 {
                        for j in 0..5 {
                            o[i][j] += s[i] * s[j];
                        }
                    }
                }
                dh = [
                    1.0 + b * dh[0],
                    e2 + b * dh[1],
                    h + b * dh[2],
                    -2.0 * a * e + b * dh[3],
                ];
            }
            h = w + a * e2 + b * h;
        }
        if !self.mean_free {
            gsum[3] = 0.0;
        }
        if let Some(g) = grad {
            *g = gsum;
        }
        if self.t_dist {
            ll + nf * c_nu
        } else {
            ll - 0.5 * nf * LN_2PI
        }
    }

    /// Classic and robust standard errors in original units.
    pub(super) fn std_errors(&self, theta: &[f64; 5], scale: f64) -> Option<FitStdErrors> {
        // Free natural parameters: ω, α, β, [μ], [ν].
        let mut free = [0usize; 5];
        let mut k = 3;
        free[..3].copy_from_slice(&[0, 1, 2]);
        if self.mean_free {
            free[k] = 3;
            k += 1;
        }
        if self.t_dist {
            free[k] = 4;
            k += 1;
        }
        let mut opg = [[0.0; 5]; 5];
        let mut g0 = [0.0; 5];
        self.eval(theta, Some(&mut g0), Some(&mut opg));
        // Numerical Hessian from central differences of the analytic gradient.
        let mut hess = [0.0; 25];
        for (cj, &j) in free[..k].iter().enumerate() {
            let step = 1e-5 * theta[j].abs().max(1e-4);
            let (mut tp, mut tm) = (*theta, *theta);
            tp[j] += step;
            tm[j] -= step;
            let (mut gp, mut gm) = ([0.0; 5], [0.0; 5]);
            let lp = self.eval(&tp, Some(&mut gp), None);
            let lm = self.eval(&tm, Some(&mut gm), None);
            if !(lp.is_finite() && lm.is_finite()) {
                return None;
            }
            for (ci, &i) in free[..k].iter().enumerate() {
                hess[ci * k + cj] = -(gp[i] - gm[i]) / (2.0 * step);
            }
        }
        // Symmetrize the observed information and invert it through Cholesky.
        for i in 0..k {
            for j in 0..i {
                let m = 0.5 * (hess[i * k + j] + hess[j * k + i]);
                hess[i * k + j] = m;
                hess[j * k + i] = m;
            }
        }
        let mut l = [0.0; 25];
        linalg::cholesky(&hess[..k * k], k, &mut l[..k * k]).ok()?;
        let mut inv = [0.0; 25];
        for c in 0..k {
            let mut e = [0.0; 5];
            e[c] = 1.0;
            linalg::cholesky_solve(&l[..k * k], k, &mut e[..k]).ok()?;
            for r in 0..k {
                inv[r * k + c] = e[r];
            }
        }
        // Sandwich H⁻¹ J H⁻¹.
        let mut robust = [0.0; 25];
        for i in 0..k {
            for j in 0..k {
                let mut s = 0.0;
                for a in 0..k {
                    for b in 0..k {
                        s += inv[i * k + a] * opg[free[a]][free[b]] * inv[b * k + j];
                    }
                }
                robust[i * k + j] = s;
            }
        }
        // Back to original units: ω scales by s², μ by s.
        let unit = |j: usize| match j {
            0 => scale * scale,
            3 => scale,
            _ => 1.0,
        };
        let pick = |m: &[f64; 25]| {
            let mut se = [None; 5];
            for (c, &j) in free[..k].iter().enumerate() {
                let v = m[c * k + c];
                se[j] = (v >= 0.0).then(|| v.sqrt() * unit(j));
            }
            Some(StdErrors {
                omega: se[0]?,
                alpha: se[1]?,
                beta: se[2]?,
                mu: se[3],
                nu: se[4],
            })
        };
        Some(FitStdErrors {
            classic: pick(&inv)?,
            robust: pick(&robust)?,
        })
    }
}
