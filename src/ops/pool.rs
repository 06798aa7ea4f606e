//! Pooling on [`Var`]: max and average over 2-D windows of NHWC batches and
//! 1-D windows of `[batch, steps, channels]` sequences, and global average
//! and max pooling over the spatial axes.
//!
//! Conventions (TensorFlow's and PyTorch's): max pooling sends each output's
//! gradient to the first maximum of its window; average pooling divides by
//! the number of input elements in the window, padding excluded (PyTorch's
//! `count_include_pad=False`). Global max pooling is `max_axis`, whose ties
//! share the gradient equally.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::conv::{Padding, Window, window_axes};
use crate::tensor::pool::{
    PoolGeometry, avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward,
};

fn geometry(
    op: &'static str,
    shape: &[usize],
    pool_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
) -> Result<PoolGeometry> {
    if padding == Padding::Causal {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "padding must be \"valid\" or \"same\", got \"causal\" (input shape {shape:?})"
            ),
        });
    }
    let window = Window {
        strides,
        dilation: [1, 1],
        padding,
    };
    let [h, w] = window_axes(op, shape, pool_size, window)?;
    let g = PoolGeometry {
        batch: shape[0],
        channels: shape[3],
        h,
        w,
    };
    let fits = g
        .batch
        .checked_mul(h.output)
        .and_then(|n| n.checked_mul(w.output))
        .and_then(|n| n.checked_mul(g.channels))
        .is_some();
    if !fits {
        return Err(Error::InvalidArgument {
            op,
            message: format!("input {shape:?} gives too many elements to count"),
        });
    }
    Ok(g)
}

/// Reshapes a `[batch, steps, channels]` sequence to `[batch, 1, steps,
/// channels]`, runs a 2-D op, and reshapes back.
fn as_1d<'t, T: Float>(
    x: &Var<'t, T>,
    op: &'static str,
    f: impl FnOnce(Var<'t, T>) -> Result<Var<'t, T>>,
) -> Result<Var<'t, T>> {
    let &[n, l, c] = x.shape().as_slice() else {
        return Err(Error::RankMismatch {
            op,
            expected: "a 3-d input [batch, steps, channels]",
            shape: x.shape(),
        });
    };
    let y = f(x.reshape(&[n, 1, l, c])?)?;
    let s = y.shape();
    y.reshape(&[s[0], s[2], s[3]])
}

