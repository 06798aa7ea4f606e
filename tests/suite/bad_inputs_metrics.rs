//! Bad-input battery for `metrics`: accumulators, `Metric` configs,
//! `confusion_matrix` and `classification_report`. Each case must return
//! `Err` and name the op and the offending value, label or shape.

use serde_json::json;
use tapeflow::metrics::{
    Auc, BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, MeanSquaredError, MetricState,
    Precision, Recall, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy, classification_report, confusion_matrix,
};
use tapeflow::{Metric, Tensor};

use crate::bad_inputs_tensor::{Case, case, run_battery};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("valid test tensor")
}

/// `update` of a fresh metric on `(y_pred, y_true, weights)`.
fn update(
    mut m: impl MetricState<f64>,
    p: Tensor<f64>,
    y: Tensor<f64>,
    w: Option<Tensor<f64>>,
) -> tapeflow::Result<()> {
    m.update(&p, &y, w.as_ref())
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}")).collect()
}

fn accumulator_cases() -> Vec<Case> {
    let p2 = || t(&[0.2, 0.8], &[2]);
    vec![
        case!(
            "binary_accuracy shapes",
            update(
                BinaryAccuracy::default(),
                t(&[0.1; 3], &[3]),
                t(&[1.0; 2], &[2]),
                None
            ),
            ["binary_accuracy", "lhs [3]", "rhs [2]"]
        ),
        case!(
            "binary_accuracy scalar",
            update(
                BinaryAccuracy::default(),
                Tensor::scalar(0.5),
                Tensor::scalar(1.0),
                None
            ),
            ["binary_accuracy", "shape []"]
        ),
        case!(
            "categorical_accuracy shapes",
            update(
                CategoricalAccuracy::default(),
                t(&[0.5; 6], &[2, 3]),
                t(&[0.5; 4], &[2, 2]),
                None
            ),
            ["categorical_accuracy", "lhs [2, 3]", "rhs [2, 2]"]
        ),
        case!(
            "sparse_categorical_accuracy label beyond classes",
            update(
                SparseCategoricalAccuracy::default(),
                t(&[0.5; 6], &[2, 3]),
                t(&[0.0, 5.0], &[2]),
                None
            ),
            ["sparse_categorical_accuracy", "5"]
        ),
        case!(
            "sparse_categorical_accuracy fractional label",
            update(
                SparseCategoricalAccuracy::default(),
                t(&[0.5; 4], &[2, 2]),
                t(&[0.5, 1.0], &[2]),
                None
            ),
            ["sparse_categorical_accuracy", "0.5"]
        ),
        case!(
            "sparse_categorical_accuracy shapes",
            update(
                SparseCategoricalAccuracy::default(),
                t(&[0.5; 6], &[2, 3]),
                t(&[0.0; 3], &[3]),
                None
            ),
            ["sparse_categorical_accuracy", "lhs [2, 3]", "rhs [3]"]
        ),
        case!(
            "top_k shapes",
            update(
                TopKCategoricalAccuracy::new(2),
                t(&[0.5; 6], &[2, 3]),
                t(&[0.5; 6], &[3, 2]),
                None
            ),
            ["top_k_categorical_accuracy", "lhs [2, 3]", "rhs [3, 2]"]
        ),
        case!(
            "sparse_top_k label NaN",
            update(
                SparseTopKCategoricalAccuracy::new(2),
                t(&[0.5; 6], &[2, 3]),
                t(&[f64::NAN, 1.0], &[2]),
                None
            ),
            ["sparse_top_k_categorical_accuracy", "NaN"]
        ),
        case!(
            "mse shapes",
            update(
                MeanSquaredError::default(),
                t(&[0.0; 4], &[2, 2]),
                t(&[0.0; 4], &[4]),
                None
            ),
            ["mean_squared_error", "lhs [2, 2]", "rhs [4]"]
        ),
        case!(
            "mae shapes",
            update(
                MeanAbsoluteError::default(),
                t(&[0.0; 2], &[2]),
                t(&[0.0; 3], &[3]),
                None
            ),
            ["mean_absolute_error", "lhs [2]", "rhs [3]"]
        ),
        case!(
            "precision shapes",
            update(Precision::default(), p2(), t(&[1.0; 3], &[3]), None),
            ["precision", "lhs [2]", "rhs [3]"]
        ),
        case!(
            "recall shapes",
            update(Recall::default(), p2(), t(&[1.0; 3], &[3, 1]), None),
            ["recall", "lhs [2]", "rhs [3, 1]"]
        ),
        case!(
            "auc shapes",
            update(Auc::default(), p2(), t(&[1.0], &[1]), None),
            ["auc", "lhs [2]", "rhs [1]"]
        ),
        case!(
            "auc NaN prediction",
            update(
                Auc::default(),
                t(&[0.2, f64::NAN], &[2]),
                t(&[1.0, 0.0], &[2]),
                None
            ),
            ["auc", "row 1", "NaN"]
        ),
        case!(
            "auc one class only",
            {
                let mut a = Auc::default();
                a.update(&p2(), &t(&[0.0, 0.0], &[2]), None)?;
                a.checked_result()
            },
            ["auc", "one class", "positive weight 0", "negative weight 2"]
        ),
        case!(
            "auc one class by weight",
            {
                let mut a = Auc::default();
                a.update(&p2(), &t(&[0.0, 1.0], &[2]), Some(&t(&[1.0, 0.0], &[2])))?;
                a.checked_result()
            },
            ["auc", "positive weight 0", "negative weight 1"]
        ),
        case!(
            "sample_weight shape",
            update(
                BinaryAccuracy::default(),
                p2(),
                p2(),
                Some(t(&[1.0; 3], &[3]))
            ),
            ["binary_accuracy", "lhs [2]", "rhs [3]"]
        ),
        case!(
            "sample_weight NaN",
            update(
                MeanSquaredError::default(),
                p2(),
                p2(),
                Some(t(&[1.0, f64::NAN], &[2]))
            ),
            ["mean_squared_error", "sample_weight of row 1", "NaN"]
        ),
        case!(
            "sample_weight negative",
            update(
                Precision::default(),
                p2(),
                p2(),
                Some(t(&[-1.0, 1.0], &[2, 1]))
            ),
            ["precision", "sample_weight of row 0", "-1"]
        ),
        case!(
            "sample_weight inf",
            update(
                Auc::default(),
                p2(),
                t(&[0.0, 1.0], &[2]),
                Some(t(&[f64::INFINITY, 1.0], &[2]))
            ),
            ["auc", "sample_weight of row 0", "inf"]
        ),
    ]
}

