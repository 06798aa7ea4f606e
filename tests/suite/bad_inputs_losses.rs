//! Bad inputs to the losses and their configs: every case is an `Err` whose
//! message starts with the loss (or `losses::from_config`) and names the
//! offending shape, label or setting. Also: the losses stay finite and exact
//! at extreme but legal logits, in `f32` and `f64`.

use proptest::prelude::*;
use serde_json::json;
use tapeflow::losses::{
    self, BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, Loss,
    MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy,
};
use tapeflow::{Activation, GradientTape, Tensor};

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn zeros(shape: &[usize]) -> Tensor<f32> {
    Tensor::zeros(shape).unwrap()
}

fn every_loss() -> Vec<Box<dyn Loss<f32>>> {
    vec![
        Box::new(MeanSquaredError),
        Box::new(MeanAbsoluteError),
        Box::new(Huber::default()),
        Box::new(BinaryCrossentropy::default()),
        Box::new(BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }),
        Box::new(CategoricalCrossentropy::default()),
        Box::new(CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }),
        Box::new(SparseCategoricalCrossentropy::default()),
        Box::new(SparseCategoricalCrossentropy { from_logits: true }),
        Box::new(KLDivergence),
    ]
}

/// `loss.call(pred, truth)` must fail, starting with the loss name and
/// containing every needle.
fn refused(loss: &dyn Loss<f32>, pred: &Tensor<f32>, truth: &Tensor<f32>, needles: &[&str]) {
    let tape = GradientTape::new();
    let (p, y) = (tape.watch(pred), tape.constant(truth));
    let msg = loss.call(p, y).expect_err("must be refused").to_string();
    assert!(msg.starts_with(&format!("{}: ", loss.name())), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn a_scalar_prediction_is_refused_by_every_loss() {
    for loss in every_loss() {
        refused(&*loss, &Tensor::scalar(0.5), &Tensor::scalar(1.0), &["[]"]);
    }
}

#[test]
fn an_empty_batch_is_refused_by_every_loss() {
    for loss in every_loss() {
        let truth = if loss.name() == "sparse_categorical_crossentropy" {
            zeros(&[0])
        } else {
            zeros(&[0, 3])
        };
        refused(&*loss, &zeros(&[0, 3]), &truth, &["[0, 3]"]);
    }
}

#[test]
fn mismatched_shapes_name_both() {
    let dense: Vec<Box<dyn Loss<f32>>> = vec![
        Box::new(MeanSquaredError),
        Box::new(MeanAbsoluteError),
        Box::new(Huber::default()),
        Box::new(BinaryCrossentropy::default()),
        Box::new(BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }),
        Box::new(CategoricalCrossentropy::default()),
        Box::new(CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }),
        Box::new(KLDivergence),
    ];
    for loss in dense {
        refused(
            &*loss,
            &zeros(&[4, 3]),
            &zeros(&[4, 2]),
            &["[4, 3]", "[4, 2]"],
        );
    }
}

#[test]
fn sparse_labels_given_one_hot_say_what_is_needed() {
    for from_logits in [false, true] {
        let loss = SparseCategoricalCrossentropy { from_logits };
        refused(
            &loss,
            &zeros(&[2, 3]),
            &t(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], &[2, 3]),
            &[
                "labels must be class indices of shape [2] or [2, 1]",
                "got labels of shape [2, 3]",
                "use CategoricalCrossentropy",
            ],
        );
        refused(
            &loss,
            &zeros(&[2, 3]),
            &zeros(&[3]),
            &[
                "class indices of shape [2] or [2, 1]",
                "got labels of shape [3]",
            ],
        );
    }
}

#[test]
fn categorical_labels_given_class_indices_point_to_the_sparse_loss() {
    for from_logits in [false, true] {
        let loss = CategoricalCrossentropy {
            from_logits,
            label_smoothing: 0.0,
        };
        for labels in [zeros(&[2]), zeros(&[2, 1])] {
            refused(
                &loss,
                &zeros(&[2, 3]),
                &labels,
                &[
                    "look like class indices",
                    "[2, 3]",
                    "use SparseCategoricalCrossentropy",
                ],
            );
        }
    }
}

#[test]
fn sparse_labels_that_are_not_class_indices_are_named() {
    let loss = SparseCategoricalCrossentropy { from_logits: true };
    for (label, shown) in [
        (3.0, "3"),
        (-1.0, "-1"),
        (0.5, "0.5"),
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
    ] {
        refused(
            &loss,
            &zeros(&[2, 3]),
            &t(&[0.0, label], &[2]),
            &[&format!(
                "label {shown} in row 1 is not a class index in 0..3"
            )],
        );
    }
}

