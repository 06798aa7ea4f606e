//! What the normalization layers ([`LayerNormalization`](super::LayerNormalization)
//! and [`BatchNormalization`](super::BatchNormalization)) share: `epsilon`
//! and the learned per-feature scale `gamma` and offset `beta` over the last
//! axis (`scale`, `center`), with their config keys, planned shapes,
//! initial values and parameters. Each layer keeps its own checks, forward
//! pass and other state.

use serde_json::{Map, Value, json};

use super::config::Config;
use crate::element::Float;
use crate::error::Result;
use crate::tape::Param;
use crate::tensor::Tensor;

/// The config keys an [`Affine`] reads and writes, in the order it reads them.
pub(crate) const AFFINE_KEYS: [&str; 3] = ["epsilon", "center", "scale"];

/// `epsilon`, `center`, `scale` and the `gamma`/`beta` parameters they imply.
#[derive(Debug)]
pub(crate) struct Affine<T: Float> {
    /// `ε`, added to the variance (each layer checks its own range).
    pub(crate) epsilon: f64,
    /// Whether to add the learned offset `beta`.
    pub(crate) center: bool,
    /// Whether to multiply by the learned scale `gamma`.
    pub(crate) scale: bool,
    /// The scale, `[n]`, once built with `scale`.
    pub(crate) gamma: Option<Param<T>>,
    /// The offset, `[n]`, once built with `center`.
    pub(crate) beta: Option<Param<T>>,
}

impl<T: Float> Affine<T> {
    /// Keras's defaults: `epsilon = 1e-3`, `center` and `scale` on; unbuilt.
    pub(crate) fn new() -> Self {
        Affine {
            epsilon: 1e-3,
            center: true,
            scale: true,
            gamma: None,
            beta: None,
        }
    }

    /// Reads `epsilon`, `center` and `scale` from a config (absent keys
    /// keep their value).
    pub(crate) fn read_config(&mut self, c: &Config<'_>) -> Result<()> {
        if let Some(e) = c.f64("epsilon")? {
            self.epsilon = e;
        }
        if let Some(b) = c.bool("center")? {
            self.center = b;
        }
        if let Some(b) = c.bool("scale")? {
            self.scale = b;
        }
        Ok(())
    }

    /// Writes `epsilon`, `center` and `scale` into a config.
    pub(crate) fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("epsilon".to_string(), json!(self.epsilon));
        map.insert("center".to_string(), json!(self.center));
        map.insert("scale".to_string(), json!(self.scale));
    }

    /// The shapes `build(n)` gives: `gamma` if `scale`, then `beta` if
    /// `center`, `[n]` each.
    pub(crate) fn planned_shapes(&self, n: usize) -> Vec<(String, Vec<usize>)> {
        let mut params = Vec::new();
        if self.scale {
            params.push(("gamma".to_string(), vec![n]));
        }
        if self.center {
            params.push(("beta".to_string(), vec![n]));
        }
        params
    }

    /// Creates `gamma` (ones) if `scale` and `beta` (zeros) if `center`,
    /// `[n]` each, trainable.
    pub(crate) fn build(&mut self, n: usize) {
        let full = |v: T| Tensor::from_parts(vec![v; n], vec![n]);
        self.gamma = self.scale.then(|| Param::new("gamma", full(T::one())));
        self.beta = self.center.then(|| Param::new("beta", full(T::zero())));
    }

    /// `gamma` then `beta`, those that exist.
    pub(crate) fn params(&self) -> impl Iterator<Item = &Param<T>> {
        self.gamma.iter().chain(&self.beta)
    }

    /// `gamma` then `beta`, those that exist.
    pub(crate) fn params_mut(&mut self) -> impl Iterator<Item = &mut Param<T>> {
        self.gamma.iter_mut().chain(&mut self.beta)
    }
}
