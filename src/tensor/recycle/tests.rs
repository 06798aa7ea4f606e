use super::*;

/// Elements of `T` making `kib` KiB.
fn elems<T>(kib: usize) -> usize {
    kib * 1024 / std::mem::size_of::<T>()
}

#[test]
fn a_released_buffer_is_taken_again_empty_and_in_place() {
    let cache = Cache::new(1 << 20);
    let n = elems::<f32>(128);
    let v = vec![7.0f32; n];
    let ptr = v.as_ptr();
    cache.give(v);
    assert_eq!(cache.held(), (n * 4, 1));
    let back = cache.take::<f32>(n).expect("kept");
    assert_eq!((back.as_ptr(), back.len()), (ptr, 0));
    assert!(back.capacity() >= n);
    assert_eq!(cache.held(), (0, 0));
    assert!(cache.take::<f32>(n).is_none(), "taken once only");
}

#[test]
fn take_written_hands_a_buffer_out_with_its_elements_and_take_empties_it() {
    let cache = Cache::new(1 << 20);
    let n = elems::<f32>(128);
    cache.give(vec![7.0f32; n]);
    let back = cache.take_written::<f32>(n).expect("kept");
    assert_eq!(back.len(), n);
    assert!(back.iter().all(|&v| v == 7.0));
    cache.give(back);
    assert_eq!(cache.take::<f32>(n).expect("kept").len(), 0);
    assert!(cache.take_written::<f32>(n).is_none(), "taken once only");
    assert!(cache.take_written::<f32>(elems::<f32>(32)).is_none());
}

#[test]
fn small_buffers_and_other_types_are_not_kept() {
    let cache = Cache::new(1 << 20);
    cache.give(vec![1.0f32; elems::<f32>(32)]);
    cache.give(vec![1u32; elems::<u32>(128)]);
    assert_eq!(cache.held(), (0, 0));
    assert!(cache.take::<f32>(elems::<f32>(32)).is_none());
}

#[test]
fn types_and_sizes_do_not_mix() {
    let cache = Cache::new(1 << 20);
    cache.give(vec![1.0f32; elems::<f32>(128)]);
    // Same bytes, other type: not served.
    assert!(cache.take::<f64>(elems::<f64>(128)).is_none());
    // Larger than the kept capacity, or smaller by more than a quarter.
    assert!(cache.take::<f32>(elems::<f32>(128) + 1).is_none());
    assert!(cache.take::<f32>(elems::<f32>(96) - 1).is_none());
    // Within the slack: served, and the best fit is chosen.
    cache.give(vec![1.0f32; elems::<f32>(110)]);
    let v = cache.take::<f32>(elems::<f32>(100)).expect("fits");
    assert_eq!(v.capacity(), elems::<f32>(110));
    assert!(
        cache.take::<f32>(elems::<f32>(100)).is_none(),
        "128 KiB is past the slack"
    );
    let v = cache.take::<f32>(elems::<f32>(110)).expect("fits");
    assert_eq!(v.capacity(), elems::<f32>(128));
    cache.give(vec![2.0f64; elems::<f64>(128)]);
    assert!(cache.take::<f32>(elems::<f32>(128)).is_none());
    assert_eq!(
        cache.take::<f64>(elems::<f64>(128)).map(|v| v.capacity()),
        Some(elems::<f64>(128))
    );
}

#[test]
fn the_byte_limit_is_respected_by_freeing_the_oldest() {
    let cache = Cache::new(320 * 1024);
    let [a, b, c] = [100, 101, 102].map(elems::<f32>);
    cache.give(vec![0.0f32; a]);
    cache.give(vec![0.0f64; elems::<f64>(100)]);
    cache.give(vec![0.0f32; b]);
    assert_eq!(cache.held(), (301 * 1024, 3));
    // A fourth buffer does not fit: the oldest (`a`) is freed.
    cache.give(vec![0.0f32; c]);
    assert_eq!(cache.held(), (303 * 1024, 3));
    let best = cache.take::<f32>(a).map(|v| v.capacity());
    assert_eq!(best, Some(b), "`a` was freed, `b` is the best fit left");
    // A buffer larger than the whole limit is never kept.
    cache.clear();
    assert_eq!(cache.held(), (0, 0));
    cache.give(vec![0.0f32; elems::<f32>(400)]);
    assert_eq!(cache.held(), (0, 0));
    // Lowering the limit frees past it; zero turns reuse off.
    cache.give(vec![0.0f32; a]);
    cache.give(vec![0.0f32; b]);
    cache.set_limit(150 * 1024);
    assert_eq!(cache.held(), (b * 4, 1));
    cache.set_limit(0);
    assert_eq!(cache.held(), (0, 0));
    cache.give(vec![0.0f32; a]);
    assert_eq!(cache.held(), (0, 0));
    assert_eq!(cache.limit(), 0);
}

#[test]
fn the_count_of_buffers_is_bounded() {
    let cache = Cache::new(usize::MAX);
    for i in 0..MAX_BUFFERS + 10 {
        cache.give(Vec::<f64>::with_capacity(elems::<f64>(64) + i));
    }
    assert_eq!(cache.held().1, MAX_BUFFERS);
    // The first ten released were freed: the best fit left is the 11th.
    let n = elems::<f64>(64);
    assert_eq!(cache.take::<f64>(n).map(|v| v.capacity()), Some(n + 10));
}

#[test]
fn a_buffer_guard_returns_its_allocation_and_into_inner_keeps_it() {
    // The crate's cache is shared with other tests running at once, so
    // this uses a size no other test asks for.
    let n = elems::<f64>(777);
    let b = Buffer::new(vec![3.0f64; n]);
    let ptr = b.as_ptr();
    drop(b);
    let (hits, _) = buffer_cache_counts();
    let v = take::<f64>(n).expect("kept on drop");
    assert_eq!(v.as_ptr(), ptr);
    assert_eq!(buffer_cache_counts().0, hits + 1);
    let inner = Buffer::new(v).into_inner();
    assert_eq!(inner.as_ptr(), ptr);
    drop(inner);
    assert!(take::<f64>(n).is_none(), "a plain Vec's drop keeps nothing");
}
