//! Models: [`Sequential`] — building, summary, `compile`, `fit`,
//! `evaluate`, `predict`, saving and loading — with [`FitOptions`],
//! [`History`] and [`Evaluation`].
//!
//! This module owns the training loop and the model file; the pieces it
//! drives (layers, losses, metrics, optimizers, callbacks) live in their
//! own modules and know nothing of models.

// Declared in the order of the `Sequential` docs page, one group each so
// rustfmt keeps the order (rustdoc lists impl blocks in source order).
// Building: new, add, build.
mod sequential;
// compile, fit.
mod training;
// One epoch of `fit` and the context callbacks see.
mod epoch;
// evaluate, predict, predict_proba.
mod inference;
// Parameters and weights.
mod params;
// save, load.
mod persist;
// save_weights, load_weights, importing.
mod weights;
// summary.
mod summary;
// generate.
mod generate;
// Robustness.
mod robust;

mod atomic_write;
mod checks;
mod guard;
mod history;
mod logits;
mod options;
mod progress;
mod weights_torch;

pub use history::History;
pub use options::{Evaluation, FitOptions};
pub use persist::FORMAT_VERSION;
pub use sequential::{RESERVED_LAYER_NAMES, Sequential};
pub use weights_torch::WeightMap;
