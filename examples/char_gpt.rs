//! A character-level GPT trained on Shakespeare (`data/shakespeare.txt`).
//!
//! The model: learned token and position embeddings (d_model 128, context
//! 128), 4 pre-LayerNorm transformer blocks (4 causal heads, GELU MLP 4x), a
//! final LayerNorm and an untied output head. Training: batch 16 random
//! windows per step from the first 90 % of the text, AdamW (learning rate
//! 1e-3, betas 0.9/0.99, weight decay 0.1 on the 2-D weights only, none on
//! biases and LayerNorm), 2,000 steps. Every 500 steps it prints the
//! validation loss: the mean cross-entropy in nats per character over fixed
//! windows laid end to end over the last 10 % of the text. Then it prints
//! 500 generated characters (key/value cache, temperature 0.8, top-k 40).
//!
//! Run it with `cargo run --release --example char_gpt`; the validation
//! loss must fall below the untrained model's by at least
//! `MIN_LOSS_DROP` nats, or it exits with status 1.
//! `tests/suite/gpt_example.rs` runs the same `run` with a tiny config.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::data::{CharTokenizer, TextWindows};
use tapeflow::layers::{Embedding, LayerNormalization, PositionEmbedding, TransformerBlock};
use tapeflow::optimizers::{AdamW, Optimizer};
use tapeflow::prelude::*;

/// How much the validation loss must fall (nats per character) in the
/// full run for the example to succeed.
pub const MIN_LOSS_DROP: f64 = 1.5;

/// The settings of a run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Transformer blocks.
    pub num_blocks: usize,
    /// Context length (window and position table).
    pub context: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Optimizer steps.
    pub steps: usize,
    /// Steps between validation reports.
    pub eval_every: usize,
    /// At most this many validation windows (`None`: all).
    pub eval_windows: Option<usize>,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay on 2-D weights.
    pub weight_decay: f64,
    /// Characters to generate at the end.
    pub generate_chars: usize,
    /// Seed of the model, the windows and the sampling.
    pub seed: u64,
    /// Also time generation without the key/value cache (the same
    /// characters, a full forward pass over the context per character).
    pub compare_generation: bool,
}

