//! [`GradientTape`]: reverse-mode automatic differentiation on a Wengert list.
//!
//! The tape owns an append-only list of nodes (a value, its parents, and the
//! rule that maps the node's gradient to its parents' gradients). Append order
//! is already a topological order, so [`GradientTape::gradient`] is one
//! reverse loop over the list: no recursion (a chain of 100,000 ops is fine),
//! no sort, no hash map. [`Var`] is a `Copy` handle to a node.
//!
//! This module owns the engine, [`Var`]'s plumbing, [`Param`] and
//! [`Gradients`]. The differentiable operations themselves live in
//! [`ops`](crate::ops), one family per file, each with its backward rule.
//!
//! Broadcasting is undone centrally: when a backward rule returns a gradient
//! larger than its parent (because the forward op broadcast the parent), the
//! engine sums it back to the parent's shape. No op handles that itself.

mod gradients;
mod id_hash;
mod param;
mod var;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

pub use gradients::{GradKey, Gradients, Target};
pub use param::{Param, ParamId};
pub use var::Var;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Where a backward rule sends the gradient for its parent number `k`.
type Sink<'a, T> = &'a mut dyn FnMut(usize, Tensor<T>);

/// A backward rule: given the node's gradient (owned, so a rule may write
/// its result into it when no one else holds it) and the node's inputs,
/// emits each parent's gradient.
///
/// A rule that reads its operands and result through [`Inputs`] instead of
/// capturing them is a zero-sized closure, and boxing it allocates nothing.
type Backward<T> = Box<dyn Fn(Tensor<T>, &Inputs<'_, T>, Sink<'_, T>)>;

/// What a backward rule may read besides the gradient: its op's operands
/// and result, as stored on the tape, and which operands need a gradient.
pub(crate) struct Inputs<'a, T: Float> {
    nodes: &'a [Node<T>],
    node: &'a Node<T>,
}

impl<'a, T: Float> Inputs<'a, T> {
    /// Operand number `k`'s value.
    pub(crate) fn x(&self, k: usize) -> &'a Tensor<T> {
        let p = self
            .node
            .parents
            .get(k)
            .expect("invariant: a rule reads only its op's operands");
        &self.nodes[p].value
    }

    /// The op's result.
    pub(crate) fn y(&self) -> &'a Tensor<T> {
        &self.node.value
    }

    /// Whether operand number `k` needs a gradient.
    pub(crate) fn needs(&self, k: usize) -> bool {
        self.node
            .parents
            .get(k)
            .is_some_and(|p| self.nodes[p].requires_grad)
    }
}

struct Node<T: Float> {
    value: Tensor<T>,
    /// Parents' node indices; empty for leaves.
    parents: Parents,
    /// `None` for leaves and for nodes that need no gradient.
    backward: Option<Backward<T>>,
    /// Whether any gradient flows into this node (a watched leaf, a
    /// trainable parameter, or an op with such a parent).
    requires_grad: bool,
}

/// How many parents a node keeps inline, without an allocation: enough for
/// every op but concatenation (`linear` has three: input, kernel, bias).
const INLINE_PARENTS: usize = 3;

/// A node's parents: inline for up to [`INLINE_PARENTS`], on the heap
/// beyond (only `concat` of many tensors goes there).
enum Parents {
    Inline {
        len: u8,
        ids: [usize; INLINE_PARENTS],
    },
    Heap(Box<[usize]>),
}

impl Parents {
    const NONE: Parents = Parents::Inline {
        len: 0,
        ids: [0; INLINE_PARENTS],
    };

