//! [`Param`]: a named, trainable tensor owned by a layer, and its
//! process-unique [`ParamId`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

static NEXT_PARAM_ID: AtomicU64 = AtomicU64::new(0);

/// A parameter's identity, unique within the process: what gradients and
/// optimizer state are keyed by.
///
/// # Examples
///
/// ```
/// use tapeflow::{Param, Tensor};
///
/// let a = Param::new("a", Tensor::<f32>::zeros(&[2])?);
/// let b = Param::new("b", Tensor::<f32>::zeros(&[2])?);
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id(), a.clone().id());   // a clone is the same parameter
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

impl ParamId {
    /// A fresh id, never returned before in this process.
    fn fresh() -> Self {
        ParamId(NEXT_PARAM_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number (for display and logs).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let p = Param::new("p", Tensor::<f32>::zeros(&[1])?);
    /// let q = Param::new("q", Tensor::<f32>::zeros(&[1])?);
    /// assert!(q.id().as_u64() > p.id().as_u64());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// A named tensor that training updates: a layer's weights.
///
/// Layers own their parameters; the tape reads them through
/// [`GradientTape::param`](crate::GradientTape::param) and optimizers write
/// them through `&mut`. Cloning keeps the [`ParamId`] (the clone is a
/// snapshot of the same parameter); [`Param::new`] always makes a new id.
///
/// # Examples
///
/// ```
/// use tapeflow::{Param, Tensor};
///
/// let mut w = Param::new("kernel", Tensor::<f32>::zeros(&[2, 3])?);
/// assert_eq!(w.name(), "kernel");
/// assert!(w.trainable());
/// w.set_value(Tensor::ones(&[2, 3])?)?;
/// assert_eq!(w.value().sum(), 6.0);
/// assert!(w.set_value(Tensor::ones(&[3, 2])?).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Param<T: Float = f32> {
    id: ParamId,
    name: String,
    value: Tensor<T>,
    trainable: bool,
}

impl<T: Float> Param<T> {
    /// A new trainable parameter with a fresh id.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let b = Param::new("bias", Tensor::<f64>::zeros(&[4])?);
    /// assert_eq!(b.value().shape(), &[4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new(name: impl Into<String>, value: Tensor<T>) -> Self {
        Param {
            id: ParamId::fresh(),
            name: name.into(),
            value,
            trainable: true,
        }
    }

    /// The parameter's identity.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let p = Param::new("p", Tensor::<f32>::zeros(&[1])?);
    /// assert_eq!(p.id(), p.id());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The parameter's name (e.g. `"kernel"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// assert_eq!(Param::new("bias", Tensor::<f32>::zeros(&[1])?).name(), "bias");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let mut p = Param::new("bias", Tensor::<f32>::zeros(&[1])?);
    /// p.set_name("dense/bias");
    /// assert_eq!(p.name(), "dense/bias");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The current value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let p = Param::new("p", Tensor::full(&[2], 3.0f32)?);
    /// assert_eq!(p.value().to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value for in-place updates (copy on write if a tape still holds it).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let mut p = Param::new("p", Tensor::<f32>::zeros(&[2])?);
    /// p.value_mut().as_mut_slice()[0] = 1.0;
    /// assert_eq!(p.value().to_vec(), vec![1.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the value with one of the same shape.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op `set_value`) if the shapes differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let mut p = Param::new("p", Tensor::<f32>::zeros(&[2])?);
    /// let err = p.set_value(Tensor::zeros(&[3])?).unwrap_err();
    /// assert_eq!(err.to_string(), "set_value: shape mismatch, lhs [2], rhs [3]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn set_value(&mut self, value: Tensor<T>) -> Result<()> {
        if value.shape() != self.value.shape() {
            return Err(Error::ShapeMismatch {
                op: "set_value",
                lhs: self.value.shape().to_vec(),
                rhs: value.shape().to_vec(),
            });
        }
        self.value = value;
        Ok(())
    }

    /// Whether training updates this parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// assert!(Param::new("p", Tensor::<f32>::zeros(&[1])?).trainable());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn trainable(&self) -> bool {
        self.trainable
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter. A frozen
    /// parameter is a constant on the tape and optimizers skip it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Param, Tensor};
    ///
    /// let mut p = Param::new("p", Tensor::<f32>::zeros(&[1])?);
    /// p.set_trainable(false);
    /// assert!(!p.trainable());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
}
