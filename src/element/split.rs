//! Elementwise passes split over the pool in fixed pieces: the piece
//! bounds do not depend on the thread count, so results do not either.

use super::num_threads;

/// Elements per piece when an elementwise pass is split over threads
/// ([`par_split`]). Piece boundaries are multiples of this from the start of
/// the slice whatever the thread count, so a pass that treats its pieces
/// alike gives the same bits with any number of threads. 8,192 `f32` are
/// 32 KiB per operand: a few microseconds of work, well above the cost of
/// one `rayon::join` inside the pool (about a microsecond).
pub(crate) const SPLIT_CHUNK: usize = 1 << 13;

/// Inside the pool ([`in_pool`]), a pass over fewer elements than this runs
/// on one thread: below, the join costs about as much as the half it saves.
const SPLIT_MIN_IN_POOL: usize = 2 * SPLIT_CHUNK;

/// Called from outside the pool, a pass over fewer elements than this runs
/// on the calling thread: handing work to the pool and back costs two
/// wake-ups (~20 µs each, see [`OUTSIDE_POOL_MIN_WORK`](super::OUTSIDE_POOL_MIN_WORK)), which 2^21
/// elements (about 1 ms of work at one element per nanosecond) repay
/// several times over. An estimate, like the product's threshold.
const SPLIT_MIN_OUTSIDE_POOL: usize = 1 << 21;

/// Work over a contiguous range of elements that can be cut in two at an
/// element index (a slice, or several slices of the same length).
pub(crate) trait Split: Sized + Send {
    /// The number of elements.
    fn len(&self) -> usize;
    /// The first `at` elements and the rest.
    fn split_at(self, at: usize) -> (Self, Self);
}

/// How many threads a pass over `len` elements should use: 1 below the
/// thresholds above or with one thread set, else the thread count (at most
/// one thread per piece of [`SPLIT_CHUNK`] elements).
pub(crate) fn split_threads(len: usize) -> usize {
    // The length first: a small pass costs no further test.
    if len < SPLIT_MIN_IN_POOL {
        return 1;
    }
    let min = if rayon::current_thread_index().is_some() {
        SPLIT_MIN_IN_POOL
    } else {
        SPLIT_MIN_OUTSIDE_POOL
    };
    let threads = num_threads();
    if threads <= 1 || len < min {
        1
    } else {
        threads.min(len.div_ceil(SPLIT_CHUNK))
    }
}

/// Runs `run` over `work`, split over [`split_threads`] threads at
/// multiples of [`SPLIT_CHUNK`] elements, and folds the pieces' results
/// with `combine` (left piece first). With one thread, `run(work)`.
///
/// The split points depend on the thread count, the piece boundaries they
/// fall on do not; a pass whose result per element does not depend on
/// where its piece starts (every elementwise pass) is bit-identical for any
/// thread count. A reduction must not fold floats across pieces with
/// `combine` (the grouping would change with the count).
pub(crate) fn par_split<W: Split, R: Send>(
    work: W,
    run: &(impl Fn(W) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    let threads = split_threads(work.len());
    split_over(work, threads, run, combine)
}

fn split_over<W: Split, R: Send>(
    work: W,
    threads: usize,
    run: &(impl Fn(W) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    let chunks = work.len().div_ceil(SPLIT_CHUNK);
    let threads = threads.min(chunks);
    if threads <= 1 {
        return run(work);
    }
    // `threads <= chunks`, so both sides get at least one whole piece; the
    // piece starts at a multiple of SPLIT_CHUNK, so the cut does too.
    let left = threads / 2;
    let (a, b) = work.split_at(chunks * left / threads * SPLIT_CHUNK);
    let (ra, rb) = rayon::join(
        || split_over(a, left, run, combine),
        || split_over(b, threads - left, run, combine),
    );
    combine(ra, rb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range of element indices, cut like a slice.
    struct Span(std::ops::Range<usize>);

    impl Split for Span {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn split_at(self, at: usize) -> (Self, Self) {
            let mid = self.0.start + at;
            (Span(self.0.start..mid), Span(mid..self.0.end))
        }
    }

    #[test]
    fn split_pieces_cover_the_range_in_order_and_cut_at_whole_chunks() {
        let c = SPLIT_CHUNK;
        for len in [1, c - 1, c, c + 1, 2 * c, 5 * c + 7, 64 * c + 3] {
            for threads in 1..=5 {
                let pieces = split_over(
                    Span(0..len),
                    threads,
                    &|s: Span| vec![s.0],
                    &|mut a: Vec<_>, b: Vec<_>| {
                        a.extend(b);
                        a
                    },
                );
                let want = threads.min(len.div_ceil(c));
                assert_eq!(pieces.len(), want, "len {len}, {threads} threads");
                assert_eq!(pieces[0].start, 0);
                assert_eq!(pieces[want - 1].end, len);
                for w in pieces.windows(2) {
                    assert_eq!(w[0].end, w[1].start, "len {len}, {threads} threads");
                    assert_eq!(w[0].end % c, 0, "len {len}, {threads} threads");
                    assert!(!w[0].is_empty());
                }
            }
        }
    }
}
