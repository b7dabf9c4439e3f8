//! The online factor covariance: equal to the batch bias-corrected EWMA over the samples each pair
//! shares, masked factors left out (never zero-filled), every matrix symmetric and positive
//! definite, no allocation per sample.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::factor_cov::{FactorCovConfig, FactorCovError, FactorCovariance, Shrinkage};
use risk_core::kelly::CovTarget;
use risk_core::linalg::cholesky;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

/// `returns[t][i]`, NaN where factor `i` had no return at sample `t`.
fn batch_ewma(returns: &[Vec<f64>], i: usize, j: usize, lambda: f64) -> Option<f64> {
    let (mut s, mut w) = (0.0, 0.0);
    for r in returns {
        if r[i].is_nan() || r[j].is_nan() {
            continue;
        }
        s = lambda * s + (1.0 - lambda) * r[i] * r[j];
        w = lambda * w + (1.0 - lambda);
    }
    (w > 0.0).then(|| s / w)
}

/// Correlated returns of `n` factors (one common driver), `t` samples.
fn correlated(n: usize, t: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..t)
        .map(|_| {
            let common: f64 = rng.gen_range(-1.0..1.0);
            (0..n)
                .map(|i| 1e-3 * (0.6 * common + rng.gen_range(-1.0..1.0)) * (1.0 + i as f64 / 4.0))
                .collect()
        })
        .collect()
}

fn cfg(min_samples: u32, max_missed: u32) -> FactorCovConfig {
    FactorCovConfig {
        lambda: 0.94,
        min_samples,
        max_missed,
        target: CovTarget::ConstantCorrelation,
        shrinkage: Shrinkage::Fixed(0.0),
    }
}

fn feed(cov: &mut FactorCovariance, returns: &[Vec<f64>]) {
    for r in returns {
        cov.update(r).expect("finite sample");
    }
}

fn assert_pd(m: &[f64], k: usize) {
    for a in 0..k {
        for b in 0..k {
            assert_eq!(m[a * k + b], m[b * k + a], "symmetric at ({a}, {b})");
        }
    }
    let mut l = vec![0.0; k * k];
    cholesky(m, k, &mut l).expect("positive definite");
}

#[test]
fn equals_the_batch_ewma_when_every_factor_is_present() {
    let returns = correlated(6, 300, 1);
    let mut cov = FactorCovariance::new(6, cfg(1, 0)).unwrap();
    feed(&mut cov, &returns);
    for i in 0..6 {
        for j in 0..6 {
            let want = batch_ewma(&returns, i, j, 0.94).unwrap();
            let got = cov.estimate(i, j).unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-12),
                "({i},{j}) {got} vs {want}"
            );
        }
    }
    // Unshrunk and positive definite already: the matrix is the estimates themselves.
    let (mut f, mut m) = (vec![0; 6], vec![0.0; 36]);
    let snap = cov.matrix(&mut f, &mut m).unwrap();
    assert_eq!((snap.k, snap.intensity), (6, 0.0));
    assert_eq!(&f[..6], &[0, 1, 2, 3, 4, 5]);
    for i in 0..6 {
        for j in 0..6 {
            assert_eq!(m[i * 6 + j], cov.estimate(i, j).unwrap());
        }
    }
}

#[test]
fn a_late_factor_is_masked_until_ready_then_estimated_from_its_own_samples() {
    let mut returns = correlated(3, 200, 2);
    for r in returns.iter_mut().take(120) {
        r[2] = f64::NAN; // factor 2 starts at sample 120
    }
    let mut cov = FactorCovariance::new(3, cfg(30, 0)).unwrap();
    let (mut f, mut m) = (vec![0; 3], vec![0.0; 9]);
    feed(&mut cov, &returns[..140]);
    assert!(!cov.is_ready(2), "20 samples of 30");
    assert_eq!(cov.matrix(&mut f, &mut m).unwrap().k, 2);
    assert_eq!(&f[..2], &[0, 1]);
    feed(&mut cov, &returns[140..]);
    assert!(cov.is_ready(2));
    assert_eq!(cov.matrix(&mut f, &mut m).unwrap().k, 3);
    for (i, j) in [(0, 2), (1, 2), (2, 2), (0, 1)] {
        let want = batch_ewma(&returns, i, j, 0.94).unwrap();
        let got = cov.estimate(i, j).unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs(),
            "({i},{j}) {got} vs {want}"
        );
    }
}

