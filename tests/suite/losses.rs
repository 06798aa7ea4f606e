//! Losses against golden values, their gradients by finite differences, the
//! fused ops under them, error messages and configs.

use serde_json::json;
use tapeflow::losses::{
    self, BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, Loss,
    MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy,
};
use tapeflow::testing::{GradCheck, check_gradient};
use tapeflow::{Error, GradientTape, Result, Tensor};

// Golden values: produced by tests/golden/losses.py (PyTorch where it equals
// Keras, Keras's formulas in NumPy where they differ; see the script).
const MSE: [f64; 1] = [1.0];
const MAE: [f64; 1] = [0.8333333333333334];
const HUBER_1: [f64; 1] = [0.4166666666666667];
const HUBER_0_5: [f64; 1] = [0.2916666666666667];
const BCE_LOGITS: [f64; 1] = [16.86683416587051];
const BCE_LOGITS_GRAD: [f64; 6] = [
    0.16666666666666666,
    6.200126626701392e-45,
    -0.0629234447996909,
    6.200126626701392e-45,
    0.0,
    -0.030132846329647075,
];
const BCE_LOGITS_SMOOTH_0_2: [f64; 1] = [20.221834165870515];
const BCE_PROBS: [f64; 1] = [5.44970449367326];
const BCE_PROBS_SMOOTH_0_1: [f64; 1] = [5.475075513987623];
const CCE_LOGITS: [f64; 1] = [133.46920198814811];
const CCE_LOGITS_GRAD: [f64; 9] = [
    0.3333333333333333,
    -0.3333333333333333,
    1.2400253253402787e-44,
    0.030010191056793478,
    0.08157615701826587,
    -0.1115863480750594,
    -0.3333333333333333,
    0.3333333333333333,
    6.429166159879725e-23,
];
const CCE_LOGITS_SMOOTH_0_1: [f64; 1] = [126.28031309925922];
const SPARSE_LOGITS: [f64; 1] = [133.46920198814811];
const CCE_PROBS: [f64; 1] = [10.976446160825526];
const CCE_PROBS_SMOOTH_0_1: [f64; 1] = [10.470436425979807];
const SPARSE_PROBS: [f64; 1] = [10.976446160825526];
const KLD: [f64; 1] = [5.752508920536705];