fn config_cases() -> Vec<Case> {
    vec![
        case!(
            "unknown metric name",
            Metric::from_config(&json!("f1")),
            ["metric", "unknown metric \"f1\""]
        ),
        case!(
            "unknown key",
            Metric::from_config(&json!({"name": "auc", "curve": "PR"})),
            ["metric", "unknown key \"curve\""]
        ),
        case!(
            "misspelt k",
            Metric::from_config(&json!({"name": "top_k_categorical_accuracy", "K": 3})),
            ["metric", "unknown key \"K\""]
        ),
        case!(
            "threshold key",
            Metric::from_config(&json!({"name": "precision", "threshold": 0.7})),
            ["metric", "unknown key \"threshold\""]
        ),
        case!(
            "missing name",
            Metric::from_config(&json!({"k": 3})),
            ["metric", "\"name\" is missing"]
        ),
        case!(
            "name not a string",
            Metric::from_config(&json!({"name": 3})),
            ["metric", "\"name\" must be a string", "3"]
        ),
        case!(
            "k zero",
            Metric::from_config(&json!({"name": "top_k_categorical_accuracy", "k": 0})),
            ["metric", "\"k\"", ">= 1", "got 0"]
        ),
        case!(
            "k negative",
            Metric::from_config(&json!({"name": "sparse_top_k_categorical_accuracy", "k": -2})),
            ["metric", "\"k\"", "got -2"]
        ),
        case!(
            "k fractional",
            Metric::from_config(&json!({"name": "top_k_categorical_accuracy", "k": 2.5})),
            ["metric", "\"k\"", "got 2.5"]
        ),
        case!(
            "k text",
            Metric::from_config(&json!({"name": "top_k_categorical_accuracy", "k": "3"})),
            ["metric", "\"k\"", "got \"3\""]
        ),
        case!(
            "k for a metric without one",
            Metric::from_config(&json!({"name": "auc", "k": 3})),
            ["metric", "auc takes no k"]
        ),
        case!(
            "array config",
            Metric::from_config(&json!(["auc"])),
            ["metric", "expected a name or an object", "[\"auc\"]"]
        ),
        case!(
            "number config",
            Metric::from_config(&json!(7)),
            ["metric", "expected a name or an object", "7"]
        ),
        case!(
            "null config",
            Metric::from_config(&json!(null)),
            ["metric", "null"]
        ),
        case!(
            "build top-k with k 0",
            Metric::TopKCategoricalAccuracy(0).build::<f32>("", &[2, 3], &[2, 3]),
            ["metric", "k >= 1", "got 0"]
        ),
        case!(
            "build sparse top-k with k 0",
            Metric::SparseTopKCategoricalAccuracy(0).build::<f64>("", &[2, 3], &[2]),
            ["metric", "got 0"]
        ),
    ]
}