#[test]
fn a_stale_factor_leaves_the_matrix_without_decaying_and_comes_back() {
    let mut returns = correlated(3, 100, 3);
    let mut cov = FactorCovariance::new(3, cfg(10, 2)).unwrap();
    feed(&mut cov, &returns[..60]);
    let before = cov.estimate(1, 1).unwrap();
    for r in returns.iter_mut().skip(60).take(3) {
        r[1] = f64::NAN;
    }
    feed(&mut cov, &returns[60..62]);
    assert!(cov.is_ready(1), "two missed samples are allowed");
    feed(&mut cov, &returns[62..63]);
    assert!(!cov.is_ready(1), "the third is not");
    assert_eq!(
        cov.estimate(1, 1),
        Some(before),
        "a missing factor's estimate is frozen"
    );
    let (mut f, mut m) = (vec![0; 3], vec![0.0; 9]);
    assert_eq!(cov.matrix(&mut f, &mut m).unwrap().k, 2);
    assert_eq!(&f[..2], &[0, 2]);
    feed(&mut cov, &returns[63..64]);
    assert!(cov.is_ready(1), "back with its next return");
    assert_eq!(cov.matrix(&mut f, &mut m).unwrap().k, 3);
}

#[test]
fn a_constant_factor_is_masked_not_given_zero_variance() {
    let mut returns = correlated(3, 50, 4);
    for r in &mut returns {
        r[0] = 0.0;
    }
    let mut cov = FactorCovariance::new(3, cfg(5, 0)).unwrap();
    feed(&mut cov, &returns);
    let (mut f, mut m) = (vec![0; 3], vec![0.0; 9]);
    let snap = cov.matrix(&mut f, &mut m).unwrap();
    assert_eq!((snap.k, &f[..2]), (2, &[1usize, 2][..]));
    assert_pd(&m[..4], 2);
}

#[test]
fn pairwise_estimates_that_are_not_psd_are_shrunk_until_positive_definite() {
    // Three factors, each pair seen over different stretches: 0-1 move together, 1-2 move
    // together, 0-2 move against each other. No covariance has those three correlations.
    let lam = 0.9;
    let mut cov = FactorCovariance::new(
        3,
        FactorCovConfig {
            lambda: lam,
            max_missed: 1000,
            ..cfg(1, 1000)
        },
    )
    .unwrap();
    let nan = f64::NAN;
    for t in 0..300 {
        let x = if t % 2 == 0 { 1e-3 } else { -1e-3 };
        let r = match (t / 100) % 3 {
            0 => [x, x, nan],
            1 => [nan, x, x],
            _ => [x, nan, -x],
        };
        cov.update(&r).unwrap();
    }
    let (mut f, mut m) = (vec![0; 3], vec![0.0; 9]);
    let snap = cov.matrix(&mut f, &mut m).unwrap();
    assert_eq!(snap.k, 3);
    assert!(
        snap.intensity > 0.0,
        "the raw matrix is not PSD: shrinkage had to rise"
    );
    assert_pd(&m, 3);
}

#[test]
fn bad_settings_and_samples_are_refused_and_change_nothing() {
    assert_eq!(
        FactorCovariance::new(0, cfg(1, 0)).unwrap_err(),
        FactorCovError::Empty
    );
    for lambda in [0.0, 1.0, f64::NAN, -0.5] {
        let e = FactorCovariance::new(
            2,
            FactorCovConfig {
                lambda,
                ..cfg(1, 0)
            },
        )
        .unwrap_err();
        assert!(matches!(e, FactorCovError::BadLambda(_)), "{lambda}: {e}");
    }
    let e = FactorCovariance::new(
        2,
        FactorCovConfig {
            shrinkage: Shrinkage::Fixed(1.5),
            ..cfg(1, 0)
        },
    )
    .unwrap_err();
    assert_eq!(e, FactorCovError::BadShrinkage(1.5));
    let mut cov = FactorCovariance::new(2, cfg(1, 0)).unwrap();
    cov.update(&[1e-3, 2e-3]).unwrap();
    let before = cov.clone();
    assert_eq!(
        cov.update(&[1e-3, f64::INFINITY]).unwrap_err(),
        FactorCovError::Infinite { factor: 1 }
    );
    assert!(matches!(
        cov.update(&[1e-3]).unwrap_err(),
        FactorCovError::DimensionMismatch { .. }
    ));
    assert_eq!(cov.estimate(0, 1), before.estimate(0, 1));
    assert!(cov.is_ready(0) && cov.is_ready(1));
    let mut small = vec![0.0; 3];
    assert!(cov.matrix(&mut [0, 0], &mut small).is_err());
}

