//! The attention-family layers as whole layers: finite-difference checks in
//! `f64` of `MultiHeadAttention`, `LayerNormalization` and `TransformerBlock`
//! (input and every parameter), and the bad-input errors the layers name.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tapeflow::layers::{
    Embedding, Layer, LayerNormalization, Mode, MultiHeadAttention, PositionEmbedding,
    TransformerBlock,
};
use tapeflow::{GradientTape, Tensor};

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.random_range(-1.0..1.0)).collect(), shape)
        .expect("length matches shape")
}

/// `L = Σ r ⊙ layer(x)`; compares the tape's gradient for `x` and for every
/// parameter with central differences (ε = 1e-6).
fn check_layer(layer: &mut dyn Layer<f64>, x: &Tensor<f64>) {
    let loss = |layer: &dyn Layer<f64>, x: &Tensor<f64>, r: &Tensor<f64>| -> f64 {
        let tape = GradientTape::new();
        let y = layer
            .forward(tape.constant(x), Mode::Infer)
            .expect("forward");
        y.value()
            .as_slice()
            .iter()
            .zip(r.as_slice())
            .map(|(a, b)| a * b)
            .sum()
    };
    let (r, gx, analytic) = {
        let tape = GradientTape::new();
        let xv = tape.watch(x);
        let y = layer.forward(xv, Mode::Infer).expect("forward");
        let r = random(&y.shape(), 99);
        let params = layer.params();
        let mut targets = vec![tapeflow::Target::from(xv)];
        targets.extend(params.iter().map(|p| tapeflow::Target::from(*p)));
        let grads = tape.gradient_with(&y, &r, targets).expect("gradient");
        let analytic: Vec<(String, Tensor<f64>)> = params
            .iter()
            .map(|p| {
                (
                    p.name().to_string(),
                    grads.get(*p).expect("param gradient").clone(),
                )
            })
            .collect();
        (r, grads.get(xv).expect("x gradient").clone(), analytic)
    };
    let eps = 1e-6;
    let close = |what: &str, k: usize, analytic: f64, numeric: f64| {
        let tol = 1e-7 + 1e-5 * analytic.abs().max(numeric.abs());
        assert!(
            (analytic - numeric).abs() <= tol,
            "{what} element {k}: analytic {analytic}, numeric {numeric}"
        );
    };
    for k in 0..x.len() {
        let mut xp = x.clone();
        xp.as_mut_slice()[k] += eps;
        let mut xm = x.clone();
        xm.as_mut_slice()[k] -= eps;
        let numeric = (loss(layer, &xp, &r) - loss(layer, &xm, &r)) / (2.0 * eps);
        close("input", k, gx.as_slice()[k], numeric);
    }
    for (i, (name, g)) in analytic.iter().enumerate() {
        for k in 0..g.len() {
            let x0 = layer.params()[i].value().as_slice()[k];
            layer.params_mut()[i].value_mut().as_mut_slice()[k] = x0 + eps;
            let plus = loss(layer, x, &r);
            layer.params_mut()[i].value_mut().as_mut_slice()[k] = x0 - eps;
            let minus = loss(layer, x, &r);
            layer.params_mut()[i].value_mut().as_mut_slice()[k] = x0;
            close(name, k, g.as_slice()[k], (plus - minus) / (2.0 * eps));
        }
    }
}

#[test]
fn multi_head_attention_gradient_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut mha = MultiHeadAttention::<f64>::new(2, 3).use_causal_mask(true);
    mha.build(&[4, 5], &mut rng).expect("build");
    check_layer(&mut mha, &random(&[2, 4, 5], 2));
    let mut cross = MultiHeadAttention::<f64>::new(3, 2)
        .value_dim(4)
        .output_shape(3);
    cross.build(&[3, 4], &mut rng).expect("build");
    check_layer(&mut cross, &random(&[2, 3, 4], 3));
}

#[test]
fn layer_normalization_gradient_matches_finite_differences() {
    let mut ln = LayerNormalization::<f64>::new();
    ln.build(&[3, 6], &mut StdRng::seed_from_u64(0))
        .expect("build");
    // Move gamma and beta off their initial ones and zeros.
    for (i, p) in ln.params_mut().into_iter().enumerate() {
        p.set_value(random(&[6], 10 + i as u64)).expect("shape");
    }
    check_layer(&mut ln, &random(&[2, 3, 6], 4));
}

#[test]
fn transformer_block_gradient_matches_finite_differences_pre_and_post_norm() {
    for norm_first in [true, false] {
        let mut block = TransformerBlock::<f64>::new(2)
            .causal(true)
            .mlp_ratio(2)
            .norm_first(norm_first);
        block
            .build(&[3, 4], &mut StdRng::seed_from_u64(5))
            .expect("build");
        check_layer(&mut block, &random(&[2, 3, 4], 6));
    }
}

