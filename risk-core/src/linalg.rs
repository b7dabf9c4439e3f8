//! Small dense linear algebra on row-major `n × n` slices: Cholesky factorization and solves for
//! symmetric positive definite systems, Gaussian elimination for general square ones,
//! matrix–vector products. Nothing here allocates: callers own every buffer, so the
//! kernel thread can reuse buffers sized at start-up.
//!
//! A matrix is a `&[f64]` of length `n * n`, element `(i, j)` at `i * n + j`.

use thiserror::Error;

/// Why a linear-algebra routine refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum LinalgError {
    /// A buffer's length does not match the stated dimension.
    #[error("dimension mismatch: expected {expected} elements, got {got}")]
    DimensionMismatch {
        /// Elements expected.
        expected: usize,
        /// Elements supplied.
        got: usize,
    },
    /// The matrix is not symmetric positive definite: the Cholesky pivot at `index` was
    /// `pivot` (≤ 0 or not finite).
    #[error("matrix is not positive definite (pivot {index} = {pivot:e})")]
    NotPositiveDefinite {
        /// Zero-based row of the failing pivot.
        index: usize,
        /// Value of the pivot before the square root.
        pivot: f64,
    },
    /// The matrix is not symmetric: `(row, col)` differs from `(col, row)`.
    #[error("matrix is not symmetric at ({row}, {col})")]
    NotSymmetric {
        /// Zero-based row.
        row: usize,
        /// Zero-based column.
        col: usize,
    },
    /// An input element is NaN or infinite.
    #[error("non-finite element at index {index}")]
    NonFinite {
        /// Zero-based flat index.
        index: usize,
    },
    /// The dimension is zero.
    #[error("empty matrix")]
    Empty,
    /// The matrix is singular to working precision: no pivot in column `index` reaches `1e-14`
    /// of the largest element, or the solution overflowed.
    #[error("matrix is singular (column {index})")]
    Singular {
        /// Zero-based column of the failing pivot.
        index: usize,
    },
}

/// Check that `a` is an `n × n` matrix of finite numbers, symmetric to a relative tolerance
/// of `1e-10` (of the larger diagonal element involved).
///
/// # Errors
/// [`LinalgError::DimensionMismatch`], [`LinalgError::Empty`], [`LinalgError::NonFinite`] or
/// [`LinalgError::NotSymmetric`].
pub fn check_symmetric(a: &[f64], n: usize) -> Result<(), LinalgError> {
    if n == 0 {
        return Err(LinalgError::Empty);
    }
    if a.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    if let Some(index) = a.iter().position(|x| !x.is_finite()) {
        return Err(LinalgError::NonFinite { index });
    }
    for i in 0..n {
        for j in (i + 1)..n {
            let scale = a[i * n + i]
                .abs()
                .max(a[j * n + j].abs())
                .max(f64::MIN_POSITIVE);
            if (a[i * n + j] - a[j * n + i]).abs() > 1e-10 * scale {
                return Err(LinalgError::NotSymmetric { row: i, col: j });
            }
        }
    }
    Ok(())
}

/// Cholesky factorization `A = L Lᵀ`, written into `l` (lower triangle; the strict upper
/// triangle is set to zero). Only the lower triangle of `a` is read. `a` and `l` may not alias;
/// use [`cholesky_in_place`] for that.
///
/// # Errors
/// [`LinalgError::DimensionMismatch`] when a buffer is not `n * n` long, [`LinalgError::Empty`]
/// for `n == 0`, [`LinalgError::NotPositiveDefinite`] when a pivot is not strictly positive
/// (singular or indefinite matrices, NaN).
pub fn cholesky(a: &[f64], n: usize, l: &mut [f64]) -> Result<(), LinalgError> {
    if n == 0 {
        return Err(LinalgError::Empty);
    }
    if a.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    if l.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: l.len(),
        });
    }
    l.copy_from_slice(a);
    cholesky_in_place(l, n)
}

