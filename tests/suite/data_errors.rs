//! Every bad input to `tapeflow::data` gives an error that says what and
//! where. Fixture files go to a fresh folder under the system temp dir,
//! removed when the test ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::{Compression, write::GzEncoder};
use tapeflow::data::{
    Dataset, LabelColumn, LabelEncoder, MinMaxScaler, SplitOptions, StandardScaler, load_csv,
    load_idx_dataset, load_idx_images, load_idx_labels, load_mnist, one_hot, train_test_split,
};
use tapeflow::{Error, Tensor};

/// A temp folder unique to this process and call, deleted on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tapeflow-data-errors-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        b.extend(d.to_be_bytes());
    }
    b.extend((0..n * rows * cols).map(|i| (i % 256) as u8));
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend(labels);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn csv_error(dir: &TempDir, text: &str, label: LabelColumn) -> (Error, PathBuf) {
    let path = dir.file("t.csv", text.as_bytes());
    (load_csv(&path, label).expect_err("bad csv must fail"), path)
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn csv_ragged_row_names_the_line() {
    let dir = TempDir::new();
    let (err, path) = csv_error(&dir, "a,b,y\n1,2,0\n3,0\n", LabelColumn::Last);
    assert!(
        matches!(
            err,
            Error::Data {
                line: 3,
                column: None,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "load_csv: {}, line 3: expected 3 fields (as the header), got 2",
            p(&path)
        )
    );
}

#[test]
fn csv_non_numeric_cell_names_line_and_column() {
    let dir = TempDir::new();
    let (err, path) = csv_error(&dir, "a,b,y\n1,2,0\n3,4,1\n5,six,0\n", LabelColumn::Last);
    assert!(
        matches!(
            err,
            Error::Data {
                line: 4,
                column: Some(2),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "load_csv: {}, line 4, column 2: cannot parse \"six\" as a number (column \"b\")",
            p(&path)
        )
    );
}

#[test]
fn csv_empty_file_and_header_only_are_format_errors() {
    let dir = TempDir::new();
    let (err, path) = csv_error(&dir, "", LabelColumn::None);
    assert_eq!(
        err.to_string(),
        format!("load_csv: {}: empty file, expected a header row", p(&path))
    );
    let (err, _) = csv_error(&dir, "a,b\n", LabelColumn::None);
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(err.to_string().ends_with("no data rows after the header"));
}

#[test]
fn csv_missing_label_column_lists_the_header() {
    let dir = TempDir::new();
    let (err, path) = csv_error(
        &dir,
        "a,b,target\n1,2,0\n",
        LabelColumn::Name("species".into()),
    );
    assert_eq!(
        err.to_string(),
        format!(
            "load_csv: {}: no label column named \"species\"; the header has [\"a\", \"b\", \"target\"]",
            p(&path)
        )
    );
    let (err, _) = csv_error(&dir, "a,b\n1,2\n", LabelColumn::Index(2));
    assert!(
        err.to_string()
            .ends_with("label column index 2 is beyond the 2 columns of the header")
    );
    let (err, _) = csv_error(&dir, "a,y\n1,\n", LabelColumn::Last);
    assert!(
        matches!(
            err,
            Error::Data {
                line: 2,
                column: Some(2),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let dir = TempDir::new();
    let path = dir.0.join("absent.csv");
    let err = load_csv(&path, LabelColumn::Last).expect_err("missing file");
    assert!(matches!(err, Error::Io { op: "load_csv", .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("load_csv: {}: ", p(&path))),
        "{err}"
    );
    let err = load_idx_labels(dir.0.join("absent.idx")).expect_err("missing file");
    assert!(err.to_string().contains("absent.idx"), "{err}");
    let err = load_mnist(&dir.0).expect_err("empty folder");
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
}

#[test]
fn idx_wrong_magic_number_is_reported() {
    let dir = TempDir::new();
    let labels = dir.file("labels.idx", &idx_labels(&[1, 2]));
    let err = load_idx_images(&labels).expect_err("labels are not images");
    assert_eq!(
        err.to_string(),
        format!(
            "load_idx_images: {}: bad magic number 0x00000801, expected 0x00000803 (unsigned bytes, 3 dimensions)",
            p(&labels)
        )
    );
    let short = dir.file("short.idx", &[0, 0]);
    assert!(
        load_idx_labels(&short)
            .expect_err("short")
            .to_string()
            .contains("too short")
    );
}

#[test]
fn idx_truncated_payload_is_reported() {
    let dir = TempDir::new();
    let mut bytes = idx_images(3, 2, 2);
    bytes.truncate(bytes.len() - 5);
    let path = dir.file("cut.idx", &bytes);
    let err = load_idx_images(&path).expect_err("truncated");
    assert!(matches!(
        err,
        Error::Format {
            op: "load_idx_images",
            ..
        }
    ));
    assert!(
        err.to_string()
            .ends_with("truncated payload: dimensions [3, 2, 2] need 12 bytes, found 7"),
        "{err}"
    );
    let path = dir.file("header.idx", &[0, 0, 8, 3, 0, 0, 0, 1]);
    assert!(
        load_idx_images(&path)
            .expect_err("header")
            .to_string()
            .contains("truncated header")
    );
}

#[test]
fn idx_image_and_label_counts_must_agree() {
    let dir = TempDir::new();
    let x = dir.file("train-images-idx3-ubyte", &idx_images(3, 2, 2));
    let y = dir.file("train-labels-idx1-ubyte", &idx_labels(&[1, 2]));
    let err = load_idx_dataset(&x, &y).expect_err("3 images, 2 labels");
    assert_eq!(
        err.to_string(),
        format!(
            "load_idx_dataset: {}: 3 images but 2 labels in {}",
            p(&x),
            p(&y)
        )
    );
    dir.file("t10k-images-idx3-ubyte.gz", &gzip(&idx_images(1, 2, 2)));
    dir.file("t10k-labels-idx1-ubyte.gz", &gzip(&idx_labels(&[7])));
    assert!(
        load_mnist(&dir.0)
            .expect_err("train counts disagree")
            .to_string()
            .contains("3 images but 2 labels")
    );
    dir.file("train-labels-idx1-ubyte", &idx_labels(&[1, 2, 3]));
    let mnist = load_mnist(&dir.0).expect("consistent files, raw and gzipped");
    assert_eq!((mnist.train.len(), mnist.test.len()), (3, 1));
    assert_eq!(mnist.test.targets().to_vec(), vec![7.0]);
}

#[test]
fn truncated_gzip_is_a_format_error() {
    let dir = TempDir::new();
    let gz = gzip(&idx_images(20, 8, 8));
    let path = dir.file("images.gz", &gz[..gz.len() / 2]);
    let err = load_idx_images(&path).expect_err("truncated gz");
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("load_idx_images: {}: ", p(&path))),
        "{err}"
    );
    // the whole stream loads
    let path = dir.file("whole.gz", &gz);
    assert_eq!(load_idx_images(&path).expect("whole gz").shape(), &[20, 64]);
}

fn rows(n: usize) -> Dataset {
    Dataset::new(
        Tensor::zeros(&[n, 2]).unwrap(),
        Tensor::zeros(&[n, 1]).unwrap(),
    )
    .expect("dataset")
}

#[test]
fn split_ratio_outside_open_unit_interval_is_rejected() {
    for ratio in [0.0, 1.0, -0.2, 1.5, f64::NAN] {
        let err = train_test_split(&rows(10), SplitOptions::new(ratio)).expect_err("bad ratio");
        assert_eq!(
            err.to_string(),
            format!("train_test_split: test_size must be in (0, 1), got {ratio} (10 rows)")
        );
    }
}

#[test]
fn split_of_too_few_rows_is_rejected() {
    for n in [0, 1] {
        let err = train_test_split(&rows(n), SplitOptions::new(0.5)).expect_err("too few rows");
        assert_eq!(
            err.to_string(),
            format!(
                "train_test_split: too few rows for a non-empty train and test split with this test_size, got 0.5 ({n} rows)"
            )
        );
    }
    assert!(train_test_split(&rows(2), SplitOptions::new(0.5).stratify(true)).is_ok());
}

#[test]
fn scalers_on_a_constant_column_do_not_divide_by_zero() {
    let x = Tensor::from_vec(vec![1.0f32, 0.3, 2.0, 0.3, 3.0, 0.3], &[3, 2]).expect("x");
    let mut standard = StandardScaler::new();
    let z = standard.fit_transform(&x).expect("standard");
    assert!(z.all_finite());
    assert_eq!(standard.scale().expect("fitted")[1], 1.0);
    assert_eq!(z.get(&[0, 1]), Some(0.0));
    let mut minmax = MinMaxScaler::with_range(-1.0, 1.0).expect("range");
    let y = minmax.fit_transform(&x).expect("minmax");
    assert!(y.all_finite());
    assert_eq!(
        y.get(&[2, 1]),
        Some(-1.0),
        "constant column maps to the range minimum"
    );
    assert_eq!(minmax.inverse_transform(&y).expect("inverse"), x);
}

#[test]
fn scalers_reject_use_before_fit_and_wrong_column_count() {
    let x = Tensor::<f32>::ones(&[2, 3]).unwrap();
    let err = StandardScaler::new().transform(&x).expect_err("unfitted");
    assert_eq!(
        err.to_string(),
        "StandardScaler::transform: the scaler is not fitted; call fit first"
    );
    let mut s = MinMaxScaler::new();
    s.fit(&x).expect("fit");
    let err = s
        .transform(&Tensor::<f32>::ones(&[2, 2]).unwrap())
        .expect_err("columns");
    assert_eq!(
        err.to_string(),
        "MinMaxScaler::transform: the scaler was fitted on 3 columns, got shape [2, 2]"
    );
    let nan = Tensor::from_vec(vec![1.0f32, f32::NAN], &[1, 2]).expect("nan");
    let err = StandardScaler::new().fit(&nan).expect_err("nan");
    assert_eq!(
        err.to_string(),
        "StandardScaler::fit: row 0, column 1 is NaN; impute or drop missing values first"
    );
    assert!(StandardScaler::from_json("not json").is_err());
    assert!(StandardScaler::from_json(r#"{"kind":"StandardScaler","version":2}"#).is_err());
    assert!(MinMaxScaler::from_json(r#"{"kind":"MinMaxScaler","version":1,"feature_range":[0,1],"data_min":[0],"data_max":null}"#).is_err());
}

#[test]
fn encoders_and_datasets_name_the_bad_row() {
    let err = one_hot::<f32>(&[0, 1, 9], 3).expect_err("label 9");
    assert_eq!(
        err.to_string(),
        "one_hot: row 2 has label 9, expected a label below 3 classes"
    );
    let mut enc = LabelEncoder::new();
    enc.fit(&["a", "b"]);
    assert!(
        enc.transform(&["a", "c"])
            .expect_err("unknown")
            .to_string()
            .contains("row 1 has unknown label \"c\"")
    );
    let err = Dataset::new(
        Tensor::<f32>::zeros(&[3, 2]).unwrap(),
        Tensor::zeros(&[2]).unwrap(),
    )
    .expect_err("rows");
    assert!(
        err.to_string()
            .contains("features have 3 rows but targets have 2")
    );
    let err = rows(4).batches(0).expect_err("batch size 0");
    assert_eq!(
        err.to_string(),
        "batches: batch_size must be at least 1, got 0"
    );
}
