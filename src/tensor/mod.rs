//! [`Tensor`]: an n-dimensional, row-major array of [`Float`]s.
//!
//! This module owns storage, shapes and the numeric kernels (elementwise with
//! NumPy broadcasting, reductions, shape operations, matrix products, random
//! constructors, printing). It knows nothing of gradients: differentiation
//! lives in [`tape`](crate::tape) and [`ops`](crate::ops), which call these
//! kernels.
//!
//! Storage is shared by reference count: cloning a tensor, putting it on a
//! tape or taking a batch of rows with [`Tensor::slice_rows`] copies no
//! element. Writing through [`Tensor::as_mut_slice`] copies only when the
//! storage is shared (copy on write).

pub(crate) mod attention;
mod broadcast;
pub(crate) mod conv;
pub(crate) mod conv_direct;
pub(crate) mod conv_gemm;
mod display;
mod elementwise;
pub(crate) mod exp_kernel;
mod matmul;
mod par_map;
mod permute;
pub(crate) mod pool;
mod random;
pub(crate) mod recycle;
mod reduce;
mod shape_ops;
pub(crate) mod simd;
mod size;
mod small_gemm;
mod softmax;
mod storage;

use crate::element::Float;
use crate::error::{Error, Result};

pub use conv::Padding;
pub(crate) use elementwise::sigmoid_scalar;
pub(crate) use permute::inverse_permutation;
pub use recycle::DEFAULT_BUFFER_CACHE_LIMIT;
#[doc(hidden)]
pub use recycle::{buffer_cache_counts, buffer_cache_held};
pub use recycle::{buffer_cache_limit, clear_buffer_cache, set_buffer_cache_limit};
pub(crate) use reduce::argmax_slice;
pub(crate) use size::{checked_numel, numel, same_shape, try_alloc, try_filled, try_with_capacity};
pub(crate) use storage::Shape;
use storage::Storage;

/// The largest output [`Tensor::from_iter_exact`] writes on the stack
/// before copying it into its block (256 bytes of `f32`): the 8-element ops
/// of a small model and its `[64, 1]` columns.
const STACK_ELEMENTS: usize = 64;

/// A block of the first `n ≤ N` elements of `data`: `std` writes a block
/// from an iterator one element at a time, counting each write (for the
/// unwinding of a panicking iterator); a buffer on the stack is written by
/// the loop the compiler vectorizes, then copied with one `memcpy`. `N` is
/// the buffer's length (all of it is zeroed first, so a small op uses a
/// small one).
#[inline]
fn via_stack<T: Float, const N: usize>(
    data: impl IntoIterator<Item = T>,
    n: usize,
) -> std::sync::Arc<[T]> {
    let mut buf = [T::zero(); N];
    let mut written = 0;
    for (d, v) in buf.iter_mut().zip(data) {
        *d = v;
        written += 1;
    }
    debug_assert_eq!(written, n, "invariant: data matches shape");
    std::sync::Arc::from(&buf[..n])
}

/// An n-dimensional array, row-major and contiguous, generic over its
/// element type (`f32` unless you say otherwise).
///
/// A tensor of rank 0 (`shape == []`) is a scalar holding one element.
///
/// # Examples
///
/// ```
/// use tapeflow::Tensor;
///
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
/// let b = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3])?;
/// let y = x.add(&b)?;                       // broadcasts over the rows
/// assert_eq!(y.to_vec(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
/// assert_eq!(y.sum_axis(0, false)?.to_vec(), vec![25.0, 47.0, 69.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor<T: Float = f32> {
    /// Shared storage; this tensor's elements are `data[offset..offset + len]`.
    data: Storage<T>,
    offset: usize,
    shape: Shape,
}

