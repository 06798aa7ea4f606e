//! [`Dataset`]: features and targets with the same number of rows, and
//! [`Batches`], the iterator over `(x, y)` mini-batches.

use std::fmt;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Features and targets of the same samples: row `i` of [`features`](Self::features)
/// goes with row `i` of [`targets`](Self::targets).
///
/// Both tensors have the samples on their first axis; the other axes are
/// free (`[n, d]` tables, `[n, 28, 28]` images, `[n, 1]` class indices,
/// `[n, c]` one-hot rows). Cloning a dataset copies no element.
///
/// # Shapes
///
/// `features: [n, ...]`, `targets: [n, ...]`.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::Dataset};
///
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
/// let y = Tensor::from_vec(vec![0.0f32, 1.0, 0.0], &[3, 1])?;
/// let ds = Dataset::new(x, y)?;
/// assert_eq!(ds.len(), 3);
/// assert_eq!(ds.features().shape(), &[3, 2]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone)]
pub struct Dataset<T: Float = f32> {
    features: Tensor<T>,
    targets: Tensor<T>,
}

impl<T: Float> Dataset<T> {
    /// Pairs features with targets, checking that both have the same number
    /// of rows.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] if either tensor is a scalar;
    /// [`Error::InvalidArgument`] naming both row counts if they differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::<f32>::zeros(&[4, 2])?;
    /// let err = Dataset::new(x, Tensor::zeros(&[3, 1])?).unwrap_err();
    /// assert_eq!(err.to_string(), "Dataset::new: features have 4 rows but targets have 3 (shapes [4, 2] and [3, 1])");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new(features: Tensor<T>, targets: Tensor<T>) -> Result<Self> {
        for t in [&features, &targets] {
            if t.ndim() == 0 {
                return Err(Error::RankMismatch {
                    op: "Dataset::new",
                    expected: "a tensor with a row axis (rank >= 1)",
                    shape: t.shape().to_vec(),
                });
            }
        }
        let (n, m) = (features.shape()[0], targets.shape()[0]);
        if n != m {
            return Err(Error::InvalidArgument {
                op: "Dataset::new",
                message: format!(
                    "features have {n} rows but targets have {m} (shapes {:?} and {:?})",
                    features.shape(),
                    targets.shape()
                ),
            });
        }
        Ok(Dataset { features, targets })
    }

    /// The number of samples (rows).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::zeros(&[5, 3])?, Tensor::zeros(&[5])?)?;
    /// assert_eq!(ds.len(), 5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.features.shape()[0]
    }

    /// Whether the dataset has no rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::zeros(&[0, 3])?, Tensor::zeros(&[0])?)?;
    /// assert!(ds.is_empty());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The feature tensor, `[n, ...]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::ones(&[2, 3])?, Tensor::zeros(&[2, 1])?)?;
    /// assert_eq!(ds.features().sum(), 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn features(&self) -> &Tensor<T> {
        &self.features
    }

    /// The target tensor, `[n, ...]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::ones(&[2, 3])?, Tensor::full(&[2, 1], 7.0)?)?;
    /// assert_eq!(ds.targets().to_vec(), vec![7.0, 7.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn targets(&self) -> &Tensor<T> {
        &self.targets
    }

    /// Takes the features and targets apart, without copying.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::ones(&[2, 3])?, Tensor::zeros(&[2, 1])?)?;
    /// let (x, y) = ds.into_parts();
    /// assert_eq!((x.shape(), y.shape()), (&[2, 3][..], &[2, 1][..]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn into_parts(self) -> (Tensor<T>, Tensor<T>) {
        (self.features, self.targets)
    }

    /// The rows at `indices` (in that order, repeats allowed), as a new dataset.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] for an index `>= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0], &[3, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// assert_eq!(ds.select(&[2, 0])?.targets().to_vec(), vec![2.0, 0.0]);
    /// assert!(ds.select(&[3]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn select(&self, indices: &[usize]) -> Result<Dataset<T>> {
        Ok(Dataset {
            features: self.features.select_rows(indices)?,
            targets: self.targets.select_rows(indices)?,
        })
    }

    /// The first `n` rows (all of them if `n >= len()`), copying nothing:
    /// tf.data's `dataset.take(n)`, for a quick run on a subset.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec((0..5).map(|i| i as f32).collect(), &[5, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// assert_eq!(ds.take(2).targets().to_vec(), vec![0.0, 1.0]);
    /// assert_eq!(ds.take(100).len(), 5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn take(&self, n: usize) -> Dataset<T> {
        let n = n.min(self.len());
        Dataset {
            features: self
                .features
                .slice_rows(0..n)
                .expect("invariant: 0..min(n, len) is within the rows"),
            targets: self
                .targets
                .slice_rows(0..n)
                .expect("invariant: 0..min(n, len) is within the rows"),
        }
    }

    /// The same samples with each row of features reshaped to
    /// `sample_shape`: features `[n, ...]` become `[n, sample_shape...]`
    /// (flat MNIST rows `[n, 784]` become images `[n, 28, 28, 1]` for a
    /// CNN). The targets are unchanged; nothing is copied.
    ///
    /// # Shapes
    ///
    /// `[n, a, b, ...]` gives `[n, sample_shape...]`, where the product of
    /// `sample_shape` equals `a · b · …`.
    ///
    /// # Errors
    ///
    /// [`Error::ElementCount`] (op `reshape`) naming both shapes if
    /// `sample_shape` does not hold the same number of elements as a row.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::zeros(&[3, 12])?, Tensor::zeros(&[3, 1])?)?;
    /// assert_eq!(ds.reshape_features(&[2, 6, 1])?.features().shape(), &[3, 2, 6, 1]);
    /// let err = ds.reshape_features(&[5]).unwrap_err();
    /// assert_eq!(err.to_string(), "reshape: shape [3, 5] needs 15 elements, got 36");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn reshape_features(&self, sample_shape: &[usize]) -> Result<Dataset<T>> {
        let mut shape = Vec::with_capacity(sample_shape.len() + 1);
        shape.push(self.len());
        shape.extend_from_slice(sample_shape);
        self.with_features(self.features.reshape(&shape)?)
    }

    /// The same targets with new features (same row count, checked).
    pub(crate) fn with_features(&self, features: Tensor<T>) -> Result<Dataset<T>> {
        Dataset::new(features, self.targets.clone())
    }

    /// Converts both tensors to another float type.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::ones(&[2, 3])?, Tensor::zeros(&[2, 1])?)?;
    /// let ds64: Dataset<f64> = ds.cast();
    /// assert_eq!(ds64.features().sum(), 6.0f64);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            features: self.features.cast(),
            targets: self.targets.cast(),
        }
    }

    /// Iterates over `(x, y)` mini-batches of `batch_size` rows, in order;
    /// chain [`Batches::shuffle`] for a seeded random order and
    /// [`Batches::drop_remainder`] to skip a short last batch (tf.data's
    /// `dataset.shuffle(n, seed).batch(b, drop_remainder=True)`, PyTorch's
    /// `DataLoader(batch_size, shuffle, drop_last)`).
    ///
    /// In order, the batches are consecutive rows taken with
    /// [`Tensor::slice_rows`], which copies nothing. Shuffled, the rows are
    /// visited in a random order (gathered with [`Tensor::select_rows`]).
    /// Either way every row appears exactly once, and the last batch is
    /// smaller when `batch_size` does not divide `len()`, unless dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `batch_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec((0..5).map(|i| i as f32).collect(), &[5, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// let sizes: Vec<usize> = ds.batches(2)?.map(|(x, _)| x.shape()[0]).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// assert_eq!(ds.batches(2)?.shuffle(7).drop_remainder(true).count(), 2);
    /// let first: Vec<f32> = ds.batches(5)?.shuffle(7).next().unwrap().0.to_vec();
    /// let again: Vec<f32> = ds.batches(5)?.shuffle(7).next().unwrap().0.to_vec();
    /// assert_eq!(first, again);
    /// let err = ds.batches(0).unwrap_err();
    /// assert_eq!(err.to_string(), "batches: batch_size must be at least 1, got 0");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batches(&self, batch_size: usize) -> Result<Batches<T>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                op: "batches",
                message: "batch_size must be at least 1, got 0".to_string(),
            });
        }
        Ok(Batches {
            dataset: self.clone(),
            order: None,
            batch_size,
            pos: 0,
            end: self.len(),
        })
    }

    /// Iterates over shuffled `(x, y)` mini-batches of `batch_size` rows,
    /// the order drawn from `rng` (any `rand` 0.10 RNG; tapeflow re-exports
    /// the crate as [`tapeflow::rand`](crate::rand)).
    ///
    /// Calling this once per epoch with the same RNG gives a different order
    /// each epoch and the same run for the same seed. With one seed per
    /// epoch instead, [`batches`](Self::batches) and [`Batches::shuffle`]
    /// need no RNG.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `batch_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[6, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// let mut rng = StdRng::seed_from_u64(1);
    /// let mut seen: Vec<f32> = ds.batches_with_rng(4, &mut rng)?.flat_map(|(x, _)| x.to_vec()).collect();
    /// seen.sort_by(f32::total_cmp);
    /// assert_eq!(seen, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    /// // The same order as a seed of 1 gives, for the first epoch.
    /// let a: Vec<f32> = ds.batches_with_rng(6, &mut StdRng::seed_from_u64(1))?.next().unwrap().0.to_vec();
    /// assert_eq!(a, ds.batches(6)?.shuffle(1).next().unwrap().0.to_vec());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batches_with_rng<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
    ) -> Result<Batches<T>> {
        Ok(self.batches(batch_size)?.shuffle_with(rng))
    }
}