/// Cholesky factorization in place: on success the lower triangle of `a` holds `L` and the
/// strict upper triangle is zero. Row-oriented (each inner product runs over contiguous memory,
/// which the compiler vectorizes).
///
/// A pivot below `n · ε · max|diag|` is treated as zero, so numerically singular matrices are
/// rejected instead of producing a huge, meaningless solve.
///
/// # Errors
/// As [`cholesky`].
pub fn cholesky_in_place(a: &mut [f64], n: usize) -> Result<(), LinalgError> {
    if n == 0 {
        return Err(LinalgError::Empty);
    }
    if a.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    let mut max_diag = 0.0_f64;
    for i in 0..n {
        max_diag = max_diag.max(a[i * n + i].abs());
    }
    let tiny = (n as f64) * f64::EPSILON * max_diag;
    for i in 0..n {
        let (done, rest) = a.split_at_mut(i * n);
        let row_i = &mut rest[..n];
        for j in 0..i {
            let row_j = &done[j * n..j * n + j];
            let s = dot(&row_i[..j], row_j);
            row_i[j] = (row_i[j] - s) / done[j * n + j];
        }
        let s = dot(&row_i[..i], &row_i[..i]);
        let pivot = row_i[i] - s;
        if !(pivot > tiny) || !pivot.is_finite() {
            return Err(LinalgError::NotPositiveDefinite { index: i, pivot });
        }
        row_i[i] = pivot.sqrt();
        for x in &mut row_i[i + 1..] {
            *x = 0.0;
        }
    }
    Ok(())
}

/// Solve `L Lᵀ x = b` in place (`b` becomes `x`) given the factor from [`cholesky`].
///
/// # Errors
/// [`LinalgError::DimensionMismatch`] when `l` is not `n * n` or `b` not `n` long.
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) -> Result<(), LinalgError> {
    if l.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: l.len(),
        });
    }
    if b.len() != n {
        return Err(LinalgError::DimensionMismatch {
            expected: n,
            got: b.len(),
        });
    }
    // Forward: L y = b.
    for i in 0..n {
        let s = dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / l[i * n + i];
    }
    // Backward: Lᵀ x = y, column-oriented so that L is read row by row.
    for i in (0..n).rev() {
        b[i] /= l[i * n + i];
        let xi = b[i];
        let row = &l[i * n..i * n + i];
        for (bk, lk) in b[..i].iter_mut().zip(row) {
            *bk -= lk * xi;
        }
    }
    Ok(())
}

/// Solve the square system `A x = b` in place (`b` becomes `x`, `a` is destroyed) by Gaussian
/// elimination with partial pivoting, for general (indefinite, non-symmetric) matrices such as
/// KKT systems; use [`cholesky`] for symmetric positive definite ones.
///
/// # Errors
/// [`LinalgError::DimensionMismatch`] when `a` is not `n * n` or `b` not `n` long,
/// [`LinalgError::Empty`] for `n == 0`, [`LinalgError::NonFinite`] for a NaN or infinite element
/// of `a`, [`LinalgError::Singular`] when a pivot is below `1e-14` of the largest `|aᵢⱼ|` or an
/// element of the solution is not finite.
pub fn solve_in_place(a: &mut [f64], n: usize, b: &mut [f64]) -> Result<(), LinalgError> {
    if n == 0 {
        return Err(LinalgError::Empty);
    }
    if a.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    if b.len() != n {
        return Err(LinalgError::DimensionMismatch {
            expected: n,
            got: b.len(),
        });
    }
    if let Some(index) = a.iter().position(|x| !x.is_finite()) {
        return Err(LinalgError::NonFinite { index });
    }
    let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return Err(LinalgError::Singular { index: 0 });
    }
    for col in 0..n {
        let mut p = col;
        for r in col + 1..n {
            if a[r * n + col].abs() > a[p * n + col].abs() {
                p = r;
            }
        }
        if a[p * n + col].abs() <= 1e-14 * scale {
            return Err(LinalgError::Singular { index: col });
        }
        if p != col {
            for c in 0..n {
                a.swap(p * n + c, col * n + c);
            }
            b.swap(p, col);
        }
        let (done, rest) = a.split_at_mut((col + 1) * n);
        let pivot_row = &done[col * n..];
        for (r, row) in rest.chunks_exact_mut(n).enumerate() {
            let f = row[col] / pivot_row[col];
            if f != 0.0 {
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
                b[col + 1 + r] -= f * b[col];
            }
        }
    }
    for col in (0..n).rev() {
        let mut s = b[col];
        for c in col + 1..n {
            s -= a[col * n + c] * b[c];
        }
        b[col] = s / a[col * n + col];
    }
    match b.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(LinalgError::Singular { index }),
        None => Ok(()),
    }
}

