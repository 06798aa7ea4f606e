//! Printing: [`Display`](fmt::Display) lays a tensor out like NumPy (nested
//! brackets, right-aligned columns, `...` elision for large tensors) and
//! [`Debug`](fmt::Debug) gives a one-line summary with the shape.
//!
//! This module only formats; it never changes a tensor.

use std::fmt;

use super::{Tensor, numel};
use crate::element::Float;

/// Above this many elements, [`Display`](fmt::Display) elides the middle of
/// long dimensions (NumPy's `threshold`).
const SUMMARY_THRESHOLD: usize = 1000;

/// How many leading and trailing entries an elided dimension keeps (NumPy's
/// `edgeitems`).
const EDGE_ITEMS: usize = 3;

/// How many elements [`Debug`](fmt::Debug) prints before `...`.
const DEBUG_ITEMS: usize = 8;

/// Formats one element: with the requested precision, or else the shortest
/// representation Rust's `{}` gives (`1` for `1.0`, `0.1` for `0.1`).
fn cell<T: Float>(x: T, precision: Option<usize>) -> String {
    match precision {
        Some(p) => format!("{x:.p$}"),
        None => format!("{x}"),
    }
}

/// The entries of a dimension of extent `n` that are printed, in order;
/// `None` stands for the `...` gap.
fn visible(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    }
}

/// The widest printed element, so that every column can be right-aligned to it.
fn max_width<T: Float>(
    xs: &[T],
    shape: &[usize],
    summarize: bool,
    precision: Option<usize>,
) -> usize {
    let Some((&n, rest)) = shape.split_first() else {
        return cell(xs[0], precision).len();
    };
    let stride = numel(rest);
    visible(n, summarize)
        .into_iter()
        .flatten()
        .map(|i| max_width(&xs[i * stride..], rest, summarize, precision))
        .max()
        .unwrap_or(0)
}

/// Settings shared by every level of the recursive layout.
struct Layout {
    summarize: bool,
    precision: Option<usize>,
    width: usize,
}

