//! The everyday model API: `f32` without annotations, loading a model file
//! into the other dtype, loss builders, `predict_proba`, metrics read by
//! `Metric`, and the progress lines `fit` prints to a log file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::tensor::{SafeTensors, TensorView};
use safetensors::{Dtype, serialize};
use tapeflow::losses::Loss;
use tapeflow::prelude::*;

/// A file path in a per-process temporary folder, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tapeflow_api_model_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        TempFile(dir.join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn inputs<T: tapeflow::Float>() -> (Tensor<T>, Tensor<T>) {
    let x = Tensor::from_vec(
        (0..24)
            .map(|i| T::from_f64((i % 7) as f64 / 3.0 - 1.0))
            .collect(),
        &[8, 3],
    )
    .expect("x");
    let y =
        Tensor::from_vec((0..8).map(|i| T::from_f64((i % 3) as f64)).collect(), &[8]).expect("y");
    (x, y)
}

/// An `f64` classifier trained with Adam for 3 epochs, so its file holds
/// optimizer state as well as weights.
fn trained_f64() -> Sequential<f64> {
    let (x, y) = inputs::<f64>();
    let mut m = Sequential::<f64>::new_typed(&[3])
        .add(Dense::new(5).activation(Activation::Tanh))
        .add(Dense::new(3))
        .seed(3);
    m.compile(
        Adam::new(0.01),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )
    .expect("compile");
    m.fit(
        &x,
        &y,
        FitOptions::default().epochs(3).batch_size(4).verbose(0),
    )
    .expect("fit");
    m
}

fn tensors_of(path: &Path) -> HashMap<String, (Dtype, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("read");
    let st = SafeTensors::deserialize(&bytes).expect("safetensors");
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.data().to_vec())))
        .collect()
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

#[test]
fn models_are_f32_without_annotations() -> Result<()> {
    let m: Sequential<f32> = Sequential::new(&[2]);
    assert!(m.layers().is_empty());
    // The README's XOR: float literals take the model's f32 through `fit`.
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2])?;
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1])?;
    let mut model = Sequential::new(&[2])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(1).activation(Activation::Sigmoid))
        .seed(1);
    model.compile(
        Adam::new(0.05),
        BinaryCrossentropy::new(),
        &[Metric::Accuracy],
    )?;
    model.fit(
        &x,
        &y,
        FitOptions::default().epochs(300).batch_size(4).verbose(0),
    )?;
    let x_is_f32: &Tensor<f32> = &x;
    assert_eq!(model.predict_classes(x_is_f32)?, vec![0, 1, 1, 0]);
    // `load` gives an f32 model too.
    let path = TempFile::new("xor.safetensors");
    model.save(&path.0)?;
    let again: Sequential<f32> = Sequential::load(&path.0)?;
    assert_eq!(again.predict(&x)?, model.predict(&x)?);
    Ok(())
}

#[test]
fn f64_file_loads_into_f32_model_as_rounded_weights_and_state() -> Result<()> {
    let wide = trained_f64();
    let path = TempFile::new("wide.safetensors");
    wide.save(&path.0)?;
    let narrow = Sequential::load(&path.0)?;
    for (got, want) in narrow.get_weights().iter().zip(wide.get_weights()) {
        let rounded: Vec<f32> = want.as_slice().iter().map(|&v| v as f32).collect();
        assert_eq!(got.as_slice(), rounded.as_slice());
    }
    assert!(narrow.is_compiled());
    assert_eq!(narrow.history(), wide.history());
    // The optimizer state was converted too: saved again from the f32
    // model, every optimizer tensor is the f64 one rounded.
    let again = TempFile::new("narrow.safetensors");
    narrow.save(&again.0)?;
    let (w, n) = (tensors_of(&path.0), tensors_of(&again.0));
    let slots: Vec<&String> = w.keys().filter(|k| k.starts_with("optimizer/")).collect();
    assert!(slots.len() >= 5, "{slots:?}"); // iterations + 2 moments × 4 params
    for name in slots {
        let (wd, wb) = &w[name];
        let (nd, nb) = &n[name];
        assert_eq!((*wd, *nd), (Dtype::F64, Dtype::F32));
        let rounded: Vec<f32> = f64s(wb).iter().map(|&v| v as f32).collect();
        assert_eq!(f32s(nb), rounded, "{name}");
    }
    // It goes on training in f32.
    let (x, y) = inputs::<f32>();
    let mut narrow = narrow;
    narrow.fit(&x, &y, FitOptions::default().epochs(1).verbose(0))?;
    assert_eq!(narrow.history().map(|h| h.len()), Some(4));
    Ok(())
}

