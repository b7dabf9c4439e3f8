//! Small dense linear algebra on row-major `n × n` slices: Cholesky factorization and solves for
//! symmetric positive definite systems, Gaussian elimination for general square ones,
//! matrix–vector products. Nothing here allocates: callers own every buffer, so the
//! kernel thread can reuse buffers sized at start-up.
//!
//! A matrix is a `&[f64]` of length `n * n`, element `(i, j)` at `i * n + j`.

use thiserror::Error;
use wide::f64x4;

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
    if let Some(index) = first_non_finite(a) {
        return Err(LinalgError::NonFinite { index });
    }
    if nearly_symmetric(a, n) {
        return Ok(());
    }
    // Locate the first offending pair in row-major order.
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

/// Whether every pair `(i, j)`, `i < j`, of the finite `n × n` matrix `a` passes the test of
/// [`check_symmetric`]. Vectorized: rows `i..i + 4` against the four contiguous elements
/// `a[j][i..i + 4]` of each row `j` below the block (so the strided side is read four at a time);
/// the pairs inside each 4 × 4 diagonal block and those of the last rows are checked one by one.
fn nearly_symmetric(a: &[f64], n: usize) -> bool {
    let d = |i: usize| a[i * n + i].abs().max(f64::MIN_POSITIVE);
    let pair_ok =
        |i: usize, j: usize| (a[i * n + j] - a[j * n + i]).abs() <= 1e-10 * d(i).max(d(j));
    let blocks = n / 4 * 4;
    let mut worst = f64x4::splat(f64::NEG_INFINITY);
    for i0 in (0..blocks).step_by(4) {
        let di = f64x4::new([d(i0), d(i0 + 1), d(i0 + 2), d(i0 + 3)]);
        for j in i0 + 4..n {
            let col = lanes(&a[j * n + i0..j * n + i0 + 4]);
            let row = f64x4::new([
                a[i0 * n + j],
                a[(i0 + 1) * n + j],
                a[(i0 + 2) * n + j],
                a[(i0 + 3) * n + j],
            ]);
            let scale = di.max(f64x4::splat(d(j))) * f64x4::splat(1e-10);
            worst = worst.max((row - col).abs() - scale);
        }
        for i in i0..i0 + 4 {
            for j in i + 1..i0 + 4 {
                if !pair_ok(i, j) {
                    return false;
                }
            }
        }
    }
    for i in blocks..n {
        for j in i + 1..n {
            if !pair_ok(i, j) {
                return false;
            }
        }
    }
    worst.to_array().iter().all(|w| *w <= 0.0)
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
/// strict upper triangle is zero. Row-oriented, two rows at a time: rows `i` and `i + 1` of `L`
/// are computed from the rows above them four at a time (the eight inner products
/// `L[i or i + 1, ..j] · L[j + t, ..j]` share their loads, `dot4x2`), then the small triangle
/// those four rows leave, scalar.
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
    // Rows are computed in pairs (i, i + 1), which share the loads of the rows above them. The
    // reciprocal of pivot j is kept at (j, n − 1), in the strict upper triangle no step reads
    // otherwise (the last pivot's is never needed): multiplying by it keeps divisions off the
    // critical path. The upper triangle is zeroed at the end.
    let mut i = 0;
    while i < n {
        let (done, rest) = a.split_at_mut(i * n);
        let (row_i, rest) = rest.split_at_mut(n);
        let mut row_k = rest.get_mut(..n);
        let mut j = 0;
        while j + 4 <= i {
            let rows: [&[f64]; 4] = std::array::from_fn(|t| &done[(j + t) * n..(j + t + 1) * n]);
            let inv: [f64; 4] = std::array::from_fn(|t| rows[t][n - 1]);
            if let Some(row_k) = row_k.as_deref_mut() {
                let (si, sk) = dot4x2(&row_i[..j], &row_k[..j], rows);
                finish_block(row_i, j, si, rows, inv);
                finish_block(row_k, j, sk, rows, inv);
            } else {
                let si = dot4x2(&row_i[..j], &row_i[..j], rows).0;
                finish_block(row_i, j, si, rows, inv);
            }
            j += 4;
        }
        for j in j..i {
            let row_j = &done[j * n..(j + 1) * n];
            row_i[j] = (row_i[j] - dot(&row_i[..j], &row_j[..j])) * row_j[n - 1];
            if let Some(row_k) = row_k.as_deref_mut() {
                row_k[j] = (row_k[j] - dot(&row_k[..j], &row_j[..j])) * row_j[n - 1];
            }
        }
        let mut result = pivot(row_i, i, n, tiny);
        if let (Ok(()), Some(row_k)) = (result, row_k) {
            row_k[i] = (row_k[i] - dot(&row_k[..i], &row_i[..i])) * row_i[n - 1];
            result = pivot(row_k, i + 1, n, tiny);
        }
        if result.is_err() {
            zero_upper(a, n);
            return result;
        }
        i += 2;
    }
    zero_upper(a, n);
    Ok(())
}