impl Layout {
    /// Writes the block `xs` of shape `shape` (rank at least 1), whose
    /// opening bracket sits at column `depth`.
    fn write<T: Float>(&self, out: &mut String, xs: &[T], shape: &[usize], depth: usize) {
        let (n, rest) = (shape[0], &shape[1..]);
        let stride = numel(rest);
        out.push('[');
        for (k, entry) in visible(n, self.summarize).into_iter().enumerate() {
            if k > 0 {
                if rest.is_empty() {
                    out.push_str(", ");
                } else {
                    // One line break per remaining dimension (a blank line
                    // between matrices of a 3-D tensor), then align under
                    // the opening bracket.
                    out.push(',');
                    out.push_str(&"\n".repeat(rest.len()));
                    out.push_str(&" ".repeat(depth + 1));
                }
            }
            match entry {
                None => out.push_str("..."),
                Some(i) if rest.is_empty() => {
                    let s = cell(xs[i], self.precision);
                    out.push_str(&" ".repeat(self.width.saturating_sub(s.len())));
                    out.push_str(&s);
                }
                Some(i) => self.write(out, &xs[i * stride..], rest, depth + 1),
            }
        }
        out.push(']');
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    /// Prints the tensor like NumPy: one pair of brackets per dimension,
    /// elements right-aligned to a common width, rows on their own lines.
    ///
    /// Elements use Rust's shortest `{}` form (`1`, `0.25`, `-inf`, `NaN`)
    /// unless a precision is given (`{:.3}`). A scalar prints as its value;
    /// a tensor with no element prints `[]`, nested as its shape requires
    /// (`[[],\n []]` for shape `[2, 0]`) up to 1000 inner brackets, and a
    /// single `[]` beyond (shape `[2^40, 0]`). A tensor of more than 1000 elements
    /// shows only the first and last 3 entries of every longer dimension,
    /// with `...` between, as NumPy does.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.to_string(), "[[1, 2, 3],\n [4, 5, 6]]");
    ///
    /// let v = Tensor::from_vec(vec![-1.5f64, 10.0, 0.25], &[3])?;
    /// assert_eq!(v.to_string(), "[-1.5,   10, 0.25]");
    /// assert_eq!(format!("{v:.2}"), "[-1.50, 10.00,  0.25]");
    ///
    /// assert_eq!(Tensor::scalar(2.5f32).to_string(), "2.5");
    /// assert_eq!(Tensor::<f32>::zeros(&[0])?.to_string(), "[]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xs = self.as_slice();
        let precision = f.precision();
        if self.shape().is_empty() {
            return f.write_str(&cell(xs[0], precision));
        }
        // An empty tensor prints one `[]` per entry of the dimensions before
        // its first zero: [2^40, 0] would print 2^40 of them. Past the
        // threshold it prints a single `[]`, as NumPy's `str` does.
        let brackets = self
            .shape()
            .iter()
            .take_while(|&&d| d != 0)
            .fold(1usize, |acc, &d| acc.saturating_mul(d));
        if xs.is_empty() && brackets > SUMMARY_THRESHOLD {
            return f.write_str("[]");
        }
        let summarize = xs.len() > SUMMARY_THRESHOLD;
        let layout = Layout {
            summarize,
            precision,
            width: max_width(xs, self.shape(), summarize, precision),
        };
        let mut out = String::new();
        layout.write(&mut out, xs, self.shape(), 0);
        f.write_str(&out)
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    /// A one-line summary: element type, shape, then the first 8 elements in
    /// row-major order (`...` if there are more). A precision (`{:.2?}`)
    /// applies to the elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(format!("{t:?}"), "Tensor<f32>[2, 3] [1, 2, 3, 4, 5, 6]");
    ///
    /// let long = Tensor::<f64>::zeros(&[10])?;
    /// assert_eq!(format!("{long:?}"), "Tensor<f64>[10] [0, 0, 0, 0, 0, 0, 0, 0, ...]");
    /// assert_eq!(format!("{:.1?}", Tensor::scalar(0.5f32)), "Tensor<f32>[] [0.5]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xs = self.as_slice();
        let precision = f.precision();
        let mut items: Vec<String> = xs
            .iter()
            .take(DEBUG_ITEMS)
            .map(|&x| cell(x, precision))
            .collect();
        if xs.len() > DEBUG_ITEMS {
            items.push("...".to_string());
        }
        write!(
            f,
            "Tensor<{}>{:?} [{}]",
            T::NAME,
            self.shape(),
            items.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arange(n: usize, shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec((0..n).map(|v| v as f64).collect(), shape).unwrap()
    }

    #[test]
    fn three_d_separates_matrices_with_a_blank_line() {
        let t = arange(8, &[2, 2, 2]);
        assert_eq!(
            t.to_string(),
            "[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]]"
        );
    }

    #[test]
    fn columns_are_right_aligned_to_the_widest_element() {
        let t = Tensor::from_vec(vec![1.0f32, -20.0, 300.0, 0.5], &[2, 2]).unwrap();
        assert_eq!(t.to_string(), "[[  1, -20],\n [300, 0.5]]");
    }

    #[test]
    fn precision_applies_to_every_element_and_scalars() {
        let t = Tensor::from_vec(vec![1.0f64, 2.0 / 3.0, -0.125, 4.0], &[2, 2]).unwrap();
        assert_eq!(format!("{t:.3}"), "[[ 1.000,  0.667],\n [-0.125,  4.000]]");
        assert_eq!(format!("{:.2}", Tensor::scalar(1.0f32)), "1.00");
        assert_eq!(format!("{:.0}", Tensor::scalar(2.5f32)), "2");
    }

    #[test]
    fn scalar_prints_its_value() {
        assert_eq!(Tensor::scalar(-3.0f32).to_string(), "-3");
        assert_eq!(Tensor::scalar(f64::NAN).to_string(), "NaN");
        assert_eq!(Tensor::scalar(f32::NEG_INFINITY).to_string(), "-inf");
    }

    #[test]
    fn empty_tensors_print_brackets_nested_by_shape() {
        assert_eq!(Tensor::<f32>::zeros(&[0]).unwrap().to_string(), "[]");
        assert_eq!(Tensor::<f32>::zeros(&[0, 3]).unwrap().to_string(), "[]");
        assert_eq!(
            Tensor::<f32>::zeros(&[2, 0]).unwrap().to_string(),
            "[[],\n []]"
        );
        assert_eq!(
            Tensor::<f32>::zeros(&[1, 2, 0]).unwrap().to_string(),
            "[[[],\n  []]]"
        );
        // Up to 1000 inner brackets print nested; beyond, one `[]` (not
        // 2^40 of them, which would never finish).
        assert_eq!(
            Tensor::<f32>::zeros(&[1000, 0])
                .unwrap()
                .to_string()
                .matches("[]")
                .count(),
            1000
        );
        assert_eq!(Tensor::<f32>::zeros(&[1001, 0]).unwrap().to_string(), "[]");
        assert_eq!(
            Tensor::<f32>::zeros(&[1 << 40, 0, 7]).unwrap().to_string(),
            "[]"
        );
        assert_eq!(
            format!("{:?}", Tensor::<f32>::zeros(&[1 << 40, 0]).unwrap()),
            "Tensor<f32>[1099511627776, 0] []"
        );
    }

    #[test]
    fn exactly_1000_elements_are_not_elided() {
        let s = arange(1000, &[1000]).to_string();
        assert!(!s.contains("..."));
        assert!(s.starts_with("[  0,   1,"));
        assert!(s.ends_with(", 999]"));
    }

    #[test]
    fn long_vector_elides_the_middle() {
        let t = arange(1001, &[1001]);
        assert_eq!(t.to_string(), "[   0,    1,    2, ...,  998,  999, 1000]");
    }

    #[test]
    fn large_matrix_elides_rows_and_columns() {
        let t = arange(2000, &[20, 100]);
        let expected = "\
[[   0,    1,    2, ...,   97,   98,   99],
 [ 100,  101,  102, ...,  197,  198,  199],
 [ 200,  201,  202, ...,  297,  298,  299],
 ...,
 [1700, 1701, 1702, ..., 1797, 1798, 1799],
 [1800, 1801, 1802, ..., 1897, 1898, 1899],
 [1900, 1901, 1902, ..., 1997, 1998, 1999]]";
        assert_eq!(t.to_string(), expected);
    }

    #[test]
    fn large_3d_elides_only_long_dimensions() {
        // [2, 2, 300]: the two short axes are printed in full.
        let t = arange(1200, &[2, 2, 300]);
        let expected = "\
[[[   0,    1,    2, ...,  297,  298,  299],
  [ 300,  301,  302, ...,  597,  598,  599]],

 [[ 600,  601,  602, ...,  897,  898,  899],
  [ 900,  901,  902, ..., 1197, 1198, 1199]]]";
        assert_eq!(t.to_string(), expected);
        // [8, 1, 130]: the elided outer axis keeps its blank-line separator.
        let s = arange(1040, &[8, 1, 130]).to_string();
        assert!(s.contains("]],\n\n ...,\n\n [["), "{s}");
        assert_eq!(s.matches("...").count(), 1 + 6);
    }

    #[test]
    fn debug_truncates_after_eight_elements() {
        let t = arange(9, &[3, 3]);
        assert_eq!(
            format!("{t:?}"),
            "Tensor<f64>[3, 3] [0, 1, 2, 3, 4, 5, 6, 7, ...]"
        );
        let e = Tensor::<f32>::zeros(&[2, 0]).unwrap();
        assert_eq!(format!("{e:?}"), "Tensor<f32>[2, 0] []");
        let p = Tensor::from_vec(vec![1.0f32, 0.125], &[2]).unwrap();
        assert_eq!(format!("{p:.2?}"), "Tensor<f32>[2] [1.00, 0.12]");
    }

    #[test]
    fn display_of_a_row_slice_shows_only_its_rows() {
        let t = arange(6, &[3, 2]).slice_rows(1..3).unwrap();
        assert_eq!(t.to_string(), "[[2, 3],\n [4, 5]]");
    }
}
