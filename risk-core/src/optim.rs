//! Minimizers of a smooth or merely continuous objective over a small parameter vector (at most
//! [`MAX_DIM`] coordinates), for the model fits of [`crate::vol`]: Nelder–Mead (derivative-free,
//! optionally inside box bounds) and BFGS (analytic gradient, Armijo backtracking).
//!
//! Both work in place on the caller's point and call the objective on a slice of the trial point.
//! Nothing allocates: the simplex and the inverse Hessian live on the stack.

/// Most coordinates a minimizer takes.
pub const MAX_DIM: usize = 8;

/// Options of [`nelder_mead`]. The stopping test runs at the top of every iteration, on the
/// simplex ordered by objective value: stop when the diameter (largest coordinate difference
/// between two vertices) is below `x_tol`, or when
/// `|f_worst − f_best| ≤ f_rel_tol · max(|f_best|, 1) + f_abs_tol`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NelderMead<'a> {
    /// Initial step along each coordinate: vertex `i + 1` is the start plus `step[i]` along
    /// coordinate `i` (minus it, when the bounds clamp the plus side onto the start).
    pub step: &'a [f64],
    /// Per-coordinate `(lo, hi)` bounds every trial point is clamped into; `None` for none.
    pub bounds: Option<&'a [(f64, f64)]>,
    /// Budget of objective evaluations: no iteration starts once it is spent. The `n + 1` of
    /// the initial simplex are always spent; the last iteration may overrun it by up to `n + 1`.
    pub max_evals: u32,
    /// How vertices of equal value rank.
    pub ties: Ties,
    /// Simplex diameter below which the search stops (0 disables the test).
    pub x_tol: f64,
    /// Relative spread of the vertices' values below which the search stops.
    pub f_rel_tol: f64,
    /// Absolute spread of the vertices' values below which the search stops.
    pub f_abs_tol: f64,
}

/// How [`nelder_mead`] ranks vertices of equal value (flat stretches of an objective, or `+∞`
/// outside its domain, make ties common, and the rank decides which vertex moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// By slot: the start first, then the vertex built along coordinate `i`; a new vertex takes
    /// the slot of the one it replaces.
    Slot,
    /// By previous rank: a new vertex ranks below the older vertices of the same value.
    Age,
}

/// What [`nelder_mead`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimplexMin {
    /// Objective at the returned point.
    pub f: f64,
    /// Objective evaluations spent.
    pub evals: u32,
}

