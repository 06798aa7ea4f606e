//! The finite-step guarantee of `fit`: no optimizer step commits a NaN or
//! infinite value into a parameter or into the optimizer's state.
//!
//! A built-in optimizer keeps the guarantee itself
//! ([`Optimizer::all_or_nothing`](crate::optimizers::Optimizer::all_or_nothing)):
//! its fused update checks every gradient and every value it would write
//! before writing any, so a refused step has changed nothing. `fit` then
//! only turns the refusal into [`Error::NonFiniteUpdate`], naming the
//! parameter the optimizer reports. Nothing is copied and nothing is read
//! twice: the one mechanism is the optimizer's.
//!
//! An optimizer written outside the crate makes no such promise, so for it
//! `fit` checks both sides of each step itself:
//!
//! - before: every gradient must be finite (a read pass, nothing copied);
//! - after: every parameter and every optimizer slot must be finite. If one
//!   is not, the step is rolled back to the parameters (kept as shared
//!   handles) and the optimizer state from before it (the state read to
//!   check a step is kept as the next step's snapshot).

use super::Sequential;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Gradients;
use crate::tensor::Tensor;

/// The optimizer state as `Optimizer::state` gives it.
pub(crate) type OptimizerState<T> = Vec<(String, Tensor<T>)>;

/// The first non-finite element of a tensor, with its flat index.
fn first_non_finite<T: Float>(t: &Tensor<T>) -> Option<(usize, T)> {
    t.as_slice()
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| (i, t.as_slice()[i])) // `i` came from `position`
}

/// The error of a step the optimizer refused for a reason other than a
/// non-finite value.
fn refused(epoch: usize, batch: usize, e: Error) -> Error {
    Error::InvalidArgument {
        op: "fit",
        message: format!(
            "epoch {epoch}, batch {batch}: the optimizer refused the step ({e}); the weights and optimizer state from before this batch are kept"
        ),
    }
}

/// What `fit` carries from one step to the next: for an optimizer that is
/// not all or nothing, the optimizer state after the last committed step
/// (checked finite), `None` before the first.
#[derive(Default)]
pub(crate) struct StepGuard<T: Float> {
    state: Option<OptimizerState<T>>,
}

impl<T: Float> StepGuard<T> {
    /// Applies `grads` to `model` with its compiled optimizer, or returns
    /// [`Error::NonFiniteUpdate`] (naming `epoch`, `batch` and the first
    /// offending parameter) and leaves the parameters and the optimizer
    /// state bit for bit as they were.
    pub(crate) fn apply(
        &mut self,
        model: &mut Sequential<T>,
        grads: &Gradients<T>,
        epoch: usize,
        batch: usize,
    ) -> Result<()> {
        // Names are only needed for an error: looked up then.
        let fail = |model: &Sequential<T>, position: usize, message: String| {
            let param = model
                .param_names("fit")
                .ok()
                .and_then(|names| names.get(position).cloned())
                .unwrap_or_else(|| format!("#{position}"));
            Error::NonFiniteUpdate {
                epoch,
                batch,
                param,
                message,
            }
        };
        let Some(compiled) = model.compiled.as_mut() else {
            return Err(model.not_compiled("fit"));
        };
        if compiled.optimizer.all_or_nothing() {
            let mut params: Vec<_> = model
                .layers
                .iter_mut()
                .flat_map(|l| l.params_mut())
                .collect();
            let applied = compiled.optimizer.apply_gradients(grads, &mut params);
            let refusal = compiled.optimizer.refused_param();
            return applied.map_err(|e| match refusal {
                Some((position, message)) => fail(model, position, message),
                None => refused(epoch, batch, e),
            });
        }
        for (position, p) in model.params().into_iter().enumerate() {
            if let Some((i, v)) = grads.get(p).and_then(first_non_finite) {
                return Err(fail(
                    model,
                    position,
                    format!("its gradient holds {v} at index {i}"),
                ));
            }
        }
        let compiled = model
            .compiled
            .as_ref()
            .ok_or_else(|| model.not_compiled("fit"))?;
        let state_before = match self.state.take() {
            Some(s) => s,
            None => compiled.optimizer.state(),
        };
        // Shared handles: no copy is made here.
        let params_before = model.get_weights();

        let applied = {
            let compiled = model
                .compiled
                .as_mut()
                .expect("invariant: checked compiled above");
            let mut params: Vec<_> = model
                .layers
                .iter_mut()
                .flat_map(|l| l.params_mut())
                .collect();
            compiled.optimizer.apply_gradients(grads, &mut params)
        };
        let verdict = match applied {
            Err(e) => Err(refused(epoch, batch, e)),
            Ok(()) => Self::check_after(model, fail),
        };
        match verdict {
            Ok(state_after) => {
                self.state = Some(state_after);
                Ok(())
            }
            Err(e) => {
                model.set_weights(params_before)?;
                if let Some(c) = model.compiled.as_mut() {
                    c.optimizer.load_state(&state_before)?;
                }
                self.state = Some(state_before);
                Err(e)
            }
        }
    }

    /// Checks every parameter and optimizer slot after a step; returns the
    /// optimizer state (the next step's snapshot).
    fn check_after(
        model: &Sequential<T>,
        fail: impl Fn(&Sequential<T>, usize, String) -> Error,
    ) -> Result<OptimizerState<T>> {
        for (position, p) in model.params().into_iter().enumerate() {
            if let Some((i, v)) = first_non_finite(p.value()) {
                return Err(fail(
                    model,
                    position,
                    format!(
                        "the update would make it {v} at index {i} (it overflows {}; lower the learning rate or clip the gradients)",
                        T::NAME
                    ),
                ));
            }
        }
        let compiled = model
            .compiled
            .as_ref()
            .expect("invariant: fit checked compile");
        let state = compiled.optimizer.state();
        for (key, t) in &state {
            if let Some((i, v)) = first_non_finite(t) {
                // Slots are "<slot>/<position>"; position is the parameter's
                // index in layer order.
                let position = key
                    .rsplit_once('/')
                    .and_then(|(_, pos)| pos.parse::<usize>().ok())
                    .unwrap_or(usize::MAX);
                return Err(fail(
                    model,
                    position,
                    format!(
                        "the update would make optimizer state {key:?} {v} at index {i} (it overflows {})",
                        T::NAME
                    ),
                ));
            }
        }
        Ok(state)
    }
}
