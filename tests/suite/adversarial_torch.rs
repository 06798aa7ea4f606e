//! FGSM and PGD (no random start) produce the same perturbed inputs as a
//! plain PyTorch implementation on the same weights, to 1e-5: the golden
//! values and the script are those of tests/golden/captum_mlp.py.

use tapeflow::Result;
use tapeflow::adversarial::{Attack, Norm};
use tapeflow::explain::forward_fn;
use tapeflow::layers::Mode;

use crate::explain_captum::{digits, expected, torch_mlp};

fn assert_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5, "{name}[{i}]: got {g}, torch {w}");
    }
}

#[test]
fn fgsm_and_pgd_match_pytorch() -> Result<()> {
    let (model, (x, labels)) = (torch_mlp()?, digits()?);
    let f = forward_fn(|v| model.forward_var(v, Mode::Infer));
    let cases = [
        ("fgsm", Attack::fgsm(0.1)),
        ("pgd_linf", Attack::pgd(Norm::Linf, 0.1, 0.02, 10)),
        ("pgd_l2", Attack::pgd(Norm::L2, 1.0, 0.25, 10)),
    ];
    for (name, attack) in cases {
        let adv = attack.perturb(f, &x, &labels)?;
        assert_close(name, adv.as_slice(), &expected(name));
    }
    let targets: Vec<usize> = labels.iter().map(|l| (l + 1) % 10).collect();
    let targeted = Attack::pgd(Norm::Linf, 0.1, 0.02, 10).targeted(true);
    let adv = targeted.perturb(f, &x, &targets)?;
    assert_close(
        "pgd_linf_targeted",
        adv.as_slice(),
        &expected("pgd_linf_targeted"),
    );
    Ok(())
}
