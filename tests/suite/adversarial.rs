//! Attacks on models built here: the perturbation stays in the ε-ball and
//! the valid range, seeds repeat, targeted attacks reach their target, PGD
//! is at least as strong as FGSM, robust accuracy, adversarial training in
//! `fit`, and every bad setting named in its error.

use tapeflow::Result;
use tapeflow::adversarial::{AdversarialTraining, Attack, Norm, evaluate_robust};
use tapeflow::explain::forward_fn;
use tapeflow::prelude::*;

/// Two Gaussian blobs in [0, 1]², 3 classes, `rows` rows; targets sparse.
fn blobs(rows: usize) -> Result<(Tensor, Tensor, Vec<usize>)> {
    let centres = [(0.25, 0.25), (0.75, 0.3), (0.5, 0.8)];
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for i in 0..rows {
        let c = i % 3;
        let a = ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2;
        let b = ((i * 53 % 97) as f32 / 97.0 - 0.5) * 0.2;
        x.push(centres[c].0 + a);
        x.push(centres[c].1 + b);
        labels.push(c);
    }
    let y = Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), &[rows])?;
    Ok((Tensor::from_vec(x, &[rows, 2])?, y, labels))
}

fn classifier() -> Result<Sequential> {
    let mut m = Sequential::new(&[2])
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dense::new(3))
        .seed(1);
    m.compile(
        Adam::new(0.05),
        SparseCategoricalCrossentropy { from_logits: true },
        &[Metric::Accuracy],
    )?;
    Ok(m)
}

fn trained() -> Result<(Sequential, Tensor, Tensor, Vec<usize>)> {
    let (x, y, labels) = blobs(150)?;
    let mut m = classifier()?;
    m.fit(
        &x,
        &y,
        FitOptions::default().epochs(60).batch_size(30).verbose(0),
    )?;
    Ok((m, x, y, labels))
}

