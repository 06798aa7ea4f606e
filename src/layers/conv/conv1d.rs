//! [`Conv1D`]: 1-D convolution over `[batch, steps, channels]` sequences.

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

/// A 1-D convolution layer over `[batch, steps, channels]` sequences
/// (Keras's `Conv1D`): the kernel is `[k, channels / groups, filters]`.
/// Same defaults as [`Conv2D`](super::Conv2D) (name `"conv1d"`); padding may also be
/// [`Padding::Causal`].
///
/// # Shapes
///
/// `[batch, steps, channels]` to `[batch, out_steps, filters]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Conv1D, Layer};
/// use tapeflow::tensor::Padding;
///
/// let mut conv = Conv1D::<f32>::new(16, 5).padding(Padding::Causal);
/// assert_eq!(conv.build(&[100, 3], &mut StdRng::seed_from_u64(0))?, vec![100, 16]);
/// assert_eq!(conv.kernel().unwrap().value().shape(), &[5, 3, 16]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Conv1D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> Conv1D<T> {
    /// A layer of `filters` output channels and a window of `kernel_size` steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).config()["kernel_size"], serde_json::json!([3]));
    /// ```
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Conv1D {
            core: ConvCore::new(Flavour::Conv1D, "conv1d", filters, [1, kernel_size]),
        }
    }

    /// Sets the stride (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).strides(2).config()["strides"], serde_json::json!([2]));
    /// ```
    pub fn strides(mut self, stride: usize) -> Self {
        self.core.strides = [1, stride];
        self
    }

    /// Sets the dilation (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).dilation_rate(2).config()["dilation_rate"], serde_json::json!([2]));
    /// ```
    pub fn dilation_rate(mut self, dilation: usize) -> Self {
        self.core.dilation = [1, dilation];
        self
    }

    /// Sets the number of groups (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).groups(2).config()["groups"], 2);
    /// ```
    pub fn groups(mut self, groups: usize) -> Self {
        self.core.groups = groups;
        self
    }
}

conv_layer!(
    Conv1D,
    "Conv1D",
    Flavour::Conv1D,
    "let layer = tapeflow::layers::Conv1D::<f32>::new(4, 3);"
);
