//! Text for language models: [`CharTokenizer`] (a character vocabulary with
//! `encode`/`decode`) and [`TextWindows`] (fixed-length windows of tokens
//! with next-token targets, drawn at random with a seed or laid end to end).
//!
//! No autodiff here: the results are plain [`Tensor`]s of token ids (as
//! floats, the form every model input takes).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A character-level tokenizer: each distinct character of a text is a
/// token, numbered in sorted (Unicode scalar) order, as in Karpathy's
/// char-rnn and nanoGPT's Shakespeare-char.
///
/// Save it with a model by storing [`vocabulary`](Self::vocabulary) in the
/// model's [`Embedding`](crate::layers::Embedding) (its `vocabulary`
/// setting), and rebuild it with [`from_vocabulary`](Self::from_vocabulary).
///
/// # Examples
///
/// ```
/// use tapeflow::data::CharTokenizer;
///
/// let tok = CharTokenizer::from_text("hello")?;
/// assert_eq!(tok.vocabulary(), "ehlo");
/// let ids = tok.encode("hole")?;
/// assert_eq!(ids, vec![1, 3, 2, 0]);
/// assert_eq!(tok.decode(&ids)?, "hole");
/// assert_eq!(
///     tok.encode("hi").unwrap_err().to_string(),
///     "encode: character 'i' at position 1 is not in the vocabulary of 4 characters"
/// );
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharTokenizer {
    chars: Vec<char>,
}

impl CharTokenizer {
    /// The vocabulary of the distinct characters of `text`, sorted.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `char_tokenizer`) for an empty text.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// assert_eq!(CharTokenizer::from_text("abcab")?.vocab_size(), 3);
    /// assert!(CharTokenizer::from_text("").is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_text(text: &str) -> Result<Self> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        if chars.is_empty() {
            return Err(Error::InvalidArgument {
                op: "char_tokenizer",
                message: "cannot build a vocabulary from an empty text".to_string(),
            });
        }
        Ok(CharTokenizer { chars })
    }

    /// A tokenizer whose token `i` is the `i`-th character of `vocabulary`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `char_tokenizer`) for an empty
    /// vocabulary or a repeated character.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// let tok = CharTokenizer::from_vocabulary("ba")?;
    /// assert_eq!(tok.encode("ab")?, vec![1, 0]);
    /// assert!(CharTokenizer::from_vocabulary("aba").is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_vocabulary(vocabulary: &str) -> Result<Self> {
        let chars: Vec<char> = vocabulary.chars().collect();
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument {
                op: "char_tokenizer",
                message: format!("character {:?} appears twice in the vocabulary", w[0]),
            });
        }
        if chars.is_empty() {
            return Err(Error::InvalidArgument {
                op: "char_tokenizer",
                message: "the vocabulary is empty".to_string(),
            });
        }
        Ok(CharTokenizer { chars })
    }

    /// The characters, in token order, as one string.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// assert_eq!(CharTokenizer::from_text("cab")?.vocabulary(), "abc");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn vocabulary(&self) -> String {
        self.chars.iter().collect()
    }

    /// The number of tokens.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// assert_eq!(CharTokenizer::from_text("aab")?.vocab_size(), 2);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// The token id of each character of `text`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `encode`) naming the first character
    /// not in the vocabulary and its position (in characters).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// assert_eq!(CharTokenizer::from_text("ab")?.encode("ba")?, vec![1, 0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn encode(&self, text: &str) -> Result<Vec<usize>> {
        let mut lookup = std::collections::HashMap::with_capacity(self.chars.len());
        for (i, &c) in self.chars.iter().enumerate() {
            lookup.insert(c, i);
        }
        text.chars()
            .enumerate()
            .map(|(pos, c)| {
                lookup.get(&c).copied().ok_or_else(|| Error::InvalidArgument {
                    op: "encode",
                    message: format!(
                        "character {c:?} at position {pos} is not in the vocabulary of {} characters",
                        self.chars.len()
                    ),
                })
            })
            .collect()
    }

    /// The text of a sequence of token ids.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] (op `decode`) for an id `>= vocab_size`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::CharTokenizer;
    ///
    /// let tok = CharTokenizer::from_text("ab")?;
    /// assert_eq!(tok.decode(&[1, 1, 0])?, "bba");
    /// assert!(tok.decode(&[2]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        ids.iter()
            .map(|&i| {
                self.chars.get(i).copied().ok_or(Error::IndexOutOfRange {
                    op: "decode",
                    index: i,
                    len: self.chars.len(),
                })
            })
            .collect()
    }
}

/// Fixed-length windows over a token sequence for next-token prediction:
/// a window starting at `s` has inputs `tokens[s..s + window]` and targets
/// `tokens[s + 1..s + window + 1]`.
///
/// # Examples
///
/// ```
/// use tapeflow::data::TextWindows;
///
/// let windows = TextWindows::new((0..10).collect(), 3)?;
/// let (x, y) = windows.fixed_windows::<f32>(None)?;
/// assert_eq!(x.shape(), &[3, 3]);                       // starts 0, 3, 6
/// assert_eq!(x.to_vec()[3..6], [3.0, 4.0, 5.0]);
/// assert_eq!(y.to_vec()[3..6], [4.0, 5.0, 6.0]);
/// let (x, _) = windows.random_windows::<f32>(4, 0)?;
/// assert_eq!(x.shape(), &[4, 3]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextWindows {
    tokens: Vec<usize>,
    window: usize,
}

