//! Heap allocations per recorded op, counted (not timed) by a global
//! allocator that counts each thread's allocations and hands every request
//! to the system allocator unchanged.
//!
//! The allocator is the whole test binary's: it only counts (one
//! thread-local add per request), so the other modules run as before. It
//! lives here rather than in a binary of its own so the suite still links
//! once; counters are per thread, so tests running in parallel do not see
//! each other's allocations.

#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tapeflow::{GradientTape, Tensor};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: a thread being torn down has no counter; skip it.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap allocations (including reallocations) `f` makes on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (ALLOCATIONS.with(Cell::get) - before, r)
}

fn vector(seed: f32) -> Tensor {
    Tensor::from_vec((0..8).map(|i| seed + i as f32).collect(), &[8]).expect("8 elements")
}

#[test]
fn the_counter_sees_allocations() {
    let (n, v) = allocations(|| vec![1u8; 100]);
    assert_eq!(n, 1);
    assert_eq!(v.len(), 100);
    let (n, ()) = allocations(|| ());
    assert_eq!(n, 0);
}

#[test]
fn a_recorded_add_makes_one_allocation() {
    let (a, b) = (vector(0.0), vector(10.0));
    let tape = GradientTape::new();
    let (va, vb) = (tape.watch(&a), tape.watch(&b));
    // The tape's node list now holds 3 nodes with room for 4, so the add
    // measured below does not grow it.
    let _warm = va.add(&vb).expect("same shape");
    let (n, y) = allocations(|| va.add(&vb).expect("same shape"));
    assert_eq!(y.value().as_slice()[7], 7.0 + 17.0);
    // The result's elements and their reference count, in one block. Shapes
    // are inline, the parents are inline, and the rule of `add` captures
    // nothing, so none of them allocates (it was 5 before, 6 originally).
    assert_eq!(n, 1, "a recorded add made {n} allocations");
}

#[test]
fn mul_sum_and_backward_allocation_count() {
    let (a, b) = (vector(0.0), vector(10.0));
    // One step of a training loop: a new tape, `(a*b).sum()`, its backward,
    // the tape dropped.
    let step = || {
        let tape = GradientTape::new();
        let (va, vb) = (tape.watch(&a), tape.watch(&b));
        let y = va.mul(&vb).expect("same shape").sum();
        let g = tape.gradient(&y, [va, vb]).expect("scalar loss");
        // d/da Σ a·b = b and d/db = a (compared in place: no allocation).
        g.get(va).expect("asked for").as_slice() == b.as_slice()
            && g.get(vb).expect("asked for").as_slice() == a.as_slice()
    };
    // The thread's first tape makes its lists: the node list, the sweep's
    // slot and target lists, the result list, and the box that keeps them for the
    // next tape when this one is dropped.
    let (first, right) = allocations(step);
    assert!(right, "wrong gradients of (a*b).sum()");
    assert!(
        first <= 10,
        "the first (a*b).sum() and backward made {first} allocations"
    );
    // Was 34 originally, 28 with inline parents, 10 with one-block tensors,
    // 9 when `mul`'s rule wrote into the spread, 5 with the tape's lists
    // kept between tapes (docs/performance.md). Now 4: the two forward
    // results and the two gradients (the sum's gradient flows as one value,
    // not a spread; the product's rule scales each operand by it). The
    // node, slot, target and result lists are the ones the previous tape
    // and the previous `Gradients` left on this thread.
    let (n, right) = allocations(step);
    assert!(right, "wrong gradients of (a*b).sum()");
    assert!(n <= 4, "(a*b).sum() and backward made {n} allocations");
}

#[test]
fn recorded_unary_and_product_ops_allocate_only_their_result() {
    let (a, b) = (vector(0.5), vector(1.5));
    let tape = GradientTape::new();
    let (va, vb) = (tape.watch(&a), tape.watch(&b));
    // Room on the tape for the ops measured below (34 nodes, room for 64).
    for _ in 0..32 {
        let _ = va.tanh();
    }
    // The rules read their operands and result from the tape, so they
    // capture nothing and their boxes are zero-sized.
    let (n, y) = allocations(|| va.mul(&vb).expect("same shape"));
    assert!(y.requires_grad());
    assert_eq!(n, 1, "mul made {n} allocations");
    let (row, col) = (
        va.reshape(&[1, 8]).expect("8 elements"),
        vb.reshape(&[8, 1]).expect("8 elements"),
    );
    let (n, y) = allocations(|| row.matmul(&col).expect("1x8 by 8x1"));
    assert_eq!(
        y.value().item().expect("1x1"),
        a.mul(&b).expect("same").sum()
    );
    // A product this small skips `gemm` (and its packing buffers).
    assert_eq!(n, 1, "matmul made {n} allocations");
    // A reshape shares its operand's storage: nothing at all.
    let (n, _) = allocations(|| va.reshape(&[2, 4]).expect("8 elements"));
    assert_eq!(n, 0, "reshape made {n} allocations");
    let unary = [
        ("tanh", allocations(|| va.tanh()).0),
        ("sigmoid", allocations(|| va.sigmoid()).0),
        ("relu", allocations(|| va.relu()).0),
        ("exp", allocations(|| va.exp()).0),
        ("sum", allocations(|| va.sum()).0),
    ];
    for (name, n) in unary {
        assert_eq!(n, 1, "{name} made {n} allocations");
    }
}