    fn new<T: Float>(vars: &[Var<'_, T>]) -> Parents {
        if vars.len() <= INLINE_PARENTS {
            let mut ids = [0; INLINE_PARENTS];
            for (id, v) in ids.iter_mut().zip(vars) {
                *id = v.index();
            }
            // Cannot truncate: the length is at most INLINE_PARENTS.
            Parents::Inline {
                len: vars.len() as u8,
                ids,
            }
        } else {
            Parents::Heap(vars.iter().map(|v| v.index()).collect())
        }
    }

    /// Parent number `k`'s node index; `None` past the last parent (a rule
    /// emitting more gradients than its op has parents).
    fn get(&self, k: usize) -> Option<usize> {
        match self {
            Parents::Inline { len, ids } => ids[..usize::from(*len)].get(k).copied(),
            Parents::Heap(ids) => ids.get(k).copied(),
        }
    }
}

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(0);

/// Records operations on [`Var`]s so that gradients can be computed by one
/// reverse sweep, the analogue of TensorFlow's `tf.GradientTape`.
///
/// Put tensors on the tape with [`watch`](Self::watch) (differentiable
/// inputs), [`constant`](Self::constant) (data) or [`param`](Self::param)
/// (layer parameters); compute with [`Var`]'s operations; then ask
/// [`gradient`](Self::gradient). A tape may be asked for gradients any number
/// of times (it is "persistent" in TensorFlow's terms). An op none of whose
/// inputs needs a gradient stores its value only, so the same forward code
/// serves inference cheaply.
///
/// # Examples
///
/// ```
/// use tapeflow::{GradientTape, Tensor};
///
/// // y = x² + 5x, so dy/dx = 2x + 5 = 11 at x = 3
/// let tape = GradientTape::new();
/// let x = tape.watch(&Tensor::scalar(3.0f32));
/// let y = x.square().add(&x.mul_scalar(5.0))?;
/// let grads = tape.gradient(&y, [x])?;
/// assert_eq!(grads.get(x).unwrap().item()?, 11.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct GradientTape<T: Float = f32> {
    nodes: RefCell<Vec<Node<T>>>,
    /// The node of each parameter put on the tape, so a lookup is O(1).
    params: RefCell<id_hash::IdMap<ParamId, usize>>,
    /// Parameters enter as constants (see [`GradientTape::inference`]).
    inference: bool,
    id: u64,
}

impl<T: Float> Default for GradientTape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> std::fmt::Debug for GradientTape<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradientTape")
            .field("nodes", &self.len())
            .finish()
    }
}

impl<T: Float> GradientTape<T> {
    /// An empty tape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::GradientTape;
    ///
    /// let tape = GradientTape::<f32>::new();
    /// assert!(tape.is_empty());
    /// ```
    pub fn new() -> Self {
        GradientTape {
            nodes: RefCell::new(Vec::new()),
            params: RefCell::new(id_hash::IdMap::default()),
            inference: false,
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// A tape for inference: parameters enter as constants, so a forward
    /// pass through layers records no backward rule and keeps values only
    /// (what `predict` and `evaluate` use). Watched inputs still record, so
    /// the gradient of an output with respect to an input (a saliency map)
    /// works on an inference tape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Param, Tensor};
    ///
    /// let w = Param::new("w", Tensor::scalar(2.0f32));
    /// let tape = GradientTape::inference();
    /// let y = tape.param(&w).square();
    /// assert_eq!(y.value().item()?, 4.0);
    /// assert_eq!(tape.recorded_ops(), 0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn inference() -> Self {
        GradientTape {
            inference: true,
            ..Self::new()
        }
    }

    /// The number of nodes on the tape (leaves included).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let _y = x.exp();
    /// assert_eq!(tape.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::GradientTape;
    ///
    /// assert!(GradientTape::<f64>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of nodes that carry a backward rule: what the tape will
    /// walk in [`gradient`](Self::gradient). Zero in pure inference.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::<f32>::ones(&[3])?);
    /// let _y = x.exp().sum();                 // nothing needs a gradient
    /// assert_eq!(tape.recorded_ops(), 0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn recorded_ops(&self) -> usize {
        self.nodes
            .borrow()
            .iter()
            .filter(|n| n.backward.is_some())
            .count()
    }

