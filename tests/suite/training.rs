//! Training end to end through `fit`: learned results (XOR, linear
//! regression), callbacks in a real loop, reproducibility, validation,
//! weighting, resuming, freezing, and `evaluate` against a hand computation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::callbacks::{Logs, TrainingContext};
use tapeflow::data::{Dataset, SplitOptions, train_test_split};
use tapeflow::prelude::*;

fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape).expect("test data")
}

fn bits(weights: &[Tensor]) -> Vec<Vec<u32>> {
    weights
        .iter()
        .map(|w| w.as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Noisy-free regression data: `y = 0.5·x0 - 2·x1 + 1`.
fn regression_data(rows: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Tensor::<f32>::rand_uniform_with_rng(&[rows, 2], -1.0, 1.0, &mut rng).expect("x");
    let y: Vec<f32> = x
        .as_slice()
        .chunks(2)
        .map(|r| 0.5 * r[0] - 2.0 * r[1] + 1.0)
        .collect();
    (x, t(y, &[rows, 1]))
}

fn mlp(seed: u64) -> Sequential {
    let mut model = Sequential::new(&[2])
        .add(Dense::new(4).activation(Activation::Tanh))
        .add(Dense::new(1))
        .seed(seed);
    model
        .compile(
            Sgd::new(0.05),
            MeanSquaredError,
            &[Metric::MeanAbsoluteError],
        )
        .expect("compile");
    model
}

/// Records the weights at each epoch end.
#[derive(Default)]
struct EpochWeights(Rc<RefCell<Vec<Vec<Tensor>>>>);

impl Callback for EpochWeights {
    fn on_epoch_end(&mut self, _e: usize, _l: &Logs, ctx: &mut dyn TrainingContext) -> Result<()> {
        self.0.borrow_mut().push(ctx.get_weights());
        Ok(())
    }
}

/// Records the learning rate each epoch trains with.
#[derive(Default)]
struct EpochRates(Rc<RefCell<Vec<f64>>>);

impl Callback for EpochRates {
    fn on_epoch_begin(&mut self, _e: usize, ctx: &mut dyn TrainingContext) -> Result<()> {
        self.0.borrow_mut().push(ctx.learning_rate());
        Ok(())
    }
}

#[test]
fn xor_is_learned_exactly() -> Result<()> {
    // The pipeline of examples/xor.rs.
    let x = t(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]);
    let y = t(vec![0., 1., 1., 0.], &[4, 1]);
    let mut model = Sequential::new(&[2])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(1).activation(Activation::Sigmoid))
        .seed(1);
    model.compile(
        Adam::new(0.05),
        BinaryCrossentropy::default(),
        &[Metric::Accuracy],
    )?;
    let options = FitOptions::default().epochs(300).batch_size(4).verbose(0);
    model.fit(&x, &y, options)?;
    assert_eq!(model.predict_classes(&x)?, vec![0, 1, 1, 0]);
    let e = model.evaluate(&x, &y)?;
    assert_eq!(e.metric(Metric::Accuracy), Some(1.0));
    assert!(e.loss < 0.1, "loss {}", e.loss);
    Ok(())
}

#[test]
fn linear_regression_pipeline_recovers_weight_and_bias() -> Result<()> {
    // The pipeline of examples/linear_regression.rs, in-process.
    let mut rng = StdRng::seed_from_u64(42);
    let x = Tensor::<f32>::rand_uniform_with_rng(&[1000, 1], 0.0, 1.0, &mut rng)?;
    let y = x.map(|v| 0.1 * v + 0.3);
    let (train, test) = train_test_split(&Dataset::new(x, y)?, SplitOptions::new(0.2).seed(42))?;
    let mut model = Sequential::new(&[1]).add(Dense::new(1));
    model.compile(
        Sgd::new(0.5),
        MeanSquaredError,
        &[Metric::MeanAbsoluteError],
    )?;
    let options = FitOptions::default().epochs(60).batch_size(32).verbose(0);
    model.fit(train.features(), train.targets(), options)?;
    let w = model.get_weights();
    let (w, b) = (w[0].item()?, w[1].item()?);
    assert!((w - 0.1).abs() < 0.01, "weight {w}");
    assert!((b - 0.3).abs() < 0.01, "bias {b}");
    let e = model.evaluate(test.features(), test.targets())?;
    assert!(e.loss < 1e-4, "test loss {}", e.loss);
    Ok(())
}

