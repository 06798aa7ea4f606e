//! Pooling layers (Keras's names, defaults and configs): [`MaxPooling2D`],
//! [`AveragePooling2D`], [`MaxPooling1D`], [`GlobalAveragePooling2D`] and
//! [`GlobalMaxPooling2D`], on the ops of [`Var`]. None has parameters.

use std::marker::PhantomData;

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};
use crate::tensor::Padding;
use crate::tensor::conv::{Window, window_axes};

/// Which pooling a [`Pool`] layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Max2D,
    Avg2D,
    Max1D,
    GlobalAvg2D,
    GlobalMax2D,
}

impl Op {
    fn kind(self) -> &'static str {
        match self {
            Op::Max2D => "MaxPooling2D",
            Op::Avg2D => "AveragePooling2D",
            Op::Max1D => "MaxPooling1D",
            Op::GlobalAvg2D => "GlobalAveragePooling2D",
            Op::GlobalMax2D => "GlobalMaxPooling2D",
        }
    }

    fn default_name(self) -> &'static str {
        match self {
            Op::Max2D => "max_pooling2d",
            Op::Avg2D => "average_pooling2d",
            Op::Max1D => "max_pooling1d",
            Op::GlobalAvg2D => "global_average_pooling2d",
            Op::GlobalMax2D => "global_max_pooling2d",
        }
    }

    fn is_global(self) -> bool {
        matches!(self, Op::GlobalAvg2D | Op::GlobalMax2D)
    }

    fn sample_rank(self) -> usize {
        if self == Op::Max1D { 2 } else { 3 }
    }
}

/// The shared implementation; `pool_size` and `strides` are `[h, w]` (`h = 1` in 1-D).
#[derive(Debug)]
struct Pool<T: Float> {
    op: Op,
    name: String,
    pool_size: [usize; 2],
    strides: Option<[usize; 2]>,
    padding: Padding,
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Pool<T> {
    fn new(op: Op, pool_size: [usize; 2]) -> Self {
        Pool {
            op,
            name: op.default_name().to_string(),
            pool_size,
            strides: None,
            padding: Padding::Valid,
            _element: PhantomData,
        }
    }

    fn error(&self, message: String) -> Error {
        layer_error(self.op.kind(), &self.name, message)
    }

    fn strides(&self) -> [usize; 2] {
        self.strides.unwrap_or(self.pool_size)
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let rank = self.op.sample_rank();
        if input_shape.len() != rank {
            let want = if rank == 2 {
                "[steps, channels]"
            } else {
                "[height, width, channels]"
            };
            return Err(self.error(format!(
                "expected an input shape {want} (batch excluded), got {input_shape:?}"
            )));
        }
        if self.op.is_global() {
            if input_shape[0] == 0 || input_shape[1] == 0 {
                return Err(self.error(format!(
                    "needs at least one spatial element, got input shape {input_shape:?}"
                )));
            }
            return Ok(vec![input_shape[2]]);
        }
        if self.padding == Padding::Causal {
            return Err(
                self.error("padding must be \"valid\" or \"same\", got \"causal\"".to_string())
            );
        }
        let image = match *input_shape {
            [l, c] => vec![1, 1, l, c],
            _ => [&[1], input_shape].concat(),
        };
        let window = Window {
            strides: self.strides(),
            dilation: [1, 1],
            padding: self.padding,
        };
        let [h, w] = window_axes("pool", &image, self.pool_size, window)
            .map_err(|e| self.error(e.to_string()))?;
        Ok(if rank == 2 {
            vec![w.output, image[3]]
        } else {
            vec![h.output, w.output, image[3]]
        })
    }

    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let shape = x.shape();
        if shape.is_empty() {
            return Err(self.error("expected a batched input, got a scalar".to_string()));
        }
        self.output_shape(&shape[1..])?;
        let (p, s) = (self.pool_size, self.strides());
        let y = match self.op {
            Op::Max2D => x.max_pool2d(p, s, self.padding),
            Op::Avg2D => x.avg_pool2d(p, s, self.padding),
            Op::Max1D => x.max_pool1d(p[1], s[1], self.padding),
            Op::GlobalAvg2D => x.global_avg_pool2d(),
            Op::GlobalMax2D => x.global_max_pool2d(),
        };
        y.map_err(|e| self.error(e.to_string()))
    }