impl Config {
    /// The configuration.
    pub fn full() -> Self {
        Config {
            d_model: 128,
            num_heads: 4,
            num_blocks: 4,
            context: 128,
            batch_size: 16,
            steps: 2000,
            eval_every: 500,
            eval_windows: None,
            learning_rate: 1e-3,
            weight_decay: 0.1,
            generate_chars: 500,
            seed: 1337,
            compare_generation: true,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The validation loss before training.
    pub initial_loss: f64,
    /// `(step, validation loss)` at each report.
    pub val_losses: Vec<(usize, f64)>,
    /// The generated text.
    pub sample: String,
    /// Training tokens per second (wall clock, training steps only).
    pub tokens_per_sec: f64,
    /// Generated characters per second with the key/value cache.
    pub generate_per_sec: f64,
    /// Generated characters per second without it, if measured.
    pub generate_uncached_per_sec: Option<f64>,
}

/// The GPT as a `Sequential` over `[batch, context]` token ids.
pub fn gpt(vocab: &CharTokenizer, c: &Config) -> Sequential<f32> {
    let mut model = Sequential::new(&[c.context])
        .add(
            Embedding::new(vocab.vocab_size(), c.d_model)
                .vocabulary(&vocab.vocabulary())
                .name("token_embedding"),
        )
        .add(PositionEmbedding::new(c.context).name("position_embedding"));
    for i in 1..=c.num_blocks {
        model = model.add(
            TransformerBlock::new(c.num_heads)
                .causal(true)
                .layer_norm_epsilon(1e-5)
                .name(&format!("block_{i}")),
        );
    }
    model
        .add(LayerNormalization::new().epsilon(1e-5).name("final_norm"))
        .add(Dense::new(vocab.vocab_size()).name("head"))
        .seed(c.seed)
        .name("char_gpt")
}

/// Mean cross-entropy (nats per character) over the fixed windows.
fn validation_loss(model: &Sequential<f32>, x: &Tensor, y: &Tensor) -> Result<f64> {
    let loss = SparseCategoricalCrossentropy::from_logits();
    let mut total = 0.0;
    let rows = x.shape()[0];
    let step = 32;
    let mut start = 0;
    while start < rows {
        let end = (start + step).min(rows);
        let (xb, yb) = (x.slice_rows(start..end)?, y.slice_rows(start..end)?);
        let tape = GradientTape::inference();
        let logits = model.forward(&tape, &xb, Mode::Infer)?;
        let per = loss.per_sample(logits, tape.constant(&yb))?;
        total += per
            .value()
            .as_slice()
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>();
        start = end;
    }
    Ok(total / rows as f64)
}

/// One optimizer step on the windows `x` with next characters `y`;
/// returns the training loss. Not inlined, so that a profiler can count
/// the instructions of the training steps alone (see `docs/performance.md`).
#[inline(never)]
fn train_step(
    model: &mut Sequential<f32>,
    x: &Tensor,
    y: &Tensor,
    decayed: &mut AdamW,
    plain: &mut AdamW,
) -> Result<f32> {
    let labels: Vec<usize> = y.as_slice().iter().map(|&v| v as usize).collect();
    let tape = GradientTape::new();
    let logits = model.forward(&tape, x, Mode::Train)?;
    let loss = logits
        .sparse_softmax_cross_entropy_with_logits(&labels)?
        .mean();
    let grads = tape.gradient(&loss, model.trainable_params())?;
    // Weight decay on 2-D weights only (kernels and embedding tables).
    let (mut two_d, mut rest): (Vec<_>, Vec<_>) = model
        .params_mut()
        .into_iter()
        .partition(|p| p.value().ndim() == 2);
    decayed.apply_gradients(&grads, &mut two_d)?;
    plain.apply_gradients(&grads, &mut rest)?;
    loss.value().item()
}

/// Trains on `text` with `config`, calling `log` with each report line.
pub fn run(text: &str, config: &Config, mut log: impl FnMut(&str)) -> Result<Outcome> {
    let tokenizer = CharTokenizer::from_text(text)?;
    let tokens = tokenizer.encode(text)?;
    let split = tokens.len() * 9 / 10;
    let train = TextWindows::new(tokens[..split].to_vec(), config.context)?;
    let val = TextWindows::new(tokens[split..].to_vec(), config.context)?;
    let (val_x, val_y) = val.fixed_windows::<f32>(config.eval_windows)?;
    let mut model = gpt(&tokenizer, config);
    model.build()?;
    let opt = |decay| {
        AdamW::new(config.learning_rate)
            .beta_1(0.9)
            .beta_2(0.99)
            .epsilon(1e-8)
            .weight_decay(decay)
    };
    let (mut decayed, mut plain) = (opt(config.weight_decay), opt(0.0));
    let mut rng = StdRng::seed_from_u64(config.seed);
    let initial_loss = validation_loss(&model, &val_x, &val_y)?;
    log(&format!(
        "{} parameters, vocabulary {}, {} validation windows; step 0: val loss {initial_loss:.4}",
        model.param_count(),
        tokenizer.vocab_size(),
        val_x.shape()[0]
    ));
    let mut val_losses = Vec::new();
    let mut train_secs = 0.0;
    for step in 1..=config.steps {
        let started = Instant::now();
        let (x, y) = train.random_windows_with_rng::<f32>(config.batch_size, &mut rng)?;
        // The whole step on the thread pool: its products split over the
        // cores without a thread hand-over each (see `tapeflow::in_pool`).
        let loss = tapeflow::in_pool(|| train_step(&mut model, &x, &y, &mut decayed, &mut plain))?;
        train_secs += started.elapsed().as_secs_f64();
        if step % config.eval_every == 0 || step == config.steps {
            let v = validation_loss(&model, &val_x, &val_y)?;
            log(&format!(
                "step {step}: train loss {loss:.4}, val loss {v:.4}"
            ));
            val_losses.push((step, v));
        }
    }
    let tokens_per_sec = (config.steps * config.batch_size * config.context) as f64 / train_secs;
    let prompt = tokenizer.encode("\n")?;
    let n = config.generate_chars;
    let started = Instant::now();
    let generated = model.generate(&prompt, n, 0.8, Some(40), config.seed)?;
    let generate_per_sec = n as f64 / started.elapsed().as_secs_f64();
    let generate_uncached_per_sec = if config.compare_generation {
        let started = Instant::now();
        model.generate_without_cache(&prompt, n, 0.8, Some(40), config.seed)?;
        Some(n as f64 / started.elapsed().as_secs_f64())
    } else {
        None
    };
    Ok(Outcome {
        initial_loss,
        val_losses,
        sample: tokenizer.decode(&generated)?,
        tokens_per_sec,
        generate_per_sec,
        generate_uncached_per_sec,
    })
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/shakespeare.txt");
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let mut config = Config::full();
    // `cargo run --release --example char_gpt -- 200 1 7` runs 200 steps on
    // one thread with seed 7 (default: 2,000 steps, every core, seed 1337).
    // A fourth and fifth argument cap the validation windows and the
    // generated characters (`-- 30 1 1337 16 50` for a quick profile).
    let mut args = std::env::args().skip(1);
    if let Some(steps) = args.next().and_then(|s| s.parse().ok()) {
        config.steps = steps;
        config.eval_every = config.eval_every.min(steps.max(1));
    }
    if let Some(threads) = args.next().and_then(|s| s.parse().ok()) {
        tapeflow::set_num_threads(threads);
    }
    if let Some(seed) = args.next().and_then(|s| s.parse().ok()) {
        config.seed = seed;
    }
    if let Some(windows) = args.next().and_then(|s| s.parse().ok()) {
        config.eval_windows = Some(windows);
    }
    if let Some(chars) = args.next().and_then(|s| s.parse().ok()) {
        config.generate_chars = chars;
    }
    // A sixth argument sets the buffer cache's limit in MiB (default 64).
    if let Some(mib) = args.next().and_then(|s| s.parse::<usize>().ok()) {
        tapeflow::set_buffer_cache_limit(mib.saturating_mul(1 << 20));
    }
    println!(
        "threads: {}, seed: {}",
        tapeflow::num_threads(),
        config.seed
    );
    let started = Instant::now();
    match run(&text, &config, |line| println!("{line}")) {
        Ok(out) => {
            println!(
                "training: {:.0} tokens/s; total {:.0} s",
                out.tokens_per_sec,
                started.elapsed().as_secs_f64()
            );
            println!(
                "generation: {:.1} characters/s with the key/value cache",
                out.generate_per_sec
            );
            if let Some(rate) = out.generate_uncached_per_sec {
                println!("generation: {rate:.1} characters/s without it");
            }
            let (hits, misses) = tapeflow::tensor::buffer_cache_counts();
            println!(
                "buffer cache (this thread): {hits} requests of 64 KiB and more reused, {misses} allocated"
            );
            println!("--- 500 generated characters ---\n{}", out.sample);
            let last = out.val_losses.last().map_or(f64::NAN, |v| v.1);
            let dropped = out.initial_loss - last;
            if config.steps == Config::full().steps && (dropped.is_nan() || dropped < MIN_LOSS_DROP)
            {
                eprintln!(
                    "validation loss fell from {:.4} to {last:.4}, less than {MIN_LOSS_DROP}",
                    out.initial_loss
                );
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
