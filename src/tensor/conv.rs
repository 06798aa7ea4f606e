//! Convolution kernels on NHWC data (crate-internal): the output geometry
//! of a convolution or pooling window (Keras's `valid`, `same` and
//! `causal` padding), and `im2col` / `col2im`, which lower a convolution
//! onto the GEMM path.
//!
//! No gradients here: [`ops::conv`](crate::ops) composes these kernels with
//! matrix products into differentiable ops. [`Padding`] is public because
//! the ops and layers take it.

use crate::element::Float;
use crate::error::{Error, Result};

/// How a convolution or pooling window treats the borders (Keras's
/// `padding` argument).
///
/// - `Valid`: no padding; the output is `⌊(in - extent) / stride⌋ + 1`
///   long, `extent = (kernel - 1) · dilation + 1`.
/// - `Same`: zero padding so that the output is `⌈in / stride⌉` long; the
///   total padding `max((out - 1) · stride + extent - in, 0)` is split with
///   the smaller half before and the larger after, as in TensorFlow (PyTorch's
///   `padding='same'` splits the same way for odd totals).
/// - `Causal`: 1-D only; `(kernel - 1) · dilation` zeros before the
///   sequence, none after, so output `t` sees inputs up to `t` only.
///
/// # Examples
///
/// ```
/// use tapeflow::tensor::Padding;
///
/// assert_eq!(Padding::from_name("same")?, Padding::Same);
/// assert_eq!(Padding::Valid.name(), "valid");
/// assert!(Padding::from_name("full").is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    /// No padding (Keras's default).
    #[default]
    Valid,
    /// Pad so the output length is `⌈in / stride⌉`.
    Same,
    /// Pad only before the sequence (1-D convolutions).
    Causal,
}

impl Padding {
    /// Keras's name: `"valid"`, `"same"` or `"causal"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    ///
    /// assert_eq!(Padding::Causal.name(), "causal");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
            Padding::Causal => "causal",
        }
    }

    /// Parses Keras's name (case-insensitive, as Keras does).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `padding`) for any other name.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::tensor::Padding;
    ///
    /// assert_eq!(Padding::from_name("VALID")?, Padding::Valid);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            "causal" => Ok(Padding::Causal),
            _ => Err(Error::InvalidArgument {
                op: "padding",
                message: format!("expected \"valid\", \"same\" or \"causal\", got {name:?}"),
            }),
        }
    }
}

/// One spatial axis of a window op: output length and padding before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Axis {
    /// Input length.
    pub input: usize,
    /// Kernel (window) length.
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Zeros before the input.
    pub pad_before: usize,
    /// Output length.
    pub output: usize,
}

impl Axis {
    /// The geometry of one axis, or `None` when the (dilated) kernel is
    /// larger than the padded input. `stride`, `dilation` and `kernel` must
    /// be at least 1 (checked by the caller).
    pub(crate) fn new(
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Option<Axis> {
        let extent = (kernel - 1).checked_mul(dilation)?.checked_add(1)?;
        let (pad_before, padded) = match padding {
            Padding::Valid => (0, input),
            Padding::Causal => (extent - 1, input.checked_add(extent - 1)?),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let needed = (out.max(1) - 1)
                    .checked_mul(stride)?
                    .checked_add(extent)?
                    .saturating_sub(input);
                (needed / 2, input.checked_add(needed)?)
            }
        };
        if extent > padded {
            return None;
        }
        Some(Axis {
            input,
            kernel,
            stride,
            dilation,
            pad_before,
            output: (padded - extent) / stride + 1,
        })
    }

    /// The input position that output `o`, kernel tap `k` reads, or `None`
    /// in the padding.
    #[inline]
    pub(crate) fn source(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.pad_before)
            .filter(|&i| i < self.input)
    }
}

/// The full geometry of a 2-D convolution on NHWC input with an HWIO
/// kernel `[kh, kw, channels / groups, filters]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conv2dGeometry {
    pub batch: usize,
    pub channels: usize,
    pub filters: usize,
    pub groups: usize,
    pub h: Axis,
    pub w: Axis,
}

impl Conv2dGeometry {
    /// Input channels per group.
    pub(crate) fn group_channels(&self) -> usize {
        self.channels / self.groups
    }

    /// Output channels per group.
    pub(crate) fn group_filters(&self) -> usize {
        self.filters / self.groups
    }

    /// Rows of the column matrix: `batch · out_h · out_w`.
    pub(crate) fn rows(&self) -> usize {
        self.batch * self.h.output * self.w.output
    }

    /// Columns of one group's column matrix: `kh · kw · channels / groups`.
    pub(crate) fn group_cols(&self) -> usize {
        self.h.kernel * self.w.kernel * self.group_channels()
    }

    /// The output shape `[batch, out_h, out_w, filters]`.
    pub(crate) fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.h.output, self.w.output, self.filters]
    }
}

/// Settings of a 2-D window op as passed in by the ops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub strides: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: Padding,
}

