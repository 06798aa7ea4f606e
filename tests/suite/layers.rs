//! Layers: Dense against PyTorch's nn.Linear, the regulariser, Dropout,
//! Flatten, the Activation layer, shape errors and config round trips.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use tapeflow::initializers::Initializer;
use tapeflow::layers::{self, Dense, Dropout, Flatten, Layer, Mode, Regularizer};
use tapeflow::{Activation, GradientTape, Target, Tensor};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: got {g}, want {w}");
    }
}

// Golden values from tests/golden/dense_linear.py (PyTorch nn.Linear, float64).
const KERNEL: [f64; 6] = [0.5, -1.0, 0.25, 2.0, -0.75, 0.1]; // [in 3, out 2]
const BIAS: [f64; 2] = [0.1, -0.2];
const X: [f64; 12] = [
    1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 0.3, -0.7, 2.2, 4.0, 1.0, -2.0,
];
const G: [f64; 8] = [1.0, -0.5, 2.0, 0.25, -1.5, 3.0, 0.5, 0.75];

/// A built Dense 3 -> 2 holding the golden kernel and bias.
fn golden_dense(activation: Activation, input_shape: &[usize]) -> Dense<f64> {
    let mut dense = Dense::new(2).activation(activation);
    dense.build(input_shape, &mut rng(0)).unwrap();
    let mut params = dense.params_mut();
    params[0].set_value(t(&KERNEL, &[3, 2])).unwrap();
    params[1].set_value(t(&BIAS, &[2])).unwrap();
    dense
}

/// Forward x, backpropagate the non-uniform G; returns (y, dx, dkernel, dbias).
fn run_golden(dense: &Dense<f64>, x_shape: &[usize]) -> [Vec<f64>; 4] {
    let tape = GradientTape::new();
    let x = tape.watch(&t(&X, x_shape));
    let y = dense.forward(x, Mode::Train).unwrap();
    let mut g_shape = x_shape.to_vec();
    *g_shape.last_mut().unwrap() = 2;
    let (kernel, bias) = (dense.kernel().unwrap(), dense.bias().unwrap());
    let targets: [Target<f64>; 3] = [x.into(), kernel.into(), bias.into()];
    let grads = tape.gradient_with(&y, &t(&G, &g_shape), targets).unwrap();
    [
        y.value().to_vec(),
        grads.get(x).unwrap().to_vec(),
        grads.get(kernel).unwrap().to_vec(),
        grads.get(bias).unwrap().to_vec(),
    ]
}

#[test]
fn dense_matches_pytorch_linear_forward_and_backward() {
    let [y, dx, dk, db] = run_golden(&golden_dense(Activation::Linear, &[3]), &[4, 3]);
    let tol = 1e-12;
    assert_close(
        &y,
        &[-1.15, 3.1, -0.275, 1.8, -1.575, -1.68, 3.85, -2.4],
        tol,
    );
    let want_dx = [
        1.0, -0.75, -0.8, 0.75, 1.0, -1.475, -3.75, 5.625, 1.425, -0.5, 1.625, -0.3,
    ];
    assert_close(&dx, &want_dx, tol);
    assert_close(&dk, &[0.55, 3.15, 4.55, -2.225, -1.3, 3.6], tol);
    assert_close(&db, &[2.0, 3.5], tol);
}

#[test]
fn dense_with_tanh_matches_pytorch() {
    let [y, dx, dk, db] = run_golden(&golden_dense(Activation::Tanh, &[3]), &[4, 3]);
    let tol = 1e-12;
    #[rustfmt::skip]
    assert_close(&y, &[
        -0.8177540779702877, 0.9959493592219002, -0.2682711820216014, 0.9468060128462683,
        -0.91781744359907, -0.9328615534370349, 0.9990947555535189, -0.9836748576936802,
    ], tol);
    #[rustfmt::skip]
    assert_close(&dx, &[
        0.16968157091422556, 0.07473469312525478, -0.24886294466549788, 0.9021409793871948,
        0.5157944734674424, -1.3894568999941455, -0.5075163215260771, 0.7195117551297768,
        0.216243329389139, -0.023835413399624868, 0.048801870190158685, 0.0017501570410534757,
    ], tol);
    #[rustfmt::skip]
    assert_close(&dk, &[
        -1.592088552080963, 0.18401168248881045, 1.7569836407719206,
        -0.24336782280471725, 0.4719083717200558, 0.7957745536754711,
    ], tol);
    assert_close(&db, &[1.951827538131256, 0.43544295368990943], tol);
}

