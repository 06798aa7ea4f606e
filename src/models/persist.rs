//! `save` and `load`: the whole model — architecture, weights, compile
//! settings, optimizer state and history — in one safetensors file.
//!
//! Layout: each parameter is a tensor named `"<layer>/<param>"`; each
//! optimizer slot a tensor `"optimizer/<slot>/<position>"`; the file's
//! metadata (string → string, as safetensors allows) holds `format`
//! (`"tapeflow"`), `format_version`, `tapeflow_version`, `dtype`, and JSON
//! under `model`, `compile` and `history`. The two tensor namespaces cannot
//! overlap because layer names `optimizer` and `optimizer/…` are reserved
//! ([`RESERVED_LAYER_NAMES`](super::RESERVED_LAYER_NAMES)).

use std::collections::HashMap;
use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::SafeTensors;
use serde_json::{Value, json};

use super::Sequential;
use super::atomic_write::write_atomic;
use super::weights::{format_error, parse, read_file, serialize};
use crate::element::Float;
use crate::error::Result;
use crate::metrics::Metric;
use crate::tensor::Tensor;
use checks::{check_optimizer_state, check_param_shapes, check_weight_shapes};
use history_json::history_to_json;
use read::{read_compiled, read_tensor};

// The shape checks a load makes before it builds or sets anything.
mod checks;
// The history as metadata JSON.
mod history_json;
// Tensors and compile settings read back from a file.
mod read;

/// The newest file layout this version writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const OPTIMIZER_PREFIX: &str = "optimizer/";

