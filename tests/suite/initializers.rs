//! Initializers: the moments of large samples against each Keras formula,
//! orthogonality, seeding, errors and JSON config.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;
use tapeflow::Tensor;
use tapeflow::initializers::Initializer;

/// A Dense kernel [in, out]: fan_in = 200, fan_out = 300, 60 000 samples.
const SHAPE: [usize; 2] = [200, 300];

/// The variance of a unit normal truncated to [-2, 2] (0.8796…²).
const TRUNCATED_VAR: f64 = 0.879_625_661_034_239_8 * 0.879_625_661_034_239_8;

fn draw(init: Initializer, shape: &[usize], seed: u64) -> Tensor<f64> {
    init.init_with_rng(shape, &mut StdRng::seed_from_u64(seed))
        .unwrap()
}

fn moments(t: &Tensor<f64>) -> (f64, f64) {
    let n = t.len() as f64;
    let mean = t.as_slice().iter().sum::<f64>() / n;
    let var = t.as_slice().iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

/// Checks the sample mean within 0.02 σ (about 5 standard errors for
/// 60 000 samples) and the sample variance within 3 % (about 8 standard
/// errors).
fn assert_moments(init: Initializer, shape: &[usize], mean: f64, var: f64) {
    let t = draw(init, shape, 1);
    let (m, v) = moments(&t);
    let sd = var.sqrt();
    assert!(
        (m - mean).abs() < 0.02 * sd,
        "{init}: mean {m}, want {mean}"
    );
    assert!(
        (v / var - 1.0).abs() < 0.03,
        "{init}: variance {v}, want {var}"
    );
}

fn max_abs_dev(t: &Tensor<f64>, center: f64) -> f64 {
    t.as_slice()
        .iter()
        .map(|x| (x - center).abs())
        .fold(0.0, f64::max)
}

#[test]
fn zeros_ones_and_constant_fill_exactly() {
    assert_eq!(draw(Initializer::Zeros, &[2, 3], 0).to_vec(), vec![0.0; 6]);
    assert_eq!(draw(Initializer::Ones, &[4], 0).to_vec(), vec![1.0; 4]);
    let c = draw(Initializer::Constant { value: -2.5 }, &[3, 1], 0);
    assert_eq!((c.shape(), c.to_vec()), (&[3, 1][..], vec![-2.5; 3]));
}

#[test]
fn random_normal_has_the_given_mean_and_stddev() {
    let init = Initializer::RandomNormal {
        mean: 1.0,
        stddev: 0.5,
    };
    assert_moments(init, &SHAPE, 1.0, 0.25);
}

#[test]
fn random_uniform_stays_in_range_with_uniform_moments() {
    let init = Initializer::RandomUniform {
        minval: -2.0,
        maxval: 3.0,
    };
    // U[a, b): mean (a + b) / 2, variance (b - a)² / 12.
    assert_moments(init, &SHAPE, 0.5, 25.0 / 12.0);
    let t = draw(init, &SHAPE, 2);
    assert!(t.as_slice().iter().all(|x| (-2.0..3.0).contains(x)));
}

#[test]
fn truncated_normal_redraws_beyond_two_stddevs() {
    let init = Initializer::TruncatedNormal {
        mean: 1.0,
        stddev: 0.5,
    };
    // Truncation at ±2σ shrinks the variance by 0.8796².
    assert_moments(init, &SHAPE, 1.0, 0.25 * TRUNCATED_VAR);
    let t = draw(init, &SHAPE, 3);
    assert!(max_abs_dev(&t, 1.0) <= 1.0);
    // Without truncation about 4.6 % of 60 000 draws would lie beyond 2σ;
    // the largest deviation is close to the bound.
    assert!(max_abs_dev(&t, 1.0) > 0.99);
}

#[test]
fn glorot_uniform_has_limit_sqrt_6_over_fan_sum() {
    // limit = √(6 / (200 + 300)), variance limit² / 3 = 2 / 500.
    assert_moments(Initializer::GlorotUniform, &SHAPE, 0.0, 2.0 / 500.0);
    let limit = (6.0f64 / 500.0).sqrt();
    let t = draw(Initializer::GlorotUniform, &SHAPE, 4);
    assert!(max_abs_dev(&t, 0.0) <= limit);
    assert!(max_abs_dev(&t, 0.0) > 0.99 * limit);
}

#[test]
fn glorot_normal_has_variance_2_over_fan_sum_after_truncation() {
    // stddev = √(2 / 500) / 0.8796…, truncated at 2 stddev: variance 2 / 500.
    assert_moments(Initializer::GlorotNormal, &SHAPE, 0.0, 2.0 / 500.0);
    let bound = 2.0 * (2.0f64 / 500.0).sqrt() / TRUNCATED_VAR.sqrt();
    assert!(max_abs_dev(&draw(Initializer::GlorotNormal, &SHAPE, 5), 0.0) <= bound);
}

#[test]
fn he_initializers_have_variance_2_over_fan_in() {
    assert_moments(Initializer::HeNormal, &SHAPE, 0.0, 2.0 / 200.0);
    assert_moments(Initializer::HeUniform, &SHAPE, 0.0, 2.0 / 200.0);
    let limit = (6.0f64 / 200.0).sqrt();
    assert!(max_abs_dev(&draw(Initializer::HeUniform, &SHAPE, 6), 0.0) <= limit);
}

#[test]
fn lecun_initializers_have_variance_1_over_fan_in() {
    assert_moments(Initializer::LecunNormal, &SHAPE, 0.0, 1.0 / 200.0);
    assert_moments(Initializer::LecunUniform, &SHAPE, 0.0, 1.0 / 200.0);
    let limit = (3.0f64 / 200.0).sqrt();
    assert!(max_abs_dev(&draw(Initializer::LecunUniform, &SHAPE, 7), 0.0) <= limit);
}

#[test]
fn fans_follow_keras_for_other_ranks() {
    // Conv kernel [3, 3, 16, 32]: receptive field 9, fan_in 144, fan_out 288.
    let t = draw(Initializer::HeUniform, &[3, 3, 16, 32], 8);
    assert!(max_abs_dev(&t, 0.0) <= (6.0f64 / 144.0).sqrt());
    assert!(max_abs_dev(&t, 0.0) > 0.95 * (6.0f64 / 144.0).sqrt());
    // A bias [n]: fan_in = fan_out = n, so the Glorot limit is √(6 / 2n).
    let t = draw(Initializer::GlorotUniform, &[1000], 9);
    assert!(max_abs_dev(&t, 0.0) <= (3.0f64 / 1000.0).sqrt());
    assert!(max_abs_dev(&t, 0.0) > 0.95 * (3.0f64 / 1000.0).sqrt());
    // A scalar: both fans are 1, so the limit is √3.
    let t = draw(Initializer::LecunUniform, &[], 10);
    assert_eq!(t.shape(), &[] as &[usize]);
    assert!(t.item().unwrap().abs() <= 3.0f64.sqrt());
}

/// Max |A·Bᵀ - gain² I| over the rows of `t` viewed as [rows, cols]
/// (`rows_orthonormal`) or over its columns.
fn orthogonality_error(t: &Tensor<f64>, rows: usize, cols: usize, gain: f64, by_rows: bool) -> f64 {
    let x = t.as_slice();
    let at = |i: usize, j: usize| {
        if by_rows {
            x[i * cols + j]
        } else {
            x[j * cols + i]
        }
    };
    let (n, len) = if by_rows { (rows, cols) } else { (cols, rows) };
    let mut worst: f64 = 0.0;
    for a in 0..n {
        for b in 0..n {
            let dot: f64 = (0..len).map(|k| at(a, k) * at(b, k)).sum();
            let want = if a == b { gain * gain } else { 0.0 };
            worst = worst.max((dot - want).abs());
        }
    }
    worst
}

#[test]
fn orthogonal_has_orthonormal_columns_or_rows() {
    let init = Initializer::Orthogonal { gain: 1.0 };
    // Tall [300, 200]: QᵀQ = I.
    let t = draw(init, &[300, 200], 11);
    assert!(orthogonality_error(&t, 300, 200, 1.0, false) < 1e-10);
    // Wide [200, 300]: Q Qᵀ = I.
    let t = draw(init, &[200, 300], 12);
    assert!(orthogonality_error(&t, 200, 300, 1.0, true) < 1e-10);
    // Square: both.
    let t = draw(init, &[64, 64], 13);
    assert!(orthogonality_error(&t, 64, 64, 1.0, true) < 1e-10);
    assert!(orthogonality_error(&t, 64, 64, 1.0, false) < 1e-10);
    // Rank 3 [3, 4, 5] is viewed as [12, 5].
    let t = draw(init, &[3, 4, 5], 14);
    assert_eq!(t.shape(), &[3, 4, 5]);
    assert!(orthogonality_error(&t, 12, 5, 1.0, false) < 1e-10);
}

#[test]
fn orthogonal_gain_scales_the_matrix() {
    let t = draw(Initializer::Orthogonal { gain: 2.0 }, &[40, 30], 15);
    assert!(orthogonality_error(&t, 40, 30, 2.0, false) < 1e-10);
}

#[test]
fn orthogonal_is_q_of_the_normal_draw_with_positive_r_diagonal() {
    // The documented construction: A is the [max, min] standard normal matrix
    // drawn row-major from the RNG, A = Q R with diag(R) > 0 (Keras's and
    // PyTorch's sign correction). So R = Qᵀ A must be upper triangular with
    // a positive diagonal.
    let (m, n) = (7, 4);
    let q = draw(Initializer::Orthogonal { gain: 1.0 }, &[m, n], 16);
    let mut rng = StdRng::seed_from_u64(16);
    let a: Vec<f64> = (0..m * n)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let q = q.as_slice();
    for i in 0..n {
        for j in 0..n {
            let r: f64 = (0..m).map(|k| q[k * n + i] * a[k * n + j]).sum();
            if i > j {
                assert!(r.abs() < 1e-10, "R[{i}, {j}] = {r}");
            } else if i == j {
                assert!(r > 0.0, "R[{i}, {i}] = {r}");
            }
        }
    }
}

#[test]
fn same_seed_same_weights_different_seed_different_weights() {
    let random = [
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
        },
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
        },
        Initializer::TruncatedNormal {
            mean: 0.0,
            stddev: 0.05,
        },
        Initializer::GlorotUniform,
        Initializer::GlorotNormal,
        Initializer::HeNormal,
        Initializer::HeUniform,
        Initializer::LecunNormal,
        Initializer::LecunUniform,
        Initializer::Orthogonal { gain: 1.0 },
    ];
    for init in random {
        assert_eq!(draw(init, &[5, 6], 42), draw(init, &[5, 6], 42), "{init}");
        assert_ne!(draw(init, &[5, 6], 42), draw(init, &[5, 6], 43), "{init}");
    }
}

