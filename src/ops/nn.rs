//! Fused, numerically stable loss primitives on [`Var`]: softmax
//! cross-entropy from logits (dense and sparse labels), sigmoid
//! cross-entropy from logits, and the squared difference.
//!
//! Each is one recorded node with one backward rule, written for stability
//! (log-sum-exp and log-sigmoid forms, so logits of ±100 or more give finite,
//! exact results) and for speed (no intermediate nodes). The losses in
//! [`losses`](crate::losses) are built on them; the names follow TensorFlow's
//! `tf.nn` functions of the same purpose.

use crate::element::Float;
use crate::element::split_threads;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::exp_kernel::exp_nonpositive;
use crate::tensor::simd::{lane_max, lane_sum, widest};
use rayon::prelude::*;

/// Shape of the per-row result of a reduction over the last axis.
fn row_shape(shape: &[usize]) -> Vec<usize> {
    shape[..shape.len().saturating_sub(1)].to_vec()
}

/// Per-row `log_softmax` of a `[rows, classes]` slice: returns the log
/// probabilities (same layout as `z`).
fn log_softmax_rows<T: Float>(z: &[T], classes: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(z.len());
    for row in z.chunks(classes) {
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let s: T = row.iter().map(|&v| (v - m).exp()).sum();
        let log_s = s.ln();
        out.extend(row.iter().map(|&v| (v - m) - log_s));
    }
    out
}

/// Per row `r` of a `[rows, classes]` slice: writes the probabilities
/// `softmax(zᵣ)` into `probs` (same layout as `z`) and into `loss[r]` the
/// loss
/// `lse(zᵣ) - zᵣ[labelᵣ]`, as `-((zᵣ[l] - m) - ln s)` with `m = max zᵣ`
/// and `s = Σ e^(zᵣⱼ - m)`. The maximum and the sum in eight lanes, the
/// `exp` of the non-positive `zᵣⱼ - m` as arithmetic
/// ([`exp_nonpositive`]): loops the compiler vectorizes.
///
/// `labels` holds one class `< classes` per row (checked by the caller).
#[inline(always)]
fn sparse_softmax_rows<T: Float>(
    z: &[T],
    classes: usize,
    labels: &[usize],
    probs: &mut [T],
    loss: &mut [T],
) {
    for (((row, pr), &l), lr) in z
        .chunks_exact(classes)
        .zip(probs.chunks_exact_mut(classes))
        .zip(labels)
        .zip(loss.iter_mut())
    {
        let m = lane_max(row, |v| v);
        for (p, &v) in pr.iter_mut().zip(row) {
            *p = exp_nonpositive(v - m);
        }
        let s = lane_sum(pr, |v| v);
        // invariant: l < classes, checked by the caller.
        *lr = -((row[l] - m) - s.ln());
        let inv = T::one() / s;
        for p in pr.iter_mut() {
            *p *= inv;
        }
    }
}

/// Rows of a piece when the sparse cross-entropy is split over the pool;
/// every row is its own, so the bits do not depend on the thread count.
const PIECE_ROWS: usize = 64;

/// A forward piece of the sparse cross-entropy: the logit rows, their
/// labels, their probabilities, their losses.
type ForwardPiece<'a, T> = (((&'a [T], &'a [usize]), &'a mut [T]), &'a mut [T]);

/// A backward piece: the `dz` rows, their probabilities, their upstream
/// gradients, their labels.
type BackwardPiece<'a, T> = (((&'a mut [T], &'a [T]), &'a [T]), &'a [usize]);

