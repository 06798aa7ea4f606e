//! CSV loading ([`load_csv`], [`read_csv`], [`Dataset::from_csv`]) into a
//! [`CsvData`] table or a [`Dataset`]. The rules of the format are on
//! [`load_csv`] (and the [`data`](crate::data) module page).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use ::csv::{ReaderBuilder, StringRecord, Trim};

use super::dataset::Dataset;
use super::encode::LabelEncoder;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "load_csv";

/// Which column of a CSV file holds the label (target).
///
/// The loaders take `impl Into<LabelColumn>`, so a column name (`&str` or
/// `String`) or a 0-based position (`usize`) can be passed as it is:
/// `load_csv(path, "species")`, `load_csv(path, 4)`.
///
/// # Examples
///
/// ```
/// use tapeflow::data::LabelColumn;
///
/// assert_eq!(LabelColumn::from("target"), LabelColumn::Name("target".to_string()));
/// assert_eq!(LabelColumn::from(String::from("y")), LabelColumn::Name("y".to_string()));
/// assert_eq!(LabelColumn::from(4), LabelColumn::Index(4));
/// assert_ne!(LabelColumn::from("target"), LabelColumn::Last);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The column with this header name.
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
    /// The last column (the layout of the shipped scikit-learn files).
    Last,
    /// No label: every column is a feature.
    None,
}

impl From<&str> for LabelColumn {
    /// The column with this header name.
    fn from(name: &str) -> Self {
        LabelColumn::Name(name.to_string())
    }
}

impl From<String> for LabelColumn {
    /// The column with this header name.
    fn from(name: String) -> Self {
        LabelColumn::Name(name)
    }
}

impl From<&String> for LabelColumn {
    /// The column with this header name.
    fn from(name: &String) -> Self {
        LabelColumn::Name(name.clone())
    }
}

impl From<usize> for LabelColumn {
    /// The column at this 0-based position.
    fn from(index: usize) -> Self {
        LabelColumn::Index(index)
    }
}

/// A table loaded from CSV: features, optional targets, column names and a
/// report of the missing cells.
///
/// # Shapes
///
/// `features: [n, d]`; `targets: [n, 1]` (numbers as written, or class
/// indices when the labels were names).
///
/// # Examples
///
/// ```
/// use tapeflow::data::read_csv;
///
/// let text = "a,b,kind\n1,2,cat\n3,NA,dog\n";
/// let data = read_csv(text.as_bytes(), "kind")?;
/// assert_eq!(data.features.shape(), &[2, 2]);
/// assert_eq!(data.missing, vec![0, 1]);           // one missing cell, in column "b"
/// assert_eq!(data.to_dataset()?.targets().to_vec(), vec![0.0, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone)]
pub struct CsvData {
    /// The feature columns, `[n, d]`, `NaN` where a cell was missing.
    pub features: Tensor<f32>,
    /// The label column as `[n, 1]`, or `None` for [`LabelColumn::None`].
    pub targets: Option<Tensor<f32>>,
    /// The header names of the feature columns, in order.
    pub feature_names: Vec<String>,
    /// The header name of the label column, if any.
    pub label_name: Option<String>,
    /// The encoder of a label column of class names (`targets` then holds
    /// class indices); `None` for a numeric label column or no label.
    pub label_encoder: Option<LabelEncoder>,
    /// The number of missing cells in each feature column.
    pub missing: Vec<usize>,
}

impl CsvData {
    /// The features and targets as a [`Dataset`] (sharing their storage).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the file was loaded without a label column.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::{load_csv, LabelColumn};
    ///
    /// let iris = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), LabelColumn::Last)?;
    /// let ds = iris.to_dataset()?;
    /// assert_eq!((ds.len(), ds.features().shape()[1]), (150, 4));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_dataset(&self) -> Result<Dataset> {
        let targets = self.targets.clone().ok_or_else(|| Error::InvalidArgument {
            op: "CsvData::to_dataset",
            message: "the table was loaded without a label column".to_string(),
        })?;
        Dataset::new(self.features.clone(), targets)
    }

    /// The total number of missing cells.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::{read_csv, LabelColumn};
    ///
    /// let data = read_csv("x,y\n,1\nnan,NA\n".as_bytes(), LabelColumn::None)?;
    /// assert_eq!(data.missing_cells(), 3);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn missing_cells(&self) -> usize {
        self.missing.iter().sum()
    }
}