fn invalid(op: &'static str, message: String) -> Error {
    Error::InvalidArgument { op, message }
}

/// Checks strides, dilation and padding, and works out both spatial axes of
/// a window of `kernel` over `[_, h, w, _]`.
pub(crate) fn window_axes(
    op: &'static str,
    input_shape: &[usize],
    kernel: [usize; 2],
    window: Window,
) -> Result<[Axis; 2]> {
    if input_shape.len() != 4 {
        return Err(Error::RankMismatch {
            op,
            expected: "a 4-d input [batch, height, width, channels]",
            shape: input_shape.to_vec(),
        });
    }
    if window.strides.contains(&0) {
        return Err(invalid(
            op,
            format!("strides must be >= 1, got {:?}", window.strides),
        ));
    }
    if window.dilation.contains(&0) {
        return Err(invalid(
            op,
            format!("dilation must be >= 1, got {:?}", window.dilation),
        ));
    }
    if kernel.contains(&0) {
        return Err(invalid(
            op,
            format!("kernel size must be >= 1, got {kernel:?}"),
        ));
    }
    if window.padding == Padding::Causal && kernel[0] != 1 {
        return Err(invalid(
            op,
            "causal padding is for 1-d inputs (height and kernel height 1)".to_string(),
        ));
    }
    let axis = |i: usize| {
        // Causal padding applies along the sequence (width) axis only.
        let padding = match (window.padding, i) {
            (Padding::Causal, 0) => Padding::Valid,
            (p, _) => p,
        };
        Axis::new(
            input_shape[1 + i],
            kernel[i],
            window.strides[i],
            window.dilation[i],
            padding,
        )
    };
    match (axis(0), axis(1)) {
        (Some(h), Some(w)) => Ok([h, w]),
        _ => Err(invalid(
            op,
            format!(
                "kernel {kernel:?} with dilation {:?} is larger than the {} input {:?} (input shape {input_shape:?})",
                window.dilation,
                window.padding.name(),
                &input_shape[1..3],
            ),
        )),
    }
}

/// Checks a convolution's input `[n, h, w, c]`, kernel `[kh, kw, c / groups,
/// filters]` and settings; every element count it implies fits in `usize`.
pub(crate) fn conv2d_geometry(
    op: &'static str,
    input_shape: &[usize],
    kernel_shape: &[usize],
    window: Window,
    groups: usize,
) -> Result<Conv2dGeometry> {
    let &[kh, kw, kc, filters] = kernel_shape else {
        return Err(Error::RankMismatch {
            op,
            expected: "a 4-d kernel [kernel_h, kernel_w, in_channels / groups, filters]",
            shape: kernel_shape.to_vec(),
        });
    };
    let [h, w] = window_axes(op, input_shape, [kh, kw], window)?;
    let (batch, channels) = (input_shape[0], input_shape[3]);
    if groups == 0 || channels % groups != 0 || filters % groups != 0 {
        return Err(invalid(
            op,
            format!(
                "groups {groups} must divide the input channels and the filters, input {input_shape:?}, kernel {kernel_shape:?}"
            ),
        ));
    }
    if kc * groups != channels || kc == 0 {
        return Err(invalid(
            op,
            format!(
                "channel mismatch: input {input_shape:?} has {channels} channels, kernel {kernel_shape:?} with groups {groups} expects {}",
                kc.saturating_mul(groups)
            ),
        ));
    }
    let g = Conv2dGeometry {
        batch,
        channels,
        filters,
        groups,
        h,
        w,
    };
    let fits = g
        .rows()
        .checked_mul(g.group_cols())
        .and_then(|_| g.rows().checked_mul(filters))
        .and_then(|_| batch.checked_mul(h.output)?.checked_mul(w.output))
        .is_some();
    if !fits {
        return Err(invalid(
            op,
            format!(
                "input {input_shape:?} and kernel {kernel_shape:?} give too many elements to count"
            ),
        ));
    }
    Ok(g)
}

/// The first input column of output column `ox`'s window when the whole
/// window row (all `kw` taps) lies inside the input and its taps are
/// adjacent (dilation 1), so that with one group a window row is one
/// contiguous run of `kw · channels` input elements in NHWC.
#[inline]
fn whole_row(g: &Conv2dGeometry, ox: usize) -> Option<usize> {
    if g.w.dilation != 1 || g.groups != 1 {
        return None;
    }
    (ox * g.w.stride)
        .checked_sub(g.w.pad_before)
        .filter(|&ix| ix + g.w.kernel <= g.w.input)
}

