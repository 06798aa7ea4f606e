//! Golden forward values and gradients from PyTorch (float64) for layer
//! normalization, embedding lookup and multi-head attention (weights mapped
//! from `nn.MultiheadAttention`'s packed projections), including a query
//! row whose keys are all masked. The numbers are in
//! `tests/fixtures/attention_golden.safetensors`, written by
//! `tests/golden/attention_torch.py` (torch 2.15.0); each case compares
//! `y` and the gradients of `L = Σ r ⊙ y`.

use rand::SeedableRng;
use rand::rngs::StdRng;
use safetensors::SafeTensors;
use tapeflow::layers::{Embedding, Layer, LayerNormalization, Mode, MultiHeadAttention};
use tapeflow::{GradientTape, Tensor};

struct Golden(Vec<u8>);

impl Golden {
    fn load() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/attention_golden.safetensors"
        );
        Golden(std::fs::read(path).expect("fixture"))
    }

    fn get(&self, name: &str) -> Tensor<f64> {
        let st = SafeTensors::deserialize(&self.0).expect("safetensors");
        let view = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("no tensor {name}"));
        let data = view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Tensor::from_vec(data, view.shape()).expect("shape")
    }
}

fn assert_close(what: &str, got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (i, (a, b)) in got.as_slice().iter().zip(want.as_slice()).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
            "{what}[{i}]: {a} vs PyTorch {b}"
        );
    }
}

/// PyTorch's `[out, in]` weight rows `part·n..(part+1)·n`, transposed to a
/// Dense kernel `[in, n]`.
fn kernel_from(w: &Tensor<f64>, part: usize, n: usize) -> Tensor<f64> {
    w.slice_rows(part * n..(part + 1) * n)
        .expect("rows")
        .transpose()
        .expect("2-d")
}

fn bias_from(b: &Tensor<f64>, part: usize, n: usize) -> Tensor<f64> {
    b.slice_rows(part * n..(part + 1) * n).expect("rows")
}

#[test]
fn layer_normalization_matches_pytorch() {
    let g = Golden::load();
    let mut ln = LayerNormalization::<f64>::new(); // epsilon 1e-3, as the script
    ln.build(&[3, 5], &mut StdRng::seed_from_u64(0))
        .expect("build");
    ln.params_mut()[0]
        .set_value(g.get("ln_gamma"))
        .expect("gamma");
    ln.params_mut()[1]
        .set_value(g.get("ln_beta"))
        .expect("beta");
    let tape = GradientTape::new();
    let x = tape.watch(&g.get("ln_x"));
    let y = ln.forward(x, Mode::Train).expect("forward");
    assert_close("y", &y.value(), &g.get("ln_y"));
    let params = ln.params();
    let grads = tape
        .gradient_with(
            &y,
            &g.get("ln_r"),
            [
                tapeflow::Target::from(x),
                params[0].into(),
                params[1].into(),
            ],
        )
        .expect("gradient");
    assert_close("dx", grads.get(x).expect("dx"), &g.get("ln_dx"));
    assert_close(
        "dgamma",
        grads.get(params[0]).expect("dgamma"),
        &g.get("ln_dgamma"),
    );
    assert_close(
        "dbeta",
        grads.get(params[1]).expect("dbeta"),
        &g.get("ln_dbeta"),
    );
}

#[test]
fn embedding_matches_pytorch() {
    let g = Golden::load();
    let mut emb = Embedding::<f64>::new(6, 3);
    emb.build(&[4], &mut StdRng::seed_from_u64(0))
        .expect("build");
    emb.params_mut()[0]
        .set_value(g.get("emb_table"))
        .expect("table");
    let tape = GradientTape::new();
    let y = emb
        .forward(tape.constant(&g.get("emb_ids")), Mode::Train)
        .expect("forward");
    assert_close("y", &y.value(), &g.get("emb_y"));
    let table = emb.params()[0];
    let grads = tape
        .gradient_with(&y, &g.get("emb_r"), [table])
        .expect("gradient");
    assert_close(
        "dtable",
        grads.get(table).expect("grad"),
        &g.get("emb_dtable"),
    );
}