    fn config(&self) -> Value {
        if self.op.is_global() {
            return json!({ "name": self.name });
        }
        let one_d = self.op == Op::Max1D;
        let pair = |a: [usize; 2]| if one_d { json!([a[1]]) } else { json!(a) };
        json!({
            "name": self.name,
            "pool_size": pair(self.pool_size),
            "strides": self.strides.map(pair),
            "padding": self.padding.name(),
        })
    }

    fn from_config(op: Op, config: &Value) -> Result<Self> {
        let keys: &[&str] = if op.is_global() {
            &["name"]
        } else {
            &["name", "pool_size", "strides", "padding"]
        };
        let c = Config::new(op.kind(), config, keys)?;
        let default = if op == Op::Max1D { [1, 2] } else { [2, 2] };
        let mut pool = Pool::new(op, default);
        if let Some(name) = c.string("name")? {
            pool.name = name;
        }
        let rank = if op == Op::Max1D { 1 } else { 2 };
        if let Some(p) = pair_setting(&c, "pool_size", rank)? {
            pool.pool_size = p;
        }
        pool.strides = pair_setting(&c, "strides", rank)?;
        if let Some(p) = c.string("padding")? {
            pool.padding = Padding::from_name(&p).map_err(|e| c.bad(e.to_string()))?;
        }
        Ok(pool)
    }
}

/// A Keras integer-or-tuple setting, as `[h, w]` (`h = 1` for rank 1).
fn pair_setting(c: &Config<'_>, key: &str, rank: usize) -> Result<Option<[usize; 2]>> {
    let Some(v) = c.get(key) else {
        return Ok(None);
    };
    let as_usize = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let list: Option<Vec<usize>> = match v {
        Value::Array(a) => a.iter().map(as_usize).collect(),
        other => as_usize(other).map(|n| vec![n; rank]),
    };
    match list.as_deref() {
        Some(&[k]) if rank == 1 => Ok(Some([1, k])),
        Some(&[h, w]) if rank == 2 => Ok(Some([h, w])),
        _ => Err(c.bad(format!(
            "{key} must be a non-negative integer or a list of {rank}, got {v}"
        ))),
    }
}

macro_rules! pool_layer {
    ($ty:ident, $op:expr) => {
        impl<T: Float> Layer<T> for $ty<T> {
            fn kind(&self) -> &'static str {
                $op.kind()
            }

            fn name(&self) -> &str {
                &self.0.name
            }

            fn set_name(&mut self, name: &str) {
                self.0.name = name.to_string();
            }

            /// # Errors
            ///
            /// If the input shape has the wrong rank, a size is 0, or the
            /// window is larger than the (padded) input.
            fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
                self.0.output_shape(input_shape)
            }

            /// # Errors
            ///
            /// If `x` has the wrong rank or the window does not fit; the
            /// message names the layer and the shape.
            fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
                let _ = mode;
                self.0.forward(x)
            }

            fn params(&self) -> Vec<&Param<T>> {
                Vec::new()
            }

            fn params_mut(&mut self) -> Vec<&mut Param<T>> {
                Vec::new()
            }

            fn config(&self) -> Value {
                self.0.config()
            }

            fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
                Some((Vec::new(), self.0.output_shape(input_shape).ok()?))
            }
        }

        impl<T: Float> $ty<T> {
            /// Names the layer; shadows [`Layer::name`] on this type.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::layers::{", stringify!($ty), ", Layer};")]
            ///
            #[doc = concat!("let layer = ", stringify!($ty), "::<f32>::default().name(\"pool\");")]
            /// assert_eq!(Layer::name(&layer), "pool");
            /// ```
            pub fn name(mut self, name: &str) -> Self {
                self.0.name = name.to_string();
                self
            }

            /// Rebuilds a layer from [`Layer::config`]; missing settings take
            /// the defaults.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidArgument`] (op `from_config`) for an unknown
            /// key or a setting of the wrong type.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::layers::{", stringify!($ty), ", Layer};")]
            ///
            #[doc = concat!("let layer = ", stringify!($ty), "::<f32>::default();")]
            #[doc = concat!("let again = ", stringify!($ty), "::<f32>::from_config(&layer.config())?;")]
            /// assert_eq!(again.config(), layer.config());
            /// # Ok::<(), tapeflow::Error>(())
            /// ```
            pub fn from_config(config: &Value) -> Result<Self> {
                Ok($ty(Pool::from_config($op, config)?))
            }
        }
    };
}

