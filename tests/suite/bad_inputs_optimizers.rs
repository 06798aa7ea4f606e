//! Bad inputs to the optimizers, schedules and their configs: every case is
//! an `Err` whose message names the optimizer (or schedule) and the
//! offending setting or value, and a refused step leaves the parameters,
//! the optimizer state and the step count exactly as they were (compared
//! bit for bit).

use serde_json::json;
use tapeflow::optimizers::{
    self, Adadelta, Adagrad, Adam, AdamW, LearningRate, LearningRateSchedule, Lion, Nadam,
    Optimizer, RmsProp, Sgd,
};
use tapeflow::{Gradients, Param, Tensor};

fn param(data: &[f32]) -> Param<f32> {
    Param::new(
        "dense/kernel",
        Tensor::from_vec(data.to_vec(), &[data.len()]).unwrap(),
    )
}

fn grads(p: &Param<f32>, g: &[f32]) -> Gradients<f32> {
    let mut out = Gradients::default();
    out.insert_param(p.id(), Tensor::from_vec(g.to_vec(), &[g.len()]).unwrap());
    out
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|x| x.to_bits()).collect()
}

fn state_bits(opt: &dyn Optimizer<f32>) -> Vec<(String, Vec<u32>)> {
    opt.state()
        .iter()
        .map(|(k, t)| (k.clone(), bits(t)))
        .collect()
}

/// Takes one good step (so there is state), then applies `g`: it must fail
/// with a message containing every one of `needles`, and change nothing.
fn refused(mut opt: Box<dyn Optimizer<f32>>, g: &[f32], needles: &[&str]) {
    let mut p = param(&[0.5, -0.25]);
    opt.apply_gradients(&grads(&p, &[0.1, 0.0]), &mut [&mut p])
        .unwrap_or_else(|e| panic!("the warm-up step of {} failed: {e}", opt.name()));
    let (before, state, steps) = (bits(p.value()), state_bits(&*opt), opt.iterations());
    let err = opt
        .apply_gradients(&grads(&p, g), &mut [&mut p])
        .expect_err("the step must be refused");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}: ", opt.name())), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
    assert_eq!(bits(p.value()), before, "{msg}: param changed");
    assert_eq!(state_bits(&*opt), state, "{msg}: state changed");
    assert_eq!(opt.iterations(), steps, "{msg}: step count changed");
}

/// A setting refused on the first step, before anything is touched.
fn refused_setting(mut opt: Box<dyn Optimizer<f32>>, needles: &[&str]) {
    let mut p = param(&[0.5, -0.25]);
    let before = bits(p.value());
    let err = opt
        .apply_gradients(&grads(&p, &[0.1, 0.0]), &mut [&mut p])
        .expect_err("the setting must be refused");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}: ", opt.name())), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
    assert_eq!(bits(p.value()), before);
    assert_eq!(opt.iterations(), 0);
    assert!(
        opt.state().len() <= 1,
        "only the step count: {:?}",
        opt.state()
    );
}

fn every_optimizer() -> Vec<Box<dyn Optimizer<f32>>> {
    vec![
        Box::new(Sgd::new(0.1)),
        Box::new(Sgd::new(0.1).momentum(0.9)),
        Box::new(Adam::new(0.1)),
        Box::new(AdamW::new(0.1)),
        Box::new(Nadam::new(0.1)),
        Box::new(RmsProp::new(0.1).centered(true).momentum(0.5)),
        Box::new(Adagrad::new(0.1)),
        Box::new(Adadelta::new(0.1)),
        Box::new(Lion::new(0.1)),
    ]
}

#[test]
fn non_finite_gradients_are_refused_naming_the_param() {
    // 9 optimizers x 3 values = 27 cases.
    for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
        for opt in every_optimizer() {
            refused(
                opt,
                &[bad, 0.35],
                &[
                    "gradient of param \"dense/kernel\"",
                    &format!("{bad} at index 0"),
                ],
            );
        }
    }
}

#[test]
fn global_clip_norm_with_an_infinite_gradient_is_an_error_not_nan_weights() {
    // The example of the issue: a gradient [inf, 0.35] under global_clip_norm(1).
    refused(
        Box::new(Sgd::new(0.1).global_clip_norm(1.0)),
        &[f32::INFINITY, 0.35],
        &["dense/kernel", "inf"],
    );
    refused(
        Box::new(Adam::new(0.1).clip_norm(1.0)),
        &[0.35, f32::NAN],
        &["dense/kernel", "NaN at index 1"],
    );
}

