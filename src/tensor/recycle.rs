//! Reuse of large element buffers across training steps: a bounded,
//! process-wide cache of freed `Vec<f32>` / `Vec<f64>` allocations (the CPU
//! side of PyTorch's caching allocator, much simplified).
//!
//! # Why
//!
//! A training step allocates the same multi-megabyte buffers every time
//! (activations, gradients, convolution columns) and frees them before the
//! next step. Handed back to `malloc`, they are often handed back to the
//! system too: glibc serves the pool threads of [`in_pool`](crate::in_pool)
//! from per-thread arenas, which trim freed memory at the top of their heaps,
//! and serves blocks above its mmap threshold by `mmap`, so the next step
//! faults every page in again (45 k to 340 k page faults per 60 steps of the
//! example CNN on two threads, `docs/performance.md`, issue 12). A library
//! must neither set the process's allocator nor rely on `MALLOC_*`
//! environment variables, so the crate keeps its large buffers itself.
//!
//! # How
//!
//! - **What is kept.** A buffer of [`MIN_BYTES`] (64 KiB) and more of `f32`
//!   or `f64` elements, when it is released: the drop of a tensor's storage
//!   ([`Buffer`], behind `Storage::Vec`) or an explicit [`give_back`] of a
//!   kernel's scratch vector. Smaller buffers go to `malloc` as before: its
//!   thread caches serve them well, and the allocation count of a small op
//!   is unchanged. Other element types are never kept.
//! - **Where it is taken.** [`try_with_capacity`](super::try_with_capacity)
//!   (and so [`try_filled`](super::try_filled) and
//!   [`try_alloc`](super::try_alloc)), and the large outputs of
//!   `Tensor::from_iter_exact` and of a copy on write, which go the `Vec`
//!   way (not one `Arc<[T]>` block) from [`MIN_BYTES`] up so that their
//!   allocation can come back here.
//! - **Size classes: none.** Allocations keep their exact requested size
//!   (no rounding, so no memory is wasted on a miss); a request for `n`
//!   elements takes the kept buffer of the same type with the smallest
//!   capacity in `n ..= n + n / 4` (best fit with a bounded slack). A
//!   training step asks for the same sizes every step, so it hits exactly;
//!   the slack lets a slightly smaller request (a last, shorter batch) use a
//!   kept buffer without holding much more memory than it needs.
//! - **Bounds.** At most [`buffer_cache_limit`] bytes (capacity × element
//!   size) are kept, [`DEFAULT_BUFFER_CACHE_LIMIT`] (64 MiB) unless set with
//!   [`set_buffer_cache_limit`], and at most [`MAX_BUFFERS`] buffers, so
//!   each look-up scans a short list. A buffer larger than the limit is never
//!   kept. To make room, the least recently released buffers are freed
//!   first (f32 and f64 together): sizes a program no longer asks for age
//!   out.
//! - **Threads.** One `Mutex` over both lists: buffers of 64 KiB and more
//!   are few per step (tens), and each visit is a scan of at most
//!   [`MAX_BUFFERS`] entries, so contention is negligible. A buffer freed on
//!   one thread can serve another.
//! - **Semantics.** A kept buffer is handed out with length 0, as a new
//!   `Vec` would be; [`try_filled`](super::try_filled) then fills it with
//!   the requested value, so a reused buffer's old contents are never seen
//!   and no result depends on whether a buffer was reused (tested bit for
//!   bit in `tests/suite/buffer_reuse.rs`). A miss allocates as before, so
//!   allocation failures are still the crate's `Error::OutOfMemory`.
//!   The one exception, [`written`], hands a buffer out with its old
//!   elements, for outputs whose every element is written before any is
//!   read (a product's output, which `gemm` overwrites without reading):
//!   those need no zero fill, and their results still cannot depend on
//!   the old contents.
//! - **No `unsafe`.** The lists are typed (`Vec<Vec<f32>>`, `Vec<Vec<f64>>`);
//!   a generic `T` finds its list by [`Any`] downcasting, so no layout is
//!   reinterpreted and every buffer is freed by `Vec`'s own drop.
//!
//! Users who need the memory back (a long-lived process that trained once)
//! call [`clear_buffer_cache`]; [`set_buffer_cache_limit`]`(0)` turns reuse
//! off.

use std::any::Any;
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The smallest buffer, in bytes, that is kept for reuse (64 KiB): 16,384
/// `f32`s or 8,192 `f64`s.
pub(crate) const MIN_BYTES: usize = 64 * 1024;

