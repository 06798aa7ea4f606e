//! A small per-thread cache of medium blocks (1 KiB to 64 KiB of `f32` or
//! `f64`, count and elements in one allocation): a tensor's block of that
//! size goes back here when its last owner drops it, and
//! [`zero_block`](super::zero_block) takes one of the same length from
//! here (and copies zeros into it) before it asks `malloc`.
//!
//! `malloc` serves small requests from its per-thread cache, quickly, and
//! large vectors go to the crate's cache of large buffers
//! ([`recycle`](super::super::recycle), from 64 KiB); in between (a
//! `[64, 16]` output of a small model's product, 4 KiB) each allocation
//! and free took `malloc`'s slow path, with its bin searches and
//! consolidations, a few hundred instructions each, several times a step.
//!
//! The cache is bounded ([`MAX_BLOCKS`] blocks and [`MAX_BYTES`] bytes per
//! element type and thread; beyond, the oldest block is freed) and holds
//! only blocks nothing else refers to. A block taken from it is written
//! over (with zeros) before it is handed out, so nothing of its old
//! contents is ever seen.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

/// The smallest block kept, in bytes: below, `malloc`'s per-thread cache
/// (chunks up to about 1 KiB) is already fast.
pub(crate) const MIN_BYTES: usize = 1024;

/// The largest block kept, in bytes: from 64 KiB on, outputs are vectors
/// that the cache of large buffers takes.
pub(crate) const MAX_BYTES_EACH: usize = 64 * 1024;

/// The most blocks kept per element type and thread.
pub(crate) const MAX_BLOCKS: usize = 16;

/// The most bytes kept per element type and thread.
pub(crate) const MAX_BYTES: usize = 256 * 1024;

/// The blocks one thread keeps for one element type, oldest first, and
/// their total size in bytes.
struct Kept<E> {
    blocks: Vec<Arc<[E]>>,
    bytes: usize,
}

impl<E> Kept<E> {
    const fn new() -> Kept<E> {
        Kept {
            blocks: Vec::new(),
            bytes: 0,
        }
    }
}

thread_local! {
    static KEPT_F32: RefCell<Kept<f32>> = const { RefCell::new(Kept::new()) };
    static KEPT_F64: RefCell<Kept<f64>> = const { RefCell::new(Kept::new()) };
}

/// Whether a block of `n` elements of `T` is of a size the cache keeps.
#[inline]
fn kept_size<T>(n: usize) -> bool {
    let bytes = n.saturating_mul(size_of::<T>());
    (MIN_BYTES..=MAX_BYTES_EACH).contains(&bytes)
}

/// Offers the block of a storage being dropped to its thread's cache:
/// taken (and `*block` left empty) when it is of a kept size and element
/// type and nothing else refers to it; else left as it is, to be freed
/// as usual.
#[inline]
pub(crate) fn keep<T: 'static>(block: &mut Arc<[T]>) {
    if !kept_size::<T>(block.len()) || Arc::get_mut(block).is_none() {
        return;
    }
    let t = TypeId::of::<T>();
    if t == TypeId::of::<f32>() {
        keep_in(&KEPT_F32, block);
    } else if t == TypeId::of::<f64>() {
        keep_in(&KEPT_F64, block);
    }
}

fn keep_in<E: 'static, T: 'static>(
    kept: &'static LocalKey<RefCell<Kept<E>>>,
    block: &mut Arc<[T]>,
) {
    // `T` is `E` (the caller checked): the downcast only renames it. An
    // empty `Arc<[T]>` allocates nothing.
    let mut taken = Some(std::mem::take(block));
    let Some(b) = (&mut taken as &mut dyn Any)
        .downcast_mut::<Option<Arc<[E]>>>()
        .and_then(Option::take)
    else {
        // Not `E` after all (cannot happen): give the block back.
        if let Some(b) = taken {
            *block = b;
        }
        return;
    };
    // During the thread's teardown, or if the cache is in use (a block
    // dropped while taking one): the block is freed as usual.
    let _ = kept.try_with(|k| {
        let Ok(mut k) = k.try_borrow_mut() else {
            return;
        };
        let bytes = b.len() * size_of::<E>();
        while k.blocks.len() >= MAX_BLOCKS || (k.bytes + bytes > MAX_BYTES && !k.blocks.is_empty())
        {
            let old = k.blocks.remove(0);
            k.bytes -= old.len() * size_of::<E>();
        }
        k.bytes += bytes;
        k.blocks.push(b);
    });
}

