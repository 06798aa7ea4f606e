//! The convolution, pooling, normalization and shape layers inside
//! `Sequential`: shape inference and summary, save → load round trips
//! (bit-identical predictions, moving statistics included), and
//! BatchNormalization's state updates (in `fit`, frozen, in inference).

use tapeflow::layers::{
    Activation as ActivationLayer, AveragePooling2D, BatchNormalization, Conv1D, Conv2D,
    DepthwiseConv2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
    Reshape, ZeroPadding2D,
};
use tapeflow::prelude::*;
use tapeflow::tensor::Padding;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tapeflow_conv_{}_{name}", std::process::id()))
}

fn images(n: usize, shape: &[usize], seed: u64) -> Tensor {
    let mut dims = vec![n];
    dims.extend_from_slice(shape);
    let len: usize = dims.iter().product();
    let data = (0..len)
        .map(|i| ((i as f64 * 0.37 + seed as f64).sin()) as f32)
        .collect();
    Tensor::from_vec(data, &dims).unwrap()
}

fn labels(n: usize) -> Tensor {
    Tensor::from_vec((0..n).map(|i| (i % 3) as f32).collect(), &[n]).unwrap()
}

fn image_model() -> Sequential {
    Sequential::new(&[8, 8, 2])
        .add(ZeroPadding2D::new([[1, 1], [1, 1]]))
        .add(
            Conv2D::new(4, [3, 3])
                .strides([2, 2])
                .padding(Padding::Same),
        )
        .add(BatchNormalization::new().momentum(0.5))
        .add(
            DepthwiseConv2D::new([3, 3])
                .depth_multiplier(2)
                .padding(Padding::Same),
        )
        .add(AveragePooling2D::new([2, 2]).padding(Padding::Same))
        .add(MaxPooling2D::new([2, 2]).strides([1, 1]))
        .add(Conv2D::new(6, [1, 1]).groups(2))
        .add(GlobalMaxPooling2D::default())
        .add(Dense::new(3))
        .seed(3)
}

fn sequence_model() -> Sequential {
    Sequential::new(&[8, 8, 2])
        .add(GlobalAveragePooling2D::default())
        .add(Reshape::new(&[2, 1]))
        .add(Conv1D::new(4, 2).padding(Padding::Causal))
        .add(MaxPooling1D::new(2).strides(1).padding(Padding::Same))
        .add(BatchNormalization::new())
        .add(Flatten::new())
        .add(Dense::new(3))
        .seed(4)
}

#[test]
fn shapes_are_inferred_and_summary_counts_moving_statistics_as_non_trainable() {
    let mut model = image_model();
    model.build().unwrap();
    let shapes: Vec<Vec<usize>> = (0..model.layers().len())
        .map(|i| {
            let input = if i == 0 {
                vec![8, 8, 2]
            } else {
                model.layers()[..i]
                    .iter()
                    .fold(vec![8, 8, 2], |s, l| l.planned_shapes(&s).unwrap().1)
            };
            model.layers()[i].planned_shapes(&input).unwrap().1
        })
        .collect();
    assert_eq!(
        shapes,
        vec![
            vec![10, 10, 2],
            vec![5, 5, 4],
            vec![5, 5, 4],
            vec![5, 5, 8],
            vec![3, 3, 8],
            vec![2, 2, 8],
            vec![2, 2, 6],
            vec![6],
            vec![3],
        ]
    );
    assert_eq!(model.output_shape().unwrap(), vec![3]);
    let s = model.summary();
    // Conv2D: 3·3·2·4 + 4; BN: 4 · 4 (8 non-trainable); depthwise: 3·3·4·2 + 8;
    // grouped 1x1: 1·1·4·6 + 6; dense: 6·3 + 3.
    assert!(
        s.contains(" conv2d (Conv2D)               (None, 5, 5, 4)                   76"),
        "{s}"
    );
    assert!(
        s.contains(" depthwise_conv2d              (None, 5, 5, 8)                   80\n (DepthwiseConv2D)\n"),
        "{s}"
    );
    assert!(
        s.contains(" zero_padding2d                (None, 10, 10, 2)                  0\n (ZeroPadding2D)\n"),
        "{s}"
    );
    assert!(s.contains("Total params: 223\n"), "{s}");
    assert!(s.contains("Non-trainable params: 8\n"), "{s}");
}

#[test]
fn models_with_every_new_layer_round_trip_through_save_and_load() {
    for (i, mut model) in [image_model(), sequence_model()].into_iter().enumerate() {
        model
            .compile(
                Adam::new(0.01),
                SparseCategoricalCrossentropy { from_logits: true },
                &[],
            )
            .unwrap();
        let (x, y) = (images(12, &[8, 8, 2], i as u64), labels(12));
        model
            .fit(
                &x,
                &y,
                FitOptions::default().epochs(2).batch_size(4).verbose(0),
            )
            .unwrap();
        let bn = model
            .layers()
            .iter()
            .find(|l| l.kind() == "BatchNormalization")
            .unwrap();
        // Training moved the statistics away from their initial 0 and 1.
        assert!(bn.params()[2].value().as_slice().iter().any(|&m| m != 0.0));
        let path = temp(&format!("roundtrip_{i}.safetensors"));
        model.save(&path).unwrap();
        let loaded = Sequential::load(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(loaded.get_weights(), model.get_weights());
        let kinds: Vec<&str> = loaded.layers().iter().map(|l| l.kind()).collect();
        let want: Vec<&str> = model.layers().iter().map(|l| l.kind()).collect();
        assert_eq!(kinds, want);
        assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());
        assert_eq!(
            loaded.trainable_params().len(),
            model.trainable_params().len()
        );
    }
}

