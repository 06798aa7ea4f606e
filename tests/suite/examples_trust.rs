//! The explanation and robustness examples, run through their own `run`
//! functions on MNIST subsets (the example files are compiled in as
//! modules), with asserted results.

#[allow(dead_code)]
#[path = "../../examples/adversarial_mnist.rs"]
mod adversarial_mnist;

#[allow(dead_code)]
#[path = "../../examples/explain_mnist.rs"]
mod explain_mnist;

/// Adversarial training on 3,000 images for 3 epochs with PGD-3: on the
/// first 500 test images, under the example's PGD-20 at ε = 0.1, the
/// adversarially trained model keeps far more of its accuracy than the
/// standard one.
#[test]
fn adversarial_example_training_raises_robust_accuracy() {
    let config = adversarial_mnist::Config {
        train_rows: 3_000,
        test_rows: 500,
        epochs: 3,
        train_steps: 3,
        batch_size: 64,
    };
    let out = adversarial_mnist::run(&config, 0).unwrap();
    let (s, a) = (out.standard.accuracy, out.adversarial.accuracy);
    eprintln!("subset: standard {s:?}, adversarially trained {a:?}");
    assert!(s.clean > 0.85, "standard clean {}", s.clean);
    assert!(a.clean > 0.80, "adversarial clean {}", a.clean);
    assert!(
        a.robust > s.robust + 0.2,
        "adversarial robust {} vs standard robust {}",
        a.robust,
        s.robust
    );
}

/// The explanation example on 3,000 images for 3 epochs: every digit's
/// integrated-gradients delta is under 1 % of its output gap, and the six
/// pictures are SVG files.
#[test]
fn explain_example_writes_pictures_and_ig_is_complete() {
    let dir = std::env::temp_dir().join(format!("tapeflow_explain_{}", std::process::id()));
    let config = explain_mnist::Config {
        train_rows: 3_000,
        epochs: 3,
        digits: 2,
    };
    let out = explain_mnist::run(&config, &dir, 0).unwrap();
    assert!(out.accuracy > 0.8, "accuracy {}", out.accuracy);
    for &(delta, gap) in &out.deltas {
        assert!(delta.abs() < 0.01 * gap.abs(), "delta {delta}, gap {gap}");
    }
    assert_eq!(out.files.len(), 6);
    for f in &out.files {
        let svg = std::fs::read_to_string(f).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("attribution"),
            "{}",
            f.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
