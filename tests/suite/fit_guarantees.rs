//! What `fit` and `evaluate` guarantee numerically: no step commits a
//! non-finite parameter or optimizer state (the weights from before the
//! batch are kept, bit for bit); probability losses behind a sigmoid or
//! softmax are computed from the logits (a saturated output still gets a
//! gradient); the regularization penalty is in `loss`, `val_loss` and
//! `evaluate` alike.

use tapeflow::layers::Regularizer;
use tapeflow::prelude::*;

fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape).expect("shape")
}

fn bits(weights: &[Tensor]) -> Vec<Vec<u32>> {
    weights
        .iter()
        .map(|w| w.as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// `Dense(1)` on one input with kernel `k` and bias `b`.
fn line(k: f32, b: f32, optimizer: impl Optimizer + 'static) -> Sequential {
    let mut m = Sequential::new(&[1]).add(Dense::new(1));
    m.compile(optimizer, MeanSquaredError, &[])
        .expect("compile");
    m.set_weights(vec![t(vec![k], &[1, 1]), t(vec![b], &[1])])
        .expect("weights");
    m
}

fn one_batch_each() -> FitOptions {
    FitOptions::default()
        .batch_size(1)
        .shuffle(false)
        .verbose(0)
}

#[test]
fn an_update_that_overflows_f32_is_not_committed_and_the_last_finite_weights_stay() -> Result<()> {
    // Batch 0 (x = 0, y = 1e-20) moves the bias to 2e10 with lr 1e30; batch 1
    // (x = 1, y = 0) has the finite loss 4e20 but its update, 1e30 · 4e10,
    // overflows f32.
    let (x, y) = (t(vec![0.0, 1.0], &[2, 1]), t(vec![1e-20, 0.0], &[2, 1]));
    let mut reference = line(0.0, 0.0, Sgd::new(1e30));
    reference.fit(&x.slice_rows(0..1)?, &y.slice_rows(0..1)?, one_batch_each())?;
    let after_batch_0 = reference.get_weights();
    assert!(
        after_batch_0[1].as_slice()[0] > 1e9,
        "batch 0 must move the bias"
    );

    let mut model = line(0.0, 0.0, Sgd::new(1e30));
    let err = model.fit(&x, &y, one_batch_each()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("fit: epoch 0, batch 1"), "{msg}");
    assert!(msg.contains("kernel"), "{msg}");
    assert_eq!(bits(&model.get_weights()), bits(&after_batch_0));
    assert!(
        model
            .get_weights()
            .iter()
            .all(|w| w.as_slice().iter().all(|v| v.is_finite()))
    );
    Ok(())
}

#[test]
fn a_gradient_that_becomes_inf_under_a_finite_loss_is_refused_naming_the_parameter() -> Result<()> {
    // pred = 0 · 3e38 + 1 = 1 against 0: loss 1, but d loss / d kernel =
    // 2 · 1 · 3e38 = inf in f32.
    for optimizer in 0..3 {
        let mut model = match optimizer {
            0 => line(0.0, 1.0, Sgd::new(0.1)),
            1 => line(0.0, 1.0, Adam::new(0.1)),
            _ => line(0.0, 1.0, RmsProp::new(0.1)),
        };
        let before = bits(&model.get_weights());
        let err = model
            .fit(
                &t(vec![3e38], &[1, 1]),
                &t(vec![0.0], &[1, 1]),
                one_batch_each(),
            )
            .unwrap_err();
        match &err {
            Error::NonFiniteUpdate {
                epoch,
                batch,
                param,
                message,
            } => {
                assert_eq!((*epoch, *batch), (0, 0));
                assert_eq!(param, "dense/kernel");
                assert!(message.contains("gradient holds inf"), "{message}");
            }
            other => panic!("expected NonFiniteUpdate, got {other}"),
        }
        assert_eq!(bits(&model.get_weights()), before);
    }
    Ok(())
}

#[test]
fn an_optimizer_state_that_overflows_is_not_committed() -> Result<()> {
    // Gradient 1e30 is finite, but Adam's second moment 1e-3 · (1e30)² is
    // inf in f32 (its update m / (√v + ε) would be 0: the weights alone
    // would look fine).
    let mut model = line(0.0, 0.5, Adam::new(0.1));
    let before = bits(&model.get_weights());
    let err = model
        .fit(
            &t(vec![1e30], &[1, 1]),
            &t(vec![0.0], &[1, 1]),
            one_batch_each(),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("fit: epoch 0, batch 0"), "{msg}");
    assert_eq!(bits(&model.get_weights()), before);
    // The optimizer state was rolled back too: training on good data goes on
    // exactly as for a model that never saw the bad batch.
    let mut fresh = line(0.0, 0.5, Adam::new(0.1));
    let (x, y) = (t(vec![1.0, 2.0], &[2, 1]), t(vec![2.0, 4.0], &[2, 1]));
    model.fit(&x, &y, one_batch_each().epochs(3))?;
    fresh.fit(&x, &y, one_batch_each().epochs(3))?;
    assert_eq!(bits(&model.get_weights()), bits(&fresh.get_weights()));
    Ok(())
}

/// `Dense(units, activation)` on one input with the given kernel and zero bias.
fn head(units: usize, activation: Activation, kernel: Vec<f32>) -> Sequential {
    let mut m = Sequential::new(&[1]).add(Dense::new(units).activation(activation));
    m.build().expect("build");
    m.set_weights(vec![t(kernel, &[1, units]), t(vec![0.0; units], &[units])])
        .expect("weights");
    m
}

#[test]
fn a_saturated_sigmoid_with_binary_crossentropy_still_gets_a_gradient() -> Result<()> {
    // Logit 20, label 0: sigmoid(20) is exactly 1 in f32, so the probability
    // form (clipped to 1 - 1e-7) has gradient 0 and reports ln(1e7) ≈ 16.1;
    // from the logits the loss is 20 + ln(1 + e^-20) and the gradient ≈ 1.
    let mut model = head(1, Activation::Sigmoid, vec![20.0]);
    model.compile(Sgd::new(0.1), BinaryCrossentropy::default(), &[])?;
    let (x, y) = (t(vec![1.0], &[1, 1]), t(vec![0.0], &[1, 1]));
    assert_eq!(model.evaluate(&x, &y)?.loss as f32, 20.0);
    let h = model.fit(&x, &y, one_batch_each())?;
    assert_eq!(h.last("loss").map(|l| l as f32), Some(20.0));
    let k = model.get_weights()[0].as_slice()[0];
    assert!((k - 19.9).abs() < 1e-5, "kernel {k}");
    // predict still gives probabilities.
    assert_eq!(model.predict(&x)?.as_slice(), &[1.0]);
    Ok(())
}

#[test]
fn a_saturated_softmax_with_categorical_losses_still_gets_a_gradient() -> Result<()> {
    // Logits [20, -20] with the true class 1: the loss is lse - z₁ = 40 (the
    // clipped probability form would say 16.1 with a zero gradient).
    let x = t(vec![1.0], &[1, 1]);
    let one_hot = t(vec![0.0, 1.0], &[1, 2]);
    let sparse = t(vec![1.0], &[1, 1]);
    for (loss, y) in [
        (
            Box::new(|m: &mut Sequential| {
                m.compile(Sgd::new(0.1), CategoricalCrossentropy::default(), &[])
            }) as Box<dyn Fn(&mut Sequential) -> Result<()>>,
            &one_hot,
        ),
        (
            Box::new(|m: &mut Sequential| {
                m.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::default(), &[])
            }),
            &sparse,
        ),
    ] {
        let mut model = head(2, Activation::Softmax, vec![20.0, -20.0]);
        loss(&mut model)?;
        assert_eq!(model.evaluate(&x, y)?.loss as f32, 40.0);
        model.fit(&x, y, one_batch_each())?;
        let k = model.get_weights()[0].to_vec();
        assert!(
            (k[0] - 19.9).abs() < 1e-5 && (k[1] + 19.9).abs() < 1e-5,
            "{k:?}"
        );
    }
    Ok(())
}

#[test]
fn an_activation_layer_after_a_linear_dense_is_also_read_from_its_logits() -> Result<()> {
    let mut model = Sequential::new(&[1])
        .add(Dense::new(1))
        .add(tapeflow::layers::Activation::new(Activation::Sigmoid));
    model.build()?;
    model.set_weights(vec![t(vec![20.0], &[1, 1]), t(vec![0.0], &[1])])?;
    model.compile(Sgd::new(0.1), BinaryCrossentropy::default(), &[])?;
    let (x, y) = (t(vec![1.0], &[1, 1]), t(vec![0.0], &[1, 1]));
    model.fit(&x, &y, one_batch_each())?;
    let k = model.get_weights()[0].as_slice()[0];
    assert!((k - 19.9).abs() < 1e-5, "kernel {k}");
    Ok(())
}

#[test]
fn a_from_logits_loss_reads_the_output_as_given() -> Result<()> {
    // With from_logits the user says the output is a logit: output 1 is
    // read as the logit 1, and the loss for label 0 is ln(1 + e^1) =
    // 1 + ln(1 + e^-1) (not the loss of a probability 1).
    let loss = BinaryCrossentropy::from_logits();
    let mut model = head(1, Activation::Linear, vec![1.0]);
    model.compile(Sgd::new(0.1), loss, &[])?;
    let (x, y) = (t(vec![1.0], &[1, 1]), t(vec![0.0], &[1, 1]));
    let expected = 1.0 + (1.0 + (-1.0f64).exp()).ln();
    assert!((model.evaluate(&x, &y)?.loss - expected).abs() < 1e-6);
    // After a sigmoid the output is a probability, not a logit: compile
    // refuses the pair rather than apply the sigmoid twice.
    let mut model = head(1, Activation::Sigmoid, vec![20.0]);
    let err = model.compile(Sgd::new(0.1), loss, &[]).unwrap_err();
    assert!(err.to_string().contains("already applies sigmoid"), "{err}");
    Ok(())
}

#[test]
fn the_regularization_penalty_is_in_loss_val_loss_and_evaluate() -> Result<()> {
    // A perfect fit y = x with L2(0.5) on kernel 1: every loss is 0.5.
    let mut model =
        Sequential::new(&[1]).add(Dense::new(1).kernel_regularizer(Regularizer::l2(0.5)));
    model.compile(Sgd::new(0.0), MeanSquaredError, &[])?;
    model.set_weights(vec![t(vec![1.0], &[1, 1]), t(vec![0.0], &[1])])?;
    let x = t(vec![1.0, 2.0], &[2, 1]);
    let opts = one_batch_each().validation_data(x.clone(), x.clone());
    let h = model.fit(&x, &x, opts)?;
    assert_eq!(h.last("loss"), Some(0.5));
    assert_eq!(h.last("val_loss"), Some(0.5));
    assert_eq!(model.evaluate(&x, &x)?.loss, 0.5);
    Ok(())
}

#[test]
fn predict_and_evaluate_refuse_nan_and_inf_naming_row_and_column() -> Result<()> {
    let mut model = line(1.0, 0.0, Sgd::new(0.1));
    model.build()?;
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let x = t(vec![0.0, 1.0, bad], &[3, 1]);
        let msg = model.predict(&x).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("predict: x holds {bad} at row 2, column 0")),
            "{msg}"
        );
        let msg = model.evaluate(&x, &x.map(|_| 0.0)).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("evaluate: x holds {bad} at row 2, column 0")),
            "{msg}"
        );
    }
    Ok(())
}