/// The iterator returned by [`Dataset::batches`]: yields `(x, y)` pairs of
/// at most `batch_size` rows.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::Dataset};
///
/// let ds = Dataset::new(Tensor::<f32>::zeros(&[10, 3])?, Tensor::zeros(&[10, 1])?)?;
/// let batches = ds.batches(4)?;
/// assert_eq!(batches.len(), 3);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct Batches<T: Float = f32> {
    dataset: Dataset<T>,
    order: Option<Vec<usize>>,
    batch_size: usize,
    pos: usize,
    end: usize,
}

impl<T: Float> Batches<T> {
    /// Visits the rows in a random order drawn from
    /// `StdRng::seed_from_u64(seed)`: the same seed gives the same batches.
    /// For a fresh order every epoch pass `seed + epoch`. Call it before
    /// iterating: it restarts from the first batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec((0..8).map(|i| i as f32).collect(), &[8, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// let order = |seed| -> tapeflow::Result<Vec<f32>> {
    ///     Ok(ds.batches(8)?.shuffle(seed).next().unwrap().0.to_vec())
    /// };
    /// assert_eq!(order(3)?, order(3)?);
    /// assert_ne!(order(3)?, order(4)?);
    /// let mut sorted = order(3)?;
    /// sorted.sort_by(f32::total_cmp);
    /// assert_eq!(sorted, (0..8).map(|i| i as f32).collect::<Vec<_>>());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn shuffle(self, seed: u64) -> Self {
        self.shuffle_with(&mut StdRng::seed_from_u64(seed))
    }

    fn shuffle_with<R: Rng + ?Sized>(mut self, rng: &mut R) -> Self {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        order.shuffle(rng);
        self.order = Some(order);
        self.pos = 0;
        self
    }

    /// Whether to skip the last batch when it is smaller than `batch_size`
    /// (tf.data's `drop_remainder`, PyTorch's `drop_last`; default `false`).
    /// Call it before iterating: it restarts from the first batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::zeros(&[10, 3])?, Tensor::zeros(&[10, 1])?)?;
    /// assert_eq!(ds.batches(4)?.len(), 3);
    /// assert_eq!(ds.batches(4)?.drop_remainder(true).len(), 2);
    /// assert_eq!(ds.batches(4)?.drop_remainder(true).drop_remainder(false).len(), 3);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn drop_remainder(mut self, drop_remainder: bool) -> Self {
        let n = self.dataset.len();
        self.end = if drop_remainder {
            n - n % self.batch_size
        } else {
            n
        };
        self.pos = 0;
        self
    }
}