#[test]
fn f32_and_f64_draws_agree_to_f32_precision() {
    let mut r32 = StdRng::seed_from_u64(3);
    let mut r64 = StdRng::seed_from_u64(3);
    for init in [Initializer::HeNormal, Initializer::Orthogonal { gain: 1.0 }] {
        let a = init.init_with_rng::<f32>(&[8, 5], &mut r32).unwrap();
        let b = init.init_with_rng::<f64>(&[8, 5], &mut r64).unwrap();
        assert_eq!(a, b.cast::<f32>(), "{init}");
    }
}

#[test]
fn bad_settings_are_errors_with_exact_messages() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut message = |init: Initializer, shape: &[usize]| {
        init.init_with_rng::<f32>(shape, &mut rng)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(
            Initializer::RandomNormal {
                mean: 0.0,
                stddev: -1.0
            },
            &[2]
        ),
        "initializer: random_normal needs a finite mean and a finite stddev >= 0, got mean 0, stddev -1"
    );
    assert_eq!(
        message(
            Initializer::TruncatedNormal {
                mean: f64::NAN,
                stddev: 1.0
            },
            &[2]
        ),
        "initializer: truncated_normal needs a finite mean and a finite stddev >= 0, got mean NaN, stddev 1"
    );
    assert_eq!(
        message(
            Initializer::RandomUniform {
                minval: 1.0,
                maxval: 0.0
            },
            &[2]
        ),
        "initializer: random_uniform needs finite minval <= maxval, got minval 1, maxval 0"
    );
    assert_eq!(
        message(
            Initializer::Constant {
                value: f64::INFINITY
            },
            &[2]
        ),
        "initializer: constant value must be finite, got inf"
    );
    assert_eq!(
        message(Initializer::Orthogonal { gain: 1.0 }, &[5]),
        "initializer: orthogonal needs a shape of at least 2 dimensions, got [5]"
    );
    assert_eq!(
        message(Initializer::Orthogonal { gain: 1.0 }, &[]),
        "initializer: orthogonal needs a shape of at least 2 dimensions, got []"
    );
}