// Inputs, the same as in the script.
const REG_PRED: [f64; 6] = [0.5, -1.0, 2.0, 3.0, 0.0, -2.5];
const REG_TRUE: [f64; 6] = [1.0, -1.5, 0.0, 2.0, 0.5, -2.0];
const BIN_LOGITS: [f64; 6] = [100.0, -100.0, 0.5, -100.0, 100.0, -2.0];
const BIN_LOGIT_LABELS: [f64; 6] = [0.0, 0.0, 1.0, 0.0, 1.0, 0.3];
const BIN_PROBS: [f64; 6] = [1.0, 0.0, 0.3, 0.0, 1.0, 0.9];
const BIN_PROB_LABELS: [f64; 6] = [1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
const CAT_LOGITS: [f64; 9] = [100.0, -100.0, 0.0, 1.0, 2.0, 3.0, -100.0, 100.0, 50.0];
const CAT_PROBS: [f64; 9] = [1.0, 0.0, 0.0, 0.2, 0.3, 0.5, 0.0, 0.5, 0.5];
const ONE_HOT: [f64; 9] = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
const CLASSES: [f64; 3] = [1.0, 2.0, 0.0];
const KL_PRED: [f64; 6] = [0.2, 0.8, 0.0, 1.0, 0.6, 0.4];
const KL_TRUE: [f64; 6] = [0.5, 0.5, 1.0, 0.0, 0.0, 1.0];

fn tensor(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Evaluates `loss` on `(y_pred, y_true)`; returns the scalar, the gradient
/// with respect to `y_pred`, and asserts everything is finite.
fn eval(loss: &dyn Loss<f64>, pred: Tensor<f64>, truth: Tensor<f64>) -> (f64, Vec<f64>) {
    let tape = GradientTape::new();
    let p = tape.watch(&pred);
    let t = tape.constant(&truth);
    let per = loss.per_sample(p, t).unwrap();
    assert_eq!(per.shape(), vec![pred.shape()[0]], "{}", loss.name());
    assert!(
        per.value().all_finite(),
        "{}: {:?}",
        loss.name(),
        per.value()
    );
    let value = loss.call(p, t).unwrap();
    let grad = tape.gradient(&value, [p]).unwrap();
    let grad = grad.get(p).unwrap().to_vec();
    assert!(
        grad.iter().all(|g| g.is_finite()),
        "{}: {grad:?}",
        loss.name()
    );
    (value.value().item().unwrap(), grad)
}

fn assert_close(name: &str, got: f64, want: f64) {
    let tol = 1e-12 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{name}: got {got}, want {want}");
}

#[test]
fn regression_losses_match_pytorch() {
    let (p, t) = (tensor(&REG_PRED, &[2, 3]), tensor(&REG_TRUE, &[2, 3]));
    let cases: [(&dyn Loss<f64>, f64); 4] = [
        (&MeanSquaredError, MSE[0]),
        (&MeanAbsoluteError, MAE[0]),
        (&Huber { delta: 1.0 }, HUBER_1[0]),
        (&Huber { delta: 0.5 }, HUBER_0_5[0]),
    ];
    for (loss, want) in cases {
        assert_close(loss.name(), eval(loss, p.clone(), t.clone()).0, want);
    }
}

#[test]
fn binary_crossentropy_from_logits_is_exact_at_plus_minus_100() {
    let loss = BinaryCrossentropy {
        from_logits: true,
        label_smoothing: 0.0,
    };
    let (p, t) = (
        tensor(&BIN_LOGITS, &[2, 3]),
        tensor(&BIN_LOGIT_LABELS, &[2, 3]),
    );
    let (value, grad) = eval(&loss, p.clone(), t.clone());
    assert_close("bce logits", value, BCE_LOGITS[0]);
    for (g, w) in grad.iter().zip(BCE_LOGITS_GRAD) {
        assert_close("bce logits grad", *g, w);
    }
    let smooth = BinaryCrossentropy {
        label_smoothing: 0.2,
        ..loss
    };
    assert_close(
        "bce smooth",
        eval(&smooth, p, t).0,
        BCE_LOGITS_SMOOTH_0_2[0],
    );
}

#[test]
fn binary_crossentropy_from_probabilities_clips_exact_zero_and_one() {
    let (p, t) = (
        tensor(&BIN_PROBS, &[2, 3]),
        tensor(&BIN_PROB_LABELS, &[2, 3]),
    );
    let loss = BinaryCrossentropy::default();
    assert_close(
        "bce probs",
        eval(&loss, p.clone(), t.clone()).0,
        BCE_PROBS[0],
    );
    let smooth = BinaryCrossentropy {
        label_smoothing: 0.1,
        ..loss
    };
    assert_close(
        "bce probs smooth",
        eval(&smooth, p, t).0,
        BCE_PROBS_SMOOTH_0_1[0],
    );
}

#[test]
fn categorical_crossentropy_from_logits_matches_pytorch() {
    let loss = CategoricalCrossentropy {
        from_logits: true,
        label_smoothing: 0.0,
    };
    let (z, y) = (tensor(&CAT_LOGITS, &[3, 3]), tensor(&ONE_HOT, &[3, 3]));
    let (value, grad) = eval(&loss, z.clone(), y.clone());
    assert_close("cce logits", value, CCE_LOGITS[0]);
    for (g, w) in grad.iter().zip(CCE_LOGITS_GRAD) {
        assert_close("cce logits grad", *g, w);
    }
    let smooth = CategoricalCrossentropy {
        label_smoothing: 0.1,
        ..loss
    };
    assert_close(
        "cce smooth",
        eval(&smooth, z.clone(), y).0,
        CCE_LOGITS_SMOOTH_0_1[0],
    );
    let sparse = SparseCategoricalCrossentropy { from_logits: true };
    let (value, grad) = eval(&sparse, z, tensor(&CLASSES, &[3]));
    assert_close("sparse logits", value, SPARSE_LOGITS[0]);
    for (g, w) in grad.iter().zip(CCE_LOGITS_GRAD) {
        assert_close("sparse logits grad", *g, w);
    }
}

#[test]
fn categorical_crossentropy_from_probabilities_matches_keras() {
    let (p, y) = (tensor(&CAT_PROBS, &[3, 3]), tensor(&ONE_HOT, &[3, 3]));
    let loss = CategoricalCrossentropy::default();
    assert_close(
        "cce probs",
        eval(&loss, p.clone(), y.clone()).0,
        CCE_PROBS[0],
    );
    let smooth = CategoricalCrossentropy {
        label_smoothing: 0.1,
        ..loss
    };
    assert_close(
        "cce probs smooth",
        eval(&smooth, p.clone(), y).0,
        CCE_PROBS_SMOOTH_0_1[0],
    );
    let sparse = SparseCategoricalCrossentropy::default();
    let labels = tensor(&CLASSES, &[3, 1]);
    assert_close("sparse probs", eval(&sparse, p, labels).0, SPARSE_PROBS[0]);
}

#[test]
fn kl_divergence_matches_keras() {
    let (p, t) = (tensor(&KL_PRED, &[3, 2]), tensor(&KL_TRUE, &[3, 2]));
    assert_close("kld", eval(&KLDivergence, p, t).0, KLD[0]);
}

#[test]
fn extreme_inputs_stay_finite_in_f32() {
    let tape = GradientTape::<f32>::new();
    let z = tape.watch(&Tensor::from_vec(vec![100.0, -100.0, -100.0, 100.0], &[2, 2]).unwrap());
    let probs = tape.watch(&Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap());
    let y = tape.constant(&Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2]).unwrap());
    let sparse_y = tape.constant(&Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap());
    let outs = [
        losses::binary_crossentropy(&z, &y, losses::Predictions::Logits).unwrap(),
        losses::binary_crossentropy(&probs, &y, losses::Predictions::Probabilities).unwrap(),
        losses::categorical_crossentropy(&z, &y, losses::Predictions::Logits).unwrap(),
        losses::categorical_crossentropy(&probs, &y, losses::Predictions::Probabilities).unwrap(),
        losses::sparse_categorical_crossentropy(&z, &sparse_y, losses::Predictions::Logits)
            .unwrap(),
        losses::sparse_categorical_crossentropy(
            &probs,
            &sparse_y,
            losses::Predictions::Probabilities,
        )
        .unwrap(),
        losses::kl_divergence(&probs, &y).unwrap(),
    ];
    for out in outs {
        assert!(out.value().all_finite());
        let g = tape.gradient(&out, [z, probs]).unwrap();
        assert!(g.get(z).unwrap().all_finite() && g.get(probs).unwrap().all_finite());
    }
    // categorical from logits: row 1 has z = [-100, 100], label 0 → 200 exactly
    let cce = losses::categorical_crossentropy(&z, &y, losses::Predictions::Logits).unwrap();
    assert_eq!(cce.value().item().unwrap(), 200.0);
    // binary from probabilities: every prediction is wrong and clipped: half
    // the elements give -ln ε, half -ln(1 - (1 - ε)) where 1 - ε rounds in f32
    // (as in Keras's float32 backend)
    let bce = losses::binary_crossentropy(&probs, &y, losses::Predictions::Probabilities).unwrap();
    let eps = 1e-7f32;
    let want = (-eps.ln() - (1.0 - (1.0 - eps)).ln()) / 2.0;
    assert!((bce.value().item().unwrap() - want).abs() < 1e-5 * want);
}