#[test]
fn early_stopping_restores_the_best_epochs_weights_bit_for_bit() -> Result<()> {
    // Train towards y = 2x while validating against y = x: the validation
    // loss falls while w passes 1, then rises, so the best epoch is inside.
    let x = t((0..32).map(|i| i as f32 / 32.0).collect(), &[32, 1]);
    let y = x.map(|v| 2.0 * v);
    let vx = t(vec![0.25, 0.5, 0.75, 1.0], &[4, 1]);
    let vy = vx.clone();
    let mut model = Sequential::new(&[1]).add(Dense::new(1).use_bias(false));
    model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    model.set_weights(vec![Tensor::zeros(&[1, 1])?])?;
    let record = EpochWeights::default();
    let snapshots = record.0.clone();
    let options = FitOptions::default()
        .epochs(200)
        .batch_size(8)
        .verbose(0)
        .validation_data(vx, vy)
        .callback(record)
        .callback(EarlyStopping::new().patience(3).restore_best_weights(true));
    let history = model.fit(&x, &y, options)?;
    let val = history.get("val_loss").expect("val_loss");
    assert!(val.len() < 200, "early stopping did not stop");
    let best = (0..val.len()).fold(0, |b, i| if val[i] < val[b] { i } else { b });
    assert!(
        best > 0 && best + 1 < val.len(),
        "best epoch {best} of {}",
        val.len()
    );
    let snapshots = snapshots.borrow();
    assert_eq!(snapshots.len(), val.len());
    assert_ne!(
        bits(&snapshots[best]),
        bits(snapshots.last().expect("epochs"))
    );
    assert_eq!(bits(&model.get_weights()), bits(&snapshots[best]));
    Ok(())
}

#[test]
fn reduce_lr_on_plateau_lowers_the_rate_only_on_a_plateau() -> Result<()> {
    let (x, y) = regression_data(64, 1);
    // min_delta so large that no epoch after the first counts as better.
    let mut model = mlp(0);
    let rates = EpochRates::default();
    let seen = rates.0.clone();
    let plateau = ReduceLrOnPlateau::new()
        .monitor("loss")
        .factor(0.5)
        .patience(2)
        .min_delta(1e9);
    let options = FitOptions::default()
        .epochs(7)
        .verbose(0)
        .callback(rates)
        .callback(plateau);
    model.fit(&x, &y, options)?;
    let got: Vec<f32> = seen.borrow().iter().map(|&r| r as f32).collect();
    assert_eq!(got, [0.05, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]);

    // A loss that keeps falling leaves the rate alone.
    let mut model = mlp(0);
    let rates = EpochRates::default();
    let seen = rates.0.clone();
    let options = FitOptions::default()
        .epochs(7)
        .verbose(0)
        .callback(rates)
        .callback(ReduceLrOnPlateau::new().monitor("loss").patience(1));
    let history = model.fit(&x, &y, options)?;
    let loss = history.get("loss").expect("loss");
    assert!(loss.windows(2).all(|w| w[1] < w[0]), "{loss:?}");
    assert!(seen.borrow().iter().all(|&r| r as f32 == 0.05));
    Ok(())
}