#[test]
fn f32_file_loads_into_f64_model_exactly() -> Result<()> {
    let (x, _) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(2)).seed(9);
    m.build()?;
    let path = TempFile::new("narrow_to_wide.safetensors");
    m.save(&path.0)?;
    let wide = Sequential::<f64>::load_typed(&path.0)?;
    for (got, want) in wide.get_weights().iter().zip(m.get_weights()) {
        let widened: Vec<f64> = want.as_slice().iter().map(|&v| f64::from(v)).collect();
        assert_eq!(got.as_slice(), widened.as_slice());
    }
    let x64 = Tensor::from_vec(
        x.as_slice().iter().map(|&v| f64::from(v)).collect(),
        x.shape(),
    )?;
    let (p32, p64) = (m.predict(&x)?, wide.predict(&x64)?);
    for (a, b) in p32.as_slice().iter().zip(p64.as_slice()) {
        assert!((f64::from(*a) - b).abs() < 1e-6, "{a} vs {b}");
    }
    Ok(())
}

#[test]
fn out_of_f32_range_value_is_an_error_naming_the_tensor() -> Result<()> {
    let mut m = Sequential::<f64>::new_typed(&[2]).add(Dense::new(1));
    m.build()?;
    m.set_weights(vec![
        Tensor::from_vec(vec![1e39, 0.5], &[2, 1])?,
        Tensor::zeros(&[1])?,
    ])?;
    let path = TempFile::new("huge.safetensors");
    m.save(&path.0)?;
    let err = Sequential::load(&path.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "load: {}: tensor \"dense/kernel\" holds 1e39 at index 0, which overflows f32",
            path.0.display()
        )
    );
    // The same file is fine as f64.
    assert_eq!(
        Sequential::<f64>::load_typed(&path.0)?.get_weights()[0].to_vec(),
        vec![1e39, 0.5]
    );
    Ok(())
}

#[test]
fn tensor_whose_dtype_contradicts_the_metadata_is_refused() -> Result<()> {
    let mut m = Sequential::new(&[2]).add(Dense::new(1));
    m.build()?;
    let path = TempFile::new("mixed.safetensors");
    m.save(&path.0)?;
    // Rewrite the bias as F64 while the metadata still says f32.
    let bytes = std::fs::read(&path.0).expect("read");
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("header");
    let meta = header.metadata().clone();
    let st = SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, v) in st.tensors() {
        if name == "dense/bias" {
            let wide: Vec<u8> = f32s(v.data())
                .iter()
                .flat_map(|&x| f64::from(x).to_le_bytes())
                .collect();
            owned.push((name, Dtype::F64, v.shape().to_vec(), wide));
        } else {
            owned.push((name, v.dtype(), v.shape().to_vec(), v.data().to_vec()));
        }
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("view")))
        .collect();
    std::fs::write(&path.0, serialize(views, meta).expect("serialize")).expect("write");
    let err = Sequential::load(&path.0).unwrap_err().to_string();
    assert!(
        err.ends_with("tensor \"dense/bias\" has dtype F64, the file's metadata says F32"),
        "{err}"
    );
    Ok(())
}