/// Checks that `logits` has a non-empty class axis (its last).
fn class_count(op: &'static str, shape: &[usize]) -> Result<usize> {
    match shape.last() {
        Some(&c) if c > 0 => Ok(c),
        _ => Err(Error::RankMismatch {
            op,
            expected: "logits with a non-empty last (class) axis",
            shape: shape.to_vec(),
        }),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Softmax cross-entropy between these logits and `labels` (a
    /// distribution per row, e.g. one-hot), reduced over the last axis:
    /// `ℓ = -Σⱼ yⱼ · log_softmax(z)ⱼ = Σⱼ yⱼ (lse(z) - zⱼ)` with
    /// `lse(z) = max z + ln Σ e^(z - max z)`, so logits of any size are finite.
    ///
    /// Gradient: `dz = g · (softmax(z) · Σⱼ yⱼ - y)`, `dy = -g · log_softmax(z)`.
    ///
    /// # Shapes
    ///
    /// `self` and `labels`: `[..., classes]` (the same shape); result: `[...]`
    /// (the last axis removed; a scalar for 1-D input).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ; [`Error::RankMismatch`]
    /// for a scalar or an empty class axis; [`Error::TapeMismatch`] if the
    /// operands are on different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let z = tape.watch(&Tensor::from_vec(vec![100.0f64, -100.0, 0.0, 0.0], &[2, 2])?);
    /// let y = tape.constant(&Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2])?);
    /// let loss = z.softmax_cross_entropy_with_logits(&y)?;
    /// assert_eq!(loss.value().to_vec(), vec![200.0, 2f64.ln()]);
    /// let g = tape.gradient(&loss.sum(), [z])?;
    /// assert_eq!(g.get(z).unwrap().to_vec(), vec![1.0, -1.0, -0.5, 0.5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softmax_cross_entropy_with_logits(&self, labels: &Var<'_, T>) -> Result<Var<'t, T>> {
        const OP: &str = "softmax_cross_entropy_with_logits";
        self.same_tape(OP, labels)?;
        let (z, y) = (self.value(), labels.value());
        if z.shape() != y.shape() {
            return Err(Error::ShapeMismatch {
                op: OP,
                lhs: z.shape().to_vec(),
                rhs: y.shape().to_vec(),
            });
        }
        let classes = class_count(OP, z.shape())?;
        let log_p = log_softmax_rows(z.as_slice(), classes);
        let loss = log_p
            .chunks(classes)
            .zip(y.as_slice().chunks(classes))
            // A zero label contributes 0 even where log p is -inf (a logit
            // more than the type's range below the row's maximum), not NaN.
            .map(|(lp, yr)| {
                -lp.iter()
                    .zip(yr)
                    .map(|(&l, &t)| if t == T::zero() { t } else { t * l })
                    .sum::<T>()
            })
            .collect();
        let shape = z.shape().to_vec();
        let value = Tensor::from_parts(loss, row_shape(&shape));
        let labels_sum: Vec<T> = y
            .as_slice()
            .chunks(classes)
            .map(|r| r.iter().copied().sum())
            .collect();
        Ok(self.tape().record([*self, *labels], value, move |g| {
            // invariant: g has one element per row of the checked shapes.
            let g = g.as_slice();
            let ys = y.as_slice();
            let mut dz = Vec::with_capacity(log_p.len());
            let mut dy = Vec::with_capacity(log_p.len());
            for (r, (lp, yr)) in log_p.chunks(classes).zip(ys.chunks(classes)).enumerate() {
                for (&l, &t) in lp.iter().zip(yr) {
                    dz.push(g[r] * (l.exp() * labels_sum[r] - t));
                    dy.push(-g[r] * l);
                }
            }
            [
                Tensor::from_parts(dz, shape.clone()),
                Tensor::from_parts(dy, shape.clone()),
            ]
        }))
    }

    /// Softmax cross-entropy between these logits and integer class
    /// `labels`, one per row: `ℓᵣ = lse(zᵣ) - zᵣ[labelᵣ]`, stable for any
    /// logits.
    ///
    /// Gradient: `dz = g · (softmax(z) - onehot(label))`.
    ///
    /// # Shapes
    ///
    /// `self`: `[..., classes]`; `labels`: one per row, i.e. the product of
    /// the leading dimensions; result: `[...]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] for a scalar or an empty class axis;
    /// [`Error::ElementCount`] if there is not one label per row;
    /// [`Error::IndexOutOfRange`] for a label `>= classes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let z = tape.watch(&Tensor::from_vec(vec![0.0f64, 0.0, 3.0, -100.0], &[2, 2])?);
    /// let loss = z.sparse_softmax_cross_entropy_with_logits(&[1, 1])?;
    /// assert!((loss.value().to_vec()[0] - 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(loss.value().to_vec()[1], 103.0);
    /// let g = tape.gradient(&loss.sum(), [z])?;
    /// assert_eq!(g.get(z).unwrap().to_vec()[..2], [0.5, -0.5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sparse_softmax_cross_entropy_with_logits(&self, labels: &[usize]) -> Result<Var<'t, T>> {
        const OP: &str = "sparse_softmax_cross_entropy_with_logits";
        let z = self.value();
        let shape = z.shape().to_vec();
        let classes = class_count(OP, &shape)?;
        let rows = z.len() / classes;
        if labels.len() != rows {
            return Err(Error::ElementCount {
                op: OP,
                shape: row_shape(&shape),
                expected: rows,
                got: labels.len(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= classes) {
            return Err(Error::IndexOutOfRange {
                op: OP,
                index: bad,
                len: classes,
            });
        }
        // One pass over the logits gives the loss and keeps the
        // probabilities the gradient needs (no second `exp` in backward).
        let mut probs = vec![T::zero(); z.len()];
        let mut loss = vec![T::zero(); rows];
        let piece = |(((zp, lp), pp), op): ForwardPiece<'_, T>| {
            widest(
                #[inline(always)]
                || sparse_softmax_rows(zp, classes, lp, pp, op),
            )
        };
        let len = PIECE_ROWS.saturating_mul(classes);
        if split_threads(z.len()) > 1 {
            crate::in_pool(|| {
                z.as_slice()
                    .par_chunks(len)
                    .zip(labels.par_chunks(PIECE_ROWS))
                    .zip(probs.par_chunks_mut(len))
                    .zip(loss.par_chunks_mut(PIECE_ROWS))
                    .for_each(piece)
            });
        } else {
            z.as_slice()
                .chunks(len)
                .zip(labels.chunks(PIECE_ROWS))
                .zip(probs.chunks_mut(len))
                .zip(loss.chunks_mut(PIECE_ROWS))
                .for_each(piece);
        }
        let value = Tensor::from_parts(loss, row_shape(&shape));
        let labels = labels.to_vec();
        Ok(self.tape().record([*self], value, move |g| {
            // invariant: g has one element per row; labels were checked.
            let g = g.as_slice();
            let mut dz = vec![T::zero(); probs.len()];
            let piece = |(((dp, pp), gp), lp): BackwardPiece<'_, T>| {
                widest(
                    #[inline(always)]
                    || {
                        for (((dr, pr), &gr), &l) in dp
                            .chunks_exact_mut(classes)
                            .zip(pp.chunks_exact(classes))
                            .zip(gp)
                            .zip(lp)
                        {
                            for (d, &p) in dr.iter_mut().zip(pr) {
                                *d = gr * p;
                            }
                            // invariant: l < classes (labels checked above).
                            dr[l] -= gr;
                        }
                    },
                )
            };
            let len = PIECE_ROWS.saturating_mul(classes);
            if split_threads(dz.len()) > 1 {
                crate::in_pool(|| {
                    dz.par_chunks_mut(len)
                        .zip(probs.par_chunks(len))
                        .zip(g.par_chunks(PIECE_ROWS))
                        .zip(labels.par_chunks(PIECE_ROWS))
                        .for_each(piece)
                });
            } else {
                dz.chunks_mut(len)
                    .zip(probs.chunks(len))
                    .zip(g.chunks(PIECE_ROWS))
                    .zip(labels.chunks(PIECE_ROWS))
                    .for_each(piece);
            }
            [Tensor::from_parts(dz, shape.clone())]
        }))
    }

    /// Sigmoid cross-entropy between these logits and `labels`, elementwise:
    /// `ℓ = -y ln σ(z) - (1 - y) ln(1 - σ(z)) = max(z, 0) - z·y + ln(1 + e^-|z|)`,
    /// the form that stays finite and exact for any `z`.
    ///
    /// Gradient: `dz = g · (σ(z) - y)`, `dy = -g · z`.
    ///
    /// # Shapes
    ///
    /// `self` and `labels`: the same shape; result: that shape.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ; [`Error::TapeMismatch`]
    /// if the operands are on different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let z = tape.watch(&Tensor::from_vec(vec![100.0f64, -100.0, 0.0], &[3])?);
    /// let y = tape.constant(&Tensor::from_vec(vec![0.0, 0.0, 1.0], &[3])?);
    /// let loss = z.sigmoid_cross_entropy_with_logits(&y)?;
    /// assert_eq!(loss.value().to_vec()[..2], [100.0, (-100f64).exp().ln_1p()]);
    /// let g = tape.gradient(&loss.sum(), [z])?;
    /// assert_eq!(g.get(z).unwrap().to_vec()[2], -0.5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sigmoid_cross_entropy_with_logits(&self, labels: &Var<'_, T>) -> Result<Var<'t, T>> {
        const OP: &str = "sigmoid_cross_entropy_with_logits";
        self.same_tape(OP, labels)?;
        let (z, y) = (self.value(), labels.value());
        if z.shape() != y.shape() {
            return Err(Error::ShapeMismatch {
                op: OP,
                lhs: z.shape().to_vec(),
                rhs: y.shape().to_vec(),
            });
        }
        let value = z.zip_map(&y, |z, y| {
            z.max(T::zero()) - z * y + (-z.abs()).exp().ln_1p()
        })?;
        Ok(self.tape().record([*self, *labels], value, move |g| {
            let dz = z
                .zip_map(&y, |z, y| crate::tensor::sigmoid_scalar(z) - y)
                .expect("invariant: same shape");
            [
                dz.mul(g).expect("invariant: same shape"),
                z.mul(g).expect("invariant: same shape").neg(),
            ]
        }))
    }

    /// Elementwise squared difference `(self - other)²`, broadcasting, in one
    /// node (`tf.math.squared_difference`).
    ///
    /// Gradient: `d self = 2g (self - other)`, `d other = -2g (self - other)`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes do not broadcast;
    /// [`Error::TapeMismatch`] if the operands are on different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::from_vec(vec![1.0f32, 4.0], &[2])?);
    /// let b = tape.constant(&Tensor::from_vec(vec![3.0f32, 4.0], &[2])?);
    /// let d = a.squared_difference(&b)?;
    /// assert_eq!(d.value().to_vec(), vec![4.0, 0.0]);
    /// assert_eq!(tape.gradient(&d.sum(), [a])?.get(a).unwrap().to_vec(), vec![-4.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn squared_difference(&self, other: &Var<'_, T>) -> Result<Var<'t, T>> {
        const OP: &str = "squared_difference";
        self.same_tape(OP, other)?;
        let diff = self.value().sub(&other.value()).map_err(|e| match e {
            Error::ShapeMismatch { lhs, rhs, .. } => Error::ShapeMismatch { op: OP, lhs, rhs },
            e => e,
        })?;
        let value = diff.map(|d| d * d);
        Ok(self.tape().record([*self, *other], value, move |g| {
            let two = T::from_f64(2.0);
            let da = diff
                .zip_map(g, |d, g| two * d * g)
                .expect("invariant: same shape");
            let db = da.neg();
            [da, db]
        }))
    }
}