// Finite-difference checks ------------------------------------------------------

fn check<F>(f: F, inputs: &[Tensor<f64>])
where
    F: for<'t> Fn(
        &'t GradientTape<f64>,
        &[tapeflow::Var<'t, f64>],
    ) -> Result<tapeflow::Var<'t, f64>>,
{
    check_gradient(f, inputs, GradCheck::default()).unwrap();
}

const Z: [f64; 8] = [0.3, -1.2, 2.0, 0.7, -0.4, 1.1, -2.2, 0.05];
const SOFT: [f64; 8] = [0.1, 0.2, 0.3, 0.4, 0.7, 0.1, 0.15, 0.05];

#[test]
fn fused_softmax_cross_entropy_gradient_matches_finite_differences() {
    // unnormalised labels too (Σy = 1.3 in row 0), so the Σy factor is checked
    let y = tensor(&[0.1, 0.2, 0.6, 0.4, 0.7, 0.1, 0.15, 0.05], &[2, 4]);
    check(
        |_, v| v[0].softmax_cross_entropy_with_logits(&v[1]),
        &[tensor(&Z, &[2, 4]), y],
    );
    check(
        |_, v| v[0].softmax_cross_entropy_with_logits(&v[1]),
        &[tensor(&Z, &[2, 2, 2]), tensor(&SOFT, &[2, 2, 2])],
    );
}

#[test]
fn fused_sparse_softmax_cross_entropy_gradient_matches_finite_differences() {
    check(
        |_, v| v[0].sparse_softmax_cross_entropy_with_logits(&[3, 0]),
        &[tensor(&Z, &[2, 4])],
    );
}