impl<T: Float> Iterator for Batches<T> {
    type Item = (Tensor<T>, Tensor<T>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        // Saturating: a batch_size of usize::MAX means "everything".
        let stop = self.pos.saturating_add(self.batch_size).min(self.end);
        let (x, y) = (&self.dataset.features, &self.dataset.targets);
        let batch = match &self.order {
            None => (
                x.slice_rows(self.pos..stop)
                    .expect("invariant: batch range within the dataset"),
                y.slice_rows(self.pos..stop)
                    .expect("invariant: batch range within the dataset"),
            ),
            Some(order) => {
                let idx = &order[self.pos..stop];
                (
                    x.select_rows(idx)
                        .expect("invariant: shuffled indices within the dataset; a batch is a copy of at most the dataset's own rows"),
                    y.select_rows(idx)
                        .expect("invariant: shuffled indices within the dataset; a batch is a copy of at most the dataset's own rows"),
                )
            }
        };
        self.pos = stop;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<T: Float> ExactSizeIterator for Batches<T> {}

impl<T: Float> fmt::Debug for Dataset<T> {
    /// The shapes only: `Dataset { features: [150, 4], targets: [150, 1] }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("features", &self.features.shape())
            .field("targets", &self.targets.shape())
            .finish()
    }
}

impl<T: Float> fmt::Debug for Batches<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batches")
            .field("dataset", &self.dataset)
            .field("batch_size", &self.batch_size)
            .field("shuffled", &self.order.is_some())
            .field("remaining", &self.len())
            .finish()
    }
}
