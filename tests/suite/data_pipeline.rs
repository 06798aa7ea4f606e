//! The data-preparation pipeline on the shipped files: load, split, scale,
//! one-hot, batch; and MNIST from its IDX files.

use std::path::PathBuf;

use tapeflow::Tensor;
use tapeflow::data::{
    Dataset, KFold, LabelColumn, MinMaxScaler, SplitOptions, StandardScaler, class_indices,
    load_csv, load_mnist, one_hot, read_csv, train_test_split,
};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn class_counts(targets: &Tensor) -> Vec<usize> {
    let classes = class_indices(targets).expect("class indices");
    let mut counts = vec![0; classes.iter().max().map_or(0, |m| m + 1)];
    for c in classes {
        counts[c] += 1;
    }
    counts
}

/// A dataset whose targets are the row numbers, to follow rows through splits.
fn numbered(n: usize) -> Dataset {
    let ids = Tensor::from_vec((0..n).map(|i| i as f32).collect(), &[n, 1]).expect("ids");
    Dataset::new(ids.clone(), ids).expect("dataset")
}

fn ids(ds: &Dataset) -> Vec<usize> {
    ds.targets()
        .as_slice()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

#[test]
fn shipped_csv_files_have_the_documented_sizes_and_classes() {
    // (file, rows, features, class counts) as in data/README.md
    let expected: [(&str, usize, usize, Vec<usize>); 3] = [
        ("iris.csv", 150, 4, vec![50, 50, 50]),
        (
            "digits.csv",
            1797,
            64,
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180],
        ),
        ("breast_cancer.csv", 569, 30, vec![212, 357]),
    ];
    for (file, rows, features, counts) in expected {
        let data = load_csv(shipped(file), LabelColumn::Name("target".into())).expect(file);
        assert_eq!(data.features.shape(), &[rows, features], "{file}");
        assert_eq!(data.feature_names.len(), features, "{file}");
        assert_eq!(data.label_name.as_deref(), Some("target"));
        assert!(data.label_encoder.is_none(), "{file}: numeric labels");
        assert_eq!(data.missing_cells(), 0, "{file}");
        assert!(data.features.all_finite(), "{file}");
        assert_eq!(
            class_counts(data.targets.as_ref().expect("targets")),
            counts,
            "{file}"
        );
    }
    let iris = load_csv(shipped("iris.csv"), LabelColumn::Last).expect("iris");
    assert_eq!(iris.features.get(&[0, 0]), Some(5.1));
    assert_eq!(iris.feature_names[3], "petal_width_cm");
}

#[test]
fn string_labels_go_through_the_label_encoder() {
    let text = "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n";
    let data = read_csv(text.as_bytes(), LabelColumn::Name("species".into())).expect("csv");
    let enc = data
        .label_encoder
        .as_ref()
        .expect("string labels are encoded");
    assert_eq!(enc.classes(), &["setosa", "versicolor", "virginica"]);
    assert_eq!(
        data.targets.as_ref().expect("targets").to_vec(),
        vec![0.0, 1.0, 2.0, 0.0]
    );
    assert_eq!(data.feature_names, vec!["sepal", "petal"]);
}

#[test]
fn missing_cells_load_as_nan_and_are_reported_per_column() {
    let text = "a,b,c,y\n1,,3,0\nNA,2,nan,1\n4,5,6,0\n";
    let data = read_csv(text.as_bytes(), LabelColumn::Index(3)).expect("csv");
    assert_eq!(data.missing, vec![1, 1, 1]);
    assert_eq!(data.missing_cells(), 3);
    let nan: Vec<bool> = data
        .features
        .as_slice()
        .iter()
        .map(|v| v.is_nan())
        .collect();
    assert_eq!(
        nan,
        vec![false, true, false, true, false, true, false, false, false]
    );
}

#[test]
fn stratified_split_of_iris_keeps_a_third_of_each_class() {
    let iris = load_csv(shipped("iris.csv"), LabelColumn::Last).expect("iris");
    let ds = iris.to_dataset().expect("dataset");
    let (train, test) =
        train_test_split(&ds, SplitOptions::new(0.2).seed(42).stratify(true)).expect("split");
    assert_eq!((train.len(), test.len()), (120, 30));
    assert_eq!(class_counts(train.targets()), vec![40, 40, 40]);
    assert_eq!(class_counts(test.targets()), vec![10, 10, 10]);
}

#[test]
fn split_is_a_seeded_partition_of_the_rows() {
    let ds = numbered(50);
    let (train, test) = train_test_split(&ds, SplitOptions::new(0.3).seed(7)).expect("split");
    assert_eq!((train.len(), test.len()), (35, 15));
    let mut all = [ids(&train), ids(&test)].concat();
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    let (train2, _) = train_test_split(&ds, SplitOptions::new(0.3).seed(7)).expect("split");
    assert_eq!(ids(&train), ids(&train2));
    let (train3, _) = train_test_split(&ds, SplitOptions::new(0.3).seed(8)).expect("split");
    assert_ne!(ids(&train), ids(&train3));
}

#[test]
fn kfold_test_parts_cover_every_row_once() {
    let folds = KFold {
        n_splits: 4,
        shuffle: true,
        seed: 3,
    }
    .split_dataset(&numbered(10))
    .expect("folds");
    let sizes: Vec<usize> = folds.iter().map(|(_, test)| test.len()).collect();
    assert_eq!(sizes, vec![3, 3, 2, 2]);
    let mut seen: Vec<usize> = folds.iter().flat_map(|(_, test)| ids(test)).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    for (train, test) in &folds {
        assert_eq!(train.len() + test.len(), 10);
        assert!(ids(train).iter().all(|i| !ids(test).contains(i)));
    }
}

