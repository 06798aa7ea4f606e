//! Reading a model file back: its tensors (cast to the model's element
//! type) and its compile settings (optimizer with state, loss, metrics,
//! history).

use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::{SafeTensors, TensorView};
use serde_json::Value;

use super::OPTIMIZER_PREFIX;
use super::history_json::history_from_json;
use crate::element::Float;
use crate::error::Result;
use crate::metrics::Metric;
use crate::models::History;
use crate::models::training::Compiled;
use crate::models::weights::{format_error, from_view};
use crate::tensor::Tensor;

/// Reads a model-file tensor stored as `stored` (the dtype the file's
/// metadata names) into `T`, casting as PyTorch's `load_state_dict` does: a
/// finite value that overflows `T` is an error naming the tensor and index.
pub(super) fn read_tensor<T: Float>(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
    stored: Dtype,
) -> Result<Tensor<T>> {
    let bad = |message: String| format_error("load", path, message);
    // Every tensor of a model file has the dtype its metadata names:
    // another dtype there is damage, not a checkpoint to convert.
    if view.dtype() != stored {
        return Err(bad(format!(
            "tensor {name:?} has dtype {:?}, the file's metadata says {stored:?}",
            view.dtype()
        )));
    }
    // Of the dtypes the metadata may name (F32, F64), `from_view` reads
    // and casts exactly as a weights file is read.
    from_view("load", path, name, view)
}

/// Rebuilds the compile settings and the optimizer's state.
pub(super) fn read_compiled<T: Float>(
    st: &SafeTensors<'_>,
    path: &Path,
    stored: Dtype,
    compile: &Value,
    history: Option<&String>,
) -> Result<Compiled<T>> {
    const OP: &str = "load";
    let bad = |message: String| format_error(OP, path, message);
    let opt = &compile["optimizer"];
    let mut optimizer =
        crate::optimizers::from_config::<T>(opt["name"].as_str().unwrap_or(""), &opt["config"])
            .map_err(|e| bad(format!("optimizer: {e}")))?;
    let mut state = Vec::new();
    for name in st.names() {
        if let Some(key) = name.strip_prefix(OPTIMIZER_PREFIX) {
            let view = st
                .tensor(name)
                .map_err(|e| bad(format!("tensor {name:?}: {e}")))?;
            state.push((
                key.to_string(),
                read_tensor::<T>(path, name, &view, stored)?,
            ));
        }
    }
    state.sort_by(|a, b| a.0.cmp(&b.0));
    optimizer
        .load_state(&state)
        .map_err(|e| bad(format!("optimizer state: {e}")))?;
    let l = &compile["loss"];
    let loss = crate::losses::from_config::<T>(l["name"].as_str().unwrap_or(""), &l["config"])
        .map_err(|e| bad(format!("loss: {e}")))?;
    let metrics = compile["metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(Metric::from_config)
                .collect::<Result<Vec<_>>>()
        })
        .transpose()
        .map_err(|e| bad(format!("metrics: {e}")))?
        .unwrap_or_default();
    let history = match history {
        Some(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| history_from_json(&v))
            .ok_or_else(|| bad("metadata \"history\" is not a valid history".to_string()))?,
        None => History::default(),
    };
    Ok(Compiled {
        optimizer,
        loss,
        metrics,
        history,
    })
}
