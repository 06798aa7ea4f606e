//! Property tests: `matmul`, `matmul_tn` and `matmul_nt` agree with a naive
//! triple loop over random shapes (1×1, tall, wide, zero-sized dimensions,
//! sizes up to 70 that are not a multiple of any GEMM block), in the 2-D,
//! batched 3-D and shared-right-matrix 3-D forms, in `f32` and `f64`.
//!
//! Tolerance: the reference is summed in `f64` from the same inputs; a dot
//! product of length `k` in precision `ε` is within `γ·Σ|aᵢ||bᵢ|` of the
//! exact value with `γ = k·ε / (1 - k·ε)` whatever the summation order, so
//! each element is checked against `2·(k + 1)·ε·Σ|aᵢ||bᵢ|` (a relative
//! tolerance on the magnitude of the terms, not of the possibly cancelling
//! sum).

use proptest::prelude::*;
use tapeflow::{Float, Tensor};

/// Which product: the transposed operand of each variant.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `a · b`
    Nn,
    /// `aᵀ · b`
    Tn,
    /// `a · bᵀ`
    Nt,
}

/// How the operands are batched.
#[derive(Debug, Clone, Copy)]
enum Batch {
    /// Two 2-D operands.
    None,
    /// `[b, ..] · [b, ..]`.
    Batched(usize),
    /// `[b, ..] · [..]`: one right matrix shared by every batch entry.
    Shared(usize),
}

#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    batch: Batch,
    m: usize,
    k: usize,
    n: usize,
    lhs: Vec<f64>,
    rhs: Vec<f64>,
}

impl Case {
    fn count(&self) -> usize {
        match self.batch {
            Batch::None => 1,
            Batch::Batched(b) | Batch::Shared(b) => b,
        }
    }

    /// The stored shapes of both operands, as the method under test sees them.
    fn shapes(&self) -> (Vec<usize>, Vec<usize>) {
        let Case { m, k, n, .. } = *self;
        let lhs = match self.kind {
            Kind::Tn => vec![k, m],
            Kind::Nn | Kind::Nt => vec![m, k],
        };
        let rhs = match self.kind {
            Kind::Nt => vec![n, k],
            Kind::Nn | Kind::Tn => vec![k, n],
        };
        let prefix = |b: usize, s: Vec<usize>| [vec![b], s].concat();
        match self.batch {
            Batch::None => (lhs, rhs),
            Batch::Batched(b) => (prefix(b, lhs), prefix(b, rhs)),
            Batch::Shared(b) => (prefix(b, lhs), rhs),
        }
    }
}

/// One dimension: mostly the edge cases 0..=3, otherwise anything up to 70.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![2 => 0usize..=3, 3 => 1usize..=70]
}

fn case(kind: Kind) -> impl Strategy<Value = Case> {
    let batch = prop_oneof![
        Just(Batch::None),
        (0usize..=3).prop_map(Batch::Batched),
        (1usize..=3).prop_map(Batch::Shared),
    ];
    (batch, dim(), dim(), dim()).prop_flat_map(move |(batch, m, k, n)| {
        let count = match batch {
            Batch::None => 1,
            Batch::Batched(b) | Batch::Shared(b) => b,
        };
        let rhs_count = if matches!(batch, Batch::Shared(_)) {
            1
        } else {
            count
        };
        (
            prop::collection::vec(-1.0f64..1.0, count * m * k),
            prop::collection::vec(-1.0f64..1.0, rhs_count * k * n),
        )
            .prop_map(move |(lhs, rhs)| Case {
                kind,
                batch,
                m,
                k,
                n,
                lhs,
                rhs,
            })
    })
}

/// The naive triple loop: for every output element, the exact-ish value
/// (summed in `f64`) and the sum of the magnitudes of its terms.
fn naive(case: &Case, lhs: &[f64], rhs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let Case { m, k, n, .. } = *case;
    let mut want = Vec::with_capacity(case.count() * m * n);
    let mut scale = Vec::with_capacity(want.capacity());
    for b in 0..case.count() {
        let a = &lhs[b * m * k..];
        let r = match case.batch {
            Batch::Shared(_) => rhs,
            _ => &rhs[b * k * n..],
        };
        for i in 0..m {
            for j in 0..n {
                let (mut sum, mut mag) = (0.0, 0.0);
                for p in 0..k {
                    let x = match case.kind {
                        Kind::Tn => a[p * m + i],
                        Kind::Nn | Kind::Nt => a[i * k + p],
                    };
                    let y = match case.kind {
                        Kind::Nt => r[j * k + p],
                        Kind::Nn | Kind::Tn => r[p * n + j],
                    };
                    sum += x * y;
                    mag += (x * y).abs();
                }
                want.push(sum);
                scale.push(mag);
            }
        }
    }
    (want, scale)
}

