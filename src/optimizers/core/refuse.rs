//! The error for a step that the check pass refused: which parameter, and
//! which value (gradient, new value or state) would be non-finite.

use super::checks::{first_non_finite, invalid};
use super::{Core, Rule, Step};
use crate::element::Float;
use crate::error::Error;
use crate::optimizers::kernels::{Prep, Write};
use crate::tape::{Gradients, Param};
use crate::tensor::Tensor;

impl<T: Float> Core<T> {
    /// The error for the first parameter (in `work` order) whose gradient
    /// is not finite, if there is one; records it as the refusal.
    pub(super) fn refuse_gradient(
        &mut self,
        op: &'static str,
        params: &[&mut Param<T>],
        grads: &Gradients<T>,
        work: &[(usize, Prep<T>)],
    ) -> Option<Error> {
        for &(pos, _) in work {
            let p = &params[pos];
            let g = grads.get(p.id())?;
            if let Some((k, v)) = first_non_finite(g.as_slice()) {
                self.refusal = Some((pos, format!("its gradient holds {v} at index {k}")));
                return Some(invalid(
                    op,
                    format!(
                        "gradient of param \"{}\" (shape {:?}) is not finite: {v} at index {k}; nothing was updated",
                        p.name(),
                        p.value().shape()
                    ),
                ));
            }
        }
        None
    }

    /// The error for a step the check pass refused: the first non-finite
    /// gradient of any parameter, else the first parameter whose update
    /// would be non-finite (its value, then its slots in order). Only runs
    /// on a refused step, so it may copy: it repeats the update on copies
    /// to find the element.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn refuse<R: Rule>(
        &mut self,
        op: &'static str,
        rule: &R,
        step: &Step,
        params: &[&mut Param<T>],
        grads: &Gradients<T>,
        work: &[(usize, Prep<T>)],
        fresh: &[(usize, Vec<Vec<T>>)],
    ) -> Error {
        if let Some(e) = self.refuse_gradient(op, params, grads, work) {
            return e;
        }
        for &(pos, prep) in work {
            let p = &params[pos];
            let Some(g) = grads.get(p.id()) else {
                continue;
            };
            let mut value = p.value().to_vec();
            let mut slots: Vec<Vec<T>> = match (self.pending.get(&pos), self.state.get(&p.id())) {
                (Some(loaded), _) => loaded.iter().map(Tensor::to_vec).collect(),
                (None, Some(s)) => s.data.clone(),
                (None, None) => fresh
                    .iter()
                    .find(|(q, _)| *q == pos)
                    .map(|(_, f)| f.clone())
                    .unwrap_or_default(),
            };
            let mut refs: Vec<&mut [T]> = slots.iter_mut().map(Vec::as_mut_slice).collect();
            rule.kernel(
                step,
                Write {
                    isa: self.isa,
                    prep,
                    p: &mut value,
                    g: g.as_slice(),
                    s: &mut refs,
                },
            );
            if let Some((k, v)) = first_non_finite(&value) {
                self.refusal = Some((
                    pos,
                    format!(
                        "the update would make it {v} at index {k} (it overflows {}; lower the learning rate or clip the gradients)",
                        T::NAME
                    ),
                ));
                return invalid(
                    op,
                    format!(
                        "the update would make param \"{}\" non-finite ({v} at index {k}, learning rate {}); nothing was updated",
                        p.name(),
                        step.lr
                    ),
                );
            }
            for (name, slot) in rule.slot_names().iter().zip(&slots) {
                if let Some((k, v)) = first_non_finite(slot) {
                    self.refusal = Some((
                        pos,
                        format!(
                            "the update would make optimizer state \"{name}/{pos}\" {v} at index {k} (it overflows {})",
                            T::NAME
                        ),
                    ));
                    return invalid(
                        op,
                        format!(
                            "the update would make the {name} state of param \"{}\" non-finite ({v} at index {k}); nothing was updated",
                            p.name()
                        ),
                    );
                }
            }
        }
        // The check pass found a non-finite value that the same update on
        // copies does not produce: impossible, as both run the same
        // kernel; refuse the step all the same.
        invalid(
            op,
            "the update would make a value non-finite; nothing was updated".to_string(),
        )
    }
}