#[test]
fn train_fitted_scaler_standardises_breast_cancer_and_survives_json() {
    let data = load_csv(shipped("breast_cancer.csv"), LabelColumn::Last).expect("csv");
    let (train, test) = train_test_split(
        &data.to_dataset().expect("ds"),
        SplitOptions::new(0.25).seed(1).stratify(true),
    )
    .expect("split");
    let mut scaler = StandardScaler::new();
    let z = scaler
        .fit_transform(&train.features().cast::<f64>())
        .expect("fit");
    let mean = z.mean_axis(0, false).expect("mean");
    let var = z.mul(&z).expect("square").mean_axis(0, false).expect("var");
    for j in 0..30 {
        assert!(mean.as_slice()[j].abs() < 1e-9, "column {j} mean");
        assert!(
            (var.as_slice()[j] - 1.0).abs() < 1e-9,
            "column {j} variance"
        );
    }
    let restored = StandardScaler::from_json(&scaler.to_json()).expect("json");
    assert_eq!(
        restored.transform(test.features()).expect("restored"),
        scaler.transform(test.features()).expect("original")
    );
    let back = scaler.inverse_transform(&z).expect("inverse");
    let err = back
        .sub(&train.features().cast::<f64>())
        .expect("diff")
        .map(f64::abs)
        .max();
    assert!(err < 1e-9, "round trip error {err}");
}

#[test]
fn min_max_scaler_maps_digits_train_range_to_unit_interval() {
    let data = load_csv(shipped("digits.csv"), LabelColumn::Last).expect("csv");
    let mut scaler = MinMaxScaler::new();
    let y = scaler.fit_transform(&data.features).expect("fit");
    assert_eq!(y.min(), 0.0);
    assert_eq!(y.max(), 1.0);
    // pixel_0_0 is 0 in every image: a constant column maps to the range minimum
    assert_eq!(scaler.data_max().expect("fitted")[0], 0.0);
    assert!(y.as_slice().iter().step_by(64).all(|&v| v == 0.0));
    let restored = MinMaxScaler::from_json(&scaler.to_json()).expect("json");
    assert_eq!(restored, scaler);
}

#[test]
fn one_hot_iris_targets_has_one_one_per_row() {
    let iris = load_csv(shipped("iris.csv"), LabelColumn::Last).expect("iris");
    let labels = class_indices(iris.targets.as_ref().expect("targets")).expect("labels");
    let y = one_hot::<f32>(&labels, 3).expect("one hot");
    assert_eq!(y.shape(), &[150, 3]);
    assert_eq!(y.sum_axis(1, false).expect("rows").to_vec(), vec![1.0; 150]);
    assert_eq!(y.sum_axis(0, false).expect("cols").to_vec(), vec![50.0; 3]);
    assert_eq!(class_indices(&y).expect("back"), labels);
}

#[test]
fn seeded_batches_repeat_and_visit_every_row_once() {
    let ds = numbered(103);
    let epoch = |seed| -> Vec<Vec<usize>> {
        ds.batches(10)
            .expect("batches")
            .shuffle(seed)
            .map(|(x, y)| {
                assert_eq!(x, y);
                y.as_slice().iter().map(|&v| v as usize).collect()
            })
            .collect()
    };
    let first = epoch(5);
    assert_eq!(first, epoch(5));
    assert_ne!(first, epoch(6));
    assert_eq!(first.len(), 11);
    assert_eq!(first.last().map(Vec::len), Some(3));
    let mut all: Vec<usize> = first.concat();
    assert_ne!(all, (0..103).collect::<Vec<_>>(), "shuffled");
    all.sort_unstable();
    assert_eq!(all, (0..103).collect::<Vec<_>>());
    let dropped = ds
        .batches(10)
        .expect("batches")
        .shuffle(5)
        .drop_remainder(true);
    assert_eq!(dropped.len(), 10);
    assert!(dropped.map(|(x, _)| x.shape()[0]).all(|n| n == 10));
}

#[test]
fn unshuffled_batches_are_views_of_the_dataset() {
    let ds = numbered(25);
    let batches: Vec<(Tensor, Tensor)> = ds.batches(8).expect("batches").collect();
    assert_eq!(batches.len(), 4);
    for (i, (x, y)) in batches.iter().enumerate() {
        assert!(x.shares_storage(ds.features()));
        assert!(y.shares_storage(ds.targets()));
        assert_eq!(x.as_slice()[0], (i * 8) as f32);
    }
}

#[test]
fn mnist_loads_with_the_documented_counts_and_ranges() {
    let mnist = load_mnist(shipped("mnist")).expect("mnist");
    assert_eq!(mnist.train.features().shape(), &[60000, 784]);
    assert_eq!(mnist.test.features().shape(), &[10000, 784]);
    assert_eq!(mnist.train.targets().shape(), &[60000, 1]);
    for set in [&mnist.train, &mnist.test] {
        let x = set.features();
        assert_eq!((x.min(), x.max()), (0.0, 1.0));
        assert!(
            set.targets()
                .as_slice()
                .iter()
                .all(|&c| (0.0..10.0).contains(&c))
        );
    }
    // first labels and class counts as listed in data/README.md
    assert_eq!(&ids(&mnist.train)[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(
        class_counts(mnist.test.targets()),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(
        class_counts(mnist.train.targets()),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    // mean pixel 33.318 / 255 on train
    let mean = mnist.train.features().cast::<f64>().mean();
    assert!((mean - 33.318 / 255.0).abs() < 1e-4, "mean pixel {mean}");
}
