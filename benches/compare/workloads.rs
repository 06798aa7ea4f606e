//! tapeflow's side of the side-by-side comparison with PyTorch
//! (`benches/compare/workloads_torch.py` is the other side, with the same
//! shapes, data sizes, optimizer settings and thread counts).
//!
//! Usage: `cargo bench --bench workloads -- <workload> <threads> [repetitions]`,
//! or with no workload to list them. Prints one line: `<workload> <threads>
//! <value> <unit> peak_rss_mb <MiB>`, the median of the repetitions taken in
//! this process after one warm-up run. `repetitions` overrides the
//! workload's default; `0` runs the warm-up only, which is what instruction
//! counts under `valgrind --tool=callgrind` want (docs/performance.md).
//! `benches/compare/run.sh` runs both sides alternately and writes the table.

use std::hint::black_box;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use tapeflow::data::load_mnist;
use tapeflow::layers::Mode;
use tapeflow::optimizers::Optimizer;
use tapeflow::prelude::*;

/// A workload: its name, unit, and a function timing it once (returns the
/// value in that unit).
struct Workload {
    name: &'static str,
    unit: &'static str,
    repetitions: usize,
    run: fn() -> f64,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "mlp_b128",
        unit: "samples/s",
        repetitions: 7,
        run: || mlp_step_rate(128),
    },
    Workload {
        name: "mlp_b32",
        unit: "samples/s",
        repetitions: 7,
        run: || mlp_step_rate(32),
    },
    Workload {
        name: "tiny_step",
        unit: "us/step",
        repetitions: 7,
        run: tiny_step,
    },
    Workload {
        name: "linreg_fit",
        unit: "ms",
        repetitions: 7,
        run: linreg_fit,
    },
    Workload {
        name: "add8",
        unit: "ns",
        repetitions: 7,
        run: add8,
    },
    Workload {
        name: "mulsum8_backward",
        unit: "us",
        repetitions: 7,
        run: mulsum8_backward,
    },
    Workload {
        name: "gemm256",
        unit: "GFLOP/s",
        repetitions: 7,
        run: || gemm(256),
    },
    Workload {
        name: "gemm512",
        unit: "GFLOP/s",
        repetitions: 7,
        run: || gemm(512),
    },
    Workload {
        name: "gemm1024",
        unit: "GFLOP/s",
        repetitions: 5,
        run: || gemm(1024),
    },
    Workload {
        name: "mnist_epoch",
        unit: "s",
        repetitions: 1,
        run: mnist_epoch,
    },
];

fn main() {
    // `cargo bench` passes `--bench`; keep only the positional arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(name) = args.first() else {
        for w in WORKLOADS {
            println!("{} ({})", w.name, w.unit);
        }
        return;
    };
    let threads: usize = args.get(1).and_then(|t| t.parse().ok()).unwrap_or(1);
    tapeflow::set_num_threads(threads);
    let Some(w) = WORKLOADS.iter().find(|w| w.name == name) else {
        eprintln!("unknown workload {name:?}; run with no argument to list them");
        std::process::exit(2);
    };
    let repetitions = args
        .get(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(w.repetitions);
    let warm_up = (w.run)(); // page faults, thread pool start, caches
    let mut values: Vec<f64> = (0..repetitions).map(|_| (w.run)()).collect();
    if values.is_empty() {
        values.push(warm_up);
    }
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    println!(
        "{} {} {:.6} {} peak_rss_mb {:.1}",
        w.name,
        threads,
        median,
        w.unit,
        peak_rss_mb()
    );
}

/// The process's peak resident set size in MiB (`VmHWM` in /proc/self/status).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    Tensor::rand_uniform_with_rng(shape, lo, hi, &mut StdRng::seed_from_u64(seed))
        .expect("valid range")
}

fn labels(n: usize, classes: usize) -> Tensor {
    Tensor::from_vec((0..n).map(|i| ((i * 7) % classes) as f32).collect(), &[n]).expect("length")
}

/// Samples per second of Adam steps (forward, sparse cross-entropy from
/// logits, backward, update) on a 784-256-128-10 ReLU MLP; 64 steps timed.
fn mlp_step_rate(batch: usize) -> f64 {
    let mut model = Sequential::new(&[784])
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(0);
    model.build().expect("build");
    let mut opt = Adam::new(1e-3);
    let x = uniform(&[batch, 784], 0.0, 1.0, 1);
    let y = labels(batch, 10);
    let steps = 64;
    let start = Instant::now();
    for _ in 0..steps {
        // On the pool, the step's products split without thread hand-overs.
        tapeflow::in_pool(|| train_step(&mut model, &mut opt, &x, &y, true));
    }
    (steps * batch) as f64 / start.elapsed().as_secs_f64()
}

