//! Bad-input battery for `Tensor`: every public fallible function given
//! impossible sizes, mismatched shapes, empty axes and out-of-range indices.
//! Each case must return `Err` (never panic or abort) and its message must
//! name the op and the offending value or shape.
//!
//! The harness ([`run_battery`]) is shared by `bad_inputs_data` and
//! `bad_inputs_metrics`. Cases whose allocation the machine must refuse run
//! in a child process (this test binary re-invoked, filtered to
//! `bad_inputs_tensor::allocation_cases_child`), so that even a failure of
//! fallible allocation could not take the whole test run down.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;

use rand::{SeedableRng, rngs::StdRng};
use tapeflow::{Result, Tensor};

/// One case: its name, the call, and the fragments its message must hold.
pub(crate) type Case = (String, Box<dyn Fn() -> Result<()>>, Vec<String>);

/// A case from an expression returning any `Result` and message fragments.
macro_rules! case {
    ($name:expr, $call:expr, [$($frag:expr),* $(,)?]) => {
        (
            $name.to_string(),
            Box::new(move || $call.map(|_| ())) as Box<dyn Fn() -> tapeflow::Result<()>>,
            vec![$($frag.to_string()),*],
        )
    };
}
pub(crate) use case;

/// Runs every case; collects each one that returned `Ok`, panicked, or gave
/// a message without one of its fragments, and fails listing them all.
/// Returns the number of cases run.
pub(crate) fn run_battery(cases: Vec<Case>) -> usize {
    let mut failures = Vec::new();
    for (name, call, fragments) in &cases {
        match catch_unwind(AssertUnwindSafe(call)) {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Ok(())) => failures.push(format!("{name}: returned Ok, expected Err")),
            Ok(Err(e)) => {
                let message = e.to_string();
                for f in fragments {
                    if !message.contains(f.as_str()) {
                        failures.push(format!("{name}: message {message:?} lacks {f:?}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

const BIG: usize = 1 << 40;
/// 2^60 `f32`s are 2^62 bytes: a size that can be counted (below
/// `isize::MAX`) but that no machine can map, so allocation must fail.
const HUGE: usize = 1 << 60;

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).expect("valid test tensor")
}

fn seq(shape: &[usize]) -> Tensor<f32> {
    let n: usize = shape.iter().product();
    t(&(0..n).map(|i| i as f32).collect::<Vec<_>>(), shape)
}

fn empty(shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(Vec::new(), shape).expect("empty tensor with a countable shape")
}

fn size_cases() -> Vec<Case> {
    let max = usize::MAX;
    vec![
        case!(
            "from_vec 2^33 x 2^31",
            Tensor::<f32>::from_vec(vec![], &[1 << 33, 1 << 31]),
            ["from_vec", "[8589934592, 2147483648]", "too large"]
        ),
        case!(
            "from_vec usize::MAX x 2",
            Tensor::<f32>::from_vec(vec![], &[max, 2]),
            ["from_vec", &format!("[{max}, 2]")]
        ),
        case!(
            "from_vec zero dim beside an overflow",
            Tensor::<f32>::from_vec(vec![], &[0, max]),
            ["from_vec", &format!("[0, {max}]")]
        ),
        case!(
            "from_vec 0 x 2^40 x 2^40",
            Tensor::<f32>::from_vec(vec![], &[0, BIG, BIG]),
            ["from_vec", "too large"]
        ),
        case!(
            "from_vec f64 bytes overflow",
            Tensor::<f64>::from_vec(vec![], &[1 << 62]),
            ["from_vec", "[4611686018427387904]"]
        ),
        case!(
            "from_vec wrong length",
            Tensor::from_vec(vec![1.0f32; 5], &[2, 3]),
            ["from_vec", "[2, 3]", "6", "5"]
        ),
        case!(
            "from_vec empty data for one element",
            Tensor::<f32>::from_vec(vec![], &[]),
            ["from_vec", "[]", "1"]
        ),
        case!(
            "zeros usize::MAX x 2",
            Tensor::<f32>::zeros(&[max, 2]),
            ["zeros", &format!("[{max}, 2]")]
        ),
        case!(
            "zeros 2^62 f32 bytes",
            Tensor::<f32>::zeros(&[1 << 62]),
            ["zeros", "[4611686018427387904]"]
        ),
        case!(
            "zeros 0 x usize::MAX x 2",
            Tensor::<f32>::zeros(&[0, max, 2]),
            ["zeros", "too large"]
        ),
        case!(
            "ones 2^40 x 2^40",
            Tensor::<f32>::ones(&[BIG, BIG]),
            ["ones", "[1099511627776, 1099511627776]"]
        ),
        case!(
            "full usize::MAX",
            Tensor::full(&[max], 1.0f32),
            ["full", &format!("[{max}]")]
        ),
        case!(
            "full 2^32 x 2^32 f64",
            Tensor::full(&[1 << 32, 1 << 32], 1.0f64),
            ["full", "[4294967296, 4294967296]"]
        ),
        case!(
            "rand_uniform usize::MAX x 2",
            Tensor::<f32>::rand_uniform_with_rng(
                &[max, 2],
                0.0,
                1.0,
                &mut StdRng::seed_from_u64(0)
            ),
            ["rand_uniform", &format!("[{max}, 2]")]
        ),
        case!(
            "rand_uniform low > high",
            Tensor::<f32>::rand_uniform_with_rng(&[2], 1.0, 0.0, &mut StdRng::seed_from_u64(0)),
            ["rand_uniform", "low 1", "high 0"]
        ),
        case!(
            "rand_uniform NaN",
            Tensor::<f32>::rand_uniform_with_rng(
                &[2],
                f32::NAN,
                0.0,
                &mut StdRng::seed_from_u64(0)
            ),
            ["rand_uniform", "NaN"]
        ),
        case!(
            "rand_normal 2^40 x 2^40",
            Tensor::<f32>::rand_normal_with_rng(
                &[BIG, BIG],
                0.0,
                1.0,
                &mut StdRng::seed_from_u64(0)
            ),
            ["rand_normal", "[1099511627776, 1099511627776]"]
        ),
        case!(
            "rand_normal negative std",
            Tensor::<f32>::rand_normal_with_rng(&[2], 0.0, -1.0, &mut StdRng::seed_from_u64(0)),
            ["rand_normal", "std -1"]
        ),
        case!(
            "rand_normal inf mean",
            Tensor::<f32>::rand_normal_with_rng(
                &[2],
                f32::INFINITY,
                1.0,
                &mut StdRng::seed_from_u64(0)
            ),
            ["rand_normal", "mean inf"]
        ),
        case!(
            "reshape usize::MAX x 2",
            seq(&[2, 3]).reshape(&[max, 2]),
            ["reshape", &format!("[{max}, 2]")]
        ),
        case!(
            "reshape 0 x usize::MAX",
            empty(&[0]).reshape(&[0, max]),
            ["reshape", &format!("[0, {max}]")]
        ),
        case!(
            "reshape wrong count",
            seq(&[2, 3]).reshape(&[4]),
            ["reshape", "[4]", "6"]
        ),
        case!(
            "reshape to scalar",
            seq(&[2]).reshape(&[]),
            ["reshape", "[]", "2"]
        ),
        case!(
            "matmul [2^40,0]·[0,2^40]",
            empty(&[BIG, 0]).matmul(&empty(&[0, BIG])),
            ["matmul", "[1099511627776, 1099511627776]", "too large"]
        ),
        case!(
            "matmul_tn [0,2^40]ᵀ·[0,2^40]",
            empty(&[0, BIG]).matmul_tn(&empty(&[0, BIG])),
            ["matmul_tn", "[1099511627776, 1099511627776]"]
        ),
        case!(
            "matmul_nt [2^40,0]·[2^40,0]ᵀ",
            empty(&[BIG, 0]).matmul_nt(&empty(&[BIG, 0])),
            ["matmul_nt", "[1099511627776, 1099511627776]"]
        ),
        case!(
            "batched matmul 2^30 cubed",
            empty(&[1 << 30, 1 << 30, 0]).matmul(&empty(&[1 << 30, 0, 1 << 30])),
            ["matmul", "[1073741824, 1073741824, 1073741824]"]
        ),
        case!(
            "shared-rhs matmul overflow",
            empty(&[1 << 30, 1 << 30, 0]).matmul(&empty(&[0, 1 << 30])),
            ["matmul", "[1073741824, 1073741824, 1073741824]"]
        ),
        case!(
            "matmul inner mismatch",
            seq(&[2, 3]).matmul(&seq(&[2, 3])),
            ["matmul", "lhs [2, 3]", "rhs [2, 3]"]
        ),
        case!(
            "matmul 1-d",
            seq(&[3]).matmul(&seq(&[3, 1])),
            ["matmul", "lhs [3]"]
        ),
        case!(
            "matmul 4-d",
            seq(&[1, 1, 2, 2]).matmul(&seq(&[2, 2])),
            ["matmul", "lhs [1, 1, 2, 2]"]
        ),
        case!(
            "matmul scalar",
            Tensor::scalar(1.0f32).matmul(&seq(&[1, 1])),
            ["matmul", "lhs []"]
        ),
        case!(
            "matmul batch mismatch",
            seq(&[2, 2, 2]).matmul(&seq(&[3, 2, 2])),
            ["matmul", "lhs [2, 2, 2]", "rhs [3, 2, 2]"]
        ),
        case!(
            "matmul 2-d lhs, 3-d rhs",
            seq(&[2, 2]).matmul(&seq(&[1, 2, 2])),
            ["matmul", "rhs [1, 2, 2]"]
        ),
        case!(
            "matmul_tn mismatch",
            seq(&[3, 2]).matmul_tn(&seq(&[2, 2])),
            ["matmul_tn", "lhs [3, 2]", "rhs [2, 2]"]
        ),
        case!(
            "matmul_nt mismatch",
            seq(&[2, 3]).matmul_nt(&seq(&[2, 2])),
            ["matmul_nt", "lhs [2, 3]", "rhs [2, 2]"]
        ),
        case!(
            "add broadcast overflow",
            empty(&[BIG, 1, 0]).add(&empty(&[1, BIG, 0])),
            ["add", "[1099511627776, 1099511627776, 0]", "too large"]
        ),
        case!(
            "mul broadcast overflow",
            empty(&[1 << 31, 1, 1 << 29, 0]).mul(&empty(&[1, 1 << 31, 1, 0])),
            ["mul", "too large"]
        ),
        case!(
            "add mismatch",
            seq(&[2, 3]).add(&seq(&[4, 3])),
            ["add", "lhs [2, 3]", "rhs [4, 3]"]
        ),
        case!(
            "sub mismatch",
            seq(&[2]).sub(&seq(&[3])),
            ["sub", "lhs [2]", "rhs [3]"]
        ),
        case!(
            "mul mismatch",
            seq(&[2, 2]).mul(&seq(&[3])),
            ["mul", "lhs [2, 2]", "rhs [3]"]
        ),
        case!(
            "div mismatch",
            seq(&[5]).div(&seq(&[2, 4])),
            ["div", "lhs [5]", "rhs [2, 4]"]
        ),
        case!(
            "maximum mismatch",
            seq(&[2]).maximum(&seq(&[3])),
            ["maximum", "lhs [2]"]
        ),
        case!(
            "minimum mismatch",
            seq(&[2]).minimum(&seq(&[3])),
            ["minimum", "lhs [2]"]
        ),
        case!(
            "zip_map mismatch",
            seq(&[2]).zip_map(&seq(&[3]), |a, b| a + b),
            ["zip_map", "lhs [2]", "rhs [3]"]
        ),
        case!(
            "sum_to_shape not a broadcast",
            seq(&[4, 3]).sum_to_shape(&[2]),
            ["sum_to_shape", "[4, 3]", "[2]"]
        ),
        case!(
            "sum_to_shape larger",
            seq(&[3]).sum_to_shape(&[2, 3]),
            ["sum_to_shape", "[2, 3]"]
        ),
        case!(
            "concat empty list",
            Tensor::<f32>::concat(&[], 0),
            ["concat", "at least one"]
        ),
        case!(
            "concat axis out of range",
            Tensor::concat(&[&seq(&[2, 2])], 2),
            ["concat", "axis 2", "[2, 2]"]
        ),
        case!(
            "concat mismatch",
            Tensor::concat(&[&seq(&[2, 3]), &seq(&[2, 4])], 0),
            ["concat", "[2, 3]", "[2, 4]"]
        ),
        case!(
            "concat rank mismatch",
            Tensor::concat(&[&seq(&[2, 3]), &seq(&[6])], 0),
            ["concat", "[6]"]
        ),
        case!(
            "concat size overflow",
            {
                let a = empty(&[1 << 59, 0]);
                Tensor::concat(&[&a, &a, &a, &a], 0)
            },
            ["concat", "too large"]
        ),
        case!(
            "concat count overflow",
            {
                let a = empty(&[1 << 60, 0]);
                Tensor::concat(&[&a; 17], 0)
            },
            ["concat", "too large"]
        ),
        case!(
            "select_rows out of range",
            seq(&[3, 2]).select_rows(&[0, 3]),
            ["select_rows", "index 3", "length 3"]
        ),
        case!(
            "select_rows usize::MAX",
            seq(&[3, 2]).select_rows(&[max]),
            ["select_rows", &format!("index {max}")]
        ),
        case!(
            "select_rows scalar",
            Tensor::scalar(1.0f32).select_rows(&[0]),
            ["select_rows", "shape []"]
        ),
        case!(
            "select_rows output overflow",
            empty(&[1, 0, 1 << 60]).select_rows(&[0; 16]),
            ["select_rows", "[16, 0, 1152921504606846976]"]
        ),
        case!(
            "select_rows on no rows",
            empty(&[0, 4]).select_rows(&[0]),
            ["select_rows", "index 0", "length 0"]
        ),
        case!(
            "slice_rows end beyond",
            seq(&[4]).slice_rows(2..5),
            ["slice_rows", "index 5", "length 4"]
        ),
        case!(
            "slice_rows start after end",
            seq(&[4]).slice_rows(std::ops::Range { start: 3, end: 1 }),
            ["slice_rows", "index 3"]
        ),
        case!(
            "slice_rows usize::MAX",
            seq(&[4]).slice_rows(0..max),
            ["slice_rows", &format!("index {max}")]
        ),
        case!(
            "slice_rows scalar",
            Tensor::scalar(1.0f32).slice_rows(0..1),
            ["slice_rows", "shape []"]
        ),
        case!("transpose 1-d", seq(&[4]).transpose(), ["transpose", "[4]"]),
        case!(
            "transpose 4-d",
            seq(&[1, 2, 2, 1]).transpose(),
            ["transpose", "[1, 2, 2, 1]"]
        ),
        case!(
            "transpose scalar",
            Tensor::scalar(1.0f32).transpose(),
            ["transpose", "shape []"]
        ),
        case!("item of many", seq(&[2, 2]).item(), ["item", "[2, 2]"]),
        case!("item of none", empty(&[0]).item(), ["item", "[0]"]),
        case!(
            "sum_axis out of range",
            seq(&[2, 3]).sum_axis(2, false),
            ["sum_axis", "axis 2", "[2, 3]"]
        ),
        case!(
            "sum_axis usize::MAX axis",
            seq(&[2]).sum_axis(max, true),
            ["sum_axis", &format!("axis {max}")]
        ),
        case!(
            "sum_axis of a scalar",
            Tensor::scalar(1.0f32).sum_axis(0, false),
            ["sum_axis", "axis 0", "[]"]
        ),
        case!(
            "mean_axis out of range",
            seq(&[2, 3]).mean_axis(3, false),
            ["mean_axis", "axis 3"]
        ),
        case!(
            "mean_axis empty axis",
            empty(&[3, 0]).mean_axis(1, false),
            ["mean_axis", "axis 1", "[3, 0]", "empty"]
        ),
        case!(
            "mean_axis empty axis, keepdim",
            empty(&[0, 2]).mean_axis(0, true),
            ["mean_axis", "axis 0", "[0, 2]"]
        ),
        case!(
            "max_axis empty axis",
            empty(&[3, 0]).max_axis(1, false),
            ["max_axis", "axis 1", "[3, 0]", "empty"]
        ),
        case!(
            "max_axis empty axis, empty output",
            empty(&[0, 0]).max_axis(1, false),
            ["max_axis", "axis 1", "[0, 0]"]
        ),
        case!(
            "max_axis out of range",
            seq(&[2]).max_axis(1, false),
            ["max_axis", "axis 1", "[2]"]
        ),
        case!(
            "min_axis empty axis",
            empty(&[2, 0, 2]).min_axis(1, true),
            ["min_axis", "axis 1", "[2, 0, 2]"]
        ),
        case!(
            "min_axis out of range",
            seq(&[2]).min_axis(5, false),
            ["min_axis", "axis 5"]
        ),
        case!(
            "argmax_axis empty axis",
            empty(&[3, 0]).argmax_axis(1, false),
            ["argmax_axis", "axis 1", "[3, 0]"]
        ),
        case!(
            "argmax_axis out of range",
            seq(&[2, 2]).argmax_axis(2, false),
            ["argmax_axis", "axis 2", "[2, 2]"]
        ),
    ]
}

/// Cases whose sizes can be counted but never allocated: each must be an
/// `OutOfMemory` error naming the op and the shape.
fn allocation_cases() -> Vec<Case> {
    vec![
        case!(
            "zeros 2^60",
            Tensor::<f32>::zeros(&[HUGE]),
            ["zeros", "cannot allocate", "[1152921504606846976]"]
        ),
        case!(
            "full 2^20 x 2^20 x 2^20",
            Tensor::full(&[1 << 20, 1 << 20, 1 << 20], 0.5f32),
            ["full", "cannot allocate", "[1048576, 1048576, 1048576]"]
        ),
        case!(
            "ones 2^60 f32",
            Tensor::<f32>::ones(&[HUGE]),
            ["ones", "cannot allocate"]
        ),
        case!(
            "rand_uniform 2^60",
            Tensor::<f32>::rand_uniform_with_rng(&[HUGE], 0.0, 1.0, &mut StdRng::seed_from_u64(0)),
            ["rand_uniform", "cannot allocate"]
        ),
        case!(
            "rand_normal 2^60",
            Tensor::<f32>::rand_normal_with_rng(&[HUGE], 0.0, 1.0, &mut StdRng::seed_from_u64(0)),
            ["rand_normal", "cannot allocate"]
        ),
        case!(
            "matmul [2^30,0]·[0,2^30]",
            empty(&[1 << 30, 0]).matmul(&empty(&[0, 1 << 30])),
            ["matmul", "cannot allocate", "[1073741824, 1073741824]"]
        ),
        case!(
            "batched matmul 2^20 cubed",
            empty(&[1 << 20, 1 << 20, 0]).matmul(&empty(&[1 << 20, 0, 1 << 20])),
            ["matmul", "cannot allocate", "[1048576, 1048576, 1048576]"]
        ),
        case!(
            "sum_axis over an empty axis of 2^60 rows",
            empty(&[HUGE, 0]).sum_axis(1, false),
            ["sum_axis", "cannot allocate", "[1152921504606846976]"]
        ),
        case!(
            "sum_to_shape of an empty 2^60 axis",
            empty(&[0, HUGE]).sum_to_shape(&[1, HUGE]),
            ["sum_to_shape", "cannot allocate"]
        ),
    ]
}

#[test]
fn every_bad_size_shape_axis_and_index_is_an_error_naming_op_and_shape() {
    let n = run_battery(size_cases());
    assert!(n >= 80, "{n} cases");
}

const CHILD_VAR: &str = "TAPEFLOW_ALLOCATION_CASES";

/// Runs [`allocation_cases`] in a fresh process; the child prints a marker
/// only after every case returned the expected error.
#[test]
fn allocations_no_machine_can_satisfy_are_errors_in_a_child_process() {
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            "bad_inputs_tensor::allocation_cases_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = format!("allocation cases passed: {}", allocation_cases().len());
    assert!(stdout.contains(&expected), "{stdout}");
}

/// The child side: does nothing unless started by the test above.
#[test]
fn allocation_cases_child() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    let n = run_battery(allocation_cases());
    println!("allocation cases passed: {n}");
}

/// The `+ - * /` operators on tensors panic at the caller's line: the
/// `Location` a panic hook sees is this file and the operator's line.
#[test]
fn operator_panics_point_at_the_callers_line() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, u32, String)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        if let (Some(loc), true) = (info.location(), message.contains("lhs [7], rhs [11]")) {
            sink.lock()
                .expect("hook lock")
                .push((loc.file().to_string(), loc.line(), message));
        }
    }));
    // Shapes no other test uses, to tell these panics from other threads'.
    let (a, b) = (seq(&[7]), seq(&[11]));
    let mut expected = Vec::new();
    let calls: Vec<(u32, Box<dyn Fn()>)> = vec![
        (line!(), Box::new(|| drop(&a + &b))),
        (line!(), Box::new(|| drop(&a - &b))),
        (line!(), Box::new(|| drop(&a * &b))),
        (line!(), Box::new(|| drop(&a / &b))),
        (line!(), Box::new(|| drop(a.clone() + b.clone()))),
        (line!(), Box::new(|| drop(a.clone() / b.clone()))),
    ];
    for (line, call) in &calls {
        assert!(catch_unwind(AssertUnwindSafe(call)).is_err());
        expected.push(*line);
    }
    std::panic::set_hook(previous);
    let seen = seen.lock().expect("hook lock");
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((file, line, message), want) in seen.iter().zip(&expected) {
        assert!(
            file.ends_with("bad_inputs_tensor.rs"),
            "panic located in {file}"
        );
        assert_eq!(line, want, "{message}");
        assert!(
            message.starts_with("add")
                || message.starts_with("sub")
                || message.starts_with("mul")
                || message.starts_with("div"),
            "{message}"
        );
    }
}