#[test]
fn updates_that_would_overflow_are_refused_and_commit_nothing() {
    // Finite gradients, finite settings, but the new weight overflows f32.
    refused(
        Box::new(Sgd::new(1e38)),
        &[10.0, 0.0],
        &["param \"dense/kernel\" non-finite", "-inf at index 0"],
    );
    refused(
        Box::new(Sgd::new(1e30).momentum(0.5)),
        &[3e38, 0.0],
        &["non-finite"],
    );
    refused(
        Box::new(Adagrad::new(1.0)),
        &[3e38, 0.0],
        &["accumulator state", "non-finite"],
    );
    refused(
        Box::new(RmsProp::new(0.1)),
        &[3e38, 0.0],
        &["velocity state", "non-finite"],
    );
    refused(
        Box::new(Adam::new(0.1)),
        &[3e38, 0.0],
        &["velocity state", "non-finite"],
    );
    refused(
        Box::new(Lion::new(3e38)),
        &[1.0, 1.0],
        &["non-finite", "-inf at index 0"],
    );
}

#[test]
fn learning_rates_are_checked_in_the_element_type() {
    // 9 optimizers x 3 values = 27 cases.
    for (lr, shown) in [
        (1e39, "1000000000000000000000000000000000000000"),
        (-0.1, "-0.1"),
        (f64::NAN, "NaN"),
    ] {
        let opts: Vec<Box<dyn Optimizer<f32>>> = vec![
            Box::new(Sgd::new(lr)),
            Box::new(Adam::new(lr)),
            Box::new(AdamW::new(lr)),
            Box::new(Nadam::new(lr)),
            Box::new(RmsProp::new(lr)),
            Box::new(Adagrad::new(lr)),
            Box::new(Adadelta::new(lr)),
            Box::new(Lion::new(lr)),
            Box::new(Sgd::new(lr).momentum(0.5)),
        ];
        for opt in opts {
            refused_setting(
                opt,
                &[
                    "learning_rate must be finite and >= 0 in f32",
                    &format!("got {shown}"),
                ],
            );
        }
    }
}

#[test]
fn a_zero_epsilon_is_refused_by_every_optimizer_that_divides_by_it() {
    // 6 optimizers x 3 values (0, negative, rounds to 0 in f32) = 18 cases.
    for (eps, shown) in [
        (0.0, "got 0"),
        (-1e-7, "got -0.0000001"),
        (
            1e-50,
            "got 0.00000000000000000000000000000000000000000000000001",
        ),
    ] {
        let opts: Vec<Box<dyn Optimizer<f32>>> = vec![
            Box::new(Adam::new(0.1).epsilon(eps)),
            Box::new(AdamW::new(0.1).epsilon(eps)),
            Box::new(Nadam::new(0.1).epsilon(eps)),
            Box::new(RmsProp::new(0.1).epsilon(eps)),
            Box::new(Adagrad::new(0.1).epsilon(eps)),
            Box::new(Adadelta::new(0.1).epsilon(eps)),
        ];
        for opt in opts {
            refused_setting(opt, &["epsilon must be finite and > 0 in f32", shown]);
        }
    }
}

#[test]
fn other_settings_name_the_setting_range_and_value() {
    let cases: Vec<(Box<dyn Optimizer<f32>>, &str)> = vec![
        (
            Box::new(Sgd::new(0.1).momentum(1.0)),
            "momentum must be in [0, 1), got 1",
        ),
        (
            Box::new(Sgd::new(0.1).momentum(f64::NAN)),
            "momentum must be in [0, 1), got NaN",
        ),
        (
            Box::new(Sgd::new(0.1).weight_decay(1e39)),
            "weight_decay must be finite and >= 0 in f32, got {BIG}",
        ),
        (
            Box::new(Sgd::new(0.1).weight_decay(-1.0)),
            "weight_decay must be finite and >= 0 in f32, got -1",
        ),
        (
            Box::new(Sgd::new(0.1).nesterov(true)),
            "momentum must be > 0 with nesterov, got 0",
        ),
        (
            Box::new(Adam::new(0.1).beta_1(-0.1)),
            "beta_1 must be in [0, 1), got -0.1",
        ),
        (
            Box::new(Adam::new(0.1).beta_2(1.0)),
            "beta_2 must be in [0, 1), got 1",
        ),
        (
            Box::new(Adam::new(0.1).weight_decay(1e39)),
            "weight_decay must be finite and >= 0 in f32, got {BIG}",
        ),
        (
            Box::new(AdamW::new(0.1).weight_decay(f64::INFINITY)),
            "weight_decay must be finite and >= 0 in f32, got inf",
        ),
        (
            Box::new(Nadam::new(0.1).beta_1(1.5)),
            "beta_1 must be in [0, 1), got 1.5",
        ),
        (
            Box::new(RmsProp::new(0.1).rho(-0.5)),
            "rho must be in [0, 1), got -0.5",
        ),
        (
            Box::new(RmsProp::new(0.1).momentum(2.0)),
            "momentum must be in [0, 1), got 2",
        ),
        (
            Box::new(Adagrad::new(0.1).initial_accumulator_value(1e39)),
            "initial_accumulator_value must be finite and >= 0 in f32, got {BIG}",
        ),
        (
            Box::new(Adagrad::new(0.1).initial_accumulator_value(-1.0)),
            "initial_accumulator_value must be finite and >= 0 in f32, got -1",
        ),
        (
            Box::new(Adadelta::new(0.1).rho(1.0)),
            "rho must be in [0, 1), got 1",
        ),
        (
            Box::new(Lion::new(0.1).beta_1(f64::NAN)),
            "beta_1 must be in [0, 1), got NaN",
        ),
        (
            Box::new(Lion::new(0.1).weight_decay(1e39)),
            "weight_decay must be finite and >= 0 in f32, got {BIG}",
        ),
        (
            Box::new(Sgd::new(0.1).clip_norm(0.0)),
            "clip_norm must be finite and > 0 in f32, got 0",
        ),
        (
            Box::new(Sgd::new(0.1).clip_value(1e39)),
            "clip_value must be finite and > 0 in f32, got {BIG}",
        ),
        (
            Box::new(Adam::new(0.1).global_clip_norm(f64::NAN)),
            "global_clip_norm must be finite and > 0 in f32, got NaN",
        ),
        (
            Box::new(Adam::new(0.1).clip_norm(1.0).clip_value(1.0)),
            "only one of clip_norm, clip_value and global_clip_norm may be set",
        ),
    ];
    for (opt, needle) in cases {
        refused_setting(opt, &[&needle.replace("{BIG}", &1e39.to_string())]);
    }
}

