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

thread_local! {
    static SPARE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Swaps the thread's spare lists for element type `T` (emptied) into
/// `nodes` and `scratch`, which a new tape holds empty. Field by field,
/// so nothing larger than a list header is moved.
pub(super) fn take<T: Float>(nodes: &mut Vec<Node<T>>, scratch: &mut Scratch<T>) {
    let _ = SPARE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        if let Some(kept) = s.as_mut().and_then(|b| b.downcast_mut::<Spare<T>>()) {
            std::mem::swap(&mut kept.nodes, nodes);
            swap_scratch(&mut kept.scratch, scratch);
        }
    });
}

/// Empties a dropped tape's `nodes` and `scratch` (freeing the lists too
/// large to keep) and swaps them into the thread's spare set for the next
/// [`take`].
pub(super) fn give<T: Float>(nodes: &mut Vec<Node<T>>, scratch: &mut Scratch<T>) {
    fn empty<E>(list: &mut Vec<E>) {
        if list.capacity() > MAX_KEPT {
            *list = Vec::new();
        } else {
            list.clear();
        }
    }
    empty(nodes);
    empty(&mut scratch.slots);
    empty(&mut scratch.wanted);
    // During the thread's teardown the cache may be gone: the lists are
    // then simply freed with the tape.
    let _ = SPARE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        match s.as_mut().and_then(|b| b.downcast_mut::<Spare<T>>()) {
            // What was kept is empty (a tape took it) or the lists of a
            // tape dropped before this one; either way the tape frees it.
            Some(kept) => {
                std::mem::swap(&mut kept.nodes, nodes);
                swap_scratch(&mut kept.scratch, scratch);
            }
            // The first tape of this element type on this thread.
            None => {
                *s = Some(Box::new(Spare {
                    nodes: std::mem::take(nodes),
                    scratch: std::mem::take(scratch),
                }));
            }
        }
    });
}

fn swap_scratch<T: Float>(a: &mut Scratch<T>, b: &mut Scratch<T>) {
    std::mem::swap(&mut a.slots, &mut b.slots);
    std::mem::swap(&mut a.wanted, &mut b.wanted);
    std::mem::swap(&mut a.seed, &mut b.seed);
}
