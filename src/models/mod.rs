//! Models: [`Sequential`] — building, summary, `compile`, `fit`,
//! `evaluate`, `predict`, saving and loading — with [`FitOptions`],
//! [`History`] and [`Evaluation`].
//!
//! This module owns the training loop and the model file; the pieces it
//! drives (layers, losses, metrics, optimizers, callbacks) live in their
//! own modules and know nothing of models.

mod atomic_write;
mod checks;
mod generate;
mod guard;
mod history;
mod inference;
mod logits;
mod options;
mod params;
mod persist;
mod progress;
mod robust;
mod sequential;
mod summary;
mod training;
mod weights;
mod weights_torch;

pub use history::History;
pub use options::{Evaluation, FitOptions};
pub use persist::FORMAT_VERSION;
pub use sequential::{RESERVED_LAYER_NAMES, Sequential};
pub use weights_torch::WeightMap;