impl fmt::Debug for CsvData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvData")
            .field("features", &self.features.shape())
            .field(
                "targets",
                &self.targets.as_ref().map(|t| t.shape().to_vec()),
            )
            .field("feature_names", &self.feature_names)
            .field("label_name", &self.label_name)
            .field("label_encoder", &self.label_encoder)
            .field("missing", &self.missing)
            .finish()
    }
}

/// Loads a CSV file with a header row into a [`CsvData`] table: features,
/// targets, column names and a count of the missing cells.
///
/// `label` names the label column: a header name (`"species"`), a 0-based
/// position (`4`), [`LabelColumn::Last`] or [`LabelColumn::None`]. For the
/// everyday case, a table of numbers with a label column and no missing
/// cell, [`Dataset::from_csv`] gives the [`Dataset`] directly.
///
/// # The format
///
/// - **Header**: the first line names the columns (required; a file with no
///   header or no data row is an error). Fields are separated by commas and
///   surrounding spaces are trimmed.
/// - **Quoting** (RFC 4180): a field in double quotes may hold commas and
///   line breaks (`"1,5"` is one field); `""` inside quotes is a quote.
/// - **Rows**: every row has as many fields as the header, else an error
///   naming the line.
/// - **Features**: every column but the label column is a number, read as
///   `f32` (`1e-3`, `-2`, `inf` are fine; a finite number too large for
///   `f32`, like `1e39`, is an error, not a silent infinity).
/// - **Missing values**: an empty cell, `NA`, `N/A` or `nan` (any case) in
///   a feature column is loaded as `NaN` and counted per column in
///   [`CsvData::missing`]; fill them with [`impute_missing`](super::impute_missing)
///   or drop their rows with [`drop_missing_rows`](super::drop_missing_rows).
///   A missing label is an error.
/// - **Labels**: a label column whose cells are all numbers is kept as
///   written (class indices `0, 1, 2` or regression targets); otherwise its
///   cells are class names, mapped to class indices `0..k` in sorted order
///   of the names by a [`LabelEncoder`] (kept in [`CsvData::label_encoder`]
///   to map predictions back), as scikit-learn's `LabelEncoder`.
/// - The label column is chosen by name (`"species"`), by 0-based position
///   (`4`), or with [`LabelColumn::Last`] / [`LabelColumn::None`].
///
/// # Errors
///
/// [`Error::Io`] naming the path if the file cannot be read;
/// [`Error::Format`] for an empty file, a file with no data rows, or a label
/// column that is not in the header (the message lists the header's
/// columns); [`Error::Data`] naming the line (and the column) for a row
/// with the wrong number of fields, a cell that is not a number, a number
/// that overflows `f32` (`1e39`; an explicit `inf` is kept), a missing label
/// or text that is not UTF-8.
///
/// # Examples
///
/// ```
/// use tapeflow::data::{load_csv, LabelColumn};
///
/// let iris = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), "target")?;
/// assert_eq!(iris.features.shape(), &[150, 4]);
/// assert_eq!(iris.feature_names[0], "sepal_length_cm");
/// assert_eq!(iris.missing_cells(), 0);
/// let by_position = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), 4)?;
/// assert_eq!(by_position.label_name.as_deref(), Some("target"));
/// let err = load_csv("no/such/file.csv", LabelColumn::Last).unwrap_err();
/// assert!(err.to_string().starts_with("load_csv: no/such/file.csv: "));
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn load_csv(path: impl AsRef<Path>, label: impl Into<LabelColumn>) -> Result<CsvData> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| Error::Io {
        op: OP,
        path: name.clone(),
        source,
    })?;
    parse(file, &name, label.into())
}