#[test]
fn dense_acts_on_the_last_axis_of_a_3d_input() {
    // Same numbers as the [4, 3] case, viewed as [2, 2, 3] (the script's third case).
    let mut dense = golden_dense(Activation::Linear, &[3]);
    assert_eq!(dense.build(&[2, 3], &mut rng(0)).unwrap(), vec![2, 2]);
    let mut params = dense.params_mut();
    params[0].set_value(t(&KERNEL, &[3, 2])).unwrap();
    params[1].set_value(t(&BIAS, &[2])).unwrap();
    let [y, dx, dk, db] = run_golden(&dense, &[2, 2, 3]);
    let [y2, dx2, dk2, db2] = run_golden(&golden_dense(Activation::Linear, &[3]), &[4, 3]);
    assert_close(&y, &y2, 1e-12);
    assert_close(&dx, &dx2, 1e-12);
    assert_close(&dk, &dk2, 1e-12);
    assert_close(&db, &db2, 1e-12);
}

#[test]
fn dense_params_are_kernel_in_out_and_bias_out() {
    let mut dense = Dense::<f32>::new(4);
    assert_eq!(dense.build(&[5], &mut rng(1)).unwrap(), vec![4]);
    let params = dense.params();
    assert_eq!(params.len(), 2);
    assert_eq!(
        (params[0].name(), params[0].value().shape()),
        ("kernel", &[5, 4][..])
    );
    assert_eq!(
        (params[1].name(), params[1].value().shape()),
        ("bias", &[4][..])
    );
    assert_eq!(params[1].value().to_vec(), vec![0.0; 4]);
    assert_eq!(dense.param_count(), 24);
    let mut no_bias = Dense::<f32>::new(4).use_bias(false);
    no_bias.build(&[5], &mut rng(1)).unwrap();
    assert_eq!(no_bias.params().len(), 1);
    assert!(no_bias.bias().is_none());
}

#[test]
fn dense_default_kernel_is_glorot_uniform_and_seeded() {
    let build = |seed| {
        let mut d = Dense::<f64>::new(30);
        d.build(&[20], &mut rng(seed)).unwrap();
        d.kernel().unwrap().value().clone()
    };
    let limit = (6.0f64 / 50.0).sqrt();
    let k = build(3);
    assert!(k.as_slice().iter().all(|w| w.abs() <= limit));
    let want = Initializer::GlorotUniform
        .init_with_rng::<f64>(&[20, 30], &mut rng(3))
        .unwrap();
    assert_eq!(k, want);
    assert_eq!(build(3), build(3));
    assert_ne!(build(3), build(4));
}

#[test]
fn dense_rejects_a_wrong_last_dimension_naming_the_layer() {
    let mut dense = Dense::<f32>::new(8).name("dense_2");
    dense.build(&[64], &mut rng(0)).unwrap();
    let tape = GradientTape::new();
    let message = |shape: &[usize]| {
        let x = tape.constant(&Tensor::zeros(shape).unwrap());
        dense.forward(x, Mode::Infer).unwrap_err().to_string()
    };
    assert_eq!(
        message(&[32, 10]),
        "dense_2 (Dense): expected input [_, 64], got [32, 10]"
    );
    assert_eq!(
        message(&[64]),
        "dense_2 (Dense): expected input [_, 64], got [64]"
    );
    assert_eq!(
        message(&[2, 3, 10]),
        "dense_2 (Dense): expected input [_, 64], got [2, 3, 10]"
    );
}

#[test]
fn dense_forward_before_build_is_an_error() {
    let dense = Dense::<f32>::new(3);
    let tape = GradientTape::new();
    let err = dense
        .forward(tape.constant(&Tensor::zeros(&[1, 3]).unwrap()), Mode::Infer)
        .unwrap_err();
    assert_eq!(err.to_string(), "dense (Dense): forward before build");
}

