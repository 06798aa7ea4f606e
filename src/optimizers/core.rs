//! What every optimizer shares: the step loop (checks, clipping, learning
//! rate, state per [`ParamId`]), saving and loading state, and the config.
//! Each optimizer supplies only its per-element update as a [`Rule`].
//!
//! This file holds the rule, the state and the step; the settings checks
//! are in `checks`, the error for a refused step in `refuse`, saving and
//! loading the state in `state`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::clipping::Clipping;
use super::kernels::{Check, Isa, Pass, Prep, Write};
use super::learning_rate::LearningRate;
use crate::element::Float;
use crate::error::Result;
use crate::tape::{Gradients, IdMap, Param, ParamId};
use crate::tensor::Tensor;
use checks::invalid;
pub(crate) use checks::{check, non_negative, positive, type_name, unit_interval};

// Settings checks and their messages.
mod checks;
// The error for a step the check pass refused.
mod refuse;
// Saving and loading the state.
mod state;

/// The step an update is made at.
pub(crate) struct Step {
    /// The learning rate for this step (after the schedule).
    pub(crate) lr: f64,
    /// The 1-based step number (`iterations + 1`), for bias corrections.
    pub(crate) t: u64,
}

/// An optimizer's update rule: its hyperparameters and per-element update.
pub(crate) trait Rule: Clone + std::fmt::Debug + Send {
    /// The optimizer's name, lower-case (`"adam"`), also the op in errors.
    fn name(&self) -> &'static str;
    /// The names of the state tensors kept per parameter, in slot order.
    fn slot_names(&self) -> &'static [&'static str];
    /// The initial value of every state element.
    fn slot_init(&self) -> f64 {
        0.0
    }
    /// Checks the hyperparameters, in `f64` and after conversion to the
    /// element type `T` (a value finite in `f64` may be infinite, or a
    /// positive one zero, in `f32`).
    fn validate<T: Float>(&self) -> Result<()>;
    /// Writes the hyperparameters into a config.
    fn write_config(&self, map: &mut Map<String, Value>);
    /// Reads the hyperparameters from a config (absent keys keep their value).
    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()>;
    /// Called once per step before any parameter is updated.
    fn begin_step(&mut self, _t: u64) {}
    /// Hands the kernel for this step and these settings (the update of
    /// one element, see [`Kernel`](super::kernels::Kernel)) to `pass`,
    /// which runs it over one parameter's slices.
    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output;
}

/// The state of one parameter: its shape and one buffer per slot.
#[derive(Clone, Debug)]
struct Slots<T> {
    shape: Vec<usize>,
    data: Vec<Vec<T>>,
}

/// Learning rate, clipping, step count and per-parameter state.
#[derive(Clone, Debug)]
pub(crate) struct Core<T: Float> {
    pub(crate) learning_rate: LearningRate,
    pub(crate) clipping: Clipping,
    pub(crate) iterations: u64,
    /// Hashed by one multiply, not SipHash: the ids are the crate's own
    /// counters and every step looks each parameter up.
    state: IdMap<ParamId, Slots<T>>,
    /// The ids of the `params` slice of the last step, for saving by position.
    order: Vec<ParamId>,
    /// Loaded state not yet matched to parameters: position -> one tensor per slot.
    pending: BTreeMap<usize, Vec<Tensor<T>>>,
    /// The parameters a step updates (position, gradient preparation);
    /// kept so that a step allocates nothing once it has run.
    work: Vec<(usize, Prep<T>)>,
    /// The parameter (position) and reason of the last refused step, if a
    /// non-finite gradient, value or state refused it.
    pub(crate) refusal: Option<(usize, String)>,
    /// Which code runs the passes (tests compare them).
    pub(crate) isa: Isa,
}

/// The most state slots an optimizer keeps per parameter (Adam with
/// AMSGrad, centered RMSprop with momentum).
const MAX_SLOTS: usize = 3;

impl<T: Float> Core<T> {
    pub(crate) fn new(learning_rate: LearningRate) -> Self {
        Core {
            learning_rate,
            clipping: Clipping::default(),
            iterations: 0,
            state: IdMap::default(),
            order: Vec::new(),
            pending: BTreeMap::new(),
            work: Vec::new(),
            refusal: None,
            isa: Isa::default(),
        }
    }