/// The default bound on the bytes kept (64 MiB); see
/// [`set_buffer_cache_limit`].
pub const DEFAULT_BUFFER_CACHE_LIMIT: usize = 64 << 20;

/// The most buffers kept at once, whatever their size.
pub(crate) const MAX_BUFFERS: usize = 128;

/// One kept buffer, holding the elements it had when released (`take`
/// empties it, `take_written` does not), with the release order that
/// picks which buffer to free first.
struct Entry<T> {
    buf: Vec<T>,
    stamp: u64,
}

/// The kept buffers of both element types, each list in release order
/// (oldest first).
struct Lists {
    f32: Vec<Entry<f32>>,
    f64: Vec<Entry<f64>>,
    /// Bytes kept, counted by capacity.
    held: usize,
    /// The next release stamp.
    clock: u64,
}

impl Lists {
    /// The list of `T`'s buffers; `None` for a type that is never kept.
    fn of<T: 'static>(&mut self) -> Option<&mut Vec<Entry<T>>> {
        let Lists { f32, f64, .. } = self;
        if let Some(list) = (f32 as &mut dyn Any).downcast_mut::<Vec<Entry<T>>>() {
            return Some(list);
        }
        (f64 as &mut dyn Any).downcast_mut::<Vec<Entry<T>>>()
    }

    fn count(&self) -> usize {
        self.f32.len() + self.f64.len()
    }

    /// Frees the least recently released buffer (of either type); `false`
    /// when nothing is kept.
    fn evict_oldest(&mut self) -> bool {
        let older_f32 = match (self.f32.first(), self.f64.first()) {
            (Some(a), Some(b)) => a.stamp < b.stamp,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        self.held -= if older_f32 {
            bytes_of(&self.f32.remove(0).buf)
        } else {
            bytes_of(&self.f64.remove(0).buf)
        };
        true
    }

    /// Frees the oldest buffers until `extra` more bytes and one more
    /// buffer fit under `limit`.
    fn make_room(&mut self, extra: usize, limit: usize) {
        while (self.held + extra > limit || self.count() >= MAX_BUFFERS) && self.evict_oldest() {}
    }
}

/// The bytes a vector's allocation holds.
fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity().saturating_mul(std::mem::size_of::<T>())
}

/// A bounded cache of large buffers; the crate uses one process-wide
/// instance ([`CACHE`]), tests make their own.
pub(crate) struct Cache {
    lists: Mutex<Lists>,
    limit: AtomicUsize,
}

impl Cache {
    /// An empty cache keeping at most `limit` bytes.
    pub(crate) const fn new(limit: usize) -> Cache {
        Cache {
            lists: Mutex::new(Lists {
                f32: Vec::new(),
                f64: Vec::new(),
                held: 0,
                clock: 0,
            }),
            limit: AtomicUsize::new(limit),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lists> {
        // A panic while the lock was held leaves the lists consistent (every
        // update is a push or a remove plus a count), so a poisoned lock is
        // still usable.
        self.lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A kept buffer of `T` with room for `n` elements (length 0), or
    /// `None`: `n` is below [`MIN_BYTES`], `T` is not kept, or no kept
    /// buffer fits.
    pub(crate) fn take<T: 'static>(&self, n: usize) -> Option<Vec<T>> {
        let mut buf = self.take_written(n)?;
        buf.clear();
        Some(buf)
    }

    /// [`take`](Cache::take), but the buffer keeps the elements it held
    /// when it was released (its length is that of the released vector, at
    /// most its capacity): for an output every element of which is
    /// written before it is read, which then needs no fill.
    pub(crate) fn take_written<T: 'static>(&self, n: usize) -> Option<Vec<T>> {
        if n.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
            return None;
        }
        let most = n.saturating_add(n / 4);
        let mut lists = self.lock();
        let list = lists.of::<T>()?;
        let best = list
            .iter()
            .enumerate()
            .filter(|(_, e)| (n..=most).contains(&e.buf.capacity()))
            .min_by_key(|(_, e)| e.buf.capacity())
            .map(|(i, _)| i)?;
        let buf = list.remove(best).buf;
        lists.held -= bytes_of(&buf);
        Some(buf)
    }

