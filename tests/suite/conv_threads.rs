//! The convolution and pooling kernels split the batch into chunks of whole
//! images that run in parallel: 1 and 2 threads must give the same bits
//! (forward and every gradient), and a batch cut into several chunks must
//! give what the images give one at a time.

use tapeflow::ops::ConvSpec;
use tapeflow::tensor::Padding;
use tapeflow::{GradientTape, Tensor};

/// Values in `[-1, 1]` from a seed (xorshift).
fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        })
        .collect();
    Tensor::from_vec(data, shape).expect("length matches shape")
}

/// Forward values and the gradients of x, kernel and bias of a convolution
/// followed by max and average pooling, for an upstream gradient of ones
/// weighted by a fixed tensor.
fn conv_pool_run(x: &Tensor, w: &Tensor, b: &Tensor, spec: ConvSpec) -> Vec<Vec<f32>> {
    let tape = GradientTape::new();
    let (xv, wv, bv) = (tape.watch(x), tape.watch(w), tape.watch(b));
    let y = xv.conv2d(&wv, Some(&bv), spec).expect("shapes fit");
    let m = y.max_pool2d([2, 2], [2, 2], Padding::Same).expect("pool");
    let a = y.avg_pool2d([3, 3], [2, 2], Padding::Same).expect("pool");
    let weights_m = tape.constant(&tensor(&m.shape(), 7));
    let weights_a = tape.constant(&tensor(&a.shape(), 8));
    let loss = m
        .mul(&weights_m)
        .expect("same shape")
        .sum()
        .add(&a.mul(&weights_a).expect("same shape").sum())
        .expect("scalars");
    let g = tape.gradient(&loss, [xv, wv, bv]).expect("gradients");
    vec![
        y.value().to_vec(),
        m.value().to_vec(),
        a.value().to_vec(),
        g.get(xv).expect("x gradient").to_vec(),
        g.get(wv).expect("kernel gradient").to_vec(),
        g.get(bv).expect("bias gradient").to_vec(),
    ]
}

/// Batch 9 of 20x20 images: 400 output pixels each, so the convolution
/// runs in chunks of 5 and 4 images; pooling 24 images in several chunks.
fn cases() -> Vec<(Tensor, Tensor, Tensor, ConvSpec)> {
    vec![
        (
            tensor(&[9, 20, 20, 3], 1),
            tensor(&[3, 3, 3, 8], 2),
            tensor(&[8], 3),
            ConvSpec::new().padding(Padding::Same),
        ),
        (
            tensor(&[9, 20, 20, 4], 4),
            tensor(&[3, 3, 2, 6], 5),
            tensor(&[6], 6),
            ConvSpec::new().groups(2).strides([1, 2]).dilation([2, 1]),
        ),
        // Pointwise: straight onto the matrix product.
        (
            tensor(&[9, 20, 20, 4], 7),
            tensor(&[1, 1, 4, 5], 8),
            tensor(&[5], 9),
            ConvSpec::new(),
        ),
        // 24 images of 20x20x8 after the convolution: several pooling chunks.
        (
            tensor(&[24, 20, 20, 2], 10),
            tensor(&[1, 1, 2, 8], 11),
            tensor(&[8], 12),
            ConvSpec::new().padding(Padding::Same),
        ),
    ]
}

#[test]
fn conv_and_pooling_give_the_same_bits_on_one_thread_and_on_two() {
    for (i, (x, w, b, spec)) in cases().into_iter().enumerate() {
        tapeflow::set_num_threads(1);
        let one = conv_pool_run(&x, &w, &b, spec);
        tapeflow::set_num_threads(2);
        let two = conv_pool_run(&x, &w, &b, spec);
        let pooled = tapeflow::in_pool(|| conv_pool_run(&x, &w, &b, spec));
        tapeflow::set_num_threads(0);
        for (k, ((a, b), c)) in one.iter().zip(&two).zip(&pooled).enumerate() {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "case {i}, output {k}: 1 vs 2 threads");
            assert_eq!(
                bits(a),
                bits(c),
                "case {i}, output {k}: 1 thread vs in_pool"
            );
        }
    }
}

#[test]
fn a_batch_in_several_chunks_matches_the_images_one_at_a_time() {
    for (i, (x, w, b, spec)) in cases().into_iter().take(3).enumerate() {
        let whole = conv_pool_run(&x, &w, &b, spec);
        let n = x.shape()[0];
        let mut kernel_grad = vec![0.0f64; w.len()];
        let mut bias_grad = vec![0.0f64; b.len()];
        let per_image = |t: &[f32]| t.len() / n;
        for img in 0..n {
            let xi = x.slice_rows(img..img + 1).expect("one image");
            let tape = GradientTape::new();
            let (xv, wv, bv) = (tape.watch(&xi), tape.watch(&w), tape.watch(&b));
            let y = xv.conv2d(&wv, Some(&bv), spec).expect("shapes fit");
            let m = y.max_pool2d([2, 2], [2, 2], Padding::Same).expect("pool");
            let a = y.avg_pool2d([3, 3], [2, 2], Padding::Same).expect("pool");
            // The same upstream weights as the whole batch, this image's rows.
            let wm = tensor(&[n, m.shape()[1], m.shape()[2], m.shape()[3]], 7);
            let wa = tensor(&[n, a.shape()[1], a.shape()[2], a.shape()[3]], 8);
            let wm = tape.constant(&wm.slice_rows(img..img + 1).expect("rows"));
            let wa = tape.constant(&wa.slice_rows(img..img + 1).expect("rows"));
            let loss = m
                .mul(&wm)
                .expect("same shape")
                .sum()
                .add(&a.mul(&wa).expect("same shape").sum())
                .expect("scalars");
            let g = tape.gradient(&loss, [xv, wv, bv]).expect("gradients");
            let close = |got: &[f32], want: &[f32], what: &str| {
                let k = got.len();
                for (j, (p, q)) in got.iter().zip(&want[img * k..(img + 1) * k]).enumerate() {
                    assert!(
                        (p - q).abs() <= 1e-5 * (1.0 + q.abs()),
                        "case {i}, image {img}, {what}[{j}]: {p} vs {q}"
                    );
                }
            };
            close(&y.value().to_vec(), &whole[0], "y");
            close(&m.value().to_vec(), &whole[1], "max pool");
            close(&a.value().to_vec(), &whole[2], "avg pool");
            let dx = g.get(xv).expect("x gradient").to_vec();
            assert_eq!(dx.len(), per_image(&whole[3]));
            close(&dx, &whole[3], "dx");
            for (s, &v) in kernel_grad
                .iter_mut()
                .zip(g.get(wv).expect("dw").as_slice())
            {
                *s += f64::from(v);
            }
            for (s, &v) in bias_grad.iter_mut().zip(g.get(bv).expect("db").as_slice()) {
                *s += f64::from(v);
            }
        }
        for (what, sum, want) in [
            ("dw", &kernel_grad, &whole[4]),
            ("db", &bias_grad, &whole[5]),
        ] {
            for (j, (s, &q)) in sum.iter().zip(want).enumerate() {
                assert!(
                    (s - f64::from(q)).abs() <= 1e-4 * (1.0 + f64::from(q).abs()),
                    "case {i}, {what}[{j}]: sum over images {s} vs batch {q}"
                );
            }
        }
    }
}