#[test]
fn loss_builders_equal_the_field_forms() {
    assert_eq!(
        SparseCategoricalCrossentropy::from_logits(),
        SparseCategoricalCrossentropy { from_logits: true }
    );
    assert_eq!(
        SparseCategoricalCrossentropy::new(),
        SparseCategoricalCrossentropy { from_logits: false }
    );
    assert_eq!(
        CategoricalCrossentropy::from_logits().label_smoothing(0.1),
        CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.1
        }
    );
    assert_eq!(
        CategoricalCrossentropy::new(),
        CategoricalCrossentropy::default()
    );
    assert_eq!(
        BinaryCrossentropy::from_logits(),
        BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0
        }
    );
    assert_eq!(
        BinaryCrossentropy::new().label_smoothing(0.2),
        BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.2
        }
    );
    assert_eq!(Huber::new(2.5), Huber { delta: 2.5 });
    // The config (what `save` writes) is the same too.
    assert_eq!(
        Loss::<f32>::config(&BinaryCrossentropy::from_logits())["from_logits"],
        true
    );
}

#[test]
fn builder_settings_are_checked_when_the_loss_is_used() -> Result<()> {
    let tape = GradientTape::new();
    let p = tape.constant(&Tensor::from_vec(vec![0.5f32, 0.5], &[1, 2])?);
    let y = tape.constant(&Tensor::from_vec(vec![0.0f32, 1.0], &[1, 2])?);
    let err = CategoricalCrossentropy::new()
        .label_smoothing(1.5)
        .call(p, y)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "categorical_crossentropy: label_smoothing must be in [0, 1], got 1.5"
    );
    assert!(Huber::new(-1.0).call(p, y).is_err());
    Ok(())
}

#[test]
fn predict_proba_of_a_logits_model_is_the_softmax_of_predict() -> Result<()> {
    let (x, y) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(3)).seed(4);
    m.compile(
        Adam::new(0.05),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    m.fit(&x, &y, FitOptions::default().epochs(5).verbose(0))?;
    let p = m.predict_proba(&x)?;
    assert_eq!(p, m.predict(&x)?.softmax(-1)?);
    for row in p.to_vec().chunks(3) {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "{row:?}");
        assert!(row.iter().all(|&q| q > 0.0 && q < 1.0));
    }
    // The classes are the probabilities' argmax, as the logits' argmax.
    let argmax: Vec<usize> = p
        .to_vec()
        .chunks(3)
        .map(|r| (0..3).fold(0, |b, j| if r[j] > r[b] { j } else { b }))
        .collect();
    assert_eq!(m.predict_classes(&x)?, argmax);
    Ok(())
}

#[test]
fn predict_proba_of_binary_logits_is_the_sigmoid_and_classes_threshold_at_zero() -> Result<()> {
    let mut m = Sequential::new(&[1]).add(Dense::new(1));
    m.compile(Sgd::new(0.1), BinaryCrossentropy::from_logits(), &[])?;
    m.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?; // logit = x
    let x = Tensor::from_vec(vec![-0.2, 0.3, 2.0], &[3, 1])?;
    let p = m.predict_proba(&x)?;
    assert_eq!(p, m.predict(&x)?.sigmoid());
    for (got, x) in p.to_vec().iter().zip([-0.2f64, 0.3, 2.0]) {
        let want = 1.0 / (1.0 + (-x).exp()); // σ(x)
        assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
    }
    // A logit of 0.3 is class 1 (probability 0.57), not "below 0.5".
    assert_eq!(m.predict_classes(&x)?, vec![0, 1, 1]);
    Ok(())
}

#[test]
fn predict_proba_of_a_probability_model_is_predict() -> Result<()> {
    let (x, _) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(3).activation(Activation::Softmax));
    m.compile(Adam::new(0.01), SparseCategoricalCrossentropy::new(), &[])?;
    assert_eq!(m.predict_proba(&x)?, m.predict(&x)?);
    Ok(())
}

#[test]
fn predict_proba_needs_a_compiled_classifier() -> Result<()> {
    let (x, _) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(2));
    m.build()?;
    assert_eq!(
        m.predict_proba(&x).unwrap_err().to_string(),
        "predict_proba: model \"sequential\" is not compiled; compile it with its loss first, which says whether the outputs are logits or probabilities"
    );
    m.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    assert_eq!(
        m.predict_proba(&x).unwrap_err().to_string(),
        "predict_proba: model \"sequential\" is compiled with the regression loss mean_squared_error, so its outputs are not probabilities; use predict"
    );
    Ok(())
}

