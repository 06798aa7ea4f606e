//! The optimizers update parameters in place: once the tape that computed
//! the gradients is gone, a step writes into the parameter's own storage
//! (no copy, no new buffer), for every optimizer. With the tape still alive
//! the parameter is copied once (copy on write) and the values are the
//! same. And `fit` keeps its finite-step guarantee for an optimizer written
//! outside the crate, which makes no all-or-nothing promise of its own.

use tapeflow::optimizers::{Adadelta, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RmsProp, Sgd};
use tapeflow::prelude::*;
use tapeflow::{Gradients, Param};

fn every_optimizer() -> Vec<Box<dyn Optimizer<f32>>> {
    vec![
        Box::new(Sgd::new(0.1)),
        Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true)),
        Box::new(Adam::new(0.1).amsgrad(true)),
        Box::new(AdamW::new(0.1).clip_norm(0.5)),
        Box::new(Nadam::new(0.1)),
        Box::new(RmsProp::new(0.1).centered(true).momentum(0.5)),
        Box::new(Adagrad::new(0.1).clip_value(0.1)),
        Box::new(Adadelta::new(1.0)),
        Box::new(Lion::new(0.1).global_clip_norm(1.0)),
    ]
}

/// The gradient of `Σ (w · x)²` at `w`, on a tape that is dropped on return.
fn gradient(w: &Param<f32>) -> Result<Gradients<f32>> {
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::from_vec(
        (0..w.value().len())
            .map(|i| i as f32 / 10.0 - 1.0)
            .collect(),
        w.value().shape(),
    )?);
    let loss = tape.param(w).mul(&x)?.square().sum();
    tape.gradient(&loss, [w])
}

#[test]
fn a_step_after_the_tape_is_dropped_writes_into_the_parameter_s_own_storage() -> Result<()> {
    for mut opt in every_optimizer() {
        // 37 elements: two blocks of 16 and a tail.
        let mut w = Param::new("w", Tensor::from_vec(vec![0.5f32; 37], &[37])?);
        for step in 0..3 {
            let grads = gradient(&w)?;
            let before = w.value().as_slice().as_ptr();
            let old = w.value().to_vec();
            opt.apply_gradients(&grads, &mut [&mut w])?;
            assert_eq!(
                w.value().as_slice().as_ptr(),
                before,
                "{} step {step}: the parameter was copied",
                opt.name()
            );
            assert_ne!(
                w.value().to_vec(),
                old,
                "{} step {step}: no update",
                opt.name()
            );
        }
    }
    Ok(())
}

#[test]
fn a_step_while_the_tape_holds_the_parameter_copies_it_once_with_the_same_result() -> Result<()> {
    for (mut alive, mut dropped) in every_optimizer().into_iter().zip(every_optimizer()) {
        let mut a = Param::new("w", Tensor::from_vec(vec![0.5f32; 37], &[37])?);
        let mut b = Param::new("w", Tensor::from_vec(vec![0.5f32; 37], &[37])?);
        for _ in 0..3 {
            let tape = GradientTape::new();
            let held = tape.param(&a);
            let loss = held.square().sum();
            let grads = tape.gradient(&loss, [&a])?;
            alive.apply_gradients(&grads, &mut [&mut a])?;
            // The tape's copy of the parameter is untouched.
            assert_ne!(held.value().to_vec(), a.value().to_vec());
            drop(tape);
            let tape = GradientTape::new();
            let loss = tape.param(&b).square().sum();
            let grads = tape.gradient(&loss, [&b])?;
            drop(tape);
            dropped.apply_gradients(&grads, &mut [&mut b])?;
            let bits = |p: &Param<f32>| -> Vec<u32> {
                p.value().as_slice().iter().map(|v| v.to_bits()).collect()
            };
            assert_eq!(bits(&a), bits(&b), "{}", alive.name());
        }
    }
    Ok(())
}

/// Plain SGD written outside the crate, with no checks at all.
#[derive(Debug)]
struct Unchecked {
    lr: f32,
    steps: u64,
}

impl Optimizer<f32> for Unchecked {
    fn apply_gradients(
        &mut self,
        grads: &Gradients<f32>,
        params: &mut [&mut Param<f32>],
    ) -> Result<()> {
        for p in params.iter_mut() {
            if let Some(g) = grads.get(p.id()) {
                let g = g.to_vec();
                for (v, g) in p.value_mut().as_mut_slice().iter_mut().zip(g) {
                    *v -= self.lr * g;
                }
            }
        }
        self.steps += 1;
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        f64::from(self.lr)
    }
    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.lr = learning_rate as f32;
    }
    fn iterations(&self) -> u64 {
        self.steps
    }
    fn name(&self) -> &'static str {
        "unchecked"
    }
    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "learning_rate": self.lr })
    }
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        Vec::new()
    }
    fn load_state(&mut self, _state: &[(String, Tensor<f32>)]) -> Result<()> {
        Ok(())
    }
}

#[test]
fn fit_rolls_back_an_overflowing_step_of_an_optimizer_written_outside_the_crate() -> Result<()> {
    // The second batch's update, 1e30 · 4e10, overflows f32 (as in
    // fit_guarantees.rs); `Unchecked` would commit it, `fit` must not.
    assert!(!Unchecked { lr: 1e30, steps: 0 }.all_or_nothing());
    let line = || -> Result<Sequential> {
        let mut model = Sequential::new(&[1]).add(Dense::new(1));
        model.compile(Unchecked { lr: 1e30, steps: 0 }, MeanSquaredError, &[])?;
        let zero = || Tensor::from_vec(vec![0.0f32], &[1]);
        model.set_weights(vec![zero()?.reshape(&[1, 1])?, zero()?])?;
        Ok(model)
    };
    let x = Tensor::from_vec(vec![0.0f32, 1.0], &[2, 1])?;
    let y = Tensor::from_vec(vec![1e-20f32, 0.0], &[2, 1])?;
    let options = || {
        FitOptions::default()
            .batch_size(1)
            .shuffle(false)
            .verbose(0)
    };
    let mut reference = line()?;
    reference.fit(&x.slice_rows(0..1)?, &y.slice_rows(0..1)?, options())?;
    let after_batch_0 = reference.get_weights();
    assert!(
        after_batch_0[1].as_slice()[0] > 1e9,
        "batch 0 moves the bias"
    );
    let mut model = line()?;
    let err = model.fit(&x, &y, options()).unwrap_err();
    match &err {
        Error::NonFiniteUpdate {
            epoch,
            batch,
            param,
            ..
        } => {
            assert_eq!((*epoch, *batch, param.as_str()), (0, 1, "dense/kernel"));
        }
        other => panic!("expected NonFiniteUpdate, got {other}"),
    }
    let bits = |w: Vec<Tensor>| -> Vec<Vec<u32>> {
        w.iter()
            .map(|t| t.as_slice().iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    assert_eq!(bits(model.get_weights()), bits(after_batch_0));
    Ok(())
}
