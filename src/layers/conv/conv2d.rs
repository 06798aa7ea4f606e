//! [`Conv2D`]: 2-D convolution over NHWC images.

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

/// A 2-D convolution layer over NHWC images (Keras's `Conv2D`, PyTorch's
/// `nn.Conv2d` on channels-last data): `y = activation(conv2d(x, kernel) + bias)`.
///
/// The kernel is `[kh, kw, channels / groups, filters]` (HWIO) and named
/// `"kernel"`; the bias `[filters]`, `"bias"`. Defaults: strides `(1, 1)`,
/// `valid` padding, dilation `(1, 1)`, groups 1, no activation, a bias,
/// `glorot_uniform` kernel, `zeros` bias, name `"conv2d"`.
///
/// # Shapes
///
/// `[batch, h, w, channels]` to `[batch, out_h, out_w, filters]`, lengths as
/// in [`Padding`].
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Conv2D, Layer, Mode};
/// use tapeflow::tensor::Padding;
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut conv = Conv2D::new(8, [3, 3]).padding(Padding::Same);
/// assert_eq!(conv.build(&[28, 28, 1], &mut StdRng::seed_from_u64(0))?, vec![28, 28, 8]);
/// assert_eq!(conv.param_count(), 3 * 3 * 1 * 8 + 8);
/// let tape = GradientTape::new();
/// let y = conv.forward(tape.constant(&Tensor::<f32>::ones(&[2, 28, 28, 1])?), Mode::Infer)?;
/// assert_eq!(y.shape(), vec![2, 28, 28, 8]);
/// let err = conv.forward(tape.constant(&Tensor::ones(&[2, 28, 28, 3])?), Mode::Infer).unwrap_err();
/// assert_eq!(err.to_string(), "conv2d (Conv2D): expected input [_, height, width, 1], got [2, 28, 28, 3]");
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Conv2D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> Conv2D<T> {
    /// A layer of `filters` output channels and a `kernel_size = [kh, kw]`
    /// window, with the defaults above. Zero sizes are reported by `build`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// let conv = Conv2D::<f32>::new(32, [3, 3]);
    /// assert_eq!(conv.config()["filters"], 32);
    /// ```
    pub fn new(filters: usize, kernel_size: [usize; 2]) -> Self {
        Conv2D {
            core: ConvCore::new(Flavour::Conv2D, "conv2d", filters, kernel_size),
        }
    }

    /// Sets the strides `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).strides([2, 2]).config()["strides"], serde_json::json!([2, 2]));
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
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).dilation_rate([2, 2]).config()["dilation_rate"], serde_json::json!([2, 2]));
    /// ```
    pub fn dilation_rate(mut self, dilation: [usize; 2]) -> Self {
        self.core.dilation = dilation;
        self
    }

    /// Sets the number of groups (default 1); it must divide the input
    /// channels and the filters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).groups(2).config()["groups"], 2);
    /// ```
    pub fn groups(mut self, groups: usize) -> Self {
        self.core.groups = groups;
        self
    }
}

conv_layer!(
    Conv2D,
    "Conv2D",
    Flavour::Conv2D,
    "let layer = tapeflow::layers::Conv2D::<f32>::new(4, [3, 3]);"
);
