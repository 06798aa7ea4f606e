//! Convolutions on [`Var`]: `conv2d` (NHWC input, HWIO kernel, stride,
//! padding, dilation, groups, bias) and `conv1d` on top of it.
//!
//! Lowered onto GEMM, chunk by chunk of whole images (`tensor::conv_gemm`):
//! each chunk's input patches are unrolled into a column matrix (`im2col`)
//! and multiplied by the kernel matrix, the bias added by the same product;
//! a 1×1 stride-1 convolution multiplies the input directly. The backward
//! pass computes only what the tape needs, in one sweep over the chunks:
//! `d kernel = colsᵀ · g` (each chunk's columns unrolled again) when the
//! kernel needs a gradient, `d x = col2im(g · kernelᵀ)` when the input
//! does, `d bias = Σ g` when the bias does. Chunks are fixed by the shapes, not by the thread count, so
//! results are the same bits on 1 thread and on 2.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::conv::{Padding, Window, conv2d_geometry};
use crate::tensor::conv_gemm::{Grads, Needs, backward, forward};

/// The settings of a convolution: strides, padding, dilation and groups
/// (Keras's `strides`, `padding`, `dilation_rate`, `groups`; PyTorch's
/// `stride`, `padding`, `dilation`, `groups`).
///
/// Defaults: strides `[1, 1]`, [`Padding::Valid`], dilation `[1, 1]`,
/// groups 1. With `groups = channels` the convolution is depthwise.
///
/// # Examples
///
/// ```
/// use tapeflow::ops::ConvSpec;
/// use tapeflow::tensor::Padding;
///
/// let spec = ConvSpec::new().strides([2, 2]).padding(Padding::Same);
/// assert_eq!(spec.get_strides(), [2, 2]);
/// assert_eq!(ConvSpec::default().get_groups(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    strides: [usize; 2],
    padding: Padding,
    dilation: [usize; 2],
    groups: usize,
}

