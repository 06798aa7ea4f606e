//! Building a `Sequential`: shape inference and checking, layer naming, the
//! summary table, and inference (`predict`, `predict_classes`, `forward`).

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::prelude::*;

/// A layer that only takes samples of shape `[4]` and passes them through.
#[derive(Debug)]
struct NeedsFour {
    name: String,
}

impl Layer for NeedsFour {
    fn kind(&self) -> &'static str {
        "NeedsFour"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        if input_shape != [4] {
            return Err(Error::Invalid {
                message: format!("expected input [_, 4], got [_, {input_shape:?}]"),
            });
        }
        Ok(input_shape.to_vec())
    }
    fn forward<'t>(&self, x: Var<'t, f32>, _mode: Mode) -> Result<Var<'t, f32>> {
        Ok(x)
    }
    fn params(&self) -> Vec<&Param<f32>> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<f32>> {
        Vec::new()
    }
    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name })
    }
}

fn layer_error(err: &Error) -> (&str, &'static str, Option<usize>) {
    match err {
        Error::Layer {
            layer,
            kind,
            position,
            ..
        } => (layer.as_str(), *kind, *position),
        other => panic!("expected Error::Layer, got {other:?}"),
    }
}

#[test]
fn shapes_are_inferred_through_the_stack() -> Result<()> {
    let mut model = Sequential::new(&[3, 4])
        .add(Flatten::new())
        .add(Dense::new(5).activation(Activation::Relu))
        .add(Dropout::new(0.5))
        .add(Dense::new(2));
    assert!(!model.is_built());
    model.build()?;
    assert!(model.is_built());
    assert_eq!(model.output_shape()?, vec![2]);
    assert_eq!(model.get_weights()[0].shape(), &[12, 5]);
    assert_eq!(model.param_count(), 12 * 5 + 5 + 5 * 2 + 2);
    let y = model.predict(&Tensor::ones(&[7, 3, 4])?)?;
    assert_eq!(y.shape(), &[7, 2]);
    Ok(())
}

#[test]
fn dense_on_a_scalar_input_names_layer_position_and_shape() {
    let mut model = Sequential::new(&[]).add(Dense::new(2));
    let err = model.build().unwrap_err();
    assert_eq!(layer_error(&err), ("dense", "Dense", Some(0)));
    let msg = err.to_string();
    assert!(msg.starts_with("dense (Dense) at position 0: "), "{msg}");
    assert!(msg.contains("at least 1 dimension"), "{msg}");
    assert!(msg.contains("got []"), "{msg}");
    assert!(!model.is_built());
}

#[test]
fn dense_after_an_empty_flatten_names_its_position_and_the_shape() {
    let mut model = Sequential::new(&[3, 0])
        .add(Flatten::new())
        .add(Dense::new(2));
    let err = model.build().unwrap_err();
    assert_eq!(layer_error(&err), ("dense", "Dense", Some(1)));
    let msg = err.to_string();
    assert!(msg.starts_with("dense (Dense) at position 1: "), "{msg}");
    assert!(msg.contains("[0]"), "{msg}");
}

#[test]
fn a_layer_that_cannot_take_its_input_names_expected_and_actual_shapes() {
    let mut model = Sequential::new(&[2])
        .add(Dense::new(3))
        .add(Dense::new(3))
        .add(NeedsFour {
            name: "needs_four".to_string(),
        });
    let err = model.build().unwrap_err();
    assert_eq!(layer_error(&err), ("needs_four", "NeedsFour", Some(2)));
    assert_eq!(
        err.to_string(),
        "needs_four (NeedsFour) at position 2: expected input [_, 4], got [_, [3]]"
    );
}

#[test]
fn an_empty_model_cannot_be_built() {
    let mut model = Sequential::new(&[2]).name("empty");
    let err = model.build().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("build: model \"empty\" has no layers"),
        "{err}"
    );
}

#[test]
fn layers_get_keras_names_and_set_names_are_kept() {
    let model = Sequential::new(&[4])
        .add(Dense::new(8))
        .add(Dense::new(8).name("hidden"))
        .add(Dropout::new(0.1))
        .add(Dense::new(4))
        .add(Flatten::new())
        .add(Dense::new(1));
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "dense", "hidden", "dropout", "dense_1", "flatten", "dense_2"
        ]
    );
}

