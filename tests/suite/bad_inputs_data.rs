//! Bad-input battery for `data`: encoders, datasets and batching, splits,
//! scalers, missing values, the CSV and IDX loaders. Each case must return
//! `Err` and name the op and the offending value, shape, line or file.

use std::io::Write;
use std::path::PathBuf;

use flate2::{Compression, write::GzEncoder};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::Tensor;
use tapeflow::data::{
    Dataset, Impute, KFold, LabelColumn, LabelEncoder, MinMaxScaler, SplitOptions, StandardScaler,
    class_indices, drop_missing_rows, impute_missing, load_csv, load_idx_dataset, load_idx_images,
    load_idx_labels, load_mnist, one_hot, read_csv, to_categorical, train_test_split,
};

use crate::bad_inputs_tensor::{Case, case, run_battery};

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).expect("valid test tensor")
}

fn t64(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("valid test tensor")
}

fn ds(labels: &[f32]) -> Dataset {
    let n = labels.len();
    let x = t(&(0..n).map(|i| i as f32).collect::<Vec<_>>(), &[n, 1]);
    Dataset::new(x, t(labels, &[n, 1])).expect("dataset")
}

/// Writes `bytes` to a file of this process's battery folder.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapeflow-bad-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn idx(kind: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, kind];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(payload);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn csv(text: &'static str, label: LabelColumn) -> tapeflow::Result<tapeflow::data::CsvData> {
    read_csv(text.as_bytes(), label)
}

fn fitted_standard() -> StandardScaler {
    let mut s = StandardScaler::new();
    s.fit(&t(&[0.0, 1.0, 2.0, 3.0], &[2, 2])).expect("fit");
    s
}

fn fitted_minmax() -> MinMaxScaler {
    let mut s = MinMaxScaler::new();
    s.fit(&t(&[0.0, 1.0, 2.0, 3.0], &[2, 2])).expect("fit");
    s
}

