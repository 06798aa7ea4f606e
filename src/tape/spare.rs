//! Buffers a thread keeps between tapes: the node list of the last tape
//! dropped on it, the reverse sweep's slot and target lists, and the list
//! of variable gradients of the last [`Gradients`](super::Gradients)
//! dropped on it.
//!
//! A training loop records a new tape each step, and a small model's step
//! (the 1-16-1 MLP, `(a*b).sum()` and its backward) spent a fifth of its
//! time in `malloc`/`free`, a good part of it for these few lists. A new
//! tape takes the thread's spare lists (one thread-local access) and a
//! dropped tape gives them back (another), so recording and sweeping
//! allocate no list. No value changes: the lists are emptied before they
//! are kept.
//! A list with room for more than [`MAX_KEPT`] entries is freed, not kept,
//! so a thread holds at most a few hundred KiB between tapes.
//!
//! The spare set is typed by the element type: after an `f64` tape, an
//! `f32` tape starts with fresh lists.

use std::any::Any;
use std::cell::RefCell;

use super::sweep::{Slot, Want};
use super::{Node, ParamId};
use crate::element::Float;
use crate::tensor::Tensor;

/// The most entries a kept list may have room for.
const MAX_KEPT: usize = 2048;

/// The sweep's lists, kept by the tape between sweeps.
pub(super) struct Scratch<T: Float> {
    /// One slot per node up to the sweep's output.
    pub(super) slots: Vec<Slot<T>>,
    /// The targets of the sweep, resolved.
    pub(super) wanted: Vec<Want>,
    /// Empty lists for the next sweep's variable and parameter gradients.
    pub(super) var_results: Vec<(usize, Tensor<T>)>,
    pub(super) param_results: Vec<(ParamId, Tensor<T>)>,
}

impl<T: Float> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            slots: Vec::new(),
            wanted: Vec::new(),
            var_results: Vec::new(),
            param_results: Vec::new(),
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
                // A result list given back while this tape was alive
                // (`give_results`) stays kept rather than the tape's.
                keep_larger(&mut kept.scratch.var_results, &mut scratch.var_results);
                keep_larger(&mut kept.scratch.param_results, &mut scratch.param_results);
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

/// Empties a list to keep: cleared, or freed when it is too large to keep.
fn empty<E>(list: &mut Vec<E>) {
    if list.capacity() > MAX_KEPT {
        *list = Vec::new();
    } else {
        list.clear();
    }
}

fn swap_scratch<T: Float>(a: &mut Scratch<T>, b: &mut Scratch<T>) {
    std::mem::swap(&mut a.slots, &mut b.slots);
    std::mem::swap(&mut a.wanted, &mut b.wanted);
    std::mem::swap(&mut a.var_results, &mut b.var_results);
    std::mem::swap(&mut a.param_results, &mut b.param_results);
}

/// Leaves in `kept` whichever of the two (empty) lists has more room.
fn keep_larger<E>(kept: &mut Vec<E>, other: &mut Vec<E>) {
    if other.capacity() > kept.capacity() {
        std::mem::swap(kept, other);
    }
}

/// Empties a dropped [`Gradients`](super::Gradients)' lists and keeps them
/// for the thread's next sweep, in place of kept lists with less room.
pub(super) fn give_results<T: Float>(
    vars: &mut Vec<(usize, Tensor<T>)>,
    params: &mut Vec<(ParamId, Tensor<T>)>,
) {
    if vars.capacity() == 0 && params.capacity() == 0 {
        return;
    }
    empty(vars);
    empty(params);
    let _ = SPARE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        match s.as_mut() {
            Some(b) => {
                if let Some(kept) = b.downcast_mut::<Spare<T>>() {
                    keep_larger(&mut kept.scratch.var_results, vars);
                    keep_larger(&mut kept.scratch.param_results, params);
                }
            }
            // Dropped before the thread's first tape (which is still
            // alive): the kept set starts with these lists.
            None => {
                *s = Some(Box::new(Spare {
                    nodes: Vec::new(),
                    scratch: Scratch {
                        var_results: std::mem::take(vars),
                        param_results: std::mem::take(params),
                        ..Scratch::default()
                    },
                }));
            }
        }
    });
}