#[test]
fn perturbations_stay_in_the_ball_and_the_range() -> Result<()> {
    let (m, x, y, _) = trained()?;
    for attack in [
        Attack::fgsm(0.1),
        Attack::pgd(Norm::Linf, 0.1, 0.03, 10)
            .random_start(true)
            .seed(4),
        Attack::pgd(Norm::L2, 0.2, 0.05, 10)
            .random_start(true)
            .seed(4),
    ] {
        let adv = m.perturb(&attack, &x, &y)?;
        assert_eq!(adv.shape(), x.shape());
        for (r, (arow, xrow)) in adv
            .as_slice()
            .chunks(2)
            .zip(x.as_slice().chunks(2))
            .enumerate()
        {
            let d: Vec<f32> = arow.iter().zip(xrow).map(|(a, b)| a - b).collect();
            let size = if format!("{attack:?}").contains("L2") {
                d.iter().map(|v| v * v).sum::<f32>().sqrt()
            } else {
                d.iter().fold(0.0f32, |m, v| m.max(v.abs()))
            };
            assert!(
                size <= attack.get_epsilon() as f32 + 1e-6,
                "{attack:?} row {r}: {size}"
            );
            assert!(arow.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        // The same seed repeats the perturbation exactly.
        assert_eq!(adv, m.perturb(&attack, &x, &y)?);
    }
    // Another seed gives another random start.
    let a = Attack::pgd(Norm::Linf, 0.1, 0.03, 2).random_start(true);
    assert_ne!(
        m.perturb(&a.clone().seed(1), &x, &y)?,
        m.perturb(&a.seed(2), &x, &y)?
    );
    Ok(())
}

#[test]
fn pgd_is_at_least_as_strong_as_fgsm_and_the_attack_hurts() -> Result<()> {
    let (m, x, y, labels) = trained()?;
    let eps = 0.15;
    let fgsm = m.evaluate_robust(&Attack::fgsm(eps), &x, &y)?;
    let pgd = m.evaluate_robust(&Attack::pgd(Norm::Linf, eps, eps / 4.0, 20), &x, &y)?;
    assert!(fgsm.clean > 0.95, "clean {}", fgsm.clean);
    assert_eq!(fgsm.clean, pgd.clean);
    assert!(fgsm.robust < fgsm.clean, "{fgsm:?}");
    assert!(pgd.robust <= fgsm.robust, "pgd {pgd:?} fgsm {fgsm:?}");
    // The forward-function version (cross-entropy of the logits) agrees.
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let r = evaluate_robust(f, &Attack::fgsm(eps), &x, &labels)?;
    assert_eq!(r, fgsm);
    Ok(())
}

#[test]
fn targeted_pgd_reaches_its_target() -> Result<()> {
    let (m, x, _, labels) = trained()?;
    let rows: Vec<usize> = (0..30).collect();
    let x = x.select_rows(&rows)?;
    let targets: Vec<usize> = rows.iter().map(|&r| (labels[r] + 1) % 3).collect();
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let attack = Attack::pgd(Norm::Linf, 0.6, 0.05, 40).targeted(true);
    let adv = attack.perturb(f, &x, &targets)?;
    let got = m.predict_classes(&adv)?;
    let hits = got.iter().zip(&targets).filter(|(a, b)| a == b).count();
    assert!(hits >= 27, "{hits} of 30 reached their target");
    Ok(())
}

#[test]
fn adversarial_training_in_fit_records_robust_accuracy_and_raises_it() -> Result<()> {
    let (x, y, _) = blobs(150)?;
    let (vx, vy, _) = blobs(60)?;
    let attack = Attack::pgd(Norm::Linf, 0.15, 0.05, 5)
        .random_start(true)
        .seed(2);
    let mut plain = classifier()?;
    plain.fit(
        &x,
        &y,
        FitOptions::default().epochs(60).batch_size(30).verbose(0),
    )?;
    let mut robust = classifier()?;
    let at = AdversarialTraining::new(attack.clone(), 1.0).validate(true);
    let opts = FitOptions::default()
        .epochs(60)
        .batch_size(30)
        .verbose(0)
        .adversarial(at)
        .validation_data(vx.clone(), vy.clone());
    let h = robust.fit(&x, &y, opts)?;
    let rec = h.get("val_robust_accuracy").expect("recorded");
    assert_eq!(rec.len(), 60);
    let pgd20 = Attack::pgd(Norm::Linf, 0.15, 0.03, 20);
    let r_plain = plain.evaluate_robust(&pgd20, &vx, &vy)?;
    let r_robust = robust.evaluate_robust(&pgd20, &vx, &vy)?;
    assert!(
        r_robust.robust > r_plain.robust,
        "robust {r_robust:?}, plain {r_plain:?}"
    );
    // The last recorded value is the robust accuracy of the final weights
    // under the training attack.
    let last = robust.evaluate_robust(&attack, &vx, &vy)?;
    assert_eq!(h.last("val_robust_accuracy"), Some(last.robust));
    assert_eq!(h.last("val_clean_accuracy"), Some(last.clean));
    Ok(())
}

#[test]
fn bad_settings_are_errors_naming_the_setting() -> Result<()> {
    let (m, x, y, labels) = trained()?;
    let msg = |e: tapeflow::Error| e.to_string();
    for eps in [-0.1, f64::NAN] {
        let e = m
            .perturb(&Attack::pgd(Norm::L2, eps, 0.1, 3), &x, &y)
            .unwrap_err();
        assert_eq!(
            msg(e),
            format!("pgd: epsilon must be finite and >= 0, got {eps}")
        );
    }
    let e = m.perturb(&Attack::fgsm(-1.0), &x, &y).unwrap_err();
    assert_eq!(msg(e), "fgsm: epsilon must be finite and >= 0, got -1");
    let e = m
        .perturb(&Attack::pgd(Norm::Linf, 0.1, 0.01, 0), &x, &y)
        .unwrap_err();
    assert_eq!(msg(e), "pgd: steps must be at least 1, got 0");
    let e = m
        .perturb(&Attack::pgd(Norm::Linf, 0.1, f64::INFINITY, 2), &x, &y)
        .unwrap_err();
    assert_eq!(msg(e), "pgd: step_size must be finite and >= 0, got inf");
    let e = m
        .perturb(&Attack::fgsm(0.1).clip_range(1.0, 0.0), &x, &y)
        .unwrap_err();
    assert_eq!(
        msg(e),
        "fgsm: the clip range needs finite min <= max, got [1, 0]"
    );
    // A target class outside the model's 3 outputs.
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let mut bad = labels.clone();
    bad[4] = 3;
    let e = Attack::fgsm(0.1)
        .targeted(true)
        .perturb(f, &x, &bad)
        .unwrap_err();
    assert_eq!(
        msg(e),
        "fgsm: class 3 (row 4) is out of range for a model with 3 outputs"
    );
    let e = Attack::fgsm(0.1).perturb(f, &x, &labels[..3]).unwrap_err();
    assert_eq!(msg(e), "fgsm: needs one label per row, got 3 for 150 rows");
    let e = evaluate_robust(f, &Attack::fgsm(0.1).targeted(true), &x, &labels).unwrap_err();
    assert_eq!(
        msg(e),
        "evaluate_robust: robust accuracy needs an untargeted attack"
    );
    // Adversarial training: a share outside [0, 1]; validation without data.
    let mut fresh = classifier()?;
    let at = AdversarialTraining::new(Attack::fgsm(0.1), 1.5);
    let e = fresh
        .fit(&x, &y, FitOptions::default().adversarial(at).verbose(0))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "fit: the adversarial share must be in [0, 1], got 1.5"
    );
    let at = AdversarialTraining::new(Attack::fgsm(0.1), 0.5).validate(true);
    let e = fresh
        .fit(&x, &y, FitOptions::default().adversarial(at).verbose(0))
        .unwrap_err();
    assert!(msg(e).starts_with("fit: robust validation needs validation data"));
    let at = AdversarialTraining::new(Attack::fgsm(f64::NAN), 0.5);
    let e = fresh
        .fit(&x, &y, FitOptions::default().adversarial(at).verbose(0))
        .unwrap_err();
    assert_eq!(msg(e), "fgsm: epsilon must be finite and >= 0, got NaN");
    // A sparse label that is not a class, through the compiled loss.
    let y_bad = Tensor::from_vec(vec![7.0; 150], &[150])?;
    assert!(m.perturb(&Attack::fgsm(0.1), &x, &y_bad).is_err());
    Ok(())
}

#[test]
fn a_non_finite_loss_gradient_is_an_error_not_a_silent_nan() -> Result<()> {
    let x = Tensor::from_vec(vec![0.5f32, 0.5], &[1, 2])?;
    // L = Σ √(x − 1): NaN for x < 1.
    let e = Attack::pgd(Norm::L2, 0.1, 0.05, 3)
        .perturb_with_loss(&x, |v| Ok(v.sub_scalar(1.0).sqrt().sum()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "pgd: the loss gradient is not finite at step 0"
    );
    Ok(())
}