impl Default for ConvSpec {
    fn default() -> Self {
        ConvSpec {
            strides: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl ConvSpec {
    /// The defaults: stride 1, `valid`, dilation 1, one group.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new(), ConvSpec::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the strides `[height, width]` (each must be >= 1; checked by the op).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().strides([1, 2]).get_strides(), [1, 2]);
    /// ```
    pub fn strides(mut self, strides: [usize; 2]) -> Self {
        self.strides = strides;
        self
    }

    /// Sets the padding.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    /// use tapeflow::tensor::Padding;
    ///
    /// assert_eq!(ConvSpec::new().padding(Padding::Same).get_padding(), Padding::Same);
    /// ```
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the dilation `[height, width]` (each must be >= 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().dilation([2, 2]).get_dilation(), [2, 2]);
    /// ```
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }

    /// Sets the number of groups (must divide the input channels and the filters).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().groups(4).get_groups(), 4);
    /// ```
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The strides.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().get_strides(), [1, 1]);
    /// ```
    pub fn get_strides(&self) -> [usize; 2] {
        self.strides
    }

    /// The padding.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    /// use tapeflow::tensor::Padding;
    ///
    /// assert_eq!(ConvSpec::new().get_padding(), Padding::Valid);
    /// ```
    pub fn get_padding(&self) -> Padding {
        self.padding
    }

    /// The dilation.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().get_dilation(), [1, 1]);
    /// ```
    pub fn get_dilation(&self) -> [usize; 2] {
        self.dilation
    }

    /// The number of groups.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    ///
    /// assert_eq!(ConvSpec::new().get_groups(), 1);
    /// ```
    pub fn get_groups(&self) -> usize {
        self.groups
    }

    fn window(&self) -> Window {
        Window {
            strides: self.strides,
            dilation: self.dilation,
            padding: self.padding,
        }
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// 2-D convolution (cross-correlation, as in every framework) of an NHWC
    /// batch with an HWIO kernel, plus an optional bias:
    /// `y[b, i, j, o] = bias[o] + Σ_{p, q, c} x[b, i·s₀ + p·d₀ - pad₀, j·s₁ + q·d₁ - pad₁, G(o)·cg + c] · w[p, q, c, o]`,
    /// where `cg = channels / groups` and `G(o)` is the group of filter `o`
    /// (reads in the padding are zero). Keras's `Conv2D` computation;
    /// PyTorch's `conv2d` after converting NCHW/OIHW to NHWC/HWIO.
    ///
    /// Gradient: `d x = col2im(g · wᵀ)`, `d w = colsᵀ · g`, `d bias = Σ g`,
    /// each computed only if that input needs a gradient.
    ///
    /// # Shapes
    ///
    /// `self`: `[batch, height, width, channels]`; `kernel`:
    /// `[kh, kw, channels / groups, filters]`; `bias`: `[filters]`; result:
    /// `[batch, out_h, out_w, filters]` with the lengths of [`Padding`].
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `conv2d`) for an input or kernel that is
    /// not 4-d; [`Error::InvalidArgument`] for a stride or dilation of 0, a
    /// kernel larger than the padded input, `groups` not dividing the
    /// channels and filters, a channel mismatch, or causal padding; each
    /// message carries the shapes. [`Error::ShapeMismatch`] for a bias that
    /// is not `[filters]`; [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::ConvSpec;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// // A 3x3 image of 1..9 and a 2x2 kernel of ones: each output sums a 2x2 patch.
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 3, 3, 1])?);
    /// let w = tape.watch(&Tensor::ones(&[2, 2, 1, 1])?);
    /// let y = x.conv2d(&w, None, ConvSpec::new())?;
    /// assert_eq!(y.value().to_vec(), vec![12.0, 16.0, 24.0, 28.0]);
    /// let g = tape.gradient(&y.sum(), [x, w])?;
    /// // The centre pixel is in all four windows.
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    /// assert_eq!(g.get(w).unwrap().to_vec(), vec![12.0, 16.0, 24.0, 28.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn conv2d(
        &self,
        kernel: &Var<'_, T>,
        bias: Option<&Var<'_, T>>,
        spec: ConvSpec,
    ) -> Result<Var<'t, T>> {
        const OP: &str = "conv2d";
        self.same_tape(OP, kernel)?;
        let (x, w) = (self.value(), kernel.value());
        let g = conv2d_geometry(OP, x.shape(), w.shape(), spec.window(), spec.groups)?;
        let kernel = Var::new(self.tape(), kernel.index());
        let f = g.filters;
        let bias = match bias {
            Some(bias) => {
                self.same_tape(OP, bias)?;
                if bias.shape() != [f] {
                    return Err(Error::ShapeMismatch {
                        op: OP,
                        lhs: vec![f],
                        rhs: bias.shape(),
                    });
                }
                Some((Var::new(self.tape(), bias.index()), bias.value()))
            }
            None => None,
        };
        let (lx, lw) = (self.requires_grad(), kernel.requires_grad());
        let b = bias.as_ref().map(|(_, b)| b.as_slice());
        let y = forward(OP, x.as_slice(), w.as_slice(), b, &g)?;
        let y = Tensor::from_parts(y, g.output_shape());
        let lb = bias.as_ref().is_some_and(|(b, _)| b.requires_grad());
        let needs = Needs {
            dx: lx,
            dw: lw,
            db: lb,
        };
        let grads = move |gy: &Tensor<T>| {
            let Grads { dx, dw, db } =
                backward(OP, gy.as_slice(), x.as_slice(), w.as_slice(), &g, needs);
            [
                dx.map(|dx| Tensor::from_parts(dx, x.shape().to_vec())),
                dw.map(|dw| Tensor::from_parts(dw, w.shape().to_vec())),
                db.map(|db| Tensor::from_parts(db, vec![f])),
            ]
        };
        let Some((bias, _)) = bias else {
            return Ok(self.tape().record_partial([*self, kernel], y, move |gy| {
                let [dx, dw, _] = grads(gy);
                [dx, dw]
            }));
        };
        Ok(self.tape().record_partial([*self, kernel, bias], y, grads))
    }

    /// 1-D convolution of a `[batch, steps, channels]` sequence with a
    /// `[k, channels / groups, filters]` kernel (Keras's `Conv1D`): the 2-D
    /// convolution of the sequence seen as a `[batch, 1, steps, channels]`
    /// image, so it shares [`conv2d`](Var::conv2d)'s formula and gradient.
    /// [`Padding::Causal`] pads `(k - 1) · dilation` zeros before the sequence.
    ///
    /// # Shapes
    ///
    /// `self`: `[batch, steps, channels]`; `kernel`: `[k, channels / groups,
    /// filters]`; `bias`: `[filters]`; result: `[batch, out_steps, filters]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `conv1d`) for an input or kernel that is
    /// not 3-d; otherwise as [`conv2d`](Var::conv2d) (op `conv2d`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    /// use tapeflow::tensor::Padding;
    ///
    /// // A running sum of two steps, causal: y_t = x_{t-1} + x_t.
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 3, 1])?);
    /// let w = tape.constant(&Tensor::ones(&[2, 1, 1])?);
    /// let y = x.conv1d(&w, None, 1, Padding::Causal, 1, 1)?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 3.0, 5.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn conv1d(
        &self,
        kernel: &Var<'_, T>,
        bias: Option<&Var<'_, T>>,
        stride: usize,
        padding: Padding,
        dilation: usize,
        groups: usize,
    ) -> Result<Var<'t, T>> {
        const OP: &str = "conv1d";
        let (xs, ws) = (self.shape(), kernel.shape());
        let (&[n, l, c], &[k, kc, f]) = (xs.as_slice(), ws.as_slice()) else {
            let bad = if xs.len() != 3 { xs } else { ws };
            return Err(Error::RankMismatch {
                op: OP,
                expected: "a 3-d input [batch, steps, channels] and a 3-d kernel [k, channels / groups, filters]",
                shape: bad,
            });
        };
        let x2 = self.reshape(&[n, 1, l, c])?;
        let w2 = kernel.reshape(&[1, k, kc, f])?;
        let spec = ConvSpec::new()
            .strides([1, stride])
            .padding(padding)
            .dilation([1, dilation])
            .groups(groups);
        let y = x2.conv2d(&w2, bias, spec)?;
        let shape = y.shape();
        y.reshape(&[shape[0], shape[2], shape[3]])
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::ConvSpec;
    use crate::tensor::Padding;
    use crate::{GradientTape, Tensor};

    #[test]
    fn frozen_kernel_and_constant_input_record_nothing() {
        let tape = GradientTape::<f32>::new();
        let x = tape.constant(&Tensor::ones(&[1, 3, 3, 2]).unwrap());
        let w = tape.constant(&Tensor::ones(&[2, 2, 2, 3]).unwrap());
        let y = x.conv2d(&w, None, ConvSpec::new()).unwrap();
        assert_eq!(y.shape(), vec![1, 2, 2, 3]);
        assert_eq!(y.value().to_vec(), vec![8.0; 12]);
        assert_eq!(tape.recorded_ops(), 0);
    }

    #[test]
    fn depthwise_convolution_keeps_channels_apart() {
        // Two channels, groups 2, kernel 1x1 with weights 2 and 3.
        let tape = GradientTape::<f64>::new();
        let x =
            tape.constant(&Tensor::from_vec(vec![1.0, 10.0, 2.0, 20.0], &[1, 1, 2, 2]).unwrap());
        let w = tape.constant(&Tensor::from_vec(vec![2.0, 3.0], &[1, 1, 1, 2]).unwrap());
        let y = x.conv2d(&w, None, ConvSpec::new().groups(2)).unwrap();
        assert_eq!(y.value().to_vec(), vec![2.0, 30.0, 4.0, 60.0]);
    }

    #[test]
    fn same_padding_with_stride_keeps_ceil_length() {
        let tape = GradientTape::<f32>::new();
        let x = tape.constant(&Tensor::ones(&[2, 5, 7, 1]).unwrap());
        let w = tape.constant(&Tensor::ones(&[3, 3, 1, 4]).unwrap());
        let spec = ConvSpec::new().strides([2, 2]).padding(Padding::Same);
        assert_eq!(x.conv2d(&w, None, spec).unwrap().shape(), vec![2, 3, 4, 4]);
    }
}
