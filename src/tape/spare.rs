//! Buffers a thread keeps between tapes: the lists of the last tape dropped
//! on it (its node list and its reverse sweep's slot, target and result
//! lists, in one box), and the result lists of the last
//! [`Gradients`](super::Gradients) dropped on it.
//!
//! A training loop records a new tape each step, and a small model's step
//! (the 1-16-1 MLP, `(a*b).sum()` and its backward) spent a fifth of its
//! time in `malloc`/`free`, a good part of it for these few lists. A new
//! tape takes the thread's box of lists (one thread-local access, one
//! pointer moved) and a dropped tape gives it back (another); a dropped
//! `Gradients` gives its lists back too. So recording, sweeping and the
//! result allocate no list. No value changes: the lists are emptied before
//! they are kept. A second tape alive at the same time as the first gets a
//! new box. A list with room for more than [`MAX_KEPT`] entries is freed,
//! not kept, so a thread holds at most a few hundred KiB between tapes.
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

/// A tape's lists: its nodes and its sweep's lists, in one box that the
/// tape takes from the thread when made and gives back when dropped (one
/// pointer moved each way).
pub(super) struct Lists<T: Float> {
    pub(super) nodes: RefCell<Vec<Node<T>>>,
    pub(super) scratch: RefCell<Scratch<T>>,
}

impl<T: Float> Default for Lists<T> {
    fn default() -> Self {
        Lists {
            nodes: RefCell::new(Vec::new()),
            scratch: RefCell::new(Scratch::default()),
        }
    }
}

/// What a thread keeps between tapes: the lists of the last tape dropped
/// (`None` while a tape holds them), and the result lists of the last
/// [`Gradients`](super::Gradients) dropped while a tape held the lists.
struct Spare<T: Float> {
    lists: Option<Box<Lists<T>>>,
    var_results: Vec<(usize, Tensor<T>)>,
    param_results: Vec<(ParamId, Tensor<T>)>,
}

thread_local! {
    static SPARE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// The lists for a new tape: the thread's kept ones for element type `T`
/// (empty), with the result lists given back since, or new ones (the
/// thread's first tape, or a second tape alive at once).
#[inline]
pub(super) fn take<T: Float>() -> Box<Lists<T>> {
    let kept = SPARE.try_with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let kept = s.as_mut()?.downcast_mut::<Spare<T>>()?;
        let mut lists = kept.lists.take()?;
        let scratch = lists.scratch.get_mut();
        keep_larger(&mut scratch.var_results, &mut kept.var_results);
        keep_larger(&mut scratch.param_results, &mut kept.param_results);
        Some(lists)
    });
    kept.ok().flatten().unwrap_or_default()
}

/// Empties a dropped tape's lists (freeing those too large to keep) and
/// keeps them for the thread's next [`take`].
pub(super) fn give<T: Float>(mut lists: Box<Lists<T>>) {
    empty(lists.nodes.get_mut());
    let scratch = lists.scratch.get_mut();
    empty(&mut scratch.slots);
    empty(&mut scratch.wanted);
    // During the thread's teardown the cache may be gone: the lists are
    // then simply freed with the tape.
    let _ = SPARE.try_with(move |s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        match s.as_mut().and_then(|b| b.downcast_mut::<Spare<T>>()) {
            Some(kept) => {
                // Result lists given back while this tape was alive
                // (`give_results`) go with the lists.
                let scratch = lists.scratch.get_mut();
                keep_larger(&mut scratch.var_results, &mut kept.var_results);
                keep_larger(&mut scratch.param_results, &mut kept.param_results);
                // Lists already kept (another tape's, dropped before this
                // one) stay; these are freed.
                if kept.lists.is_none() {
                    kept.lists = Some(lists);
                }
            }
            // The first tape of this element type on this thread.
            None => {
                *s = Some(Box::new(Spare {
                    lists: Some(lists),
                    var_results: Vec::new(),
                    param_results: Vec::new(),
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
                    // Into the kept lists when no tape holds them, else
                    // beside them until the tape is dropped.
                    match kept.lists.as_mut() {
                        Some(lists) => {
                            let scratch = lists.scratch.get_mut();
                            keep_larger(&mut scratch.var_results, vars);
                            keep_larger(&mut scratch.param_results, params);
                        }
                        None => {
                            keep_larger(&mut kept.var_results, vars);
                            keep_larger(&mut kept.param_results, params);
                        }
                    }
                }
            }
            // Dropped before the thread's first tape (which is still
            // alive): the kept set starts with these lists.
            None => {
                *s = Some(Box::new(Spare::<T> {
                    lists: None,
                    var_results: std::mem::take(vars),
                    param_results: std::mem::take(params),
                }));
            }
        }
    });
}
