//! Buffers a thread keeps between tapes: the node list of the last tape
//! dropped on it, the reverse sweep's slot and target lists, and the
//! one-element seed gradient `1` of a scalar loss.
//!
//! A training loop records a new tape each step, and a small model's step
//! (the 1-16-1 MLP, `(a*b).sum()` and its backward) spent a fifth of its
//! time in `malloc`/`free`, a good part of it for these few lists. A new
//! tape takes the thread's spare lists (one thread-local access) and a
//! dropped tape gives them back (another), so recording and sweeping
//! allocate no list. No value changes: the lists are emptied before they
//! are kept, and the seed is shared read-only (a rule that writes into its
//! gradient copies a shared one first, as copy on write does everywhere).
//! A list with room for more than [`MAX_KEPT`] entries is freed, not kept,
//! so a thread holds at most a few hundred KiB between tapes.
//!
//! The spare set is typed by the element type: after an `f64` tape, an
//! `f32` tape starts with fresh lists.

use std::any::Any;
use std::cell::RefCell;

use super::Node;
use super::sweep::{Slot, Want};
use crate::element::Float;
use crate::tensor::Tensor;

/// The most entries a kept list may have room for.
const MAX_KEPT: usize = 2048;

/// The sweep's lists and seed, kept by the tape between sweeps.
pub(super) struct Scratch<T: Float> {
    /// One slot per node up to the sweep's output.
    pub(super) slots: Vec<Slot<T>>,
    /// The targets of the sweep, resolved.
    pub(super) wanted: Vec<Want<T>>,
    /// The last seed gradient made (a tensor of ones).
    pub(super) seed: Option<Tensor<T>>,
}

impl<T: Float> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            slots: Vec::new(),
            wanted: Vec::new(),
            seed: None,
        }
    }
}

/// What a thread keeps between tapes.
pub(super) struct Spare<T: Float> {
    pub(super) nodes: Vec<Node<T>>,
    pub(super) scratch: Scratch<T>,
}

impl<T: Float> Default for Spare<T> {
    fn default() -> Self {
        Spare {
            nodes: Vec::new(),
            scratch: Scratch::default(),
        }
    }
}

thread_local! {
    static SPARE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// The thread's spare set for element type `T` (emptied lists), or a new
/// empty one.
pub(super) fn take<T: Float>() -> Spare<T> {
    SPARE
        .try_with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            s.as_mut()?.downcast_mut::<Spare<T>>().map(std::mem::take)
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Empties `spare`'s lists (freeing the ones too large to keep) and keeps
/// them for the thread's next [`take`].
pub(super) fn give<T: Float>(mut spare: Spare<T>) {
    fn empty<E>(list: &mut Vec<E>) {
        if list.capacity() > MAX_KEPT {
            *list = Vec::new();
        } else {
            list.clear();
        }
    }
    empty(&mut spare.nodes);
    empty(&mut spare.scratch.slots);
    empty(&mut spare.scratch.wanted);
    // During the thread's teardown the cache may be gone: `spare` is then
    // simply freed.
    let _ = SPARE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        match s.as_mut().and_then(|b| b.downcast_mut::<Spare<T>>()) {
            Some(kept) => *kept = spare,
            // The first tape of this element type on this thread.
            None => *s = Some(Box::new(spare)),
        }
    });
}
