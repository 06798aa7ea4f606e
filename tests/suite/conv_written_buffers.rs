//! The convolution's output is taken from the buffer cache without a fill
//! (every element is written by its product before the bias add reads it):
//! forward and backward give the same bits when every kept buffer of the
//! output's size holds NaN, for a plain, a grouped and a pointwise (1×1)
//! convolution, on one thread and on two.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::ops::ConvSpec;
use tapeflow::tensor::Padding;
use tapeflow::{GradientTape, Tensor};

use crate::gpt_written_buffers::poison_sizes;

const BATCH: usize = 16;
const SIDE: usize = 12;
const CHANNELS: usize = 16;
const FILTERS: usize = 32;

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// The bits of `y` and of `dx`, `dw`, `db` for `sum(y²)`.
fn pass(kernel: usize, groups: usize, padding: Padding) -> Vec<Vec<u32>> {
    let spec = ConvSpec::new().padding(padding).groups(groups);
    let mut rng = StdRng::seed_from_u64(21);
    let mut draw = |shape: &[usize]| {
        Tensor::<f32>::rand_uniform_with_rng(shape, -1.0, 1.0, &mut rng).expect("draw")
    };
    let x0 = draw(&[BATCH, SIDE, SIDE, CHANNELS]);
    let w0 = draw(&[kernel, kernel, CHANNELS / groups, FILTERS]);
    let b0 = draw(&[FILTERS]);
    let tape = GradientTape::new();
    let [x, w, b] = [x0, w0, b0].map(|t| tape.watch(&t));
    let y = x.conv2d(&w, Some(&b), spec).expect("shapes fit");
    let g = tape
        .gradient(&y.square().sum(), [x, w, b])
        .expect("gradients");
    let mut out = vec![bits(&y.value())];
    for v in [x, w, b] {
        out.push(bits(g.get(v).expect("a watched input")));
    }
    out
}

#[test]
fn conv_outputs_taken_without_a_fill_are_written_before_they_are_read() {
    let cases = [
        (3, 1, Padding::Same),
        (3, 4, Padding::Same),
        (1, 1, Padding::Valid),
    ];
    let before = tapeflow::num_threads();
    for threads in [1, 2] {
        tapeflow::set_num_threads(threads);
        for (kernel, groups, padding) in cases {
            tapeflow::clear_buffer_cache();
            let reference = pass(kernel, groups, padding);
            assert!(
                reference
                    .iter()
                    .flatten()
                    .all(|&b| f32::from_bits(b).is_finite()),
                "the reference pass is not finite"
            );
            poison_sizes(&[BATCH * SIDE * SIDE * FILTERS]);
            let poisoned = pass(kernel, groups, padding);
            for (k, (a, b)) in reference.iter().zip(&poisoned).enumerate() {
                assert_eq!(
                    a, b,
                    "kernel {kernel}, groups {groups}, {padding:?}, {threads} thread(s): output {k} changed with NaN in the kept buffers"
                );
            }
        }
    }
    tapeflow::set_num_threads(before);
}
