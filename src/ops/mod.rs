//! Differentiable operations on [`Var`](crate::Var), one family per file.
//!
//! Each operation checks its inputs, computes its value with a
//! [`Tensor`](crate::Tensor) kernel, and records its backward rule in the same
//! function, so a reader sees both at once. Broadcasting is undone by the
//! tape, never by an op. Conventions, decided once: ReLU's (and `abs`'s)
//! gradient at 0 is 0; `max_axis` ties share the gradient equally; `clamp`
//! passes the gradient where `min <= x <= max` (PyTorch's rule).

mod activation;
mod attention;
mod elementwise;
mod embedding;
mod layer_norm;
mod matmul;
mod nn;
mod reduce;
mod shape;

pub use attention::{SoftmaxMask, causal_mask};
