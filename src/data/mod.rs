//! Data preparation: everything between a file on disk and a batch of
//! [`Tensor`](crate::Tensor)s ready for training.
//!
//! This module owns
//! - [`Dataset`] (features and targets with matching row counts) and its
//!   seeded, copy-free batching ([`Dataset::batches`]);
//! - splits: [`train_test_split`] (optionally stratified) and [`KFold`];
//! - preprocessing: [`StandardScaler`] and [`MinMaxScaler`] (serialisable
//!   with `to_json` / `from_json`), [`one_hot`] / [`to_categorical`],
//!   [`LabelEncoder`], missing values ([`drop_missing_rows`],
//!   [`impute_missing`]);
//! - loaders: CSV ([`load_csv`], [`read_csv`]) and IDX as used by MNIST
//!   ([`load_idx_images`], [`load_idx_labels`], [`load_mnist`]).
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
//! The whole preparation of Iris:
//!
//! ```
//! use tapeflow::data::{load_csv, one_hot, class_indices, train_test_split, LabelColumn, StandardScaler};
//!
//! let iris = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), LabelColumn::Name("target".into()))?;
//! let (train, test) = train_test_split(&iris.to_dataset()?, 0.2, 42, true)?;
//! let mut scaler = StandardScaler::new();
//! let x_train = scaler.fit_transform(train.features())?;
//! let x_test = scaler.transform(test.features())?;
//! let y_train = one_hot::<f32>(&class_indices(train.targets())?, 3)?;
//! assert_eq!((x_train.shape(), x_test.shape()), (&[120, 4][..], &[30, 4][..]));
//! assert_eq!(y_train.shape(), &[120, 3]);
//! # Ok::<(), tapeflow::Error>(())
//! ```

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
pub use split::{KFold, train_test_split};
pub use text::{CharTokenizer, TextWindows};
