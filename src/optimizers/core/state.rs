//! Saving and loading an optimizer's state: the step count and one tensor
//! per slot and parameter, keyed by the parameter's position.

use std::collections::BTreeMap;

use super::checks::{first_non_finite, invalid};
use super::{Core, Rule};
use crate::element::Float;
use crate::error::Result;
use crate::tape::Param;
use crate::tensor::Tensor;

const TWO_24: u64 = 1 << 24;

impl<T: Float> Core<T> {
    /// Checks that loaded state fits the parameters it is for.
    pub(super) fn check_pending<R: Rule>(
        &self,
        op: &'static str,
        rule: &R,
        params: &[&mut Param<T>],
    ) -> Result<()> {
        for (&pos, slots) in &self.pending {
            let Some(p) = params.get(pos) else {
                return Err(invalid(
                    op,
                    format!(
                        "loaded state is for param {pos}, but only {} params were given",
                        params.len()
                    ),
                ));
            };
            for (name, t) in rule.slot_names().iter().zip(slots) {
                if t.shape() != p.value().shape() {
                    return Err(invalid(
                        op,
                        format!(
                            "loaded state {name}/{pos} has shape {:?}, param \"{}\" has shape {:?}",
                            t.shape(),
                            p.name(),
                            p.value().shape()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `iterations` (as `[n mod 2^24, n div 2^24]`, exact in `f32`), then
    /// `slot/position` for every parameter with state.
    pub(crate) fn state<R: Rule>(&self, rule: &R) -> Vec<(String, Tensor<T>)> {
        let n = self.iterations;
        let iterations = Tensor::from_parts(
            vec![
                T::from_f64((n % TWO_24) as f64),
                T::from_f64((n / TWO_24) as f64),
            ],
            vec![2],
        );
        let mut out = vec![("iterations".to_string(), iterations)];
        let mut by_pos: BTreeMap<usize, Vec<Tensor<T>>> = self.pending.clone();
        for (pos, id) in self.order.iter().enumerate() {
            if let (Some(s), false) = (self.state.get(id), by_pos.contains_key(&pos)) {
                let tensors = s
                    .data
                    .iter()
                    .map(|d| Tensor::from_parts(d.clone(), s.shape.clone()))
                    .collect();
                by_pos.insert(pos, tensors);
            }
        }
        for (pos, tensors) in by_pos {
            for (name, t) in rule.slot_names().iter().zip(tensors) {
                out.push((format!("{name}/{pos}"), t));
            }
        }
        out
    }

    /// Replaces all state by `state` (as written by [`state`](Self::state));
    /// the tensors are matched to parameters by position at the next step.
    pub(crate) fn load_state<R: Rule>(
        &mut self,
        rule: &R,
        state: &[(String, Tensor<T>)],
    ) -> Result<()> {
        let op = "load_state";
        let names = rule.slot_names();
        let mut iterations = None;
        let mut found: BTreeMap<usize, Vec<Option<Tensor<T>>>> = BTreeMap::new();
        for (key, t) in state {
            if key == "iterations" {
                let v = t.as_slice();
                let ok = |x: f64| x >= 0.0 && x.fract() == 0.0 && x < TWO_24 as f64;
                if v.len() != 2 || !ok(v[0].to_f64()) || !ok(v[1].to_f64()) {
                    return Err(invalid(
                        op,
                        format!("'iterations' must hold 2 integers below 2^24, got {t:?}"),
                    ));
                }
                iterations = Some(v[0].to_f64() as u64 + (v[1].to_f64() as u64) * TWO_24);
                continue;
            }
            let parsed = key.split_once('/').and_then(|(name, pos)| {
                let slot = names.iter().position(|n| *n == name)?;
                Some((slot, pos.parse::<usize>().ok()?))
            });
            let Some((slot, pos)) = parsed else {
                return Err(invalid(
                    op,
                    format!(
                        "{} has no state '{key}' (expected 'iterations' or one of {names:?} + '/position')",
                        rule.name()
                    ),
                ));
            };
            if let Some((k, v)) = first_non_finite(t.as_slice()) {
                return Err(invalid(
                    op,
                    format!("state '{key}' is not finite: {v} at index {k}"),
                ));
            }
            found.entry(pos).or_insert_with(|| vec![None; names.len()])[slot] = Some(t.clone());
        }
        let Some(iterations) = iterations else {
            return Err(invalid(op, "missing 'iterations'".to_string()));
        };
        let mut pending = BTreeMap::new();
        for (pos, slots) in found {
            let mut tensors = Vec::with_capacity(names.len());
            for (name, t) in names.iter().zip(slots) {
                let t = t.ok_or_else(|| {
                    invalid(op, format!("state of param {pos} lacks '{name}/{pos}'"))
                })?;
                if tensors
                    .first()
                    .is_some_and(|f: &Tensor<T>| f.shape() != t.shape())
                {
                    return Err(invalid(
                        op,
                        format!("state tensors of param {pos} differ in shape"),
                    ));
                }
                tensors.push(t);
            }
            pending.insert(pos, tensors);
        }
        self.iterations = iterations;
        self.state.clear();
        self.pending = pending;
        Ok(())
    }
}
