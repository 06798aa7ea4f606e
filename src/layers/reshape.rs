//! Shape layers: [`Reshape`] (each sample to a new shape) and
//! [`ZeroPadding2D`] (zero rows and columns around NHWC images).

use std::marker::PhantomData;

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};
use crate::tensor::Tensor;

/// Reshapes each sample to `target_shape` (Keras's `Reshape`): `[batch,
/// …]` to `[batch, *target_shape]`, keeping the row-major order. The
/// gradient is the upstream gradient reshaped back. As in Keras, one
/// dimension may be `-1`: it is inferred so that the element count per
/// sample is kept. Default name `"reshape"`.
///
/// # Shapes
///
/// `[batch, d1, …]` to `[batch, *target_shape]` (the `-1` replaced by the
/// inferred length), same element count per sample.
///
/// # Errors
///
/// `build` and `forward` return an [`Error::InvalidArgument`] naming the
/// layer and both shapes when the element counts differ, when the known
/// dimensions do not divide the sample's count (with a `-1`), or when the
/// target holds more than one `-1` or another negative value.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, Mode, Reshape};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut reshape = Reshape::new(&[28, 28, 1]);
/// assert_eq!(reshape.build(&[784], &mut StdRng::seed_from_u64(0))?, vec![28, 28, 1]);
/// let tape = GradientTape::new();
/// let y = reshape.forward(tape.constant(&Tensor::<f32>::zeros(&[2, 784])?), Mode::Infer)?;
/// assert_eq!(y.shape(), vec![2, 28, 28, 1]);
/// assert!(reshape.build(&[10], &mut StdRng::seed_from_u64(0)).is_err());
///
/// // One inferred dimension.
/// let mut inferred = Reshape::<f32>::new(&[-1, 4]);
/// assert_eq!(inferred.build(&[2, 6], &mut StdRng::seed_from_u64(0))?, vec![3, 4]);
/// assert!(inferred.build(&[5], &mut StdRng::seed_from_u64(0)).is_err());
/// assert!(Reshape::<f32>::new(&[-1, -1]).build(&[4], &mut StdRng::seed_from_u64(0)).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Reshape<T: Float = f32> {
    name: String,
    /// Keras's target: lengths, or `-1` for the one inferred length.
    target_shape: Vec<i64>,
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Reshape<T> {
    /// A layer reshaping each sample to `target_shape` (batch excluded);
    /// one entry may be `-1` (inferred). Other negative entries are
    /// reported by `build`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, Reshape};
    ///
    /// assert_eq!(Reshape::<f32>::new(&[7, 4]).config()["target_shape"], serde_json::json!([7, 4]));
    /// ```
    pub fn new(target_shape: &[i64]) -> Self {
        Reshape {
            name: "reshape".to_string(),
            target_shape: target_shape.to_vec(),
            _element: PhantomData,
        }
    }

    /// Names the layer; shadows [`Layer::name`] on this type.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, Reshape};
    ///
    /// assert_eq!(Layer::name(&Reshape::<f32>::new(&[2]).name("r")), "r");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds a layer from [`Layer::config`]; `target_shape` is required.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing or
    /// malformed `target_shape` (integers, `-1` allowed) or an unknown key.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, Reshape};
    ///
    /// let r = Reshape::<f32>::from_config(&json!({"target_shape": [2, 3]}))?;
    /// assert_eq!(r.config()["target_shape"], json!([2, 3]));
    /// assert_eq!(Reshape::<f32>::from_config(&json!({"target_shape": [-1, 3]}))?.config()["target_shape"], json!([-1, 3]));
    /// assert!(Reshape::<f32>::from_config(&json!({"target_shape": [1.5, 3]})).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new("Reshape", config, &["name", "target_shape"])?;
        let v = c.required("target_shape", c.get("target_shape"))?;
        let target: Vec<i64> = v
            .as_array()
            .and_then(|a| a.iter().map(|d| d.as_i64().filter(|&n| n >= -1)).collect())
            .ok_or_else(|| {
                c.bad(format!(
                    "target_shape must be a list of non-negative integers or -1, got {v}"
                ))
            })?;
        let mut r = Reshape::new(&target);
        if let Some(name) = c.string("name")? {
            r.name = name;
        }
        Ok(r)
    }

    fn error(&self, message: String) -> Error {
        layer_error("Reshape", &self.name, message)
    }

    /// The output sample shape for a sample of `input_shape`: the target
    /// with its `-1` inferred.
    fn resolve(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let target = &self.target_shape;
        let inferred = target.iter().filter(|&&d| d == -1).count();
        if inferred > 1 || target.iter().any(|&d| d < -1) {
            return Err(self.error(format!(
                "target_shape may hold one -1 and otherwise non-negative lengths, got {target:?}"
            )));
        }
        let mismatch = || {
            self.error(format!(
                "cannot reshape a sample of shape {input_shape:?} to {target:?}"
            ))
        };
        let count = input_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(mismatch)?;
        let known: Vec<usize> = target
            .iter()
            // The one -1 counts as 1 here; every other entry is >= 0 (checked above).
            .map(|&d| usize::try_from(d).unwrap_or(1))
            .collect();
        let product = known
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(mismatch)?;
        if inferred == 0 {
            return if product == count {
                Ok(known)
            } else {
                Err(mismatch())
            };
        }
        if product == 0 || count % product != 0 {
            return Err(self.error(format!(
                "cannot reshape a sample of shape {input_shape:?} ({count} elements) to {target:?}: the known lengths ({product} elements) do not divide it"
            )));
        }
        Ok(target
            .iter()
            .zip(known)
            .map(|(&d, k)| if d == -1 { count / product } else { k })
            .collect())
    }
}

