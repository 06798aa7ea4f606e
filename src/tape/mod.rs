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
pub(crate) use id_hash::IdMap;
mod param;
mod spare;
mod sweep;
mod var;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

pub use gradients::{GradKey, Gradients, Target};
pub use param::{Param, ParamId};
pub use var::Var;

use crate::element::Float;
use crate::tensor::Tensor;

/// A gradient flowing through the sweep: a tensor, or one value repeated
/// over the receiving node's whole shape.
///
/// The gradient of a full sum is its output gradient spread over the
/// input: [`Grad::Fill`] says so without writing the spread out. A rule
/// recorded with [`GradientTape::record_rule`] receives it as it is (the
/// product's rule multiplies by the value directly); every other rule
/// receives it written out ([`Grad::into_tensor`]), the same elements a
/// spread would have had.
#[derive(Clone)]
pub(crate) enum Grad<T: Float> {
    /// A gradient of the receiving node's shape (or, emitted by a rule, of
    /// its op's output shape, summed back to the parent's by the sweep).
    Tensor(Tensor<T>),
    /// Every element of the receiving node's gradient equals this value.
    Fill(T),
}

impl<T: Float> Grad<T> {
    /// The gradient as a tensor of `shape` (the receiving node's).
    #[inline]
    pub(crate) fn into_tensor(self, shape: &[usize]) -> Tensor<T> {
        match self {
            Grad::Tensor(t) => t,
            Grad::Fill(v) => Tensor::filled(shape, v),
        }
    }
}

/// Where a backward rule sends the gradient for its parent number `k`. A
/// [`Grad::Fill`] sent is the value over parent `k`'s own shape.
pub(crate) type Sink<'a, T> = &'a mut dyn FnMut(usize, Grad<T>);

/// A backward rule: given the node's gradient (owned, so a rule may write
/// its result into it when no one else holds it) and the node's inputs,
/// emits each parent's gradient.
///
/// A rule that reads its operands and result through [`Inputs`] instead of
/// capturing them is a zero-sized closure, and boxing it allocates nothing.
type Backward<T> = Box<dyn Fn(Grad<T>, &Inputs<'_, T>, Sink<'_, T>)>;

/// What a backward rule may read besides the gradient: its op's operands
/// and result, as stored on the tape, and which operands need a gradient.
pub(crate) struct Inputs<'a, T: Float> {
    nodes: &'a [Node<T>],
    node: &'a Node<T>,
}

impl<'a, T: Float> Inputs<'a, T> {
    /// Operand number `k`'s value.
    #[inline]
    pub(crate) fn x(&self, k: usize) -> &'a Tensor<T> {
        let p = self
            .node
            .parents
            .get(k)
            .expect("invariant: a rule reads only its op's operands");
        &self.nodes[p].value
    }

    /// The op's result.
    #[inline]
    pub(crate) fn y(&self) -> &'a Tensor<T> {
        &self.node.value
    }

    /// Whether operand number `k` needs a gradient.
    #[inline]
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
    #[inline]
    fn get(&self, k: usize) -> Option<usize> {
        match self {
            Parents::Inline { len, ids } => ids[..usize::from(*len)].get(k).copied(),
            Parents::Heap(ids) => ids.get(k).copied(),
        }
    }
}

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(0);

/// How many tape ids a thread takes from [`NEXT_TAPE_ID`] at a time.
const TAPE_ID_BLOCK: u64 = 1024;

thread_local! {
    /// The thread's block of tape ids: the next one to hand out, and the
    /// end of the block.
    static TAPE_IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A tape id no other tape of the process has: from the thread's block,
/// which is taken from the shared counter every [`TAPE_ID_BLOCK`] tapes
/// (one atomic read-modify-write, a costly instruction, per block instead
/// of per tape).
fn next_tape_id() -> u64 {
    TAPE_IDS
        .try_with(|ids| {
            let (mut next, mut end) = ids.get();
            if next == end {
                next = NEXT_TAPE_ID.fetch_add(TAPE_ID_BLOCK, Ordering::Relaxed);
                end = next + TAPE_ID_BLOCK;
            }
            ids.set((next + 1, end));
            next
        })
        // During the thread's teardown: one id from the shared counter.
        .unwrap_or_else(|_| NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed))
}

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
    /// The node list and the sweep's lists, kept between sweeps and, by
    /// the thread, between tapes (`spare`); `None` only once dropped.
    lists: Option<Box<spare::Lists<T>>>,
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