#[test]
fn metrics_are_read_by_metric_not_by_string() -> Result<()> {
    let (x, y) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(3)).seed(2);
    m.compile(
        Adam::new(0.01),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    let h = m.fit(
        &x,
        &y,
        FitOptions::default()
            .epochs(2)
            .validation_data(x.clone(), y.clone())
            .verbose(0),
    )?;
    let e = m.evaluate(&x, &y)?;
    let acc = e.metric(Metric::Accuracy).expect("compiled");
    assert_eq!(Some(acc), e.metric_by_name("accuracy"));
    assert_eq!(e.metric(Metric::Auc), None);
    // The last validation accuracy is the accuracy on the same data after
    // training, as evaluate computes it.
    assert_eq!(
        h.val_metric(Metric::Accuracy)
            .and_then(|v| v.last().copied()),
        Some(acc)
    );
    assert_eq!(h.metric(Metric::Accuracy).map(<[f64]>::len), Some(2));
    Ok(())
}

const CHILD_VAR: &str = "TAPEFLOW_API_MODEL_PROGRESS_CHILD";

/// Run by `fit_prints_one_line_per_epoch_to_a_log_file` in a child process
/// whose stderr is a pipe; does nothing in a plain test run.
#[test]
fn child_fits_with_default_verbosity() -> Result<()> {
    if std::env::var_os(CHILD_VAR).is_none() {
        return Ok(());
    }
    let (x, y) = inputs::<f32>();
    let mut m = Sequential::new(&[3]).add(Dense::new(3)).seed(2);
    m.compile(
        Adam::new(0.01),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    let opts = FitOptions::default()
        .epochs(3)
        .validation_data(x.clone(), y.clone());
    m.fit(&x, &y, opts)?;
    Ok(())
}

#[test]
fn fit_prints_one_line_per_epoch_to_a_log_file() {
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "api_model::child_fits_with_default_verbosity",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .output()
        .expect("spawn child");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let epochs: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Epoch ")).collect();
    assert_eq!(epochs.len(), 3, "{stderr}");
    // Each epoch on its own single line with every metric, validation
    // included, and nothing else printed (no wrapped continuation lines).
    for (i, line) in epochs.iter().enumerate() {
        assert!(line.starts_with(&format!("Epoch {}/3 - ", i + 1)), "{line}");
        assert!(line.contains(" - loss: "), "{line}");
        assert!(line.contains(" - val_accuracy: "), "{line}");
        assert!(!line.contains("ETA"), "{line}");
    }
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("  ")).count(),
        0,
        "{stderr}"
    );
}

#[test]
fn a_logits_loss_after_softmax_or_sigmoid_is_refused_at_compile() {
    use tapeflow::layers::Activation as ActivationLayer;
    let softmax_models = [
        Sequential::new(&[4]).add(Dense::new(3).activation(Activation::Softmax)),
        Sequential::new(&[4])
            .add(Dense::new(3))
            .add(ActivationLayer::new(Activation::Softmax)),
    ];
    for mut model in softmax_models {
        let err = model
            .compile(
                Sgd::new(0.1),
                SparseCategoricalCrossentropy::from_logits(),
                &[],
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("compile: the loss sparse_categorical_crossentropy"),
            "{err}"
        );
        assert!(err.contains("already applies softmax"), "{err}");
        assert!(!model.is_compiled());
        let err = model
            .compile(Sgd::new(0.1), CategoricalCrossentropy::from_logits(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("already applies softmax"), "{err}");
    }
    let mut model = Sequential::new(&[4]).add(Dense::new(1).activation(Activation::Sigmoid));
    let err = model
        .compile(Sgd::new(0.1), BinaryCrossentropy::from_logits(), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("already applies sigmoid"), "{err}");
    // The probability forms, and logits after a linear layer, are accepted.
    model
        .compile(Sgd::new(0.1), BinaryCrossentropy::new(), &[])
        .unwrap();
    let mut ok = Sequential::new(&[4]).add(Dense::new(3));
    ok.compile(
        Sgd::new(0.1),
        SparseCategoricalCrossentropy::from_logits(),
        &[],
    )
    .unwrap();
    assert!(ok.is_compiled());
}
