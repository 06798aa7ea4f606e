//! The crate's one error type, [`Error`], and its [`Result`] alias.
//!
//! This module owns nothing else. Every fallible entry point of tapeflow
//! returns [`Result`]; messages start with the operation that failed, carry
//! every shape involved, are lower-case and have no trailing period, e.g.
//! `matmul: shape mismatch, lhs [2, 3], rhs [4, 5]`.

use thiserror::Error as ThisError;

/// Shorthand for `std::result::Result<T, tapeflow::Error>`.
///
/// # Examples
///
/// ```
/// use tapeflow::{Result, Tensor};
///
/// fn total(t: &Tensor) -> Result<f32> {
///     Ok(t.reshape(&[t.len()])?.sum())
/// }
/// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// assert_eq!(total(&t)?, 10.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tapeflow.
///
/// Each variant names the operation (`op`) and the values that were wrong,
/// so the message alone says what to fix. New variants may be added in minor
/// releases, hence `#[non_exhaustive]`.
///
/// # Examples
///
/// ```
/// use tapeflow::{Error, Tensor};
///
/// let a = Tensor::<f32>::zeros(&[2, 3])?;
/// let b = Tensor::<f32>::zeros(&[4, 5])?;
/// let err = a.matmul(&b).unwrap_err();
/// assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }));
/// assert_eq!(err.to_string(), "matmul: shape mismatch, lhs [2, 3], rhs [4, 5]");
/// // `Debug` prints the same message, so `fn main() -> tapeflow::Result<()>`
/// // and `unwrap` show it as it reads, not as a struct.
/// assert_eq!(format!("{err:?}"), err.to_string());
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(ThisError)]
#[non_exhaustive]
pub enum Error {
    /// Two operands whose shapes do not fit together (broadcasting, matmul,
    /// concatenation, …).
    #[error("{op}: shape mismatch, lhs {lhs:?}, rhs {rhs:?}")]
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// Shape of the left (first) operand.
        lhs: Vec<usize>,
        /// Shape of the right (second) operand.
        rhs: Vec<usize>,
    },

    /// A shape whose number of elements does not match the data it is meant
    /// to describe (`from_vec`, `reshape`).
    #[error("{op}: shape {shape:?} needs {expected} elements, got {got}")]
    ElementCount {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements the shape describes.
        expected: usize,
        /// The number of elements actually supplied.
        got: usize,
    },

    /// An axis argument beyond the tensor's number of dimensions.
    #[error("{op}: axis {axis} out of range for shape {shape:?}")]
    AxisOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The axis that was asked for.
        axis: usize,
        /// The shape of the tensor.
        shape: Vec<usize>,
    },

    /// A shape whose element count (or size in bytes) overflows: no machine
    /// can hold it, e.g. `zeros: shape [8589934592, 2147483648] is too large
    /// to address`.
    #[error("{op}: shape {shape:?} is too large to address")]
    SizeOverflow {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
    },

    /// An allocation the machine refused (the shape is addressable, but
    /// there is not that much memory).
    #[error("{op}: cannot allocate {bytes} bytes for shape {shape:?}")]
    OutOfMemory {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of bytes asked for.
        bytes: usize,
    },

    /// A tensor with the wrong number of dimensions for the operation.
    #[error("{op}: expected {expected}, got shape {shape:?}")]
    RankMismatch {
        /// The operation that failed.
        op: &'static str,
        /// What the operation accepts, e.g. `"a 2-d or 3-d tensor"`.
        expected: &'static str,
        /// The shape it got.
        shape: Vec<usize>,
    },

    /// An index beyond the extent of the dimension it indexes.
    #[error("{op}: index {index} out of range for length {len}")]
    IndexOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The extent of the indexed dimension.
        len: usize,
    },

    /// A layer failed: names the layer, its type and (inside a model) its
    /// position, and wraps what went wrong, e.g.
    /// `dense_2 (Dense) at position 2: expected input [_, 64], got [32, 10]`.
    #[error("{layer} ({kind}){}: {source}", position_label(.position))]
    Layer {
        /// The layer's name, e.g. `"dense_1"`.
        layer: String,
        /// The layer's type, e.g. `"Dense"`.
        kind: &'static str,
        /// The layer's index in its model, once a model has reported it.
        position: Option<usize>,
        /// The underlying error.
        source: Box<Error>,
    },

    /// A message with no operation of its own, used as the `source` of an
    /// [`Error::Layer`] that says what the layer expected.
    #[error("{message}")]
    Invalid {
        /// What was wrong, e.g. `"expected input [_, 64], got [32, 10]"`.
        message: String,
    },

    /// The training loss became NaN or infinite; the weights from before
    /// the batch are kept.
    #[error(
        "fit: the loss became {value} at epoch {epoch}, batch {batch}; the weights from before this batch are kept"
    )]
    NonFiniteLoss {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The loss value.
        value: f64,
    },

    /// Two operands recorded on different [`GradientTape`](crate::GradientTape)s.
    #[error("{op}: operands are on different tapes")]
    TapeMismatch {
        /// The operation that failed.
        op: &'static str,
    },

    /// An argument outside its valid range, with a description of the range.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What was wrong, e.g. `"rate must be in [0, 1), got 1.5"`.
        message: String,
    },

    /// Bad content at a known place in a data file (a CSV cell that is not a
    /// number, a row with the wrong number of fields). `line` counts from 1,
    /// the header being line 1; `column` counts from 1 when one cell is to blame.
    #[error("{op}: {path}, line {line}{}: {message}", column_label(.column))]
    Data {
        /// The operation that failed, e.g. `"load_csv"`.
        op: &'static str,
        /// The file (or `"<reader>"` for in-memory input).
        path: String,
        /// The 1-based line of the offending record.
        line: u64,
        /// The 1-based column of the offending cell, if one cell is to blame.
        column: Option<usize>,
        /// What was wrong, e.g. `"cannot parse \"abc\" as a number"`.
        message: String,
    },

    /// A file or folder that could not be opened, read or written.
    #[error("{op}: {path}: {source}")]
    Io {
        /// The operation that failed, e.g. `"load_idx_images"`.
        op: &'static str,
        /// The path that was asked for.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// An I/O error from the standard library that reached tapeflow's
    /// [`Result`] through `?` (`std::fs::write`, `std::fs::read`,
    /// `std::io::Write::flush`, …) in user code: the conversion
    /// `From<std::io::Error>` makes `?` work in a function returning
    /// `tapeflow::Result`, as `fn main() -> tapeflow::Result<()>` in every
    /// example. The message is `io: ` then the operating system's; tapeflow's
    /// own file operations report [`Error::Io`] instead, which also names the
    /// operation and the path.
    ///
    /// # Examples
    ///
    /// ```
    /// fn read_config() -> tapeflow::Result<Vec<u8>> {
    ///     Ok(std::fs::read("no/such/file")?)
    /// }
    /// let err = read_config().unwrap_err();
    /// assert!(matches!(&err, tapeflow::Error::Os(e) if e.kind() == std::io::ErrorKind::NotFound));
    /// // The operating system's own message, after "io: " (no path: std does
    /// // not keep it; use map_err to add one).
    /// let os = std::fs::read("no/such/file").unwrap_err();
    /// assert_eq!(err.to_string(), format!("io: {os}"));
    /// ```
    #[error("io: {0}")]
    Os(#[from] std::io::Error),

    /// A file that was read but whose content is not what it should be (wrong
    /// magic number, truncated payload, no header row, corrupt gzip stream).
    #[error("{op}: {path}: {message}")]
    Format {
        /// The operation that failed, e.g. `"load_idx_labels"`.
        op: &'static str,
        /// The file (or `"<reader>"` for in-memory input).
        path: String,
        /// What was wrong, e.g. `"bad magic number 0x00000801, expected 0x00000803"`.
        message: String,
    },

    /// A training step would have written a NaN or infinite value into a
    /// parameter or the optimizer's state (a non-finite gradient, or an
    /// update that overflows the element type); nothing of that step is
    /// kept: the weights and optimizer state from before the batch remain.
    #[error(
        "fit: epoch {epoch}, batch {batch}: parameter {param:?}: {message}; the weights and optimizer state from before this batch are kept"
    )]
    NonFiniteUpdate {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The first offending parameter, `"<layer>/<param>"`.
        param: String,
        /// What became non-finite, e.g. `"its gradient holds inf at index 3"`.
        message: String,
    },
}