fn report_cases() -> Vec<Case> {
    let max = usize::MAX;
    vec![
        case!(
            "confusion_matrix usize::MAX classes",
            confusion_matrix(&[0, 1], &[1, 0], max),
            ["confusion_matrix", &format!("[{max}, {max}]"), "too large"]
        ),
        case!(
            "confusion_matrix 2^31 classes",
            confusion_matrix(&[0], &[0], 1 << 31),
            ["confusion_matrix", "[2147483648, 2147483648]"]
        ),
        case!(
            "confusion_matrix 2^29 classes cannot allocate",
            confusion_matrix(&[0], &[0], 1 << 29),
            [
                "confusion_matrix",
                "cannot allocate",
                "[536870912, 536870912]"
            ]
        ),
        case!(
            "confusion_matrix lengths differ",
            confusion_matrix(&[0, 1], &[0], 2),
            ["confusion_matrix", "y_true has 2 labels", "y_pred has 1"]
        ),
        case!(
            "confusion_matrix empty",
            confusion_matrix(&[], &[], 2),
            ["confusion_matrix", "empty"]
        ),
        case!(
            "confusion_matrix y_true label beyond",
            confusion_matrix(&[0, 3], &[0, 1], 2),
            ["confusion_matrix", "y_true[1] = 3", "0..2"]
        ),
        case!(
            "confusion_matrix y_pred label beyond",
            confusion_matrix(&[0, 1], &[2, 1], 2),
            ["confusion_matrix", "y_pred[0] = 2", "0..2"]
        ),
        case!(
            "confusion_matrix usize::MAX label",
            confusion_matrix(&[max], &[0], 3),
            ["confusion_matrix", &format!("y_true[0] = {max}")]
        ),
        case!(
            "confusion_matrix zero classes",
            confusion_matrix(&[0], &[0], 0),
            ["confusion_matrix", "y_true[0] = 0", "0..0"]
        ),
        case!(
            "report lengths differ",
            classification_report(&[0, 1], &[0], None),
            [
                "classification_report",
                "y_true has 2 labels",
                "y_pred has 1"
            ]
        ),
        case!(
            "report empty",
            classification_report(&[], &[], None),
            ["classification_report", "empty"]
        ),
        case!(
            "report empty class_names",
            classification_report(&[0], &[0], Some(&[])),
            ["classification_report", "class_names is empty"]
        ),
        case!(
            "report label beyond class_names",
            classification_report(&[0, 2], &[0, 1], Some(&names(2))),
            [
                "classification_report",
                "y_true[1] = 2",
                "class_names has 2 names"
            ]
        ),
        case!(
            "report y_pred beyond class_names",
            classification_report(&[0, 1], &[0, 7], Some(&names(2))),
            [
                "classification_report",
                "y_pred[1] = 7",
                "class_names has 2 names"
            ]
        ),
        case!(
            "report usize::MAX label with class_names",
            classification_report(&[0, max], &[0, 1], Some(&names(3))),
            [
                "classification_report",
                &format!("y_true[1] = {max}"),
                "class_names has 3 names"
            ]
        ),
        case!(
            "report usize::MAX predicted with class_names",
            classification_report(&[0, 1], &[max, 1], Some(&names(2))),
            ["classification_report", &format!("y_pred[0] = {max}")]
        ),
    ]
}

#[test]
fn every_bad_metric_config_and_report_input_is_an_error() {
    let n = run_battery(accumulator_cases())
        + run_battery(config_cases())
        + run_battery(report_cases());
    assert!(n >= 50, "{n} cases");
}

/// Memory follows the distinct labels: labels 0 and 100000 (an 80 GB
/// matrix if the labels were used as indices) and `usize::MAX` report
/// two classes each, named by their values, without `class_names`.
#[test]
fn report_on_sparse_large_labels_costs_the_distinct_labels_only() {
    for big in [100_000usize, 1 << 40, usize::MAX] {
        let report =
            classification_report(&[0, big, big, 0], &[0, big, 0, 0], None).expect("two classes");
        let rows: Vec<&str> = report
            .lines()
            .filter(|l| l.trim_start().starts_with(&big.to_string()))
            .collect();
        assert_eq!(rows.len(), 1, "{report}");
        // class `big`: precision 1 (1 of 1 predicted), recall 0.5, support 2.
        assert!(
            rows[0].ends_with("1.00      0.50      0.67         2"),
            "{report}"
        );
    }
}