#[test]
fn duplicate_layer_names_are_rejected_at_build() {
    // Two layers called "a" would write the same "a/kernel" entry when saved.
    let mut model = Sequential::new(&[2])
        .add(Dense::new(3).name("a"))
        .add(Dense::new(1).name("a"));
    let err = model.build().unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("build: "), "{msg}");
    assert!(msg.contains("\"a\""), "{msg}");
    assert!(msg.contains("positions 0 and 1"), "{msg}");
}

#[test]
fn summary_lists_names_types_shapes_and_counts() -> Result<()> {
    let mut model = Sequential::new(&[10])
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(3).name("out"))
        .name("clf");
    let before = model.summary();
    assert!(before.contains(" dense (Dense) "), "{before}");
    assert!(before.contains('?'), "{before}");
    model.build()?;
    let s = model.summary();
    assert!(s.starts_with("Model: \"clf\"\n"), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    let row = |name: &str| -> Vec<&str> {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name} in\n{s}"));
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    };
    assert_eq!(row("dense (Dense)"), ["dense (Dense)", "(None, 16)", "176"]);
    assert_eq!(
        row("dropout (Dropout)"),
        ["dropout (Dropout)", "(None, 16)", "0"]
    );
    assert_eq!(row("out (Dense)"), ["out (Dense)", "(None, 3)", "51"]);
    assert!(s.contains("Total params: 227\n"), "{s}");
    assert!(s.contains("Trainable params: 227\n"), "{s}");
    assert!(s.contains("Non-trainable params: 0\n"), "{s}");

    model.layers_mut()[0].set_trainable(false);
    let frozen = model.summary();
    assert!(frozen.contains("Total params: 227\n"), "{frozen}");
    assert!(frozen.contains("Trainable params: 51\n"), "{frozen}");
    assert!(frozen.contains("Non-trainable params: 176\n"), "{frozen}");
    Ok(())
}

#[test]
fn summary_uses_thousands_separators() -> Result<()> {
    let mut model = Sequential::new(&[784]).add(Dense::new(128));
    model.build()?;
    assert!(model.summary().contains("Total params: 100,480\n"));
    Ok(())
}

#[test]
fn predict_before_build_builds_nothing_and_errors() {
    let model = Sequential::new(&[2]).add(Dense::new(1));
    let err = model.predict(&Tensor::ones(&[1, 2]).unwrap()).unwrap_err();
    assert!(err.to_string().starts_with("predict: "), "{err}");
    assert!(err.to_string().contains("not built"), "{err}");
}

#[test]
fn predict_in_batches_equals_forward_on_the_whole_input() -> Result<()> {
    let mut model = Sequential::new(&[5])
        .add(Dense::new(7).activation(Activation::Tanh))
        .add(Dense::new(3).activation(Activation::Softmax))
        .seed(11);
    model.build()?;
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_normal_with_rng(&[600, 5], 0.0, 1.0, &mut rng)?;
    let batched = model.predict(&x)?;
    let tape = GradientTape::new();
    let whole = model.forward(&tape, &x, Mode::Infer)?.value();
    assert_eq!(batched.shape(), &[600, 3]);
    for (i, (a, b)) in batched.as_slice().iter().zip(whole.as_slice()).enumerate() {
        assert!((a - b).abs() <= 1e-6, "element {i}: {a} vs {b}");
    }
    // Rows do not depend on their neighbours: a slice predicts the same.
    let tail = model.predict(&x.slice_rows(500..600)?)?;
    assert_eq!(tail.to_vec(), batched.slice_rows(500..600)?.to_vec());
    Ok(())
}