#[test]
fn causal_attention_ignores_the_future() {
    // Changing the last position must leave the outputs at earlier ones.
    let mut mha = MultiHeadAttention::<f64>::new(2, 2).use_causal_mask(true);
    mha.build(&[3, 4], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let x = random(&[1, 3, 4], 1);
    let mut x2 = x.clone();
    for v in &mut x2.as_mut_slice()[8..] {
        *v += 1.0;
    }
    let tape = GradientTape::new();
    let a = mha
        .forward(tape.constant(&x), Mode::Infer)
        .expect("fwd")
        .value();
    let b = mha
        .forward(tape.constant(&x2), Mode::Infer)
        .expect("fwd")
        .value();
    assert_eq!(a.as_slice()[..8], b.as_slice()[..8]);
    assert_ne!(a.as_slice()[8..], b.as_slice()[8..]);
}

#[test]
fn embedding_rejects_negative_fractional_and_too_large_ids() {
    let mut emb = Embedding::<f32>::new(5, 2).name("tok");
    emb.build(&[2], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let tape = GradientTape::new();
    let err = |ids: Vec<f32>| {
        let x = tape.constant(&Tensor::from_vec(ids, &[1, 2]).expect("shape"));
        emb.forward(x, Mode::Infer).unwrap_err().to_string()
    };
    assert_eq!(
        err(vec![0.0, -1.0]),
        "tok (Embedding): token id -1 at index 1 is not an integer in 0..5"
    );
    assert_eq!(
        err(vec![2.5, 1.0]),
        "tok (Embedding): token id 2.5 at index 0 is not an integer in 0..5"
    );
    assert_eq!(
        err(vec![1.0, 5.0]),
        "tok (Embedding): token id 5 at index 1 is not an integer in 0..5"
    );
    assert_eq!(
        err(vec![f32::NAN, 1.0]),
        "tok (Embedding): token id NaN at index 0 is not an integer in 0..5"
    );
}

#[test]
fn position_embedding_rejects_a_sequence_longer_than_its_table() {
    let mut pos = PositionEmbedding::<f32>::new(4).name("pos");
    let err = pos
        .build(&[6, 3], &mut StdRng::seed_from_u64(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pos (PositionEmbedding): sequence of length 6 is longer than the position table (4)"
    );
    pos.build(&[4, 3], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::zeros(&[2, 5, 3]).expect("shape"));
    assert_eq!(
        pos.forward(x, Mode::Infer).unwrap_err().to_string(),
        "pos (PositionEmbedding): sequence of length 5 is longer than the position table (4)"
    );
}

#[test]
fn attention_sizes_that_do_not_fit_are_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let err = TransformerBlock::<f32>::new(3)
        .name("block_1")
        .build(&[8, 10], &mut rng)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block_1 (TransformerBlock): the model width 10 is not num_heads x key_dim for num_heads = 3"
    );
    let err = MultiHeadAttention::<f32>::new(0, 4)
        .name("mha")
        .build(&[8, 10], &mut rng)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mha (MultiHeadAttention): num_heads, key_dim and value_dim must be > 0, got 0, 4 and 4"
    );
}

#[test]
fn attention_rejects_a_mask_of_the_wrong_shape_and_bad_inputs() {
    let mut mha = MultiHeadAttention::<f32>::new(2, 2).name("mha");
    mha.build(&[3, 4], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::zeros(&[2, 3, 4]).expect("shape"));
    let mask = Tensor::ones(&[2, 3, 5]).expect("shape");
    assert_eq!(
        mha.attend(x, x, None, Some(&mask), Mode::Infer)
            .unwrap_err()
            .to_string(),
        "mha (MultiHeadAttention): attention_mask of shape [2, 3, 5] does not broadcast to [2, 3, 3]"
    );
    let wide = tape.constant(&Tensor::zeros(&[2, 3, 5]).expect("shape"));
    let err = mha.forward(wide, Mode::Infer).unwrap_err().to_string();
    assert!(
        err.starts_with("mha (MultiHeadAttention): expected query, value and key [batch, _, 4]"),
        "{err}"
    );
}

#[test]
fn a_padding_mask_hides_the_padded_keys() {
    // With keys 2 and 3 masked, changing them changes nothing.
    let mut mha = MultiHeadAttention::<f64>::new(2, 2);
    mha.build(&[4, 4], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let tape = GradientTape::new();
    let q = tape.constant(&random(&[1, 2, 4], 1));
    let v = random(&[1, 4, 4], 2);
    let mut v2 = v.clone();
    for x in &mut v2.as_mut_slice()[8..] {
        *x = 5.0;
    }
    let pad = Tensor::from_vec(vec![1.0, 1.0, 0.0, 0.0], &[1, 1, 4]).expect("shape");
    let a = mha
        .attend(q, tape.constant(&v), None, Some(&pad), Mode::Infer)
        .expect("fwd");
    let b = mha
        .attend(q, tape.constant(&v2), None, Some(&pad), Mode::Infer)
        .expect("fwd");
    assert_eq!(a.value().to_vec(), b.value().to_vec());
}
