//! Metrics against hand-computed values, with sample weights, reset, and
//! batches accumulated equal to one big batch; the `Metric` enum.

use serde_json::json;
use tapeflow::metrics::{
    Auc, BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, MeanSquaredError, MetricState,
    Precision, Recall, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
};
use tapeflow::{Error, Metric, Tensor};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

/// Feeds `(y_pred, y_true, weights)` of `n` samples whole, then split into
/// batches of 2 and 1 samples; both must give `want`; reset gives 0.
fn check(
    m: &mut dyn MetricState<f64>,
    p: &Tensor<f64>,
    y: &Tensor<f64>,
    w: &Tensor<f64>,
    want: f64,
) {
    m.reset();
    m.update(p, y, Some(w)).unwrap();
    close(m.result(), want);
    m.reset();
    assert_eq!(m.result(), 0.0);
    let n = p.shape()[0];
    let mut start = 0;
    while start < n {
        let end = (start + 2).min(n);
        let r = start..end;
        m.update(
            &p.slice_rows(r.clone()).unwrap(),
            &y.slice_rows(r.clone()).unwrap(),
            Some(&w.slice_rows(r).unwrap()),
        )
        .unwrap();
        start = end;
    }
    close(m.result(), want);
}

#[test]
fn binary_accuracy_hand_computed_with_weights() {
    // 2 labels per sample; per-sample accuracy: [1, 0.5, 0, 1, 0.5]
    let p = t(
        &[0.9, 0.1, 0.6, 0.6, 0.2, 0.8, 0.51, 0.49, 0.5, 0.7],
        &[5, 2],
    );
    let y = t(&[1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], &[5, 2]);
    let w = t(&[1.0, 2.0, 1.0, 0.0, 4.0], &[5]);
    // (1·1 + 0.5·2 + 0·1 + 1·0 + 0.5·4) / 8 = 4 / 8
    check(&mut BinaryAccuracy::default(), &p, &y, &w, 0.5);
    // unweighted: 3 / 5
    let mut m = BinaryAccuracy::default();
    MetricState::<f64>::update(&mut m, &p, &y, None).unwrap();
    close(MetricState::<f64>::result(&m), 0.6);
}

#[test]
fn categorical_and_sparse_accuracy_agree() {
    let p = t(
        &[0.1, 0.7, 0.2, 0.5, 0.4, 0.1, 0.3, 0.3, 0.4, 0.2, 0.3, 0.5],
        &[4, 3],
    );
    let one_hot = t(&[0., 1., 0., 0., 1., 0., 0., 0., 1., 1., 0., 0.], &[4, 3]);
    let labels = t(&[1.0, 1.0, 2.0, 0.0], &[4, 1]);
    // hits: [1, 0, 1, 0]; weights [1, 1, 2, 4] → (1 + 2) / 8
    let w = t(&[1.0, 1.0, 2.0, 4.0], &[4]);
    check(
        &mut CategoricalAccuracy::default(),
        &p,
        &one_hot,
        &w,
        3.0 / 8.0,
    );
    check(
        &mut SparseCategoricalAccuracy::default(),
        &p,
        &labels,
        &w,
        3.0 / 8.0,
    );
    // top-2 hits: [1, 1, 1, 0] → (1 + 1 + 2) / 8
    check(&mut TopKCategoricalAccuracy::new(2), &p, &one_hot, &w, 0.5);
    check(
        &mut SparseTopKCategoricalAccuracy::new(2),
        &p,
        &labels,
        &w,
        0.5,
    );
    check(&mut TopKCategoricalAccuracy::new(3), &p, &one_hot, &w, 1.0);
}

#[test]
fn top_k_counts_ties_at_the_boundary_as_inside() {
    let mut m = SparseTopKCategoricalAccuracy::new(1);
    let p = t(&[0.4, 0.4, 0.2], &[1, 3]);
    MetricState::<f64>::update(&mut m, &p, &t(&[1.0], &[1]), None).unwrap();
    assert_eq!(MetricState::<f64>::result(&m), 1.0);
    let mut zero = TopKCategoricalAccuracy::new(0);
    let err = MetricState::<f64>::update(&mut zero, &p, &p, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "top_k_categorical_accuracy: k must be at least 1, got 0"
    );
}

