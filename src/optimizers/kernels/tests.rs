//! The passes against the element-by-element formulas, bit for bit.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Isa;
use crate::element::Float;
use crate::optimizers::{Adadelta, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RmsProp, Sgd};
use crate::tape::{Gradients, Param};
use crate::tensor::Tensor;

/// Every optimizer, with every slot layout, weight decay and kind of
/// clipping, running on `isa`.
fn every_setting<T: Float>(isa: Isa) -> Vec<Box<dyn Optimizer<T>>> {
    vec![
        Box::new(Sgd::new(0.1).isa(isa)),
        Box::new(Sgd::new(0.1).weight_decay(0.01).isa(isa)),
        Box::new(Sgd::new(0.1).momentum(0.9).isa(isa)),
        Box::new(
            Sgd::new(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(0.01)
                .isa(isa),
        ),
        Box::new(Sgd::new(0.1).clip_value(0.05).isa(isa)),
        Box::new(Adam::new(0.01).isa(isa)),
        Box::new(Adam::new(0.01).amsgrad(true).weight_decay(0.01).isa(isa)),
        Box::new(Adam::new(0.01).clip_norm(0.5).isa(isa)),
        Box::new(AdamW::new(0.01).isa(isa)),
        Box::new(
            AdamW::new(0.01)
                .amsgrad(true)
                .global_clip_norm(0.3)
                .isa(isa),
        ),
        Box::new(Nadam::new(0.01).isa(isa)),
        Box::new(RmsProp::new(0.01).isa(isa)),
        Box::new(RmsProp::new(0.01).momentum(0.5).isa(isa)),
        Box::new(RmsProp::new(0.01).centered(true).isa(isa)),
        Box::new(RmsProp::new(0.01).centered(true).momentum(0.5).isa(isa)),
        Box::new(Adagrad::new(0.1).isa(isa)),
        Box::new(Adadelta::new(1.0).isa(isa)),
        Box::new(Lion::new(0.01).weight_decay(0.1).isa(isa)),
    ]
}

/// The bits of every parameter and state tensor after 4 steps of each
/// setting on two parameters of odd lengths, with `isa`.
fn run<T: Float>(isa: Isa, len: usize) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for mut opt in every_setting::<T>(isa) {
        let mut rng = StdRng::seed_from_u64(len as u64);
        let mut draw = |n: usize, scale: f64| {
            let v = (0..n)
                .map(|_| T::from_f64(rng.random_range(-scale..scale)))
                .collect();
            Tensor::from_vec(v, &[n]).expect("length")
        };
        let mut a = Param::new("a", draw(len, 1.0));
        let mut b = Param::new("b", draw(len + 2, 1.0));
        for _ in 0..4 {
            let mut grads = Gradients::default();
            grads.insert_param(a.id(), draw(len, 0.5));
            grads.insert_param(b.id(), draw(len + 2, 0.5));
            opt.apply_gradients(&grads, &mut [&mut a, &mut b])
                .expect("a finite step");
        }
        let tensors = [a.value().clone(), b.value().clone()]
            .into_iter()
            .chain(opt.state().into_iter().map(|(_, t)| t));
        out.extend(tensors.map(|t| {
            t.as_slice()
                .iter()
                .map(|v| Float::to_f64(*v).to_bits())
                .collect()
        }));
    }
    out
}

#[test]
fn wide_baseline_and_element_by_element_updates_agree_bit_for_bit() {
    // Lengths below, at and around the block of 16, and long ones with
    // a tail.
    for len in [1, 7, 15, 16, 17, 33, 64, 101] {
        let reference = run::<f32>(Isa::Reference, len);
        assert_eq!(run::<f32>(Isa::Widest, len), reference, "f32, length {len}");
        assert_eq!(
            run::<f32>(Isa::Baseline, len),
            reference,
            "f32, length {len}"
        );
        let reference = run::<f64>(Isa::Reference, len);
        assert_eq!(run::<f64>(Isa::Widest, len), reference, "f64, length {len}");
        assert_eq!(
            run::<f64>(Isa::Baseline, len),
            reference,
            "f64, length {len}"
        );
    }
}