#[test]
fn dense_build_errors_name_the_layer_and_setting() {
    let message = |mut dense: Dense<f32>, shape: &[usize]| {
        dense.build(shape, &mut rng(0)).unwrap_err().to_string()
    };
    assert_eq!(
        message(Dense::new(0), &[3]),
        "dense (Dense): units must be > 0, got 0"
    );
    assert_eq!(
        message(Dense::new(2), &[]),
        "dense (Dense): needs an input shape of at least 1 dimension (batch excluded), got []"
    );
    assert_eq!(
        message(Dense::new(2), &[4, 0]),
        "dense (Dense): last input dimension must be > 0, got input shape [4, 0]"
    );
    let bad_init = Initializer::RandomUniform {
        minval: 1.0,
        maxval: -1.0,
    };
    assert_eq!(
        message(Dense::new(2).kernel_initializer(bad_init), &[3]),
        "dense (Dense): kernel_initializer: random_uniform needs finite minval <= maxval, got minval 1, maxval -1"
    );
    assert_eq!(
        message(
            Dense::new(2).bias_initializer(Initializer::Orthogonal { gain: 1.0 }),
            &[3]
        ),
        "dense (Dense): bias_initializer: orthogonal needs a shape of at least 2 dimensions, got [2]"
    );
    assert_eq!(
        message(
            Dense::new(2).kernel_regularizer(Regularizer::l2(-0.1)),
            &[3]
        ),
        "dense (Dense): kernel_regularizer: l2 must be finite and >= 0 in f32, got -0.1"
    );
}

#[test]
fn kernel_regularizer_loss_and_gradient() {
    // L = l1·Σ|W| + l2·ΣW², so dL/dW = l1·sign(W) + 2·l2·W.
    let mut dense = golden_dense(Activation::Linear, &[3]);
    assert!(
        dense
            .regularization_loss(&GradientTape::new())
            .unwrap()
            .is_none()
    );
    dense = dense.kernel_regularizer(Regularizer::l1_l2(0.1, 0.2));
    let tape = GradientTape::new();
    let loss = dense.regularization_loss(&tape).unwrap().unwrap();
    let abs_sum: f64 = KERNEL.iter().map(|w| w.abs()).sum(); // 4.6
    let sq_sum: f64 = KERNEL.iter().map(|w| w * w).sum(); // 5.885
    assert_close(
        &loss.value().to_vec(),
        &[0.1 * abs_sum + 0.2 * sq_sum],
        1e-12,
    );
    let kernel = dense.kernel().unwrap();
    let grads = tape
        .gradient(&loss, [kernel, dense.bias().unwrap()])
        .unwrap();
    let want: Vec<f64> = KERNEL.iter().map(|w| 0.1 * w.signum() + 0.4 * w).collect();
    assert_close(&grads.get(kernel).unwrap().to_vec(), &want, 1e-12);
    assert_eq!(
        grads.get(dense.bias().unwrap()).unwrap().to_vec(),
        vec![0.0; 2]
    );
    // l1 alone and l2 alone.
    let tape = GradientTape::new();
    let w = tape.watch(&t(&KERNEL, &[3, 2]));
    assert_close(
        &Regularizer::l1(0.5).penalty(w).value().to_vec(),
        &[2.3],
        1e-12,
    );
    assert_close(
        &Regularizer::l2(0.5).penalty(w).value().to_vec(),
        &[2.9425],
        1e-12,
    );
}

#[test]
fn frozen_dense_gets_no_kernel_gradient_but_x_still_does() {
    let mut dense = golden_dense(Activation::Linear, &[3]);
    dense.set_trainable(false);
    assert!(dense.params().iter().all(|p| !p.trainable()));
    let tape = GradientTape::new();
    let x = tape.watch(&t(&X, &[4, 3]));
    let y = dense.forward(x, Mode::Train).unwrap();
    let grads = tape.gradient_with(&y, &t(&G, &[4, 2]), [x]).unwrap();
    assert_close(
        &grads.get(x).unwrap().to_vec()[..3],
        &[1.0, -0.75, -0.8],
        1e-12,
    );
}

#[test]
fn dropout_is_the_identity_in_infer_mode() {
    let dropout = Dropout::new(0.5).seed(1);
    let tape = GradientTape::new();
    let x = tape.watch(&t(&X, &[4, 3]));
    assert_eq!(dropout.forward(x, Mode::Infer).unwrap().value(), x.value());
    // rate 0 is the identity in training too.
    let none = Dropout::new(0.0).seed(1);
    assert_eq!(none.forward(x, Mode::Train).unwrap().value(), x.value());
}