#[test]
fn fused_sigmoid_cross_entropy_gradient_matches_finite_differences() {
    check(
        |_, v| v[0].sigmoid_cross_entropy_with_logits(&v[1]),
        &[tensor(&Z, &[4, 2]), tensor(&SOFT, &[4, 2])],
    );
}

#[test]
fn fused_squared_difference_gradient_matches_finite_differences() {
    check(
        |_, v| v[0].squared_difference(&v[1]),
        &[tensor(&Z, &[2, 4]), tensor(&SOFT[..4], &[4])],
    );
}

/// A loss with its `y_pred` and `y_true`.
type Case = (Box<dyn Loss<f64>>, Tensor<f64>, Tensor<f64>);

#[test]
fn every_loss_gradient_matches_finite_differences() {
    let probs = tensor(&SOFT, &[2, 4]);
    let labels = tensor(&[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 4]);
    let soft = tensor(&[0.2, 0.3, 0.1, 0.4, 0.25, 0.25, 0.25, 0.25], &[2, 4]);
    let smooth = 0.1;
    let cases: Vec<Case> = vec![
        (
            Box::new(MeanSquaredError),
            tensor(&Z, &[2, 4]),
            soft.clone(),
        ),
        (
            Box::new(MeanAbsoluteError),
            tensor(&Z, &[2, 4]),
            soft.clone(),
        ),
        (
            Box::new(Huber { delta: 1.0 }),
            tensor(&Z, &[2, 4]),
            soft.clone(),
        ),
        (
            Box::new(BinaryCrossentropy {
                from_logits: true,
                label_smoothing: smooth,
            }),
            tensor(&Z, &[2, 4]),
            labels.clone(),
        ),
        (
            Box::new(BinaryCrossentropy {
                from_logits: false,
                label_smoothing: smooth,
            }),
            probs.clone(),
            labels.clone(),
        ),
        (
            Box::new(CategoricalCrossentropy {
                from_logits: true,
                label_smoothing: smooth,
            }),
            tensor(&Z, &[2, 4]),
            labels.clone(),
        ),
        (
            Box::new(CategoricalCrossentropy::default()),
            probs.clone(),
            soft.clone(),
        ),
        (Box::new(KLDivergence), probs.clone(), soft.clone()),
        (
            Box::new(SparseCategoricalCrossentropy::default()),
            probs.clone(),
            tensor(&[1.0, 3.0], &[2]),
        ),
        (
            Box::new(SparseCategoricalCrossentropy { from_logits: true }),
            tensor(&Z, &[2, 4]),
            tensor(&[1.0, 3.0], &[2, 1]),
        ),
    ];
    for (loss, pred, truth) in cases {
        let name = loss.name();
        check_gradient(
            |tape, v| loss.per_sample(v[0], tape.constant(&truth)),
            &[pred],
            GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// Errors and configs ------------------------------------------------------------

#[test]
fn shape_errors_name_the_loss_and_both_shapes() {
    let tape = GradientTape::<f32>::new();
    let p = tape.watch(&Tensor::zeros(&[4, 3]).unwrap());
    let t = tape.constant(&Tensor::zeros(&[4, 2]).unwrap());
    let err = losses::mse(&p, &t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mean_squared_error: shape mismatch, lhs [4, 3], rhs [4, 2]"
    );
    let err = losses::categorical_crossentropy(&p, &t, losses::Predictions::Logits).unwrap_err();
    assert!(matches!(
        err,
        Error::ShapeMismatch {
            op: "categorical_crossentropy",
            ..
        }
    ));
    // [n] against [n, 1] is accepted (no silent [n, n] broadcast) …
    let col = tape.watch(&Tensor::ones(&[4, 1]).unwrap());
    let flat = tape.constant(&Tensor::zeros(&[4]).unwrap());
    assert_eq!(
        losses::mse(&col, &flat).unwrap().value().item().unwrap(),
        1.0
    );
    // … but [n] against [1, n] is not
    let row = tape.constant(&Tensor::zeros(&[1, 4]).unwrap());
    assert!(losses::mae(&col, &row).is_err());
    let scalar = tape.watch(&Tensor::scalar(1.0));
    assert!(matches!(
        losses::mse(&scalar, &scalar).unwrap_err(),
        Error::RankMismatch {
            op: "mean_squared_error",
            ..
        }
    ));
    let err = losses::kl_divergence(&flat, &flat).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kl_divergence: expected predictions of shape [batch, ..., classes], got shape [4]"
    );
}

#[test]
fn sparse_labels_are_checked_row_by_row() {
    let tape = GradientTape::<f32>::new();
    let z = tape.watch(&Tensor::zeros(&[3, 4]).unwrap());
    for (labels, row, shown) in [([0.0, 4.0, 1.0], 1, "4"), ([0.0, 1.0, -1.0], 2, "-1")] {
        let y = tape.constant(&Tensor::from_vec(labels.to_vec(), &[3]).unwrap());
        for y_pred_is in [
            losses::Predictions::Logits,
            losses::Predictions::Probabilities,
        ] {
            let err = losses::sparse_categorical_crossentropy(&z, &y, y_pred_is).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "sparse_categorical_crossentropy: label {shown} in row {row} is not a class index in 0..4"
                )
            );
        }
    }
    let y = tape.constant(&Tensor::zeros(&[3, 2]).unwrap());
    let err =
        losses::sparse_categorical_crossentropy(&z, &y, losses::Predictions::Logits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sparse_categorical_crossentropy: labels must be class indices of shape [3] or [3, 1] for predictions of shape [3, 4], got labels of shape [3, 2]"
    );
}