#[test]
fn updates_and_matrices_allocate_nothing() {
    let returns = correlated(100, 50, 5);
    let mut masked = returns.clone();
    for (t, r) in masked.iter_mut().enumerate() {
        r[t % 100] = f64::NAN;
    }
    for shrinkage in [Shrinkage::Fixed(0.0), Shrinkage::LedoitWolf] {
        let mut cov = FactorCovariance::new(
            100,
            FactorCovConfig {
                shrinkage,
                ..cfg(10, 3)
            },
        )
        .unwrap();
        let (mut f, mut m) = (vec![0; 100], vec![0.0; 100 * 100]);
        feed(&mut cov, &returns[..20]);
        let ((), allocs) = testkit::alloc::measure(|| {
            for (a, b) in returns[20..].iter().zip(&masked[20..]) {
                cov.update(a).unwrap();
                cov.update(b).unwrap();
                cov.matrix(&mut f, &mut m).unwrap();
                std::hint::black_box(cov.ledoit_wolf_intensity());
            }
        });
        assert_eq!(allocs, 0, "{shrinkage:?}");
        assert_eq!(cov.matrix(&mut f, &mut m).unwrap().k, 100);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the pattern of missing returns, the matrix is symmetric and positive definite,
    /// holds only ready factors, and uses at least the configured shrinkage.
    #[test]
    fn every_matrix_is_positive_definite(
        seed in any::<u64>(),
        n in 1usize..8,
        t in 1usize..120,
        missing in 0.0f64..0.6,
        shrinkage in 0.0f64..1.0,
        ledoit_wolf in any::<bool>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let target = if rng.gen_bool(0.5) { CovTarget::ConstantCorrelation } else { CovTarget::Diagonal };
        let mut cov = FactorCovariance::new(n, FactorCovConfig {
            lambda: rng.gen_range(0.5..0.999),
            min_samples: rng.gen_range(1..10),
            max_missed: rng.gen_range(0..5),
            target,
            shrinkage: if ledoit_wolf { Shrinkage::LedoitWolf } else { Shrinkage::Fixed(shrinkage) },
        }).unwrap();
        for r in correlated(n, t, seed) {
            let r: Vec<f64> = r.into_iter().map(|x| if rng.gen_bool(missing) { f64::NAN } else { x }).collect();
            cov.update(&r).unwrap();
        }
        let (mut f, mut m) = (vec![0; n], vec![0.0; n * n]);
        let lw = cov.ledoit_wolf_intensity();
        let snap = cov.matrix(&mut f, &mut m).unwrap();
        prop_assert!(snap.intensity.is_finite() && snap.intensity <= 1.0);
        if ledoit_wolf {
            // The matrix starts from the Ledoit–Wolf intensity of the configured target and
            // raises it only if needed.
            prop_assert_eq!(lw.is_some(), snap.k > 0);
            if let Some(lw) = lw {
                prop_assert!((0.0..=1.0).contains(&lw), "{}", lw);
                if snap.target == target {
                    prop_assert!(snap.intensity >= lw);
                }
            }
        } else {
            prop_assert!(lw.is_none());
            prop_assert!(snap.intensity >= shrinkage);
        }
        for &i in &f[..snap.k] {
            prop_assert!(cov.is_ready(i));
        }
        prop_assert_eq!(snap.k, (0..n).filter(|&i| cov.is_ready(i)).count());
        if snap.k > 0 {
            assert_pd(&m[..snap.k * snap.k], snap.k);
        }
    }
}

#[test]
fn complete_samples_skip_the_check_and_stay_positive_definite() {
    // 40 factors from 6 samples: the estimate is singular (rank 6), every sample complete, so
    // the shrunk matrix is positive definite by construction and returned without a Cholesky
    // check at the configured intensity; it must still factor.
    for (target, shrinkage) in [
        (CovTarget::ConstantCorrelation, 0.1),
        (CovTarget::ConstantCorrelation, 1e-3),
        (CovTarget::Diagonal, 0.05),
    ] {
        let n = 40;
        let cfg = FactorCovConfig {
            lambda: 0.9,
            min_samples: 6,
            max_missed: 0,
            target,
            shrinkage: Shrinkage::Fixed(shrinkage),
        };
        let mut c = FactorCovariance::new(n, cfg).unwrap();
        for r in correlated(n, 6, 11) {
            c.update(&r).unwrap();
        }
        let mut idx = vec![0; n];
        let mut m = vec![0.0; n * n];
        let snap = c.matrix(&mut idx, &mut m).unwrap();
        assert_eq!(snap.k, n);
        assert_eq!(snap.intensity, shrinkage, "{target:?}");
        let mut l = vec![0.0; n * n];
        cholesky(&m, n, &mut l).unwrap();
        // The same samples with one factor missing once take the checked path.
        let mut p = FactorCovariance::new(n, cfg).unwrap();
        for (t, mut r) in correlated(n, 6, 11).into_iter().enumerate() {
            if t == 0 {
                r[3] = f64::NAN;
            }
            p.update(&r).unwrap();
        }
        let snap = p.matrix(&mut idx, &mut m).unwrap();
        if snap.k > 0 {
            let k = snap.k;
            let mut l = vec![0.0; k * k];
            cholesky(&m[..k * k], k, &mut l).unwrap();
        }
    }
}

fn lw_cfg(lambda: f64, min_samples: u32, max_missed: u32) -> FactorCovConfig {
    FactorCovConfig {
        lambda,
        shrinkage: Shrinkage::LedoitWolf,
        ..cfg(min_samples, max_missed)
    }
}

/// iid samples (independent over time) of `n` factors whose correlations are not constant: two
/// blocks, each with its own driver and loadings from 0.3 to 1.2, scales rising with the index.
fn two_blocks(n: usize, t: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..t)
        .map(|_| {
            let g: [f64; 2] = [rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)];
            (0..n)
                .map(|i| {
                    let load = 0.3 + 0.9 * (i % (n / 2).max(1)) as f64 / (n / 2).max(1) as f64;
                    1e-3 * (1.0 + i as f64 / 5.0) * (load * g[2 * i / n] + rng.gen_range(-1.0..1.0))
                })
                .collect()
        })
        .collect()
}