/// A kept block of exactly `n` elements of `T`, if the thread has one
/// (the most recently kept), nothing else referring to it; `None`
/// otherwise. Its elements are those it held: the caller overwrites every
/// one of them before handing it out.
#[inline]
pub(crate) fn take<T: 'static>(n: usize) -> Option<Arc<[T]>> {
    if !kept_size::<T>(n) {
        return None;
    }
    let t = TypeId::of::<T>();
    if t == TypeId::of::<f32>() {
        take_in(&KEPT_F32, n)
    } else if t == TypeId::of::<f64>() {
        take_in(&KEPT_F64, n)
    } else {
        None
    }
}

fn take_in<E: 'static, T: 'static>(
    kept: &'static LocalKey<RefCell<Kept<E>>>,
    n: usize,
) -> Option<Arc<[T]>> {
    let mut block: Arc<[E]> = kept
        .try_with(|k| {
            let mut k = k.try_borrow_mut().ok()?;
            let at = k.blocks.iter().rposition(|b| b.len() == n)?;
            let b = k.blocks.remove(at);
            k.bytes -= b.len() * size_of::<E>();
            Some(b)
        })
        .ok()
        .flatten()?;
    // Only unique blocks are kept, so this holds; a shared one is left to
    // its owners.
    Arc::get_mut(&mut block)?;
    // `E` is `T` (the caller checked): the downcast only renames it.
    let mut block = Some(block);
    (&mut block as &mut dyn Any)
        .downcast_mut::<Option<Arc<[T]>>>()
        .and_then(Option::take)
}

/// The number of blocks and bytes this thread keeps for `f32` (tests).
#[cfg(test)]
pub(crate) fn kept_f32() -> (usize, usize) {
    KEPT_F32.with(|k| {
        let k = k.borrow();
        (k.blocks.len(), k.bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_kept_sizes_come_back_and_the_cache_stays_bounded() {
        // Below and above the kept sizes: nothing is kept.
        for n in [255, 16_385] {
            let mut b: Arc<[f32]> = vec![1.0; n].into();
            keep(&mut b);
            assert_eq!(b.len(), n, "{n}");
        }
        // A shared block is not kept.
        let mut b: Arc<[f32]> = vec![1.0; 1024].into();
        let other = b.clone();
        keep(&mut b);
        assert_eq!(b.len(), 1024);
        drop(other);
        // A unique one is, and comes back as zeros (the same allocation).
        let before = kept_f32().0;
        let ptr = b.as_ptr();
        keep(&mut b);
        assert!(b.is_empty());
        assert_eq!(kept_f32().0, before + 1);
        assert!(take::<f32>(1000).is_none(), "only the exact length");
        let z = take::<f32>(1024).expect("kept");
        assert_eq!(z.as_ptr(), ptr);
        assert_eq!(z.len(), 1024);
        // f64 blocks are kept apart; other types never.
        let mut d: Arc<[f64]> = vec![-1.0; 512].into();
        keep(&mut d);
        assert!(d.is_empty());
        let z = take::<f64>(512).expect("kept");
        assert_eq!(z.len(), 512);
        let mut u: Arc<[u32]> = vec![1; 1024].into();
        keep(&mut u);
        assert_eq!(u.len(), 1024);
        // Bounded: at most MAX_BLOCKS blocks and MAX_BYTES bytes.
        for _ in 0..3 * MAX_BLOCKS {
            let mut b: Arc<[f32]> = vec![2.0; 16_384].into();
            keep(&mut b);
            let (count, bytes) = kept_f32();
            assert!(count <= MAX_BLOCKS && bytes <= MAX_BYTES, "{count} {bytes}");
        }
        for _ in 0..3 * MAX_BLOCKS {
            let mut b: Arc<[f32]> = vec![2.0; 256].into();
            keep(&mut b);
            let (count, bytes) = kept_f32();
            assert!(count <= MAX_BLOCKS && bytes <= MAX_BYTES, "{count} {bytes}");
        }
        assert_eq!(kept_f32().0, MAX_BLOCKS);
    }
}