impl TextWindows {
    /// Windows of `window` tokens over `tokens`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `text_windows`) if `window` is 0 or
    /// `tokens` holds fewer than `window + 1` tokens (one window and its
    /// last target).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    ///
    /// assert!(TextWindows::new(vec![1, 2, 3], 2).is_ok());
    /// assert_eq!(
    ///     TextWindows::new(vec![1, 2], 2).unwrap_err().to_string(),
    ///     "text_windows: 2 tokens are too few for a window of 2 and its next-token targets"
    /// );
    /// ```
    pub fn new(tokens: Vec<usize>, window: usize) -> Result<Self> {
        if window == 0 || tokens.len() <= window {
            return Err(Error::InvalidArgument {
                op: "text_windows",
                message: format!(
                    "{} tokens are too few for a window of {window} and its next-token targets",
                    tokens.len()
                ),
            });
        }
        Ok(TextWindows { tokens, window })
    }

    /// The window length.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    ///
    /// assert_eq!(TextWindows::new(vec![0; 9], 4)?.window(), 4);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn window(&self) -> usize {
        self.window
    }

    /// The number of possible window starts, `len - window`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    ///
    /// assert_eq!(TextWindows::new(vec![0; 9], 4)?.starts(), 5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn starts(&self) -> usize {
        self.tokens.len() - self.window
    }

    /// `count` windows at starts drawn uniformly (with replacement) with the
    /// RNG `StdRng::seed_from_u64(seed)`: inputs and targets, each
    /// `[count, window]`. The same seed gives the same windows; pass a
    /// different seed each step (`seed + step`), or draw every step from one
    /// RNG with [`random_windows_with_rng`](Self::random_windows_with_rng).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `text_windows`) if the element count
    /// overflows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    ///
    /// let w = TextWindows::new((0..50).collect(), 5)?;
    /// let (x, y) = w.random_windows::<f32>(3, 7)?;
    /// assert_eq!(x.shape(), &[3, 5]);
    /// assert_eq!(y.to_vec()[0], x.to_vec()[0] + 1.0);   // targets: the next token
    /// assert_eq!((x.clone(), y), w.random_windows::<f32>(3, 7)?);
    /// assert_ne!(x, w.random_windows::<f32>(3, 8)?.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn random_windows<T: Float>(
        &self,
        count: usize,
        seed: u64,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        self.random_windows_with_rng(count, &mut StdRng::seed_from_u64(seed))
    }

    /// `count` windows at starts drawn uniformly (with replacement) from
    /// `rng`: inputs and targets, each `[count, window]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `text_windows`) if the element count
    /// overflows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    /// use tapeflow::rand::{SeedableRng, rngs::StdRng};
    ///
    /// let w = TextWindows::new((0..50).collect(), 5)?;
    /// let mut rng = StdRng::seed_from_u64(7);
    /// let a = w.random_windows_with_rng::<f32>(3, &mut rng)?;
    /// let b = w.random_windows_with_rng::<f32>(3, &mut rng)?;
    /// assert_ne!(a, b);                               // the stream moves on
    /// assert_eq!(a, w.random_windows::<f32>(3, 7)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn random_windows_with_rng<T: Float>(
        &self,
        count: usize,
        rng: &mut StdRng,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let starts: Vec<usize> = (0..count)
            .map(|_| rng.random_range(0..self.starts()))
            .collect();
        self.gather(&starts)
    }

    /// Windows laid end to end from the start (`0, window, 2·window, …`),
    /// at most `max_windows` of them: a fixed evaluation set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `text_windows`) if the element count
    /// overflows.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::TextWindows;
    ///
    /// let w = TextWindows::new((0..10).collect(), 3)?;
    /// assert_eq!(w.fixed_windows::<f64>(Some(2))?.0.shape(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fixed_windows<T: Float>(
        &self,
        max_windows: Option<usize>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let n = (self.starts() - 1) / self.window + 1;
        let n = max_windows.map_or(n, |m| m.min(n));
        let starts: Vec<usize> = (0..n).map(|i| i * self.window).collect();
        self.gather(&starts)
    }

    fn gather<T: Float>(&self, starts: &[usize]) -> Result<(Tensor<T>, Tensor<T>)> {
        let n = starts
            .len()
            .checked_mul(self.window)
            .ok_or_else(|| Error::InvalidArgument {
                op: "text_windows",
                message: format!(
                    "{} windows of {} tokens are too many",
                    starts.len(),
                    self.window
                ),
            })?;
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for &s in starts {
            x.extend(
                self.tokens[s..s + self.window]
                    .iter()
                    .map(|&t| T::from_usize(t)),
            );
            y.extend(
                self.tokens[s + 1..s + self.window + 1]
                    .iter()
                    .map(|&t| T::from_usize(t)),
            );
        }
        let shape = [starts.len(), self.window];
        Ok((Tensor::from_vec(x, &shape)?, Tensor::from_vec(y, &shape)?))
    }
}