fn seeded_run(model_seed: u64, fit_seed: u64) -> Result<(History, Vec<Tensor>)> {
    let (x, y) = regression_data(50, 9);
    let mut model = Sequential::new(&[2])
        .add(Dense::new(6).activation(Activation::Relu))
        .add(Dropout::new(0.3).seed(4))
        .add(Dense::new(1))
        .seed(model_seed);
    model.compile(
        Adam::new(0.01),
        MeanSquaredError,
        &[Metric::MeanAbsoluteError],
    )?;
    let options = FitOptions::default()
        .epochs(5)
        .batch_size(8)
        .validation_split(0.2)
        .seed(fit_seed)
        .verbose(0);
    let history = model.fit(&x, &y, options)?;
    Ok((history, model.get_weights()))
}

#[test]
fn the_same_seed_gives_a_bit_identical_run_and_another_seed_does_not() -> Result<()> {
    let (h1, w1) = seeded_run(3, 5)?;
    let (h2, w2) = seeded_run(3, 5)?;
    assert_eq!(h1.to_csv(), h2.to_csv());
    let names: Vec<String> = h1.names().map(str::to_string).collect();
    assert_eq!(
        names,
        [
            "loss",
            "mean_absolute_error",
            "val_loss",
            "val_mean_absolute_error"
        ]
    );
    for name in &names {
        let a: Vec<u64> = h1
            .get(name)
            .expect("series")
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let b: Vec<u64> = h2
            .get(name)
            .expect("series")
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(a, b, "{name}");
    }
    assert_eq!(bits(&w1), bits(&w2));

    let (h3, w3) = seeded_run(3, 6)?; // another shuffle
    assert_ne!(h1.to_csv(), h3.to_csv());
    assert_ne!(bits(&w1), bits(&w3));
    let (h4, w4) = seeded_run(4, 5)?; // another initialisation
    assert_ne!(h1.to_csv(), h4.to_csv());
    assert_ne!(bits(&w1), bits(&w4));
    Ok(())
}

#[test]
fn validation_split_holds_out_the_last_rows() -> Result<()> {
    let (x, y) = regression_data(40, 2);
    let mut model = mlp(7);
    let options = FitOptions::default()
        .epochs(3)
        .batch_size(5)
        .validation_split(0.25)
        .verbose(0);
    let history = model.fit(&x, &y, options)?;
    // Validation is the last 10 rows, with the weights at the end of training.
    let e = model.evaluate(&x.slice_rows(30..40)?, &y.slice_rows(30..40)?)?;
    assert_eq!(history.last("val_loss"), Some(e.loss));
    assert_eq!(
        history.last("val_mean_absolute_error"),
        e.metric(Metric::MeanAbsoluteError)
    );
    // Training saw only the first 30 rows: the same as fitting on them alone.
    let mut alone = mlp(7);
    let options = FitOptions::default().epochs(3).batch_size(5).verbose(0);
    let h = alone.fit(&x.slice_rows(0..30)?, &y.slice_rows(0..30)?, options)?;
    assert_eq!(bits(&alone.get_weights()), bits(&model.get_weights()));
    assert_eq!(h.get("loss"), history.get("loss"));
    Ok(())
}

#[test]
fn validation_data_is_used_when_given() -> Result<()> {
    let (x, y) = regression_data(40, 3);
    let (vx, vy) = regression_data(12, 4);
    let mut model = mlp(1);
    let options = FitOptions::default()
        .epochs(2)
        .validation_split(0.5) // ignored: validation_data takes precedence
        .validation_data(vx.clone(), vy.clone())
        .verbose(0);
    let history = model.fit(&x, &y, options)?;
    let e = model.evaluate(&vx, &vy)?;
    assert_eq!(history.last("val_loss"), Some(e.loss));
    // All 40 rows trained: the same as a run without validation.
    let mut plain = mlp(1);
    plain.fit(&x, &y, FitOptions::default().epochs(2).verbose(0))?;
    assert_eq!(bits(&plain.get_weights()), bits(&model.get_weights()));
    Ok(())
}