#[test]
fn the_check_pass_finds_a_non_finite_value_in_the_tail_and_in_a_block() {
    // An update that overflows f32 at one element, in a block (index 3)
    // and in the tail (index 17 of 18): refused either way, nothing written.
    for (isa, at) in [(Isa::Widest, 3), (Isa::Widest, 17), (Isa::Baseline, 17)] {
        let mut g = vec![0.0f32; 18];
        g[at] = 10.0;
        let mut p = Param::new("p", Tensor::from_vec(vec![0.5f32; 18], &[18]).expect("18"));
        let mut grads = Gradients::default();
        grads.insert_param(p.id(), Tensor::from_vec(g, &[18]).expect("18"));
        let mut opt = Sgd::new(1e38).isa(isa);
        let err = opt.apply_gradients(&grads, &mut [&mut p]).unwrap_err();
        assert!(err.to_string().contains(&format!("at index {at}")), "{err}");
        assert_eq!(p.value().to_vec(), vec![0.5f32; 18]);
    }
}

/// `10^e` for `e` uniform in `[lo, hi]`, with a random sign.
fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    let x = 10f64.powf(rng.random_range(lo..hi));
    if rng.random_bool(0.5) { x } else { -x }
}

#[test]
fn proved_checks_refuse_exactly_the_steps_the_reference_refuses() {
    // The Adam family's check pass runs a proof first and the full check
    // where it fails; the reference runs the formula element by element.
    // On values up to 3e38, mixed with ordinary ones, both must accept and
    // refuse the same steps and write the same bits.
    let settings = |isa: Isa, lr: f64| -> Vec<Box<dyn Optimizer<f32>>> {
        vec![
            Box::new(Adam::new(lr).isa(isa)),
            Box::new(Adam::new(lr).amsgrad(true).weight_decay(0.01).isa(isa)),
            Box::new(AdamW::new(lr).clip_value(1e30).isa(isa)),
            Box::new(AdamW::new(lr).amsgrad(true).epsilon(1e-30).isa(isa)),
        ]
    };
    let (mut accepted, mut refused) = (0, 0);
    for seed in 0..150u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let lr = log_uniform(&mut rng, -4.0, 38.0).abs();
        // Each vector has no, a few or many extreme elements.
        let draw = |rng: &mut StdRng, n: usize| -> Vec<f32> {
            let rate = [0.0, 0.03, 0.3][rng.random_range(0..3)];
            (0..n)
                .map(|_| {
                    if !rng.random_bool(rate) {
                        rng.random_range(-1.0..1.0)
                    } else {
                        log_uniform(rng, 0.0, 38.5) as f32
                    }
                })
                .collect()
        };
        let n = 37;
        let p0 = draw(&mut rng, n);
        let grads: Vec<Vec<f32>> = (0..4).map(|_| draw(&mut rng, n)).collect();
        let wide = settings(Isa::Widest, lr);
        let reference = settings(Isa::Reference, lr);
        for (mut a, mut b) in wide.into_iter().zip(reference) {
            let mut pa = Param::new("p", Tensor::from_vec(p0.clone(), &[n]).expect("n"));
            let mut pb = Param::new("p", Tensor::from_vec(p0.clone(), &[n]).expect("n"));
            for g in &grads {
                let (mut ga, mut gb) = (Gradients::default(), Gradients::default());
                ga.insert_param(pa.id(), Tensor::from_vec(g.clone(), &[n]).expect("n"));
                gb.insert_param(pb.id(), Tensor::from_vec(g.clone(), &[n]).expect("n"));
                let ra = a.apply_gradients(&ga, &mut [&mut pa]).is_ok();
                let rb = b.apply_gradients(&gb, &mut [&mut pb]).is_ok();
                assert_eq!(ra, rb, "seed {seed}, lr {lr}");
                if ra {
                    accepted += 1;
                } else {
                    refused += 1;
                }
                let bits = |p: &Param<f32>| -> Vec<u32> {
                    p.value().as_slice().iter().map(|x| x.to_bits()).collect()
                };
                assert_eq!(bits(&pa), bits(&pb), "seed {seed}, lr {lr}");
                let state = |o: &dyn Optimizer<f32>| -> Vec<Vec<u32>> {
                    o.state()
                        .into_iter()
                        .map(|(_, t)| t.as_slice().iter().map(|x| x.to_bits()).collect())
                        .collect()
                };
                assert_eq!(state(&*a), state(&*b), "seed {seed}, lr {lr}");
            }
        }
    }
    assert!(
        accepted > 300 && refused > 300,
        "{accepted} accepted, {refused} refused"
    );
}
