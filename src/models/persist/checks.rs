//! The checks `load` makes of a model file against the model its config
//! rebuilds: parameter shapes before `build` allocates them, loaded
//! weights, and optimizer state, so a damaged file fails at `load`.

use std::path::Path;

use safetensors::tensor::SafeTensors;

use super::OPTIMIZER_PREFIX;
use crate::element::Float;
use crate::error::Result;
use crate::models::Sequential;
use crate::models::weights::format_error;
use crate::tensor::Tensor;

/// Checks each loaded weight against its parameter's shape (layers that
/// cannot plan their shapes escape `check_param_shapes`), naming the tensor.
pub(super) fn check_weight_shapes<T: Float>(
    m: &Sequential<T>,
    weights: &[Tensor<T>],
    path: &Path,
) -> Result<()> {
    let names = m.param_names("load")?;
    for ((name, p), w) in names.iter().zip(m.params()).zip(weights) {
        if p.value().shape() != w.shape() {
            return Err(format_error(
                "load",
                path,
                format!(
                    "tensor {name:?} has shape {:?}, the model expects {:?}",
                    w.shape(),
                    p.value().shape()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks, before the model is built, that the file holds every parameter
/// the layers plan for (`Layer::planned_shapes`), with the planned shape:
/// the parameters `build` then allocates are no larger than the file. A
/// layer that cannot plan ends the walk (its `build` reports any problem).
pub(super) fn check_param_shapes<T: Float>(
    m: &Sequential<T>,
    st: &SafeTensors<'_>,
    path: &Path,
) -> Result<()> {
    let bad = |message: String| format_error("load", path, message);
    let mut shape = m.input_shape.clone();
    for layer in &m.layers {
        let Some((params, out)) = layer.planned_shapes(&shape) else {
            return Ok(());
        };
        for (param, expected) in params {
            let name = format!("{}/{param}", layer.name());
            let view = st
                .tensor(&name)
                .map_err(|_| bad(format!("no tensor for parameter {name:?}")))?;
            if view.shape() != expected.as_slice() {
                return Err(bad(format!(
                    "tensor {name:?} has shape {:?}, the model expects {expected:?}",
                    view.shape()
                )));
            }
        }
        shape = out;
    }
    Ok(())
}

/// Checks that every saved optimizer slot `optimizer/<slot>/<position>`
/// refers to a parameter of the model and has its shape, so a bad file
/// fails at `load` rather than at the first training step.
pub(super) fn check_optimizer_state<T: Float>(
    m: &Sequential<T>,
    st: &SafeTensors<'_>,
    path: &Path,
) -> Result<()> {
    let params = m.params();
    for name in st.names() {
        let Some(key) = name.strip_prefix(OPTIMIZER_PREFIX) else {
            continue;
        };
        let Some((_, pos)) = key.rsplit_once('/') else {
            continue; // "iterations"; `load_state` checks the rest
        };
        let view = st
            .tensor(name)
            .map_err(|e| format_error("load", path, format!("tensor {name:?}: {e}")))?;
        let param = pos.parse::<usize>().ok().and_then(|p| params.get(p));
        match param {
            Some(p) if p.value().shape() == view.shape() => {}
            Some(p) => {
                return Err(format_error(
                    "load",
                    path,
                    format!(
                        "optimizer state {name:?} has shape {:?}, parameter {pos} has shape {:?}",
                        view.shape(),
                        p.value().shape()
                    ),
                ));
            }
            None => {
                return Err(format_error(
                    "load",
                    path,
                    format!(
                        "optimizer state {name:?} names no parameter (the model has {})",
                        params.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}
