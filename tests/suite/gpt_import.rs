//! A GPT defined in PyTorch (`nn.Embedding`, `nn.LayerNorm`,
//! `nn.MultiheadAttention(batch_first=True)`, `nn.Linear`) and saved as
//! safetensors loads into the same architecture through a `WeightMap` and
//! gives the same logits (max abs diff <= 1e-5 in f32). The file is
//! `tests/fixtures/gpt_torch.safetensors`, written by
//! `tests/golden/gpt_torch.py` (torch 2.15.0).

use safetensors::SafeTensors;
use tapeflow::layers::{Embedding, LayerNormalization, PositionEmbedding, TransformerBlock};
use tapeflow::models::WeightMap;
use tapeflow::prelude::*;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gpt_torch.safetensors"
);

fn fixture(name: &str) -> Tensor<f32> {
    let bytes = std::fs::read(PATH).expect("fixture");
    let st = SafeTensors::deserialize(&bytes).expect("safetensors");
    let view = st.tensor(name).expect("tensor");
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    Tensor::from_vec(data, view.shape()).expect("shape")
}

/// tapeflow's side of tests/golden/gpt_torch.py.
fn gpt(heads: usize) -> Sequential<f32> {
    let mut m = Sequential::new(&[8])
        .add(Embedding::new(11, 16).name("tok"))
        .add(PositionEmbedding::new(8).name("pos"));
    for i in 0..2 {
        m = m.add(
            TransformerBlock::new(heads)
                .causal(true)
                .name(&format!("block_{i}")),
        );
    }
    m.add(LayerNormalization::new().epsilon(1e-5).name("ln_f"))
        .add(Dense::new(11).name("head"))
}

/// PyTorch names → tapeflow names.
fn torch_map() -> WeightMap {
    let mut map = WeightMap::new()
        .map("tok.weight", "tok/embeddings")
        .map("pos.weight", "pos/embeddings")
        .map("ln_f.weight", "ln_f/gamma")
        .map("ln_f.bias", "ln_f/beta")
        .extend(WeightMap::pytorch_linear(&[("head", "head")]));
    for i in 0..2 {
        let (t, b) = (format!("blocks.{i}"), format!("block_{i}"));
        map = map
            .extend(WeightMap::pytorch_multihead_attention(
                &format!("{t}.attn"),
                &format!("{b}/attention"),
            ))
            .map(&format!("{t}.ln1.weight"), &format!("{b}/norm_1/gamma"))
            .map(&format!("{t}.ln1.bias"), &format!("{b}/norm_1/beta"))
            .map(&format!("{t}.ln2.weight"), &format!("{b}/norm_2/gamma"))
            .map(&format!("{t}.ln2.bias"), &format!("{b}/norm_2/beta"))
            .extend(WeightMap::pytorch_linear(&[
                (&format!("{t}.mlp.0"), &format!("{b}/mlp_1")),
                (&format!("{t}.mlp.2"), &format!("{b}/mlp_2")),
            ]));
    }
    map
}

#[test]
fn pytorch_gpt_logits_match_after_import() {
    let mut model = gpt(4);
    model.build().expect("build");
    model
        .load_weights_from_safetensors(PATH, &torch_map())
        .expect("import");
    let logits = model.predict(&fixture("input_ids")).expect("predict");
    let want = fixture("expected_logits");
    assert_eq!(logits.shape(), want.shape());
    let max_diff = logits
        .as_slice()
        .iter()
        .zip(want.as_slice())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff <= 1e-5, "max abs diff {max_diff}");
}

#[test]
fn importing_into_a_model_of_another_width_names_the_tensor() {
    // A block of 16 wide with the head split of a 32-wide model: the packed
    // projection does not fit the kernels.
    let mut model = Sequential::new(&[8])
        .add(Embedding::new(11, 32).name("tok"))
        .add(PositionEmbedding::new(8).name("pos"))
        .add(TransformerBlock::new(4).causal(true).name("block_0"))
        .add(TransformerBlock::new(4).causal(true).name("block_1"))
        .add(LayerNormalization::new().name("ln_f"))
        .add(Dense::new(11).name("head"));
    model.build().expect("build");
    let err = model
        .load_weights_from_safetensors(PATH, &torch_map())
        .unwrap_err()
        .to_string();
    assert!(err.contains("shape"), "{err}");
}
