//! The built-in callbacks driven by a mock training loop: when they stop,
//! which rates they set, which weights they restore, what they write.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use tapeflow::callbacks::{
    Callback, CsvLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, Logs, MonitorMode,
    ReduceLrOnPlateau, TerminateOnNan, TrainingContext,
};
use tapeflow::{Error, Result, Tensor};

/// A stand-in for `fit`'s loop that records what callbacks ask of it.
#[derive(Default)]
struct MockContext {
    stop: bool,
    stop_requests: usize,
    lr: f64,
    lr_set: Vec<f64>,
    weights: Vec<Tensor>,
    restored: Vec<Vec<Tensor>>,
}

impl MockContext {
    fn with_lr(lr: f64) -> Self {
        MockContext {
            lr,
            ..Self::default()
        }
    }
}

impl TrainingContext for MockContext {
    fn stop_training(&mut self) {
        self.stop = true;
        self.stop_requests += 1;
    }
    fn should_stop(&self) -> bool {
        self.stop
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        self.lr = rate;
        self.lr_set.push(rate);
        Ok(())
    }
    fn get_weights(&self) -> Vec<Tensor> {
        self.weights.clone()
    }
    fn set_weights(&mut self, weights: Vec<Tensor>) -> Result<()> {
        self.restored.push(weights.clone());
        self.weights = weights;
        Ok(())
    }
    fn save(&self, _path: &Path) -> Result<()> {
        Ok(())
    }
}

/// Epoch `e`'s weights: one tensor holding `[e, -e]`.
fn weights_of(epoch: usize) -> Vec<Tensor> {
    vec![Tensor::from_vec(vec![epoch as f32, -(epoch as f32)], &[2]).unwrap()]
}

fn logs(name: &str, value: f64) -> Logs {
    let mut logs = Logs::default();
    logs.push(name, value);
    logs
}

/// Runs `cb` over epochs whose logs hold `monitor = values[e]` and whose
/// weights are `weights_of(e)`, stopping as `fit` would. Returns the context
/// and the number of epochs run.
fn run_epochs(cb: &mut dyn Callback, monitor: &str, values: &[f64]) -> (MockContext, usize) {
    let mut ctx = MockContext::with_lr(0.1);
    cb.on_train_begin(&mut ctx).unwrap();
    let mut ran = 0;
    for (epoch, &v) in values.iter().enumerate() {
        cb.on_epoch_begin(epoch, &mut ctx).unwrap();
        ctx.weights = weights_of(epoch);
        cb.on_epoch_end(epoch, &logs(monitor, v), &mut ctx).unwrap();
        ran += 1;
        if ctx.should_stop() {
            break;
        }
    }
    cb.on_train_end(&mut ctx).unwrap();
    (ctx, ran)
}

#[test]
fn early_stopping_patience_zero_stops_at_first_non_improvement() {
    let mut es = EarlyStopping::new();
    let (ctx, ran) = run_epochs(&mut es, "val_loss", &[1.0, 0.9, 0.95, 0.5]);
    assert_eq!(ran, 3);
    assert_eq!(es.stopped_epoch(), Some(2));
    assert_eq!(ctx.stop_requests, 1);
    assert_eq!(es.best(), Some(0.9));
    assert_eq!(es.best_epoch(), Some(1));
    // Without restore_best_weights, nothing is restored.
    assert!(ctx.restored.is_empty());
}

#[test]
fn early_stopping_waits_patience_epochs_and_resets_on_improvement() {
    let mut es = EarlyStopping::new().patience(2);
    // The improvement at epoch 2 resets the wait; 3 and 4 do not improve.
    let values = [1.0, 1.1, 0.8, 0.9, 0.85, 0.1];
    let (_, ran) = run_epochs(&mut es, "val_loss", &values);
    assert_eq!(es.stopped_epoch(), Some(4));
    assert_eq!(ran, 5);
}

