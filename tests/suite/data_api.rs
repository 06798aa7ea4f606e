//! The everyday data API: CSV by path and column name, seeds instead of RNG
//! types, `?` on `std::io` errors, named split and batch options, and the
//! one-call helpers the examples use (`Mnist::load(..)?.take(..)`,
//! `fit_transform_split`).

use std::path::PathBuf;

use tapeflow::data::{
    Dataset, LabelColumn, MinMaxScaler, Mnist, SplitOptions, StandardScaler, load_csv, read_csv,
    train_test_split,
};
use tapeflow::initializers::Initializer;
use tapeflow::rand::{SeedableRng, rngs::StdRng};
use tapeflow::{Error, Tensor};

const IRIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv");
const MNIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist");

/// A CSV file in the temp folder, removed when dropped.
struct TempCsv(PathBuf);

impl TempCsv {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tapeflow-data-api-{}-{name}.csv",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("temp file");
        TempCsv(path)
    }
}

impl Drop for TempCsv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn label_column_converts_from_names_and_positions() {
    assert_eq!(
        LabelColumn::from("species"),
        LabelColumn::Name("species".into())
    );
    assert_eq!(
        LabelColumn::from(String::from("y")),
        LabelColumn::Name("y".into())
    );
    let owned = String::from("z");
    assert_eq!(LabelColumn::from(&owned), LabelColumn::Name("z".into()));
    assert_eq!(LabelColumn::from(3usize), LabelColumn::Index(3));
}

#[test]
fn dataset_from_csv_equals_load_csv_then_to_dataset() {
    let direct = Dataset::from_csv(IRIS, "target").expect("iris");
    let by_position = Dataset::from_csv(IRIS, 4).expect("iris by position");
    let old = load_csv(IRIS, LabelColumn::Name("target".into()))
        .expect("iris")
        .to_dataset()
        .expect("dataset");
    assert_eq!(direct.features().shape(), &[150, 4]);
    assert_eq!(direct.targets().shape(), &[150, 1]);
    for ds in [&direct, &by_position] {
        assert_eq!(ds.features(), old.features());
        assert_eq!(ds.targets(), old.targets());
    }
    // Class names become indices in sorted order of the names.
    let named = TempCsv::new("named", "x,kind\n1,dog\n2,cat\n3,dog\n");
    let ds = Dataset::from_csv(&named.0, String::from("kind")).expect("named labels");
    assert_eq!(ds.targets().to_vec(), vec![1.0, 0.0, 1.0]);
}