impl<T: Float> Tensor<T> {
    /// Wraps `data` (row-major) as a tensor of the given shape.
    ///
    /// # Errors
    ///
    /// [`Error::ElementCount`] if `data.len()` is not the product of `shape`;
    /// [`Error::SizeOverflow`] if that product does not fit in memory at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.get(&[1, 0]), Some(3.0));
    /// assert!(Tensor::from_vec(vec![1.0f32; 5], &[2, 3]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = checked_numel::<T>("from_vec", shape)?;
        if data.len() != expected {
            return Err(Error::ElementCount {
                op: "from_vec",
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// Builds a tensor from data whose length is known to match the shape.
    pub(crate) fn from_parts(data: Vec<T>, shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        debug_assert_eq!(data.len(), numel(&shape), "invariant: data matches shape");
        Tensor {
            data: Storage::from_vec(data),
            offset: 0,
            shape,
        }
    }

    /// Builds a tensor from an iterator of exactly the shape's element
    /// count, in one allocation holding the elements and their count.
    ///
    /// Give it an exact-size iterator over slices (`iter`, `zip`, `map`,
    /// `copied`, `repeat_n`): `std` then writes the elements in place. Any
    /// other iterator still works, but goes through a vector first.
    ///
    /// An output of 64 KiB and more is written into a vector instead, taken
    /// from the cache of large buffers when one fits ([`recycle`]), so that
    /// its allocation can be reused after the tensor drops. One of at most
    /// [`STACK_ELEMENTS`] is written on the stack first and copied into its
    /// block.
    pub(crate) fn from_iter_exact(
        data: impl IntoIterator<Item = T>,
        shape: impl Into<Shape>,
    ) -> Self {
        let shape = shape.into();
        let n = numel(&shape);
        let data = if n <= STACK_ELEMENTS / 4 {
            Storage::Block(via_stack::<T, { STACK_ELEMENTS / 4 }>(data, n))
        } else if n <= STACK_ELEMENTS {
            Storage::Block(via_stack::<T, STACK_ELEMENTS>(data, n))
        } else if recycle::worth_keeping::<T>(n) {
            let mut v = recycle::take::<T>(n).unwrap_or_else(|| Vec::with_capacity(n));
            v.extend(data);
            Storage::from_vec(v)
        } else {
            Storage::Block(data.into_iter().collect())
        };
        debug_assert_eq!(data.as_slice().len(), n, "invariant: data matches shape");
        Tensor {
            data,
            offset: 0,
            shape,
        }
    }

    /// A tensor of the given shape filled with `value`.
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`] if the shape's element count does not fit in
    /// memory at all; [`Error::OutOfMemory`] if the allocation is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::full(&[2, 2], 7.0f32)?;
    /// assert_eq!(t.to_vec(), vec![7.0; 4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn full(shape: &[usize], value: T) -> Result<Self> {
        Ok(Self::from_parts(
            try_filled("full", shape, value)?,
            shape.to_vec(),
        ))
    }

    /// A tensor of a shape that already describes existing storage (the
    /// shape of another tensor), filled with `value`: the infallible
    /// constructor for kernels, whose output is never larger than memory
    /// already held.
    pub(crate) fn filled(shape: &[usize], value: T) -> Self {
        let n = numel(shape);
        if recycle::worth_keeping::<T>(n) {
            // A kept buffer when one fits (see `from_iter_exact`).
            Self::from_parts(recycle::filled(n, value), shape)
        } else if n > STACK_ELEMENTS
            && value == T::zero()
            && value.is_sign_positive()
            && let Some(block) = storage::zero_block::<T>(n)
        {
            // Zeros (`+0.0` only: `-0.0 == 0.0` too) by one `memcpy`.
            Tensor {
                data: Storage::Block(block),
                offset: 0,
                shape: Shape::new(shape),
            }
        } else {
            Self::from_iter_exact(std::iter::repeat_n(value, n), shape)
        }
    }

    /// A tensor of zeros.
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`] if the shape's element count does not fit in
    /// memory at all; [`Error::OutOfMemory`] if the allocation is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::<f32>::zeros(&[3])?;
    /// assert_eq!(t.to_vec(), vec![0.0; 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn zeros(shape: &[usize]) -> Result<Self> {
        Ok(Self::from_parts(
            try_filled("zeros", shape, T::zero())?,
            shape.to_vec(),
        ))
    }

    /// A tensor of ones.
    ///
    /// # Errors
    ///
    /// [`Error::SizeOverflow`] if the shape's element count does not fit in
    /// memory at all; [`Error::OutOfMemory`] if the allocation is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::<f64>::ones(&[2, 1])?;
    /// assert_eq!(t.sum(), 2.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn ones(shape: &[usize]) -> Result<Self> {
        Ok(Self::from_parts(
            try_filled("ones", shape, T::one())?,
            shape.to_vec(),
        ))
    }

