//! Attention layers inside models: nested parameter names in `Sequential`,
//! summary, freezing, save/load round trips (built-in composites and a
//! user's own registered block), and `fit`/`evaluate` with sparse
//! categorical cross-entropy over `[batch, time, vocab]` logits.

use std::path::PathBuf;

use rand::rngs::StdRng;
use serde_json::{Value, json};
use tapeflow::layers::{self, Embedding, LayerNormalization, PositionEmbedding, TransformerBlock};
use tapeflow::prelude::*;

struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!(
            "tapeflow_attention_{tag}_{}_{n}.safetensors",
            std::process::id()
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A two-block causal GPT over `vocab` tokens and `t` positions.
fn tiny_gpt(vocab: usize, t: usize) -> Sequential<f32> {
    Sequential::new(&[t])
        .add(Embedding::new(vocab, 8).name("token_embedding"))
        .add(PositionEmbedding::new(t).name("position_embedding"))
        .add(
            TransformerBlock::new(2)
                .causal(true)
                .mlp_ratio(2)
                .name("block_1"),
        )
        .add(
            TransformerBlock::new(2)
                .causal(true)
                .mlp_ratio(2)
                .name("block_2"),
        )
        .add(LayerNormalization::new().epsilon(1e-5).name("final_norm"))
        .add(Dense::new(vocab).name("head"))
        .seed(3)
}

/// Token windows of a repeating sequence `0 1 2 … vocab-1 0 1 …`, with
/// next-token targets.
fn cyclic_windows(vocab: usize, t: usize, rows: usize) -> (Tensor<f32>, Tensor<f32>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for r in 0..rows {
        for i in 0..t {
            x.push(((r + i) % vocab) as f32);
            y.push(((r + i + 1) % vocab) as f32);
        }
    }
    (
        Tensor::from_vec(x, &[rows, t]).expect("shape"),
        Tensor::from_vec(y, &[rows, t]).expect("shape"),
    )
}

#[test]
fn nested_parameter_names_reach_the_model() {
    let mut model = tiny_gpt(7, 5);
    model.build().expect("build");
    let names: Vec<String> = model
        .layers()
        .iter()
        .flat_map(|l| {
            l.params()
                .into_iter()
                .map(move |p| format!("{}/{}", l.name(), p.name()))
        })
        .collect();
    assert!(
        names.contains(&"block_1/attention/query/kernel".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"block_2/mlp_2/bias".to_string()));
    assert!(names.contains(&"block_1/norm_1/gamma".to_string()));
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    // Block params: 4 projections of 8x8+8, two norms of 8+8, MLP 8x16+16 and 16x8+8.
    let block = 4 * (64 + 8) + 2 * 16 + (128 + 16) + (128 + 8);
    let summary = model.summary();
    assert!(
        summary.contains(&format!(
            "block_1 (TransformerBlock)    (None, 5, 8)              {block:>10}"
        )),
        "{summary}"
    );
    let total = 7 * 8 + 5 * 8 + 2 * block + 16 + (8 * 7 + 7);
    assert_eq!(model.param_count(), total);
}

#[test]
fn freezing_a_block_freezes_its_nested_parameters() {
    let mut model = tiny_gpt(7, 5);
    model.build().expect("build");
    let before = model.trainable_params().len();
    model.layers_mut()[2].set_trainable(false);
    let frozen = model.layers()[2].params().len();
    assert_eq!(model.trainable_params().len(), before - frozen);
    assert!(frozen > 0);
}

#[test]
fn a_gpt_learns_a_cyclic_sequence_with_fit_and_evaluate() {
    let (vocab, t) = (7, 6);
    let mut model = tiny_gpt(vocab, t);
    model
        .compile(
            Adam::new(0.01),
            SparseCategoricalCrossentropy { from_logits: true },
            &[Metric::SparseCategoricalAccuracy],
        )
        .expect("compile");
    let (x, y) = cyclic_windows(vocab, t, 28);
    let before = model.evaluate(&x, &y).expect("evaluate");
    // Untrained: about ln 7 = 1.95 nats per token.
    assert!(
        (before.loss - (vocab as f64).ln()).abs() < 0.5,
        "{}",
        before.loss
    );
    model
        .fit(
            &x,
            &y,
            FitOptions::default().epochs(30).batch_size(7).seed(1),
        )
        .expect("fit");
    let after = model.evaluate(&x, &y).expect("evaluate");
    assert!(after.loss < 0.2, "loss {} after training", after.loss);
    let acc = after
        .metric(Metric::SparseCategoricalAccuracy)
        .expect("metric");
    assert!(acc > 0.95, "accuracy {acc}");
}

#[test]
fn a_transformer_model_saves_and_loads_with_identical_predictions() {
    let mut model = tiny_gpt(7, 5);
    model
        .compile(
            Adam::new(0.01),
            SparseCategoricalCrossentropy { from_logits: true },
            &[],
        )
        .expect("compile");
    let (x, y) = cyclic_windows(7, 5, 14);
    model
        .fit(&x, &y, FitOptions::default().epochs(1).batch_size(7))
        .expect("fit");
    let path = TempPath::new("gpt");
    model.save(&path.0).expect("save");
    let again = Sequential::load(&path.0).expect("load");
    assert_eq!(
        model.predict(&x).expect("predict"),
        again.predict(&x).expect("predict")
    );
    assert_eq!(again.layers()[2].config(), model.layers()[2].config());
}

/// A user's residual block `x + inner(x)`, written from the public API.
#[derive(Debug)]
struct Residual {
    name: String,
    inner: Box<dyn Layer>,
}

impl Residual {
    fn new(inner: impl Layer + 'static) -> Self {
        Residual {
            name: "residual".into(),
            inner: Box::new(inner),
        }
    }

    fn from_config(config: &Value) -> tapeflow::Result<Box<dyn Layer>> {
        Ok(Box::new(Residual {
            name: config["name"].as_str().unwrap_or("residual").to_string(),
            inner: layers::deserialize(&config["inner"])?,
        }))
    }
}

impl Layer for Residual {
    fn kind(&self) -> &'static str {
        "Residual"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> tapeflow::Result<Vec<usize>> {
        self.inner.build(input_shape, rng)?;
        layers::nest_params(self.inner.as_mut());
        Ok(input_shape.to_vec())
    }
    fn forward<'t>(&self, x: Var<'t>, mode: Mode) -> tapeflow::Result<Var<'t>> {
        x.add(&self.inner.forward(x, mode)?)
    }
    fn params(&self) -> Vec<&Param> {
        self.inner.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.inner.params_mut()
    }
    fn config(&self) -> Value {
        json!({ "name": self.name, "inner": layers::serialize(self.inner.as_ref()) })
    }
}

