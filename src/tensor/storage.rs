//! What a [`Tensor`](super::Tensor) is made of, laid out so that a small
//! tensor costs one heap allocation: [`Shape`] keeps up to
//! [`INLINE_DIMS`] extents inline, and [`Storage`] keeps the elements and
//! their reference count in one block when a kernel builds a small output
//! from an exact-size iterator. A large buffer (64 KiB and more) is a vector
//! whose allocation goes back to the crate's cache of large buffers when the
//! last tensor sharing it drops ([`recycle`](super::recycle)).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::thread::LocalKey;

use super::recycle::Buffer;

// The per-thread cache of medium blocks.
mod blocks;

/// How many extents a [`Shape`] holds without a heap allocation: every
/// tensor of rank ≤ 4 (vectors, matrices, sequences, NHWC images).
pub(crate) const INLINE_DIMS: usize = 4;

/// A tensor's extents: inline up to rank [`INLINE_DIMS`], boxed beyond.
///
/// Derefs to `&[usize]`, so it reads like the `Vec<usize>` it replaces;
/// cloning an inline shape copies a few words and never allocates.
#[derive(Clone)]
pub(crate) enum Shape {
    /// Rank ≤ [`INLINE_DIMS`]: the first `len` entries of `dims`.
    Inline {
        /// The rank.
        len: u8,
        /// The extents, zero past `len`.
        dims: [usize; INLINE_DIMS],
    },
    /// Rank above [`INLINE_DIMS`].
    Heap(Box<[usize]>),
}

impl Shape {
    /// The shape with these extents.
    #[inline]
    pub(crate) fn new(dims: &[usize]) -> Shape {
        // Rank by rank: a copy of a run-time length calls `memcpy`, which
        // costs more than the few words copied (every op makes a shape).
        let inline = match *dims {
            [] => [0; INLINE_DIMS],
            [a] => [a, 0, 0, 0],
            [a, b] => [a, b, 0, 0],
            [a, b, c] => [a, b, c, 0],
            [a, b, c, d] => [a, b, c, d],
            _ => return Shape::Heap(dims.into()),
        };
        // Cannot truncate: the rank is at most INLINE_DIMS.
        Shape::Inline {
            len: dims.len() as u8,
            dims: inline,
        }
    }

    /// The extents as a mutable slice (to change one extent in place).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [usize] {
        match self {
            Shape::Inline { len, dims } => &mut dims[..usize::from(*len)],
            Shape::Heap(dims) => dims,
        }
    }
}

impl Deref for Shape {
    type Target = [usize];

    #[inline]
    fn deref(&self) -> &[usize] {
        match self {
            Shape::Inline { len, dims } => &dims[..usize::from(*len)],
            Shape::Heap(dims) => dims,
        }
    }
}

impl From<&[usize]> for Shape {
    #[inline]
    fn from(dims: &[usize]) -> Shape {
        Shape::new(dims)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    #[inline]
    fn from(dims: [usize; N]) -> Shape {
        Shape::new(&dims)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Shape {
        if dims.len() <= INLINE_DIMS {
            Shape::new(&dims)
        } else {
            Shape::Heap(dims.into_boxed_slice())
        }
    }
}

impl From<&Vec<usize>> for Shape {
    fn from(dims: &Vec<usize>) -> Shape {
        Shape::new(dims)
    }
}

impl PartialEq for Shape {
    #[inline]
    fn eq(&self, other: &Shape) -> bool {
        super::same_shape(self, other)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Shared element storage.
///
/// `Block` holds the reference count and the elements in one allocation
/// (`Arc<[T]>` built from an exact-size iterator, which `std` fills in
/// place): small tensors only, since its allocation cannot be reused. `Vec`
/// wraps a vector a caller already owns (two allocations, but no copy of
/// its elements, and [`into_vec`](Storage::into_vec) hands it back without a
/// copy); when the last owner drops it, a large vector's allocation goes to
/// the cache of large buffers ([`Buffer`]) instead of back to `malloc`.
#[derive(Clone)]
pub(crate) enum Storage<T: 'static> {
    /// Count and elements in one allocation.
    Block(Arc<[T]>),
    /// A vector built elsewhere, behind its own count; recycled on drop.
    Vec(Arc<Buffer<T>>),
}

impl<T: Copy + 'static> Storage<T> {
    /// Wraps a vector (its allocation is recycled when the last owner drops).
    #[inline]
    pub(crate) fn from_vec(v: Vec<T>) -> Storage<T> {
        Storage::Vec(Arc::new(Buffer::new(v)))
    }

    /// All the elements held (a tensor may view only part of them).
    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Storage::Block(b) => b,
            Storage::Vec(v) => v,
        }
    }

