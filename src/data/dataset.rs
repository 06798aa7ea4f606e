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

    /// Iterates over `(x, y)` mini-batches of `batch_size` rows.
    ///
    /// Without shuffling (`shuffle = None`) the batches are consecutive rows
    /// taken with [`Tensor::slice_rows`], which copies nothing. With
    /// `shuffle = Some(seed)` the rows are visited in a random order drawn
    /// from `StdRng::seed_from_u64(seed)` (gathered with
    /// [`Tensor::select_rows`]): the same seed gives the same batches. Either
    /// way every row appears exactly once, and the last batch is smaller when
    /// `batch_size` does not divide `len()`, unless `drop_remainder` drops it.
    ///
    /// For a fresh order every epoch use [`batches_with_rng`](Self::batches_with_rng)
    /// with one RNG for the whole run (or pass `Some(seed + epoch)`).
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
    /// let sizes: Vec<usize> = ds.batches(2, None, false)?.map(|(x, _)| x.shape()[0]).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// assert_eq!(ds.batches(2, Some(7), true)?.count(), 2);
    /// let first: Vec<f32> = ds.batches(5, Some(7), false)?.next().unwrap().0.to_vec();
    /// let again: Vec<f32> = ds.batches(5, Some(7), false)?.next().unwrap().0.to_vec();
    /// assert_eq!(first, again);
    /// assert!(ds.batches(0, None, false).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        drop_remainder: bool,
    ) -> Result<Batches<T>> {
        match shuffle {
            None => self.make_batches(batch_size, None, drop_remainder),
            Some(seed) => {
                self.batches_with_rng(batch_size, &mut StdRng::seed_from_u64(seed), drop_remainder)
            }
        }
    }

    /// Iterates over shuffled `(x, y)` mini-batches, the order drawn from `rng`.
    ///
    /// Calling this once per epoch with the same RNG gives a different order
    /// each epoch and the same run for the same seed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `batch_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::{Tensor, data::Dataset};
    ///
    /// let x = Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[6, 1])?;
    /// let ds = Dataset::new(x.clone(), x)?;
    /// let mut rng = StdRng::seed_from_u64(1);
    /// let mut seen: Vec<f32> = ds.batches_with_rng(4, &mut rng, false)?.flat_map(|(x, _)| x.to_vec()).collect();
    /// seen.sort_by(f32::total_cmp);
    /// assert_eq!(seen, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batches_with_rng<R: Rng + ?Sized>(
        &self,
        batch_size: usize,
        rng: &mut R,
        drop_remainder: bool,
    ) -> Result<Batches<T>> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        self.make_batches(batch_size, Some(order), drop_remainder)
    }

    fn make_batches(
        &self,
        batch_size: usize,
        order: Option<Vec<usize>>,
        drop_remainder: bool,
    ) -> Result<Batches<T>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                op: "batches",
                message: "batch_size must be at least 1, got 0".to_string(),
            });
        }
        let n = self.len();
        let end = if drop_remainder {
            n - n % batch_size
        } else {
            n
        };
        Ok(Batches {
            dataset: self.clone(),
            order,
            batch_size,
            pos: 0,
            end,
        })
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
/// let batches = ds.batches(4, None, false)?;
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