fn check<T: Float>(case: &Case) -> Result<(), TestCaseError> {
    let (lhs_shape, rhs_shape) = case.shapes();
    let lhs: Vec<T> = case.lhs.iter().map(|&x| T::from_f64(x)).collect();
    let rhs: Vec<T> = case.rhs.iter().map(|&x| T::from_f64(x)).collect();
    let a = Tensor::from_vec(lhs.clone(), &lhs_shape).expect("lhs data matches shape");
    let b = Tensor::from_vec(rhs.clone(), &rhs_shape).expect("rhs data matches shape");
    let got = match case.kind {
        Kind::Nn => a.matmul(&b),
        Kind::Tn => a.matmul_tn(&b),
        Kind::Nt => a.matmul_nt(&b),
    }
    .map_err(|e| TestCaseError::fail(format!("unexpected error: {e}")))?;

    let Case { m, k, n, .. } = *case;
    let want_shape = match case.batch {
        Batch::None => vec![m, n],
        Batch::Batched(b) | Batch::Shared(b) => vec![b, m, n],
    };
    prop_assert_eq!(got.shape(), &want_shape[..]);

    // The reference sees exactly the rounded inputs the product saw.
    let widen = |xs: &[T]| xs.iter().map(|&x| Float::to_f64(x)).collect::<Vec<_>>();
    let (want, scale) = naive(case, &widen(&lhs), &widen(&rhs));
    let gamma = 2.0 * (k as f64 + 1.0) * Float::to_f64(T::epsilon());
    for (idx, ((&g, &w), &s)) in got.as_slice().iter().zip(&want).zip(&scale).enumerate() {
        let g = Float::to_f64(g);
        prop_assert!(
            (g - w).abs() <= gamma * s,
            "element {idx}: got {g}, want {w}, tolerance {}",
            gamma * s
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matmul_matches_naive_f32(c in case(Kind::Nn)) { check::<f32>(&c)?; }

    #[test]
    fn matmul_matches_naive_f64(c in case(Kind::Nn)) { check::<f64>(&c)?; }

    #[test]
    fn matmul_tn_matches_naive_f32(c in case(Kind::Tn)) { check::<f32>(&c)?; }

    #[test]
    fn matmul_tn_matches_naive_f64(c in case(Kind::Tn)) { check::<f64>(&c)?; }

    #[test]
    fn matmul_nt_matches_naive_f32(c in case(Kind::Nt)) { check::<f32>(&c)?; }

    #[test]
    fn matmul_nt_matches_naive_f64(c in case(Kind::Nt)) { check::<f64>(&c)?; }
}

/// The edge shapes named in the brief, each checked once whatever proptest draws.
#[test]
fn edge_shapes_match_naive() {
    let shapes = [
        (1, 1, 1),
        (70, 3, 1),   // tall
        (1, 3, 70),   // wide
        (2, 0, 3),    // k = 0: zeros
        (0, 4, 3),    // m = 0: empty
        (3, 4, 0),    // n = 0: empty
        (65, 67, 69), // no block multiple
    ];
    for (m, k, n) in shapes {
        for kind in [Kind::Nn, Kind::Tn, Kind::Nt] {
            for batch in [Batch::None, Batch::Batched(2), Batch::Shared(2)] {
                let count = match batch {
                    Batch::None => 1,
                    Batch::Batched(b) | Batch::Shared(b) => b,
                };
                let rhs_count = if matches!(batch, Batch::Shared(_)) {
                    1
                } else {
                    count
                };
                let fill = |len: usize, salt: usize| {
                    (0..len)
                        .map(|i| ((i * 7 + salt) % 11) as f64 / 5.0 - 1.0)
                        .collect::<Vec<_>>()
                };
                let c = Case {
                    kind,
                    batch,
                    m,
                    k,
                    n,
                    lhs: fill(count * m * k, 1),
                    rhs: fill(rhs_count * k * n, 4),
                };
                if let Err(e) = check::<f32>(&c).and_then(|()| check::<f64>(&c)) {
                    panic!("{kind:?} {batch:?} m={m} k={k} n={n}: {e}");
                }
            }
        }
    }
}

#[test]
fn zero_inner_dimension_gives_exact_zeros() {
    let a = Tensor::<f32>::zeros(&[3, 2, 0]).unwrap();
    let b = Tensor::<f32>::zeros(&[0, 4]).unwrap();
    let c = a.matmul(&b).expect("k = 0 is a valid product");
    assert_eq!(c.shape(), &[3, 2, 4]);
    assert!(c.as_slice().iter().all(|&x| x == 0.0));
}