/// Records the weights after every batch `fit` reports.
struct Recorder(std::rc::Rc<std::cell::RefCell<Option<Vec<Tensor>>>>);

impl tapeflow::callbacks::Callback for Recorder {
    fn on_batch_end(
        &mut self,
        _batch: usize,
        _logs: &tapeflow::callbacks::Logs,
        ctx: &mut dyn tapeflow::callbacks::TrainingContext,
    ) -> Result<()> {
        *self.0.borrow_mut() = Some(ctx.get_weights());
        Ok(())
    }
}

fn compiled_mlp(optimizer: usize, lr: f64) -> Sequential {
    let mut m = Sequential::new(&[3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dense::new(1))
        .seed(5);
    let compiled = match optimizer {
        0 => m.compile(Sgd::new(lr).momentum(0.9), MeanSquaredError, &[]),
        1 => m.compile(Adam::new(lr), MeanSquaredError, &[]),
        2 => m.compile(RmsProp::new(lr), MeanSquaredError, &[]),
        3 => m.compile(Adagrad::new(lr), MeanSquaredError, &[]),
        4 => m.compile(Nadam::new(lr), MeanSquaredError, &[]),
        5 => m.compile(Lion::new(lr), MeanSquaredError, &[]),
        _ => m.compile(Adadelta::new(lr), MeanSquaredError, &[]),
    };
    compiled.expect("compile");
    m
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 48, ..Default::default() })]

    /// Whatever the optimizer, learning rate and data scale: after `fit`,
    /// every weight is finite, and when `fit` fails the weights are bit for
    /// bit those after the last batch it reported (or the initial ones).
    #[test]
    fn fit_never_leaves_non_finite_weights(
        optimizer in 0usize..7,
        lr_exp in 0i32..31,
        scale_exp in 0i32..25,
        seed in 0u64..1000,
    ) {
        let scale = 10f32.powi(scale_exp);
        let x = Tensor::from_vec(
            (0..48).map(|i| ((i as u64 * 7919 + seed) % 13) as f32 / 13.0 * scale).collect(),
            &[16, 3],
        ).expect("x");
        let y = x.sum_axis(1, true).expect("y");
        let mut model = compiled_mlp(optimizer, 10f64.powi(lr_exp));
        let initial = model.get_weights();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
        let opts = FitOptions::default()
            .epochs(3)
            .batch_size(4)
            .seed(seed)
            .verbose(0)
            .callback(Recorder(seen.clone()));
        let result = model.fit(&x, &y, opts);
        let weights = model.get_weights();
        proptest::prop_assert!(
            weights.iter().all(|w| w.as_slice().iter().all(|v| v.is_finite())),
            "non-finite weights after {result:?}"
        );
        if let Err(e) = result {
            let msg = e.to_string();
            proptest::prop_assert!(msg.starts_with("fit"), "{msg}");
            let last = seen.borrow().clone().unwrap_or(initial);
            proptest::prop_assert_eq!(bits(&weights), bits(&last), "{}", msg);
        }
    }
}