/// Writes group `group`'s column matrix `[rows, group_cols]` into `cols`:
/// row `(b, oy, ox)`, column `(ky, kx, c)` holds `x[b, iy, ix, group · cg + c]`
/// (zero in the padding). NHWC keeps each `(ky, kx)` block one contiguous
/// copy, and each whole window row one copy with one group.
pub(crate) fn im2col<T: Float>(x: &[T], g: &Conv2dGeometry, group: usize, cols: &mut [T]) {
    let cg = g.group_channels();
    let c0 = group * cg;
    let run = g.w.kernel * cg;
    let (hh, ww) = (g.h.input, g.w.input);
    let mut rows = cols.chunks_exact_mut(g.group_cols());
    for b in 0..g.batch {
        let image = &x[b * hh * ww * g.channels..(b + 1) * hh * ww * g.channels];
        for oy in 0..g.h.output {
            for ox in 0..g.w.output {
                let row = rows
                    .next()
                    .expect("invariant: cols holds rows x group_cols");
                let whole = whole_row(g, ox);
                for (ky, seg) in row.chunks_exact_mut(run).enumerate() {
                    let Some(iy) = g.h.source(oy, ky) else {
                        seg.fill(T::zero());
                        continue;
                    };
                    if let Some(ix) = whole {
                        let at = (iy * ww + ix) * g.channels;
                        copy_run(seg, &image[at..at + run]);
                        continue;
                    }
                    for (kx, block) in seg.chunks_exact_mut(cg).enumerate() {
                        match g.w.source(ox, kx) {
                            Some(ix) => {
                                let at = (iy * ww + ix) * g.channels + c0;
                                copy_run(block, &image[at..at + cg]);
                            }
                            None => block.fill(T::zero()),
                        }
                    }
                }
            }
        }
    }
}

/// Copies `src` into `dst` (same length). Runs of up to 8 elements, a
/// window row of a first layer with 1-3 channels, are copied as fixed-size
/// arrays (plain moves) rather than through a `memcpy` call, whose call
/// costs more than such a copy.
#[inline]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match dst.len() {
                $($n => {
                    let d: &mut [T; $n] = dst.try_into().expect("invariant: dst holds n");
                    let s: &[T; $n] = src.try_into().expect("invariant: src as long as dst");
                    *d = *s;
                })*
                _ => dst.copy_from_slice(src),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8)
}

/// Adds `src` onto `dst` element by element.
#[inline]
fn add_to<T: Float>(dst: &mut [T], src: &[T]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d += v;
    }
}

/// The adjoint of [`im2col`]: adds each entry of group `group`'s column
/// matrix back onto the input position it was read from.
pub(crate) fn col2im_add<T: Float>(cols: &[T], g: &Conv2dGeometry, group: usize, dx: &mut [T]) {
    let cg = g.group_channels();
    let c0 = group * cg;
    let run = g.w.kernel * cg;
    let (hh, ww) = (g.h.input, g.w.input);
    let mut rows = cols.chunks_exact(g.group_cols());
    for b in 0..g.batch {
        let image = &mut dx[b * hh * ww * g.channels..(b + 1) * hh * ww * g.channels];
        for oy in 0..g.h.output {
            for ox in 0..g.w.output {
                let row = rows
                    .next()
                    .expect("invariant: cols holds rows x group_cols");
                let whole = whole_row(g, ox);
                for (ky, seg) in row.chunks_exact(run).enumerate() {
                    let Some(iy) = g.h.source(oy, ky) else {
                        continue;
                    };
                    if let Some(ix) = whole {
                        let at = (iy * ww + ix) * g.channels;
                        add_to(&mut image[at..at + run], seg);
                        continue;
                    }
                    for (kx, block) in seg.chunks_exact(cg).enumerate() {
                        if let Some(ix) = g.w.source(ox, kx) {
                            let at = (iy * ww + ix) * g.channels + c0;
                            add_to(&mut image[at..at + cg], block);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // in 5, k 3, stride 2: out 3, total pad (3-1)*2+3-5 = 2, split 1/1.
        let a = Axis::new(5, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((a.output, a.pad_before), (3, 1));
        // in 4, k 3, stride 2: out 2, total pad 1: 0 before, 1 after.
        let a = Axis::new(4, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((a.output, a.pad_before), (2, 0));
        // valid with dilation 2: extent 5 over 7 inputs gives 3 outputs.
        let a = Axis::new(7, 3, 1, 2, Padding::Valid).unwrap();
        assert_eq!(a.output, 3);
        assert!(Axis::new(2, 3, 1, 1, Padding::Valid).is_none());
        let a = Axis::new(4, 3, 1, 1, Padding::Causal).unwrap();
        assert_eq!((a.output, a.pad_before), (4, 2));
    }

    #[test]
    fn im2col_and_col2im_are_adjoint() {
        // <im2col(x), c> = <x, col2im(c)> for any x, c.
        let window = Window {
            strides: [2, 1],
            dilation: [1, 2],
            padding: Padding::Same,
        };
        let g = conv2d_geometry("t", &[2, 5, 4, 4], &[2, 3, 2, 6], window, 2).unwrap();
        let x: Vec<f64> = (0..2 * 5 * 4 * 4)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let n = g.rows() * g.group_cols();
        let c: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        for group in 0..2 {
            let mut cols = vec![0.0; n];
            im2col(&x, &g, group, &mut cols);
            let mut dx = vec![0.0; x.len()];
            col2im_add(&c, &g, group, &mut dx);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
        }
    }
}
