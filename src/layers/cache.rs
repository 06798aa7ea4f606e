//! [`DecodeCache`]: the state an incremental (token by token) forward pass
//! carries between steps: the position reached and each attention layer's
//! keys and values, so a new token costs work proportional to the context
//! rather than a full forward pass over it.

use crate::element::Float;
use crate::tensor::Tensor;

/// Keys and values cached by attention layers during generation, and the
/// number of positions already processed.
///
/// A step runs the model on the new tokens only, through
/// [`Layer::forward_cached`](super::Layer::forward_cached): position-wise
/// layers act as in inference; a position embedding adds the positions
/// from [`position`](Self::position) on; each attention layer takes the
/// next slot (in forward order) and appends its new keys and values there.
/// The caller then advances the position with [`advance`](Self::advance).
///
/// # Examples
///
/// ```
/// use tapeflow::layers::DecodeCache;
///
/// let mut cache = DecodeCache::<f32>::new();
/// assert_eq!(cache.position(), 0);
/// cache.advance(5);
/// assert_eq!(cache.position(), 5);
/// cache.clear();
/// assert_eq!(cache.position(), 0);
/// ```
#[derive(Debug, Default)]
pub struct DecodeCache<T: Float = f32> {
    position: usize,
    slots: Vec<Option<(Tensor<T>, Tensor<T>)>>,
    cursor: usize,
}

impl<T: Float> DecodeCache<T> {
    /// An empty cache at position 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::DecodeCache;
    ///
    /// assert_eq!(DecodeCache::<f64>::new().position(), 0);
    /// ```
    pub fn new() -> Self {
        DecodeCache {
            position: 0,
            slots: Vec::new(),
            cursor: 0,
        }
    }

    /// The number of positions processed before the current step.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::DecodeCache;
    ///
    /// let mut cache = DecodeCache::<f32>::new();
    /// cache.advance(3);
    /// assert_eq!(cache.position(), 3);
    /// ```
    pub fn position(&self) -> usize {
        self.position
    }

    /// Ends a step of `tokens` new positions: the next step starts at
    /// `position + tokens` and attention layers start again from the first
    /// slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::DecodeCache;
    ///
    /// let mut cache = DecodeCache::<f32>::new();
    /// cache.advance(2);
    /// cache.advance(1);
    /// assert_eq!(cache.position(), 3);
    /// ```
    pub fn advance(&mut self, tokens: usize) {
        self.position = self.position.saturating_add(tokens);
        self.cursor = 0;
    }

    /// Forgets everything: position 0, no cached keys or values.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::DecodeCache;
    ///
    /// let mut cache = DecodeCache::<f32>::new();
    /// cache.advance(4);
    /// cache.clear();
    /// assert_eq!(cache.position(), 0);
    /// ```
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The next attention layer's slot: its cached `(keys, values)` so far
    /// (`None` on the first step). Attention layers call this once per step,
    /// in forward order, and store the grown tensors back into the slot.
    pub fn next_slot(&mut self) -> &mut Option<(Tensor<T>, Tensor<T>)> {
        if self.cursor == self.slots.len() {
            self.slots.push(None);
        }
        self.cursor += 1;
        &mut self.slots[self.cursor - 1]
    }
}
