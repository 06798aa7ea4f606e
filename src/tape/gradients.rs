//! [`Gradients`]: the result of a reverse sweep, keyed by [`Var`] and by
//! [`ParamId`]; and [`Target`], what a gradient may be asked for.

use super::id_hash::IdMap;
use super::{Param, ParamId, Var};
use crate::element::Float;
use crate::tensor::Tensor;

/// Something a gradient can be taken with respect to: a [`Var`] on the tape
/// or a [`Param`]. Built by `From`, so `gradient` accepts arrays or vectors
/// of either.
///
/// # Examples
///
/// ```
/// use tapeflow::{GradientTape, Param, Target, Tensor};
///
/// let w = Param::new("w", Tensor::scalar(2.0f32));
/// let tape = GradientTape::new();
/// let x = tape.watch(&Tensor::scalar(3.0f32));
/// let y = x.mul(&tape.param(&w))?;             // y = x·w
/// let targets: Vec<Target<'_, f32>> = vec![x.into(), (&w).into()];
/// let g = tape.gradient(&y, targets)?;
/// assert_eq!(g.get(x).unwrap().item()?, 2.0);   // dy/dx = w
/// assert_eq!(g.get(&w).unwrap().item()?, 3.0);  // dy/dw = x
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub enum Target<'a, T: Float = f32> {
    /// A node of a tape, named by the tape's id and the node's index.
    Var {
        /// The tape's id.
        tape: u64,
        /// The node's index on the tape.
        index: usize,
    },
    /// A parameter, found on the tape by its id.
    Param(&'a Param<T>),
}

impl<'a, T: Float> From<Var<'_, T>> for Target<'a, T> {
    fn from(v: Var<'_, T>) -> Self {
        Target::Var {
            tape: v.tape_id(),
            index: v.index(),
        }
    }
}

impl<'a, T: Float> From<&Var<'_, T>> for Target<'a, T> {
    fn from(v: &Var<'_, T>) -> Self {
        Target::from(*v)
    }
}

impl<'a, T: Float> From<&'a Param<T>> for Target<'a, T> {
    fn from(p: &'a Param<T>) -> Self {
        Target::Param(p)
    }
}

impl<'a, T: Float> From<&'a mut Param<T>> for Target<'a, T> {
    fn from(p: &'a mut Param<T>) -> Self {
        Target::Param(p)
    }
}

/// Gradients from [`GradientTape::gradient`](crate::GradientTape::gradient),
/// one per target asked for, each with its target's shape.
///
/// # Examples
///
/// ```
/// use tapeflow::{GradientTape, Param, Tensor};
///
/// let w = Param::new("w", Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
/// let tape = GradientTape::new();
/// let loss = tape.param(&w).square().sum();     // d/dw Σw² = 2w
/// let grads = tape.gradient(&loss, [&w])?;
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0, 4.0]);
/// assert_eq!(grads.len(), 1);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Gradients<T: Float = f32> {
    tape: u64,
    vars: IdMap<usize, Tensor<T>>,
    params: IdMap<ParamId, Tensor<T>>,
}

/// A key to look a gradient up by: a [`Var`], a [`Param`] or a [`ParamId`].
///
/// It is the bound of [`Gradients::get`]; a parameter's gradient is found
/// by the `&Param` or by its [`ParamId`], a variable's by the `Var`.
///
/// # Examples
///
/// ```
/// use tapeflow::{GradientTape, Param, Tensor};
///
/// let w = Param::new("w", Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
/// let tape = GradientTape::new();
/// let x = tape.watch(&Tensor::from_vec(vec![3.0f32, 4.0], &[2])?);
/// let loss = tape.param(&w).mul(&x)?.sum(); // d/dw = x, d/dx = w
/// let grads = tape.gradient(&loss, [&w])?;
/// assert_eq!(grads.get(&w).unwrap().to_vec(), [3.0, 4.0]);
/// assert_eq!(grads.get(w.id()), grads.get(&w)); // same key, two spellings
/// assert!(grads.get(x).is_none()); // `x` was not asked for
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait GradKey<T: Float> {
    /// Finds this key's gradient.
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>>;
}