/// Nelder–Mead with the standard coefficients (reflection 1, expansion 2, contractions ½,
/// shrink ½ toward the best vertex) from `x`, overwritten with the best vertex found.
///
/// Vertices are ranked by [`f64::total_cmp`] of their values, ties as `opts.ties` says. The
/// centroid of the `n` best vertices is accumulated as `Σ xᵢ / n` in rank order. A NaN from `f`
/// ranks above `+∞`; map it to `+∞` first for the usual meaning.
///
/// # Panics
/// When `x` is empty or longer than [`MAX_DIM`], when `step` (or `bounds`) is not as long as
/// `x`, or when a bound has `lo > hi` or a NaN.
pub fn nelder_mead(
    mut f: impl FnMut(&[f64]) -> f64,
    x: &mut [f64],
    opts: &NelderMead<'_>,
) -> SimplexMin {
    let n = x.len();
    assert!(
        (1..=MAX_DIM).contains(&n),
        "dimension {n} outside 1..={MAX_DIM}"
    );
    assert_eq!(opts.step.len(), n, "one initial step per coordinate");
    if let Some(b) = opts.bounds {
        assert_eq!(b.len(), n, "one bound per coordinate");
    }
    let clamp = |p: &mut [f64]| {
        if let Some(b) = opts.bounds {
            for (v, &(lo, hi)) in p.iter_mut().zip(b) {
                *v = v.clamp(lo, hi);
            }
        }
    };
    let mut simplex = [[0.0; MAX_DIM]; MAX_DIM + 1];
    let mut fv = [f64::INFINITY; MAX_DIM + 1];
    simplex[0][..n].copy_from_slice(x);
    clamp(&mut simplex[0][..n]);
    for i in 0..n {
        let v = &mut simplex[i + 1][..n];
        v.copy_from_slice(x);
        v[i] += opts.step[i];
        clamp(v);
        if simplex[i + 1][..n] == simplex[0][..n] {
            let v = &mut simplex[i + 1][..n];
            v.copy_from_slice(x);
            v[i] -= opts.step[i];
            clamp(v);
        }
    }
    for (fi, v) in fv.iter_mut().zip(&simplex).take(n + 1) {
        *fi = f(&v[..n]);
    }
    let mut evals = n as u32 + 1;
    let nf = n as f64;
    const SLOTS: [usize; MAX_DIM + 1] = {
        let mut s = [0; MAX_DIM + 1];
        let mut i = 0;
        while i <= MAX_DIM {
            s[i] = i;
            i += 1;
        }
        s
    };
    // Best first by a stable insertion sort: equal values keep their order.
    let rank = |order: &mut [usize; MAX_DIM + 1], fv: &[f64; MAX_DIM + 1]| {
        if opts.ties == Ties::Slot {
            *order = SLOTS;
        }
        for i in 1..=n {
            let mut j = i;
            while j > 0 && fv[order[j]].total_cmp(&fv[order[j - 1]]).is_lt() {
                order.swap(j, j - 1);
                j -= 1;
            }
        }
    };
    let mut order = SLOTS;
    while evals < opts.max_evals {
        rank(&mut order, &fv);
        let (best, worst, second) = (order[0], order[n], order[n - 1]);
        if opts.x_tol > 0.0 && diameter(&simplex[..=n], n) < opts.x_tol {
            break;
        }
        if (fv[worst] - fv[best]).abs() <= opts.f_rel_tol * fv[best].abs().max(1.0) + opts.f_abs_tol
        {
            break;
        }
        let mut c = [0.0; MAX_DIM];
        for &i in &order[..n] {
            for (cj, sj) in c[..n].iter_mut().zip(&simplex[i][..n]) {
                *cj += sj / nf;
            }
        }
        let w = simplex[worst];
        let along = |t: f64| {
            let mut p = [0.0; MAX_DIM];
            for j in 0..n {
                p[j] = c[j] + t * (w[j] - c[j]);
            }
            clamp(&mut p[..n]);
            p
        };
        let mut trial = |p: [f64; MAX_DIM]| {
            evals += 1;
            (p, f(&p[..n]))
        };
        let (xr, fr) = trial(along(-1.0));
        if fr < fv[best] {
            let (xe, fe) = trial(along(-2.0));
            (simplex[worst], fv[worst]) = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < fv[second] {
            (simplex[worst], fv[worst]) = (xr, fr);
        } else {
            let (xc, fc) = trial(along(if fr < fv[worst] { -0.5 } else { 0.5 }));
            if fc < fv[worst].min(fr) {
                (simplex[worst], fv[worst]) = (xc, fc);
            } else {
                let anchor = simplex[best];
                for &i in &order[1..=n] {
                    for (sj, aj) in simplex[i][..n].iter_mut().zip(&anchor[..n]) {
                        *sj = aj + 0.5 * (*sj - aj);
                    }
                    clamp(&mut simplex[i][..n]);
                    fv[i] = f(&simplex[i][..n]);
                    evals += 1;
                }
            }
        }
    }
    rank(&mut order, &fv);
    let bi = order[0];
    x.copy_from_slice(&simplex[bi][..n]);
    SimplexMin { f: fv[bi], evals }
}

/// Largest coordinate difference between two vertices.
fn diameter(simplex: &[[f64; MAX_DIM]], n: usize) -> f64 {
    let mut d = 0.0_f64;
    for a in simplex {
        for b in simplex {
            for j in 0..n {
                d = d.max((a[j] - b[j]).abs());
            }
        }
    }
    d
}

/// Options of [`bfgs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bfgs {
    /// Iterations at most.
    pub max_iter: u32,
    /// Converged when every gradient component is below this.
    pub g_tol: f64,
    /// Also counted as converged at the end when every gradient component is below this (a flat
    /// optimum, e.g. a coordinate pushed toward infinity where the gradient only vanishes
    /// asymptotically).
    pub g_tol_flat: f64,
    /// Largest first trial step of a line search in any coordinate (keeps a step from throwing
    /// the parameters into overflow).
    pub max_step: f64,
}