#[test]
fn dropout_keeps_one_minus_rate_scaled_by_its_inverse() {
    let rate = 0.3;
    let mut dropout = Dropout::new(rate);
    dropout.build(&[1000], &mut rng(5)).unwrap();
    let x = Tensor::<f64>::rand_normal_with_rng(&[100, 1000], 0.0, 1.0, &mut rng(6)).unwrap();
    let tape = GradientTape::new();
    let y = dropout
        .forward(tape.constant(&x), Mode::Train)
        .unwrap()
        .value();
    let mut kept = 0;
    for (&xi, &yi) in x.as_slice().iter().zip(y.as_slice()) {
        if yi != 0.0 {
            kept += 1;
            assert!((yi - xi / (1.0 - rate)).abs() <= 1e-15 * xi.abs().max(1.0));
        }
    }
    // 100 000 Bernoulli(0.7) draws: standard error 0.0014; 0.01 is 7 of them.
    let fraction = kept as f64 / 100_000.0;
    assert!((fraction - 0.7).abs() < 0.01, "kept {fraction}");
}

/// The masks (output of dropout on ones) of `n` successive training passes.
fn masks(dropout: &Dropout<f64>, n: usize) -> Vec<Tensor<f64>> {
    let tape = GradientTape::new();
    let ones = tape.constant(&Tensor::ones(&[8, 16]).unwrap());
    (0..n)
        .map(|_| dropout.forward(ones, Mode::Train).unwrap().value())
        .collect()
}

#[test]
fn dropout_same_seed_gives_the_same_mask_sequence() {
    let a = masks(&Dropout::new(0.5).seed(9), 3);
    assert_eq!(a, masks(&Dropout::new(0.5).seed(9), 3));
    assert_ne!(a[0], a[1]);
    assert_ne!(a, masks(&Dropout::new(0.5).seed(10), 3));
    // build restarts a seeded layer from its seed, whatever the model RNG.
    let mut d = Dropout::new(0.5).seed(9);
    masks(&d, 2);
    d.build(&[16], &mut rng(123)).unwrap();
    assert_eq!(masks(&d, 3), a);
    // Unseeded layers take their seed from the build RNG.
    let built = |seed| {
        let mut d = Dropout::new(0.5);
        d.build(&[16], &mut rng(seed)).unwrap();
        masks(&d, 2)
    };
    assert_eq!(built(4), built(4));
    assert_ne!(built(4), built(5));
}

#[test]
fn dropout_gradient_is_the_mask_over_keep_probability() {
    // y = x ⊙ m / (1 - rate), so dx = g ⊙ m / (1 - rate); with x = 1, y itself is that factor.
    let dropout = Dropout::new(0.25).seed(3);
    let tape = GradientTape::new();
    let x = tape.watch(&Tensor::ones(&[4, 25]).unwrap());
    let y = dropout.forward(x, Mode::Train).unwrap();
    let g = Tensor::<f64>::rand_normal_with_rng(&[4, 25], 0.0, 1.0, &mut rng(7)).unwrap();
    let dx = tape.gradient_with(&y, &g, [x]).unwrap();
    let factor = y.value();
    assert!(
        factor
            .as_slice()
            .iter()
            .all(|&f| f == 0.0 || f == 1.0 / 0.75)
    );
    assert!(factor.as_slice().contains(&0.0));
    assert_eq!(dx.get(x).unwrap(), &g.mul(&factor).unwrap());
}

#[test]
fn dropout_rate_outside_zero_one_is_an_error() {
    for (rate, shown) in [(1.5, "1.5"), (-0.1, "-0.1"), (f64::NAN, "NaN")] {
        let want = format!("dropout (Dropout): rate must be in [0, 1], got {shown}");
        let mut d = Dropout::<f32>::new(rate).seed(0);
        assert_eq!(d.build(&[3], &mut rng(0)).unwrap_err().to_string(), want);
        let tape = GradientTape::new();
        let x = tape.constant(&Tensor::ones(&[2, 3]).unwrap());
        assert_eq!(d.forward(x, Mode::Infer).unwrap_err().to_string(), want);
    }
}