#[test]
fn early_stopping_min_delta_ignores_small_improvements() {
    // Drops of 0.05 and 0.03 are below min_delta 0.1: no improvement after epoch 0.
    let mut es = EarlyStopping::new()
        .monitor("loss")
        .min_delta(0.1)
        .patience(2);
    let (_, ran) = run_epochs(&mut es, "loss", &[1.0, 0.95, 0.92, 0.5]);
    assert_eq!(ran, 3);
    assert_eq!(es.stopped_epoch(), Some(2));
    assert_eq!(es.best(), Some(1.0));
    // Drops of more than min_delta count (the sign of min_delta is ignored).
    let mut es = EarlyStopping::new()
        .monitor("loss")
        .min_delta(-0.1)
        .patience(1);
    let (_, ran) = run_epochs(&mut es, "loss", &[1.0, 0.85, 0.7, 0.65]);
    assert_eq!(ran, 4);
    assert_eq!(es.stopped_epoch(), Some(3));
    assert_eq!(es.best(), Some(0.7));
}

#[test]
fn early_stopping_baseline_keeps_the_wait_count_until_beaten() {
    // Not beating the baseline: epoch 0 starts the wait at 1, so patience 2
    // runs out at epoch 1 (epoch 2 without a baseline).
    let mut es = EarlyStopping::new().baseline(0.5).patience(2);
    run_epochs(&mut es, "val_loss", &[1.0, 1.1, 1.2, 1.3]);
    assert_eq!(es.stopped_epoch(), Some(1));
    let mut es = EarlyStopping::new().patience(2);
    run_epochs(&mut es, "val_loss", &[1.0, 1.1, 1.2, 1.3]);
    assert_eq!(es.stopped_epoch(), Some(2));
    // Beating the baseline resets the wait as usual.
    let mut es = EarlyStopping::new().baseline(0.5).patience(2);
    run_epochs(&mut es, "val_loss", &[0.4, 0.45, 0.46, 0.47]);
    assert_eq!(es.stopped_epoch(), Some(2));
    // Improving on the best without beating the baseline never stops (Keras).
    let mut es = EarlyStopping::new().baseline(0.5).patience(1);
    let (_, ran) = run_epochs(&mut es, "val_loss", &[1.0, 0.9, 0.8, 0.7]);
    assert_eq!((ran, es.stopped_epoch()), (4, None));
}

#[test]
fn early_stopping_mode_decides_the_direction() {
    // Auto maximises accuracy.
    let mut es = EarlyStopping::new().monitor("val_accuracy");
    run_epochs(&mut es, "val_accuracy", &[0.5, 0.6, 0.55, 0.7]);
    assert_eq!((es.stopped_epoch(), es.best()), (Some(2), Some(0.6)));
    // Min on accuracy stops when it rises.
    let mut es = EarlyStopping::new()
        .monitor("val_accuracy")
        .mode(MonitorMode::Min);
    run_epochs(&mut es, "val_accuracy", &[0.5, 0.6]);
    assert_eq!(es.stopped_epoch(), Some(1));
    // Max on a loss stops when it falls.
    let mut es = EarlyStopping::new().mode(MonitorMode::Max);
    run_epochs(&mut es, "val_loss", &[1.0, 0.5]);
    assert_eq!(es.stopped_epoch(), Some(1));
}

#[test]
fn early_stopping_start_from_epoch_skips_the_warm_up() {
    let mut es = EarlyStopping::new().start_from_epoch(2);
    run_epochs(&mut es, "val_loss", &[1.0, 2.0, 3.0, 2.5, 2.6]);
    assert_eq!(es.stopped_epoch(), Some(4));
    assert_eq!((es.best(), es.best_epoch()), (Some(2.5), Some(3)));
}

#[test]
fn early_stopping_nan_is_never_an_improvement() {
    let mut es = EarlyStopping::new();
    run_epochs(&mut es, "val_loss", &[1.0, f64::NAN]);
    assert_eq!((es.stopped_epoch(), es.best()), (Some(1), Some(1.0)));
}