/// What [`bfgs`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BfgsMin {
    /// Objective at the returned point (`+∞` when it was not finite at the start).
    pub f: f64,
    /// Whether a gradient tolerance was met.
    pub converged: bool,
    /// Iterations spent.
    pub iterations: u32,
}

/// Armijo sufficient-decrease constant of the line search.
const ARMIJO: f64 = 1e-4;
/// Halvings of the trial step before a line search gives up.
const MAX_HALVINGS: u32 = 60;
/// Consecutive steps that lower the objective by at most `1e-16` relative before giving up.
const MAX_SMALL_STEPS: u32 = 5;

/// BFGS from `x` (overwritten with the last accepted point): `f(x, Some(g))` returns the
/// objective and writes its gradient into `g`. The inverse Hessian starts as the identity,
/// rescaled by `sᵀy / yᵀy` after the first step (Nocedal & Wright 6.20), and is reset to the
/// identity when it stops giving a descent direction; updates with `sᵀy` not clearly positive
/// are skipped. The search stops at the gradient tolerance, when a line search finds no
/// finite point of sufficient decrease, after `MAX_SMALL_STEPS` negligible steps in a row,
/// or at `max_iter`.
///
/// # Panics
/// When `x` is empty or longer than [`MAX_DIM`].
pub fn bfgs(
    mut f: impl FnMut(&[f64], Option<&mut [f64]>) -> f64,
    x: &mut [f64],
    opts: &Bfgs,
) -> BfgsMin {
    let k = x.len();
    assert!(
        (1..=MAX_DIM).contains(&k),
        "dimension {k} outside 1..={MAX_DIM}"
    );
    let mut g = [0.0; MAX_DIM];
    let mut fx = f(x, Some(&mut g[..k]));
    if !fx.is_finite() {
        return BfgsMin {
            f: f64::INFINITY,
            converged: false,
            iterations: 0,
        };
    }
    let mut hinv = [[0.0; MAX_DIM]; MAX_DIM];
    for (i, row) in hinv.iter_mut().enumerate().take(k) {
        row[i] = 1.0;
    }
    let mut converged = false;
    let mut it = 0;
    let mut small_steps = 0;
    while it < opts.max_iter {
        it += 1;
        if g[..k].iter().all(|v| v.abs() < opts.g_tol) {
            converged = true;
            break;
        }
        let mut d = [0.0; MAX_DIM];
        for i in 0..k {
            d[i] = -(0..k).map(|j| hinv[i][j] * g[j]).sum::<f64>();
        }
        let mut slope: f64 = (0..k).map(|i| d[i] * g[i]).sum();
        if !(slope < 0.0) {
            for (i, row) in hinv.iter_mut().enumerate().take(k) {
                *row = [0.0; MAX_DIM];
                row[i] = 1.0;
            }
            for i in 0..k {
                d[i] = -g[i];
            }
            slope = -(0..k).map(|i| g[i] * g[i]).sum::<f64>();
        }
        let dmax = d[..k].iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut t = if dmax > opts.max_step {
            opts.max_step / dmax
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let mut xn = [0.0; MAX_DIM];
            for i in 0..k {
                xn[i] = x[i] + t * d[i];
            }
            let mut gn = [0.0; MAX_DIM];
            let fn_ = f(&xn[..k], Some(&mut gn[..k]));
            if fn_.is_finite() && fn_ <= fx + ARMIJO * t * slope {
                accepted = Some((xn, fn_, gn));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew, gn)) = accepted else {
            break;
        };
        let mut s = [0.0; MAX_DIM];
        let mut y = [0.0; MAX_DIM];
        for i in 0..k {
            s[i] = xn[i] - x[i];
            y[i] = gn[i] - g[i];
        }
        let sy: f64 = (0..k).map(|i| s[i] * y[i]).sum();
        let ss: f64 = (0..k).map(|i| s[i] * s[i]).sum();
        let yy: f64 = (0..k).map(|i| y[i] * y[i]).sum();
        if sy > 1e-12 * (ss * yy).sqrt() {
            if it == 1 {
                let gamma = sy / yy;
                for (i, row) in hinv.iter_mut().enumerate().take(k) {
                    row[i] = gamma;
                }
            }
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ.
            let rho = 1.0 / sy;
            let mut hy = [0.0; MAX_DIM];
            for i in 0..k {
                hy[i] = (0..k).map(|j| hinv[i][j] * y[j]).sum();
            }
            let yhy: f64 = (0..k).map(|i| y[i] * hy[i]).sum();
            for i in 0..k {
                for j in 0..k {
                    hinv[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        let df = fx - fnew;
        x.copy_from_slice(&xn[..k]);
        fx = fnew;
        g = gn;
        if df.abs() <= 1e-16 * fx.abs().max(1.0) {
            small_steps += 1;
            if small_steps >= MAX_SMALL_STEPS {
                break;
            }
        } else {
            small_steps = 0;
        }
    }
    if !converged
        && (g[..k].iter().all(|v| v.abs() < opts.g_tol)
            || g[..k].iter().all(|v| v.abs() < opts.g_tol_flat))
    {
        converged = true;
    }
    BfgsMin {
        f: fx,
        converged,
        iterations: it,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's banana, minimum 0 at (1, 1).
    fn rosenbrock(x: &[f64]) -> f64 {
        100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2)
    }

    #[test]
    fn nelder_mead_finds_the_rosenbrock_minimum() {
        let mut x = [-1.2, 1.0];
        let m = nelder_mead(
            rosenbrock,
            &mut x,
            &NelderMead {
                step: &[0.25, 0.25],
                bounds: None,
                max_evals: 2_000,
                ties: Ties::Slot,
                x_tol: 0.0,
                f_rel_tol: 1e-15,
                f_abs_tol: 0.0,
            },
        );
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "{x:?}"
        );
        assert!(m.f < 1e-10 && m.evals <= 2_000 + 3, "{m:?}");
    }

    #[test]
    fn nelder_mead_stays_inside_bounds_and_stops_at_x_tol() {
        // The unconstrained minimum (3, −2) lies outside the box.
        let bounds = [(-1.0, 1.0), (-1.0, 1.0)];
        let mut x = [1.0, 0.0];
        let mut seen_outside = false;
        let m = nelder_mead(
            |v| {
                seen_outside |= v.iter().any(|c| c.abs() > 1.0);
                (v[0] - 3.0).powi(2) + (v[1] + 2.0).powi(2)
            },
            &mut x,
            &NelderMead {
                step: &[0.5, 0.5],
                bounds: Some(&bounds),
                max_evals: 1_000,
                ties: Ties::Age,
                x_tol: 1e-9,
                f_rel_tol: 0.0,
                f_abs_tol: 0.0,
            },
        );
        assert!(!seen_outside);
        assert!(
            (x[0] - 1.0).abs() < 1e-8 && (x[1] + 1.0).abs() < 1e-8,
            "{x:?}"
        );
        assert!(m.evals < 1_000, "{m:?}");
    }

    #[test]
    fn bfgs_minimizes_a_quadratic_with_its_gradient() {
        // f = ½ xᵀ A x − bᵀx with A = [[3, 1], [1, 2]]: minimum at A⁻¹ b.
        let b = [1.0, -1.0];
        let mut x = [0.0, 0.0];
        let m = bfgs(
            |v, g| {
                let ax = [3.0 * v[0] + v[1], v[0] + 2.0 * v[1]];
                if let Some(g) = g {
                    g[0] = ax[0] - b[0];
                    g[1] = ax[1] - b[1];
                }
                0.5 * (v[0] * ax[0] + v[1] * ax[1]) - b[0] * v[0] - b[1] * v[1]
            },
            &mut x,
            &Bfgs {
                max_iter: 100,
                g_tol: 1e-12,
                g_tol_flat: 1e-12,
                max_step: 5.0,
            },
        );
        assert!(m.converged, "{m:?}");
        assert!(
            (x[0] - 0.6).abs() < 1e-10 && (x[1] + 0.8).abs() < 1e-10,
            "{x:?}"
        );
    }
}