#[test]
fn settings_are_checked_in_the_element_type() {
    let (p, y) = (zeros(&[2, 1]), zeros(&[2, 1]));
    let big = 1e39.to_string();
    for (delta, shown) in [
        (1e39, big.as_str()),
        (0.0, "0"),
        (-1.0, "-1"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
    ] {
        refused(
            &Huber { delta },
            &p,
            &y,
            &[&format!(
                "delta must be positive and finite in f32, got {shown}"
            )],
        );
    }
    for (s, shown) in [(-0.1, "-0.1"), (1.5, "1.5"), (f64::NAN, "NaN")] {
        refused(
            &BinaryCrossentropy {
                from_logits: false,
                label_smoothing: s,
            },
            &p,
            &y,
            &[&format!("label_smoothing must be in [0, 1], got {shown}")],
        );
        refused(
            &CategoricalCrossentropy {
                from_logits: true,
                label_smoothing: s,
            },
            &zeros(&[2, 3]),
            &zeros(&[2, 3]),
            &[&format!("label_smoothing must be in [0, 1], got {shown}")],
        );
    }
    // 1e39 is a fine delta in f64.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    assert_eq!(
        losses::huber(&x, &x, 1e39).unwrap().value().item().unwrap(),
        0.0
    );
}

#[test]
fn bad_configs_name_the_key_or_value() {
    let cases = [
        (
            "huber",
            json!({"delta": 0.0}),
            "delta must be positive and finite in f32, got 0",
        ),
        (
            "huber",
            json!({"delta": 1e39}),
            "delta must be positive and finite in f32",
        ),
        (
            "huber",
            json!({"delta": "one"}),
            "delta must be a number, got \"one\"",
        ),
        ("huber", json!({"dleta": 1.0}), "unknown setting \"dleta\""),
        (
            "mse",
            json!({"reduction": "sum"}),
            "unknown setting \"reduction\"",
        ),
        ("mae", json!({"delta": 1.0}), "unknown setting \"delta\""),
        (
            "binary_crossentropy",
            json!({"from_logits": "yes"}),
            "from_logits must be a boolean, got \"yes\"",
        ),
        (
            "binary_crossentropy",
            json!({"label_smoothing": 2.0}),
            "label_smoothing must be in [0, 1], got 2",
        ),
        (
            "categorical_crossentropy",
            json!({"label_smoothing": -1.0}),
            "label_smoothing must be in [0, 1], got -1",
        ),
        (
            "categorical_crossentropy",
            json!({"axis": -1}),
            "unknown setting \"axis\"",
        ),
        (
            "sparse_categorical_crossentropy",
            json!({"label_smoothing": 0.1}),
            "unknown setting \"label_smoothing\"",
        ),
        (
            "kl_divergence",
            json!({"from_logits": true}),
            "unknown setting \"from_logits\"",
        ),
        ("hinge", json!(null), "unknown loss \"hinge\""),
        ("mse", json!([1]), "config must be an object, got [1]"),
    ];
    for (name, config, needle) in cases {
        let msg = losses::from_config::<f32>(name, &config)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("losses::from_config: "), "{msg}");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}

// Extreme but legal logits ---------------------------------------------------

/// Loss and gradient of each logits loss at `z`, all finite.
fn logits_losses_are_finite<T: tapeflow::Float>(z: T, label: T) -> Result<(), String> {
    let tape = GradientTape::<T>::new();
    let zs = tape.watch(&Tensor::from_vec(vec![z, -z, T::zero()], &[1, 3]).unwrap());
    let y_onehot = tape
        .constant(&Tensor::from_vec(vec![label, T::one() - label, T::zero()], &[1, 3]).unwrap());
    let y_sparse = tape.constant(&Tensor::from_vec(vec![T::one()], &[1]).unwrap());
    let bce = BinaryCrossentropy {
        from_logits: true,
        label_smoothing: 0.1,
    };
    let cce = CategoricalCrossentropy {
        from_logits: true,
        label_smoothing: 0.1,
    };
    let scce = SparseCategoricalCrossentropy { from_logits: true };
    for (name, l) in [
        ("bce", Loss::<T>::call(&bce, zs, y_onehot)),
        ("cce", Loss::<T>::call(&cce, zs, y_onehot)),
        ("scce", Loss::<T>::call(&scce, zs, y_sparse)),
    ] {
        let l = l.map_err(|e| e.to_string())?;
        let v = l.value().item().unwrap();
        if !v.is_finite() {
            return Err(format!("{name} at {z}: loss {v}"));
        }
        let g = tape.gradient(&l, [zs]).unwrap();
        if let Some(bad) = g
            .get(zs)
            .unwrap()
            .to_vec()
            .into_iter()
            .find(|v| !v.is_finite())
        {
            return Err(format!("{name} at {z}: gradient {bad}"));
        }
    }
    Ok(())
}

