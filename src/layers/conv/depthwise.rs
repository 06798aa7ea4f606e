//! [`DepthwiseConv2D`]: one filter bank per input channel.

use rand::rngs::StdRng;
use serde_json::Value;

use super::super::{Layer, Mode, PlannedShapes, Regularizer};
use super::core::{ConvCore, Flavour};
use crate::activations::Activation;
use crate::element::Float;
use crate::error::Result;
use crate::initializers::Initializer;
use crate::tape::{GradientTape, Param, Var};
use crate::tensor::Padding;

/// A depthwise 2-D convolution (Keras's `DepthwiseConv2D`; PyTorch's
/// `nn.Conv2d` with `groups = in_channels`): each input channel is convolved
/// with its own `depth_multiplier` filters, output channel
/// `c · depth_multiplier + m`.
///
/// The kernel is `[kh, kw, channels, depth_multiplier]` (Keras's layout),
/// named `"depthwise_kernel"`. Defaults as [`Conv2D`](super::Conv2D), depth multiplier 1,
/// name `"depthwise_conv2d"`.
///
/// # Shapes
///
/// `[batch, h, w, c]` to `[batch, out_h, out_w, c · depth_multiplier]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{DepthwiseConv2D, Layer};
///
/// let mut dw = DepthwiseConv2D::<f32>::new([3, 3]).depth_multiplier(2);
/// assert_eq!(dw.build(&[8, 8, 4], &mut StdRng::seed_from_u64(0))?, vec![6, 6, 8]);
/// assert_eq!(dw.param_count(), 3 * 3 * 4 * 2 + 8);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct DepthwiseConv2D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> DepthwiseConv2D<T> {
    /// A depthwise layer with a `kernel_size = [kh, kw]` window.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).config()["depth_multiplier"], 1);
    /// ```
    pub fn new(kernel_size: [usize; 2]) -> Self {
        DepthwiseConv2D {
            core: ConvCore::new(Flavour::Depthwise, "depthwise_conv2d", 1, kernel_size),
        }
    }

    /// Sets the number of filters per input channel (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).depth_multiplier(3).config()["depth_multiplier"], 3);
    /// ```
    pub fn depth_multiplier(mut self, multiplier: usize) -> Self {
        self.core.filters = multiplier;
        self
    }

    /// Sets the strides `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).strides([2, 2]).config()["strides"], serde_json::json!([2, 2]));
    /// ```
    pub fn strides(mut self, strides: [usize; 2]) -> Self {
        self.core.strides = strides;
        self
    }

    /// Sets the dilation `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).dilation_rate([2, 1]).config()["dilation_rate"], serde_json::json!([2, 1]));
    /// ```
    pub fn dilation_rate(mut self, dilation: [usize; 2]) -> Self {
        self.core.dilation = dilation;
        self
    }
}

conv_layer!(
    DepthwiseConv2D,
    "DepthwiseConv2D",
    Flavour::Depthwise,
    "let layer = tapeflow::layers::DepthwiseConv2D::<f32>::new([3, 3]);"
);