fn encode_and_dataset_cases() -> Vec<Case> {
    let max = usize::MAX;
    vec![
        case!(
            "one_hot usize::MAX classes",
            one_hot::<f32>(&[0, 1], max),
            ["one_hot", &format!("[2, {max}]"), "too large"]
        ),
        case!(
            "one_hot 2^62 classes f32",
            one_hot::<f32>(&[0], 1 << 62),
            ["one_hot", "[1, 4611686018427387904]"]
        ),
        case!(
            "one_hot 2^60 classes cannot allocate",
            one_hot::<f32>(&[0], 1 << 60),
            ["one_hot", "cannot allocate"]
        ),
        case!(
            "one_hot label beyond classes",
            one_hot::<f32>(&[0, 5], 3),
            ["one_hot", "row 1", "label 5", "3 classes"]
        ),
        case!(
            "one_hot zero classes",
            one_hot::<f32>(&[0], 0),
            ["one_hot", "row 0", "0 classes"]
        ),
        case!(
            "to_categorical usize::MAX",
            to_categorical::<f64>(&[1], max),
            ["one_hot", &format!("[1, {max}]")]
        ),
        case!(
            "to_categorical label beyond",
            to_categorical::<f32>(&[9], 2),
            ["one_hot", "label 9"]
        ),
        case!(
            "class_indices fractional",
            class_indices(&t(&[0.0, 0.5], &[2])),
            ["class_indices", "row 1", "0.5"]
        ),
        case!(
            "class_indices negative",
            class_indices(&t(&[-1.0], &[1, 1])),
            ["class_indices", "row 0", "-1"]
        ),
        case!(
            "class_indices NaN",
            class_indices(&t(&[f32::NAN], &[1])),
            ["class_indices", "NaN"]
        ),
        case!(
            "class_indices inf",
            class_indices(&t(&[1.0, f32::INFINITY], &[2])),
            ["class_indices", "row 1", "inf"]
        ),
        case!(
            "class_indices beyond 2^53",
            class_indices(&t64(&[1e17], &[1])),
            ["class_indices", "row 0", "100000000000000000"]
        ),
        case!(
            "class_indices scalar",
            class_indices(&Tensor::scalar(1.0f32)),
            ["class_indices", "shape []"]
        ),
        case!(
            "class_indices 3-d",
            class_indices(&t(&[0.0; 8], &[2, 2, 2])),
            ["class_indices", "[2, 2, 2]"]
        ),
        case!(
            "LabelEncoder duplicate class",
            LabelEncoder::from_classes(vec!["a".into(), "b".into(), "a".into()]),
            ["LabelEncoder::from_classes", "\"a\""]
        ),
        case!(
            "LabelEncoder unknown label",
            {
                let mut e = LabelEncoder::new();
                e.fit(&["cat"]);
                e.transform(&["cat", "emu"])
            },
            ["LabelEncoder::transform", "row 1", "\"emu\""]
        ),
        case!(
            "LabelEncoder unfitted transform",
            LabelEncoder::new().transform(&["x"]),
            ["LabelEncoder::transform", "\"x\""]
        ),
        case!(
            "LabelEncoder inverse beyond",
            {
                let mut e = LabelEncoder::new();
                e.fit(&["a"]);
                e.inverse_transform(&[0, 5])
            },
            ["LabelEncoder::inverse_transform", "index 5", "length 1"]
        ),
        case!(
            "LabelEncoder inverse usize::MAX",
            LabelEncoder::new().inverse_transform(&[max]),
            ["LabelEncoder::inverse_transform", &format!("index {max}")]
        ),
        case!(
            "Dataset::new row mismatch",
            Dataset::new(t(&[0.0; 8], &[4, 2]), t(&[0.0; 3], &[3, 1])),
            ["Dataset::new", "4 rows", "3", "[4, 2]", "[3, 1]"]
        ),
        case!(
            "Dataset::new scalar features",
            Dataset::new(Tensor::scalar(1.0f32), t(&[0.0], &[1])),
            ["Dataset::new", "shape []"]
        ),
        case!(
            "Dataset::new scalar targets",
            Dataset::new(t(&[0.0], &[1, 1]), Tensor::scalar(1.0f32)),
            ["Dataset::new", "shape []"]
        ),
        case!(
            "Dataset::select out of range",
            ds(&[0.0, 1.0]).select(&[2]),
            ["select_rows", "index 2", "length 2"]
        ),
        case!(
            "Dataset::select usize::MAX",
            ds(&[0.0, 1.0]).select(&[max]),
            ["select_rows", &format!("index {max}")]
        ),
        case!(
            "batches of 0",
            ds(&[0.0, 1.0]).batches(0),
            ["batches", "batch_size", "got 0"]
        ),
        case!(
            "shuffled batches of 0",
            ds(&[0.0, 1.0])
                .batches(0)
                .map(|b| b.shuffle(3))
                .map(|b| b.drop_remainder(true)),
            ["batches", "got 0"]
        ),
        case!(
            "batches_with_rng of 0",
            ds(&[0.0]).batches_with_rng(0, &mut StdRng::seed_from_u64(1)),
            ["batches", "got 0"]
        ),
        case!(
            "CsvData without label to_dataset",
            csv("a,b\n1,2\n", LabelColumn::None)?.to_dataset(),
            ["CsvData::to_dataset", "without a label column"]
        ),
    ]
}