    /// Keeps `v`'s allocation for a later [`take`](Cache::take), or frees
    /// it: below [`MIN_BYTES`], above the limit, or of a type never kept.
    pub(crate) fn give<T: 'static>(&self, v: Vec<T>) {
        let bytes = bytes_of(&v);
        let limit = self.limit.load(Ordering::Relaxed);
        if bytes < MIN_BYTES || bytes > limit {
            return;
        }
        // Kept with its elements (cleared by `take`, reused as they are by
        // `take_written`).
        let mut lists = self.lock();
        if lists.of::<T>().is_none() {
            return;
        }
        lists.make_room(bytes, limit);
        let stamp = lists.clock;
        lists.clock += 1;
        lists.held += bytes;
        if let Some(list) = lists.of::<T>() {
            list.push(Entry { buf: v, stamp });
        }
    }

    /// Sets the bound on the bytes kept, freeing the oldest buffers past it.
    pub(crate) fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
        self.lock().make_room(0, bytes);
    }

    /// The bound on the bytes kept.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Frees every kept buffer.
    pub(crate) fn clear(&self) {
        let mut lists = self.lock();
        lists.f32.clear();
        lists.f64.clear();
        lists.held = 0;
    }

    /// Bytes and buffers kept now.
    pub(crate) fn held(&self) -> (usize, usize) {
        let lists = self.lock();
        (lists.held, lists.count())
    }
}

/// The crate's cache.
static CACHE: Cache = Cache::new(DEFAULT_BUFFER_CACHE_LIMIT);

thread_local! {
    /// Requests of [`MIN_BYTES`] and more made on this thread that a kept
    /// buffer served (`.0`) and that went to the allocator (`.1`).
    static COUNTS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A kept buffer for `n` elements of `T` from the crate's cache (length 0),
/// if one fits; counted on this thread (see [`buffer_cache_counts`]).
pub(crate) fn take<T: 'static>(n: usize) -> Option<Vec<T>> {
    if n.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
        return None;
    }
    let got = CACHE.take(n);
    // `try_with`: a thread being torn down has no counter; skip it.
    let _ = COUNTS.try_with(|c| {
        let (hits, misses) = c.get();
        c.set(if got.is_some() {
            (hits + 1, misses)
        } else {
            (hits, misses + 1)
        });
    });
    got
}

/// A vector of `n` elements of `T` whose values are unspecified: a kept
/// buffer with its old elements when one fits (no fill, no page faults),
/// else `value` repeated. For outputs whose every element the caller
/// writes before any is read (a product `gemm` overwrites, a kernel's
/// merged result), so no result depends on what the buffer held. Counted
/// as [`take`] is: a hit, or a miss for a large request that found none.
pub(crate) fn written<T: Clone + 'static>(n: usize, value: T) -> Vec<T> {
    if let Some(mut v) = take_written_counted(n) {
        v.truncate(n);
        v.resize(n, value);
        return v;
    }
    if worth_keeping::<T>(n) {
        count(false);
    }
    vec![value; n]
}

/// [`Cache::take_written`] of the crate's cache. Only a hit is counted on
/// this thread: on a miss the caller allocates through
/// [`try_with_capacity`](super::try_with_capacity) (which counts it) or
/// counts it itself, as [`written`] does.
pub(crate) fn take_written_counted<T: 'static>(n: usize) -> Option<Vec<T>> {
    if n.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
        return None;
    }
    let got = CACHE.take_written(n);
    if got.is_some() {
        count(true);
    }
    got
}

/// Adds one hit or one miss to this thread's counts.
fn count(hit: bool) {
    // `try_with`: a thread being torn down has no counter; skip it.
    let _ = COUNTS.try_with(|c| {
        let (hits, misses) = c.get();
        c.set(if hit {
            (hits + 1, misses)
        } else {
            (hits, misses + 1)
        });
    });
}

/// Whether `n` elements of `T` are large enough to be kept for reuse.
#[inline]
pub(crate) fn worth_keeping<T>(n: usize) -> bool {
    n.saturating_mul(std::mem::size_of::<T>()) >= MIN_BYTES
}

/// `vec![value; n]`, in a kept buffer when one fits: for kernels whose
/// sizes come from tensors that already exist (so, like `vec!`, it does not
/// return an error), and for scratch buffers handed back with
/// [`give_back`] or held in a [`Buffer`]. Sizes from user input go through
/// [`try_filled`](super::try_filled) instead.
pub(crate) fn filled<T: Clone + 'static>(n: usize, value: T) -> Vec<T> {
    // On a miss, `resize` of an empty vector allocates exactly `n`.
    let mut v = take(n).unwrap_or_default();
    v.resize(n, value);
    v
}