impl<T: Float> Layer<T> for Reshape<T> {
    fn kind(&self) -> &'static str {
        "Reshape"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// # Errors
    ///
    /// If a sample of `input_shape` does not have the target's element count.
    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        self.resolve(input_shape)
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        Some((Vec::new(), self.resolve(input_shape).ok()?))
    }

    /// # Errors
    ///
    /// If a sample of `x` does not have the target's element count.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        let shape = x.shape();
        let Some((&batch, sample)) = shape.split_first() else {
            return Err(self.error("expected a batched input, got a scalar".to_string()));
        };
        let mut out = vec![batch];
        out.extend(self.resolve(sample)?);
        x.reshape(&out)
    }

    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    fn config(&self) -> Value {
        json!({ "name": self.name, "target_shape": self.target_shape })
    }
}

/// Adds rows and columns of zeros around NHWC images (Keras's
/// `ZeroPadding2D`): `padding = [[top, bottom], [left, right]]`
/// (default one on every side). On the tape it is a concatenation with
/// constant zeros, so the gradient is the upstream gradient cropped back.
/// Default name `"zero_padding2d"`.
///
/// # Shapes
///
/// `[batch, h, w, c]` to `[batch, top + h + bottom, left + w + right, c]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, Mode, ZeroPadding2D};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut pad = ZeroPadding2D::new([[1, 1], [2, 0]]);
/// assert_eq!(pad.build(&[2, 2, 1], &mut StdRng::seed_from_u64(0))?, vec![4, 4, 1]);
/// let tape = GradientTape::new();
/// let y = pad.forward(tape.constant(&Tensor::<f32>::ones(&[1, 2, 2, 1])?), Mode::Infer)?;
/// assert_eq!(y.value().sum(), 4.0);
/// assert_eq!(y.value().get(&[0, 1, 2, 0]), Some(1.0));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct ZeroPadding2D<T: Float = f32> {
    name: String,
    padding: [[usize; 2]; 2],
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Default for ZeroPadding2D<T> {
    fn default() -> Self {
        Self::new([[1, 1], [1, 1]])
    }
}

impl<T: Float> ZeroPadding2D<T> {
    /// Padding `[[top, bottom], [left, right]]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, ZeroPadding2D};
    ///
    /// assert_eq!(ZeroPadding2D::<f32>::new([[1, 2], [3, 4]]).config()["padding"], serde_json::json!([[1, 2], [3, 4]]));
    /// ```
    pub fn new(padding: [[usize; 2]; 2]) -> Self {
        ZeroPadding2D {
            name: "zero_padding2d".to_string(),
            padding,
            _element: PhantomData,
        }
    }