#[test]
fn a_user_block_saves_and_loads_once_its_kind_is_registered() {
    let mut model = Sequential::new(&[4])
        .add(Residual::new(
            Dense::new(4).activation(Activation::Tanh).name("inner"),
        ))
        .add(Dense::new(2))
        .seed(5);
    model.build().expect("build");
    assert_eq!(model.layers()[0].params()[0].name(), "inner/kernel");
    let path = TempPath::new("user");
    model.save(&path.0).expect("save");
    // The kind is unknown until registered (registration is process-wide,
    // so this test is the only one to use the kind "Residual").
    let err = Sequential::load(&path.0).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "layer 0: from_config: unknown layer kind \"Residual\"; register it with tapeflow::layers::register::<f32>(\"Residual\", ...) before loading"
        ),
        "{err}"
    );
    layers::register::<f32>("Residual", Residual::from_config).expect("register");
    let again = Sequential::load(&path.0).expect("load");
    let x = Tensor::from_vec((0..8).map(|v| v as f32 / 4.0).collect(), &[2, 4]).expect("shape");
    assert_eq!(
        model.predict(&x).expect("predict"),
        again.predict(&x).expect("predict")
    );
}

#[test]
fn per_position_labels_of_the_wrong_length_are_named() {
    let mut model = tiny_gpt(7, 5);
    model
        .compile(
            Adam::new(0.01),
            SparseCategoricalCrossentropy { from_logits: true },
            &[],
        )
        .expect("compile");
    let (x, _) = cyclic_windows(7, 5, 4);
    let (_, y_long) = cyclic_windows(7, 6, 4);
    let err = model.evaluate(&x, &y_long).unwrap_err().to_string();
    assert_eq!(
        err,
        "evaluate: sparse labels must have shape [rows] or [rows, 1], or [rows, 5], got [4, 6]"
    );
}