#[test]
fn bad_settings_are_errors_not_panics() {
    let tape = GradientTape::<f32>::new();
    let p = tape.watch(&Tensor::full(&[2, 2], 0.5).unwrap());
    let bce = BinaryCrossentropy {
        from_logits: false,
        label_smoothing: 1.5,
    };
    let err = bce.call(p, p).unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary_crossentropy: label_smoothing must be in [0, 1], got 1.5"
    );
    let err = Huber { delta: 0.0 }.call(p, p).unwrap_err();
    assert_eq!(
        err.to_string(),
        "huber: delta must be positive and finite in f32, got 0"
    );
}

#[test]
fn every_loss_round_trips_through_its_config() {
    let all: Vec<Box<dyn Loss<f64>>> = vec![
        Box::new(MeanSquaredError),
        Box::new(MeanAbsoluteError),
        Box::new(Huber { delta: 2.5 }),
        Box::new(BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.1,
        }),
        Box::new(CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.2,
        }),
        Box::new(SparseCategoricalCrossentropy { from_logits: true }),
        Box::new(KLDivergence),
    ];
    for loss in &all {
        let again = losses::from_config::<f64>(loss.name(), &loss.config()).unwrap();
        assert_eq!(again.name(), loss.name());
        assert_eq!(again.config(), loss.config());
        assert_eq!(loss.config()["name"], json!(loss.name()));
    }
    // Keras aliases and class names, defaults for missing settings
    let mse = losses::from_config::<f32>("mse", &json!(null)).unwrap();
    assert_eq!(mse.name(), "mean_squared_error");
    let bce = losses::from_config::<f32>("BinaryCrossentropy", &json!({})).unwrap();
    assert_eq!(
        bce.config(),
        json!({"name": "binary_crossentropy", "from_logits": false, "label_smoothing": 0.0})
    );
}

#[test]
fn from_config_rejects_unknown_names_and_settings() {
    let msg = |name: &str, v| {
        losses::from_config::<f32>(name, &v)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        msg("hinge", json!(null)),
        "losses::from_config: unknown loss \"hinge\""
    );
    assert_eq!(
        msg("mse", json!({"delta": 1.0})),
        "losses::from_config: unknown setting \"delta\""
    );
    assert_eq!(
        msg("binary_crossentropy", json!({"from_logits": 1})),
        "losses::from_config: from_logits must be a boolean, got 1"
    );
    assert_eq!(
        msg("categorical_crossentropy", json!({"label_smoothing": 2.0})),
        "losses::from_config: label_smoothing must be in [0, 1], got 2"
    );
    assert!(losses::from_config::<f32>("huber", &json!([1.0])).is_err());
}

#[test]
fn a_loss_trains_a_parameter_on_the_tape() {
    // d/dw mean((w·x - y)²) with x = [1, 2], y = [2, 4], w = 0:
    // = mean(2 (w x - y) x) = (2·(-2)·1 + 2·(-4)·2) / 2 = -10
    let tape = GradientTape::<f64>::new();
    let w = tape.watch(&Tensor::scalar(0.0));
    let x = tape.constant(&tensor(&[1.0, 2.0], &[2, 1]));
    let y = tape.constant(&tensor(&[2.0, 4.0], &[2, 1]));
    let loss = losses::mse(&x.mul(&w).unwrap(), &y).unwrap();
    let g = tape.gradient(&loss, [w]).unwrap();
    assert_eq!(g.get(w).unwrap().item().unwrap(), -10.0);
}
