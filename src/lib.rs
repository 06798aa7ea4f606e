//! tapeflow: a pure-Rust deep-learning library.
#![doc(test(attr(deny(warnings))))]

pub mod activations;
pub mod callbacks;
pub mod data;
pub mod element;
pub mod error;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod optimizers;
pub mod tape;
pub mod tensor;
pub mod testing;

pub use activations::Activation;
pub use element::{Float, num_threads, set_num_threads};
pub use error::{Error, Result};
pub use metrics::Metric;
pub use models::History;
pub use tape::{GradientTape, Gradients, Param, ParamId, Target, Var};
pub use tensor::Tensor;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