#[test]
fn mse_and_mae_hand_computed_with_weights() {
    let p = t(&[1.0, 2.0, 0.0, 0.0, 3.0, -1.0], &[3, 2]);
    let y = t(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[3, 2]);
    let w = t(&[2.0, 1.0, 1.0], &[3, 1]);
    // squared per sample: [2, 1, 5]; → (4 + 1 + 5) / 4
    check(&mut MeanSquaredError::default(), &p, &y, &w, 2.5);
    // absolute per sample: [1, 1, 2]; → (2 + 1 + 2) / 4
    check(&mut MeanAbsoluteError::default(), &p, &y, &w, 1.25);
}

#[test]
fn precision_and_recall_hand_computed_with_weights() {
    let p = t(&[0.9, 0.8, 0.3, 0.6, 0.1, 0.7], &[6]);
    let y = t(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[6]);
    let w = t(&[1.0, 2.0, 3.0, 1.0, 5.0, 1.0], &[6]);
    // TP: samples 0, 3 → 2; FP: 1, 5 → 3; FN: 2 → 3
    check(&mut Precision::default(), &p, &y, &w, 2.0 / 5.0);
    check(&mut Recall::default(), &p, &y, &w, 2.0 / 5.0);
    let ones = t(&[1.0; 6], &[6]);
    check(&mut Precision::default(), &p, &y, &ones, 2.0 / 4.0);
    check(&mut Recall::default(), &p, &y, &ones, 2.0 / 3.0);
}

#[test]
fn auc_is_exact_with_ties_and_weights() {
    // scikit-learn's documented example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
    let p = t(&[0.1, 0.4, 0.35, 0.8], &[4]);
    let y = t(&[0.0, 0.0, 1.0, 1.0], &[4]);
    check(&mut Auc::default(), &p, &y, &t(&[1.0; 4], &[4]), 0.75);
    // weights count as repeated samples: weight 2 on the negative at 0.4
    // pairs: (0.35 vs 0.1) 1·1, (0.35 vs 0.4) 0·2, (0.8 vs both) 1 + 2 → 4 / (2 · 3)
    check(
        &mut Auc::default(),
        &p,
        &y,
        &t(&[1.0, 2.0, 1.0, 1.0], &[4]),
        4.0 / 6.0,
    );
    // a tie between a positive and a negative counts one half
    let tied = t(&[0.5, 0.5, 0.9, 0.1], &[4]);
    let labels = t(&[1.0, 0.0, 1.0, 0.0], &[4]);
    // pairs (pos, neg): (0.5, 0.5) ½, (0.5, 0.1) 1, (0.9, 0.5) 1, (0.9, 0.1) 1 → 3.5 / 4
    check(
        &mut Auc::default(),
        &tied,
        &labels,
        &t(&[1.0; 4], &[4]),
        0.875,
    );
    // perfect ranking, and a single class (0 by convention)
    let mut auc = Auc::default();
    MetricState::<f64>::update(&mut auc, &t(&[0.2, 0.9], &[2]), &t(&[0.0, 1.0], &[2]), None)
        .unwrap();
    assert_eq!(MetricState::<f64>::result(&auc), 1.0);
    auc.reset_all();
}

trait ResetAll {
    fn reset_all(&mut self);
}

impl ResetAll for Auc {
    fn reset_all(&mut self) {
        MetricState::<f64>::reset(self);
        MetricState::<f64>::update(self, &t(&[0.2, 0.9], &[2]), &t(&[1.0, 1.0], &[2]), None)
            .unwrap();
        // One class only: undefined, NaN as scikit-learn (not Keras's 0).
        assert!(MetricState::<f64>::result(self).is_nan());
        assert!(self.checked_result().is_err());
    }
}