impl<T: Float> Sequential<T> {
    /// Saves the whole model to one safetensors file: the architecture, the
    /// weights, and (when compiled) the optimizer with its state, the loss,
    /// the metrics and the history, so that [`load`](Self::load) gives back a
    /// model that predicts identically and goes on training where it stopped.
    /// The file opens in Python with `safetensors.numpy.load_file`.
    ///
    /// The write is atomic: a temporary file in the same folder
    /// (`.<name>.tmp-<pid>-<n>`), flushed, then renamed; on any failure the
    /// previous file is untouched. A save removes the stale temporaries an
    /// interrupted save of the same path left behind (those of a process
    /// that no longer runs; see `docs/saving.md`).
    ///
    /// # Errors
    ///
    /// If the model is not built, two parameters share a name, or a layer
    /// has a reserved name;
    /// [`Error::Io`](crate::Error::Io) naming the path if it cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_doc_save_{}.safetensors", std::process::id()));
    /// let mut model = Sequential::new(&[2]).add(Dense::new(4).activation(Activation::Relu)).add(Dense::new(1));
    /// model.compile(Adam::new(0.01), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// model.save(&path)?;
    /// let again = Sequential::load(&path)?;
    /// let x = Tensor::ones(&[3, 2])?;
    /// assert_eq!(model.predict(&x)?, again.predict(&x)?);
    /// std::fs::remove_file(&path).ok();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "save";
        let path = path.as_ref();
        if !self.is_built() {
            return Err(self.not_built(OP));
        }
        let mut tensors: Vec<(String, Tensor<T>)> = self
            .param_names(OP)?
            .into_iter()
            .zip(self.get_weights())
            .collect();
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|l| {
                let trainable: Vec<bool> = l.params().iter().map(|p| p.trainable()).collect();
                json!({ "kind": l.kind(), "config": l.config(), "trainable": trainable })
            })
            .collect();
        let model = json!({
            "name": self.name,
            "input_shape": self.input_shape,
            "seed": self.seed,
            "layers": layers,
        });
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), "tapeflow".to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert(
            "tapeflow_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        );
        meta.insert("dtype".to_string(), T::NAME.to_string());
        meta.insert("model".to_string(), model.to_string());
        if let Some(c) = &self.compiled {
            let compile = json!({
                "optimizer": { "name": c.optimizer.name(), "config": c.optimizer.config() },
                "loss": { "name": c.loss.name(), "config": c.loss.config() },
                "metrics": c.metrics.iter().map(Metric::to_config).collect::<Vec<_>>(),
            });
            meta.insert("compile".to_string(), compile.to_string());
            meta.insert(
                "history".to_string(),
                history_to_json(&c.history).to_string(),
            );
            for (key, t) in c.optimizer.state() {
                tensors.push((format!("{OPTIMIZER_PREFIX}{key}"), t));
            }
        }
        let bytes = serialize(OP, path, &tensors, meta)?;
        write_atomic(OP, path, &bytes)
    }

    /// Loads a model written by [`save`](Self::save) as a model of element
    /// type `T`: rebuilt layer by layer, weights restored, and compiled
    /// again with the saved optimizer (state included), loss and metrics
    /// when it was compiled. [`Sequential::load`] is this for `f32`.
    ///
    /// A file saved in the other dtype is converted, as PyTorch's
    /// `load_state_dict` copies a checkpoint into each parameter's dtype:
    /// weights and optimizer state are cast from `f64` to `f32` (rounded to
    /// nearest, so the `f32` model predicts within `f32` rounding of the
    /// `f64` one) or from `f32` to `f64` (exactly). A finite `f64` value
    /// beyond `f32`'s range (about ±3.4e38) is an error naming the tensor,
    /// never a silent infinity.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) naming the path if it cannot be read;
    /// [`Error::Format`](crate::Error::Format) naming the path and the
    /// problem for a file that is not safetensors, has no tapeflow metadata
    /// (a weights-only file: use [`load_weights`](Self::load_weights)), was
    /// written by a newer format version, names a dtype other than `f32`
    /// or `f64`, holds a tensor whose dtype differs from the one its
    /// metadata names or whose value overflows `T`, names a layer type this
    /// version does not know, or lacks or misshapes a tensor.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_doc_load_typed_{}.safetensors", std::process::id()));
    /// let mut wide = Sequential::<f64>::new_typed(&[2]).add(Dense::new(1));
    /// wide.build()?;
    /// wide.set_weights(vec![Tensor::from_vec(vec![0.1, 0.2], &[2, 1])?, Tensor::zeros(&[1])?])?;
    /// wide.save(&path)?;
    ///
    /// let same = Sequential::<f64>::load_typed(&path)?;        // f64 as saved
    /// assert_eq!(same.get_weights(), wide.get_weights());
    /// let narrow = Sequential::load(&path)?;                   // f32: rounded
    /// assert_eq!(narrow.get_weights()[0].to_vec(), vec![0.1f32, 0.2]);
    /// std::fs::remove_file(&path).ok();
    ///
    /// let err = Sequential::<f64>::load_typed("no/such/model.safetensors").unwrap_err();
    /// assert!(err.to_string().starts_with("load: no/such/model.safetensors: "));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn load_typed(path: impl AsRef<Path>) -> Result<Self> {
        const OP: &str = "load";
        let path = path.as_ref();
        let bytes = read_file(OP, path)?;
        let st = parse(OP, path, &bytes)?;
        let bad = |message: String| format_error(OP, path, message);
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some("tapeflow") {
            return Err(bad(
                "no tapeflow model metadata (a weights-only file?); build the model and use load_weights".to_string(),
            ));
        }
        let version: u32 = meta
            .get("format_version")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("metadata has no valid format_version".to_string()))?;
        if version > FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version} is newer than this tapeflow reads ({FORMAT_VERSION}); upgrade tapeflow"
            )));
        }
        let stored = match meta.get("dtype").map(String::as_str) {
            Some("f32") => Dtype::F32,
            Some("f64") => Dtype::F64,
            other => {
                return Err(bad(format!(
                    "metadata dtype is {other:?}; a model file holds \"f32\" or \"f64\""
                )));
            }
        };
        let json_of = |key: &str| -> Result<Value> {
            let text = meta
                .get(key)
                .ok_or_else(|| bad(format!("metadata has no {key:?}")))?;
            serde_json::from_str::<Value>(text)
                .map_err(|e| bad(format!("metadata {key:?} is not valid JSON ({e})")))
        };
        let model = json_of("model")?;
        let input_shape: Vec<usize> = model["input_shape"]
            .as_array()
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .ok_or_else(|| bad("model metadata has no valid input_shape".to_string()))?;
        let mut m = Sequential::new_typed(&input_shape)
            .name(model["name"].as_str().unwrap_or("sequential"))
            .seed(model["seed"].as_u64().unwrap_or(0));
        let layers = model["layers"]
            .as_array()
            .ok_or_else(|| bad("model metadata has no layer list".to_string()))?;
        for (i, entry) in layers.iter().enumerate() {
            let kind = entry["kind"]
                .as_str()
                .ok_or_else(|| bad(format!("layer {i} has no kind")))?;
            let layer = crate::layers::from_config::<T>(kind, &entry["config"])
                .map_err(|e| bad(format!("layer {i}: {e}")))?;
            m.push(layer);
        }
        m.check_layer_names(OP)
            .map_err(|e| bad(format!("cannot rebuild the model: {e}")))?;
        // Before `build` allocates anything: every parameter the config
        // implies must be in the file with its shape, so a corrupt config
        // (a Dense of 10^12 units) is an error, not an allocation failure.
        check_param_shapes(&m, &st, path)?;
        m.build()
            .map_err(|e| bad(format!("cannot rebuild the model: {e}")))?;
        for (i, (entry, layer)) in layers.iter().zip(m.layers.iter_mut()).enumerate() {
            let Some(flags) = entry.get("trainable") else {
                continue;
            };
            let flags: Vec<bool> = flags
                .as_array()
                .and_then(|a| a.iter().map(Value::as_bool).collect::<Option<_>>())
                .filter(|f: &Vec<bool>| f.len() == layer.params().len())
                .ok_or_else(|| {
                    bad(format!(
                        "layer {i}: \"trainable\" must be one true/false per parameter, got {flags}"
                    ))
                })?;
            for (p, t) in layer.params_mut().into_iter().zip(flags) {
                p.set_trainable(t);
            }
        }
        let mut weights = Vec::new();
        for name in m.param_names(OP)? {
            let view = st
                .tensor(&name)
                .map_err(|_| bad(format!("no tensor for parameter {name:?}")))?;
            weights.push(read_tensor::<T>(path, &name, &view, stored)?);
        }
        check_weight_shapes(&m, &weights, path)?;
        m.set_weights(weights)?;
        if meta.contains_key("compile") {
            check_optimizer_state(&m, &st, path)?;
            m.compiled = Some(read_compiled(
                &st,
                path,
                stored,
                &json_of("compile")?,
                meta.get("history"),
            )?);
        }
        Ok(m)
    }
}

impl Sequential<f32> {
    /// Loads a model written by [`save`](Sequential::save) as an `f32`
    /// model, Keras's `keras.models.load_model`; a file saved from an `f64`
    /// model is converted (rounded to nearest). For `f64` or generic code
    /// use [`load_typed`](Sequential::load_typed), which documents the
    /// conversion.
    ///
    /// # Errors
    ///
    /// As [`load_typed`](Sequential::load_typed): an unreadable or damaged
    /// file, naming the path and the problem; an `f64` value beyond `f32`'s
    /// range, naming the tensor.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let path = std::env::temp_dir().join(format!("tapeflow_doc_load_{}.safetensors", std::process::id()));
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.compile(Adam::new(0.01), MeanSquaredError, &[])?;
    /// model.save(&path)?;
    /// let again = Sequential::load(&path)?;
    /// assert_eq!(again.get_weights(), model.get_weights());
    /// std::fs::remove_file(&path).ok();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Sequential::load_typed(path)
    }
}