#[test]
fn logits_losses_are_finite_at_the_documented_extremes() {
    for z in [1e4f32, 88.0, 89.0, 1e30, 1e37, -1e37] {
        for label in [0.0, 1.0, 0.5] {
            logits_losses_are_finite(z, label).unwrap();
        }
    }
    for z in [1e4f64, 710.0, 1e30, 1e300, -1e306] {
        for label in [0.0, 1.0, 0.5] {
            logits_losses_are_finite(z, label).unwrap();
        }
    }
}

#[test]
fn a_confidently_wrong_logit_keeps_its_gradient_through_the_logits_form() {
    // Dense(1, sigmoid) + BCE: logit 20 with label 0. The probability form's
    // gradient is exactly 0 in f32; the logits form's is σ(20) - 0 = 1.
    let tape = GradientTape::<f32>::new();
    let z = tape.watch(&t(&[20.0], &[1, 1]));
    let y = tape.constant(&t(&[0.0], &[1, 1]));
    let bce = BinaryCrossentropy::default();
    let probs = Loss::<f32>::call(&bce, z.sigmoid(), y).unwrap();
    assert_eq!(
        tape.gradient(&probs, [z])
            .unwrap()
            .get(z)
            .unwrap()
            .item()
            .unwrap(),
        0.0
    );
    let fused = losses::logits_form(&bce, Activation::Sigmoid)
        .unwrap()
        .unwrap();
    let l = fused.call(z, y).unwrap();
    assert_eq!(
        tape.gradient(&l, [z])
            .unwrap()
            .get(z)
            .unwrap()
            .item()
            .unwrap(),
        1.0
    );
    // Same value where the probability form is exact.
    let z0 = tape.watch(&t(&[0.3], &[1, 1]));
    let a = Loss::<f32>::call(&bce, z0.sigmoid(), y)
        .unwrap()
        .value()
        .item()
        .unwrap();
    let b = fused.call(z0, y).unwrap().value().item().unwrap();
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    // Softmax pairs with the two categorical losses; nothing else pairs.
    let cce = CategoricalCrossentropy {
        from_logits: false,
        label_smoothing: 0.2,
    };
    let fused = losses::logits_form::<f32>(&cce, Activation::Softmax)
        .unwrap()
        .unwrap();
    assert_eq!(
        fused.config(),
        json!({"name": "categorical_crossentropy", "from_logits": true, "label_smoothing": 0.2})
    );
    let scce = SparseCategoricalCrossentropy::default();
    assert!(
        losses::logits_form::<f32>(&scce, Activation::Softmax)
            .unwrap()
            .is_some()
    );
    assert!(
        losses::logits_form::<f32>(&scce, Activation::Sigmoid)
            .unwrap()
            .is_none()
    );
    assert!(
        losses::logits_form::<f32>(&bce, Activation::Softmax)
            .unwrap()
            .is_none()
    );
    let already = BinaryCrossentropy {
        from_logits: true,
        label_smoothing: 0.0,
    };
    assert!(
        losses::logits_form::<f32>(&already, Activation::Sigmoid)
            .unwrap()
            .is_none()
    );
}

// Up to a tenth of the type's maximum: beyond, a loss value itself nears the
// maximum and the batch mean (a sum, then a division) can overflow.
proptest! {
    #[test]
    fn logits_losses_stay_finite_over_the_whole_f32_range(
        z in prop_oneof![-1.0e37f32..1.0e37, -100.0f32..100.0],
        label in 0.0f32..=1.0,
    ) {
        prop_assert!(logits_losses_are_finite(z, label).is_ok(), "{:?}", logits_losses_are_finite(z, label));
    }

    #[test]
    fn logits_losses_stay_finite_over_the_whole_f64_range(
        z in prop_oneof![-1.0e306f64..1.0e306, -1000.0f64..1000.0],
        label in 0.0f64..=1.0,
    ) {
        prop_assert!(logits_losses_are_finite(z, label).is_ok(), "{:?}", logits_losses_are_finite(z, label));
    }
}