#[test]
fn unseeded_dropout_must_be_built_before_training() {
    let d = Dropout::<f32>::new(0.5).name("drop");
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::ones(&[2, 3]).unwrap());
    assert!(d.forward(x, Mode::Infer).is_ok());
    assert_eq!(
        d.forward(x, Mode::Train).unwrap_err().to_string(),
        "drop (Dropout): forward in Train mode before build (build the layer or give it a seed)"
    );
}

#[test]
fn flatten_merges_sample_dimensions_in_order() {
    let mut flatten = Flatten::<f64>::new();
    assert_eq!(flatten.build(&[3, 4, 5], &mut rng(0)).unwrap(), vec![60]);
    assert_eq!(flatten.build(&[], &mut rng(0)).unwrap(), vec![1]);
    let data: Vec<f64> = (0..120).map(f64::from).collect();
    let tape = GradientTape::new();
    flatten.build(&[3, 4, 5], &mut rng(0)).unwrap();
    let x = tape.watch(&t(&data, &[2, 3, 4, 5]));
    let y = flatten.forward(x, Mode::Train).unwrap();
    assert_eq!((y.shape(), y.value().to_vec()), (vec![2, 60], data.clone()));
    // The gradient is the upstream gradient reshaped back.
    let g: Vec<f64> = data.iter().map(|v| v * v - 3.0).collect();
    let dx = tape.gradient_with(&y, &t(&g, &[2, 60]), [x]).unwrap();
    let dx = dx.get(x).unwrap();
    assert_eq!((dx.shape(), dx.to_vec()), (&[2, 3, 4, 5][..], g));
    // A [batch] input becomes [batch, 1] (unbuilt layer).
    let x = tape.constant(&t(&[1.0, 2.0], &[2]));
    assert_eq!(
        Flatten::new().forward(x, Mode::Infer).unwrap().shape(),
        vec![2, 1]
    );
}

#[test]
fn flatten_rejects_other_sample_shapes() {
    let mut flatten = Flatten::<f32>::new().name("flat");
    flatten.build(&[3, 4], &mut rng(0)).unwrap();
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::zeros(&[2, 12]).unwrap());
    assert_eq!(
        flatten.forward(x, Mode::Infer).unwrap_err().to_string(),
        "flat (Flatten): expected input [_, 3, 4], got [2, 12]"
    );
    let scalar = tape.constant(&Tensor::scalar(1.0));
    assert_eq!(
        Flatten::new()
            .forward(scalar, Mode::Infer)
            .unwrap_err()
            .to_string(),
        "flatten (Flatten): expected input [_, …], got []"
    );
}

#[test]
fn activation_layer_applies_its_function_and_gradient() {
    // softmax rows sum to 1; relu passes the gradient where x > 0.
    let tape = GradientTape::new();
    let x = tape.watch(&t(&[-1.0, 2.0, 0.5, 3.0], &[2, 2]));
    let softmax = layers::Activation::new(Activation::Softmax);
    let s = softmax.forward(x, Mode::Infer).unwrap().value();
    assert_close(&s.sum_axis(1, false).unwrap().to_vec(), &[1.0, 1.0], 1e-15);
    let mut relu = layers::Activation::new(Activation::Relu);
    assert_eq!(relu.build(&[2], &mut rng(0)).unwrap(), vec![2]);
    let y = relu.forward(x, Mode::Train).unwrap();
    let g = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let dx = tape.gradient_with(&y, &g, [x]).unwrap();
    assert_eq!(dx.get(x).unwrap().to_vec(), vec![0.0, 2.0, 3.0, 4.0]);
    assert_eq!(relu.param_count(), 0);
}

/// config -> layers::from_config -> config is the identity.
fn assert_round_trip(layer: &dyn Layer<f32>) {
    let config = layer.config();
    let again = layers::from_config::<f32>(layer.kind(), &config).unwrap();
    assert_eq!(again.kind(), layer.kind());
    assert_eq!(again.config(), config);
}