/// `L[i, i] = √(A[i, i] − Σ L[i, k]²)` for row `i` (whose other elements are done); keeps its
/// reciprocal at column `n − 1` unless `i` is the last row.
fn pivot(row: &mut [f64], i: usize, n: usize, tiny: f64) -> Result<(), LinalgError> {
    let p = row[i] - dot(&row[..i], &row[..i]);
    if !(p > tiny) || !p.is_finite() {
        return Err(LinalgError::NotPositiveDefinite { index: i, pivot: p });
    }
    row[i] = p.sqrt();
    if i + 1 < n {
        row[n - 1] = row[i].recip();
    }
    Ok(())
}

/// Finishes `L[i, j + t]`, `t < 4`, of one row of a Cholesky factor from the block product
/// `s[t] = L[i, ..j] · L[j + t, ..j]`: the columns `j..j + t` it left out, then the division by
/// the pivot (`inv` its reciprocal).
#[inline]
fn finish_block(row: &mut [f64], j: usize, s: [f64; 4], rows: [&[f64]; 4], inv: [f64; 4]) {
    for t in 0..4 {
        let mut v = row[j + t] - s[t];
        for u in 0..t {
            v = (-row[j + u]).mul_add(rows[t][j + u], v);
        }
        row[j + t] = v * inv[t];
    }
}

/// The eight inner products `x · rows[t][..m]` and `y · rows[t][..m]` (`m = x.len()`, `y` as long
/// as `x`, each row at least that long), sharing the loads: one `f64x4` accumulator per product
/// (lane `l` sums the columns `≡ l (mod 4)`), lanes summed pairwise, then the tail of fewer than
/// four columns left to right. The kernel of [`cholesky_in_place`]; [`dot_lanes4_scalar`] is its
/// scalar twin, bit for bit.
#[inline]
fn dot4x2(x: &[f64], y: &[f64], rows: [&[f64]; 4]) -> ([f64; 4], [f64; 4]) {
    let m = x.len();
    let y = &y[..m];
    let r = [&rows[0][..m], &rows[1][..m], &rows[2][..m], &rows[3][..m]];
    let full = m / 4 * 4;
    let mut cx = [f64x4::ZERO; 4];
    let mut cy = [f64x4::ZERO; 4];
    let mut k = 0;
    while k < full {
        let (xv, yv) = (lanes(&x[k..k + 4]), lanes(&y[k..k + 4]));
        for t in 0..4 {
            let rv = lanes(&r[t][k..k + 4]);
            cx[t] = rv.mul_add(xv, cx[t]);
            cy[t] = rv.mul_add(yv, cy[t]);
        }
        k += 4;
    }
    let finish = |c: f64x4, v: &[f64], row: &[f64]| {
        let a = c.to_array();
        let mut s = (a[0] + a[1]) + (a[2] + a[3]);
        for k in full..m {
            s = row[k].mul_add(v[k], s);
        }
        s
    };
    (
        std::array::from_fn(|t| finish(cx[t], x, r[t])),
        std::array::from_fn(|t| finish(cy[t], y, r[t])),
    )
}