#[test]
fn early_stopping_restores_the_best_epochs_weights_when_it_stops() {
    let mut es = EarlyStopping::new().patience(2).restore_best_weights(true);
    let (ctx, ran) = run_epochs(&mut es, "val_loss", &[1.0, 0.6, 0.7, 0.65, 0.9]);
    assert_eq!((ran, es.stopped_epoch()), (4, Some(3)));
    assert_eq!(ctx.restored.len(), 1);
    assert_eq!(ctx.restored[0][0].to_vec(), weights_of(1)[0].to_vec());
    assert_eq!(ctx.weights[0].to_vec(), vec![1.0, -1.0]);
}

#[test]
fn early_stopping_restores_the_best_weights_at_train_end_without_stopping() {
    let mut es = EarlyStopping::new().patience(5).restore_best_weights(true);
    let (ctx, ran) = run_epochs(&mut es, "val_loss", &[1.0, 0.5, 0.7]);
    assert_eq!((ran, es.stopped_epoch()), (3, None));
    assert_eq!(ctx.restored.len(), 1);
    assert_eq!(ctx.weights[0].to_vec(), vec![1.0, -1.0]);
}

#[test]
fn early_stopping_resets_between_runs() {
    let mut es = EarlyStopping::new().restore_best_weights(true);
    run_epochs(&mut es, "val_loss", &[0.1, 0.2]);
    assert_eq!(es.stopped_epoch(), Some(1));
    let (ctx, ran) = run_epochs(&mut es, "val_loss", &[5.0, 4.0, 3.0, 3.5]);
    assert_eq!(
        (ran, es.stopped_epoch(), es.best()),
        (4, Some(3), Some(3.0))
    );
    assert_eq!(ctx.weights[0].to_vec(), vec![2.0, -2.0]);
}

#[test]
fn early_stopping_names_a_missing_monitor_and_the_available_names() {
    let mut es = EarlyStopping::<f32>::new();
    let mut ctx = MockContext::default();
    let mut l = logs("loss", 1.0);
    l.push("accuracy", 0.5);
    es.on_train_begin(&mut ctx).unwrap();
    let err = es.on_epoch_end(0, &l, &mut ctx).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidArgument {
            op: "EarlyStopping",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "EarlyStopping: monitor \"val_loss\" is not in the logs; available: [loss, accuracy]"
    );
}

/// Runs a plateau callback over `values` of `monitor`, returning the rate
/// after each epoch.
fn plateau_rates(cb: &mut ReduceLrOnPlateau, monitor: &str, values: &[f64]) -> Vec<f64> {
    let mut ctx = MockContext::with_lr(0.1);
    Callback::<f32>::on_train_begin(cb, &mut ctx).unwrap();
    values
        .iter()
        .enumerate()
        .map(|(epoch, &v)| {
            cb.on_epoch_end(epoch, &logs(monitor, v), &mut ctx).unwrap();
            ctx.lr
        })
        .collect()
}