/// Reads CSV text from any reader (a file, a network stream, text in
/// memory as `text.as_bytes()`), with the rules of [`load_csv`]: a header
/// row, RFC 4180 quoting, numeric features with `NaN` for an empty cell,
/// `NA`, `N/A` or `nan`, and a label column of numbers or of class names
/// (mapped to indices in sorted order). Errors name the source
/// `"<reader>"`.
///
/// # Errors
///
/// As [`load_csv`].
///
/// # Examples
///
/// ```
/// use tapeflow::data::{read_csv, LabelColumn};
///
/// let data = read_csv("x,y\n1,2\n3,4\n".as_bytes(), 1)?;
/// assert_eq!(data.features.to_vec(), vec![1.0, 3.0]);
/// assert_eq!(data.targets.unwrap().to_vec(), vec![2.0, 4.0]);
/// let quoted = read_csv("\"a, quoted\",label\n1.5,\"b, c\"\n".as_bytes(), "label")?;
/// assert_eq!(quoted.feature_names, vec!["a, quoted".to_string()]);
/// assert_eq!(quoted.label_encoder.unwrap().classes(), &["b, c".to_string()]);
/// let err = read_csv("x,y\n1,oops\n".as_bytes(), LabelColumn::None).unwrap_err();
/// assert_eq!(err.to_string(), "load_csv: <reader>, line 2, column 2: cannot parse \"oops\" as a number (column \"y\")");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn read_csv<R: Read>(reader: R, label: impl Into<LabelColumn>) -> Result<CsvData> {
    parse(reader, "<reader>", label.into())
}

impl Dataset<f32> {
    /// Loads a CSV file straight into a [`Dataset`]: the features `[n, d]`
    /// and the label column `[n, 1]` (class indices, or numbers as written),
    /// the first line of most tabular projects (scikit-learn's
    /// `pd.read_csv(path)` then `X, y = df.drop(columns=label), df[label]`).
    ///
    /// `label` is the label column: a header name (`"target"`), a 0-based
    /// position (`4`) or [`LabelColumn::Last`]. The file follows the rules
    /// of [`load_csv`] (header row, RFC 4180 quoting, `f32` numbers, class
    /// names mapped to indices `0..k` in sorted order of the names). A file
    /// with missing cells is refused: load it with [`load_csv`], then fill
    /// the gaps with [`impute_missing`](super::impute_missing) or drop their
    /// rows with [`drop_missing_rows`](super::drop_missing_rows). Use
    /// [`load_csv`] too to keep the column names and the label encoder.
    ///
    /// # Errors
    ///
    /// The errors of [`load_csv`] (a label column name that is not in the
    /// header lists the header's columns); [`Error::InvalidArgument`] for
    /// [`LabelColumn::None`]; [`Error::Format`] naming the number of missing
    /// cells and their columns if any cell is missing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::Dataset;
    ///
    /// let iris = Dataset::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), "target")?;
    /// assert_eq!(iris.features().shape(), &[150, 4]);
    /// assert_eq!(iris.targets().shape(), &[150, 1]);
    /// assert_eq!(iris.targets().max(), 2.0);                  // classes 0, 1, 2
    ///
    /// let err = Dataset::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), "species").unwrap_err();
    /// assert!(err.to_string().contains(r#"no label column named "species"; the header has ["sepal_length_cm""#), "{err}");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, label: impl Into<LabelColumn>) -> Result<Dataset> {
        const FROM_CSV: &str = "Dataset::from_csv";
        let path = path.as_ref();
        let label = label.into();
        if label == LabelColumn::None {
            return Err(Error::InvalidArgument {
                op: FROM_CSV,
                message: "needs a label column, got LabelColumn::None; use load_csv for a table without labels".to_string(),
            });
        }
        let data = load_csv(path, label)?;
        check_no_missing(&data, FROM_CSV, &path.display().to_string())?;
        data.to_dataset()
    }
}

/// Refuses a table with missing cells, naming their count per column.
fn check_no_missing(data: &CsvData, op: &'static str, path: &str) -> Result<()> {
    let total = data.missing_cells();
    if total == 0 {
        return Ok(());
    }
    let columns: Vec<String> = data
        .feature_names
        .iter()
        .zip(&data.missing)
        .filter(|&(_, &m)| m > 0)
        .map(|(name, m)| format!("{name:?}: {m}"))
        .collect();
    Err(Error::Format {
        op,
        path: path.to_string(),
        message: format!(
            "{total} missing cell{} ({}); load the file with load_csv and fill them with impute_missing, or drop their rows with drop_missing_rows",
            if total == 1 { "" } else { "s" },
            columns.join(", ")
        ),
    })
}

/// Parses a cell as an `f32`, refusing a finite number written in the file
/// that does not fit (`1e39` would load as `inf`); an explicit `inf` or
/// `-infinity` stays infinite. `Err(true)` for an overflow, `Err(false)` for
/// text that is not a number.
fn parse_f32(cell: &str) -> std::result::Result<f32, bool> {
    let v = cell.parse::<f32>().map_err(|_| false)?;
    if v.is_infinite() && !cell.to_ascii_lowercase().contains("inf") {
        return Err(true);
    }
    Ok(v)
}