impl<'t, T: Float> Var<'t, T> {
    /// 2-D max pooling of an NHWC batch: each output is the maximum of a
    /// `pool_size` window (Keras's `MaxPooling2D`, PyTorch's `max_pool2d`).
    /// Padded positions never win. NaN in a window propagates.
    ///
    /// Gradient: each output's gradient goes to the first maximum of its window.
    ///
    /// # Shapes
    ///
    /// `[batch, h, w, c]` to `[batch, out_h, out_w, c]`, lengths as in [`Padding`].
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `max_pool2d`) for an input that is not
    /// 4-d; [`Error::InvalidArgument`] for a pool size or stride of 0, a
    /// window larger than the padded input, or causal padding.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[1, 2, 2, 1])?);
    /// let y = x.max_pool2d([2, 2], [2, 2], Padding::Valid)?;
    /// assert_eq!(y.value().to_vec(), vec![5.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max_pool2d(
        &self,
        pool_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    ) -> Result<Var<'t, T>> {
        let x = self.value();
        let g = geometry("max_pool2d", x.shape(), pool_size, strides, padding)?;
        let y = Tensor::from_parts(max_pool2d(x.as_slice(), &g)?, g.output_shape());
        let shape = x.shape().to_vec();
        let y_kept = y.clone();
        Ok(self.tape().record([*self], y, move |gy| {
            let dx = max_pool2d_backward(gy.as_slice(), x.as_slice(), y_kept.as_slice(), &g);
            [Tensor::from_parts(dx, shape.clone())]
        }))
    }

    /// 2-D average pooling of an NHWC batch (Keras's `AveragePooling2D`):
    /// each output is the mean of the input elements in its window, padding
    /// excluded from the count.
    ///
    /// Gradient: each output's gradient, divided by its window's count, goes
    /// to every element of the window.
    ///
    /// # Shapes
    ///
    /// As [`max_pool2d`](Var::max_pool2d).
    ///
    /// # Errors
    ///
    /// As [`max_pool2d`](Var::max_pool2d), op `avg_pool2d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 3.0], &[1, 2, 2, 1])?);
    /// let y = x.avg_pool2d([2, 2], [2, 2], Padding::Valid)?;
    /// assert_eq!(y.value().to_vec(), vec![3.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.25; 4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn avg_pool2d(
        &self,
        pool_size: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    ) -> Result<Var<'t, T>> {
        let x = self.value();
        let g = geometry("avg_pool2d", x.shape(), pool_size, strides, padding)?;
        let y = Tensor::from_parts(avg_pool2d(x.as_slice(), &g)?, g.output_shape());
        let shape = x.shape().to_vec();
        Ok(self.tape().record([*self], y, move |gy| {
            let dx = avg_pool2d_backward(gy.as_slice(), &g);
            [Tensor::from_parts(dx, shape.clone())]
        }))
    }

    /// 1-D max pooling of a `[batch, steps, channels]` sequence (Keras's
    /// `MaxPooling1D`): [`max_pool2d`](Var::max_pool2d) over windows of
    /// `pool_size` steps.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `max_pool1d`) for an input that is not
    /// 3-d; otherwise as [`max_pool2d`](Var::max_pool2d).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 4.0, 2.0, 3.0], &[1, 4, 1])?);
    /// let y = x.max_pool1d(2, 2, Padding::Valid)?;
    /// assert_eq!(y.value().to_vec(), vec![4.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max_pool1d(
        &self,
        pool_size: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Var<'t, T>> {
        as_1d(self, "max_pool1d", |x| {
            x.max_pool2d([1, pool_size], [1, stride], padding)
        })
    }

    /// 1-D average pooling of a `[batch, steps, channels]` sequence (Keras's
    /// `AveragePooling1D`).
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `avg_pool1d`) for an input that is not
    /// 3-d; otherwise as [`avg_pool2d`](Var::avg_pool2d).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 3.0, 2.0], &[1, 3, 1])?);
    /// let y = x.avg_pool1d(2, 2, Padding::Same)?;
    /// assert_eq!(y.value().to_vec(), vec![2.0, 2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn avg_pool1d(
        &self,
        pool_size: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Var<'t, T>> {
        as_1d(self, "avg_pool1d", |x| {
            x.avg_pool2d([1, pool_size], [1, stride], padding)
        })
    }

    /// Global average pooling: the mean over the height and width of an
    /// NHWC batch (Keras's `GlobalAveragePooling2D`), `[b, h, w, c] → [b, c]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `global_avg_pool2d`) for an input that is not 4-d.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[1, 1, 2, 2])?);
    /// assert_eq!(x.global_avg_pool2d()?.value().to_vec(), vec![2.0, 20.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn global_avg_pool2d(&self) -> Result<Var<'t, T>> {
        let [n, hw, c] = spatial("global_avg_pool2d", &self.shape())?;
        self.reshape(&[n, hw, c])?.mean_axis(1, false)
    }

    /// Global max pooling: the maximum over the height and width of an NHWC
    /// batch (Keras's `GlobalMaxPooling2D`), `[b, h, w, c] → [b, c]`; ties
    /// share the gradient equally (as [`max_axis`](Var::max_axis)).
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `global_max_pool2d`) for an input that is
    /// not 4-d or has no spatial element.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[1, 1, 2, 2])?);
    /// assert_eq!(x.global_max_pool2d()?.value().to_vec(), vec![3.0, 30.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn global_max_pool2d(&self) -> Result<Var<'t, T>> {
        let [n, hw, c] = spatial("global_max_pool2d", &self.shape())?;
        self.reshape(&[n, hw, c])?.max_axis(1, false)
    }
}

/// `[batch, h · w, channels]` of a 4-d shape with at least one spatial element.
fn spatial(op: &'static str, shape: &[usize]) -> Result<[usize; 3]> {
    match *shape {
        [n, h, w, c] if h > 0 && w > 0 => Ok([n, h * w, c]),
        _ => Err(Error::RankMismatch {
            op,
            expected: "a 4-d input [batch, height, width, channels] with height, width >= 1",
            shape: shape.to_vec(),
        }),
    }
}