/// Windowed pooling settings shared by the 2-D and 1-D window layers.
macro_rules! window_settings {
    ($ty:ident, $size:ty, $to_pair:expr, $example:literal) => {
        impl<T: Float> $ty<T> {
            /// Sets the strides (default: the pool size, Keras's `strides=None`).
            ///
            /// # Examples
            ///
            /// ```
            /// use tapeflow::layers::Layer;
            ///
            #[doc = $example]
            /// assert!(!layer.config()["strides"].is_null());
            /// ```
            pub fn strides(mut self, strides: $size) -> Self {
                self.0.strides = Some($to_pair(strides));
                self
            }

            /// Sets the padding (default [`Padding::Valid`]; `Same` pads so
            /// the output length is `⌈in / stride⌉`, and padded positions
            /// never count).
            ///
            /// # Examples
            ///
            /// ```
            /// use tapeflow::layers::Layer;
            /// use tapeflow::tensor::Padding;
            ///
            #[doc = concat!("let layer = tapeflow::layers::", stringify!($ty), "::<f32>::default().padding(Padding::Same);")]
            /// assert_eq!(layer.config()["padding"], "same");
            /// ```
            pub fn padding(mut self, padding: Padding) -> Self {
                self.0.padding = padding;
                self
            }
        }
    };
}

/// Max pooling over 2-D windows of NHWC images (Keras's `MaxPooling2D`).
/// Defaults: `pool_size (2, 2)`, strides equal to the pool size, `valid`
/// padding, name `"max_pooling2d"`. The gradient goes to the first maximum
/// of each window.
///
/// # Shapes
///
/// `[batch, h, w, c]` to `[batch, out_h, out_w, c]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, MaxPooling2D};
///
/// let mut pool = MaxPooling2D::<f32>::new([2, 2]);
/// assert_eq!(pool.build(&[28, 28, 32], &mut StdRng::seed_from_u64(0))?, vec![14, 14, 32]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct MaxPooling2D<T: Float = f32>(Pool<T>);

impl<T: Float> MaxPooling2D<T> {
    /// Max pooling over `pool_size = [h, w]` windows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MaxPooling2D};
    ///
    /// assert_eq!(MaxPooling2D::<f32>::new([3, 3]).config()["pool_size"], serde_json::json!([3, 3]));
    /// ```
    pub fn new(pool_size: [usize; 2]) -> Self {
        MaxPooling2D(Pool::new(Op::Max2D, pool_size))
    }
}

impl<T: Float> Default for MaxPooling2D<T> {
    fn default() -> Self {
        Self::new([2, 2])
    }
}

/// Average pooling over 2-D windows of NHWC images (Keras's
/// `AveragePooling2D`); the divisor excludes padding. Defaults as
/// [`MaxPooling2D`], name `"average_pooling2d"`.
///
/// # Shapes
///
/// `[batch, h, w, c]` to `[batch, out_h, out_w, c]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{AveragePooling2D, Layer};
/// use tapeflow::tensor::Padding;
///
/// let mut pool = AveragePooling2D::<f32>::new([2, 2]).padding(Padding::Same);
/// assert_eq!(pool.build(&[7, 7, 3], &mut StdRng::seed_from_u64(0))?, vec![4, 4, 3]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct AveragePooling2D<T: Float = f32>(Pool<T>);