#[test]
fn class_weight_equals_the_matching_sample_weight() -> Result<()> {
    let x = t(
        vec![0., 0., 0., 1., 1., 0., 1., 1., 0.5, 0.5, 0.2, 0.9],
        &[6, 2],
    );
    let y = t(vec![0., 1., 1., 1., 0., 1.], &[6, 1]);
    let make = || -> Result<Sequential> {
        let mut m = Sequential::new(&[2]).add(Dense::new(1).activation(Activation::Sigmoid));
        m.compile(
            Sgd::new(0.5),
            BinaryCrossentropy::default(),
            &[Metric::Accuracy],
        )?;
        Ok(m)
    };
    let opts = || FitOptions::default().epochs(4).batch_size(4).verbose(0);
    let mut by_class = make()?;
    let h1 = by_class.fit(&x, &y, opts().class_weight(HashMap::from([(1, 3.0)])))?;
    let mut by_sample = make()?;
    let w = t(vec![1., 3., 3., 3., 1., 3.], &[6]);
    let h2 = by_sample.fit(&x, &y, opts().sample_weight(w))?;
    assert_eq!(
        bits(&by_class.get_weights()),
        bits(&by_sample.get_weights())
    );
    assert_eq!(h1.get("loss"), h2.get("loss"));
    let mut unweighted = make()?;
    unweighted.fit(&x, &y, opts())?;
    assert_ne!(
        bits(&unweighted.get_weights()),
        bits(&by_class.get_weights())
    );
    Ok(())
}

#[test]
fn weighted_loss_is_the_weighted_mean_of_per_sample_losses() -> Result<()> {
    // One batch, no shuffling: the first epoch's loss is computed at the
    // initial weights, so it can be checked by hand.
    let x = t(vec![1., 2., 3., 4.], &[4, 1]);
    let y = t(vec![1., 1., 1., 1.], &[4, 1]);
    let mut model = Sequential::new(&[1]).add(Dense::new(1));
    model.compile(Sgd::new(0.0), MeanSquaredError, &[])?;
    model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?; // y_hat = x
    let w = t(vec![2., 0., 1., 0.5], &[4]);
    let options = FitOptions::default()
        .epochs(1)
        .batch_size(4)
        .shuffle(false)
        .verbose(0);
    let history = model.fit(&x, &y, options.sample_weight(w))?;
    // Errors 0, 1, 2, 3: (2·0 + 0·1 + 1·4 + 0.5·9) / 4.
    let expected = (2.0 * 0.0 + 0.0 * 1.0 + 1.0 * 4.0 + 0.5 * 9.0) / 4.0;
    assert!((history.last("loss").expect("loss") - expected).abs() < 1e-6);
    Ok(())
}

#[test]
fn a_zero_sample_weight_is_training_without_those_rows() -> Result<()> {
    // Full-batch SGD: the mean over 8 rows of which 6 weigh 1 is 6/8 of the
    // mean over those 6, so it matches plain training on them at 6/8 the rate.
    let (x, y) = regression_data(8, 5);
    let make = |rate: f64| -> Result<Sequential> {
        let mut m = Sequential::new(&[2]).add(Dense::new(1)).seed(3);
        m.compile(Sgd::new(rate), MeanSquaredError, &[])?;
        Ok(m)
    };
    let opts = || {
        FitOptions::default()
            .epochs(20)
            .batch_size(8)
            .shuffle(false)
            .verbose(0)
    };
    let mut weighted = make(0.2)?;
    let w = t(vec![1., 1., 0., 1., 1., 0., 1., 1.], &[8]);
    weighted.fit(&x, &y, opts().sample_weight(w))?;
    let keep = [0, 1, 3, 4, 6, 7];
    let mut without = make(0.2 * 6.0 / 8.0)?;
    without.fit(&x.select_rows(&keep)?, &y.select_rows(&keep)?, opts())?;
    for (a, b) in weighted.get_weights().iter().zip(&without.get_weights()) {
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }
    let mut unweighted = make(0.2)?;
    unweighted.fit(&x, &y, opts())?;
    let d = (unweighted.get_weights()[1].item()? - weighted.get_weights()[1].item()?).abs();
    assert!(d > 1e-3, "the zero weights changed nothing");
    Ok(())
}

