//! Missing values in a feature table, where `NaN` marks a missing cell:
//! [`drop_missing_rows`] and [`impute_missing`].

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// How [`impute_missing`] fills a missing cell.
///
/// # Examples
///
/// ```
/// use tapeflow::data::Impute;
///
/// assert_ne!(Impute::Mean, Impute::Constant(0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Impute {
    /// The mean of the column's present values.
    Mean,
    /// The median of the column's present values (the mean of the two middle
    /// values for an even count).
    Median,
    /// A fixed value for every column.
    Constant(f64),
}

/// Checks for a 2-D `[n, d]` table.
fn table_dims<T: Float>(op: &'static str, x: &Tensor<T>) -> Result<(usize, usize)> {
    match x.shape() {
        &[n, d] => Ok((n, d)),
        s => Err(Error::RankMismatch {
            op,
            expected: "a 2-d table [rows, columns]",
            shape: s.to_vec(),
        }),
    }
}

/// Removes every row that holds a `NaN`, returning the kept rows and their
/// indices in the input (so the targets can follow with
/// [`Tensor::select_rows`] or [`Dataset::select`](super::Dataset::select)).
///
/// # Shapes
///
/// `[n, d]` gives `[m, d]` with `m <= n`.
///
/// # Errors
///
/// [`Error::RankMismatch`] unless `x` is 2-D.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::drop_missing_rows};
///
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, f32::NAN, 4.0, 5.0, 6.0], &[3, 2])?;
/// let (clean, kept) = drop_missing_rows(&x)?;
/// assert_eq!(kept, vec![0, 2]);
/// assert_eq!(clean.to_vec(), vec![1.0, 2.0, 5.0, 6.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn drop_missing_rows<T: Float>(x: &Tensor<T>) -> Result<(Tensor<T>, Vec<usize>)> {
    let (_, d) = table_dims("drop_missing_rows", x)?;
    let kept: Vec<usize> = if d == 0 {
        (0..x.shape()[0]).collect()
    } else {
        x.as_slice()
            .chunks(d)
            .enumerate()
            .filter(|(_, row)| !row.iter().any(|v| v.is_nan()))
            .map(|(i, _)| i)
            .collect()
    };
    Ok((x.select_rows(&kept)?, kept))
}

/// Replaces each `NaN` by a per-column value chosen by `strategy`.
///
/// Mean and median are computed (in `f64`) over the column's present values
/// of `x` itself; to fill a test set with the training set's values, compute
/// them on the training set and use [`Impute::Constant`] per column, or
/// impute before splitting.
///
/// # Errors
///
/// [`Error::RankMismatch`] unless `x` is 2-D; [`Error::InvalidArgument`]
/// naming the column if a column has no present value to take a mean or
/// median of, or for a `Constant` that is NaN, infinite or beyond the
/// element type's range (`1e39` for `f32`), naming the value.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::{Impute, impute_missing}};
///
/// let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0, 10.0, f32::NAN, 20.0], &[3, 2])?;
/// assert_eq!(impute_missing(&x, Impute::Mean)?.to_vec(), vec![1.0, 15.0, 3.0, 10.0, 2.0, 20.0]);
/// assert_eq!(impute_missing(&x, Impute::Constant(0.0))?.to_vec(), vec![1.0, 0.0, 3.0, 10.0, 0.0, 20.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn impute_missing<T: Float>(x: &Tensor<T>, strategy: Impute) -> Result<Tensor<T>> {
    let (n, d) = table_dims("impute_missing", x)?;
    let xs = x.as_slice();
    let mut fill = Vec::with_capacity(d);
    for j in 0..d {
        let mut present: Vec<f64> = (0..n)
            .map(|i| xs[i * d + j].to_f64())
            .filter(|v| !v.is_nan())
            .collect();
        let value = match strategy {
            Impute::Constant(c) => {
                // NaN would "fill" a missing cell with a missing cell, and
                // a constant beyond the element type's range with inf.
                if !T::from_f64(c).is_finite() {
                    return Err(Error::InvalidArgument {
                        op: "impute_missing",
                        message: format!("Constant({c}) must be a finite value of {}", T::NAME),
                    });
                }
                c
            }
            _ if present.is_empty() => {
                return Err(Error::InvalidArgument {
                    op: "impute_missing",
                    message: format!(
                        "column {j} has no present value to compute a {strategy:?} from"
                    ),
                });
            }
            // Scaled first: the plain sum of values near 1e308 overflows.
            Impute::Mean => super::scale::column_moments(&present).0,
            Impute::Median => {
                present.sort_by(f64::total_cmp);
                let m = present.len() / 2;
                if present.len() % 2 == 1 {
                    present[m]
                } else {
                    // Halves first: the sum of two values near 1e308 overflows.
                    present[m - 1] / 2.0 + present[m] / 2.0
                }
            }
        };
        fill.push(T::from_f64(value));
    }
    let data = xs
        .iter()
        .enumerate()
        .map(|(k, &v)| if v.is_nan() { fill[k % d] } else { v })
        .collect();
    Tensor::from_vec(data, &[n, d])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_is_mean_of_middle_pair() {
        let x = Tensor::from_vec(vec![4.0f64, 1.0, f64::NAN, 3.0, 2.0], &[5, 1]).unwrap();
        // present values 1, 2, 3, 4: median (2 + 3) / 2
        let y = impute_missing(&x, Impute::Median).unwrap();
        assert_eq!(y.to_vec(), vec![4.0, 1.0, 2.5, 3.0, 2.0]);
    }

    #[test]
    fn all_missing_column_names_the_column() {
        let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 2.0, f32::NAN], &[2, 2]).unwrap();
        let err = impute_missing(&x, Impute::Median).unwrap_err();
        assert_eq!(
            err.to_string(),
            "impute_missing: column 1 has no present value to compute a Median from"
        );
    }
}
