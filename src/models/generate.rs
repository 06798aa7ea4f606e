//! Text generation with a language model: [`Sequential::generate`] samples
//! one token at a time, keeping each attention layer's keys and values in a
//! [`DecodeCache`] so a new token costs work proportional to the context,
//! not a full forward pass over it; [`Sequential::generate_without_cache`]
//! is the full-recompute reference.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Sequential;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::layers::DecodeCache;
use crate::tape::GradientTape;
use crate::tensor::Tensor;

fn invalid(message: String) -> Error {
    Error::InvalidArgument {
        op: "generate",
        message,
    }
}

/// Picks the next token from `logits`: the arg-max for `temperature == 0`,
/// else a draw from `softmax(logits / temperature)` restricted to the
/// `top_k` largest logits.
fn sample(logits: &[f64], temperature: f64, top_k: Option<usize>, rng: &mut StdRng) -> usize {
    let argmax = |xs: &[f64]| {
        xs.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 { (i, v) } else { best }
            })
            .0
    };
    if temperature == 0.0 {
        return argmax(logits);
    }
    let threshold = match top_k {
        Some(k) if k < logits.len() => {
            let mut sorted = logits.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[k - 1]
        }
        _ => f64::NEG_INFINITY,
    };
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&z| {
            if z >= threshold {
                ((z - max) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random_range(0.0..1.0) * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    argmax(logits)
}

impl<T: Float> Sequential<T> {
    fn check_generate(
        &self,
        prompt: &[usize],
        temperature: f64,
        top_k: Option<usize>,
    ) -> Result<Option<usize>> {
        if !self.is_built() {
            return Err(self.not_built("generate"));
        }
        if prompt.is_empty() {
            return Err(invalid("the prompt is empty".to_string()));
        }
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(invalid(format!(
                "temperature must be finite and >= 0, got {temperature}"
            )));
        }
        if top_k == Some(0) {
            return Err(invalid("top_k must be > 0, got 0".to_string()));
        }
        Ok(self
            .layers
            .iter()
            .filter_map(|l| l.max_sequence_length())
            .min())
    }

    /// Runs `tokens` (new positions) through the layers' cached forward
    /// and returns the last position's logits.
    fn step(&self, tokens: &[usize], cache: &mut DecodeCache<T>) -> Result<Vec<f64>> {
        let x: Vec<T> = tokens.iter().map(|&t| T::from_usize(t)).collect();
        let x = Tensor::from_vec(x, &[1, tokens.len()])?;
        let tape = GradientTape::inference();
        let mut v = tape.constant(&x);
        for layer in &self.layers {
            v = layer.forward_cached(v, cache)?;
        }
        let out = v.value();
        let shape = out.shape();
        if shape.len() != 3 || shape[1] != tokens.len() || shape[2] == 0 {
            return Err(invalid(format!(
                "the model must map [1, t] token ids to [1, t, vocab] logits, got {shape:?} for t = {}",
                tokens.len()
            )));
        }
        let vocab = shape[2];
        Ok(out.as_slice()[out.len() - vocab..]
            .iter()
            .map(|&v| Float::to_f64(v))
            .collect())
    }

    /// Generates `max_new_tokens` tokens after `prompt` with a language
    /// model (token ids `[1, t]` in, logits `[1, t, vocab]` out), returning
    /// the new tokens.
    ///
    /// Each token is drawn from `softmax(logits / temperature)` over the
    /// `top_k` largest logits (all with `None`); `temperature = 0` takes the
    /// arg-max. Sampling uses a `StdRng` seeded with `seed`: the same seed
    /// gives the same text. Attention keys and values are cached
    /// ([`DecodeCache`]), so each token costs work proportional to the
    /// context. A prompt longer than the model's position table keeps its
    /// last tokens; when the cache reaches the table's end it restarts from
    /// the last half of the context (nanoGPT crops to the full context
    /// instead, at the price of a full forward pass per token).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `generate`) if the model is not built,
    /// the prompt is empty, the temperature is negative or not finite,
    /// `top_k` is 0, or the model does not output `[1, t, vocab]`; a
    /// layer's error for a token id out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Embedding, PositionEmbedding, TransformerBlock};
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::<f64>::new_typed(&[8])
    ///     .add(Embedding::new(5, 8))
    ///     .add(PositionEmbedding::new(8))
    ///     .add(TransformerBlock::new(2).causal(true))
    ///     .add(Dense::new(5));
    /// model.build()?;
    /// let a = model.generate(&[1, 2], 6, 1.0, Some(3), 42)?;
    /// assert_eq!(a.len(), 6);
    /// assert!(a.iter().all(|&t| t < 5));
    /// // Within the context (8 positions) the cache changes nothing.
    /// assert_eq!(a, model.generate_without_cache(&[1, 2], 6, 1.0, Some(3), 42)?);
    /// assert_eq!(model.generate(&[1, 2], 30, 1.0, Some(3), 42)?.len(), 30);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn generate(
        &self,
        prompt: &[usize],
        max_new_tokens: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: u64,
    ) -> Result<Vec<usize>> {
        let context = self.check_generate(prompt, temperature, top_k)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tokens = prompt.to_vec();
        let tail = |tokens: &[usize], n: usize| tokens[tokens.len().saturating_sub(n)..].to_vec();
        let mut pending = context.map_or_else(|| prompt.to_vec(), |c| tail(prompt, c));
        let mut cache = DecodeCache::new();
        for _ in 0..max_new_tokens {
            if let Some(c) = context
                && cache.position() + pending.len() > c
            {
                cache.clear();
                pending = tail(&tokens, (c / 2).max(1));
            }
            let logits = self.step(&pending, &mut cache)?;
            cache.advance(pending.len());
            let next = sample(&logits, temperature, top_k, &mut rng);
            tokens.push(next);
            pending = vec![next];
        }
        Ok(tokens[prompt.len()..].to_vec())
    }

    /// [`generate`](Self::generate) without the key/value cache: a full
    /// forward pass over the last `context` tokens for every new token
    /// (nanoGPT's loop). The reference the cache is measured and tested
    /// against: while the text fits the context both compute the same
    /// logits up to rounding (the products are summed in another order), so
    /// they give the same tokens (exactly so in the f64 tests).
    ///
    /// # Errors
    ///
    /// As [`generate`](Self::generate).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Embedding, PositionEmbedding};
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[4])
    ///     .add(Embedding::new(3, 4))
    ///     .add(PositionEmbedding::new(4))
    ///     .add(Dense::new(3));
    /// model.build()?;
    /// assert_eq!(model.generate_without_cache(&[0], 6, 0.0, None, 0)?.len(), 6);
    /// assert!(model.generate_without_cache(&[], 6, 0.0, None, 0).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn generate_without_cache(
        &self,
        prompt: &[usize],
        max_new_tokens: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: u64,
    ) -> Result<Vec<usize>> {
        let context = self.check_generate(prompt, temperature, top_k)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tokens = prompt.to_vec();
        for _ in 0..max_new_tokens {
            let start = context.map_or(0, |c| tokens.len().saturating_sub(c));
            let logits = self.step(&tokens[start..], &mut DecodeCache::new())?;
            tokens.push(sample(&logits, temperature, top_k, &mut rng));
        }
        Ok(tokens[prompt.len()..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_one_sampling_is_the_arg_max() {
        let mut rng = StdRng::seed_from_u64(0);
        for _ in 0..20 {
            assert_eq!(sample(&[0.1, 2.0, -1.0], 1.0, Some(1), &mut rng), 1);
        }
        assert_eq!(sample(&[0.1, 2.0, 3.0], 0.0, None, &mut rng), 2);
    }

    #[test]
    fn sampling_follows_the_softmax() {
        // logits [0, ln 3]: p = [1/4, 3/4].
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sample(&[0.0, 3f64.ln()], 1.0, None, &mut rng) == 1)
            .count();
        let p = ones as f64 / n as f64;
        assert!((p - 0.75).abs() < 0.015, "{p}");
    }
}