    /// Names the layer; shadows [`Layer::name`] on this type.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, ZeroPadding2D};
    ///
    /// assert_eq!(Layer::name(&ZeroPadding2D::<f32>::default().name("pad")), "pad");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds a layer from [`Layer::config`]; `padding` may be one
    /// integer, `[h, w]` (symmetric) or `[[top, bottom], [left, right]]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a malformed padding
    /// or an unknown key.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, ZeroPadding2D};
    ///
    /// let p = ZeroPadding2D::<f32>::from_config(&json!({"padding": [1, 2]}))?;
    /// assert_eq!(p.config()["padding"], json!([[1, 1], [2, 2]]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new("ZeroPadding2D", config, &["name", "padding"])?;
        let mut p = ZeroPadding2D::default();
        if let Some(v) = c.get("padding") {
            let n = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
            let pair = |v: &Value| -> Option<[usize; 2]> {
                match v {
                    Value::Array(a) if a.len() == 2 => Some([n(&a[0])?, n(&a[1])?]),
                    other => n(other).map(|k| [k, k]),
                }
            };
            p.padding = match v {
                Value::Array(a) if a.len() == 2 => {
                    pair(&a[0]).zip(pair(&a[1])).map(|(h, w)| [h, w])
                }
                other => n(other).map(|k| [[k, k], [k, k]]),
            }
            .ok_or_else(|| {
                c.bad(format!(
                    "padding must be an integer, [h, w] or [[top, bottom], [left, right]], got {v}"
                ))
            })?;
        }
        if let Some(name) = c.string("name")? {
            p.name = name;
        }
        Ok(p)
    }

    fn error(&self, message: String) -> Error {
        layer_error("ZeroPadding2D", &self.name, message)
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let &[h, w, c] = input_shape else {
            return Err(self.error(format!(
                "expected an input shape [height, width, channels] (batch excluded), got {input_shape:?}"
            )));
        };
        let [[t, b], [l, r]] = self.padding;
        let grow = |d: usize, a: usize, z: usize| d.checked_add(a)?.checked_add(z);
        let out = grow(h, t, b).zip(grow(w, l, r)).and_then(|(oh, ow)| {
            oh.checked_mul(ow)?.checked_mul(c)?;
            Some(vec![oh, ow, c])
        });
        out.ok_or_else(|| {
            self.error(format!(
                "padding {:?} of input {input_shape:?} is too large",
                self.padding
            ))
        })
    }
}

/// Concatenates `before` and `after` zeros around `x` along `axis`.
fn pad_axis<'t, T: Float>(
    x: Var<'t, T>,
    axis: usize,
    before: usize,
    after: usize,
) -> Result<Var<'t, T>> {
    if before == 0 && after == 0 {
        return Ok(x);
    }
    let tape = x.tape();
    let zeros = |n: usize| {
        let mut s = x.shape();
        s[axis] = n;
        let len = s.iter().product();
        tape.constant(&Tensor::from_parts(vec![T::zero(); len], s))
    };
    let parts = [zeros(before), x, zeros(after)];
    Var::concat(&parts, axis)
}

impl<T: Float> Layer<T> for ZeroPadding2D<T> {
    fn kind(&self) -> &'static str {
        "ZeroPadding2D"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// # Errors
    ///
    /// If the input shape is not `[h, w, c]` or the padded size overflows.
    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        self.output_shape(input_shape)
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        Some((Vec::new(), self.output_shape(input_shape).ok()?))
    }

    /// # Errors
    ///
    /// If `x` is not 4-d, or the padded batch is too large.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        let shape = x.shape();
        if shape.len() != 4 {
            return Err(self.error(format!(
                "expected input [_, height, width, channels], got {shape:?}"
            )));
        }
        let out = self.output_shape(&shape[1..])?;
        if out
            .iter()
            .try_fold(shape[0], |a, &d| a.checked_mul(d))
            .is_none()
        {
            return Err(self.error(format!("padding a batch of shape {shape:?} is too large")));
        }
        let [[t, b], [l, r]] = self.padding;
        let y = pad_axis(x, 1, t, b)?;
        pad_axis(y, 2, l, r)
    }

    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    fn config(&self) -> Value {
        json!({ "name": self.name, "padding": self.padding })
    }
}
