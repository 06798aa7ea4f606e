//! The reverse sweep: [`GradientTape::gradient`] and
//! [`GradientTape::gradient_with`], one pass from the output down to the
//! lowest target, summing broadcast gradients back to their parents' shapes.

use super::{Grad, GradientTape, Gradients, Inputs, ParamId, Target, Var};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

impl<T: Float> GradientTape<T> {
    /// Gradients of a scalar `loss` with respect to each target: watched
    /// [`Var`]s and [`Param`](super::Param)s (anything that converts into a [`Target`]).
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
        {
            // Borrowed, not copied: the shape is read in place.
            let nodes = self.nodes().borrow();
            let shape = nodes[loss.index()].value.shape();
            if crate::tensor::numel(shape) != 1 {
                return Err(Error::InvalidArgument {
                    op: "gradient",
                    message: format!(
                        "the loss must hold one element, got shape {shape:?}; give an output gradient with gradient_with"
                    ),
                });
            }
        }
        // The loss's one element is 1: a fill, written out only if a rule
        // or the result needs it as a tensor (no allocation otherwise).
        self.sweep(loss, Grad::Fill(T::one()), targets)
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
        self.sweep(output, Grad::Tensor(output_gradient.clone()), targets)
    }

    fn check_same_tape(&self, op: &'static str, v: &Var<'_, T>) -> Result<()> {
        if v.tape_id() == self.id {
            Ok(())
        } else {
            Err(Error::TapeMismatch { op })
        }
    }

    /// The reverse sweep: one pass from `output` down to the lowest target.
    fn sweep<'a, I>(&self, output: &Var<'_, T>, seed: Grad<T>, targets: I) -> Result<Gradients<T>>
    where
        T: 'a,
        I: IntoIterator,
        I::Item: Into<Target<'a, T>>,
    {
        let nodes = self.nodes().borrow();
        // Resolve targets to node indices. The lists of this sweep are the
        // thread's spare ones when it has them (`spare`): no allocation.
        let (mut wanted, mut slots, var_list, param_list) = {
            let mut scratch = self.scratch().borrow_mut();
            (
                std::mem::take(&mut scratch.wanted),
                std::mem::take(&mut scratch.slots),
                std::mem::take(&mut scratch.var_results),
                std::mem::take(&mut scratch.param_results),
            )
        };
        // The zero gradients of parameters not on this tape (rare: no list
        // is allocated otherwise). A target is a few words, so that listing
        // one moves no tensor.
        let mut absent: Vec<Option<Tensor<T>>> = Vec::new();
        for t in targets {
            let want = match t.into() {
                Target::Var { tape, index } => {
                    if tape != self.id {
                        return Err(Error::TapeMismatch { op: "gradient" });
                    }
                    Want::Var(index)
                }
                Target::Param(p) => match self.params.borrow().get(&p.id()).copied() {
                    Some(index) => Want::Param(p.id(), index),
                    // Not on this tape: its gradient is zero.
                    None => {
                        absent.push(Some(Tensor::filled(p.value().shape(), T::zero())));
                        Want::Absent(p.id(), absent.len() - 1)
                    }
                },
            };
            wanted.push(want);
        }
        let out = output.index();
        // One slot per node up to the output: its gradient so far, and how
        // many of the targets asked for are this node (a target may be
        // listed twice).
        slots.resize_with(out + 1, Slot::default);
        let mut lowest = out + 1;
        for want in &wanted {
            if let Some(i) = want.index().filter(|&i| i <= out) {
                slots[i].wanted += 1;
                lowest = lowest.min(i);
            }
        }
        if nodes[out].requires_grad {
            slots[out].grad = Some(seed);
        }
        let mut failure: Option<Error> = None;
        for i in (lowest..=out).rev() {
            let node = &nodes[i];
            let Some(rule) = &node.backward else {
                // A leaf (or a node that needs no gradient): nothing flows
                // further, and a target's gradient stays in its slot, not
                // moved or copied, until handed out.
                continue;
            };
            let Some(g) = slots[i].grad.take() else {
                continue;
            };
            // A target keeps its gradient (a handle; the rule then copies
            // before writing into it).
            let keep = (slots[i].wanted > 0).then(|| g.clone());
            {
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
                    let parent = &nodes[p];
                    if !parent.requires_grad {
                        return;
                    }
                    match grad {
                        // A fill is over the parent's own shape already.
                        Grad::Fill(v) => accumulate_fill(&mut slots[p].grad, v),
                        Grad::Tensor(grad) => match fit_to(grad, parent.value.shape()) {
                            Ok(grad) => accumulate(&mut slots[p].grad, grad),
                            Err(e) => failure = Some(e),
                        },
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
        let params = wanted.iter().filter(|w| !matches!(w, Want::Var(_))).count();
        // The result's lists are the ones the thread's last dropped
        // `Gradients` left (`spare`), when it left any.
        let mut result = Gradients::from_lists(
            self.id,
            (var_list, wanted.len() - params),
            (param_list, params),
        );
        for &want in &wanted {
            let (i, key) = match want {
                Want::Var(i) => (i, None),
                Want::Param(id, i) => (i, Some(id)),
                Want::Absent(id, k) => {
                    let zeros = absent[k].take();
                    result.insert_param(id, zeros.expect("invariant: each absent target once"));
                    continue;
                }
            };
            // The last request for a node takes its gradient; earlier
            // duplicates get a copy of the handle (storage is shared). A
            // fill is written out here, over its node's shape; a node
            // nothing flowed into (or one above the output) gets zeros.
            let grad = match slots.get_mut(i) {
                Some(slot) => {
                    slot.wanted = slot.wanted.saturating_sub(1);
                    if slot.wanted == 0 {
                        slot.grad.take()
                    } else {
                        slot.grad.clone()
                    }
                }
                None => None,
            };
            let grad = match grad {
                Some(Grad::Tensor(t)) => t,
                Some(Grad::Fill(v)) => Tensor::filled(nodes[i].value.shape(), v),
                None => Tensor::filled(nodes[i].value.shape(), T::zero()),
            };
            match key {
                None => result.insert_var(i, grad),
                Some(id) => result.insert_param(id, grad),
            }
        }
        wanted.clear();
        slots.clear();
        let mut scratch = self.scratch().borrow_mut();
        scratch.wanted = wanted;
        scratch.slots = slots;
        Ok(result)
    }
}

/// A gradient asked for, resolved against the tape.
#[derive(Clone, Copy)]
pub(super) enum Want {
    /// A node of this tape.
    Var(usize),
    /// A parameter recorded on this tape, at this node.
    Param(ParamId, usize),
    /// A parameter not on this tape, with its zero gradient at this
    /// position of the sweep's list of them.
    Absent(ParamId, usize),
}

impl Want {
    /// The node whose gradient is asked for, if on the tape.
    fn index(&self) -> Option<usize> {
        match self {
            Want::Var(i) | Want::Param(_, i) => Some(*i),
            Want::Absent(..) => None,
        }
    }
}

pub(super) struct Slot<T: Float> {
    /// The gradient accumulated so far (`None`: nothing flowed in yet).
    grad: Option<Grad<T>>,
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
#[inline(always)]
fn fit_to<T: Float>(grad: Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    if crate::tensor::same_shape(grad.shape(), shape) {
        Ok(grad)
    } else {
        grad.sum_to_shape(shape)
    }
}

/// Adds `grad` (of the slot's node's shape) into a gradient slot, in place
/// when the slot owns its storage. Each element is `earlier + later`, as if
/// a fill had been written out.
#[inline]
fn accumulate<T: Float>(slot: &mut Option<Grad<T>>, mut grad: Tensor<T>) {
    match slot {
        None => *slot = Some(Grad::Tensor(grad)),
        Some(Grad::Tensor(acc)) => {
            for (a, &g) in acc.as_mut_slice().iter_mut().zip(grad.as_slice()) {
                *a += g;
            }
        }
        Some(Grad::Fill(a)) => {
            let a = *a;
            for g in grad.as_mut_slice() {
                *g = a + *g;
            }
            *slot = Some(Grad::Tensor(grad));
        }
    }
}

/// Adds `v` over the slot's node's shape into a gradient slot.
#[inline]
fn accumulate_fill<T: Float>(slot: &mut Option<Grad<T>>, v: T) {
    match slot {
        None => *slot = Some(Grad::Fill(v)),
        Some(Grad::Tensor(acc)) => {
            for a in acc.as_mut_slice() {
                *a += v;
            }
        }
        Some(Grad::Fill(a)) => *a += v,
    }
}