    /// The elements for writing, if no other tensor shares them.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&mut [T]> {
        match self {
            Storage::Block(b) => Arc::get_mut(b),
            Storage::Vec(v) => Arc::get_mut(v).map(|v| v.as_mut_slice()),
        }
    }

    /// Whether both are the same storage.
    pub(crate) fn ptr_eq(&self, other: &Storage<T>) -> bool {
        match (self, other) {
            (Storage::Block(a), Storage::Block(b)) => Arc::ptr_eq(a, b),
            (Storage::Vec(a), Storage::Vec(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// All the elements as a vector: moved out when this is the only owner
    /// of a `Vec`, copied otherwise.
    pub(crate) fn into_vec(self) -> Vec<T> {
        // `Storage` has a destructor, so its fields cannot be moved out:
        // take a second handle, drop this one, then unwrap.
        let shared = match &self {
            Storage::Block(b) => return b.to_vec(),
            Storage::Vec(v) => Arc::clone(v),
        };
        drop(self);
        Arc::try_unwrap(shared)
            .map(Buffer::into_inner)
            .unwrap_or_else(|shared| shared.to_vec())
    }
}

impl<T: 'static> Drop for Storage<T> {
    /// A medium block (1 KiB to 64 KiB) that nothing else refers to goes
    /// to its thread's cache of blocks ([`blocks`]) for
    /// [`zero_block`] to hand out again; anything else is freed as usual
    /// (a vector's allocation through [`Buffer`]'s own destructor).
    #[inline]
    fn drop(&mut self) {
        if let Storage::Block(b) = self {
            blocks::keep(b);
        }
    }
}

/// The most elements [`zero_block`] copies from its thread's zeros (64 KiB
/// of `f32`, 128 KiB of `f64`): larger zeroed outputs come from the cache of
/// large buffers ([`recycle`](super::recycle)) instead.
const ZEROS_MAX: usize = 16_384;

thread_local! {
    /// Zeros to copy new blocks from, grown on demand up to [`ZEROS_MAX`].
    static ZEROS_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static ZEROS_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// A block of `n` zeros (`+0.0`) of an `f32` or `f64` element type: a
/// block of that length from the thread's cache of medium blocks
/// ([`blocks`]) written with zeros, else made by one `memcpy` from a run
/// of zeros the thread keeps: `std` writes a
/// block from an iterator element by element, which for the `[64, 16]`
/// outputs of a small model's products cost a few times as much. `None`
/// for another element type, above [`ZEROS_MAX`], or when the thread's
/// zeros are not available (during its teardown): the caller then fills
/// the block itself.
pub(crate) fn zero_block<T: 'static>(n: usize) -> Option<Arc<[T]>> {
    fn copy<E: Copy + Default + 'static, T: 'static>(
        zeros: &'static LocalKey<RefCell<Vec<E>>>,
        n: usize,
    ) -> Option<Arc<[T]>> {
        let block: Arc<[E]> = zeros
            .try_with(|z| {
                let mut z = z.try_borrow_mut().ok()?;
                if z.len() < n {
                    z.resize(n, E::default());
                }
                // A kept block of this length, written over with the zeros
                // (a copy: `fill` calls `memset`, which for a few KiB runs
                // `rep stosb`, counted byte by byte under callgrind).
                if let Some(mut block) = blocks::take::<E>(n)
                    && let Some(dst) = Arc::get_mut(&mut block)
                {
                    dst.copy_from_slice(&z[..n]);
                    return Some(block);
                }
                Some(Arc::from(&z[..n]))
            })
            .ok()
            .flatten()?;
        // `E` is `T` (the caller checked): the downcast only renames it.
        let mut block = Some(block);
        (&mut block as &mut dyn Any)
            .downcast_mut::<Option<Arc<[T]>>>()
            .and_then(Option::take)
    }
    if n > ZEROS_MAX {
        return None;
    }
    let t = TypeId::of::<T>();
    if t == TypeId::of::<f32>() {
        copy(&ZEROS_F32, n)
    } else if t == TypeId::of::<f64>() {
        copy(&ZEROS_F64, n)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_up_to_the_inline_rank_stay_inline_and_beyond_go_to_the_heap() {
        for dims in [&[][..], &[3], &[2, 3], &[1, 2, 3, 4]] {
            let s = Shape::from(dims);
            assert!(matches!(s, Shape::Inline { .. }), "{dims:?}");
            assert_eq!(&*s, dims);
        }
        let big = Shape::from(vec![1, 2, 3, 4, 5]);
        assert!(matches!(big, Shape::Heap(_)));
        assert_eq!(&*big, &[1, 2, 3, 4, 5]);
        assert_eq!(big.clone(), big);
        assert_ne!(Shape::from(&[2, 3][..]), Shape::from(&[3, 2][..]));
        let mut s = Shape::from([4, 5]);
        s.as_mut_slice()[0] = 1;
        assert_eq!(&*s, &[1, 5]);
        assert_eq!(format!("{s:?}"), "[1, 5]");
    }

    #[test]
    fn storage_writes_only_when_unique_and_hands_a_vec_back_without_copying() {
        let mut block: Storage<f32> = Storage::Block([1.0, 2.0].into_iter().collect());
        let other = block.clone();
        assert!(block.ptr_eq(&other));
        assert!(block.get_mut().is_none());
        drop(other);
        block.get_mut().expect("unique")[0] = 5.0;
        assert_eq!(block.as_slice(), &[5.0, 2.0]);
        assert_eq!(block.into_vec(), vec![5.0, 2.0]);

        let v = vec![3.0f32; 4];
        let ptr = v.as_ptr();
        let owned = Storage::from_vec(v);
        assert!(!owned.ptr_eq(&Storage::from_vec(Vec::new())));
        let back = owned.into_vec();
        assert_eq!(back.as_ptr(), ptr);
    }

    #[test]
    fn zero_blocks_hold_positive_zeros_of_the_size_asked() {
        for n in [0, 1, 65, 1024, ZEROS_MAX] {
            let b = zero_block::<f32>(n).expect("f32");
            assert_eq!(b.len(), n);
            assert!(b.iter().all(|v| v.to_bits() == 0));
            let b = zero_block::<f64>(n).expect("f64");
            assert_eq!(b.len(), n);
            assert!(b.iter().all(|v| v.to_bits() == 0));
        }
        // Smaller after larger: still exactly `n`, still zeros.
        assert_eq!(zero_block::<f32>(3).expect("f32").len(), 3);
        assert!(zero_block::<f32>(ZEROS_MAX + 1).is_none());
        assert!(zero_block::<u8>(4).is_none());
    }
}