    /// Puts `value` on the tape as an input to differentiate with respect to.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
    /// let grads = tape.gradient(&x.square().sum(), [x])?;
    /// assert_eq!(grads.get(x).unwrap().to_vec(), vec![2.0, 4.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn watch(&self, value: &Tensor<T>) -> Var<'_, T> {
        self.leaf(value.clone(), true)
    }

    /// Puts `value` on the tape as a constant: no gradient flows into it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let c = tape.constant(&Tensor::scalar(2.0f32));
    /// assert!(!c.requires_grad());
    /// ```
    pub fn constant(&self, value: &Tensor<T>) -> Var<'_, T> {
        self.leaf(value.clone(), false)
    }

    /// Puts a layer parameter on the tape, so that its gradient comes back
    /// keyed by the parameter. A frozen parameter (`trainable == false`) is
    /// a constant. Asking for the same parameter twice returns the same node,
    /// so its uses accumulate into one gradient.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Param, Tensor};
    ///
    /// let w = Param::new("w", Tensor::scalar(3.0f32));
    /// let tape = GradientTape::new();
    /// let wv = tape.param(&w);
    /// let loss = wv.mul(&tape.param(&w))?;      // w², dw = 2w
    /// let grads = tape.gradient(&loss, [&w])?;
    /// assert_eq!(grads.get(&w).unwrap().item()?, 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn param(&self, param: &Param<T>) -> Var<'_, T> {
        let existing = self.params.borrow().get(&param.id()).copied();
        match existing {
            Some(index) => Var::new(self, index),
            None => {
                let var = self.leaf(param.value().clone(), param.trainable() && !self.inference);
                self.params.borrow_mut().insert(param.id(), var.index());
                var
            }
        }
    }

    fn leaf(&self, value: Tensor<T>, requires_grad: bool) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            value,
            parents: Parents::NONE,
            backward: None,
            requires_grad,
        });
        Var::new(self, nodes.len() - 1)
    }

    /// Appends an op's result with the rule that maps its gradient to the
    /// gradients of its `N` parents. The rule is dropped (only the value is
    /// kept) when no parent needs a gradient.
    pub(crate) fn record<const N: usize>(
        &self,
        parents: [Var<'_, T>; N],
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> [Tensor<T>; N] + 'static,
    ) -> Var<'_, T> {
        self.record_partial(parents, value, move |g| backward(g).map(Some))
    }

    /// Like [`record`](Self::record), for rules that compute only the
    /// gradients some parents need (returning `None` for the others), such as
    /// matmul, where each side costs a full product.
    pub(crate) fn record_partial<const N: usize>(
        &self,
        parents: [Var<'_, T>; N],
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> [Option<Tensor<T>>; N] + 'static,
    ) -> Var<'_, T> {
        self.push_op(&parents, value, move || {
            Box::new(move |g, _, sink| {
                for (k, grad) in backward(&g).into_iter().enumerate() {
                    if let Some(grad) = grad {
                        sink(k, grad);
                    }
                }
            })
        })
    }

    /// Like [`record_partial`](Self::record_partial), for rules that read
    /// the op's operands and result from the tape ([`Inputs`]) rather than
    /// capturing them, and that take the node's gradient by value (to reuse
    /// its buffer). A rule that captures nothing costs no allocation.
    pub(crate) fn record_with<const N: usize>(
        &self,
        parents: [Var<'_, T>; N],
        value: Tensor<T>,
        backward: impl Fn(Tensor<T>, &Inputs<'_, T>) -> [Option<Tensor<T>>; N] + 'static,
    ) -> Var<'_, T> {
        self.push_op(&parents, value, move || {
            Box::new(move |g, inputs, sink| {
                for (k, grad) in backward(g, inputs).into_iter().enumerate() {
                    if let Some(grad) = grad {
                        sink(k, grad);
                    }
                }
            })
        })
    }

    /// Appends an op with any number of parents (concatenation): the rule
    /// returns one gradient per parent, in order.
    pub(crate) fn record_many(
        &self,
        parents: &[Var<'_, T>],
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> Vec<Tensor<T>> + 'static,
    ) -> Var<'_, T> {
        self.push_op(parents, value, move || {
            Box::new(move |g, _, sink| {
                for (k, grad) in backward(&g).into_iter().enumerate() {
                    sink(k, grad);
                }
            })
        })
    }

    /// Appends an op node; the rule is made (and boxed) only when some
    /// parent needs a gradient, else the node keeps its value alone.
    fn push_op(
        &self,
        parents: &[Var<'_, T>],
        value: Tensor<T>,
        rule: impl FnOnce() -> Backward<T>,
    ) -> Var<'_, T> {
        let mut nodes = self.nodes.borrow_mut();
        let requires_grad = parents.iter().any(|p| nodes[p.index()].requires_grad);
        let (parents, backward) = if requires_grad {
            (Parents::new(parents), Some(rule()))
        } else {
            (Parents::NONE, None)
        };
        nodes.push(Node {
            value,
            parents,
            backward,
            requires_grad,
        });
        Var::new(self, nodes.len() - 1)
    }

    pub(crate) fn value_of(&self, index: usize) -> Tensor<T> {
        self.nodes.borrow()[index].value.clone()
    }

    /// Runs `f` on a node's value read in place (no handle is cloned): for
    /// kernels that only read their operand. `f` must not record on this
    /// tape (it runs while the node list is borrowed).
    #[inline]
    pub(crate) fn with_value<R>(&self, index: usize, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self.nodes.borrow()[index].value)
    }

    /// [`with_value`](Self::with_value) for two nodes.
    #[inline]
    pub(crate) fn with_values<R>(
        &self,
        a: usize,
        b: usize,
        f: impl FnOnce(&Tensor<T>, &Tensor<T>) -> R,
    ) -> R {
        let nodes = self.nodes.borrow();
        f(&nodes[a].value, &nodes[b].value)
    }

    pub(crate) fn shape_of(&self, index: usize) -> Vec<usize> {
        self.nodes.borrow()[index].value.shape().to_vec()
    }

    pub(crate) fn requires_grad_of(&self, index: usize) -> bool {
        self.nodes.borrow()[index].requires_grad
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Gradients of a scalar `loss` with respect to each target: watched
    /// [`Var`]s and [`Param`]s (anything that converts into a [`Target`]).
    ///
    /// A target that does not influence the loss gets a zero gradient; a
    /// target used several times gets the sum of its uses' gradients.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `loss` holds more than one element (use
    /// [`gradient_with`](Self::gradient_with)); [`Error::TapeMismatch`] if
    /// `loss` or a target `Var` belongs to another tape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(2.0f64));
    /// let unused = tape.watch(&Tensor::scalar(5.0f64));
    /// let y = x.mul(&x)?.mul(&x)?;             // y = x³, dy/dx = 3x² = 12
    /// let g = tape.gradient(&y, [x, unused])?;
    /// assert_eq!(g.get(x).unwrap().item()?, 12.0);
    /// assert_eq!(g.get(unused).unwrap().item()?, 0.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn gradient<'a, I>(&self, loss: &Var<'_, T>, targets: I) -> Result<Gradients<T>>
    where
        T: 'a,
        I: IntoIterator,
        I::Item: Into<Target<'a, T>>,
    {
        self.check_same_tape("gradient", loss)?;
        let seed = {
            // Borrowed, not copied: the shape is read in place.
            let nodes = self.nodes.borrow();
            let shape = nodes[loss.index()].value.shape();
            if crate::tensor::numel(shape) != 1 {
                return Err(Error::InvalidArgument {
                    op: "gradient",
                    message: format!(
                        "the loss must hold one element, got shape {shape:?}; give an output gradient with gradient_with"
                    ),
                });
            }
            Tensor::filled(shape, T::one())
        };
        self.sweep(loss, seed, targets)
    }

    /// Gradients of `Σ output_gradient · output` with respect to each
    /// target: the vector-Jacobian product, TensorFlow's
    /// `output_gradients`. `output_gradient` must have the output's shape.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `output_gradient` does not have the shape
    /// of `output`; [`Error::TapeMismatch`] as for [`gradient`](Self::gradient).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
    /// let y = x.square();                       // dy_i/dx_i = 2 x_i
    /// let r = Tensor::from_vec(vec![10.0f32, 100.0], &[2])?;
    /// let g = tape.gradient_with(&y, &r, [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![20.0, 400.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn gradient_with<'a, I>(
        &self,
        output: &Var<'_, T>,
        output_gradient: &Tensor<T>,
        targets: I,
    ) -> Result<Gradients<T>>
    where
        T: 'a,
        I: IntoIterator,
        I::Item: Into<Target<'a, T>>,
    {
        self.check_same_tape("gradient_with", output)?;
        let shape = self.shape_of(output.index());
        if output_gradient.shape() != shape.as_slice() {
            return Err(Error::ShapeMismatch {
                op: "gradient_with",
                lhs: shape,
                rhs: output_gradient.shape().to_vec(),
            });
        }
        self.sweep(output, output_gradient.clone(), targets)
    }

    fn check_same_tape(&self, op: &'static str, v: &Var<'_, T>) -> Result<()> {
        if v.tape_id() == self.id {
            Ok(())
        } else {
            Err(Error::TapeMismatch { op })
        }
    }

    /// The reverse sweep: one pass from `output` down to the lowest target.
    fn sweep<'a, I>(&self, output: &Var<'_, T>, seed: Tensor<T>, targets: I) -> Result<Gradients<T>>
    where
        T: 'a,
        I: IntoIterator,
        I::Item: Into<Target<'a, T>>,
    {
        let nodes = self.nodes.borrow();
        // Resolve targets to node indices (None: a parameter not on this tape).
        let targets = targets.into_iter();
        // Sized up front: one allocation, not one per doubling.
        let mut wanted: Vec<(Target<'a, T>, Option<usize>)> =
            Vec::with_capacity(targets.size_hint().0);
        for t in targets {
            let t = t.into();
            let index = match &t {
                Target::Var { tape, index } => {
                    if *tape != self.id {
                        return Err(Error::TapeMismatch { op: "gradient" });
                    }
                    Some(*index)
                }
                Target::Param(p) => self.params.borrow().get(&p.id()).copied(),
            };
            wanted.push((t, index));
        }
        let out = output.index();
        // One slot per node up to the output: its gradient so far, and how
        // many of the targets asked for are this node (a target may be
        // listed twice). One allocation for the whole sweep.
        let mut slots: Vec<Slot<T>> = Vec::new();
        slots.resize_with(out + 1, Slot::default);
        let mut lowest = out + 1;
        for &(_, index) in &wanted {
            if let Some(i) = index.filter(|&i| i <= out) {
                slots[i].wanted += 1;
                lowest = lowest.min(i);
            }
        }
        if nodes[out].requires_grad {
            slots[out].grad = Some(seed);
        }
        let mut failure: Option<Error> = None;
        for i in (lowest..=out).rev() {
            let Some(g) = slots[i].grad.take() else {
                continue;
            };
            let node = &nodes[i];
            // A target keeps its gradient (a handle; the rule then copies
            // before writing into it).
            let keep = (slots[i].wanted > 0).then(|| g.clone());
            if let Some(rule) = &node.backward {
                let inputs = Inputs {
                    nodes: &nodes,
                    node,
                };
                rule(g, &inputs, &mut |k, grad| {
                    if failure.is_some() {
                        return;
                    }
                    let p = node
                        .parents
                        .get(k)
                        .expect("invariant: a rule emits gradients only for its op's parents");
                    if !nodes[p].requires_grad {
                        return;
                    }
                    match fit_to(grad, nodes[p].value.shape()) {
                        Ok(grad) => accumulate(&mut slots[p].grad, grad),
                        Err(e) => failure = Some(e),
                    }
                });
                if let Some(e) = failure.take() {
                    return Err(e);
                }
            }
            // Every node above `i` is done, so nothing writes this slot
            // again: a target keeps its gradient here until handed out.
            if keep.is_some() {
                slots[i].grad = keep;
            }
        }
        let params = wanted
            .iter()
            .filter(|(t, _)| matches!(t, Target::Param(_)))
            .count();
        let mut result = Gradients::with_capacity(self.id, wanted.len() - params, params);
        for (t, index) in wanted {
            // The last request for a node takes its gradient; earlier
            // duplicates get a copy of the handle (storage is shared).
            let grad = index.and_then(|i| {
                let slot = slots.get_mut(i)?;
                slot.wanted = slot.wanted.saturating_sub(1);
                if slot.wanted == 0 {
                    slot.grad.take()
                } else {
                    slot.grad.clone()
                }
            });
            match t {
                Target::Var { index: i, .. } => {
                    let g =
                        grad.unwrap_or_else(|| Tensor::filled(nodes[i].value.shape(), T::zero()));
                    result.insert_var(i, g);
                }
                Target::Param(p) => {
                    let g = grad.unwrap_or_else(|| Tensor::filled(p.value().shape(), T::zero()));
                    result.insert_param(p.id(), g);
                }
            }
        }
        Ok(result)
    }
}

/// A node's place in the reverse sweep.
struct Slot<T: Float> {
    /// The gradient accumulated so far (`None`: nothing flowed in yet).
    grad: Option<Tensor<T>>,
    /// How many of the requested targets are this node.
    wanted: u32,
}

impl<T: Float> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            grad: None,
            wanted: 0,
        }
    }
}

/// Sums a gradient back to its parent's shape when the forward op broadcast
/// the parent.
fn fit_to<T: Float>(grad: Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    if grad.shape() == shape {
        Ok(grad)
    } else {
        grad.sum_to_shape(shape)
    }
}

/// Adds `grad` into a gradient slot, in place when the slot owns its storage.
fn accumulate<T: Float>(slot: &mut Option<Tensor<T>>, grad: Tensor<T>) {
    match slot {
        None => *slot = Some(grad),
        Some(acc) => {
            for (a, &g) in acc.as_mut_slice().iter_mut().zip(grad.as_slice()) {
                *a += g;
            }
        }
    }
}

#[cfg(test)]
mod tests;
