//! The char-GPT example's own `run`, with a tiny configuration on the real
//! Shakespeare text: the validation loss must drop, and generation must give
//! text in the vocabulary.

#[allow(dead_code)]
#[path = "../../examples/char_gpt.rs"]
mod char_gpt;

#[test]
fn tiny_char_gpt_lowers_the_validation_loss() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/shakespeare.txt"))
            .expect("data/shakespeare.txt");
    let config = char_gpt::Config {
        d_model: 32,
        num_heads: 2,
        num_blocks: 1,
        context: 32,
        batch_size: 16,
        steps: 150,
        eval_every: 75,
        eval_windows: Some(64),
        learning_rate: 3e-3,
        weight_decay: 0.1,
        generate_chars: 50,
        seed: 7,
        compare_generation: false,
    };
    let out = char_gpt::run(&text, &config, |_| {}).expect("run");
    // Untrained: about ln 76 = 4.33 nats per character.
    assert!(
        (out.initial_loss - 76f64.ln()).abs() < 0.3,
        "{}",
        out.initial_loss
    );
    let last = out.val_losses.last().expect("a report").1;
    assert!(
        out.initial_loss - last > 1.0,
        "val loss {} -> {last}",
        out.initial_loss
    );
    assert_eq!(out.sample.chars().count(), 50);
}