fn exp_decay(rate: f64) -> LearningRateSchedule {
    LearningRateSchedule::ExponentialDecay {
        initial_learning_rate: 0.1,
        decay_steps: 1,
        decay_rate: rate,
        staircase: false,
    }
}

#[test]
fn a_schedule_that_grows_to_infinity_is_caught_at_the_step_it_does() {
    // 0.1 · 1e10^t is finite in f32 up to t = 3 (1e29) and infinite at t = 4.
    let mut opt = Sgd::<f32>::new(exp_decay(1e10));
    let mut p = param(&[0.0, 0.0]);
    for _ in 0..4 {
        opt.apply_gradients(&grads(&p, &[0.0, 0.0]), &mut [&mut p])
            .unwrap();
    }
    let before = bits(p.value());
    let err = opt
        .apply_gradients(&grads(&p, &[0.0, 0.0]), &mut [&mut p])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "sgd: learning rate schedule ExponentialDecay gives {} at step 4; it must be finite and >= 0 in f32",
            0.1 * 1e10f64.powf(4.0)
        )
    );
    assert_eq!((bits(p.value()), opt.iterations()), (before, 4));
    // In f64 the same schedule reaches inf (1e309 overflows) at step 31.
    let mut opt = Sgd::<f64>::new(exp_decay(1e10));
    let mut p = Param::new("w", Tensor::<f64>::zeros(&[1]).unwrap());
    let mut g = Gradients::default();
    g.insert_param(p.id(), Tensor::zeros(&[1]).unwrap());
    let err = (0..40)
        .find_map(|_| opt.apply_gradients(&g, &mut [&mut p]).err())
        .expect("the schedule overflows");
    assert_eq!(
        err.to_string(),
        "sgd: learning rate schedule ExponentialDecay gives inf at step 31; it must be finite and >= 0 in f64"
    );
}