/// `" at position 2"` when a position is known, nothing otherwise.
fn position_label(position: &Option<usize>) -> String {
    position.map_or_else(String::new, |p| format!(" at position {p}"))
}

/// `", column 3"` when a column is known, nothing otherwise.
fn column_label(column: &Option<usize>) -> String {
    column.map_or_else(String::new, |c| format!(", column {c}"))
}

/// The message, as [`Display`](std::fmt::Display) gives it: what
/// `fn main() -> tapeflow::Result<()>` prints after `Error: ` when it returns
/// an error, and what `unwrap` and `expect` show (match on the variant to
/// inspect the fields).
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_op_and_carry_shapes() {
        let e = Error::ElementCount {
            op: "reshape",
            shape: vec![4],
            expected: 4,
            got: 6,
        };
        assert_eq!(e.to_string(), "reshape: shape [4] needs 4 elements, got 6");
        let e = Error::AxisOutOfRange {
            op: "sum_axis",
            axis: 2,
            shape: vec![3, 4],
        };
        assert_eq!(
            e.to_string(),
            "sum_axis: axis 2 out of range for shape [3, 4]"
        );
    }

    #[test]
    fn data_errors_name_file_line_and_column() {
        let e = Error::Data {
            op: "load_csv",
            path: "a.csv".to_string(),
            line: 3,
            column: Some(2),
            message: "cannot parse \"x\" as a number".to_string(),
        };
        assert_eq!(
            e.to_string(),
            "load_csv: a.csv, line 3, column 2: cannot parse \"x\" as a number"
        );
        let e = Error::Data {
            op: "load_csv",
            path: "a.csv".to_string(),
            line: 4,
            column: None,
            message: "expected 5 fields, got 4".to_string(),
        };
        assert_eq!(
            e.to_string(),
            "load_csv: a.csv, line 4: expected 5 fields, got 4"
        );
    }
}