#[test]
fn reduce_lr_waits_patience_epochs_and_resets_on_improvement() {
    let mut cb = ReduceLrOnPlateau::new().factor(0.5).patience(2);
    let rates = plateau_rates(&mut cb, "val_loss", &[1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert_eq!(rates, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
}

#[test]
fn reduce_lr_min_delta_ignores_small_improvements() {
    // 0.99995 is within min_delta (1e-4) of 1.0: no improvement.
    let mut cb = ReduceLrOnPlateau::new().factor(0.5).patience(1);
    let rates = plateau_rates(&mut cb, "val_loss", &[1.0, 0.99995]);
    assert_eq!(rates, [0.1, 0.05]);
    let mut cb = ReduceLrOnPlateau::new()
        .factor(0.5)
        .patience(1)
        .min_delta(0.0);
    let rates = plateau_rates(&mut cb, "val_loss", &[1.0, 0.99995]);
    assert_eq!(rates, [0.1, 0.1]);
}

#[test]
fn reduce_lr_cooldown_pauses_counting() {
    let mut cb = ReduceLrOnPlateau::new().factor(0.5).patience(1).cooldown(2);
    let rates = plateau_rates(&mut cb, "val_loss", &[1.0; 6]);
    assert_eq!(rates, [0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]);
}

#[test]
fn reduce_lr_never_goes_below_min_lr() {
    let mut cb = ReduceLrOnPlateau::new().patience(1).min_lr(0.015);
    let mut ctx = MockContext::with_lr(0.1);
    Callback::<f32>::on_train_begin(&mut cb, &mut ctx).unwrap();
    for epoch in 0..5 {
        cb.on_epoch_end(epoch, &logs("val_loss", 1.0), &mut ctx)
            .unwrap();
    }
    // One reduction to the floor, then no more calls.
    assert_eq!(ctx.lr_set, [0.015]);
}

#[test]
fn reduce_lr_auto_mode_maximises_accuracy() {
    let mut cb = ReduceLrOnPlateau::new()
        .monitor("val_accuracy")
        .factor(0.5)
        .patience(1);
    assert_eq!(
        plateau_rates(&mut cb, "val_accuracy", &[0.5, 0.6, 0.7]),
        [0.1; 3]
    );
    assert_eq!(
        plateau_rates(&mut cb, "val_accuracy", &[0.5, 0.4]),
        [0.1, 0.05]
    );
}

#[test]
fn reduce_lr_rejects_a_bad_factor_and_a_missing_monitor() {
    let mut ctx = MockContext::with_lr(0.1);
    let mut cb = ReduceLrOnPlateau::new().factor(1.5);
    let err = Callback::<f32>::on_train_begin(&mut cb, &mut ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ReduceLrOnPlateau: factor must be in [0, 1), got 1.5"
    );
    let mut cb = ReduceLrOnPlateau::new();
    Callback::<f32>::on_train_begin(&mut cb, &mut ctx).unwrap();
    let err = cb
        .on_epoch_end(0, &logs("loss", 1.0), &mut ctx)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ReduceLrOnPlateau: monitor \"val_loss\" is not in the logs; available: [loss]"
    );
}

#[test]
fn scheduler_sets_the_rate_at_each_epoch_begin() {
    let mut cb = LearningRateScheduler::new(|epoch, _lr| 1.0 / (epoch as f64 + 1.0));
    let mut ctx = MockContext::with_lr(0.1);
    for epoch in 0..3 {
        Callback::<f32>::on_epoch_begin(&mut cb, epoch, &mut ctx).unwrap();
    }
    assert_eq!(ctx.lr_set, [1.0, 0.5, 1.0 / 3.0]);
    let mut bad = LearningRateScheduler::new(|_, _| f64::NAN);
    let err = Callback::<f32>::on_epoch_begin(&mut bad, 4, &mut ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LearningRateScheduler: the schedule returned NaN at epoch 4; a rate must be finite and non-negative"
    );
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapeflow_cb_{}_{name}", std::process::id()))
}

fn log_epochs(cb: &mut CsvLogger, rows: &[Logs]) {
    let mut ctx = MockContext::default();
    Callback::<f32>::on_train_begin(cb, &mut ctx).unwrap();
    for (epoch, l) in rows.iter().enumerate() {
        Callback::<f32>::on_epoch_end(cb, epoch, l, &mut ctx).unwrap();
    }
    Callback::<f32>::on_train_end(cb, &mut ctx).unwrap();
}

#[test]
fn csv_logger_writes_header_and_rows_and_appends() {
    let path = temp_path("log.csv");
    let mut a = logs("loss", 0.5);
    a.push("accuracy", 0.75);
    a.push("val_loss", 0.625);
    let b = logs("loss", 0.25); // accuracy and val_loss missing
    log_epochs(&mut CsvLogger::new(&path), &[a.clone(), b]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "epoch,loss,accuracy,val_loss\n0,0.5,0.75,0.625\n1,0.25,NA,NA\n"
    );
    // Append: no second header; overwrite (the default) starts afresh.
    log_epochs(&mut CsvLogger::new(&path).append(true), &[a.clone()]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.ends_with("1,0.25,NA,NA\n0,0.5,0.75,0.625\n"));
    log_epochs(&mut CsvLogger::new(&path).separator('\t'), &[a]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "epoch\tloss\taccuracy\tval_loss\n0\t0.5\t0.75\t0.625\n"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn csv_logger_append_to_a_new_file_writes_the_header() {
    let path = temp_path("new.csv");
    let _ = std::fs::remove_file(&path);
    log_epochs(
        &mut CsvLogger::new(&path).append(true),
        &[logs("loss", 1.0)],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n0,1\n");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn csv_logger_error_names_the_path() {
    let path = temp_path("no_such_dir").join("log.csv");
    let mut cb = CsvLogger::new(&path);
    let err = Callback::<f32>::on_train_begin(&mut cb, &mut MockContext::default()).unwrap_err();
    match &err {
        Error::Io { op, path: p, .. } => {
            assert_eq!(*op, "CsvLogger");
            assert_eq!(p, &path.display().to_string());
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn terminate_on_nan_stops_on_nan_and_infinity_only() {
    for (bad, expect_stop) in [
        (f64::NAN, true),
        (f64::INFINITY, true),
        (-f64::INFINITY, true),
        (1e30, false),
    ] {
        let mut cb = TerminateOnNan::new();
        let mut ctx = MockContext::default();
        Callback::<f32>::on_train_begin(&mut cb, &mut ctx).unwrap();
        cb.on_batch_end(0, &logs("loss", 0.5), &mut ctx).unwrap();
        cb.on_batch_end(1, &logs("accuracy", f64::NAN), &mut ctx)
            .unwrap();
        assert!(!ctx.should_stop());
        cb.on_batch_end(2, &logs("loss", bad), &mut ctx).unwrap();
        assert_eq!(ctx.should_stop(), expect_stop, "loss {bad}");
        assert_eq!(cb.stopped_batch(), expect_stop.then_some(2));
    }
}

#[test]
fn lambda_callback_calls_each_hook_in_order_and_passes_errors_on() {
    let events = RefCell::new(Vec::new());
    let mut cb = LambdaCallback::new()
        .on_train_begin(|| {
            events.borrow_mut().push("train_begin".to_string());
            Ok(())
        })
        .on_epoch_begin(|e| {
            events.borrow_mut().push(format!("epoch_begin {e}"));
            Ok(())
        })
        .on_batch_end(|b, l| {
            events
                .borrow_mut()
                .push(format!("batch_end {b} {:?}", l.get("loss")));
            Ok(())
        })
        .on_epoch_end(|e, l| {
            events
                .borrow_mut()
                .push(format!("epoch_end {e} {:?}", l.get("loss")));
            Ok(())
        })
        .on_train_end(|| {
            events.borrow_mut().push("train_end".to_string());
            Err(Error::InvalidArgument {
                op: "test",
                message: "from the closure".to_string(),
            })
        });
    let mut ctx = MockContext::default();
    let cb: &mut dyn Callback = &mut cb;
    cb.on_train_begin(&mut ctx).unwrap();
    cb.on_epoch_begin(0, &mut ctx).unwrap();
    cb.on_batch_end(0, &logs("loss", 0.5), &mut ctx).unwrap();
    cb.on_epoch_end(0, &logs("loss", 0.25), &mut ctx).unwrap();
    let err = cb.on_train_end(&mut ctx).unwrap_err();
    assert_eq!(err.to_string(), "test: from the closure");
    assert_eq!(
        *events.borrow(),
        [
            "train_begin",
            "epoch_begin 0",
            "batch_end 0 Some(0.5)",
            "epoch_end 0 Some(0.25)",
            "train_end"
        ]
    );
    // A callback with no closures does nothing.
    let mut empty = LambdaCallback::new();
    Callback::<f32>::on_epoch_end(&mut empty, 0, &Logs::default(), &mut ctx).unwrap();
}
