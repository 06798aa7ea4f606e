//! [`Gradients`]: the result of a reverse sweep, keyed by [`Var`] and by
//! [`ParamId`]; and [`Target`], what a gradient may be asked for.

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
    /// Sorted by node index, one entry per index: a lookup is a binary
    /// search, and a sweep that fills it in target order appends (no
    /// hashing, one allocation).
    vars: Vec<(usize, Tensor<T>)>,
    /// Sorted by id, one entry per id, as `vars`.
    params: Vec<(ParamId, Tensor<T>)>,
}

/// The entry of `key` in a list sorted by key.
fn find<K: Ord + Copy, V>(list: &[(K, V)], key: K) -> Option<&V> {
    list.binary_search_by_key(&key, |&(k, _)| k)
        .ok()
        .map(|i| &list[i].1)
}

/// Adds or replaces the entry of `key` in a list sorted by key; appending
/// costs nothing more than a comparison.
#[inline(always)]
fn insert_sorted<K: Ord + Copy, V>(list: &mut Vec<(K, V)>, key: K, value: V) {
    match list.last() {
        Some(&(last, _)) if last < key => list.push((key, value)),
        None => list.push((key, value)),
        _ => match list.binary_search_by_key(&key, |&(k, _)| k) {
            Ok(i) => list[i].1 = value,
            Err(i) => list.insert(i, (key, value)),
        },
    }
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
            find(&grads.vars, self.index())
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
        find(&grads.params, self.id())
    }
}

impl<T: Float> GradKey<T> for ParamId {
    fn find(self, grads: &Gradients<T>) -> Option<&Tensor<T>> {
        find(&grads.params, self)
    }
}

impl<T: Float> Gradients<T> {
    pub(crate) fn new(tape: u64) -> Self {
        Gradients {
            tape,
            vars: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Gradients filled into the given lists (empty; kept ones from
    /// [`spare`](super::spare)), with room reserved for `vars` variable and
    /// `params` parameter gradients, so that filling them allocates each
    /// list at most once.
    pub(super) fn from_lists(
        tape: u64,
        (mut var_list, vars): (Vec<(usize, Tensor<T>)>, usize),
        (mut param_list, params): (Vec<(ParamId, Tensor<T>)>, usize),
    ) -> Self {
        debug_assert!(var_list.is_empty() && param_list.is_empty());
        var_list.reserve(vars);
        param_list.reserve(params);
        Gradients {
            tape,
            vars: var_list,
            params: param_list,
        }
    }

    #[inline]
    pub(crate) fn insert_var(&mut self, index: usize, grad: Tensor<T>) {
        insert_sorted(&mut self.vars, index, grad);
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
    #[inline]
    pub fn insert_param(&mut self, id: ParamId, grad: Tensor<T>) {
        insert_sorted(&mut self.params, id, grad);
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
        self.params.iter().map(|(id, g)| (*id, g))
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
        let vars = self.vars.iter_mut().map(|(_, g)| g);
        for g in vars.chain(self.params.iter_mut().map(|(_, g)| g)) {
            *g = f(g);
        }
    }
}

impl<T: Float> Drop for Gradients<T> {
    /// Drops the gradients and keeps the emptied lists for the thread's
    /// next sweep (see the tape's `spare` module), so that a training loop's
    /// results allocate no list.
    fn drop(&mut self) {
        super::spare::give_results(&mut self.vars, &mut self.params);
    }
}

impl<T: Float> Default for Gradients<T> {
    /// An empty set of gradients, not tied to any tape.
    fn default() -> Self {
        Gradients::new(u64::MAX)
    }
}