impl<T: Float> GradKey<T> for Var<'_, T> {
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>> {
        if self.tape_id() == grads.tape {
            grads.vars.get(&self.index())
        } else {
            None
        }
    }
}

impl<T: Float> GradKey<T> for &Var<'_, T> {
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>> {
        (*self).find(grads)
    }
}

impl<T: Float> GradKey<T> for &Param<T> {
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>> {
        grads.params.get(&self.id())
    }
}

impl<T: Float> GradKey<T> for ParamId {
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>> {
        grads.params.get(&self)
    }
}

impl<T: Float> Gradients<T> {
    pub(crate) fn new(tape: u64) -> Self {
        Gradients {
            tape,
            vars: IdMap::default(),
            params: IdMap::default(),
        }
    }

    /// Room for `vars` variable and `params` parameter gradients, so that
    /// filling it allocates each map once.
    pub(crate) fn with_capacity(tape: u64, vars: usize, params: usize) -> Self {
        Gradients {
            tape,
            vars: IdMap::with_capacity_and_hasher(vars, Default::default()),
            params: IdMap::with_capacity_and_hasher(params, Default::default()),
        }
    }

    pub(crate) fn insert_var(&mut self, index: usize, grad: Tensor<T>) {
        self.vars.insert(index, grad);
    }

    /// Adds or replaces the gradient of a parameter (for building
    /// gradients by hand, or after transforming them, e.g. clipping).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let w = Param::new("w", Tensor::<f32>::zeros(&[2])?);
    /// let mut g = Gradients::default();
    /// g.insert_param(w.id(), Tensor::ones(&[2])?);
    /// assert_eq!(g.get(&w).unwrap().sum(), 2.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn insert_param(&mut self, id: ParamId, grad: Tensor<T>) {
        self.params.insert(id, grad);
    }

    /// The gradient for a [`Var`], a `&`[`Param`] or a [`ParamId`]; `None`
    /// if it was not asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let y = tape.watch(&Tensor::scalar(1.0f32));
    /// let g = tape.gradient(&x.exp(), [x])?;
    /// assert!(g.get(x).is_some());
    /// assert!(g.get(y).is_none());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn get<K: GradKey<T>>(&self, key: K) -> Option<&Tensor<T>> {
        key.find(self)
    }

    /// The parameters' gradients, in no particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Param, Tensor};
    ///
    /// let w = Param::new("w", Tensor::scalar(1.0f32));
    /// let tape = GradientTape::new();
    /// let g = tape.gradient(&tape.param(&w).exp(), [&w])?;
    /// assert_eq!(g.params().count(), 1);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn params(&self) -> impl Iterator<Item = (ParamId, &Tensor<T>)> {
        self.params.iter().map(|(&id, g)| (id, g))
    }

    /// The number of gradients held.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Gradients;
    ///
    /// assert_eq!(Gradients::<f32>::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.vars.len() + self.params.len()
    }

    /// Whether no gradient is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Gradients;
    ///
    /// assert!(Gradients::<f32>::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `f` to every gradient (e.g. clipping), keeping the keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Param, Tensor};
    ///
    /// let w = Param::new("w", Tensor::scalar(1.0f32));
    /// let tape = GradientTape::new();
    /// let mut g = tape.gradient(&tape.param(&w).mul_scalar(4.0), [&w])?;
    /// g.map_inplace(|t| t.mul_scalar(0.5));
    /// assert_eq!(g.get(&w).unwrap().item()?, 2.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn map_inplace(&mut self, mut f: impl FnMut(&Tensor<T>) -> Tensor<T>) {
        for g in self.vars.values_mut().chain(self.params.values_mut()) {
            *g = f(g);
        }
    }
}

impl<T: Float> Default for Gradients<T> {
    /// An empty set of gradients, not tied to any tape.
    fn default() -> Self {
        Gradients::new(u64::MAX)
    }
}
