//! Tensor kernel throughput, single-threaded.
//!
//! - `matmul/{tapeflow_gemm,matrixmultiply}/n`: square f32 products at
//!   n = 64 … 1024. Throughput is `2·n³` elements, so criterion's
//!   `elem/s` reads as FLOP/s. `tapeflow_gemm` is `Tensor::matmul` (the
//!   `gemm` crate, with the output allocation included, as a user pays it);
//!   `matrixmultiply` is `matrixmultiply::sgemm` writing into a preallocated
//!   buffer (its best case).
//! - `elementwise/add` and `elementwise/bias_add`: `[1000, 1000] + [1000, 1000]`
//!   and `[1000, 1000] + [1000]`, throughput in output elements.
//!
//! Run: `cargo bench --bench tensor` (filter with `-- matmul`); figures and
//! the decision they support are in `docs/performance.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::Tensor;

const SIZES: [usize; 5] = [64, 128, 256, 512, 1024];

fn random(shape: &[usize], seed: u64) -> Tensor<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::rand_uniform_with_rng(shape, -1.0, 1.0, &mut rng).expect("valid uniform range")
}

/// `c = a · b` for row-major square `n × n` matrices, through matrixmultiply.
fn sgemm(n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= n * n && b.len() >= n * n && c.len() >= n * n);
    let s = n as isize;
    #[allow(unsafe_code)]
    // SAFETY: the assert above checks that all three slices hold n·n
    // elements, which is every index (i·n + j) the row-major strides reach;
    // `c` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            s,
            1,
            b.as_ptr(),
            s,
            1,
            0.0,
            c.as_mut_ptr(),
            s,
            1,
        );
    }
}

fn matmul(c: &mut Criterion) {
    tapeflow::set_num_threads(1);
    let mut group = c.benchmark_group("matmul");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        group
            .sample_size(if n >= 512 { 10 } else { 20 })
            .throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        let a = random(&[n, n], 1);
        let b = random(&[n, n], 2);
        group.bench_with_input(BenchmarkId::new("tapeflow_gemm", n), &n, |bench, _| {
            bench.iter(|| black_box(&a).matmul(black_box(&b)).expect("square shapes"));
        });
        let mut out = vec![0.0f32; n * n];
        group.bench_with_input(BenchmarkId::new("matrixmultiply", n), &n, |bench, &n| {
            bench.iter(|| {
                sgemm(
                    n,
                    black_box(a.as_slice()),
                    black_box(b.as_slice()),
                    &mut out,
                )
            });
        });
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .throughput(Throughput::Elements(1_000_000));
    let x = random(&[1000, 1000], 3);
    let y = random(&[1000, 1000], 4);
    let bias = random(&[1000], 5);
    group.bench_function("add", |bench| {
        bench.iter(|| black_box(&x).add(black_box(&y)).expect("same shapes"));
    });
    group.bench_function("bias_add", |bench| {
        bench.iter(|| black_box(&x).add(black_box(&bias)).expect("broadcastable"));
    });
    group.finish();
}

criterion_group!(benches, matmul, elementwise);
criterion_main!(benches);