fn train_step(model: &mut Sequential, opt: &mut Adam, x: &Tensor, y: &Tensor, sparse: bool) {
    let grads = {
        let tape = GradientTape::new();
        let pred = model.forward(&tape, x, Mode::Train).expect("forward");
        let target = tape.constant(y);
        let loss = if sparse {
            tapeflow::losses::sparse_categorical_crossentropy(
                &pred,
                &target,
                tapeflow::losses::Predictions::Logits,
            )
        } else {
            tapeflow::losses::mse(&pred, &target)
        }
        .expect("loss");
        tape.gradient(&loss, model.trainable_params())
            .expect("gradient")
    };
    opt.apply_gradients(&grads, &mut model.params_mut())
        .expect("update");
}

/// Microseconds per Adam step of a 1-16-1 tanh MLP on a batch of 64 (MSE).
fn tiny_step() -> f64 {
    let mut model = Sequential::new(&[1])
        .add(Dense::new(16).activation(Activation::Tanh))
        .add(Dense::new(1))
        .seed(0);
    model.build().expect("build");
    let mut opt = Adam::new(1e-3);
    let x = uniform(&[64, 1], -1.0, 1.0, 2);
    let y = x.map(|v| v.sin());
    let steps = 2000;
    let start = Instant::now();
    for _ in 0..steps {
        // Not on the pool: no product here is large enough to split, and
        // entering the pool costs a hand-over per step (docs/performance.md).
        train_step(&mut model, &mut opt, &x, &y, false);
    }
    start.elapsed().as_secs_f64() * 1e6 / steps as f64
}

/// Milliseconds for 100 full-batch SGD epochs of `Dense(1)` on 1,000 points
/// through `fit` (the README's main example, scaled).
fn linreg_fit() -> f64 {
    let x = Tensor::from_vec((0..1000).map(|i| i as f32 / 1000.0).collect(), &[1000, 1])
        .expect("length");
    let y = x.map(|v| 0.1 * v + 0.3);
    let mut model = Sequential::new(&[1]).add(Dense::new(1)).seed(0);
    model
        .compile(Sgd::new(0.5), MeanSquaredError, &[])
        .expect("compile");
    let options = FitOptions::default()
        .epochs(100)
        .batch_size(1000)
        .verbose(0);
    let start = Instant::now();
    model.fit(&x, &y, options).expect("fit");
    start.elapsed().as_secs_f64() * 1e3
}

/// Nanoseconds per 8-element add recorded on a tape (both operands watched).
fn add8() -> f64 {
    let a = uniform(&[8], -1.0, 1.0, 3);
    let b = uniform(&[8], -1.0, 1.0, 4);
    let reps = 200_000;
    let start = Instant::now();
    for _ in 0..reps / 100 {
        let tape = GradientTape::new();
        let (va, vb) = (tape.watch(&a), tape.watch(&b));
        for _ in 0..100 {
            black_box(va.add(&vb).expect("same shape"));
        }
    }
    start.elapsed().as_secs_f64() * 1e9 / reps as f64
}

/// Microseconds for `(a * b).sum()` and its backward on 8 elements.
fn mulsum8_backward() -> f64 {
    let a = uniform(&[8], -1.0, 1.0, 5);
    let b = uniform(&[8], -1.0, 1.0, 6);
    let reps = 100_000;
    let start = Instant::now();
    for _ in 0..reps {
        let tape = GradientTape::new();
        let (va, vb) = (tape.watch(&a), tape.watch(&b));
        let y = va.mul(&vb).expect("same shape").sum();
        black_box(tape.gradient(&y, [va, vb]).expect("scalar"));
    }
    start.elapsed().as_secs_f64() * 1e6 / reps as f64
}

/// GFLOP/s of an `n × n` f32 matrix product (2n³ FLOP each).
fn gemm(n: usize) -> f64 {
    let a = uniform(&[n, n], -1.0, 1.0, 7);
    let b = uniform(&[n, n], -1.0, 1.0, 8);
    let reps = (1usize << 32) / (2 * n * n * n);
    let start = Instant::now();
    for _ in 0..reps.max(1) {
        black_box(a.matmul(&b).expect("square"));
    }
    (2 * n * n * n * reps.max(1)) as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// Seconds for one `fit` epoch of the 784-256-128-10 MLP on the 60,000
/// MNIST training images, batch 128, Adam (peak RSS printed beside it).
fn mnist_epoch() -> f64 {
    let mnist = load_mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")).expect("mnist");
    let x = mnist.train.features().clone();
    let y = mnist.train.targets().clone();
    let mut model = Sequential::new(&[784])
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(0);
    model
        .compile(
            Adam::new(1e-3),
            SparseCategoricalCrossentropy { from_logits: true },
            &[],
        )
        .expect("compile");
    let start = Instant::now();
    model
        .fit(
            &x,
            &y,
            FitOptions::default().epochs(1).batch_size(128).verbose(0),
        )
        .expect("fit");
    start.elapsed().as_secs_f64()
}