    /// One optimisation step; nothing changes unless every check passes.
    ///
    /// Two passes over every parameter (see [`kernels`](super::kernels)):
    /// the first computes every new value and state and checks that they
    /// (and the gradients) are finite, storing nothing; the second, run
    /// only when all passed, computes them again and writes them in place.
    /// (For a kernel with a proof, the first pass tries that cheaper
    /// condition first and computes the values only where it fails.)
    /// A step allocates nothing once the state exists, and copies a
    /// parameter only if its storage is shared (copy on write: a tape still
    /// holding it, see the [module docs](super)).
    pub(crate) fn apply<R: Rule>(
        &mut self,
        rule: &mut R,
        grads: &Gradients<T>,
        params: &mut [&mut Param<T>],
    ) -> Result<()> {
        let op = rule.name();
        self.refusal = None;
        rule.validate::<T>()?;
        self.learning_rate.validate()?;
        self.clipping.validate::<T>(op)?;
        let lr = self.learning_rate.checked_at::<T>(op, self.iterations)?;
        self.check_pending(op, rule, params)?;
        let mut work = std::mem::take(&mut self.work);
        work.clear();
        for (i, p) in params.iter().enumerate() {
            if !p.trainable() {
                continue;
            }
            let Some(g) = grads.get(p.id()) else {
                continue;
            };
            let shape = p.value().shape();
            if g.shape() != shape {
                return Err(invalid(
                    op,
                    format!(
                        "gradient shape {:?} does not match param \"{}\" shape {:?}",
                        g.shape(),
                        p.name(),
                        shape
                    ),
                ));
            }
            let stale = self.state.get(&p.id()).map(|s| s.shape.as_slice());
            if let Some(old) = stale.filter(|old| *old != shape)
                && !self.pending.contains_key(&i)
            {
                return Err(invalid(
                    op,
                    format!(
                        "param \"{}\" has shape {:?}, but its optimizer state has shape {:?}",
                        p.name(),
                        shape,
                        old
                    ),
                ));
            }
            work.push((i, Prep::identity()));
        }
        // invariant (here and below): every position in `work` has a gradient
        let grad = |pos: usize| -> &[T] {
            grads
                .get(params[pos].id())
                .expect("invariant: work holds params with a gradient")
                .as_slice()
        };
        let global_scale = self
            .clipping
            .global_scale(op, work.iter().map(|&(pos, _)| grad(pos)));
        let global_scale = match global_scale {
            Ok(s) => s,
            Err(e) => {
                // A non-finite gradient makes the joint norm non-finite:
                // name it rather than the norm.
                return Err(self.refuse_gradient(op, params, grads, &work).unwrap_or(e));
            }
        };
        for (pos, prep) in work.iter_mut() {
            *prep = self.clipping.prep(grad(*pos), global_scale);
        }

        let step = Step {
            lr,
            t: self.iterations + 1,
        };
        let mut next_rule = rule.clone();
        next_rule.begin_step(step.t);
        let (n_slots, init) = (rule.slot_names().len(), T::from_f64(rule.slot_init()));
        // Parameters without state start from `init` (first step only).
        let mut fresh: Vec<(usize, Vec<Vec<T>>)> = Vec::new();
        for &(pos, _) in &work {
            let p = &params[pos];
            if !self.pending.contains_key(&pos) && !self.state.contains_key(&p.id()) {
                fresh.push((pos, vec![vec![init; p.value().len()]; n_slots]));
            }
        }

        // Pass 1: check, store nothing.
        for &(pos, prep) in &work {
            let p = &params[pos];
            let mut slots: [&[T]; MAX_SLOTS] = [&[]; MAX_SLOTS];
            match (self.pending.get(&pos), self.state.get(&p.id())) {
                (Some(loaded), _) => {
                    for (r, t) in slots.iter_mut().zip(loaded) {
                        *r = t.as_slice();
                    }
                }
                (None, Some(s)) => {
                    for (r, d) in slots.iter_mut().zip(&s.data) {
                        *r = d;
                    }
                }
                (None, None) => {
                    let (_, f) = fresh
                        .iter()
                        .find(|(q, _)| *q == pos)
                        .expect("invariant: fresh state made above");
                    for (r, d) in slots.iter_mut().zip(f) {
                        *r = d;
                    }
                }
            }
            let ok = next_rule.kernel(
                &step,
                Check {
                    isa: self.isa,
                    prep,
                    p: p.value().as_slice(),
                    g: grad(pos),
                    s: &slots[..n_slots],
                },
            );
            if !ok {
                let e = self.refuse(op, &next_rule, &step, params, grads, &work, &fresh);
                self.work = work;
                return Err(e);
            }
        }

        // Every check passed: from here on nothing fails.
        for (pos, tensors) in std::mem::take(&mut self.pending) {
            let slots = Slots {
                shape: params[pos].value().shape().to_vec(),
                data: tensors.into_iter().map(Tensor::into_vec).collect(),
            };
            self.state.insert(params[pos].id(), slots);
        }
        for (pos, data) in fresh {
            let shape = params[pos].value().shape().to_vec();
            self.state.insert(params[pos].id(), Slots { shape, data });
        }
        self.order.clear();
        self.order.extend(params.iter().map(|p| p.id()));

        // Pass 2: compute again and write in place.
        for &(pos, prep) in &work {
            let p = &mut *params[pos];
            let id = p.id();
            let g = grads
                .get(id)
                .expect("invariant: work holds params with a gradient")
                .as_slice();
            let state = self
                .state
                .get_mut(&id)
                .expect("invariant: state committed above");
            let mut slots: [&mut [T]; MAX_SLOTS] = [&mut [], &mut [], &mut []];
            for (r, d) in slots.iter_mut().zip(state.data.iter_mut()) {
                *r = d;
            }
            next_rule.kernel(
                &step,
                Write {
                    isa: self.isa,
                    prep,
                    p: p.value_mut().as_mut_slice(),
                    g,
                    s: &mut slots[..n_slots],
                },
            );
        }
        self.work = work;
        *rule = next_rule;
        self.iterations += 1;
        Ok(())
    }

    /// The full config: name, learning rate, hyperparameters, clipping.
    pub(crate) fn config<R: Rule>(&self, rule: &R) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), json!(rule.name()));
        map.insert("learning_rate".into(), self.learning_rate.to_config());
        rule.write_config(&mut map);
        self.clipping.write_config(&mut map);
        Value::Object(map)
    }

    /// Reads the learning rate and clipping of a config.
    pub(crate) fn read_config(&mut self, op: &'static str, map: &Map<String, Value>) -> Result<()> {
        if let Some(lr) = map.get("learning_rate") {
            self.learning_rate = LearningRate::from_config(lr)?;
        }
        self.clipping = Clipping::read_config(op, map)?;
        Ok(())
    }
}
