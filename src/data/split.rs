//! Splitting a dataset: [`train_test_split`] with its [`SplitOptions`]
//! (optionally stratified) and [`KFold`] cross-validation.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use super::dataset::Dataset;
use super::encode::class_indices;
use crate::element::Float;
use crate::error::{Error, Result};

/// The settings of [`train_test_split`], named as in scikit-learn's
/// `train_test_split(X, y, test_size=, random_state=, stratify=)`.
///
/// | setting | meaning | default |
/// |---|---|---|
/// | `test_size` | the share of rows in the test part, strictly between 0 and 1 | `0.25` (scikit-learn's) with [`Default`]; given to [`new`](Self::new) |
/// | [`seed`](Self::seed) | the seed of the random order (scikit-learn's `random_state`) | `0`: a fixed split, the same on every run |
/// | [`stratify`](Self::stratify) | keep each class's share in both parts | `false` |
///
/// The seed defaults to a fixed `0`, not to a fresh random one as
/// scikit-learn's `random_state=None`: every random choice in tapeflow is
/// reproducible unless asked otherwise.
///
/// # Examples
///
/// ```
/// use tapeflow::data::SplitOptions;
///
/// let opts = SplitOptions::new(0.2).seed(42).stratify(true);
/// assert_eq!((opts.test_size, opts.seed, opts.stratify), (0.2, 42, true));
/// assert_eq!(SplitOptions::default(), SplitOptions::new(0.25).seed(0).stratify(false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SplitOptions {
    /// The share of rows in the test part, strictly between 0 and 1.
    pub test_size: f64,
    /// The seed of the random order.
    pub seed: u64,
    /// Whether each class keeps its share of the rows in both parts.
    pub stratify: bool,
}

impl Default for SplitOptions {
    /// `test_size = 0.25`, `seed = 0`, no stratification.
    fn default() -> Self {
        SplitOptions::new(0.25)
    }
}

impl SplitOptions {
    /// A split with `test_size` of the rows in the test part (a ratio in
    /// `(0, 1)`, checked by [`train_test_split`]), seed 0, not stratified.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::SplitOptions;
    ///
    /// assert_eq!(SplitOptions::new(0.3).test_size, 0.3);
    /// ```
    pub fn new(test_size: f64) -> Self {
        SplitOptions {
            test_size,
            seed: 0,
            stratify: false,
        }
    }

    /// The seed of the random order (default 0): the same seed gives the
    /// same split.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::SplitOptions;
    ///
    /// assert_eq!(SplitOptions::new(0.2).seed(7).seed, 7);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether each class keeps its share of the rows in both parts
    /// (default `false`); the classes are read from the targets with
    /// [`class_indices`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::SplitOptions;
    ///
    /// assert!(SplitOptions::new(0.2).stratify(true).stratify);
    /// ```
    pub fn stratify(mut self, stratify: bool) -> Self {
        self.stratify = stratify;
        self
    }
}

