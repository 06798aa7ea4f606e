//! The convolution's backward pass computes the input, kernel and bias
//! gradients in one sweep over chunks of images, each only when the tape
//! needs it: every subset gives the same bits as all three, and all three
//! match a direct (nested-loop) evaluation of the formulas in `f64`, also
//! at a size where each chunk holds a single image.

use tapeflow::ops::ConvSpec;
use tapeflow::tensor::Padding;
use tapeflow::{GradientTape, Tensor};

/// Values in `[-1, 1]` from a seed (xorshift).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::from_vec(values(shape.iter().product(), seed), shape).expect("length matches shape")
}

/// `[y, dx, dw, db]` for the upstream gradient `gy`; a gradient the tape
/// was not asked for (its input a constant) is `None`.
fn run(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: &Tensor<f64>,
    spec: ConvSpec,
    gy_seed: u64,
    watch: [bool; 3],
) -> [Option<Vec<f64>>; 4] {
    let tape = GradientTape::new();
    let var = |t: &Tensor<f64>, on: bool| if on { tape.watch(t) } else { tape.constant(t) };
    let (xv, wv, bv) = (var(x, watch[0]), var(w, watch[1]), var(b, watch[2]));
    let y = xv.conv2d(&wv, Some(&bv), spec).expect("shapes fit");
    let gy = tape.constant(&tensor(&y.shape(), gy_seed));
    let loss = y.mul(&gy).expect("same shape").sum();
    let g = tape.gradient(&loss, [xv, wv, bv]).expect("gradients");
    let get = |v, on: bool| on.then(|| g.get(v).expect("a watched input").to_vec());
    [
        Some(y.value().to_vec()),
        get(xv, watch[0]),
        get(wv, watch[1]),
        get(bv, watch[2]),
    ]
}

/// `y`, `dx`, `dw` and `db` of a `valid` convolution with one group,
/// stride `s` and dilation `d`, by nested loops over the formulas.
fn direct(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: &Tensor<f64>,
    s: usize,
    d: usize,
    gy: &[f64],
) -> [Vec<f64>; 4] {
    let &[n, h, wd, c] = x.shape() else {
        panic!("4-d input")
    };
    let &[kh, kw, _, f] = w.shape() else {
        panic!("4-d kernel")
    };
    let (oh, ow) = (
        (h - (kh - 1) * d - 1) / s + 1,
        (wd - (kw - 1) * d - 1) / s + 1,
    );
    let (xs, ws) = (x.as_slice(), w.as_slice());
    let mut y = vec![0.0; n * oh * ow * f];
    let (mut dx, mut dw, mut db) = (vec![0.0; xs.len()], vec![0.0; ws.len()], vec![0.0; f]);
    for bi in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for (o, db_o) in db.iter_mut().enumerate() {
                    let at = ((bi * oh + oy) * ow + ox) * f + o;
                    let mut acc = b.as_slice()[o];
                    *db_o += gy[at];
                    for p in 0..kh {
                        for q in 0..kw {
                            for ci in 0..c {
                                let xi = ((bi * h + oy * s + p * d) * wd + ox * s + q * d) * c + ci;
                                let wi = ((p * kw + q) * c + ci) * f + o;
                                acc += xs[xi] * ws[wi];
                                dx[xi] += gy[at] * ws[wi];
                                dw[wi] += gy[at] * xs[xi];
                            }
                        }
                    }
                    y[at] = acc;
                }
            }
        }
    }
    [y, dx, dw, db]
}

#[test]
fn every_subset_of_gradients_gives_the_bits_of_all_three() {
    let cases = [
        ([5, 9, 8, 3], [3, 3, 3, 4], ConvSpec::new()),
        (
            [4, 9, 9, 4],
            [3, 2, 2, 6],
            ConvSpec::new()
                .groups(2)
                .strides([2, 1])
                .dilation([1, 2])
                .padding(Padding::Same),
        ),
        ([3, 6, 6, 5], [1, 1, 5, 7], ConvSpec::new()),
        // One image of 24x24 output pixels and 288 columns per chunk.
        ([3, 26, 26, 32], [3, 3, 32, 8], ConvSpec::new()),
    ];
    for (i, (xs, ks, spec)) in cases.into_iter().enumerate() {
        let (x, w, b) = (tensor(&xs, 1), tensor(&ks, 2), tensor(&[ks[3]], 3));
        let all = run(&x, &w, &b, spec, 4, [true; 3]);
        for mask in 1..8u8 {
            let watch = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0];
            let some = run(&x, &w, &b, spec, 4, watch);
            assert_eq!(some[0], all[0], "case {i}, watched {watch:?}: y");
            for k in 0..3 {
                match &some[k + 1] {
                    Some(got) => assert_eq!(
                        Some(got),
                        all[k + 1].as_ref(),
                        "case {i}, watched {watch:?}: gradient {k}"
                    ),
                    None => assert!(!watch[k], "case {i}: gradient {k} missing"),
                }
            }
        }
    }
}

#[test]
fn one_sweep_gradients_match_the_direct_formulas() {
    for (xs, ks, s, d) in [
        ([5, 9, 8, 3], [3, 3, 3, 4], 1, 1),
        ([3, 11, 10, 2], [2, 3, 2, 5], 2, 2),
        ([3, 26, 26, 32], [3, 3, 32, 8], 1, 1),
    ] {
        let (x, w, b) = (tensor(&xs, 5), tensor(&ks, 6), tensor(&[ks[3]], 7));
        let spec = ConvSpec::new().strides([s, s]).dilation([d, d]);
        let got = run(&x, &w, &b, spec, 8, [true; 3]);
        let y_len = got[0].as_ref().expect("the output").len();
        let want = direct(&x, &w, &b, s, d, &values(y_len, 8));
        for (k, (g, v)) in got.iter().zip(&want).enumerate() {
            let g = g.as_ref().expect("every gradient watched");
            assert_eq!(g.len(), v.len(), "{xs:?}, output {k}: length");
            for (j, (p, q)) in g.iter().zip(v).enumerate() {
                assert!(
                    (p - q).abs() <= 1e-10 * (1.0 + q.abs()),
                    "{xs:?}, output {k}[{j}]: {p} vs {q}"
                );
            }
        }
    }
}