#[test]
fn from_csv_refuses_missing_cells_and_points_to_the_fix() {
    let file = TempCsv::new("missing", "a,b,c,y\n1,,3,0\nNA,2,nan,1\n4,5,6,0\n");
    let err = Dataset::from_csv(&file.0, "y").expect_err("missing cells");
    assert!(matches!(
        err,
        Error::Format {
            op: "Dataset::from_csv",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "Dataset::from_csv: {}: 3 missing cells (\"a\": 1, \"b\": 1, \"c\": 1); load the file with load_csv and fill them with impute_missing, or drop their rows with drop_missing_rows",
            file.0.display()
        )
    );
    // The advice works: load_csv keeps them as NaN.
    let data = load_csv(&file.0, "y").expect("load_csv accepts missing cells");
    assert_eq!(data.missing, vec![1, 1, 1]);
}

#[test]
fn unknown_label_column_lists_the_header() {
    let err = Dataset::from_csv(IRIS, "species").expect_err("no such column");
    assert_eq!(
        err.to_string(),
        format!(
            "load_csv: {IRIS}: no label column named \"species\"; the header has [\"sepal_length_cm\", \"sepal_width_cm\", \"petal_length_cm\", \"petal_width_cm\", \"target\"]"
        )
    );
    let err = read_csv("a,b\n1,2\n".as_bytes(), 5).expect_err("index beyond");
    assert_eq!(
        err.to_string(),
        "load_csv: <reader>: label column index 5 is beyond the 2 columns of the header"
    );
    let err = Dataset::from_csv(IRIS, LabelColumn::None).expect_err("no label");
    assert_eq!(
        err.to_string(),
        "Dataset::from_csv: needs a label column, got LabelColumn::None; use load_csv for a table without labels"
    );
    let err = Dataset::from_csv("no/such/file.csv", "y").expect_err("no file");
    assert!(
        err.to_string().starts_with("load_csv: no/such/file.csv: "),
        "{err}"
    );
}

#[test]
fn seeded_random_tensors_equal_the_rng_forms_bit_for_bit() {
    for seed in [0u64, 1, 42, u64::MAX] {
        let with_rng = Tensor::<f32>::rand_uniform_with_rng(
            &[7, 5],
            -2.0,
            3.0,
            &mut StdRng::seed_from_u64(seed),
        )
        .expect("uniform");
        let seeded = Tensor::<f32>::rand_uniform(&[7, 5], -2.0, 3.0, seed).expect("uniform");
        assert_eq!(
            seeded
                .to_vec()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            with_rng
                .to_vec()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
        let with_rng =
            Tensor::<f64>::rand_normal_with_rng(&[64], 1.0, 0.5, &mut StdRng::seed_from_u64(seed))
                .expect("normal");
        let seeded = Tensor::<f64>::rand_normal(&[64], 1.0, 0.5, seed).expect("normal");
        assert_eq!(
            seeded
                .to_vec()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            with_rng
                .to_vec()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
    }
    assert_ne!(
        Tensor::<f32>::rand_uniform(&[16], 0.0, 1.0, 1).expect("a"),
        Tensor::<f32>::rand_uniform(&[16], 0.0, 1.0, 2).expect("b")
    );
}

#[test]
fn seeded_initializers_equal_the_rng_form_bit_for_bit() {
    let all = [
        Initializer::Zeros,
        Initializer::Ones,
        Initializer::Constant { value: 0.3 },
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
        },
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
        },
        Initializer::TruncatedNormal {
            mean: 0.0,
            stddev: 0.05,
        },
        Initializer::GlorotUniform,
        Initializer::GlorotNormal,
        Initializer::HeNormal,
        Initializer::HeUniform,
        Initializer::LecunNormal,
        Initializer::LecunUniform,
        Initializer::Orthogonal { gain: 1.0 },
    ];
    for init in all {
        for seed in [0u64, 9] {
            let seeded = init.init::<f32>(&[6, 4], seed).expect("init");
            let with_rng = init
                .init_with_rng::<f32>(&[6, 4], &mut StdRng::seed_from_u64(seed))
                .expect("init_with_rng");
            assert_eq!(
                seeded
                    .to_vec()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>(),
                with_rng
                    .to_vec()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>(),
                "{init}"
            );
        }
    }
}

#[test]
fn seeded_constructors_reject_bad_shapes_and_settings() {
    let err = Tensor::<f32>::rand_uniform(&[usize::MAX, 2], 0.0, 1.0, 0).expect_err("overflow");
    assert!(matches!(err, Error::SizeOverflow { .. }), "{err}: {err:?}");
    assert!(err.to_string().starts_with("rand_uniform: "), "{err}");
    let err = Tensor::<f32>::rand_normal(&[1 << 40, 1 << 40], 0.0, 1.0, 0).expect_err("overflow");
    assert!(err.to_string().starts_with("rand_normal: "), "{err}");
    let err = Tensor::<f32>::rand_uniform(&[2], f32::NAN, 1.0, 0).expect_err("NaN bound");
    assert_eq!(
        err.to_string(),
        "rand_uniform: needs finite low <= high, got low NaN, high 1"
    );
    let err = Initializer::HeNormal
        .init::<f32>(&[usize::MAX, 2], 0)
        .expect_err("overflow");
    assert!(err.to_string().starts_with("he_normal: "), "{err}");
    let err = Initializer::Orthogonal { gain: 1.0 }
        .init::<f32>(&[5], 0)
        .expect_err("1-d orthogonal");
    assert!(err.to_string().contains("orthogonal"), "{err}");
}

/// `?` on a standard library I/O error in a function returning
/// `tapeflow::Result`, as in `fn main() -> tapeflow::Result<()>`.
fn write_report(path: &str) -> tapeflow::Result<()> {
    std::fs::write(path, "report")?;
    Ok(())
}

#[test]
fn question_mark_converts_std_io_errors() {
    let err = write_report("/no/such/dir/report.txt").expect_err("no such dir");
    let os = std::fs::write("/no/such/dir/report.txt", "report").expect_err("no such dir");
    assert!(matches!(&err, Error::Os(e) if e.kind() == os.kind()));
    assert_eq!(err.to_string(), format!("io: {os}"));
    assert!(!err.to_string().contains(": :"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

fn labelled(n: usize, classes: usize) -> Dataset {
    let x = Tensor::from_vec((0..n).map(|i| i as f32).collect(), &[n, 1]).expect("x");
    let y = Tensor::from_vec((0..n).map(|i| (i % classes) as f32).collect(), &[n, 1]).expect("y");
    Dataset::new(x, y).expect("dataset")
}

#[test]
fn split_options_have_scikit_learn_names_and_documented_defaults() {
    let opts = SplitOptions::new(0.2);
    assert_eq!((opts.test_size, opts.seed, opts.stratify), (0.2, 0, false));
    assert_eq!(SplitOptions::default().test_size, 0.25);
    let ds = labelled(100, 4);
    // The default seed is a fixed 0: the same split on every call.
    let (a, _) = train_test_split(&ds, SplitOptions::new(0.3)).expect("split");
    let (b, _) = train_test_split(&ds, SplitOptions::new(0.3).seed(0)).expect("split");
    let (c, _) = train_test_split(&ds, SplitOptions::new(0.3).seed(1)).expect("split");
    assert_eq!(a.features(), b.features());
    assert_ne!(a.features(), c.features());
    let (train, test) =
        train_test_split(&ds, SplitOptions::new(0.2).seed(42).stratify(true)).expect("split");
    assert_eq!((train.len(), test.len()), (80, 20));
    let mut per_class = [0usize; 4];
    for &v in test.targets().as_slice() {
        per_class[v as usize] += 1;
    }
    assert_eq!(per_class, [5, 5, 5, 5]);
}

#[test]
fn split_rejects_test_sizes_outside_zero_one() {
    let ds = labelled(10, 2);
    for (size, shown) in [
        (0.0, "0"),
        (1.0, "1"),
        (f64::NAN, "NaN"),
        (-0.2, "-0.2"),
        (f64::INFINITY, "inf"),
    ] {
        let err = train_test_split(&ds, SplitOptions::new(size)).expect_err("bad test_size");
        assert_eq!(
            err.to_string(),
            format!("train_test_split: test_size must be in (0, 1), got {shown} (10 rows)")
        );
    }
}

#[test]
fn shuffled_batches_from_a_seed_equal_the_rng_form() {
    let ds = labelled(23, 3);
    let seeded: Vec<Vec<f32>> = ds
        .batches(5)
        .expect("batches")
        .shuffle(8)
        .map(|(x, _)| x.to_vec())
        .collect();
    let with_rng: Vec<Vec<f32>> = ds
        .batches_with_rng(5, &mut StdRng::seed_from_u64(8))
        .expect("batches")
        .map(|(x, _)| x.to_vec())
        .collect();
    assert_eq!(seeded, with_rng);
    assert_eq!(seeded.len(), 5);
    let dropped = ds
        .batches(5)
        .expect("batches")
        .shuffle(8)
        .drop_remainder(true);
    assert_eq!(dropped.len(), 4);
    let err = ds.batches(0).expect_err("batch size 0");
    assert_eq!(
        err.to_string(),
        "batches: batch_size must be at least 1, got 0"
    );
}

#[test]
fn take_and_reshape_features_copy_nothing_and_check_shapes() {
    let ds = labelled(10, 2);
    let head = ds.take(3);
    assert_eq!(head.targets().to_vec(), vec![0.0, 1.0, 0.0]);
    assert_eq!(ds.take(0).len(), 0);
    assert_eq!(ds.take(usize::MAX).len(), 10);
    let wide = Dataset::new(
        Tensor::<f32>::zeros(&[4, 6]).expect("x"),
        Tensor::zeros(&[4, 1]).expect("y"),
    )
    .expect("ds");
    assert_eq!(
        wide.reshape_features(&[2, 3])
            .expect("reshape")
            .features()
            .shape(),
        &[4, 2, 3]
    );
    let err = wide.reshape_features(&[4]).expect_err("wrong size");
    assert_eq!(
        err.to_string(),
        "reshape: shape [4, 4] needs 16 elements, got 24"
    );
}

#[test]
fn mnist_load_take_and_images_match_the_long_way() {
    let mnist = Mnist::load(MNIST).expect("mnist");
    let small = mnist.take(300, 50);
    assert_eq!(small.to_string(), "MNIST: 300 train, 50 test");
    assert_eq!(
        small.train.features(),
        &mnist.train.features().slice_rows(0..300).expect("rows")
    );
    assert_eq!(
        small.test.targets(),
        &mnist.test.targets().slice_rows(0..50).expect("rows")
    );
    let images = small.images().expect("images");
    assert_eq!(images.train.features().shape(), &[300, 28, 28, 1]);
    assert_eq!(
        images.test.features().to_vec(),
        small.test.features().to_vec()
    );
    let all = mnist.take(usize::MAX, usize::MAX);
    assert_eq!((all.train.len(), all.test.len()), (60_000, 10_000));
    let err = Mnist::load("no/such/dir").expect_err("no folder");
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn fit_transform_split_equals_fit_on_train_then_transform_both() {
    let iris = Dataset::from_csv(IRIS, "target").expect("iris");
    let (train, test) =
        train_test_split(&iris, SplitOptions::new(0.2).seed(42).stratify(true)).expect("split");

    let mut scaler = StandardScaler::new();
    let (a_train, a_test) = scaler.fit_transform_split(&train, &test).expect("scale");
    let mut manual = StandardScaler::new();
    assert_eq!(
        a_train.features(),
        &manual.fit_transform(train.features()).expect("fit")
    );
    assert_eq!(
        a_test.features(),
        &manual.transform(test.features()).expect("transform")
    );
    assert_eq!(a_test.targets(), test.targets());
    assert_eq!(scaler.to_json(), manual.to_json());

    let mut minmax = MinMaxScaler::new();
    let (m_train, m_test) = minmax.fit_transform_split(&train, &test).expect("scale");
    let mut manual = MinMaxScaler::new();
    assert_eq!(
        m_train.features(),
        &manual.fit_transform(train.features()).expect("fit")
    );
    assert_eq!(
        m_test.features(),
        &manual.transform(test.features()).expect("transform")
    );

    // Test features with another width than the training ones: an error.
    let narrow = Dataset::new(
        Tensor::<f32>::zeros(&[2, 3]).expect("x"),
        Tensor::zeros(&[2, 1]).expect("y"),
    )
    .expect("ds");
    assert!(
        StandardScaler::new()
            .fit_transform_split(&train, &narrow)
            .is_err()
    );
}