#[test]
fn bad_schedules_name_the_schedule_and_setting() {
    let cases = [
        (
            exp_decay(0.0),
            "ExponentialDecay: decay_rate must be finite and > 0, got 0",
        ),
        (
            exp_decay(f64::NAN),
            "ExponentialDecay: decay_rate must be finite and > 0, got NaN",
        ),
        (
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate: 0.1,
                decay_steps: 0,
                decay_rate: 0.5,
                staircase: true,
            },
            "ExponentialDecay: decay_steps must be > 0, got 0",
        ),
        (
            LearningRateSchedule::PiecewiseConstantDecay {
                boundaries: vec![5],
                values: vec![0.1],
            },
            "PiecewiseConstantDecay: needs one more value than boundaries, got 1 boundaries and 1 values",
        ),
        (
            LearningRateSchedule::PiecewiseConstantDecay {
                boundaries: vec![5, 2],
                values: vec![0.1, 0.2, 0.3],
            },
            "PiecewiseConstantDecay: boundaries must increase, got [5, 2]",
        ),
        (
            LearningRateSchedule::PiecewiseConstantDecay {
                boundaries: vec![5],
                values: vec![0.1, -1.0],
            },
            "PiecewiseConstantDecay: values must be finite and >= 0, got -1",
        ),
        (
            LearningRateSchedule::CosineDecay {
                initial_learning_rate: 0.1,
                decay_steps: 10,
                alpha: 2.0,
                warmup_target: None,
                warmup_steps: 0,
            },
            "CosineDecay: alpha must be in [0, 1], got 2",
        ),
        (
            LearningRateSchedule::CosineDecay {
                initial_learning_rate: 0.1,
                decay_steps: 10,
                alpha: 0.0,
                warmup_target: Some(1.0),
                warmup_steps: 0,
            },
            "CosineDecay: warmup_steps must be > 0 with a warmup_target",
        ),
        (
            LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate: f64::INFINITY,
                decay_steps: 1,
                decay_rate: 0.5,
                staircase: false,
            },
            "InverseTimeDecay: initial_learning_rate must be finite and >= 0, got inf",
        ),
    ];
    for (schedule, want) in cases {
        assert_eq!(schedule.validate().unwrap_err().to_string(), want);
        let mut opt = Adam::<f32>::new(schedule);
        let mut p = param(&[1.0]);
        let err = opt
            .apply_gradients(&grads(&p, &[1.0]), &mut [&mut p])
            .unwrap_err();
        assert_eq!(err.to_string(), want);
        assert_eq!(p.value().as_slice(), &[1.0]);
    }
}

#[test]
fn bad_configs_name_the_key_or_value() {
    let cases = [
        (
            "sgd",
            json!({"learning_rate": 1e39}),
            "sgd",
            "learning_rate must be finite and >= 0 in f32, got {BIG}",
        ),
        (
            "adam",
            json!({"epsilon": 0.0}),
            "adam",
            "epsilon must be finite and > 0 in f32, got 0",
        ),
        (
            "adam",
            json!({"epsilon": "small"}),
            "from_config",
            "'epsilon' must be a number, got \"small\"",
        ),
        (
            "adam",
            json!({"learnin_rate": 0.1}),
            "from_config",
            "adam has no setting 'learnin_rate'",
        ),
        (
            "rmsprop",
            json!({"centered": 1}),
            "from_config",
            "'centered' must be true or false, got 1",
        ),
        (
            "nadam",
            json!({"name": "adam"}),
            "from_config",
            "config is for 'adam', not 'nadam'",
        ),
        (
            "adamax",
            json!({}),
            "from_config",
            "unknown optimizer 'adamax'",
        ),
        (
            "sgd",
            json!([0.1]),
            "from_config",
            "expected a JSON object, got [0.1]",
        ),
        (
            "adagrad",
            json!({"initial_accumulator_value": -1.0}),
            "adagrad",
            "initial_accumulator_value must be finite and >= 0 in f32, got -1",
        ),
        (
            "lion",
            json!({"clip_norm": -1.0}),
            "lion",
            "clip_norm must be finite and > 0 in f32, got -1",
        ),
        (
            "sgd",
            json!({"learning_rate": {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.5}}}),
            "ExponentialDecay",
            "decay_steps must be > 0, got 0",
        ),
        (
            "sgd",
            json!({"learning_rate": {"class_name": "StepDecay", "config": {}}}),
            "from_config",
            "unknown learning rate schedule 'StepDecay'",
        ),
        (
            "sgd",
            json!({"learning_rate": {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5, "decay_ratee": 0.9}}}),
            "from_config",
            "ExponentialDecay has no setting 'decay_ratee'",
        ),
        (
            "sgd",
            json!({"learning_rate": {"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 2}, "extra": 1}}),
            "from_config",
            "a learning rate schedule has no key 'extra'",
        ),
        (
            "sgd",
            json!({"learning_rate": "fast"}),
            "from_config",
            "learning_rate must be a number or a schedule, got \"fast\"",
        ),
    ];
    for (name, config, op, needle) in cases {
        let needle = &needle.replace("{BIG}", &1e39.to_string());
        let err = optimizers::from_config::<f32>(name, &config).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{op}: ")), "{msg}");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    let err = LearningRate::from_config(&json!(null)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_config: learning_rate must be a number or a schedule, got null"
    );
}

#[test]
fn non_finite_loaded_state_is_refused() {
    let mut opt = Adam::<f32>::new(0.1);
    let mut p = param(&[1.0, 2.0]);
    opt.apply_gradients(&grads(&p, &[0.1, 0.2]), &mut [&mut p])
        .unwrap();
    let mut state = opt.state();
    let slot = state.iter_mut().find(|(k, _)| k == "velocity/0").unwrap();
    slot.1 = Tensor::from_vec(vec![0.0, f32::NAN], &[2]).unwrap();
    let mut fresh = Adam::<f32>::new(0.1);
    let err = fresh.load_state(&state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "load_state: state 'velocity/0' is not finite: NaN at index 1"
    );
}