impl<T: Float> AveragePooling2D<T> {
    /// Average pooling over `pool_size = [h, w]` windows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{AveragePooling2D, Layer};
    ///
    /// assert_eq!(AveragePooling2D::<f32>::new([2, 2]).config()["strides"], serde_json::Value::Null);
    /// ```
    pub fn new(pool_size: [usize; 2]) -> Self {
        AveragePooling2D(Pool::new(Op::Avg2D, pool_size))
    }
}

impl<T: Float> Default for AveragePooling2D<T> {
    fn default() -> Self {
        Self::new([2, 2])
    }
}

/// Max pooling over windows of steps of `[batch, steps, channels]`
/// sequences (Keras's `MaxPooling1D`). Defaults: `pool_size 2`, strides
/// equal to the pool size, `valid`, name `"max_pooling1d"`.
///
/// # Shapes
///
/// `[batch, steps, c]` to `[batch, out_steps, c]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, MaxPooling1D};
///
/// let mut pool = MaxPooling1D::<f32>::new(2);
/// assert_eq!(pool.build(&[9, 4], &mut StdRng::seed_from_u64(0))?, vec![4, 4]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct MaxPooling1D<T: Float = f32>(Pool<T>);

impl<T: Float> MaxPooling1D<T> {
    /// Max pooling over windows of `pool_size` steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MaxPooling1D};
    ///
    /// assert_eq!(MaxPooling1D::<f32>::new(3).config()["pool_size"], serde_json::json!([3]));
    /// ```
    pub fn new(pool_size: usize) -> Self {
        MaxPooling1D(Pool::new(Op::Max1D, [1, pool_size]))
    }
}

impl<T: Float> Default for MaxPooling1D<T> {
    fn default() -> Self {
        Self::new(2)
    }
}

/// The mean over height and width (Keras's `GlobalAveragePooling2D`):
/// `[batch, h, w, c]` to `[batch, c]`. Default name `"global_average_pooling2d"`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{GlobalAveragePooling2D, Layer};
///
/// let mut pool = GlobalAveragePooling2D::<f32>::default();
/// assert_eq!(pool.build(&[7, 7, 64], &mut StdRng::seed_from_u64(0))?, vec![64]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct GlobalAveragePooling2D<T: Float = f32>(Pool<T>);

impl<T: Float> Default for GlobalAveragePooling2D<T> {
    fn default() -> Self {
        GlobalAveragePooling2D(Pool::new(Op::GlobalAvg2D, [1, 1]))
    }
}

/// The maximum over height and width (Keras's `GlobalMaxPooling2D`):
/// `[batch, h, w, c]` to `[batch, c]`; ties share the gradient. Default
/// name `"global_max_pooling2d"`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{GlobalMaxPooling2D, Layer};
///
/// let mut pool = GlobalMaxPooling2D::<f32>::default();
/// assert_eq!(pool.build(&[7, 7, 64], &mut StdRng::seed_from_u64(0))?, vec![64]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct GlobalMaxPooling2D<T: Float = f32>(Pool<T>);

impl<T: Float> Default for GlobalMaxPooling2D<T> {
    fn default() -> Self {
        GlobalMaxPooling2D(Pool::new(Op::GlobalMax2D, [1, 1]))
    }
}

pool_layer!(MaxPooling2D, Op::Max2D);
pool_layer!(AveragePooling2D, Op::Avg2D);
pool_layer!(MaxPooling1D, Op::Max1D);
pool_layer!(GlobalAveragePooling2D, Op::GlobalAvg2D);
pool_layer!(GlobalMaxPooling2D, Op::GlobalMax2D);
window_settings!(
    MaxPooling2D,
    [usize; 2],
    |s| s,
    "let layer = tapeflow::layers::MaxPooling2D::<f32>::new([3, 3]).strides([2, 2]);"
);
window_settings!(
    AveragePooling2D,
    [usize; 2],
    |s| s,
    "let layer = tapeflow::layers::AveragePooling2D::<f32>::new([3, 3]).strides([2, 2]);"
);
window_settings!(
    MaxPooling1D,
    usize,
    |s| [1, s],
    "let layer = tapeflow::layers::MaxPooling1D::<f32>::new(3).strides(2);"
);
