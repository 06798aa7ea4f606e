//! [`in_pool`]: running a training step on the thread pool, with the
//! pool's other threads standing by for the work it splits off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::num_threads;

/// Runs `f` on a thread of tapeflow's thread pool, so that the matrix
/// products inside it share their work with the pool's other threads
/// cheaply; returns what `f` returns.
///
/// A product called from an ordinary thread hands its parallel parts to
/// the pool and sleeps until they are done: two thread switches per split,
/// tens of microseconds each, which costs more than the second core saves
/// on the products of a small model. Called from inside the pool, the
/// product runs its first part itself while an idle pool thread takes the
/// second, and nobody sleeps in between. The same holds for the
/// optimizers' update and the elementwise ops, which split over the pool
/// only inside it (from 16,384 elements; outside, from 2^21). So wrap a
/// whole training step (forward, backward and update) in `in_pool`, not a
/// single product. (A product large enough to split from outside, 2^24
/// multiply-adds and up, enters the pool by itself, once per product.)
///
/// While `f` runs, the pool's other threads (up to [`num_threads`]) stand by
/// for the work it splits off instead of going to sleep between splits,
/// for up to a millisecond without work: a sleeping thread costs the
/// splitting thread a wake-up, tens of microseconds, at every split after
/// a gap. They use their cores for that time.
///
/// Entering the pool is itself one hand-over (the caller sleeps until `f`
/// is done), so it pays only when the step holds products large enough to
/// split (tens of thousands of multiply-adds per block); for a tiny model
/// (the 1-16-1 MLP of `docs/performance.md`) it makes each step slower.
/// With one thread ([`set_num_threads`](crate::set_num_threads)`(1)`), or when already on a pool
/// thread, `f` simply runs on the calling thread. Results never depend on
/// it: only where the work runs changes.
///
/// # Panics
///
/// Only if `f` panics (the panic is passed on to the caller).
///
/// # Examples
///
/// ```
/// use tapeflow::Tensor;
///
/// let a = Tensor::<f32>::ones(&[64, 64])?;
/// let direct = a.matmul(&a)?;
/// let pooled = tapeflow::in_pool(|| a.matmul(&a))?;
/// assert_eq!(direct.to_vec(), pooled.to_vec());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let threads = num_threads();
    if threads > 1 && rayon::current_thread_index().is_none() {
        let done = AtomicBool::new(false);
        let done = &done;
        rayon::scope(|scope| {
            let owner = rayon::current_thread_index();
            for _ in 1..threads {
                scope.spawn(move |_| stand_by(done, owner));
            }
            // Set on return and on unwinding alike: the helpers stop either way.
            let _done = SetOnDrop(done);
            f()
        })
    } else {
        f()
    }
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// How long a thread standing by for [`in_pool`] waits without finding
/// work before it leaves the rest to the pool's own idle loop. The gaps
/// between the splits of a training step (small ops, the tape) are tens of
/// microseconds; a bound makes every helper return even if it was started
/// on top of a thread that waits for something (possible with three
/// threads or more), and keeps a long sequential stretch from burning the
/// core.
const STAND_BY_IDLE: Duration = Duration::from_millis(1);

/// What [`in_pool`]'s other pool threads run while `f` runs: take the work
/// `f` splits off (a product's blocks, an update's pieces) as soon as it
/// appears, until `done` or [`STAND_BY_IDLE`] without work. Left to
/// itself, an idle pool thread goes to sleep after a few dozen rounds of
/// `sched_yield`, and the next split must wake it (a futex wake-up, tens of
/// microseconds, on the splitting thread's path). Every 64 idle rounds it
/// yields the core to the operating system, so that a thread sharing a
/// core with the one it waits for lets that one run. On the thread running
/// `f` itself (`owner`: the scope runs a helper nobody took) it returns at
/// once.
fn stand_by(done: &AtomicBool, owner: Option<usize>) {
    if rayon::current_thread_index() == owner {
        return;
    }
    let mut idle = 0u32;
    let mut since = Instant::now();
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
            continue;
        }
        idle = idle.wrapping_add(1);
        if !idle.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        if idle == 64 {
            since = Instant::now();
        } else if since.elapsed() > STAND_BY_IDLE {
            return;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_pool_passes_a_panic_on_and_the_pool_keeps_working() {
        crate::set_num_threads(0);
        // The helpers stop when `f` unwinds: otherwise the scope would wait
        // for them forever and this test would hang.
        let caught = std::panic::catch_unwind(|| in_pool(|| panic!("inside")));
        assert!(caught.is_err());
        let sums = in_pool(|| {
            let (a, b) = rayon::join(|| (0..1000u64).sum::<u64>(), || (0..10u64).sum::<u64>());
            a + b
        });
        assert_eq!(sums, 499_500 + 45);
    }

    #[test]
    fn stand_by_returns_when_done_and_on_the_owner_thread() {
        let done = AtomicBool::new(true);
        stand_by(&done, None); // not a pool thread, already done
        let done = AtomicBool::new(false);
        // Outside the pool `current_thread_index()` is None: the owner.
        stand_by(&done, None);
        // A pool thread that is not the owner stops at the idle bound.
        let start = Instant::now();
        rayon::scope(|_| stand_by(&done, Some(usize::MAX)));
        assert!(start.elapsed() >= STAND_BY_IDLE);
    }
}
