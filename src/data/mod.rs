//! Data preparation: everything between a file on disk and a batch of
//! [`Tensor`](crate::Tensor)s ready for training.
//!
//! This module owns
//! - [`Dataset`] (features and targets with matching row counts), its
//!   seeded, copy-free batching ([`Dataset::batches`]) and subsets
//!   ([`Dataset::take`], [`Dataset::reshape_features`]);
//! - splits: [`train_test_split`] with [`SplitOptions`] (test size, seed,
//!   stratification) and [`KFold`];
//! - preprocessing: [`StandardScaler`] and [`MinMaxScaler`] (fitted on the
//!   training split and applied to both with `fit_transform_split`;
//!   serialisable with `to_json` / `from_json`), [`one_hot`] / [`to_categorical`],
//!   [`LabelEncoder`], missing values ([`drop_missing_rows`],
//!   [`impute_missing`]);
//! - loaders: CSV ([`Dataset::from_csv`], [`load_csv`], [`read_csv`]; the
//!   rules are [below](#csv-files)) and IDX as used by MNIST
//!   ([`Mnist::load`], [`load_idx_images`], [`load_idx_labels`],
//!   [`load_mnist`]).
//!
//! It knows nothing of tapes, layers or models: it sits beside `tensor` and
//! uses only tensors, so anything that trains on `Tensor`s can use it.
//!
//! Conventions: rows are the first axis; class labels are `usize` indices,
//! stored in target tensors as a column `[n, 1]` of whole numbers (or one-hot
//! `[n, c]`); in feature tensors `NaN` means a missing value. Every random
//! choice takes a seed or a seedable RNG, so the same seed gives the same
//! split and the same batches.
//!
//! # Examples
//!
//! The whole preparation of Iris, from the file to scaled train and test
//! sets:
//!
//! ```
//! use tapeflow::data::{Dataset, SplitOptions, StandardScaler, train_test_split};
//!
//! let iris = Dataset::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), "target")?;
//! let (train, test) = train_test_split(&iris, SplitOptions::new(0.2).seed(42).stratify(true))?;
//! let (train, test) = StandardScaler::new().fit_transform_split(&train, &test)?;
//! assert_eq!((train.features().shape(), test.features().shape()), (&[120, 4][..], &[30, 4][..]));
//! assert!(train.features().mean().abs() < 1e-6);        // standardised on the training rows
//! # Ok::<(), tapeflow::Error>(())
//! ```
//!
//! MNIST, a subset of it as images for a CNN:
//!
//! ```
//! use tapeflow::data::Mnist;
//!
//! let mnist = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?.take(1000, 200).images()?;
//! assert_eq!(mnist.train.features().shape(), &[1000, 28, 28, 1]);
//! # Ok::<(), tapeflow::Error>(())
//! ```
//!
//! # CSV files
//!
//! [`Dataset::from_csv`] (a table of numbers with a label column) and
//! [`load_csv`] / [`read_csv`] (everything else: missing cells, column
//! names, the label encoder) read files with these rules:
//!
//! - **Header**: the first line names the columns (required; a file with
//!   no header or no data row is an error). Fields are separated by commas;
//!   surrounding spaces are trimmed.
//! - **Quoting** (RFC 4180): a field in double quotes may hold commas and
//!   line breaks (`"1,5"` is one field); `""` inside quotes is a quote.
//! - **Rows**: every row has as many fields as the header, else an error
//!   naming the line.
//! - **Features**: every column but the label column is a number, read as
//!   `f32`; a finite number too large for `f32` (`1e39`) is an error, an
//!   explicit `inf` is kept.
//! - **Missing values**: an empty cell, `NA`, `N/A` or `nan` (any case) in a
//!   feature column is loaded as `NaN` by [`load_csv`] and counted per
//!   column in [`CsvData::missing`]; fill them with [`impute_missing`] or
//!   drop their rows with [`drop_missing_rows`]. [`Dataset::from_csv`]
//!   refuses a file with missing cells and says so. A missing label is an
//!   error.
//! - **Labels**: a label column whose cells are all numbers is kept as
//!   written (class indices or regression targets); otherwise its cells are
//!   class names, mapped to class indices `0..k` in sorted order of the
//!   names by a [`LabelEncoder`] (kept in [`CsvData::label_encoder`]), as
//!   scikit-learn's `LabelEncoder`.
//! - The label column is given by name (`"species"`), by 0-based position
//!   (`4`), or as [`LabelColumn::Last`] / [`LabelColumn::None`]; a name not
//!   in the header is an error listing the header's columns.

mod csv;
mod dataset;
mod encode;
mod idx;
mod minmax;
mod missing;
mod scale;
mod split;
mod text;

pub use self::csv::{CsvData, LabelColumn, load_csv, read_csv};
pub use dataset::{Batches, Dataset};
pub use encode::{LabelEncoder, class_indices, one_hot, to_categorical};
pub use idx::{Mnist, load_idx_dataset, load_idx_images, load_idx_labels, load_mnist};
pub use minmax::MinMaxScaler;
pub use missing::{Impute, drop_missing_rows, impute_missing};
pub use scale::StandardScaler;
pub use split::{KFold, SplitOptions, train_test_split};
pub use text::{CharTokenizer, TextWindows};