/// The scalar twin of [`dot4x2`]'s summation: four lanes over the columns in blocks of four,
/// pairwise, then the tail.
#[cfg(test)]
fn dot_lanes4_scalar(x: &[f64], row: &[f64]) -> f64 {
    let m = x.len();
    let full = m / 4 * 4;
    let mut acc = [0.0_f64; 4];
    for k in 0..full {
        acc[k % 4] = row[k].mul_add(x[k], acc[k % 4]);
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in full..m {
        s = row[k].mul_add(x[k], s);
    }
    s
}

/// Sets the strict upper triangle of the `n × n` matrix `a` to zero.
fn zero_upper(a: &mut [f64], n: usize) {
    for (i, row) in a.chunks_exact_mut(n).enumerate() {
        row[i + 1..].fill(0.0);
    }
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

/// `y = A x` for an `n × n` row-major `a`, four rows at a time (`dot4`; each element is
/// `dot(row, x)` bit for bit).
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
    let blocks = n / 4 * 4;
    for i in (0..blocks).step_by(4) {
        let rows: [&[f64]; 4] = std::array::from_fn(|t| &a[(i + t) * n..(i + t + 1) * n]);
        y[i..i + 4].copy_from_slice(&dot4(x, rows));
    }
    if blocks < n {
        // The last one to three rows in one more call (the last row repeated to fill it).
        let rows: [&[f64]; 4] = std::array::from_fn(|t| {
            let i = (blocks + t).min(n - 1);
            &a[i * n..(i + 1) * n]
        });
        let s = dot4(x, rows);
        y[blocks..].copy_from_slice(&s[..n - blocks]);
    }
    Ok(())
}

/// The four inner products `x · rows[t][..m]` (`m = x.len()`, each row at least that long),
/// sharing the loads of `x`. Each row is summed exactly as [`dot`] sums it (eight lanes in two
/// `f64x4` accumulators, lanes summed pairwise, then the tail left to right), so the results
/// equal `dot(x, &rows[t][..m])` bit for bit; the eight accumulators in flight hide the FMA
/// latency. The kernel of [`mat_vec`].
#[inline]
fn dot4(x: &[f64], rows: [&[f64]; 4]) -> [f64; 4] {
    let m = x.len();
    let r = [&rows[0][..m], &rows[1][..m], &rows[2][..m], &rows[3][..m]];
    let full = m / 8 * 8;
    let mut lo = [f64x4::ZERO; 4];
    let mut hi = [f64x4::ZERO; 4];
    let mut k = 0;
    while k < full {
        let (xl, xh) = (lanes(&x[k..k + 4]), lanes(&x[k + 4..k + 8]));
        for t in 0..4 {
            lo[t] = lanes(&r[t][k..k + 4]).mul_add(xl, lo[t]);
            hi[t] = lanes(&r[t][k + 4..k + 8]).mul_add(xh, hi[t]);
        }
        k += 8;
    }
    let mut out = [0.0; 4];
    for t in 0..4 {
        let mut s = reduce(lo[t], hi[t]);
        for k in full..m {
            s = r[t][k].mul_add(x[k], s);
        }
        out[t] = s;
    }
    out
}

/// Inner product, vectorized: eight lanes (two `f64x4` accumulators of fused multiply-adds, so
/// that several FMA chains are in flight), the lanes summed pairwise, then the tail of fewer than
/// eight elements added left to right. The result differs from a naive left-to-right sum only by
/// rounding; [`dot_scalar`] is its scalar twin, bit for bit.
#[inline]
#[must_use]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lo = f64x4::ZERO;
    let mut hi = f64x4::ZERO;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        lo = lanes(&x[..4]).mul_add(lanes(&y[..4]), lo);
        hi = lanes(&x[4..]).mul_add(lanes(&y[4..]), hi);
    }
    let mut s = reduce(lo, hi);
    for (x, y) in ta.iter().zip(tb) {
        s = x.mul_add(*y, s);
    }
    s
}

/// The scalar twin of [`dot`]: the same eight accumulators, reduction and tail, one element at a
/// time (same result, bit for bit).
#[must_use]
pub fn dot_scalar(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0_f64; 8];
    let full = n / 8 * 8;
    for k in 0..full {
        acc[k % 8] = a[k].mul_add(b[k], acc[k % 8]);
    }
    let v: [f64; 4] = std::array::from_fn(|l| acc[l] + acc[l + 4]);
    let mut s = (v[0] + v[1]) + (v[2] + v[3]);
    for k in full..n {
        s = a[k].mul_add(b[k], s);
    }
    s
}

/// Four consecutive elements as a vector (`x` has at least four).
#[inline]
fn lanes(x: &[f64]) -> f64x4 {
    f64x4::new([x[0], x[1], x[2], x[3]])
}

/// `Σ (lo + hi)` over the four lanes, pairwise: `(l0 + l1) + (l2 + l3)`.
#[inline]
fn reduce(lo: f64x4, hi: f64x4) -> f64 {
    let v = (lo + hi).to_array();
    (v[0] + v[1]) + (v[2] + v[3])
}

