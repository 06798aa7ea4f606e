//! tapeflow: a pure-Rust deep-learning library.
#![doc(test(attr(deny(warnings))))]

pub mod element;
pub mod error;
pub mod tensor;

pub use element::{Float, num_threads, set_num_threads};
pub use error::{Error, Result};
pub use tensor::Tensor;
