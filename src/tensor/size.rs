//! Element counts and fallible allocation: the checked size arithmetic
//! behind every constructor, kernel and layer build that takes a shape from
//! the user.

use crate::error::{Error, Result};

/// The number of elements a shape describes (1 for the scalar shape `[]`).
///
/// Only for shapes that already describe storage (an existing tensor's
/// shape); a shape from user input goes through [`checked_numel`].
#[inline]
pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Whether two shapes are equal, compared in line: a slice `==` calls
/// `memcmp`, which costs more than the comparison itself for the rank-1
/// and rank-2 shapes of a small model's ops (5 % of `(a*b).sum()` and its
/// backward on 8 elements).
#[inline]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The number of elements of `shape` holding `T`s, computed with checked
/// arithmetic: the one size computation behind every constructor, shape op
/// and layer build that takes a shape from the user.
///
/// As NumPy (`PyArray_NewFromDescr`), the product of the *non-zero*
/// dimensions must fit too, even when a zero dimension makes the shape
/// empty: `[0, 2^40, 2^40]` is refused like `[2^40, 2^40]`. So every partial
/// product of a valid shape (strides, row lengths, outer counts) fits in
/// `usize`, and kernels may compute them with plain arithmetic.
///
/// # Errors
///
/// [`Error::SizeOverflow`] naming `op` and the shape when the element count
/// (of the non-zero dimensions) or its size in bytes does not fit in `isize`
/// (no machine can hold it).
pub(crate) fn checked_numel<T>(op: &'static str, shape: &[usize]) -> Result<usize> {
    let overflow = || Error::SizeOverflow {
        op,
        shape: shape.to_vec(),
    };
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    let bytes = nonzero
        .checked_mul(std::mem::size_of::<T>().max(1))
        .ok_or_else(overflow)?;
    if bytes > isize::MAX as usize {
        return Err(overflow());
    }
    // An empty dimension makes the whole shape empty.
    Ok(if shape.contains(&0) { 0 } else { nonzero })
}

/// [`checked_numel`] followed by a fallible allocation of that many
/// elements, for kernels that build their output element by element.
///
/// # Errors
///
/// [`Error::SizeOverflow`] or [`Error::OutOfMemory`], naming `op` and `shape`.
pub(crate) fn try_alloc<T: 'static>(op: &'static str, shape: &[usize]) -> Result<Vec<T>> {
    let n = checked_numel::<T>(op, shape)?;
    try_with_capacity(op, shape, n)
}

/// A vector of `shape`'s element count filled with `value`, allocated
/// fallibly: an impossible size or an allocation the machine refuses is an
/// error naming `op` and the shape, never an abort.
///
/// # Errors
///
/// [`Error::SizeOverflow`] (see [`checked_numel`]) or
/// [`Error::OutOfMemory`] when the allocator refuses the request.
///
/// A request of 64 KiB and more may be served by a buffer from the cache of
/// large buffers ([`recycle`](super::recycle)): its old contents are
/// overwritten with `value` here, so the result is the same.
pub(crate) fn try_filled<T: Clone + 'static>(
    op: &'static str,
    shape: &[usize],
    value: T,
) -> Result<Vec<T>> {
    let n = checked_numel::<T>(op, shape)?;
    let mut data = try_with_capacity(op, shape, n)?;
    data.resize(n, value);
    Ok(data)
}

/// Reserves room for `n` elements fallibly, for kernels that build their
/// output element by element; the error names `op` and `shape`.
///
/// The vector is empty (length 0) with a capacity of at least `n`: a request
/// of 64 KiB and more of `f32` or `f64` takes a buffer from the cache of
/// large buffers when one fits ([`recycle`](super::recycle)), already
/// mapped into memory, and allocates only on a miss.
///
/// # Errors
///
/// [`Error::OutOfMemory`] when the allocator refuses the request.
pub(crate) fn try_with_capacity<T: 'static>(
    op: &'static str,
    shape: &[usize],
    n: usize,
) -> Result<Vec<T>> {
    if let Some(data) = super::recycle::take::<T>(n) {
        return Ok(data);
    }
    let mut data = Vec::new();
    data.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        op,
        shape: shape.to_vec(),
        bytes: n.saturating_mul(std::mem::size_of::<T>()),
    })?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_numel_follows_numpy_for_zero_dims() {
        // The non-zero dimensions must be countable even when a zero
        // dimension makes the shape empty (NumPy's `PyArray_NewFromDescr`).
        assert_eq!(checked_numel::<f32>("t", &[0, 1 << 40, 5]).unwrap(), 0);
        assert_eq!(checked_numel::<f32>("t", &[3, 4]).unwrap(), 12);
        assert_eq!(checked_numel::<f32>("t", &[]).unwrap(), 1);
        let e = checked_numel::<f32>("t", &[0, usize::MAX]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("t: shape [0, {}] is too large to address", usize::MAX)
        );
        // Bytes count too: 2^62 f32s are 2^64 bytes, 2^61 f32s reach isize::MAX + 1.
        assert!(checked_numel::<f32>("t", &[1 << 62]).is_err());
        assert!(checked_numel::<f32>("t", &[1 << 61]).is_err());
        assert!(checked_numel::<f32>("t", &[1 << 60]).is_ok());
        assert!(checked_numel::<u8>("t", &[1 << 62]).is_ok());
    }

    #[test]
    fn a_reused_dirty_buffer_is_filled_with_the_requested_value() {
        // A size no other test of the crate asks for (the cache is shared).
        let n = 70_001;
        let dirty = vec![f32::NAN; n];
        let ptr = dirty.as_ptr();
        crate::tensor::recycle::give_back(dirty);
        let (hits, _) = crate::tensor::recycle::buffer_cache_counts();
        let v = try_filled("t", &[n], 2.5f32).unwrap();
        assert_eq!(crate::tensor::recycle::buffer_cache_counts().0, hits + 1);
        assert_eq!(v.as_ptr(), ptr, "the kept buffer was reused");
        assert_eq!(v.len(), n);
        assert!(v.iter().all(|&x| x == 2.5));
        crate::tensor::recycle::give_back(v);
        let w: Vec<f32> = try_with_capacity("t", &[n], n).unwrap();
        assert_eq!((w.as_ptr(), w.len()), (ptr, 0));
        assert!(w.capacity() >= n);
    }
}