mod size_properties {
    use proptest::prelude::*;
    use tapeflow::Tensor;

    /// Dimensions from 0 to 2^62, most of them small or zero.
    fn dim() -> impl Strategy<Value = usize> {
        prop_oneof![
            3 => 0usize..4,
            2 => (0u32..63).prop_map(|e| 1usize << e),
            1 => Just(usize::MAX),
        ]
    }

    /// Whether NumPy's rule accepts the shape for 4-byte elements: the
    /// product of the non-zero dimensions, in bytes, fits in `isize`.
    fn countable(shape: &[usize]) -> bool {
        shape
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(4u128, |acc, &d| acc.checked_mul(d as u128))
            .is_some_and(|bytes| bytes <= isize::MAX as u128)
    }

    proptest! {
        /// An empty tensor of any shape: exists exactly when the shape is
        /// countable, else the error names `from_vec` and the shape.
        #[test]
        fn empty_tensors_exist_iff_their_shape_is_countable(
            mut shape in proptest::collection::vec(dim(), 1..5),
            zero_at in 0usize..5,
        ) {
            let at = zero_at % shape.len();
            shape[at] = 0;
            match Tensor::<f32>::from_vec(Vec::new(), &shape) {
                Ok(t) => {
                    prop_assert!(countable(&shape));
                    prop_assert!(t.is_empty());
                    // Printing an empty tensor of any countable shape is quick.
                    prop_assert!(t.to_string().len() < 20_000);
                }
                Err(e) => {
                    prop_assert!(!countable(&shape));
                    prop_assert_eq!(e.to_string(), format!("from_vec: shape {shape:?} is too large to address"));
                }
            }
        }

        /// The product of empty operands `[m, 0]·[0, n]` is `m·n` zeros: an
        /// error naming matmul and `[m, n]` whenever that cannot be held,
        /// the zeros otherwise; never a panic.
        #[test]
        fn matmul_of_empty_operands_checks_its_output(m in dim(), n in dim()) {
            let (Ok(a), Ok(b)) = (
                Tensor::<f32>::from_vec(Vec::new(), &[m, 0]),
                Tensor::<f32>::from_vec(Vec::new(), &[0, n]),
            ) else {
                return Ok(());
            };
            // Outputs between 2^20 and 2^60 elements could really be
            // allocated (gigabytes): not here. Below, they are computed;
            // above, no machine can hold them and the error is checked.
            let elements = m as u128 * n as u128;
            if elements > 1 << 20 && elements < 1 << 60 {
                return Ok(());
            }
            match a.matmul(&b) {
                Ok(c) => {
                    prop_assert_eq!(c.shape(), &[m, n]);
                    prop_assert!(c.as_slice().iter().all(|&x| x == 0.0));
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.starts_with("matmul: "), "{}", msg);
                    prop_assert!(msg.contains(&format!("[{m}, {n}]")), "{}", msg);
                }
            }
        }

        /// Broadcasting `[a, 1, 0]` with `[1, b, 0]`: an empty output whose
        /// shape `[a, b, 0]` must be countable, else an error naming the op.
        #[test]
        fn broadcast_output_shapes_are_checked(a in dim(), b in dim()) {
            let (Ok(x), Ok(y)) = (
                Tensor::<f32>::from_vec(Vec::new(), &[a, 1, 0]),
                Tensor::<f32>::from_vec(Vec::new(), &[1, b, 0]),
            ) else {
                return Ok(());
            };
            let want = [a, b, 0];
            match x.add(&y) {
                Ok(z) => {
                    prop_assert!(countable(&want));
                    prop_assert_eq!(z.shape(), &want[..]);
                }
                Err(e) => {
                    prop_assert!(!countable(&want));
                    prop_assert!(e.to_string().starts_with("add: "), "{}", e);
                }
            }
        }
    }
}