#[test]
fn inference_with_a_frozen_model_records_nothing_for_gradients() -> Result<()> {
    let mut model = Sequential::new(&[3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dense::new(2));
    model.build()?;
    for layer in model.layers_mut() {
        layer.set_trainable(false);
    }
    let tape = GradientTape::new();
    model.forward(&tape, &Tensor::ones(&[2, 3])?, Mode::Infer)?;
    assert_eq!(tape.recorded_ops(), 0);
    Ok(())
}

#[test]
fn predict_classes_for_softmax_outputs_takes_the_argmax() -> Result<()> {
    let mut model = Sequential::new(&[3]).add(Dense::new(3).activation(Activation::Softmax));
    model.build()?;
    // Identity kernel: the class is the largest input.
    let eye = Tensor::from_vec(vec![1., 0., 0., 0., 1., 0., 0., 0., 1.], &[3, 3])?;
    model.set_weights(vec![eye, Tensor::zeros(&[3])?])?;
    let x = Tensor::from_vec(
        vec![5., 1., 0., 0., 2., 1., -1., -2., 3., 0., 4., 1.],
        &[4, 3],
    )?;
    assert_eq!(model.predict_classes(&x)?, vec![0, 1, 2, 1]);
    Ok(())
}

#[test]
fn predict_classes_for_a_sigmoid_output_thresholds_at_one_half() -> Result<()> {
    let mut model = Sequential::new(&[1]).add(Dense::new(1).activation(Activation::Sigmoid));
    model.build()?;
    model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?;
    let x = Tensor::from_vec(vec![-3.0, -0.1, 0.0, 0.1, 3.0], &[5, 1])?;
    assert_eq!(model.predict_classes(&x)?, vec![0, 0, 1, 1, 1]);
    Ok(())
}

#[test]
fn predict_rejects_a_wrong_feature_shape_naming_the_first_layer() -> Result<()> {
    let mut model = Sequential::new(&[3])
        .add(Dense::new(2).name("first"))
        .add(Dense::new(1));
    model.build()?;
    let err = model.predict(&Tensor::zeros(&[5, 4])?).unwrap_err();
    assert_eq!(
        err.to_string(),
        "first (Dense) at position 0: expected input [_, 3], got [5, 4]"
    );
    let err = model.predict(&Tensor::zeros(&[3])?).unwrap_err();
    assert_eq!(
        err.to_string(),
        "first (Dense) at position 0: expected input [_, 3], got [3]: add a batch axis (reshape to [1, 3])"
    );
    Ok(())
}

#[test]
fn same_model_seed_gives_same_weights_and_another_seed_differs() -> Result<()> {
    let make = |seed| -> Result<Vec<Tensor>> {
        let mut m = Sequential::new(&[4]).add(Dense::new(3)).seed(seed);
        m.build()?;
        Ok(m.get_weights())
    };
    assert_eq!(make(5)?, make(5)?);
    assert_ne!(make(5)?[0], make(6)?[0]);
    Ok(())
}

#[test]
fn adding_a_layer_to_a_built_model_keeps_the_built_weights() -> Result<()> {
    let mut model = Sequential::new(&[3]).add(Dense::new(3)).seed(2);
    model.build()?;
    let trained = vec![Tensor::full(&[3, 3], 0.5)?, Tensor::full(&[3], -1.0)?];
    model.set_weights(trained.clone())?;
    let mut model = model.add(Dense::new(3));
    assert!(!model.is_built());
    model.build()?;
    assert_eq!(model.output_shape()?, vec![3]);
    let weights = model.get_weights();
    assert_eq!(weights[..2], trained[..]);
    assert_eq!(weights[2].shape(), &[3, 3]);
    // The new layer is freshly drawn, not a copy of the first initialisation.
    let mut fresh = Sequential::new(&[3]).add(Dense::new(3)).seed(2);
    fresh.build()?;
    assert_ne!(weights[2], fresh.get_weights()[0]);
    Ok(())
}

#[test]
fn forward_on_an_inference_tape_records_nothing_for_a_trainable_model() -> Result<()> {
    // What predict and evaluate use: parameters enter as constants.
    let mut model = Sequential::new(&[3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dense::new(2));
    model.build()?;
    let tape = GradientTape::inference();
    let y = model.forward(&tape, &Tensor::ones(&[2, 3])?, Mode::Infer)?;
    assert_eq!(tape.recorded_ops(), 0);
    assert_eq!(y.value(), model.predict(&Tensor::ones(&[2, 3])?)?);
    // The same forward on a training tape records the two layers.
    let tape = GradientTape::new();
    model.forward(&tape, &Tensor::ones(&[2, 3])?, Mode::Infer)?;
    assert!(tape.recorded_ops() >= 2);
    Ok(())
}

#[test]
fn freezing_a_dense_layer_before_build_holds_after_build() -> Result<()> {
    let mut frozen = Dense::new(3);
    frozen.set_trainable(false);
    let mut model = Sequential::new(&[2]).add(frozen).add(Dense::new(1));
    model.build()?;
    assert_eq!(model.params().len(), 4);
    assert_eq!(model.trainable_params().len(), 2);
    assert!(model.summary().contains("Non-trainable params: 9"));
    Ok(())
}