impl<T: Float> Drop for GradientTape<T> {
    /// Drops the nodes and keeps the emptied list for the thread's next
    /// tape.
    fn drop(&mut self) {
        if let Some(lists) = self.lists.take() {
            spare::give(lists);
        }
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
    #[inline]
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// An empty tape; its lists (nodes, the sweep's) are the ones the last
    /// tape dropped on this thread left (emptied, in one box), so recording
    /// and sweeping allocate no list.
    #[inline]
    fn with_mode(inference: bool) -> Self {
        GradientTape {
            lists: Some(spare::take()),
            params: RefCell::new(id_hash::IdMap::default()),
            inference,
            id: next_tape_id(),
        }
    }

    /// The node list.
    #[inline]
    fn nodes(&self) -> &RefCell<Vec<Node<T>>> {
        &self.lists().nodes
    }

    /// The sweep's lists.
    #[inline]
    fn scratch(&self) -> &RefCell<spare::Scratch<T>> {
        &self.lists().scratch
    }

    #[inline]
    fn lists(&self) -> &spare::Lists<T> {
        self.lists
            .as_deref()
            .expect("invariant: a tape holds its lists until dropped")
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
        Self::with_mode(true)
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
        self.nodes().borrow().len()
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
        self.nodes()
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
        let mut nodes = self.nodes().borrow_mut();
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
            Box::new(move |g, inputs, sink| {
                let g = g.into_tensor(inputs.y().shape());
                for (k, grad) in backward(&g).into_iter().enumerate() {
                    if let Some(grad) = grad {
                        sink(k, Grad::Tensor(grad));
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
                let g = g.into_tensor(inputs.y().shape());
                for (k, grad) in backward(g, inputs).into_iter().enumerate() {
                    if let Some(grad) = grad {
                        sink(k, Grad::Tensor(grad));
                    }
                }
            })
        })
    }

    /// Like [`record_with`](Self::record_with), for rules that take the
    /// node's gradient as a [`Grad`] (a [`Grad::Fill`] not written out) and
    /// send their parents' gradients to the sink themselves, parent `k` by
    /// `sink(k, grad)`, in the order in which they should accumulate.
    pub(crate) fn record_rule<const N: usize>(
        &self,
        parents: [Var<'_, T>; N],
        value: Tensor<T>,
        rule: impl Fn(Grad<T>, &Inputs<'_, T>, Sink<'_, T>) + 'static,
    ) -> Var<'_, T> {
        self.push_op(&parents, value, move || Box::new(rule))
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
            Box::new(move |g, inputs, sink| {
                let g = g.into_tensor(inputs.y().shape());
                for (k, grad) in backward(&g).into_iter().enumerate() {
                    sink(k, Grad::Tensor(grad));
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
        let mut nodes = self.nodes().borrow_mut();
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

    // The node accessors below index by a `Var`'s own index: a `Var` is made
    // only by `push` on this tape (its index is that node's), operands from
    // another tape are refused by id before they get here, and a tape never
    // removes a node while it lives, so the index is always in range.
    pub(crate) fn value_of(&self, index: usize) -> Tensor<T> {
        self.nodes().borrow()[index].value.clone()
    }

    /// Runs `f` on a node's value read in place (no handle is cloned): for
    /// kernels that only read their operand. `f` must not record on this
    /// tape (it runs while the node list is borrowed).
    #[inline]
    pub(crate) fn with_value<R>(&self, index: usize, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        f(&self.nodes().borrow()[index].value)
    }

    /// [`with_value`](Self::with_value) for two nodes.
    #[inline]
    pub(crate) fn with_values<R>(
        &self,
        a: usize,
        b: usize,
        f: impl FnOnce(&Tensor<T>, &Tensor<T>) -> R,
    ) -> R {
        let nodes = self.nodes().borrow();
        f(&nodes[a].value, &nodes[b].value)
    }

    pub(crate) fn shape_of(&self, index: usize) -> Vec<usize> {
        self.nodes().borrow()[index].value.shape().to_vec()
    }

    pub(crate) fn requires_grad_of(&self, index: usize) -> bool {
        self.nodes().borrow()[index].requires_grad
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

#[cfg(test)]
mod tests;