    /// A rank-0 tensor holding one value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let s = Tensor::scalar(2.5f32);
    /// assert_eq!(s.shape(), &[] as &[usize]);
    /// assert_eq!(s.item()?, 2.5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn scalar(value: T) -> Self {
        Self::from_iter_exact([value], Shape::new(&[]))
    }

    /// The extent of each dimension, outermost first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 3])?.shape(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions (0 for a scalar).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 3, 4])?.ndim(), 3);
    /// assert_eq!(Tensor::scalar(1.0f32).ndim(), 0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 3])?.len(), 6);
    /// assert_eq!(Tensor::<f32>::zeros(&[2, 0])?.len(), 0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether the tensor has no elements (some dimension is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert!(Tensor::<f32>::zeros(&[0, 4])?.is_empty());
    /// assert!(!Tensor::scalar(0.0f32).is_empty());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements in row-major order, without copying.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// assert_eq!(t.as_slice(), &[1.0, 2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.data.as_slice()[self.offset..self.offset + self.len()]
    }

    /// The elements for writing, in row-major order.
    ///
    /// Copies the elements first if the storage is shared with another
    /// tensor (copy on write), so no other tensor ever sees the change.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::<f32>::zeros(&[2])?;
    /// let mut b = a.clone();                // shares a's storage
    /// b.as_mut_slice()[0] = 5.0;            // b copies, a is untouched
    /// assert_eq!(a.to_vec(), vec![0.0, 0.0]);
    /// assert_eq!(b.to_vec(), vec![5.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len();
        let whole = self.offset == 0 && self.data.as_slice().len() == len;
        if !whole || self.data.get_mut().is_none() {
            // A bulk copy (`memcpy`), not an element-by-element fill; a
            // large one into a reusable buffer (see `from_iter_exact`).
            self.data = if recycle::worth_keeping::<T>(len) {
                let mut v = recycle::take::<T>(len).unwrap_or_else(|| Vec::with_capacity(len));
                v.extend_from_slice(self.as_slice());
                Storage::from_vec(v)
            } else {
                Storage::Block(std::sync::Arc::from(self.as_slice()))
            };
            self.offset = 0;
        }
        self.data
            .get_mut()
            .expect("invariant: storage made unique above")
    }

    /// The elements for writing if this tensor is their only owner and sees
    /// all of them; `None` (and no copy) otherwise. For kernels that reuse a
    /// buffer they were handed by value.
    pub(crate) fn unique_mut(&mut self) -> Option<&mut [T]> {
        let len = self.len();
        if self.offset == 0 && self.data.as_slice().len() == len {
            self.data.get_mut()
        } else {
            None
        }
    }

    /// A copy of the elements in row-major order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2])?.to_vec(), vec![1.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.as_slice().to_vec()
    }

    /// Takes the elements out, copying only if the storage is shared.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let v = Tensor::full(&[3], 2.0f32)?.into_vec();
    /// assert_eq!(v, vec![2.0; 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn into_vec(self) -> Vec<T> {
        let len = self.len();
        if self.offset == 0 && self.data.as_slice().len() == len {
            self.data.into_vec()
        } else {
            self.as_slice().to_vec()
        }
    }

    /// The value of a one-element tensor (any shape whose product is 1).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the tensor does not hold exactly one element.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::full(&[1, 1], 4.0f32)?.item()?, 4.0);
    /// assert!(Tensor::<f32>::zeros(&[2])?.item().is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn item(&self) -> Result<T> {
        match self.as_slice() {
            [x] => Ok(*x),
            _ => Err(Error::InvalidArgument {
                op: "item",
                message: format!(
                    "expected a tensor with one element, got shape {:?}",
                    self.shape
                ),
            }),
        }
    }

    /// The element at a multi-index, or `None` if the index has the wrong
    /// length or is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.get(&[1, 2]), Some(6.0));
    /// assert_eq!(t.get(&[2, 0]), None);
    /// assert_eq!(t.get(&[0]), None);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn get(&self, index: &[usize]) -> Option<T> {
        if index.len() != self.shape.len() {
            return None;
        }
        let mut flat = 0;
        for (&i, &d) in index.iter().zip(self.shape.iter()) {
            if i >= d {
                return None;
            }
            flat = flat * d + i;
        }
        self.as_slice().get(flat).copied()
    }

    /// Whether two tensors share the same storage (no copy was made between them).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::<f32>::zeros(&[4, 2])?;
    /// assert!(a.shares_storage(&a.clone()));
    /// assert!(a.shares_storage(&a.slice_rows(1..3)?));
    /// assert!(!a.shares_storage(&Tensor::zeros(&[4, 2])?));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn shares_storage(&self, other: &Tensor<T>) -> bool {
        self.data.ptr_eq(&other.data)
    }

    /// Converts every element to another float type.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::from_vec(vec![0.5f32, 1.5], &[2])?;
    /// let b: Tensor<f64> = a.cast();
    /// assert_eq!(b.to_vec(), vec![0.5, 1.5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        let data = self.as_slice().iter().map(|&x| U::from_f64(x.to_f64()));
        Tensor::from_iter_exact(data, self.shape.clone())
    }

    /// Whether every element is finite (neither NaN nor infinite).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert!(Tensor::<f32>::ones(&[3])?.all_finite());
    /// assert!(!Tensor::from_vec(vec![1.0f32, f32::NAN], &[2])?.all_finite());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn all_finite(&self) -> bool {
        self.as_slice().iter().all(|x| x.is_finite())
    }
}

impl<T: Float> PartialEq for Tensor<T> {
    /// Equal shapes and equal elements (so NaN != NaN, as for floats).
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.as_slice() == other.as_slice()
    }
}

impl<T: Float> Default for Tensor<T> {
    /// The scalar zero.
    fn default() -> Self {
        Tensor::scalar(T::zero())
    }
}

#[cfg(test)]
mod tests;