/// Kish's effective size of `m` samples under EWMA weights: `(1 − λᵐ)² (1 + λ) / ((1 − λ)(1 −
/// λ²ᵐ))`.
fn kish(lambda: f64, m: i32) -> f64 {
    let w = 1.0 - lambda.powi(m);
    let w2 = (1.0 - lambda).powi(2) * (1.0 - lambda.powi(2 * m)) / (1.0 - lambda * lambda);
    w * w / w2
}

#[test]
fn the_ledoit_wolf_intensity_falls_as_samples_accumulate() {
    // 20 factors, iid samples, λ so close to 1 that the effective size is the count: δ* is large
    // while T is small against n and falls about as 1/T once the sample carries the structure
    // the constant-correlation target misses.
    let (n, t) = (20, 2560);
    let xs = two_blocks(n, t, 31);
    let mut cov = FactorCovariance::new(n, lw_cfg(1.0 - 1e-7, 5, 0)).unwrap();
    let mut seen = Vec::new();
    for (s, r) in xs.iter().enumerate() {
        cov.update(r).unwrap();
        if [10, 40, 160, 640, 2560].contains(&(s + 1)) {
            let d = cov.ledoit_wolf_intensity().unwrap();
            let teff = cov.effective_samples(0, n - 1).unwrap();
            assert!((teff / (s + 1) as f64 - 1.0).abs() < 1e-3, "{teff}");
            seen.push((s + 1, d));
        }
    }
    assert!(seen[0].1 > 0.5, "T = 10 for 20 factors: {seen:?}");
    for w in seen.windows(2) {
        assert!(w[1].1 < w[0].1, "not falling: {seen:?}");
    }
    let (big, last) = (seen[3], seen[4]);
    assert!(last.1 < 0.05, "{seen:?}");
    // δ*·T settles (κ converges): within a factor 2 from T = 640 to 2560.
    let ratio = (big.1 * big.0 as f64) / (last.1 * last.0 as f64);
    assert!((0.5..2.0).contains(&ratio), "{seen:?}");

    // With λ = 0.97 the same stream's effective size saturates at (1 + λ)/(1 − λ) ≈ 65.7, and
    // so does the intensity: well above the equal-weight one at T = 2560.
    let mut ewma = FactorCovariance::new(n, lw_cfg(0.97, 5, 0)).unwrap();
    for (s, r) in xs.iter().enumerate() {
        ewma.update(r).unwrap();
        if s + 1 == 10 || s + 1 == 100 {
            let teff = ewma.effective_samples(3, 7).unwrap();
            let want = kish(0.97, s as i32 + 1);
            assert!((teff / want - 1.0).abs() < 1e-12, "{teff} vs {want}");
        }
    }
    let teff = ewma.effective_samples(3, 7).unwrap();
    assert!((teff - 1.97 / 0.03).abs() < 1e-9, "{teff}");
    let d = ewma.ledoit_wolf_intensity().unwrap();
    assert!(d > 5.0 * last.1 && d < 1.0, "{d} vs {}", last.1);
}