#[test]
fn initial_epoch_numbers_the_history_and_resumes() -> Result<()> {
    let (x, y) = regression_data(20, 6);
    let mut model = mlp(2);
    let first = model.fit(&x, &y, FitOptions::default().epochs(3).verbose(0))?;
    assert_eq!(first.epochs(), &[0, 1, 2]);
    let options = FitOptions::default().epochs(5).initial_epoch(3).verbose(0);
    let second = model.fit(&x, &y, options)?;
    assert_eq!(second.epochs(), &[3, 4]);
    assert_eq!(second.len(), 2);
    let all = model.history().expect("compiled");
    assert_eq!(all.epochs(), &[0, 1, 2, 3, 4]);
    Ok(())
}

#[test]
fn a_frozen_layer_keeps_its_weights_through_fit() -> Result<()> {
    let (x, y) = regression_data(32, 7);
    let mut model = mlp(4);
    model.layers_mut()[0].set_trainable(false);
    let before = model.get_weights();
    model.fit(&x, &y, FitOptions::default().epochs(3).verbose(0))?;
    let after = model.get_weights();
    assert_eq!(bits(&after[..2]), bits(&before[..2]));
    assert_ne!(bits(&after[2..]), bits(&before[2..]));
    Ok(())
}

#[test]
fn evaluate_loss_is_the_mean_per_sample_loss() -> Result<()> {
    // Dense(2) with kernel [[1, 0], [0, 2]] and bias [0, -1]: y_hat = (x0, 2·x1 - 1).
    let mut model = Sequential::new(&[2]).add(Dense::new(2));
    model.compile(
        Sgd::new(0.1),
        MeanSquaredError,
        &[Metric::MeanAbsoluteError],
    )?;
    model.set_weights(vec![
        t(vec![1., 0., 0., 2.], &[2, 2]),
        t(vec![0., -1.], &[2]),
    ])?;
    let x = t(vec![1., 1., 2., 0., 0., 3.], &[3, 2]);
    let y = t(vec![0., 0., 2., 2., 1., 1.], &[3, 2]);
    // y_hat rows: (1, 1), (2, -1), (0, 5); squared errors (1, 1), (0, 9), (1, 16)
    // per-sample MSE 1, 4.5, 8.5; abs errors (1, 1), (0, 3), (1, 4): MAE 1, 1.5, 2.5.
    let e = model.evaluate(&x, &y)?;
    assert!((e.loss - 14.0 / 3.0).abs() < 1e-6, "{}", e.loss);
    let mae = e.metric(Metric::MeanAbsoluteError).expect("mae");
    assert!((mae - 5.0 / 3.0).abs() < 1e-6, "{mae}");
    Ok(())
}

#[test]
fn evaluate_over_many_batches_equals_the_mean_over_all_rows() -> Result<()> {
    let (x, y) = regression_data(700, 8);
    let model = mlp(5);
    let e = model.evaluate(&x, &y)?;
    let p = model.predict(&x)?;
    let by_hand = p
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / 700.0;
    assert!(
        (e.loss - by_hand).abs() < 1e-5 * by_hand.max(1.0),
        "{} vs {by_hand}",
        e.loss
    );
    Ok(())
}

#[test]
fn fit_with_verbose_one_and_two_runs_when_stderr_is_not_a_terminal() -> Result<()> {
    let (x, y) = regression_data(16, 10);
    for verbose in [0, 1, 2] {
        let mut model = mlp(6);
        let history = model.fit(&x, &y, FitOptions::default().epochs(2).verbose(verbose))?;
        assert_eq!(history.len(), 2);
        assert!(history.last("loss").is_some_and(f64::is_finite));
    }
    Ok(())
}