#[test]
fn metrics_reject_bad_shapes_and_labels() {
    let mut acc = BinaryAccuracy::default();
    let err =
        MetricState::<f64>::update(&mut acc, &t(&[0.0; 6], &[3, 2]), &t(&[0.0; 3], &[3]), None)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary_accuracy: shape mismatch, lhs [3, 2], rhs [3]"
    );
    let err = MetricState::<f64>::update(
        &mut acc,
        &t(&[0.0; 3], &[3]),
        &t(&[0.0; 3], &[3, 1]),
        Some(&t(&[1.0; 2], &[2])),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary_accuracy: shape mismatch, lhs [3], rhs [2]"
    );
    let mut sparse = SparseCategoricalAccuracy::default();
    let err = MetricState::<f64>::update(
        &mut sparse,
        &t(&[0.0; 6], &[2, 3]),
        &t(&[0.0, 3.0], &[2]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sparse_categorical_accuracy: label 3 in row 1 is not a class index in 0..3"
    );
    let mut auc = Auc::default();
    let err = MetricState::<f64>::update(
        &mut auc,
        &t(&[0.1, f64::NAN], &[2]),
        &t(&[0.0, 1.0], &[2]),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "auc", .. }));
    assert_eq!(MetricState::<f64>::result(&auc), 0.0);
}

#[test]
fn accuracy_resolves_from_the_loss_then_the_shapes() {
    let cases = [
        (
            "binary_crossentropy",
            [4, 3],
            vec![4, 3],
            Metric::BinaryAccuracy,
        ),
        (
            "categorical_crossentropy",
            [4, 3],
            vec![4, 3],
            Metric::CategoricalAccuracy,
        ),
        (
            "sparse_categorical_crossentropy",
            [4, 3],
            vec![4, 1],
            Metric::SparseCategoricalAccuracy,
        ),
        (
            "mean_squared_error",
            [4, 1],
            vec![4, 1],
            Metric::BinaryAccuracy,
        ),
        (
            "mean_squared_error",
            [4, 3],
            vec![4, 1],
            Metric::SparseCategoricalAccuracy,
        ),
        ("huber", [4, 3], vec![4], Metric::SparseCategoricalAccuracy),
        ("huber", [4, 3], vec![4, 3], Metric::CategoricalAccuracy),
    ];
    for (loss, pred, truth, want) in cases {
        assert_eq!(
            Metric::Accuracy.resolve(loss, &pred, &truth),
            want,
            "{loss}"
        );
    }
    // the built accumulator computes the resolved metric but reports "accuracy"
    let mut acc = Metric::Accuracy
        .build::<f32>("categorical_crossentropy", &[2, 2], &[2, 2])
        .unwrap();
    let p = Tensor::from_vec(vec![0.9f32, 0.1, 0.2, 0.8], &[2, 2]).unwrap();
    let y = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 0.0], &[2, 2]).unwrap();
    acc.update(&p, &y, None).unwrap();
    assert_eq!((acc.name(), acc.result()), ("accuracy".to_string(), 0.5));
    acc.reset();
    assert_eq!(acc.result(), 0.0);
}

#[test]
fn every_metric_round_trips_through_json_and_builds() {
    let all = [
        Metric::Accuracy,
        Metric::BinaryAccuracy,
        Metric::CategoricalAccuracy,
        Metric::SparseCategoricalAccuracy,
        Metric::TopKCategoricalAccuracy(3),
        Metric::SparseTopKCategoricalAccuracy(2),
        Metric::MeanSquaredError,
        Metric::MeanAbsoluteError,
        Metric::Precision,
        Metric::Recall,
        Metric::Auc,
    ];
    for m in all {
        assert_eq!(Metric::from_config(&m.to_config()).unwrap(), m);
        let built = m
            .build::<f64>("binary_crossentropy", &[2, 1], &[2, 1])
            .unwrap();
        assert_eq!(built.name(), m.name());
    }
    assert_eq!(
        Metric::from_config(&json!("acc")).unwrap(),
        Metric::Accuracy
    );
    assert_eq!(
        Metric::from_config(&json!("mse")).unwrap(),
        Metric::MeanSquaredError
    );
    assert_eq!(
        Metric::from_config(&json!("top_k_categorical_accuracy")).unwrap(),
        Metric::TopKCategoricalAccuracy(5)
    );
    let err = Metric::from_config(&json!({"name": "auc", "k": 2})).unwrap_err();
    assert_eq!(err.to_string(), "metric: auc takes no k");
    let err = Metric::from_config(&json!("f1_score")).unwrap_err();
    assert_eq!(err.to_string(), "metric: unknown metric \"f1_score\"");
    assert!(Metric::from_config(&json!(3)).is_err());
}