/// Splits a dataset at random into a training and a test part, as
/// scikit-learn's `train_test_split`.
///
/// The test part has `ceil(test_size * n)` rows (as in scikit-learn), the
/// training part the rest; both come out in a random order drawn from
/// `StdRng::seed_from_u64(seed)`, so the same seed gives the same split.
/// The settings and their defaults are on [`SplitOptions`].
///
/// With `stratify(true)`, each class keeps (as nearly as whole rows allow)
/// its share of the data in both parts; classes are read from the targets
/// with [`class_indices`]: a column of class indices `[n]` / `[n, 1]` or
/// one-hot rows `[n, c]`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming the value and the row count if
/// `test_size` is not strictly between 0 and 1 (0, 1 and NaN are refused)
/// or if either part would be empty; the errors of [`class_indices`] when
/// stratifying. Stratifying also refuses, as scikit-learn's
/// `StratifiedShuffleSplit` does, a class with fewer than 2 members (it
/// cannot be on both sides; the message names the class and its count) and
/// a test or train part with fewer rows than there are classes (it cannot
/// hold every class). Memory is proportional to the number of rows and
/// distinct classes, not to the label values: labels `{0, 1e9}` are two
/// classes.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::{Dataset, SplitOptions, train_test_split}};
///
/// let x = Tensor::from_vec((0..10).map(|i| i as f32).collect(), &[10, 1])?;
/// let y = Tensor::from_vec(vec![0.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0], &[10, 1])?;
/// let ds = Dataset::new(x, y)?;
/// let (train, test) = train_test_split(&ds, SplitOptions::new(0.4).seed(3).stratify(true))?;
/// assert_eq!((train.len(), test.len()), (6, 4));
/// assert_eq!(test.targets().sum(), 2.0);          // two of each class
/// let err = train_test_split(&ds, SplitOptions::new(1.5)).unwrap_err();
/// assert_eq!(err.to_string(), "train_test_split: test_size must be in (0, 1), got 1.5 (10 rows)");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn train_test_split<T: Float>(
    dataset: &Dataset<T>,
    options: SplitOptions,
) -> Result<(Dataset<T>, Dataset<T>)> {
    let SplitOptions {
        test_size,
        seed,
        stratify,
    } = options;
    let n = dataset.len();
    let fail = |why: &str| Error::InvalidArgument {
        op: "train_test_split",
        message: format!("{why}, got {test_size} ({n} rows)"),
    };
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(fail("test_size must be in (0, 1)"));
    }
    // The small tolerance keeps 0.7 * 10 = 7.000000000000001 from becoming 8.
    let n_test = (test_size * n as f64 - 1e-9).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(fail(
            "too few rows for a non-empty train and test split with this test_size",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut test) = if stratify {
        let classes = class_indices(dataset.targets())?;
        stratified_indices(&classes, n_test, &mut rng)?
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let train = order.split_off(n_test);
        (train, order)
    };
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Ok((dataset.select(&train)?, dataset.select(&test)?))
}

/// Picks `n_test` rows so that every class gets its proportional share
/// (largest remainders break the rounding), returning `(train, test)`.
fn stratified_indices(
    classes: &[usize],
    n_test: usize,
    rng: &mut StdRng,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let fail = |message: String| Error::InvalidArgument {
        op: "train_test_split",
        message,
    };
    let n = classes.len();
    // One entry per distinct label, in label order: memory follows the
    // number of classes, never the largest label value.
    let mut by_label: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (row, &c) in classes.iter().enumerate() {
        by_label.entry(c).or_default().push(row);
    }
    if let Some((label, rows)) = by_label.iter().find(|(_, rows)| rows.len() < 2) {
        return Err(fail(format!(
            "cannot stratify: class {label} has only {} member, too few to be in both the train and the test part (at least 2 needed)",
            rows.len()
        )));
    }
    let k = by_label.len();
    let n_train = n - n_test;
    if n_test < k || n_train < k {
        let (part, size) = if n_test < k {
            ("test", n_test)
        } else {
            ("train", n_train)
        };
        return Err(fail(format!(
            "cannot stratify: the {part} part has {size} rows, fewer than the {k} classes; change test_size or do not stratify"
        )));
    }
    let mut members: Vec<Vec<usize>> = by_label.into_values().collect();
    // Exact share of class c is count_c * n_test / n; give each class the
    // floor, then one more row to the largest fractional parts. In u128:
    // count_c * n_test can exceed usize for billions of rows.
    let share = |count: usize| (count as u128 * n_test as u128 / n as u128) as usize;
    let remainder = |count: usize| count as u128 * n_test as u128 % n as u128;
    let mut take: Vec<usize> = members.iter().map(|m| share(m.len())).collect();
    let mut left = n_test - take.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..k).collect();
    by_remainder.sort_by_key(|&c| std::cmp::Reverse(remainder(members[c].len())));
    for &c in by_remainder.iter().cycle().take(k * 2) {
        if left == 0 {
            break;
        }
        if take[c] < members[c].len() {
            take[c] += 1;
            left -= 1;
        }
    }
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (c, rows) in members.iter_mut().enumerate() {
        rows.shuffle(rng);
        test.extend_from_slice(&rows[..take[c]]);
        train.extend_from_slice(&rows[take[c]..]);
    }
    Ok((train, test))
}