/// Builds a `MultiHeadAttention` with `nn.MultiheadAttention`'s weights.
fn mapped_mha(
    g: &Golden,
    tag: &str,
    heads: usize,
    width: usize,
    t: usize,
) -> MultiHeadAttention<f64> {
    let mut mha =
        MultiHeadAttention::<f64>::new(heads, width / heads).use_causal_mask(tag == "mha");
    mha.build(&[t, width], &mut StdRng::seed_from_u64(0))
        .expect("build");
    let w = g.get(&format!("{tag}_in_proj_weight"));
    let b = g.get(&format!("{tag}_in_proj_bias"));
    let values = [
        kernel_from(&w, 0, width),
        bias_from(&b, 0, width),
        kernel_from(&w, 1, width),
        bias_from(&b, 1, width),
        kernel_from(&w, 2, width),
        bias_from(&b, 2, width),
        g.get(&format!("{tag}_out_proj_weight"))
            .transpose()
            .expect("2-d"),
        g.get(&format!("{tag}_out_proj_bias")),
    ];
    for (p, v) in mha.params_mut().into_iter().zip(values) {
        p.set_value(v).expect("shape");
    }
    mha
}

/// Compares the gradients of the eight projection parameters.
fn assert_param_grads(
    g: &Golden,
    tag: &str,
    mha: &MultiHeadAttention<f64>,
    grads: &tapeflow::Gradients<f64>,
    width: usize,
) {
    let dw = g.get(&format!("{tag}_d_in_proj_weight"));
    let db = g.get(&format!("{tag}_d_in_proj_bias"));
    let want = [
        kernel_from(&dw, 0, width),
        bias_from(&db, 0, width),
        kernel_from(&dw, 1, width),
        bias_from(&db, 1, width),
        kernel_from(&dw, 2, width),
        bias_from(&db, 2, width),
        g.get(&format!("{tag}_d_out_proj_weight"))
            .transpose()
            .expect("2-d"),
        g.get(&format!("{tag}_d_out_proj_bias")),
    ];
    for (p, w) in mha.params().into_iter().zip(want) {
        assert_close(p.name(), grads.get(p).expect("param grad"), &w);
    }
}

#[test]
fn causal_self_attention_matches_pytorch_multihead_attention() {
    let g = Golden::load();
    let mha = mapped_mha(&g, "mha", 2, 6, 4);
    let tape = GradientTape::new();
    let x = tape.watch(&g.get("mha_q"));
    let y = mha.forward(x, Mode::Train).expect("forward");
    assert_close("y", &y.value(), &g.get("mha_y"));
    let mut targets = vec![tapeflow::Target::from(x)];
    targets.extend(mha.params().into_iter().map(tapeflow::Target::from));
    let grads = tape
        .gradient_with(&y, &g.get("mha_r"), targets)
        .expect("gradient");
    assert_close("dx", grads.get(x).expect("dx"), &g.get("mha_dx_self"));
    assert_param_grads(&g, "mha", &mha, &grads, 6);
}

#[test]
fn a_fully_masked_query_row_matches_pytorch() {
    // PyTorch >= 2.5: a query row with every key masked gets a zero context,
    // so its output is the output projection's bias; no NaN anywhere.
    let g = Golden::load();
    let mha = mapped_mha(&g, "masked", 3, 6, 3);
    let tape = GradientTape::new();
    let q = tape.watch(&g.get("masked_q"));
    let kv = tape.constant(&g.get("masked_kv"));
    let keep = Tensor::from_vec(vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]).expect("shape");
    let y = mha
        .attend(q, kv, None, Some(&keep), Mode::Train)
        .expect("forward");
    assert_close("y", &y.value(), &g.get("masked_y"));
    assert_close(
        "masked row",
        &y.value()
            .slice_rows(0..1)
            .expect("row")
            .reshape(&[2, 6])
            .expect("2-d")
            .slice_rows(1..2)
            .expect("row")
            .reshape(&[6])
            .expect("1-d"),
        &g.get("masked_out_proj_bias"),
    );
    let mut targets = vec![tapeflow::Target::from(q)];
    targets.extend(mha.params().into_iter().map(tapeflow::Target::from));
    let grads = tape
        .gradient_with(&y, &g.get("masked_r"), targets)
        .expect("gradient");
    assert_close("dq", grads.get(q).expect("dq"), &g.get("masked_dq"));
    assert_param_grads(&g, "masked", &mha, &grads, 6);
}