/// Index of the first NaN or infinite element of `a`, if any. The common all-finite case is a
/// vectorized pass (`x · 0` is zero for finite `x` and NaN otherwise); the index is located only
/// when it fails.
#[must_use]
pub fn first_non_finite(a: &[f64]) -> Option<usize> {
    let chunks = a.chunks_exact(16);
    let tail = chunks.remainder();
    // Four independent accumulators, so the adds do not wait on each other.
    let mut acc = [f64x4::ZERO; 4];
    for x in chunks {
        for (l, acc) in acc.iter_mut().enumerate() {
            let v = lanes(&x[4 * l..4 * l + 4]);
            *acc += v * f64x4::ZERO;
        }
    }
    let sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    let finite = sum.to_array().iter().all(|v| *v == 0.0) && tail.iter().all(|v| v.is_finite());
    if finite {
        None
    } else {
        a.iter().position(|x| !x.is_finite())
    }
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
    fn dot_matches_its_scalar_twin_and_finds_non_finite() {
        let mut x = 0.3_f64;
        let mut next = || {
            // A fixed logistic-map sequence: deterministic, irregular, of both signs.
            x = 3.99 * x * (1.0 - x);
            (x - 0.5) * 1e3_f64.powf(x - 0.5)
        };
        for n in 0..40 {
            let a: Vec<f64> = (0..n).map(|_| next()).collect();
            let b: Vec<f64> = (0..n).map(|_| next()).collect();
            assert_eq!(
                dot(&a, &b).to_bits(),
                dot_scalar(&a, &b).to_bits(),
                "n = {n}"
            );
            assert_eq!(first_non_finite(&a), None);
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for k in 0..n {
                    let mut c = a.clone();
                    c[k] = bad;
                    assert_eq!(first_non_finite(&c), Some(k));
                    assert!(dot(&c, &b).is_nan() || dot(&c, &b).is_infinite());
                }
            }
        }
        assert_eq!(dot(&[1e308, 1e308], &[10.0, 10.0]), f64::INFINITY);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn dot4_matches_its_scalar_twin_and_cholesky_reconstructs() {
        let mut x = 0.7_f64;
        let mut next = || {
            x = 3.99 * x * (1.0 - x);
            x - 0.5
        };
        for m in 0..23 {
            let v: Vec<f64> = (0..m).map(|_| next()).collect();
            let rows: Vec<Vec<f64>> = (0..4)
                .map(|_| (0..m + 3).map(|_| next()).collect())
                .collect();
            let r = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (fast, slow) = (dot4(&v, r), r.map(|row| dot_scalar(&v, &row[..m])));
            for t in 0..4 {
                assert_eq!(fast[t].to_bits(), slow[t].to_bits(), "m = {m}, row {t}");
            }
        }
        for m in 0..23 {
            let (v, u): (Vec<f64>, Vec<f64>) = (0..m).map(|_| (next(), next())).unzip();
            let rows: Vec<Vec<f64>> = (0..4)
                .map(|_| (0..m + 3).map(|_| next()).collect())
                .collect();
            let r = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let (fx, fy) = dot4x2(&v, &u, r);
            for t in 0..4 {
                assert_eq!(fx[t].to_bits(), dot_lanes4_scalar(&v, r[t]).to_bits());
                assert_eq!(fy[t].to_bits(), dot_lanes4_scalar(&u, r[t]).to_bits());
            }
        }
        // L Lᵀ = A for SPD matrices of every size around the block boundaries.
        for n in 1..=14 {
            let b: Vec<f64> = (0..n * n).map(|_| next()).collect();
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let s: f64 = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum();
                    a[i * n + j] = s + if i == j { 0.5 } else { 0.0 };
                }
            }
            let mut l = vec![0.0; n * n];
            cholesky(&a, n, &mut l).unwrap();
            for i in 0..n {
                for j in 0..n {
                    let s: f64 = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
                    assert!((s - a[i * n + j]).abs() < 1e-13, "n = {n} ({i}, {j})");
                    assert!(j <= i || l[i * n + j] == 0.0);
                }
            }
            let mut y = vec![0.0; n];
            let xs: Vec<f64> = (0..n).map(|_| next()).collect();
            mat_vec(&a, n, &xs, &mut y).unwrap();
            for i in 0..n {
                let want: f64 = (0..n).map(|k| a[i * n + k] * xs[k]).sum();
                assert!((y[i] - want).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn symmetry_check_finds_the_first_asymmetric_pair_at_every_position() {
        for n in 1_usize..=11 {
            let mut a: Vec<f64> = (0..n * n)
                .map(|k| {
                    let (i, j) = (k / n, k % n);
                    1.0 / (1.0 + i.abs_diff(j) as f64) + if i == j { 1.0 } else { 0.0 }
                })
                .collect();
            assert_eq!(check_symmetric(&a, n), Ok(()));
            for i in 0..n {
                for j in 0..n {
                    if i == j {
                        continue;
                    }
                    let keep = a[i * n + j];
                    a[i * n + j] += 1e-6;
                    let (row, col) = (i.min(j), i.max(j));
                    assert_eq!(
                        check_symmetric(&a, n),
                        Err(LinalgError::NotSymmetric { row, col }),
                        "n = {n}, ({i}, {j})"
                    );
                    a[i * n + j] = keep + 1e-11;
                    assert_eq!(check_symmetric(&a, n), Ok(()), "within tolerance");
                    a[i * n + j] = keep;
                }
            }
        }
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f64> = (0..11).map(|i| f64::from(i) * 0.5 - 1.0).collect();
        let b: Vec<f64> = (0..11).map(|i| 2.0 - f64::from(i) * 0.25).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-12);
    }
}