/// A BatchNormalization directly on the input, then a Dense head.
fn bn_first(momentum: f64) -> Sequential {
    Sequential::new(&[2])
        .add(BatchNormalization::new().momentum(momentum))
        .add(Dense::new(1))
}

fn data() -> (Tensor, Tensor) {
    let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 20.0, 5.0, 60.0], &[3, 2]).unwrap();
    (
        x,
        Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3, 1]).unwrap(),
    )
}

#[test]
fn fit_updates_moving_statistics_with_keras_momentum() {
    let mut model = bn_first(0.9);
    model.compile(Sgd::new(0.1), MeanSquaredError, &[]).unwrap();
    let (x, y) = data();
    model
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(1)
                .batch_size(3)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap();
    // Batch mean (3, 30), biased variance (8/3, 1400/3):
    // moving = 0.9 · initial + 0.1 · batch.
    let p = model.params();
    let close = |got: &[f32], want: [f64; 2]| {
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-4, "{got:?} vs {want:?}");
        }
    };
    close(p[2].value().as_slice(), [0.3, 3.0]);
    close(
        p[3].value().as_slice(),
        [0.9 + 0.8 / 3.0, 0.9 + 140.0 / 3.0],
    );
    assert!(!p[2].trainable() && !p[3].trainable());
    assert_eq!(model.trainable_params().len(), 4); // gamma, beta, kernel, bias
}

#[test]
fn frozen_batch_normalization_neither_updates_nor_uses_batch_statistics() {
    let mut model = bn_first(0.5);
    model.build().unwrap();
    model.layers_mut()[0].set_trainable(false);
    model.compile(Sgd::new(0.1), MeanSquaredError, &[]).unwrap();
    let before: Vec<Tensor> = model.layers()[0]
        .params()
        .iter()
        .map(|p| p.value().clone())
        .collect();
    let (x, y) = data();
    model
        .fit(
            &x,
            &y,
            FitOptions::default().epochs(3).batch_size(3).verbose(0),
        )
        .unwrap();
    let after: Vec<Tensor> = model.layers()[0]
        .params()
        .iter()
        .map(|p| p.value().clone())
        .collect();
    assert_eq!(before, after);
    // Train mode of a frozen layer is inference mode.
    let tape = GradientTape::new();
    let train = model.forward(&tape, &x, Mode::Train).unwrap().value();
    assert_eq!(train, model.predict(&x).unwrap());
    // Unfreezing makes gamma and beta trainable, never the statistics.
    model.layers_mut()[0].set_trainable(true);
    let flags: Vec<bool> = model.layers()[0]
        .params()
        .iter()
        .map(|p| p.trainable())
        .collect();
    assert_eq!(flags, [true, true, false, false]);
}

#[test]
fn inference_passes_leave_nothing_to_apply() {
    let mut model = bn_first(0.0);
    model.build().unwrap();
    let (x, _) = data();
    let tape = GradientTape::new();
    model.forward(&tape, &x, Mode::Infer).unwrap();
    model.predict(&x).unwrap();
    model.apply_state_updates().unwrap();
    assert_eq!(model.params()[2].value().to_vec(), vec![0.0, 0.0]);
    assert_eq!(model.params()[3].value().to_vec(), vec![1.0, 1.0]);
    // A training pass, committed once: momentum 0 takes the batch mean.
    model.forward(&tape, &x, Mode::Train).unwrap();
    model.apply_state_updates().unwrap();
    assert_eq!(model.params()[2].value().to_vec(), vec![3.0, 30.0]);
    model.apply_state_updates().unwrap();
    assert_eq!(model.params()[2].value().to_vec(), vec![3.0, 30.0]);
}

#[test]
fn a_relu_after_batch_normalization_keeps_names_unique() {
    let mut model = Sequential::new(&[4, 4, 1])
        .add(Conv2D::new(2, [3, 3]))
        .add(BatchNormalization::new())
        .add(ActivationLayer::new(Activation::Relu))
        .add(Conv2D::new(2, [1, 1]))
        .add(BatchNormalization::new());
    model.build().unwrap();
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "conv2d",
            "batch_normalization",
            "activation",
            "conv2d_1",
            "batch_normalization_1"
        ]
    );
}

#[test]
fn training_steps_give_the_same_bits_on_one_thread_and_on_two() {
    // The products split over output blocks, never over the summed axis,
    // and the conv, pooling and normalization kernels are sequential.
    let run = |threads: usize| {
        tapeflow::set_num_threads(threads);
        let mut model = image_model();
        model
            .compile(
                Adam::new(0.01),
                SparseCategoricalCrossentropy { from_logits: true },
                &[],
            )
            .unwrap();
        let (x, y) = (images(16, &[8, 8, 2], 7), labels(16));
        model
            .fit(
                &x,
                &y,
                FitOptions::default().epochs(2).batch_size(8).verbose(0),
            )
            .unwrap();
        (model.get_weights(), model.predict(&x).unwrap())
    };
    let one = run(1);
    let two = run(2);
    tapeflow::set_num_threads(0);
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
}
