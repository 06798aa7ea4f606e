//! Generation with the key/value cache: the same tokens as the
//! full-recompute loop while the text fits the context, sensible beyond it,
//! the tokenizer saved with the model, and errors for bad settings.

use std::path::PathBuf;

use tapeflow::data::CharTokenizer;
use tapeflow::layers::{Embedding, LayerNormalization, PositionEmbedding, TransformerBlock};
use tapeflow::prelude::*;

fn gpt(vocab: usize, context: usize, seed: u64) -> Sequential<f64> {
    let mut m = Sequential::<f64>::new_typed(&[context])
        .add(Embedding::new(vocab, 16).name("tok"))
        .add(PositionEmbedding::new(context))
        .add(TransformerBlock::new(4).causal(true).name("block_1"))
        .add(
            TransformerBlock::new(4)
                .causal(true)
                .norm_first(false)
                .name("block_2"),
        )
        .add(LayerNormalization::new())
        .add(Dense::new(vocab))
        .seed(seed);
    m.build().expect("build");
    m
}

#[test]
fn cached_generation_matches_full_recompute_within_the_context() {
    let model = gpt(11, 24, 1);
    for seed in 0..4 {
        let prompt = [3, 1, 4, 1, 5];
        let cached = model
            .generate(&prompt, 19, 1.0, None, seed)
            .expect("cached");
        let full = model
            .generate_without_cache(&prompt, 19, 1.0, None, seed)
            .expect("full");
        assert_eq!(cached, full, "seed {seed}");
    }
    let greedy = model.generate(&[0], 23, 0.0, None, 0).expect("greedy");
    assert_eq!(
        greedy,
        model
            .generate_without_cache(&[0], 23, 0.0, None, 0)
            .expect("greedy")
    );
}

#[test]
fn generation_runs_past_the_context_and_from_a_long_prompt() {
    let model = gpt(7, 8, 2);
    let long_prompt: Vec<usize> = (0..20).map(|i| i % 7).collect();
    let out = model
        .generate(&long_prompt, 30, 0.9, Some(3), 5)
        .expect("generate");
    assert_eq!(out.len(), 30);
    assert!(out.iter().all(|&t| t < 7));
    let full = model
        .generate_without_cache(&long_prompt, 30, 0.9, Some(3), 5)
        .expect("generate");
    assert_eq!(full.len(), 30);
}

#[test]
fn bad_generation_settings_are_errors() {
    let model = gpt(7, 8, 3);
    let msg = |r: tapeflow::Result<Vec<usize>>| r.unwrap_err().to_string();
    assert_eq!(
        msg(model.generate(&[], 3, 1.0, None, 0)),
        "generate: the prompt is empty"
    );
    assert_eq!(
        msg(model.generate(&[1], 3, -1.0, None, 0)),
        "generate: temperature must be finite and >= 0, got -1"
    );
    assert_eq!(
        msg(model.generate(&[1], 3, 1.0, Some(0), 0)),
        "generate: top_k must be > 0, got 0"
    );
    assert_eq!(
        msg(model.generate(&[9], 3, 1.0, None, 0)),
        "tok (Embedding): token id 9 at index 0 is not an integer in 0..7"
    );
}

#[test]
fn the_tokenizer_travels_with_the_saved_model() {
    let tok = CharTokenizer::from_text("to be or not to be").expect("vocabulary");
    let mut model = Sequential::new(&[8])
        .add(
            Embedding::new(tok.vocab_size(), 8)
                .vocabulary(&tok.vocabulary())
                .name("tok"),
        )
        .add(PositionEmbedding::new(8))
        .add(TransformerBlock::new(2).causal(true))
        .add(Dense::new(tok.vocab_size()))
        .seed(4);
    model.build().expect("build");
    let path: PathBuf = std::env::temp_dir().join(format!(
        "tapeflow_gpt_tokenizer_{}.safetensors",
        std::process::id()
    ));
    model.save(&path).expect("save");
    let again = Sequential::load(&path).expect("load");
    std::fs::remove_file(&path).ok();
    let vocab = again.layers()[0].config()["vocabulary"]
        .as_str()
        .expect("stored vocabulary")
        .to_string();
    let tok2 = CharTokenizer::from_vocabulary(&vocab).expect("tokenizer");
    assert_eq!(tok2, tok);
    let prompt = tok2.encode("to b").expect("encode");
    assert_eq!(
        model.generate(&prompt, 12, 0.7, Some(4), 9).expect("gen"),
        again.generate(&prompt, 12, 0.7, Some(4), 9).expect("gen")
    );
}