/// K-fold cross-validation: `n_splits` folds, each used once as the test
/// part while the others train.
///
/// Folds are consecutive runs of the row order (shuffled from `seed` when
/// `shuffle` is set); the first `n % n_splits` folds have one extra row, as
/// in scikit-learn.
///
/// # Examples
///
/// ```
/// use tapeflow::data::KFold;
///
/// let folds = KFold { n_splits: 3, shuffle: false, seed: 0 }.split(7)?;
/// assert_eq!(folds.len(), 3);
/// assert_eq!(folds[0].1, vec![0, 1, 2]);
/// assert_eq!(folds[2].0, vec![0, 1, 2, 3, 4]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KFold {
    /// The number of folds, at least 2.
    pub n_splits: usize,
    /// Whether to shuffle the rows before cutting them into folds.
    pub shuffle: bool,
    /// The seed of the shuffle (unused without `shuffle`).
    pub seed: u64,
}

impl KFold {
    /// `n_splits` folds without shuffling.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::KFold;
    ///
    /// assert_eq!(KFold::new(5), KFold { n_splits: 5, shuffle: false, seed: 0 });
    /// ```
    pub fn new(n_splits: usize) -> Self {
        KFold {
            n_splits,
            shuffle: false,
            seed: 0,
        }
    }

    /// Whether to shuffle the rows before cutting them into folds (default
    /// `false`), as scikit-learn's `KFold(shuffle=True)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::KFold;
    ///
    /// let kf = KFold::new(5).shuffle(true).seed(42);
    /// assert_eq!(kf, KFold { n_splits: 5, shuffle: true, seed: 42 });
    /// ```
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffle (default 0; scikit-learn's `random_state`),
    /// used only with [`shuffle`](Self::shuffle).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::KFold;
    ///
    /// let a = KFold::new(3).shuffle(true).seed(1).split(9)?;
    /// let b = KFold::new(3).shuffle(true).seed(1).split(9)?;
    /// assert_eq!(a, b);
    /// assert_ne!(a, KFold::new(3).shuffle(true).seed(2).split(9)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The `(train_indices, test_indices)` of each fold for `n_rows` rows.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `n_splits < 2` or `n_splits > n_rows`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::KFold;
    ///
    /// let folds = KFold::new(2).shuffle(true).seed(9).split(4)?;
    /// let mut all: Vec<usize> = folds.iter().flat_map(|(_, test)| test.clone()).collect();
    /// all.sort();
    /// assert_eq!(all, vec![0, 1, 2, 3]);
    /// assert!(KFold::new(5).split(4).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn split(&self, n_rows: usize) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
        let k = self.n_splits;
        if k < 2 || k > n_rows {
            return Err(Error::InvalidArgument {
                op: "KFold::split",
                message: format!("n_splits must be in [2, {n_rows}] for {n_rows} rows, got {k}"),
            });
        }
        // Every fold holds all n_rows indices (train + test): k·n_rows in
        // all, checked and allocated fallibly (`split(usize::MAX)` is an
        // error, not an abort).
        const OP: &str = "KFold::split";
        crate::tensor::checked_numel::<usize>(OP, &[k, n_rows])?;
        let mut order: Vec<usize> = crate::tensor::try_alloc(OP, &[n_rows])?;
        order.extend(0..n_rows);
        if self.shuffle {
            order.shuffle(&mut StdRng::seed_from_u64(self.seed));
        }
        let mut folds = Vec::with_capacity(k);
        let mut start = 0;
        for f in 0..k {
            let size = n_rows / k + usize::from(f < n_rows % k);
            let mut test = crate::tensor::try_alloc(OP, &[size])?;
            test.extend_from_slice(&order[start..start + size]);
            let mut train = crate::tensor::try_alloc(OP, &[n_rows - size])?;
            train.extend_from_slice(&order[..start]);
            train.extend_from_slice(&order[start + size..]);
            folds.push((train, test));
            start += size;
        }
        Ok(folds)
    }

    /// The `(train, test)` datasets of each fold.
    ///
    /// # Errors
    ///
    /// As [`split`](Self::split) with `dataset.len()` rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::{Dataset, KFold}};
    ///
    /// let ds = Dataset::new(Tensor::<f32>::zeros(&[10, 2])?, Tensor::zeros(&[10, 1])?)?;
    /// for (train, test) in KFold::new(5).split_dataset(&ds)? {
    ///     assert_eq!((train.len(), test.len()), (8, 2));
    /// }
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn split_dataset<T: Float>(
        &self,
        dataset: &Dataset<T>,
    ) -> Result<Vec<(Dataset<T>, Dataset<T>)>> {
        self.split(dataset.len())?
            .into_iter()
            .map(|(train, test)| Ok((dataset.select(&train)?, dataset.select(&test)?)))
            .collect()
    }
}
