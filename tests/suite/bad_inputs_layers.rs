//! Bad inputs to the layers, initializers, regularizers and activation
//! configs: every case is an `Err` whose message names the layer (as
//! `name (Kind)`) or the config's owner, and the offending value or shape.
//! Impossible sizes are errors, never an abort.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use tapeflow::initializers::Initializer;
use tapeflow::layers::{self, Dense, Dropout, Flatten, Layer, Mode, Regularizer};
use tapeflow::{Activation, GradientTape, Tensor};

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

fn assert_msg(msg: String, start: &str, needles: &[&str]) {
    assert!(
        msg.starts_with(start),
        "{msg:?} does not start with {start:?}"
    );
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

fn build_err(layer: &mut dyn Layer<f32>, shape: &[usize]) -> String {
    layer
        .build(shape, &mut rng())
        .expect_err("build must fail")
        .to_string()
}

#[test]
fn impossible_dense_sizes_are_errors_naming_the_layer_and_shape() {
    // The example: 2^20 x 2^20 f32 weights would be 4 TiB.
    let mut d = Dense::<f32>::new(1 << 20);
    assert_msg(
        build_err(&mut d, &[1 << 20]),
        "dense (Dense): glorot_uniform: ",
        &["[1048576, 1048576]"],
    );
    // Counts that overflow usize itself.
    let huge = usize::MAX / 2;
    assert_msg(
        build_err(&mut Dense::new(huge), &[4]),
        "dense (Dense): ",
        &[&huge.to_string()],
    );
    assert_msg(
        build_err(&mut Dense::new(4), &[huge]),
        "dense (Dense): ",
        &[&huge.to_string()],
    );
    // Element counts that fit usize, but not in bytes.
    let big = 1usize << 62;
    assert_msg(
        build_err(&mut Dense::new(2), &[big]),
        "dense (Dense): glorot_uniform: ",
        &[&big.to_string()],
    );
    // Bias alone too large (no kernel problem: the input dimension is 1).
    assert_msg(
        build_err(&mut Dense::new(1 << 61).use_bias(true), &[1]),
        "dense (Dense): ",
        &[&(1usize << 61).to_string()],
    );
    assert_msg(
        build_err(&mut Flatten::new(), &[huge, 3]),
        "flatten (Flatten): ",
        &[&format!("[{huge}, 3]"), "overflows"],
    );
    assert_msg(
        build_err(&mut Flatten::new(), &[1 << 40, 1 << 40]),
        "flatten (Flatten): ",
        &["[1099511627776, 1099511627776]"],
    );
}

#[test]
fn dense_settings_are_checked_when_built() {
    let big = 1e39.to_string();
    let cases: Vec<(Dense<f32>, Vec<usize>, Vec<String>)> = vec![
        (
            Dense::new(0),
            vec![3],
            vec!["units must be > 0, got 0".into()],
        ),
        (Dense::new(2), vec![], vec!["got []".into()]),
        (Dense::new(2), vec![0], vec!["[0]".into()]),
        (
            Dense::new(2).kernel_initializer(Initializer::Constant { value: 1e39 }),
            vec![3],
            vec![format!(
                "kernel_initializer: constant: value must be finite in f32, got {big}"
            )],
        ),
        (
            Dense::new(2).bias_initializer(Initializer::Constant { value: f64::NAN }),
            vec![3],
            vec!["bias_initializer: constant value must be finite, got NaN".into()],
        ),
        (
            Dense::new(2).kernel_initializer(Initializer::RandomNormal {
                mean: 0.0,
                stddev: -1.0,
            }),
            vec![3],
            vec!["kernel_initializer:".into(), "stddev -1".into()],
        ),
        (
            Dense::new(2).kernel_initializer(Initializer::RandomNormal {
                mean: 3e38,
                stddev: 1e38,
            }),
            vec![3],
            vec![
                "kernel_initializer: random_normal drew".into(),
                "not finite in f32".into(),
            ],
        ),
        (
            Dense::new(2).kernel_initializer(Initializer::RandomUniform {
                minval: 1.0,
                maxval: -1.0,
            }),
            vec![3],
            vec!["minval 1, maxval -1".into()],
        ),
        (
            Dense::new(2).kernel_regularizer(Regularizer::l2(1e39)),
            vec![3],
            vec![format!(
                "kernel_regularizer: l2 must be finite and >= 0 in f32, got {big}"
            )],
        ),
        (
            Dense::new(2).kernel_regularizer(Regularizer::l1(f64::NAN)),
            vec![3],
            vec!["kernel_regularizer: l1 must be finite and >= 0 in f32, got NaN".into()],
        ),
        (
            Dense::new(2).activation(Activation::LeakyRelu { alpha: 1e39 }),
            vec![3],
            vec![format!(
                "activation: alpha must be finite and >= 0 in f32, got {big}"
            )],
        ),
        (
            Dense::new(2).activation(Activation::LeakyRelu { alpha: f64::NAN }),
            vec![3],
            vec!["activation: alpha must be finite and >= 0 in f32, got NaN".into()],
        ),
        (
            Dense::new(2).activation(Activation::Elu {
                alpha: f64::INFINITY,
            }),
            vec![3],
            vec!["activation: alpha must be finite in f32, got inf".into()],
        ),
    ];
    for (mut dense, shape, needles) in cases {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert_msg(build_err(&mut dense, &shape), "dense (Dense): ", &needles);
    }
}

#[test]
fn dense_forward_checks_its_input_and_its_parameters() {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::ones(&[2, 3]).unwrap());
    let unbuilt = Dense::<f32>::new(4);
    assert_msg(
        unbuilt.forward(x, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["before build"],
    );
    let mut d = Dense::<f32>::new(4);
    d.build(&[3], &mut rng()).unwrap();
    let wide = tape.constant(&Tensor::ones(&[2, 5]).unwrap());
    assert_msg(
        d.forward(wide, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["[_, 3]", "[2, 5]"],
    );
    let flat = tape.constant(&Tensor::ones(&[3]).unwrap());
    assert_msg(
        d.forward(flat, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["[_, 3]", "got [3]"],
    );
    // The example: a kernel replaced by a scalar through value_mut.
    let kernel = d
        .params_mut()
        .into_iter()
        .find(|p| p.name() == "kernel")
        .unwrap();
    *kernel.value_mut() = Tensor::scalar(1.0);
    assert_msg(
        d.forward(x, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["kernel has shape []", "[in, 4]"],
    );
    // A kernel of the right input width but the wrong number of units.
    let kernel = d
        .params_mut()
        .into_iter()
        .find(|p| p.name() == "kernel")
        .unwrap();
    *kernel.value_mut() = Tensor::ones(&[3, 7]).unwrap();
    assert_msg(
        d.forward(x, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["kernel has shape [3, 7]", "needs [3, 4]"],
    );
    // A bias of the wrong length.
    let kernel = d
        .params_mut()
        .into_iter()
        .find(|p| p.name() == "kernel")
        .unwrap();
    *kernel.value_mut() = Tensor::ones(&[3, 4]).unwrap();
    let bias = d
        .params_mut()
        .into_iter()
        .find(|p| p.name() == "bias")
        .unwrap();
    *bias.value_mut() = Tensor::ones(&[5]).unwrap();
    assert_msg(
        d.forward(x, Mode::Infer).unwrap_err().to_string(),
        "dense (Dense): ",
        &["bias has shape [5]", "needs [4]"],
    );
}

#[test]
fn dropout_rates_outside_zero_one_are_errors_and_one_drops_everything() {
    for (rate, shown) in [
        (-0.1, "-0.1"),
        (1.5, "1.5"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
    ] {
        let mut d = Dropout::<f32>::new(rate).seed(0);
        assert_msg(
            build_err(&mut d, &[3]),
            "dropout (Dropout): ",
            &[&format!("rate must be in [0, 1], got {shown}")],
        );
    }
    let unbuilt = Dropout::<f32>::new(0.5);
    let tape = GradientTape::new();
    let x = tape.watch(&Tensor::ones(&[2, 3]).unwrap());
    assert_msg(
        unbuilt.forward(x, Mode::Train).unwrap_err().to_string(),
        "dropout (Dropout): ",
        &["before build"],
    );
    // rate 1: all zeros in training (PyTorch, Flax), identity in inference.
    let mut d = Dropout::<f32>::new(1.0);
    d.build(&[3], &mut rng()).unwrap();
    let y = d.forward(x, Mode::Train).unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0; 6]);
    let g = tape.gradient(&y.sum(), [x]).unwrap();
    assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0; 6]);
    assert_eq!(
        d.forward(x, Mode::Infer).unwrap().value().to_vec(),
        vec![1.0; 6]
    );
}

#[test]
fn flatten_and_activation_layers_name_themselves() {
    let tape = GradientTape::<f32>::new();
    let mut f = Flatten::<f32>::new();
    f.build(&[2, 3], &mut rng()).unwrap();
    let x = tape.constant(&Tensor::ones(&[4, 3, 2]).unwrap());
    assert_msg(
        f.forward(x, Mode::Infer).unwrap_err().to_string(),
        "flatten (Flatten): ",
        &["[_, 2, 3]", "[4, 3, 2]"],
    );
    let scalar = tape.constant(&Tensor::scalar(1.0));
    assert_msg(
        Flatten::<f32>::new()
            .forward(scalar, Mode::Infer)
            .unwrap_err()
            .to_string(),
        "flatten (Flatten): ",
        &["got []"],
    );
    let mut a = layers::Activation::<f32>::new(Activation::LeakyRelu { alpha: -1.0 });
    assert_msg(
        build_err(&mut a, &[3]),
        "activation (Activation): ",
        &["leaky_relu: alpha must be finite and >= 0 in f32, got -1"],
    );
    let soft = layers::Activation::<f32>::new(Activation::Softmax);
    assert_msg(
        soft.forward(scalar, Mode::Infer).unwrap_err().to_string(),
        "activation (Activation): ",
        &["softmax", "[]"],
    );
}

#[test]
fn layer_configs_name_the_key_or_value() {
    let cases = [
        (
            "Dense",
            json!({"units": 2, "unitz": 3}),
            "Dense: unknown setting \"unitz\"",
        ),
        ("Dense", json!({"name": "d"}), "Dense: missing \"units\""),
        (
            "Dense",
            json!({"units": "two"}),
            "Dense: units must be a non-negative integer, got \"two\"",
        ),
        (
            "Dense",
            json!({"units": -2}),
            "Dense: units must be a non-negative integer, got -2",
        ),
        (
            "Dense",
            json!({"units": 2, "use_bias": "no"}),
            "Dense: use_bias must be true or false, got \"no\"",
        ),
        (
            "Dense",
            json!({"units": 2, "activation": "relu6"}),
            "unknown activation \"relu6\"",
        ),
        (
            "Dense",
            json!({"units": 2, "activation": {"name": "leaky_relu", "alpha": 0.1, "slope": 2}}),
            "unknown setting \"slope\"",
        ),
        (
            "Dense",
            json!({"units": 2, "kernel_initializer": "glorot"}),
            "unknown initializer \"glorot\"",
        ),
        (
            "Dense",
            json!({"units": 2, "kernel_regularizer": {"l3": 0.1}}),
            "unknown setting \"l3\"",
        ),
        (
            "Dense",
            json!({"units": 2, "kernel_regularizer": {"l2": -0.1}}),
            "l2 must be finite and >= 0 in f64, got -0.1",
        ),
        (
            "Dropout",
            json!({"rate": "half"}),
            "Dropout: rate must be a number, got \"half\"",
        ),
        ("Dropout", json!({}), "Dropout: missing \"rate\""),
        (
            "Dropout",
            json!({"rate": 0.5, "seed": -1}),
            "Dropout: seed must be a non-negative integer, got -1",
        ),
        (
            "Flatten",
            json!({"data_format": "channels_last"}),
            "Flatten: unknown setting \"data_format\"",
        ),
        (
            "Activation",
            json!({"activation": "relu", "alpha": 0.1}),
            "Activation: unknown setting \"alpha\"",
        ),
        (
            "Activation",
            json!({}),
            "Activation: missing \"activation\"",
        ),
        (
            "Activation",
            json!({"activation": {"name": "elu", "alpha": "one"}}),
            "elu: alpha must be a number, got \"one\"",
        ),
        (
            "Activation",
            json!({"activation": {"name": "relu", "alpha": 0.1}}),
            "relu takes no alpha",
        ),
        (
            "Activation",
            json!({"activation": {"alpha": 0.1}}),
            "missing \"name\"",
        ),
        (
            "Activation",
            json!({"activation": {"name": 3}}),
            "name must be a string, got 3",
        ),
        (
            "Activation",
            json!({"activation": 3}),
            "expected a name or an object, got 3",
        ),
        ("Conv2D", json!({}), "Conv2D"),
    ];
    for (kind, config, needle) in cases {
        let err = layers::from_config::<f32>(kind, &config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(needle),
            "{kind} {config}: {err:?} lacks {needle:?}"
        );
    }
}

#[test]
fn activation_configs_are_strict() {
    let cases = [
        (
            json!({"name": "leaky_relu", "alpha": 0.2, "negative_slope": 0.3}),
            "activation: unknown setting \"negative_slope\"",
        ),
        (
            json!({"name": "leaky_relu", "alpha": null}),
            "activation: leaky_relu: alpha must be a number, got null",
        ),
        (
            json!({"name": "leaky_relu", "alpha": -0.5}),
            "leaky_relu: alpha must be finite and >= 0 in f64, got -0.5",
        ),
        (
            json!({"name": "elu", "alpha": 1e308, "x": 1}),
            "activation: unknown setting \"x\"",
        ),
        (json!("tanhh"), "activation: unknown activation \"tanhh\""),
        (
            json!(["relu"]),
            "activation: expected a name or an object, got [\"relu\"]",
        ),
    ];
    for (config, want) in cases {
        assert_eq!(
            Activation::from_config(&config).unwrap_err().to_string(),
            want
        );
    }
}

#[test]
fn initializer_configs_and_settings_are_strict() {
    let big = 1e39.to_string();
    let configs = [
        (json!({"name": "constant", "value": 1.0, "scale": 2.0}), "initializer: constant takes no setting \"scale\"".to_string()),
        (json!({"name": "constant", "value": "one"}), "initializer: constant: value must be a number, got \"one\"".to_string()),
        (json!({"name": "random_normal", "stddev": -1.0}), "initializer: random_normal needs a finite mean and a finite stddev >= 0, got mean 0, stddev -1".to_string()),
        (json!({"name": "orthogonal", "gain": f64::MAX, "seed": 1}), "initializer: orthogonal takes no setting \"seed\"".to_string()),
        (json!({"name": "variance_scaling"}), "initializer: unknown initializer \"variance_scaling\"".to_string()),
        (json!(7), "initializer: expected a name or an object, got 7".to_string()),
    ];
    for (config, want) in configs {
        assert_eq!(
            Initializer::from_config(&config).unwrap_err().to_string(),
            want
        );
    }
    let inits = [
        (
            Initializer::Constant { value: 1e39 },
            vec![2],
            format!("initializer: constant: value must be finite in f32, got {big}"),
        ),
        (
            Initializer::RandomUniform {
                minval: -1e39,
                maxval: 0.0,
            },
            vec![2],
            format!("initializer: random_uniform: minval must be finite in f32, got -{big}"),
        ),
        (
            Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 1e39,
            },
            vec![2],
            format!("initializer: truncated_normal: stddev must be finite in f32, got {big}"),
        ),
        (
            Initializer::Orthogonal { gain: 1e39 },
            vec![2, 2],
            format!("initializer: orthogonal: gain must be finite in f32, got {big}"),
        ),
        (
            Initializer::Orthogonal { gain: 1.0 },
            vec![4],
            "initializer: orthogonal needs a shape of at least 2 dimensions, got [4]".to_string(),
        ),
        (
            Initializer::Zeros,
            vec![usize::MAX, 2],
            format!("zeros: shape [{}, 2] is too large to address", usize::MAX),
        ),
        (
            Initializer::HeNormal,
            vec![1 << 62, 4],
            format!(
                "he_normal: shape [{}, 4] is too large to address",
                1usize << 62
            ),
        ),
        (
            Initializer::Orthogonal { gain: 1.0 },
            vec![1 << 40, 1 << 40],
            format!(
                "orthogonal: shape [{0}, {0}] is too large to address",
                1usize << 40
            ),
        ),
    ];
    for (init, shape, want) in inits {
        assert_eq!(
            init.init_with_rng::<f32>(&shape, &mut rng())
                .unwrap_err()
                .to_string(),
            want
        );
    }
}

#[test]
fn regularizer_settings_are_checked_in_the_element_type() {
    let big = 1e39.to_string();
    let cases = [
        (
            Regularizer::l1(-1.0),
            "regularizer: l1 must be finite and >= 0 in f32, got -1".to_string(),
        ),
        (
            Regularizer::l2(f64::NAN),
            "regularizer: l2 must be finite and >= 0 in f32, got NaN".to_string(),
        ),
        (
            Regularizer::l1_l2(0.1, 1e39),
            format!("regularizer: l2 must be finite and >= 0 in f32, got {big}"),
        ),
    ];
    for (r, want) in cases {
        assert_eq!(r.validate_for::<f32>().unwrap_err().to_string(), want);
    }
    assert_eq!(
        Regularizer::from_config(&json!({"l1": 0.1, "l2": "x"}))
            .unwrap_err()
            .to_string(),
        "regularizer: l2 must be a number, got \"x\""
    );
}
