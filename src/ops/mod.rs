//! Differentiable operations on [`Var`](crate::Var), one family per file.
//!
//! Each operation checks its inputs, computes its value with a
//! [`Tensor`](crate::Tensor) kernel, and records its backward rule in the same
//! function, so a reader sees both at once. Broadcasting is undone by the
//! tape, never by an op.
//!
//! # Conventions at edge points (PyTorch's, decided once, tested)
//!
//! | op | edge point | gradient |
//! |---|---|---|
//! | `relu`, `abs` | `x = 0` | 0 |
//! | `leaky_relu`, `elu` | `x = 0` | `alpha` |
//! | `hard_sigmoid` | `x = ±3` | 0 |
//! | `clamp` | `x = min` or `x = max` | 0 (PyTorch 2; the losses' internal clipping passes it, as TensorFlow) |
//! | `max_axis` | ties | shared equally (as `torch.amax`) |
//! | `powf(p)` | `p = 0`, any `x` | 0 |
//! | `powf(p)` | `x = 0` | 1 for `p = 1`, 0 for `p > 1`, `+inf` for `0 < p < 1`, `-inf` for `p < 0` |
//! | `sqrt`, `ln` | `x = 0` | `+inf` |
//!
//! NaN propagates through every op and activation (value NaN in, NaN out),
//! as in PyTorch and NumPy. Reductions over an empty axis (`mean_axis`,
//! `max_axis`) are errors: NumPy and PyTorch return NaN (or `-inf`) there,
//! and this crate never returns a silent NaN.

mod activation;
mod attention;
mod batch_norm;
mod conv;
mod elementwise;
mod embedding;
mod fused_attention;
mod layer_norm;
mod linear_gelu;
mod matmul;
mod nn;
mod pool;
mod reduce;
mod shape;

pub use attention::{SoftmaxMask, causal_mask};
pub use conv::ConvSpec;
