//! Elementwise passes split over the thread pool (the optimizers' update,
//! the unary and scalar tensor ops) give the same bits with 1 and 2
//! threads, on sizes above the split threshold (16,384 elements inside the
//! pool; pieces of 8,192).
//!
//! One test function on purpose: `set_num_threads` is process-wide, so
//! the runs below must not interleave with each other.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::optimizers::{Adam, Optimizer, RmsProp, Sgd};
use tapeflow::{Gradients, Param, Tensor};

/// Parameter length: above the split threshold, not a multiple of the
/// piece (8,192) or of the vector block (16).
const LEN: usize = 5 * 8192 + 7;

/// Makes a fresh optimizer of one setting.
type Make = fn() -> Box<dyn Optimizer<f32>>;

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// The bits of the parameter and of every state tensor after 3 steps of
/// `opt`, each step run on the pool; and of a few unary and scalar ops on
/// a tensor of `LEN` elements, also on the pool.
fn run(threads: usize, mut opt: Box<dyn Optimizer<f32>>) -> Vec<Vec<u32>> {
    tapeflow::set_num_threads(threads);
    let mut rng = StdRng::seed_from_u64(11);
    let mut draw = |scale: f32| {
        Tensor::<f32>::rand_uniform_with_rng(&[LEN], -scale, scale, &mut rng).expect("draw")
    };
    let mut p = Param::new("p", draw(1.0));
    for _ in 0..3 {
        let mut grads = Gradients::default();
        grads.insert_param(p.id(), draw(0.5));
        tapeflow::in_pool(|| opt.apply_gradients(&grads, &mut [&mut p])).expect("a finite step");
    }
    let mut out = vec![bits(p.value())];
    out.extend(opt.state().iter().map(|(_, t)| bits(t)));
    let x = draw(3.0);
    let ops = tapeflow::in_pool(|| {
        [
            x.tanh(),
            x.exp(),
            x.sigmoid(),
            x.mul_scalar(1.5),
            x.powf(2.5),
            x.clamp(-1.0, 1.0),
        ]
    });
    out.extend(ops.iter().map(bits));
    out
}

#[test]
fn split_passes_give_the_same_bits_with_one_and_two_threads() {
    let settings: [Make; 4] = [
        || Box::new(Adam::new(1e-2)),
        || Box::new(Adam::new(1e-2).amsgrad(true).clip_norm(0.5)),
        || Box::new(Sgd::new(0.1).momentum(0.9).clip_value(0.2)),
        || Box::new(RmsProp::new(1e-2).centered(true)),
    ];
    for (i, make) in settings.iter().enumerate() {
        let one = run(1, make());
        let two = run(2, make());
        assert_eq!(one[0].len(), LEN);
        assert_eq!(one.len(), two.len());
        for (j, (a, b)) in one.iter().zip(&two).enumerate() {
            assert!(a == b, "setting {i}, tensor {j}: 1 and 2 threads differ");
        }
    }
    tapeflow::set_num_threads(0);
}