/// The message for a cell that does not fit in `f32`.
fn overflow_message(cell: &str, column: &str) -> String {
    format!(
        "value {cell:?} overflows f32 (largest finite {:e}) (column {column:?})",
        f32::MAX
    )
}

fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || ["na", "n/a", "nan"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
}

fn parse<R: Read>(reader: R, path: &str, label: LabelColumn) -> Result<CsvData> {
    let format = |message: String| Error::Format {
        op: OP,
        path: path.to_string(),
        message,
    };
    let data_err = |line: u64, column: Option<usize>, message: String| Error::Data {
        op: OP,
        path: path.to_string(),
        line,
        column,
        message,
    };
    let csv_err = |e: ::csv::Error| match e.kind() {
        ::csv::ErrorKind::Io(io) => format(format!("read failed: {io}")),
        _ => data_err(e.position().map_or(0, |p| p.line()), None, e.to_string()),
    };
    let mut rdr = ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(reader);
    let header: Vec<String> = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(String::from)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(format("empty file, expected a header row".to_string()));
    }
    let width = header.len();
    let label_at = match &label {
        LabelColumn::None => None,
        LabelColumn::Last => Some(width - 1),
        LabelColumn::Index(i) if *i < width => Some(*i),
        LabelColumn::Index(i) => {
            return Err(format(format!(
                "label column index {i} is beyond the {width} columns of the header"
            )));
        }
        LabelColumn::Name(name) => {
            Some(header.iter().position(|h| h == name).ok_or_else(|| {
                format(format!(
                    "no label column named {name:?}; the header has {header:?}"
                ))
            })?)
        }
    };
    let d = width - usize::from(label_at.is_some());
    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut missing = vec![0usize; d];
    let mut record = StringRecord::new();
    while rdr.read_record(&mut record).map_err(csv_err)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            return Err(data_err(
                line,
                None,
                format!(
                    "expected {width} fields (as the header), got {}",
                    record.len()
                ),
            ));
        }
        let mut j = 0;
        // The record has exactly `width` fields (checked above), as many as
        // the header, so `header[c]` exists for every cell.
        for (c, cell) in record.iter().enumerate() {
            if Some(c) == label_at {
                if is_missing(cell) {
                    return Err(data_err(
                        line,
                        Some(c + 1),
                        format!("missing label (column {:?})", header[c]),
                    ));
                }
                if let Err(true) = parse_f32(cell) {
                    return Err(data_err(
                        line,
                        Some(c + 1),
                        overflow_message(cell, &header[c]),
                    ));
                }
                labels.push(cell.to_string());
                continue;
            }
            let v = if is_missing(cell) {
                missing[j] += 1;
                f32::NAN
            } else {
                parse_f32(cell).map_err(|overflow| {
                    let message = if overflow {
                        overflow_message(cell, &header[c])
                    } else {
                        format!("cannot parse {cell:?} as a number (column {:?})", header[c])
                    };
                    data_err(line, Some(c + 1), message)
                })?
            };
            features.try_reserve(1).map_err(|_| Error::OutOfMemory {
                op: OP,
                shape: vec![labels.len(), d],
                bytes: features.len().saturating_mul(4),
            })?;
            features.push(v);
            j += 1;
        }
    }
    let n = features.len().checked_div(d).unwrap_or(labels.len());
    if n == 0 {
        return Err(format("no data rows after the header".to_string()));
    }
    let (targets, label_encoder) = match label_at {
        None => (None, None),
        Some(_) => {
            let numbers: Option<Vec<f32>> = labels.iter().map(|s| s.parse::<f32>().ok()).collect();
            match numbers {
                Some(y) => (Some(y), None),
                None => {
                    let mut enc = LabelEncoder::new();
                    let idx = enc.fit_transform(&labels)?;
                    (Some(idx.into_iter().map(|i| i as f32).collect()), Some(enc))
                }
            }
        }
    };
    let targets = targets.map(|y| Tensor::from_vec(y, &[n, 1])).transpose()?;
    let mut feature_names = header.clone();
    let label_name = label_at.map(|i| feature_names.remove(i));
    Ok(CsvData {
        features: Tensor::from_vec(features, &[n, d])?,
        targets,
        feature_names,
        label_name,
        label_encoder,
        missing,
    })
}
