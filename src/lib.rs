//! # tapeflow
//!
//! A pure-Rust deep-learning library: a tape-based reverse-mode autodiff
//! engine (the analogue of TensorFlow's `GradientTape`) under layers,
//! activations, losses, optimizers and a Keras-like [`Sequential`] model.
//!
//! ## Quick start: a whole training loop
//!
//! ```
//! use tapeflow::prelude::*;
//!
//! // Data: y = 0.1·x + 0.3 on 200 points.
//! let x = Tensor::from_vec((0..200).map(|i| i as f32 / 200.0).collect(), &[200, 1])?;
//! let y = x.map(|v| 0.1 * v + 0.3);
//!
//! // Keras way: build, compile, fit, evaluate, predict.
//! let mut model = Sequential::new(&[1]).add(Dense::new(1));
//! model.compile(Sgd::new(0.5), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
//! let history = model.fit(&x, &y, FitOptions::default().epochs(100).verbose(0))?;
//! assert!(history.last("loss").unwrap() < 1e-5);
//! let eval = model.evaluate(&x, &y)?;
//! assert!(eval.metric(Metric::MeanAbsoluteError).unwrap() < 1e-2);
//! let y_hat = model.predict(&Tensor::from_vec(vec![0.5], &[1, 1])?)?;
//! assert!((y_hat.item()? - 0.35).abs() < 1e-2);
//!
//! // GradientTape way: one custom training step.
//! let mut opt = Sgd::new(0.5);
//! let tape = GradientTape::new();
//! let pred = model.forward(&tape, &x, Mode::Train)?;
//! let loss = tapeflow::losses::mse(&pred, &tape.constant(&y))?;
//! let grads = tape.gradient(&loss, model.trainable_params())?;
//! opt.apply_gradients(&grads, &mut model.params_mut())?;
//! # Ok::<(), tapeflow::Error>(())
//! ```
//!
//! ## A classifier from a CSV file, start to finish
//!
//! Iris (150 flowers, 4 measurements, 3 species, shipped in `data/`): load,
//! split, scale, build, compile, fit, evaluate, class probabilities, save
//! and load. Everything is `f32` without a type written anywhere.
//!
//! ```
//! use tapeflow::data::{Dataset, SplitOptions, StandardScaler, train_test_split};
//! use tapeflow::prelude::*;
//!
//! // Load the CSV (label column "target", class indices 0..3) and split it
//! // 80/20, stratified by class, with seed 42.
//! let iris = Dataset::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv"), "target")?;
//! let (train, test) = train_test_split(&iris, SplitOptions::new(0.2).seed(42).stratify(true))?;
//! assert_eq!((train.len(), test.len()), (120, 30));
//!
//! // Standardise with the training split's statistics only.
//! let (train, test) = StandardScaler::new().fit_transform_split(&train, &test)?;
//! let (x_train, x_test) = (train.features(), test.features());
//!
//! // A 4-16-3 MLP that outputs logits; the loss says so.
//! let mut model = Sequential::new(&[4])
//!     .add(Dense::new(16).activation(Activation::Relu))
//!     .add(Dense::new(3))
//!     .seed(42);
//! model.compile(Adam::new(0.01), SparseCategoricalCrossentropy::from_logits(), &[Metric::Accuracy])?;
//! let opts = FitOptions::default().epochs(60).batch_size(16).verbose(0);
//! let history = model.fit(x_train, train.targets(), opts)?;
//! assert_eq!(history.metric(Metric::Accuracy).map(<[f64]>::len), Some(60));
//!
//! let eval = model.evaluate(x_test, test.targets())?;
//! assert!(eval.metric(Metric::Accuracy).unwrap() >= 0.9, "{eval:?}");
//!
//! // Class probabilities: the softmax of the logits, each row summing to 1.
//! let proba = model.predict_proba(x_test)?;
//! assert_eq!(proba.shape(), &[30, 3]);
//! for row in proba.to_vec().chunks(3) {
//!     assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! }
//!
//! // One file holds the model, its optimizer and its history.
//! let path = std::env::temp_dir().join(format!("iris_{}.safetensors", std::process::id()));
//! model.save(&path)?;
//! let again = Sequential::load(&path)?;
//! assert_eq!(again.predict_proba(x_test)?, proba);
//! std::fs::remove_file(&path).ok();
//! # Ok::<(), tapeflow::Error>(())
//! ```
//!
//! ## The design in a paragraph
//!
//! [`Tensor`] is a row-major array whose storage is shared by reference count
//! (clones and row slices copy nothing; writes copy on write). A
//! [`GradientTape`] is an append-only list of nodes; each op on a [`Var`]
//! computes its value with a tensor kernel and records its backward rule in
//! the same function, and [`GradientTape::gradient`] walks the list backwards
//! once. Nothing is recorded for values that need no gradient, so inference
//! through the same code stores values only. Layers own [`Param`]s, losses and
//! metrics read `Var`s and tensors, optimizers update params in place keyed by
//! [`ParamId`], and [`Sequential`] ties them together. Every fallible entry
//! point returns [`Result`]; user input never panics the library.
//!
//! ## Modules, ground floor first
//!
//! | module | owns |
//! |---|---|
//! | [`error`], [`element`] | [`Error`]/[`Result`]; the [`Float`] element trait and GEMM dispatch |
//! | [`tensor`], [`data`] | [`Tensor`] and its kernels; datasets, splits, scalers, CSV/IDX loaders |
//! | [`tape`], [`ops`] | [`GradientTape`], [`Var`], [`Param`], [`Gradients`]; differentiable ops |
//! | [`activations`], [`testing`] | [`Activation`]; the finite-difference gradient checker |
//! | [`layers`], [`losses`], [`metrics`], [`optimizers`] | building blocks |
//! | [`explain`], [`adversarial`] | attributions (saliency, integrated gradients, SmoothGrad); attacks (FGSM, PGD) and robust accuracy |
//! | [`callbacks`], [`models`] | training hooks; [`Sequential`] |
//!
//! ## Feature flags
//!
//! - `plot` (default): [`History::plot_svg`] draws training curves with
//!   `plotters`' pure-Rust SVG backend (no system libraries), and
//!   [`explain::attribution_svg`] draws an image beside its attribution map.
//!
//! ## Coming from Keras / PyTorch
//!
//! | Keras / TensorFlow | PyTorch | tapeflow |
//! |---|---|---|
//! | `keras.Sequential([...])` | `nn.Sequential(...)` | `Sequential::new(&input_shape).add(...)` |
//! | `layers.Dense(64, activation="relu")` | `nn.Linear` + `nn.ReLU` | `Dense::new(64).activation(Activation::Relu)` |
//! | `layers.Embedding(v, d)` | `nn.Embedding(v, d)` | `Embedding::new(v, d)` |
//! | `layers.LayerNormalization()` | `nn.LayerNorm(d)` | `LayerNormalization::new()` (ε = 1e-3 as Keras) |
//! | `layers.MultiHeadAttention(h, k)` | `nn.MultiheadAttention(h·k, h, batch_first=True)` | `MultiHeadAttention::new(h, k)` |
//! | `keras.saving.register_keras_serializable` | — | `layers::register::<f32>(kind, from_config)` |
//! | `model.compile(optimizer, loss, metrics)` | — | `model.compile(Adam::new(1e-3), loss, &[Metric::Accuracy])` |
//! | `model.fit(x, y, epochs=10)` | a loop | `model.fit(&x, &y, FitOptions::default().epochs(10))` |
//! | `tf.GradientTape()` | autograd | `GradientTape::new()` |
//! | `tape.gradient(loss, vars)` | `loss.backward()` | `tape.gradient(&loss, targets)` |
//! | `optimizer.apply_gradients(zip(g, v))` | `opt.step()` | `opt.apply_gradients(&grads, &mut params)` |
//! | `tf.stop_gradient(x)` | `x.detach()` | `x.detach()` |
//! | `model.save("m.keras")` | `torch.save` | `model.save("m.safetensors")` |
//! | `pd.read_csv(path)`, then `X`, `y` | `pd.read_csv` | `data::Dataset::from_csv(path, "target")?` |
//! | `train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)` | `random_split` | `data::train_test_split(&ds, SplitOptions::new(0.2).seed(42).stratify(true))?` |
//! | `keras.datasets.mnist.load_data()` | `torchvision.datasets.MNIST` | `data::Mnist::load(dir)?` |
//! | `tf.random.uniform(shape, seed=s)` | `torch.rand` after `manual_seed(s)` | `Tensor::rand_uniform(&shape, low, high, s)?` |
#![doc(test(attr(deny(warnings))))]

pub mod activations;
pub mod adversarial;
pub mod callbacks;
pub mod data;
pub mod element;
pub mod error;
pub mod explain;
pub mod initializers;
#[cfg(not(test))]
mod instances;
#[cfg(not(test))]
#[doc(hidden)]
pub use instances::__instances;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod optimizers;
pub mod prelude;
pub mod tape;
pub mod tensor;
pub mod testing;

/// The `rand` crate (version 0.10) that tapeflow's `*_with_rng` functions
/// take an RNG from; use `tapeflow::rand::{SeedableRng, rngs::StdRng}` so the
/// versions always match, whatever version of `rand` your own crate uses.
/// The everyday API takes plain `u64` seeds and needs no `rand` at all.
pub use rand;

pub use activations::Activation;
pub use element::{Float, in_pool, num_threads, set_num_threads};
pub use error::{Error, Result};
pub use metrics::Metric;
pub use models::{Evaluation, FitOptions, History, Sequential};
pub use tape::{GradKey, GradientTape, Gradients, Param, ParamId, Target, Var};
pub use tensor::{Tensor, buffer_cache_limit, clear_buffer_cache, set_buffer_cache_limit};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The guide's examples (`docs/guide.md`), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
struct GuideDoctests;