/// `y = A x` for an `n × n` row-major `a`.
///
/// # Errors
/// [`LinalgError::DimensionMismatch`] on a length mismatch.
pub fn mat_vec(a: &[f64], n: usize, x: &[f64], y: &mut [f64]) -> Result<(), LinalgError> {
    if a.len() != n * n {
        return Err(LinalgError::DimensionMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    if x.len() != n || y.len() != n {
        return Err(LinalgError::DimensionMismatch {
            expected: n,
            got: x.len().min(y.len()),
        });
    }
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = dot(&a[i * n..(i + 1) * n], x);
    }
    Ok(())
}

/// Inner product with four independent accumulators (lets the compiler keep four FMA chains in
/// flight; the result differs from a naive left-to-right sum only by rounding).
#[inline]
#[must_use]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0_f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let k = c * 4;
        acc[0] = a[k].mul_add(b[k], acc[0]);
        acc[1] = a[k + 1].mul_add(b[k + 1], acc[1]);
        acc[2] = a[k + 2].mul_add(b[k + 2], acc[2]);
        acc[3] = a[k + 3].mul_add(b[k + 3], acc[3]);
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in chunks * 4..n {
        s = a[k].mul_add(b[k], s);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_and_solve_3x3() {
        let a = [4.0, 12.0, -16.0, 12.0, 37.0, -43.0, -16.0, -43.0, 98.0];
        let mut l = [0.0; 9];
        cholesky(&a, 3, &mut l).unwrap();
        assert_eq!(l, [2.0, 0.0, 0.0, 6.0, 1.0, 0.0, -8.0, 5.0, 3.0]);
        let x_true = [1.0, -2.0, 0.5];
        let mut b = [0.0; 3];
        mat_vec(&a, 3, &x_true, &mut b).unwrap();
        cholesky_solve(&l, 3, &mut b).unwrap();
        for (x, t) in b.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-12, "{x} vs {t}");
        }
    }

    #[test]
    fn rejects_singular_indefinite_and_nan() {
        let mut l = [0.0; 4];
        assert!(matches!(
            cholesky(&[1.0, 1.0, 1.0, 1.0], 2, &mut l),
            Err(LinalgError::NotPositiveDefinite { index: 1, .. })
        ));
        assert!(matches!(
            cholesky(&[1.0, 2.0, 2.0, 1.0], 2, &mut l),
            Err(LinalgError::NotPositiveDefinite { index: 1, .. })
        ));
        assert!(matches!(
            cholesky(&[f64::NAN, 0.0, 0.0, 1.0], 2, &mut l),
            Err(LinalgError::NotPositiveDefinite { index: 0, .. })
        ));
        assert!(matches!(
            cholesky(&[1.0; 3], 2, &mut l),
            Err(LinalgError::DimensionMismatch { .. })
        ));
        assert!(matches!(
            check_symmetric(&[1.0, 0.5, 0.4, 1.0], 2),
            Err(LinalgError::NotSymmetric { .. })
        ));
    }

    #[test]
    fn gaussian_elimination_solves_indefinite_systems() {
        // A KKT-like matrix: symmetric, indefinite, needs a row swap (zero leading pivot).
        let a0 = [0.0, 2.0, 1.0, 2.0, 1.0, -1.0, 1.0, -1.0, 3.0];
        let x_true = [0.5, -1.0, 2.0];
        let mut b = [0.0; 3];
        mat_vec(&a0, 3, &x_true, &mut b).unwrap();
        let mut a = a0;
        solve_in_place(&mut a, 3, &mut b).unwrap();
        for (x, t) in b.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-14, "{x} vs {t}");
        }
        let mut a = [1.0, 2.0, 2.0, 4.0];
        assert_eq!(
            solve_in_place(&mut a, 2, &mut [1.0, 1.0]),
            Err(LinalgError::Singular { index: 1 })
        );
        let mut a = [0.0; 4];
        assert!(solve_in_place(&mut a, 2, &mut [1.0, 1.0]).is_err());
        let mut a = [1.0, f64::NAN, 0.0, 1.0];
        assert_eq!(
            solve_in_place(&mut a, 2, &mut [1.0, 1.0]),
            Err(LinalgError::NonFinite { index: 1 })
        );
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f64> = (0..11).map(|i| f64::from(i) * 0.5 - 1.0).collect();
        let b: Vec<f64> = (0..11).map(|i| 2.0 - f64::from(i) * 0.25).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
    }
}