#[test]
fn a_small_layers_kernel_gradient_skips_gemm_and_its_buffers() {
    // xᵀ·g of the 1-16-1 MLP's first layer, [64, 1]ᵀ·[64, 16]: 1,024
    // multiply-adds in one output row, by the plain loop since the fourth
    // overhead pass (docs/performance.md), so its result is its one
    // allocation; `gemm` packed into buffers of its own (5 in all).
    let x = Tensor::from_vec((0..64).map(|i| i as f32 * 0.01).collect(), &[64, 1]).expect("x");
    let g =
        Tensor::from_vec((0..1024).map(|i| (i % 7) as f32 - 3.0).collect(), &[64, 16]).expect("g");
    let (n, y) = allocations(|| x.matmul_tn(&g).expect("[64, 1]ᵀ·[64, 16]"));
    assert_eq!(y.shape(), &[1, 16]);
    let want: f32 = (0..64)
        .map(|i| i as f32 * 0.01 * ((i * 16 % 7) as f32 - 3.0))
        .sum();
    assert_eq!(y.as_slice()[0], want);
    assert_eq!(n, 1, "the kernel gradient made {n} allocations");
}

#[test]
fn a_unary_backward_writes_into_the_gradient_it_is_handed() {
    // d/dx Σ tanh(tanh(x)): the seed's spread over x is the one buffer the
    // two tanh rules write into in turn; only the sweep's bookkeeping, the
    // seed and the spread allocate, not one buffer per rule.
    let x = vector(0.0).mul_scalar(0.1);
    let count = |depth: usize| {
        let tape = GradientTape::new();
        let vx = tape.watch(&x);
        let mut y = vx;
        for _ in 0..depth {
            y = y.tanh();
        }
        let loss = y.sum();
        let (n, g) = allocations(|| tape.gradient(&loss, [vx]).expect("scalar loss"));
        assert!(g.get(vx).expect("asked for").all_finite());
        n
    };
    // The sweep's lists are the thread's spare ones after the first tape;
    // the deeper sweep first, so that they have room for either.
    count(6);
    assert_eq!(count(1), count(6), "each extra tanh's backward allocated");
}

#[test]
fn an_update_after_the_tape_ended_allocates_nothing_and_a_live_tape_costs_one_copy() {
    use tapeflow::optimizers::{Adam, Optimizer};
    use tapeflow::{Gradients, Param};

    // Two Adam steps on a 1,000-element parameter; the second is counted,
    // once with the tape that used the parameter still alive (its storage
    // is shared, so the in-place update copies it first: copy on write)
    // and once after the tape has ended (the update writes in place).
    let second_step = |keep_tape: bool| {
        let mut w = Param::new(
            "w",
            Tensor::from_vec(vec![1.0f32; 1000], &[1000]).expect("w"),
        );
        let mut opt = Adam::new(0.5);
        let grads_of = |w: &Param| {
            let tape = GradientTape::new();
            let loss = tape.param(w).sum();
            let grads: Gradients = tape.gradient(&loss, [w]).expect("scalar loss");
            (grads, tape)
        };
        let (grads, tape) = grads_of(&w);
        drop(tape);
        opt.apply_gradients(&grads, &mut [&mut w])
            .expect("valid step");
        let (grads, tape) = grads_of(&w);
        let alive = keep_tape.then_some(tape);
        let (n, ()) = allocations(|| {
            opt.apply_gradients(&grads, &mut [&mut w])
                .expect("valid step");
        });
        drop(alive);
        n
    };
    let (with_tape, without) = (second_step(true), second_step(false));
    assert_eq!(
        without, 0,
        "an update with the tape ended allocated {without} times"
    );
    assert!(
        with_tape > 0,
        "an update with the tape alive must copy the parameter, not write into the tape's value"
    );
}

#[test]
fn a_medium_product_after_one_of_its_size_reuses_the_dropped_block() {
    // A `[64, 16]` product (4 KiB: the 1-16-1 MLP's hidden layer) after one
    // of its size was dropped on this thread: the zeroed output is the
    // dropped block, from the thread's cache of medium blocks, so the
    // product allocates nothing.
    let x = Tensor::from_vec((0..64).map(|i| i as f32 * 0.01).collect(), &[64, 1]).expect("x");
    let w = Tensor::from_vec((0..16).map(|i| i as f32 - 8.0).collect(), &[1, 16]).expect("w");
    drop(x.matmul(&w).expect("[64, 1]·[1, 16]"));
    let (n, y) = allocations(|| x.matmul(&w).expect("[64, 1]·[1, 16]"));
    assert_eq!(y.as_slice()[16 + 3], 0.01 * -5.0);
    assert_eq!(n, 0, "the product made {n} allocations");
}