/// Hands a kernel's scratch vector back to the crate's cache instead of
/// freeing it (freed as usual when it is small, of another type, or does
/// not fit under the limit). Tensors' storage comes back by itself.
pub(crate) fn give_back<T: 'static>(v: Vec<T>) {
    if worth_keeping::<T>(v.capacity()) {
        CACHE.give(v);
    }
}

/// A vector whose allocation goes back to the crate's cache when it is
/// dropped: the element storage of a tensor (`Storage::Vec`), and the guard
/// for a kernel's scratch buffer that lives in a closure or a struct, where
/// an explicit [`give_back`] has no place.
///
/// Derefs to the `Vec`; [`into_inner`](Buffer::into_inner) takes the
/// vector out for good.
#[derive(Default)]
pub(crate) struct Buffer<T: 'static>(Vec<T>);

impl<T: 'static> Buffer<T> {
    /// Wraps `v`; its allocation is recycled when the buffer drops.
    #[inline]
    pub(crate) fn new(v: Vec<T>) -> Buffer<T> {
        Buffer(v)
    }

    /// The vector, which is then freed (or kept) by its new owner.
    pub(crate) fn into_inner(mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
}

impl<T: 'static> Deref for Buffer<T> {
    type Target = Vec<T>;

    #[inline]
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: 'static> DerefMut for Buffer<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: 'static> Drop for Buffer<T> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
}

/// Sets the most memory, in bytes, that tapeflow keeps for reuse after
/// freeing large tensors and scratch buffers; [`DEFAULT_BUFFER_CACHE_LIMIT`] (64 MiB)
/// unless set.
///
/// A training step allocates the same large buffers (activations, gradients,
/// convolution columns) every step. Buffers of 64 KiB and more of `f32` or
/// `f64` are kept when freed, up to this many bytes, and the next request
/// of a fitting size reuses one, already mapped into memory, instead of
/// asking the system again (on Linux, glibc may return freed blocks to the
/// system, and every page of the next step's buffers then faults in again).
/// When the limit is reached, the least recently freed buffers are released
/// first. The setting is process-wide, like [`set_num_threads`]; it changes
/// speed and memory held only, never results: a reused buffer is always
/// filled or written before it is read. Lowering the limit frees kept
/// buffers past it at once; `0` turns reuse off (the same as PyTorch's
/// `PYTORCH_NO_CUDA_MEMORY_CACHING` on its GPU side).
///
/// [`set_num_threads`]: crate::set_num_threads
///
/// # Examples
///
/// ```
/// tapeflow::set_buffer_cache_limit(16 << 20); // keep at most 16 MiB
/// assert_eq!(tapeflow::buffer_cache_limit(), 16 << 20);
/// tapeflow::set_buffer_cache_limit(tapeflow::tensor::DEFAULT_BUFFER_CACHE_LIMIT);
/// ```
pub fn set_buffer_cache_limit(bytes: usize) {
    CACHE.set_limit(bytes);
}

/// The most memory, in bytes, kept for reuse; see [`set_buffer_cache_limit`].
///
/// # Examples
///
/// ```
/// assert_eq!(
///     tapeflow::buffer_cache_limit(),
///     tapeflow::tensor::DEFAULT_BUFFER_CACHE_LIMIT
/// );
/// ```
pub fn buffer_cache_limit() -> usize {
    CACHE.limit()
}

/// Releases every buffer kept for reuse (see [`set_buffer_cache_limit`])
/// back to the allocator, for a long-lived process that no longer trains
/// and wants the memory back; reuse goes on with the buffers freed later.
///
/// # Examples
///
/// ```
/// use tapeflow::Tensor;
///
/// drop(Tensor::<f32>::zeros(&[256, 256])?); // 256 KiB: kept when freed
/// tapeflow::clear_buffer_cache();           // and released here
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn clear_buffer_cache() {
    CACHE.clear();
}

/// Requests of 64 KiB and more made on the calling thread so far: served by
/// a kept buffer (`.0`) and by the allocator (`.1`). For tests that check
/// reuse by counting; not a stable interface.
#[doc(hidden)]
pub fn buffer_cache_counts() -> (u64, u64) {
    COUNTS.with(Cell::get)
}

/// Bytes and buffers kept now, process-wide. For tests and measurements;
/// not a stable interface.
#[doc(hidden)]
pub fn buffer_cache_held() -> (usize, usize) {
    CACHE.held()
}

#[cfg(test)]
mod tests;
