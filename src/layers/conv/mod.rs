//! Convolution layers: [`Conv2D`], [`Conv1D`] and [`DepthwiseConv2D`]
//! (Keras's names, defaults and configs), all on [`Var::conv2d`].
//!
//! Images are NHWC (`channels_last`, Keras's default) and sequences
//! `[batch, steps, channels]`; kernels are HWIO (`[kh, kw, in / groups,
//! filters]`, Keras's layout; PyTorch's `Conv2d.weight` is OIHW and is
//! converted on import by `WeightMap::pytorch_conv2d`). The three share one
//! implementation ([`ConvCore`]); each public type adds its constructor and
//! the settings that differ.

#[macro_use]
mod layer_macro;

mod conv1d;
mod conv2d;
mod core;
mod depthwise;

pub use conv1d::Conv1D;
pub use conv2d::Conv2D;
pub use depthwise::DepthwiseConv2D;