#[test]
fn every_initializer_round_trips_through_config() {
    let all = [
        Initializer::Zeros,
        Initializer::Ones,
        Initializer::Constant { value: 0.5 },
        Initializer::RandomNormal {
            mean: 1.0,
            stddev: 2.0,
        },
        Initializer::RandomUniform {
            minval: -3.0,
            maxval: 4.0,
        },
        Initializer::TruncatedNormal {
            mean: -1.0,
            stddev: 0.25,
        },
        Initializer::GlorotUniform,
        Initializer::GlorotNormal,
        Initializer::HeNormal,
        Initializer::HeUniform,
        Initializer::LecunNormal,
        Initializer::LecunUniform,
        Initializer::Orthogonal { gain: 3.0 },
    ];
    for init in all {
        let config = init.to_config();
        assert_eq!(Initializer::from_config(&config).unwrap(), init, "{config}");
        assert_eq!(
            init.name().parse::<Initializer>().unwrap().name(),
            init.name()
        );
    }
    assert_eq!(
        Initializer::Orthogonal { gain: 3.0 }.to_config(),
        json!({"name": "orthogonal", "gain": 3.0})
    );
}

#[test]
fn names_take_keras_defaults() {
    let parse = |s: &str| s.parse::<Initializer>().unwrap();
    assert_eq!(
        parse("random_normal"),
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05
        }
    );
    assert_eq!(parse("normal"), parse("random_normal"));
    assert_eq!(
        parse("uniform"),
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05
        }
    );
    assert_eq!(parse("constant"), Initializer::Constant { value: 0.0 });
    assert_eq!(parse("orthogonal"), Initializer::Orthogonal { gain: 1.0 });
}

#[test]
fn bad_configs_are_errors_with_exact_messages() {
    let message = |v: serde_json::Value| Initializer::from_config(&v).unwrap_err().to_string();
    assert_eq!(
        message(json!("xavier")),
        "initializer: unknown initializer \"xavier\""
    );
    assert_eq!(
        message(json!({"name": "glorot_uniform", "gain": 1.0})),
        "initializer: glorot_uniform takes no setting \"gain\""
    );
    assert_eq!(
        message(json!({"name": "random_normal", "stddev": "big"})),
        "initializer: random_normal: stddev must be a number, got \"big\""
    );
    assert_eq!(
        message(json!(3)),
        "initializer: expected a name or an object, got 3"
    );
}