#[test]
fn every_layer_round_trips_through_its_config() {
    let dense = Dense::new(7)
        .name("head")
        .activation(Activation::LeakyRelu { alpha: 0.1 })
        .use_bias(false)
        .kernel_initializer(Initializer::Orthogonal { gain: 2.0 })
        .bias_initializer(Initializer::Constant { value: 0.5 })
        .kernel_regularizer(Regularizer::l1_l2(0.01, 0.02));
    assert_eq!(
        dense.config(),
        json!({
            "name": "head",
            "units": 7,
            "activation": {"name": "leaky_relu", "alpha": 0.1},
            "use_bias": false,
            "kernel_initializer": {"name": "orthogonal", "gain": 2.0},
            "bias_initializer": {"name": "constant", "value": 0.5},
            "kernel_regularizer": {"l1": 0.01, "l2": 0.02},
        })
    );
    assert_round_trip(&dense);
    assert_round_trip(&Dense::new(3));
    assert_eq!(
        Dense::<f32>::new(3).config()["kernel_regularizer"],
        json!(null)
    );
    assert_round_trip(&Dropout::new(0.4).seed(11).name("drop"));
    assert_round_trip(&Dropout::new(0.4));
    assert_round_trip(&Flatten::new().name("flat"));
    assert_round_trip(&layers::Activation::new(Activation::Elu { alpha: 0.5 }).name("act"));
}

#[test]
fn bad_layer_configs_are_errors_with_exact_messages() {
    let message = |kind: &str, config: serde_json::Value| {
        layers::from_config::<f32>(kind, &config)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message("Conv9D", json!({})),
        "from_config: unknown layer kind \"Conv9D\"; register it with tapeflow::layers::register::<f32>(\"Conv9D\", ...) before loading"
    );
    assert_eq!(
        message("Dense", json!({"name": "d"})),
        "from_config: Dense: missing \"units\""
    );
    assert_eq!(
        message("Dense", json!({"units": 2, "unitz": 3})),
        "from_config: Dense: unknown setting \"unitz\""
    );
    assert_eq!(
        message("Dense", json!({"units": -2})),
        "from_config: Dense: units must be a non-negative integer, got -2"
    );
    assert_eq!(
        message("Dropout", json!({"rate": "half"})),
        "from_config: Dropout: rate must be a number, got \"half\""
    );
    assert_eq!(
        message("Activation", json!({"name": "a"})),
        "from_config: Activation: missing \"activation\""
    );
    assert_eq!(
        message("Flatten", json!([1])),
        "from_config: Flatten: expected an object, got [1]"
    );
    assert_eq!(
        message("Dense", json!({"units": 2, "activation": "relu7"})),
        "activation: unknown activation \"relu7\""
    );
}

#[test]
fn planned_shapes_match_what_build_creates() {
    let mut layers: Vec<(Box<dyn Layer>, Vec<usize>)> = vec![
        (Box::new(Dense::new(5)), vec![3]),
        (Box::new(Dense::new(4).use_bias(false)), vec![2, 3]),
        (Box::new(Flatten::new()), vec![2, 3, 4]),
        (Box::new(Dropout::new(0.5).seed(1)), vec![7]),
        (
            Box::new(layers::Activation::new(Activation::Relu)),
            vec![2, 2],
        ),
    ];
    for (layer, input) in layers.iter_mut() {
        let (params, planned_out) = layer.planned_shapes(input).expect("built-in layers plan");
        let out = layer
            .build(input, &mut StdRng::seed_from_u64(0))
            .expect("build");
        assert_eq!(planned_out, out, "{}", layer.kind());
        let built: Vec<(String, Vec<usize>)> = layer
            .params()
            .iter()
            .map(|p| (p.name().to_string(), p.value().shape().to_vec()))
            .collect();
        assert_eq!(params, built, "{}", layer.kind());
    }
}

#[test]
fn shapes_too_large_to_count_are_errors_not_panics() {
    let huge = usize::MAX / 2;
    let err = Layer::<f32>::build(
        &mut Flatten::new(),
        &[huge, 3],
        &mut StdRng::seed_from_u64(0),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with(&format!("flattening [{huge}, 3] overflows")),
        "{err}"
    );
    let err = Layer::<f32>::build(&mut Dense::new(huge), &[4], &mut StdRng::seed_from_u64(0))
        .unwrap_err();
    assert!(err.to_string().contains("is too large"), "{err}");
}
