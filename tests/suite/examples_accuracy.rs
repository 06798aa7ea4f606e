//! The real-data examples reach their accuracy thresholds. Each test runs
//! the example's own `run` function (the example file is compiled in as a
//! module), so the data, split, seeds and architecture are exactly the
//! example's; MNIST runs on a subset to stay fast.

#[allow(dead_code)]
#[path = "../../examples/iris.rs"]
mod iris;

#[allow(dead_code)]
#[path = "../../examples/breast_cancer.rs"]
mod breast_cancer;

#[allow(dead_code)]
#[path = "../../examples/digits.rs"]
mod digits;

#[allow(dead_code)]
#[path = "../../examples/mnist_mlp.rs"]
mod mnist_mlp;

#[test]
fn iris_example_reaches_test_accuracy_095() {
    let out = iris::run(0).unwrap();
    assert!(
        out.accuracy >= iris::THRESHOLD,
        "iris test accuracy {} < {}\n{}",
        out.accuracy,
        iris::THRESHOLD,
        out.report
    );
}

#[test]
fn breast_cancer_example_reaches_test_accuracy_095() {
    let out = breast_cancer::run(0).unwrap();
    assert!(
        out.accuracy >= breast_cancer::THRESHOLD,
        "breast cancer test accuracy {} < {}\n{}",
        out.accuracy,
        breast_cancer::THRESHOLD,
        out.report
    );
}

#[test]
fn digits_example_reaches_test_accuracy_096() {
    let out = digits::run(0).unwrap();
    assert!(
        out.accuracy >= digits::THRESHOLD,
        "digits test accuracy {} < {}\n{}",
        out.accuracy,
        digits::THRESHOLD,
        out.report
    );
}

/// The MNIST example's pipeline on the first 10,000 training images for 3
/// epochs, evaluated on the first 2,000 test images (0.919 measured; see
/// docs/results.md).
#[test]
fn mnist_mlp_on_a_subset_reaches_test_accuracy_090() {
    let config = mnist_mlp::Config {
        train_rows: 10_000,
        test_rows: 2_000,
        epochs: 3,
        ..mnist_mlp::Config::default()
    };
    let out = mnist_mlp::run(&config, 0).unwrap();
    assert!(
        out.accuracy >= 0.90,
        "mnist subset test accuracy {} < 0.90\n{}",
        out.accuracy,
        out.report
    );
    assert_eq!(out.epochs, 3);
}