#[test]
fn late_stale_and_gapped_factors_keep_the_intensity_finite() {
    // Factor 2 starts at sample 150, factor 5 misses every third sample, factor 8 stops at 250
    // (stale after 3 misses, out of the matrix). Every pair's effective size is that of its own
    // co-observed samples; the intensity is finite in [0, 1] at every sample; every matrix
    // factors.
    let (n, t, lambda) = (10, 300, 0.97);
    let mut xs = two_blocks(n, t, 41);
    for (s, r) in xs.iter_mut().enumerate() {
        if s < 150 {
            r[2] = f64::NAN;
        }
        if s % 3 == 0 {
            r[5] = f64::NAN;
        }
        if s >= 250 {
            r[8] = f64::NAN;
        }
    }
    let mut cov = FactorCovariance::new(n, lw_cfg(lambda, 20, 3)).unwrap();
    let (mut f, mut m) = (vec![0; n], vec![0.0; n * n]);
    for (s, r) in xs.iter().enumerate() {
        cov.update(r).unwrap();
        let lw = cov.ledoit_wolf_intensity();
        let snap = cov.matrix(&mut f, &mut m).unwrap();
        if s + 1 < 20 {
            assert!(lw.is_none() && snap.k == 0);
            continue;
        }
        let lw = lw.unwrap();
        assert!((0.0..=1.0).contains(&lw), "sample {s}: {lw}");
        assert!(
            snap.intensity >= lw && snap.intensity <= 1.0,
            "sample {s}: {snap:?} from {lw}"
        );
        assert_eq!(snap.k, (0..n).filter(|&i| cov.is_ready(i)).count());
        assert!(m[..snap.k * snap.k].iter().all(|x| x.is_finite()));
        assert_pd(&m[..snap.k * snap.k], snap.k);
        let has = |i| f[..snap.k].contains(&i);
        assert_eq!(has(2), s + 1 >= 170, "sample {s}");
        assert_eq!(has(8), s < 253, "sample {s}");
    }
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-12;
    assert!(close(
        cov.effective_samples(0, 2).unwrap(),
        kish(lambda, 150)
    ));
    assert!(close(
        cov.effective_samples(0, 5).unwrap(),
        kish(lambda, 200)
    ));
    assert!(close(
        cov.effective_samples(2, 5).unwrap(),
        kish(lambda, 100)
    ));
    assert!(close(
        cov.effective_samples(0, 8).unwrap(),
        kish(lambda, 250)
    ));
    assert!(close(
        cov.effective_samples(0, 1).unwrap(),
        kish(lambda, 300)
    ));
    assert_eq!(cov.effective_samples(0, n), None);
    assert_eq!(
        FactorCovariance::new(n, cfg(20, 3))
            .unwrap()
            .effective_samples(0, 1),
        None,
        "before the first sample"
    );
}