fn split_cases() -> Vec<Case> {
    let ten = || ds(&[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    vec![
        case!(
            "split ratio 0",
            train_test_split(&ten(), SplitOptions::new(0.0).seed(1)),
            ["train_test_split", "test_size", "got 0", "10 rows"]
        ),
        case!(
            "split ratio 1",
            train_test_split(&ten(), SplitOptions::new(1.0).seed(1)),
            ["train_test_split", "got 1"]
        ),
        case!(
            "split ratio NaN",
            train_test_split(&ten(), SplitOptions::new(f64::NAN).seed(1)),
            ["train_test_split", "NaN"]
        ),
        case!(
            "split ratio negative",
            train_test_split(&ten(), SplitOptions::new(-0.5).seed(1).stratify(true)),
            ["train_test_split", "-0.5"]
        ),
        case!(
            "split ratio inf",
            train_test_split(&ten(), SplitOptions::new(f64::INFINITY).seed(1)),
            ["train_test_split", "inf"]
        ),
        case!(
            "split of one row",
            train_test_split(&ds(&[0.0]), SplitOptions::new(0.5).seed(1)),
            ["train_test_split", "too few rows", "1 rows"]
        ),
        case!(
            "split with an empty train part",
            train_test_split(&ten(), SplitOptions::new(0.95).seed(1)),
            ["train_test_split", "too few rows", "0.95"]
        ),
        case!(
            "stratify a class of one member",
            train_test_split(
                &ds(&[0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
                SplitOptions::new(0.5).seed(1).stratify(true)
            ),
            ["train_test_split", "class 0", "only 1 member"]
        ),
        case!(
            "stratify a class of one member, large label",
            train_test_split(
                &ds(&[1e9, 0.0, 0.0, 0.0]),
                SplitOptions::new(0.5).seed(1).stratify(true)
            ),
            ["train_test_split", "class 1000000000", "only 1 member"]
        ),
        case!(
            "stratify more classes than test rows",
            train_test_split(
                &ds(&[0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]),
                SplitOptions::new(0.2).seed(1).stratify(true)
            ),
            ["train_test_split", "test part has 2 rows", "5 classes"]
        ),
        case!(
            "stratify more classes than train rows",
            train_test_split(
                &ds(&[0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]),
                SplitOptions::new(0.8).seed(1).stratify(true)
            ),
            ["train_test_split", "train part has 2 rows", "5 classes"]
        ),
        case!(
            "stratify fractional labels",
            train_test_split(
                &ds(&[0.5, 1.0, 0.0, 1.0]),
                SplitOptions::new(0.5).seed(1).stratify(true)
            ),
            ["class_indices", "0.5"]
        ),
        case!(
            "stratify NaN labels",
            train_test_split(
                &ds(&[f32::NAN, 1.0, 0.0, 1.0]),
                SplitOptions::new(0.5).seed(1).stratify(true)
            ),
            ["class_indices", "NaN"]
        ),
        case!(
            "KFold 1 split",
            KFold::new(1).split(10),
            ["KFold::split", "n_splits", "got 1"]
        ),
        case!(
            "KFold 0 splits",
            KFold::new(0).split(10),
            ["KFold::split", "got 0"]
        ),
        case!(
            "KFold more splits than rows",
            KFold::new(5).split(4),
            ["KFold::split", "[2, 4]", "got 5"]
        ),
        case!(
            "KFold usize::MAX rows",
            KFold::new(2).split(usize::MAX),
            ["KFold::split", &format!("[2, {}]", usize::MAX)]
        ),
        case!(
            "KFold 2^58 rows cannot allocate",
            KFold::new(2).split(1 << 58),
            ["KFold::split", "cannot allocate"]
        ),
        case!(
            "KFold split_dataset too many folds",
            KFold::new(3).split_dataset(&ds(&[0.0, 1.0])),
            ["KFold::split", "got 3"]
        ),
    ]
}

fn scaler_cases() -> Vec<Case> {
    let bad_json = |text: &'static str| StandardScaler::from_json(text);
    let bad_minmax = |text: &'static str| MinMaxScaler::from_json(text);
    vec![
        case!(
            "StandardScaler fit 1-d",
            StandardScaler::new().fit(&t(&[1.0, 2.0], &[2])),
            ["StandardScaler::fit", "[2]"]
        ),
        case!(
            "StandardScaler fit 3-d",
            StandardScaler::new().fit(&t(&[0.0; 8], &[2, 2, 2])),
            ["StandardScaler::fit", "[2, 2, 2]"]
        ),
        case!(
            "StandardScaler fit no rows",
            StandardScaler::new().fit(&Tensor::<f32>::zeros(&[0, 2])?),
            ["StandardScaler::fit", "[0, 2]"]
        ),
        case!(
            "StandardScaler fit NaN",
            StandardScaler::new().fit(&t(&[1.0, 2.0, 3.0, f32::NAN], &[2, 2])),
            ["StandardScaler::fit", "row 1, column 1", "NaN"]
        ),
        case!(
            "StandardScaler fit inf",
            StandardScaler::new().fit(&t64(&[f64::INFINITY], &[1, 1])),
            ["StandardScaler::fit", "row 0, column 0", "inf"]
        ),
        case!(
            "StandardScaler transform unfitted",
            StandardScaler::new().transform(&t(&[1.0], &[1, 1])),
            ["StandardScaler::transform", "not fitted"]
        ),
        case!(
            "StandardScaler transform wrong width",
            fitted_standard().transform(&t(&[1.0; 3], &[1, 3])),
            ["StandardScaler::transform", "2 columns", "[1, 3]"]
        ),
        case!(
            "StandardScaler transform 1-d",
            fitted_standard().transform(&t(&[1.0; 2], &[2])),
            ["StandardScaler::transform", "[2]"]
        ),
        case!(
            "StandardScaler inverse unfitted",
            StandardScaler::new().inverse_transform(&t(&[1.0], &[1, 1])),
            ["StandardScaler::inverse_transform", "not fitted"]
        ),
        case!(
            "StandardScaler inverse wrong width",
            fitted_standard().inverse_transform(&t(&[1.0], &[1, 1])),
            ["StandardScaler::inverse_transform", "[1, 1]"]
        ),
        case!(
            "StandardScaler transform overflows f32",
            {
                let mut s = StandardScaler::new();
                s.fit(&t(&[0.0, 2e-30], &[2, 1]))?;
                s.transform(&t(&[3e38], &[1, 1]))
            },
            [
                "StandardScaler::transform",
                "row 0, column 0",
                "300000000",
                "f32"
            ]
        ),
        case!(
            "StandardScaler inverse overflows f32",
            StandardScaler::from_json(
                r#"{"kind":"StandardScaler","version":1,"mean":[0.0],"scale":[1e10]}"#
            )?
            .inverse_transform(&t(&[1e30], &[1, 1])),
            [
                "StandardScaler::inverse_transform",
                "row 0, column 0",
                "f32"
            ]
        ),
        case!(
            "StandardScaler from_json not JSON",
            bad_json("{\"kind\":"),
            ["StandardScaler::from_json", "invalid JSON"]
        ),
        case!(
            "StandardScaler from_json wrong kind",
            bad_json(r#"{"kind":"MinMaxScaler","version":1}"#),
            ["StandardScaler::from_json", "MinMaxScaler"]
        ),
        case!(
            "StandardScaler from_json version 2",
            bad_json(r#"{"kind":"StandardScaler","version":2,"mean":null,"scale":null}"#),
            ["StandardScaler::from_json", "version", "2"]
        ),
        case!(
            "StandardScaler from_json zero scale",
            bad_json(r#"{"kind":"StandardScaler","version":1,"mean":[1.0],"scale":[0.0]}"#),
            ["StandardScaler::from_json", "positive scales"]
        ),
        case!(
            "StandardScaler from_json lengths differ",
            bad_json(r#"{"kind":"StandardScaler","version":1,"mean":[1.0, 2.0],"scale":[1.0]}"#),
            ["StandardScaler::from_json", "equal length"]
        ),
        case!(
            "StandardScaler from_json text number",
            bad_json(r#"{"kind":"StandardScaler","version":1,"mean":["1"],"scale":[1.0]}"#),
            ["StandardScaler::from_json", "\"mean\"", "finite numbers"]
        ),
        case!(
            "StandardScaler from_json missing key",
            bad_json(r#"{"kind":"StandardScaler","version":1,"mean":[1.0]}"#),
            ["StandardScaler::from_json", "\"scale\"", "missing"]
        ),
        case!(
            "MinMaxScaler equal range",
            MinMaxScaler::with_range(1.0, 1.0),
            ["MinMaxScaler::with_range", "min 1, max 1"]
        ),
        case!(
            "MinMaxScaler reversed range",
            MinMaxScaler::with_range(2.0, -2.0),
            ["MinMaxScaler::with_range", "min 2, max -2"]
        ),
        case!(
            "MinMaxScaler NaN range",
            MinMaxScaler::with_range(f64::NAN, 1.0),
            ["MinMaxScaler::with_range", "NaN"]
        ),
        case!(
            "MinMaxScaler infinite range",
            MinMaxScaler::with_range(0.0, f64::INFINITY),
            ["MinMaxScaler::with_range", "inf"]
        ),
        case!(
            "MinMaxScaler fit 1-d",
            MinMaxScaler::new().fit(&t(&[1.0], &[1])),
            ["MinMaxScaler::fit", "[1]"]
        ),
        case!(
            "MinMaxScaler fit no rows",
            MinMaxScaler::new().fit(&Tensor::<f32>::zeros(&[0, 3])?),
            ["MinMaxScaler::fit", "[0, 3]"]
        ),
        case!(
            "MinMaxScaler fit NaN",
            MinMaxScaler::new().fit(&t(&[f32::NAN], &[1, 1])),
            ["MinMaxScaler::fit", "row 0, column 0", "NaN"]
        ),
        case!(
            "MinMaxScaler transform unfitted",
            MinMaxScaler::new().transform(&t(&[1.0], &[1, 1])),
            ["MinMaxScaler::transform", "not fitted"]
        ),
        case!(
            "MinMaxScaler transform wrong width",
            fitted_minmax().transform(&t(&[1.0], &[1, 1])),
            ["MinMaxScaler::transform", "2 columns", "[1, 1]"]
        ),
        case!(
            "MinMaxScaler inverse unfitted",
            MinMaxScaler::new().inverse_transform(&t(&[1.0], &[1, 1])),
            ["MinMaxScaler::inverse_transform", "not fitted"]
        ),
        case!(
            "MinMaxScaler transform overflows f32",
            {
                let mut s = MinMaxScaler::new();
                s.fit(&t(&[0.0, 1e-30], &[2, 1]))?;
                s.transform(&t(&[1e10], &[1, 1]))
            },
            ["MinMaxScaler::transform", "row 0, column 0", "f32"]
        ),
        case!(
            "MinMaxScaler from_json bad range",
            bad_minmax(
                r#"{"kind":"MinMaxScaler","version":1,"feature_range":[1,0],"data_min":null,"data_max":null}"#
            ),
            ["MinMaxScaler::from_json", "feature_range"]
        ),
        case!(
            "MinMaxScaler from_json min above max",
            bad_minmax(
                r#"{"kind":"MinMaxScaler","version":1,"feature_range":[0,1],"data_min":[2],"data_max":[1]}"#
            ),
            ["MinMaxScaler::from_json", "data_min <= data_max"]
        ),
        case!(
            "MinMaxScaler from_json wrong kind",
            bad_minmax(r#"{"kind":"StandardScaler","version":1}"#),
            ["MinMaxScaler::from_json", "StandardScaler"]
        ),
        case!(
            "impute Constant(NaN)",
            impute_missing(&t(&[f32::NAN, 1.0], &[1, 2]), Impute::Constant(f64::NAN)),
            ["impute_missing", "Constant(NaN)", "finite"]
        ),
        case!(
            "impute Constant(inf)",
            impute_missing(&t(&[f32::NAN], &[1, 1]), Impute::Constant(f64::INFINITY)),
            ["impute_missing", "Constant(inf)"]
        ),
        case!(
            "impute Constant(1e39) into f32",
            impute_missing(&t(&[f32::NAN], &[1, 1]), Impute::Constant(1e39)),
            [
                "impute_missing",
                "Constant(1000000000000000000000000000000000000000)",
                "f32"
            ]
        ),
        case!(
            "impute Constant(-1e309) into f64",
            impute_missing(
                &t64(&[f64::NAN], &[1, 1]),
                Impute::Constant(f64::NEG_INFINITY)
            ),
            ["impute_missing", "Constant(-inf)", "f64"]
        ),
        case!(
            "impute Mean of an all-missing column",
            impute_missing(&t(&[1.0, f32::NAN, 2.0, f32::NAN], &[2, 2]), Impute::Mean),
            ["impute_missing", "column 1", "Mean"]
        ),
        case!(
            "impute Median of an all-missing column",
            impute_missing(&t(&[f32::NAN], &[1, 1]), Impute::Median),
            ["impute_missing", "column 0", "Median"]
        ),
        case!(
            "impute 1-d",
            impute_missing(&t(&[1.0], &[1]), Impute::Mean),
            ["impute_missing", "[1]"]
        ),
        case!(
            "drop_missing_rows 1-d",
            drop_missing_rows(&t(&[1.0], &[1])),
            ["drop_missing_rows", "[1]"]
        ),
        case!(
            "drop_missing_rows scalar",
            drop_missing_rows(&Tensor::scalar(1.0f32)),
            ["drop_missing_rows", "[]"]
        ),
    ]
}

fn loader_cases() -> Vec<Case> {
    let last = || LabelColumn::Last;
    let max = u32::MAX;
    vec![
        case!(
            "csv 1e39 overflows f32",
            csv("a,b\n1e39,2\n", LabelColumn::None),
            [
                "load_csv",
                "line 2",
                "column 1",
                "\"1e39\"",
                "overflows f32"
            ]
        ),
        case!(
            "csv -1e39 overflows f32",
            csv("a,b\n1,-1e39\n", LabelColumn::None),
            ["load_csv", "line 2", "column 2", "\"-1e39\""]
        ),
        case!(
            "csv 1e400 overflows",
            csv("a\n1\n1e400\n", LabelColumn::None),
            ["load_csv", "line 3", "column 1", "\"1e400\""]
        ),
        case!(
            "csv label 1e39 overflows",
            csv("a,y\n1,1e39\n", last()),
            ["load_csv", "line 2", "column 2", "\"1e39\"", "column \"y\""]
        ),
        case!(
            "csv 3.5e38 overflows",
            csv("x\n3.5e38\n", LabelColumn::None),
            ["load_csv", "line 2", "\"3.5e38\""]
        ),
        case!(
            "csv empty",
            csv("", LabelColumn::None),
            ["load_csv", "<reader>", "empty file"]
        ),
        case!(
            "csv header only",
            csv("a,b\n", last()),
            ["load_csv", "no data rows"]
        ),
        case!(
            "csv short row",
            csv("a,b\n1,2\n3\n", last()),
            ["load_csv", "line 3", "expected 2 fields", "got 1"]
        ),
        case!(
            "csv long row",
            csv("a,b\n1,2,3\n", LabelColumn::None),
            ["load_csv", "line 2", "got 3"]
        ),
        case!(
            "csv not a number",
            csv("x,y\n1,oops\n", LabelColumn::None),
            ["load_csv", "line 2", "column 2", "\"oops\"", "column \"y\""]
        ),
        case!(
            "csv missing label",
            csv("a,y\n1,NA\n", last()),
            ["load_csv", "line 2", "column 2", "missing label"]
        ),
        case!(
            "csv label index beyond",
            csv("a,b\n1,2\n", LabelColumn::Index(5)),
            ["load_csv", "label column index 5", "2 columns"]
        ),
        case!(
            "csv label index usize::MAX",
            csv("a,b\n1,2\n", LabelColumn::Index(usize::MAX)),
            ["load_csv", &format!("index {}", usize::MAX)]
        ),
        case!(
            "csv no such label name",
            csv("a,b\n1,2\n", LabelColumn::Name("target".into())),
            [
                "load_csv",
                "no label column named \"target\"",
                "[\"a\", \"b\"]"
            ]
        ),
        case!(
            "csv invalid UTF-8",
            read_csv(&b"a,b\n1,\xff\xfe\n"[..], LabelColumn::None),
            ["load_csv", "<reader>", "line 2"]
        ),
        case!(
            "load_csv missing file",
            load_csv("no/such/dir/file.csv", last()),
            ["load_csv", "no/such/dir/file.csv"]
        ),
        case!(
            "idx images missing file",
            load_idx_images("no/such/images.idx"),
            ["load_idx_images", "no/such/images.idx"]
        ),
        case!(
            "idx labels missing file",
            load_idx_labels("no/such/labels.idx"),
            ["load_idx_labels", "no/such/labels.idx"]
        ),
        case!(
            "idx images bad magic",
            load_idx_images(file("magic.idx", &idx(1, &[2], &[1, 2]))),
            [
                "load_idx_images",
                "magic.idx",
                "bad magic number 0x00000801"
            ]
        ),
        case!(
            "idx labels bad magic",
            load_idx_labels(file("magic3.idx", &idx(3, &[1, 1, 1], &[1]))),
            [
                "load_idx_labels",
                "bad magic number 0x00000803",
                "0x00000801"
            ]
        ),
        case!(
            "idx images too short",
            load_idx_images(file("short.idx", &[0, 0])),
            ["load_idx_images", "short.idx", "2 bytes", "too short"]
        ),
        case!(
            "idx images truncated header",
            load_idx_images(file("header.idx", &[0, 0, 8, 3, 0, 0, 0, 1])),
            [
                "load_idx_images",
                "truncated header",
                "8 bytes",
                "expected 16"
            ]
        ),
        case!(
            "idx images truncated payload",
            load_idx_images(file("cut.idx", &idx(3, &[2, 2, 2], &[0; 5]))),
            [
                "load_idx_images",
                "truncated payload",
                "[2, 2, 2]",
                "8 bytes",
                "found 5"
            ]
        ),
        case!(
            "idx labels trailing bytes",
            load_idx_labels(file("long.idx", &idx(1, &[2], &[1, 2, 3]))),
            ["load_idx_labels", "trailing bytes", "[2]", "found 3"]
        ),
        case!(
            "idx images dims overflow",
            load_idx_images(file("huge.idx", &idx(3, &[max, max, max], &[]))),
            [
                "load_idx_images",
                "[4294967295, 4294967295, 4294967295]",
                "overflow"
            ]
        ),
        case!(
            "idx images empty with huge dims",
            load_idx_images(file("empty-huge.idx", &idx(3, &[0, max, max], &[]))),
            ["load_idx_images", "[0, 4294967295, 4294967295]"]
        ),
        case!(
            "idx images claim 2^40 bytes",
            load_idx_images(file(
                "claim.idx",
                &idx(3, &[1 << 20, 1 << 10, 1 << 10], &[0; 16])
            )),
            [
                "load_idx_images",
                "truncated payload",
                "1099511627776 bytes",
                "found 16"
            ]
        ),
        case!(
            "idx gz corrupt",
            load_idx_images(file("bad.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3])),
            ["load_idx_images", "bad.gz", "gzip"]
        ),
        case!(
            "idx gz truncated",
            load_idx_labels(file("cut.gz", &gzip(&idx(1, &[64], &[7; 64]))[..30])),
            ["load_idx_labels", "cut.gz"]
        ),
        case!(
            "idx gz bomb beyond its header",
            load_idx_labels(file("bomb.gz", &gzip(&idx(1, &[4], &vec![0u8; 50 << 20])))),
            [
                "load_idx_labels",
                "bomb.gz",
                "trailing bytes",
                "[4]",
                "found 5"
            ]
        ),
        case!(
            "idx dataset counts differ",
            load_idx_dataset(
                file("x3.idx", &idx(3, &[3, 1, 1], &[0; 3])),
                file("y2.idx", &idx(1, &[2], &[0; 2]))
            ),
            [
                "load_idx_dataset",
                "x3.idx",
                "3 images but 2 labels",
                "y2.idx"
            ]
        ),
        case!(
            "mnist missing folder",
            load_mnist("no/such/mnist"),
            ["load_mnist", "no/such/mnist", "data/README.md"]
        ),
    ]
}

#[test]
fn every_bad_encoder_dataset_split_scaler_and_loader_input_is_an_error() {
    let n = run_battery(encode_and_dataset_cases())
        + run_battery(split_cases())
        + run_battery(scaler_cases())
        + run_battery(loader_cases());
    assert!(n >= 110, "{n} cases");
}

/// Labels `{0, 1e9}` are two classes: the stratified split costs memory for
/// two classes (not a billion) and keeps their proportions.
#[test]
fn stratified_split_on_large_labels_costs_the_distinct_labels_only() {
    let labels: Vec<f32> = (0..20)
        .map(|i| if i % 4 == 0 { 1e9 } else { 0.0 })
        .collect();
    let (train, test) =
        train_test_split(&ds(&labels), SplitOptions::new(0.5).seed(7).stratify(true))
            .expect("two classes");
    let count = |d: &Dataset, v: f32| d.targets().as_slice().iter().filter(|&&y| y == v).count();
    assert_eq!((count(&train, 1e9), count(&test, 1e9)), (3, 2));
    assert_eq!((count(&train, 0.0), count(&test, 0.0)), (7, 8));
}

mod value_properties {
    use proptest::prelude::*;
    use tapeflow::Tensor;
    use tapeflow::data::{LabelColumn, MinMaxScaler, StandardScaler, read_csv};

    /// Finite f64 values of any magnitude, from 1e-300 to 1e308.
    fn magnitude() -> impl Strategy<Value = f64> {
        (-300i32..=308, 1.0f64..10.0, any::<bool>()).prop_map(|(e, m, neg)| {
            let v = m * 10f64.powi(e);
            let v = if v.is_finite() { v } else { f64::MAX / 2.0 };
            if neg { -v } else { v }
        })
    }

    proptest! {
        /// A CSV cell loads exactly when its value fits in f32; otherwise the
        /// error names the line, the column and the text of the value.
        #[test]
        fn csv_values_beyond_f32_are_errors_naming_the_cell(v in magnitude(), row in 0usize..3) {
            let text = format!("{v:e}");
            let mut csv = String::from("a,b\n");
            for r in 0..3 {
                csv += &if r == row { format!("1,{text}\n") } else { "1,2\n".to_string() };
            }
            match read_csv(csv.as_bytes(), LabelColumn::None) {
                Ok(data) => {
                    prop_assert!(v.abs() <= f64::from(f32::MAX) * (1.0 + 1e-7), "{} loaded", text);
                    prop_assert!(data.features.all_finite());
                }
                Err(e) => {
                    prop_assert!(v.abs() > f64::from(f32::MAX) * (1.0 - 1e-7), "{}: {}", text, e);
                    let want = format!("load_csv: <reader>, line {}, column 2: value {text:?} overflows f32", row + 2);
                    prop_assert!(e.to_string().starts_with(&want), "{}", e);
                }
            }
        }

        /// StandardScaler scales a column of any magnitude: every output is
        /// finite and the scaled column has mean 0 and standard deviation 1
        /// (values near 1e300 used to overflow the variance and stay unscaled).
        #[test]
        fn standard_scaler_handles_extreme_magnitudes(
            col in proptest::collection::vec(magnitude(), 2..20),
            scale_exp in -300i32..=300,
        ) {
            let s = 10f64.powi(scale_exp);
            // Subnormal values (below 2.2e-308) have lost their precision
            // before any scaling: keep values whose differences stay normal.
            let col: Vec<f64> = col
                .iter()
                .map(|v| (v / 1e8) * s)
                .filter(|v| v.is_finite() && (*v == 0.0 || v.abs() > 1e-280))
                .collect();
            prop_assume!(col.len() >= 2 && col.iter().any(|&v| v != col[0]));
            let n = col.len();
            let x = Tensor::from_vec(col.clone(), &[n, 1]).expect("column");
            let mut scaler = StandardScaler::new();
            let z = scaler.fit_transform(&x).expect("finite column");
            let z = z.as_slice();
            prop_assert!(z.iter().all(|v| v.is_finite()), "{:?}", z);
            let mean = z.iter().sum::<f64>() / n as f64;
            let var = z.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            let (fit_mean, fit_scale) = (scaler.mean().expect("fitted")[0], scaler.scale().expect("fitted")[0]);
            prop_assert!(fit_mean.is_finite() && fit_scale.is_finite() && fit_scale > 0.0);
            // Spread so large that the mean and deviation lose all precision
            // (a constant column up to rounding) scales by 1: skip those.
            if fit_scale != 1.0 {
                prop_assert!(mean.abs() < 1e-6, "mean {}", mean);
                prop_assert!((var - 1.0).abs() < 1e-6, "var {}", var);
            }
            let back = scaler.inverse_transform(&Tensor::from_vec(z.to_vec(), &[n, 1]).expect("z")).expect("inverse");
            for (b, v) in back.as_slice().iter().zip(&col) {
                prop_assert!((b - v).abs() <= 1e-9 * v.abs().max(fit_scale), "{} vs {}", b, v);
            }
        }

        /// MinMaxScaler maps a column of any magnitude (even spanning
        /// -1e308..1e308, whose range overflows) onto [0, 1] exactly at the
        /// ends.
        #[test]
        fn minmax_scaler_handles_extreme_magnitudes(col in proptest::collection::vec(magnitude(), 2..20)) {
            prop_assume!(col.iter().any(|&v| v != col[0]));
            let n = col.len();
            let x = Tensor::from_vec(col.clone(), &[n, 1]).expect("column");
            let y = MinMaxScaler::new().fit_transform(&x).expect("finite column");
            let y = y.as_slice();
            prop_assert!(y.iter().all(|v| v.is_finite() && (-1e-12..=1.0 + 1e-12).contains(v)), "{:?}", y);
            let (lo, hi) = col.iter().enumerate().fold((0, 0), |(lo, hi), (i, &v)| {
                (if v < col[lo] { i } else { lo }, if v > col[hi] { i } else { hi })
            });
            prop_assert_eq!(y[lo], 0.0);
            prop_assert_eq!(y[hi], 1.0);
        }
    }
}
