//! Acceptance tests for `tapeflow::optimizers`: every optimizer against
//! PyTorch (or, for Lion, the paper's pseudo-code) over four steps, clipping,
//! schedules, frozen parameters, state save/load and error messages.

use serde_json::json;
use tapeflow::optimizers::{
    self, Adadelta, Adagrad, Adam, AdamW, LearningRateSchedule, Lion, Nadam, Optimizer, RmsProp,
    Sgd,
};
use tapeflow::{Gradients, Param, Tensor};

/// The starting parameter (shape [2, 3]) and the gradient of each step, as in
/// tests/golden/optimizers.py.
const P0: [f64; 6] = [0.5, -1.2, 0.3, 2.0, -0.7, 1.1];
const GRADS: [[f64; 6]; 4] = [
    [0.1, -0.4, 0.9, -1.5, 0.05, 0.3],
    [-0.2, 0.3, 0.7, 0.8, -0.6, 0.0],
    [0.5, 0.5, -0.1, -0.3, 1.2, -0.9],
    [0.05, -0.9, 0.4, 0.6, 0.2, -0.25],
];

// The parameter after each step, printed by `python3 tests/golden/optimizers.py`
// (torch 2.15 in float64, eps=1e-7; Lion from the paper's pseudo-code in numpy).
#[rustfmt::skip]
mod golden {
    pub const SGD_PLAIN: [[f64; 6]; 4] = [
        [0.49, -1.16, 0.21, 2.15, -0.705, 1.07],
        [0.51, -1.19, 0.13999999999999999, 2.07, -0.6449999999999999, 1.07],
        [0.46, -1.24, 0.15, 2.0999999999999996, -0.7649999999999999, 1.1600000000000001],
        [0.455, -1.15, 0.10999999999999999, 2.0399999999999996, -0.7849999999999999, 1.185],
    ];
    pub const SGD_MOMENTUM: [[f64; 6]; 4] = [
        [0.49, -1.16, 0.21, 2.15, -0.705, 1.07],
        [0.502, -1.158, 0.06799999999999999, 2.19, -0.6489999999999999, 1.046],
        [0.4616, -1.2064, -0.03559999999999999, 2.252, -0.7242, 1.1168],
        [0.42428, -1.15512, -0.15847999999999998, 2.2415999999999996, -0.80436, 1.19844],
    ];
    pub const SGD_NESTEROV_WD: [[f64; 6]; 4] = [
        [0.48005, -1.12172, 0.12843, 2.2812, -0.70817, 1.04091],
        [0.508632905, -1.143216732, -0.07795701700000002, 2.24474572, -0.596307477, 1.013741271],
        [0.4208231619805, -1.2294012270092, -0.18144162696770003, 2.338724931132, -0.7771355750937, 1.1593001254851],
        [0.37695259886968707, -1.0896603052449625, -0.3593031981626914, 2.279882914929649, -0.868940982514652, 1.2555127914271684],
    ];
    pub const ADAM: [[f64; 6]; 4] = [
        [0.40000009999990005, -1.1000000249999937, 0.20000001111110988, 2.0999999933333338, -0.7999998000003999, 1.0000000333333223],
        [0.436610429552553, -1.0910675267861314, 0.1014189803131779, 2.124084383447272, -0.7314046880284162, 0.9329942395144062],
        [0.3898367875207977, -1.1313765215244997, 0.03109327875249404, 2.1535291291407144, -0.7647387758819726, 0.9772389747619449],
        [0.34639537956537975, -1.1060521064582387, -0.042474759013777175, 2.1572062580165468, -0.8003131531177118, 1.0271005776032403],
    ];
    pub const ADAM_AMSGRAD_L2: [[f64; 6]; 4] = [
        [0.4500000333333111, -1.1500000096153826, 0.2500000053763435, 2.0499999961538466, -0.65000024999875, 1.050000012195119],
        [0.4563738749138249, -1.1335263818980337, 0.201032131935138, 2.0508372778483137, -0.6098900295059876, 1.009720784972584],
        [0.42518557336564633, -1.1441716562353936, 0.16812686070858532, 2.0534873310757, -0.6258190438851102, 1.0274367186096505],
        [0.3963386907766581, -1.120542572537411, 0.13303007480249382, 2.04037628625292, -0.6414514051286947, 1.0462611461085098],
    ];
    pub const ADAMW: [[f64; 6]; 4] = [
        [0.39980009999990007, -1.0995200249999937, 0.19988001111110987, 2.099199993333334, -0.7997198000004, 0.9995600333333223],
        [0.4362505095125531, -1.0901477187761315, 0.10121902830873346, 2.122444703449939, -0.7308048001084161, 0.9321544155010729],
        [0.3893023672769928, -1.1300206544269895, 0.03085283913672611, 2.1510404712620015, -0.7638465660419291, 0.9760262889824112],
        [0.34570523837466405, -1.1042442310989578, -0.042727539765199794, 2.153857183949329, -0.7991154046512516, 1.0254974813081137],
    ];
    pub const ADAMW_AMSGRAD: [[f64; 6]; 4] = [
        [0.39500009999990005, -1.0880000249999937, 0.19700001111110987, 2.0799999933333337, -0.7929998000003999, 0.9890000333333222],
        [0.42766042855255404, -1.0681875265361314, 0.09644898020206681, 2.0832843835139387, -0.7164746900284121, 0.9121377504421037],
        [0.37661018223527315, -1.0978146460091385, 0.025158788839362276, 2.0918962853722416, -0.7426440309816844, 0.9472611081852214],
        [0.3294026724575025, -1.0615120844827861, -0.04866083681530256, 2.0746544513943515, -0.7707919679076067, 0.9876500999446645],
    ];
    pub const NADAM: [[f64; 6]; 4] = [
        [0.39435492780953335, -1.094354848575749, 0.19435483390281294, 2.105645170792527, -0.8056449665456057, 0.9943548573795088],
        [0.4850106197504277, -1.1520289610081564, 0.12520166575488803, 2.062014942154914, -0.7020310629712891, 0.9880477587608923],
        [0.3834439830207118, -1.2312440972681415, 0.12540993145269785, 2.083978200626085, -0.7998907729079345, 1.0930435845239792],
        [0.36616777912457155, -1.137130838382785, 0.07596044637429827, 2.046900607245059, -0.8223944788920234, 1.1301218372799682],
    ];
    pub const RMSPROP: [[f64; 6]; 4] = [
        [0.468377323398, -1.1683772483982964, 0.2683772345094234, 2.0316227699350184, -0.7316225766029486, 1.0683772567316145],
        [0.4969487111531603, -1.1879888490916104, 0.2483280799974164, 2.0161259960523727, -0.7000981769165229, 1.0683772567316145],
        [0.46779309399779884, -1.2112862694166895, 0.2513335087995137, 2.0221398426400703, -0.728653213382025, 1.0986663731787072],
        [0.4647342337279504, -1.1855671617036174, 0.23957079040503684, 2.010372084752342, -0.7336078639814251, 1.1072056595715096],
    ];
    pub const RMSPROP_CENTERED_MOMENTUM: [[f64; 6]; 4] = [
        [0.4750000624998437, -1.1750000156249902, 0.2750000069444425, 2.0249999958333342, -0.7249998750006249, 1.0750000208333161],
        [0.48355386961333136, -1.1768700477774665, 0.24423911799942022, 2.0259721870570457, -0.7129754782052268, 1.0625000312499742],
        [0.4657231924322109, -1.1960007443091318, 0.23152039295073204, 2.0312436099951023, -0.7280679429586917, 1.0792237628444412],
        [0.4543407225444689, -1.1863511757121428, 0.21355908013871172, 2.024372115126875, -0.7395438079126858, 1.0946664545448717],
    ];
    pub const ADAGRAD: [[f64; 6]; 4] = [
        [0.46984887463312996, -1.1215535613293386, 0.2056543745851362, 2.097849204575038, -0.7156173713108133, 1.0311752956283016],
        [0.5214886392492323, -1.1722628080416224, 0.14649358175413962, 2.051584012693324, -0.6273916296325274, 1.0311752956283016],
        [0.4424317102450208, -1.2368125221450805, 0.15491510025558503, 2.0686780981882436, -0.7143915553563673, 1.1211752866283025],
        [0.4345506074248656, -1.161018855632072, 0.12299162742465064, 2.036328267971398, -0.7287414743934499, 1.1454288467789948],
    ];
    pub const ADADELTA: [[f64; 6]; 4] = [
        [0.4990000499962503, -1.1990000031249852, 0.2990000006172834, 2.0009999997777776, -0.70099980005998, 1.0990000055555094],
        [0.500277758147445, -1.1998770578998499, 0.2981033755573768, 2.0003069630538888, -0.6995901281841445, 1.0990000055555094],
        [0.49854491341549895, -1.2010807064768485, 0.29825965596425175, 2.0006003684843487, -0.701370372596259, 1.1003202737546063],
        [0.49830247218819507, -1.1994640674325754, 0.2976647408893695, 2.00003253833794, -0.7017779630909485, 1.1008292823729011],
    ];
    pub const LION: [[f64; 6]; 4] = [
        [0.4, -1.0999999999999999, 0.19999999999999998, 2.1, -0.7999999999999999, 1.0],
        [0.5, -1.2, 0.09999999999999998, 2.0, -0.7, 0.9],
        [0.4, -1.3, -2.7755575615628914e-17, 2.1, -0.7999999999999999, 1.0],
        [0.30000000000000004, -1.2, -0.10000000000000003, 2.0, -0.8999999999999999, 1.1],
    ];
    pub const LION_WD: [[f64; 6]; 4] = [
        [0.395, -1.0879999999999999, 0.19699999999999998, 2.08, -0.7929999999999999, 0.9890000000000001],
        [0.49105000000000004, -1.17712, 0.09502999999999998, 1.9592, -0.68507, 0.8791100000000001],
        [0.3861395, -1.2653488, -0.005920300000000031, 2.039608, -0.7782193, 0.9703189000000001],
        [0.282278105, -1.1526953119999999, -0.10586109700000004, 1.91921192, -0.870437107, 1.060615711],
    ];
}
use golden::*;

fn tensor(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("test data matches its shape")
}

fn grads_for(pairs: &[(&Param<f64>, &[f64])]) -> Gradients<f64> {
    let mut g = Gradients::default();
    for (p, data) in pairs {
        g.insert_param(p.id(), tensor(data, p.value().shape()));
    }
    g
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// Runs the four golden steps and compares after each one.
fn check_golden(mut opt: impl Optimizer<f64>, expected: &[[f64; 6]; 4]) {
    let mut p = Param::new("w", tensor(&P0, &[2, 3]));
    for (step, (g, want)) in GRADS.iter().zip(expected).enumerate() {
        let grads = grads_for(&[(&p, g)]);
        opt.apply_gradients(&grads, &mut [&mut p])
            .expect("valid step");
        assert_close(
            p.value().as_slice(),
            want,
            1e-12,
            &format!("{} step {}", opt.name(), step + 1),
        );
    }
    assert_eq!(opt.iterations(), 4);
}

#[test]
fn sgd_matches_pytorch_four_steps() {
    check_golden(Sgd::new(0.1), &SGD_PLAIN);
}

#[test]
fn sgd_momentum_matches_pytorch_four_steps() {
    check_golden(Sgd::new(0.1).momentum(0.8), &SGD_MOMENTUM);
}

#[test]
fn sgd_nesterov_weight_decay_matches_pytorch_four_steps() {
    check_golden(
        Sgd::new(0.1)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(0.01),
        &SGD_NESTEROV_WD,
    );
}

#[test]
fn adam_matches_pytorch_four_steps() {
    check_golden(Adam::new(0.1), &ADAM);
}

#[test]
fn adam_amsgrad_l2_matches_pytorch_four_steps() {
    let opt = Adam::new(0.05)
        .beta_1(0.8)
        .beta_2(0.99)
        .amsgrad(true)
        .weight_decay(0.1);
    check_golden(opt, &ADAM_AMSGRAD_L2);
}

#[test]
fn adamw_matches_pytorch_four_steps() {
    check_golden(AdamW::new(0.1), &ADAMW);
}

#[test]
fn adamw_amsgrad_matches_pytorch_four_steps() {
    check_golden(
        AdamW::new(0.1).weight_decay(0.1).amsgrad(true),
        &ADAMW_AMSGRAD,
    );
}

#[test]
fn nadam_matches_pytorch_four_steps() {
    check_golden(Nadam::new(0.1), &NADAM);
}

#[test]
fn rmsprop_matches_pytorch_four_steps() {
    check_golden(RmsProp::new(0.01), &RMSPROP);
}

#[test]
fn rmsprop_centered_momentum_matches_pytorch_four_steps() {
    let opt = RmsProp::new(0.01).rho(0.8).momentum(0.5).centered(true);
    check_golden(opt, &RMSPROP_CENTERED_MOMENTUM);
}

#[test]
fn adagrad_matches_pytorch_four_steps() {
    check_golden(Adagrad::new(0.1), &ADAGRAD);
}

#[test]
fn adadelta_matches_pytorch_four_steps() {
    check_golden(Adadelta::new(1.0).rho(0.9), &ADADELTA);
}

#[test]
fn lion_matches_paper_pseudocode_four_steps() {
    check_golden(Lion::new(0.1), &LION);
}

#[test]
fn lion_weight_decay_matches_paper_pseudocode_four_steps() {
    check_golden(
        Lion::new(0.1).beta_1(0.8).beta_2(0.95).weight_decay(0.1),
        &LION_WD,
    );
}

#[test]
fn adam_in_f32_follows_the_f64_reference() {
    let mut p = Param::new("w", tensor(&P0, &[2, 3]).cast::<f32>());
    let mut opt = Adam::<f32>::new(0.1);
    for (g, want) in GRADS.iter().zip(&ADAM) {
        let mut grads = Gradients::default();
        grads.insert_param(p.id(), tensor(g, &[2, 3]).cast::<f32>());
        opt.apply_gradients(&grads, &mut [&mut p])
            .expect("valid step");
        let got: Vec<f64> = p.value().as_slice().iter().map(|&x| f64::from(x)).collect();
        assert_close(&got, want, 1e-5, "adam f32");
    }
}

/// Every optimizer, with non-default settings, as a trait object.
fn all_optimizers() -> Vec<Box<dyn Optimizer<f64>>> {
    vec![
        Box::new(
            Sgd::new(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(0.01),
        ),
        Box::new(Adam::new(0.05).amsgrad(true).weight_decay(0.1)),
        Box::new(AdamW::new(0.05).beta_1(0.8)),
        Box::new(Nadam::new(0.05).beta_2(0.99)),
        Box::new(RmsProp::new(0.01).momentum(0.5).centered(true)),
        Box::new(Adagrad::new(0.1).initial_accumulator_value(0.5)),
        Box::new(Adadelta::new(1.0).rho(0.9)),
        Box::new(Lion::new(0.01).weight_decay(0.1)),
    ]
}

/// Runs `steps` of the golden gradients on two params (the second gets
/// `-g/2`), with a frozen and a gradient-less param between them.
fn run_steps(opt: &mut dyn Optimizer<f64>, params: &mut [Param<f64>; 4], steps: &[[f64; 6]]) {
    for g in steps {
        let half: Vec<f64> = g.iter().map(|x| -x / 2.0).collect();
        let frozen_grad = [1.0; 6];
        let grads = grads_for(&[
            (&params[0], g),
            (&params[1], &frozen_grad),
            (&params[3], &half),
        ]);
        let mut refs: Vec<&mut Param<f64>> = params.iter_mut().collect();
        opt.apply_gradients(&grads, &mut refs).expect("valid step");
    }
}

fn four_params() -> [Param<f64>; 4] {
    let mut frozen = Param::new("frozen", tensor(&P0, &[2, 3]));
    frozen.set_trainable(false);
    [
        Param::new("a", tensor(&P0, &[2, 3])),
        frozen,
        Param::new("no_grad", tensor(&P0, &[2, 3])),
        Param::new("b", tensor(&P0, &[6])),
    ]
}

#[test]
fn frozen_and_gradient_less_params_are_untouched() {
    for mut opt in all_optimizers() {
        let mut params = four_params();
        run_steps(opt.as_mut(), &mut params, &GRADS);
        assert_eq!(params[1].value().as_slice(), &P0, "{}", opt.name());
        assert_eq!(params[2].value().as_slice(), &P0, "{}", opt.name());
        assert_ne!(params[0].value().as_slice(), &P0, "{}", opt.name());
        // Only positions 0 and 3 have state.
        for (key, _) in opt.state().iter().skip(1) {
            assert!(
                key.ends_with("/0") || key.ends_with("/3"),
                "{}: {key}",
                opt.name()
            );
        }
    }
}

#[test]
fn state_round_trip_continues_identically() {
    for (mut straight, mut first) in all_optimizers().into_iter().zip(all_optimizers()) {
        let name = straight.name();
        let mut a = four_params();
        run_steps(straight.as_mut(), &mut a, &GRADS);

        let mut b = four_params();
        run_steps(first.as_mut(), &mut b, &GRADS[..2]);
        let saved = first.state();
        assert_eq!(saved[0].0, "iterations");
        // A new optimizer from the config, new params (new ids) with the saved values.
        let mut second = optimizers::from_config::<f64>(name, &first.config()).expect("config");
        second.load_state(&saved).expect("load");
        assert_eq!(second.iterations(), 2);
        assert_eq!(
            second.state().len(),
            saved.len(),
            "{name}: state before the next step"
        );
        let mut c = b.clone().map(|p| {
            let mut q = Param::new(p.name(), p.value().clone());
            q.set_trainable(p.trainable());
            q
        });
        run_steps(second.as_mut(), &mut c, &GRADS[2..]);
        for (x, y) in a.iter().zip(&c) {
            assert_eq!(
                x.value().as_slice(),
                y.value().as_slice(),
                "{name}: {}",
                x.name()
            );
        }
        assert_eq!(second.iterations(), 4);
    }
}

#[test]
fn state_keys_follow_param_positions() {
    let mut opt = Adam::new(0.1).amsgrad(true);
    let mut params = four_params();
    run_steps(&mut opt, &mut params, &GRADS[..1]);
    let keys: Vec<String> = opt.state().into_iter().map(|(k, _)| k).collect();
    let want = [
        "iterations",
        "momentum/0",
        "velocity/0",
        "velocity_hat/0",
        "momentum/3",
    ];
    assert_eq!(&keys[..5], &want);
    assert_eq!(keys.len(), 7);
    let iterations = &opt.state()[0].1;
    assert_eq!(iterations.as_slice(), &[1.0, 0.0]);
}

#[test]
fn loaded_state_must_fit_the_params() {
    let mut w = Param::new("w", tensor(&[1.0, 2.0], &[2]));
    let grads = grads_for(&[(&w, &[1.0, 1.0])]);
    let iterations = ("iterations".to_string(), tensor(&[3.0, 0.0], &[2]));
    let mut opt = Sgd::new(0.1).momentum(0.9);
    opt.load_state(&[
        iterations.clone(),
        ("momentum/0".into(), tensor(&[1.0; 3], &[3])),
    ])
    .expect("well-formed state");
    let err = opt.apply_gradients(&grads, &mut [&mut w]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sgd: loaded state momentum/0 has shape [3], param \"w\" has shape [2]"
    );
    assert_eq!(w.value().as_slice(), &[1.0, 2.0]);
    opt.load_state(&[
        iterations.clone(),
        ("momentum/4".into(), tensor(&[1.0; 2], &[2])),
    ])
    .expect("well-formed state");
    let err = opt.apply_gradients(&grads, &mut [&mut w]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sgd: loaded state is for param 4, but only 1 params were given"
    );
    assert_eq!(opt.iterations(), 3);

    let err = opt.load_state(&[
        iterations.clone(),
        ("velocity/0".into(), tensor(&[1.0], &[1])),
    ]);
    assert!(
        err.unwrap_err()
            .to_string()
            .starts_with("load_state: sgd has no state 'velocity/0'")
    );
    let err = opt.load_state(&[]).unwrap_err();
    assert_eq!(err.to_string(), "load_state: missing 'iterations'");
    let mut adam = Adam::<f64>::new(0.1);
    let err = adam.load_state(&[iterations, ("momentum/0".into(), tensor(&[1.0], &[1]))]);
    assert_eq!(
        err.unwrap_err().to_string(),
        "load_state: state of param 0 lacks 'velocity/0'"
    );
}

#[test]
fn gradient_shape_mismatch_names_param_and_shapes() {
    let mut w = Param::new("dense/kernel", tensor(&[1.0; 6], &[2, 3]));
    let mut b = Param::new("dense/bias", tensor(&[1.0; 3], &[3]));
    let mut grads = grads_for(&[(&b, &[1.0; 3])]);
    grads.insert_param(w.id(), tensor(&[1.0; 6], &[3, 2]));
    let mut opt = Adam::new(0.1);
    let err = opt
        .apply_gradients(&grads, &mut [&mut b, &mut w])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "adam: gradient shape [3, 2] does not match param \"dense/kernel\" shape [2, 3]"
    );
    // Nothing moved, not even the param checked before the bad one.
    assert_eq!(b.value().as_slice(), &[1.0; 3]);
    assert_eq!(opt.iterations(), 0);
    assert_eq!(opt.state().len(), 1);
}

#[test]
fn invalid_settings_are_errors_at_apply_time() {
    let mut w = Param::new("w", tensor(&[1.0], &[1]));
    let grads = grads_for(&[(&w, &[1.0])]);
    let cases: Vec<(Box<dyn Optimizer<f64>>, &str)> = vec![
        (
            Box::new(Sgd::new(-0.1)),
            "sgd: learning_rate must be finite and >= 0 in f64, got -0.1",
        ),
        (
            Box::new(Adam::new(0.1).beta_1(1.0)),
            "adam: beta_1 must be in [0, 1), got 1",
        ),
        (
            Box::new(AdamW::new(0.1).epsilon(-1e-7)),
            "adamw: epsilon must be finite and > 0 in f64, got -0.0000001",
        ),
        (
            Box::new(Sgd::new(0.1).nesterov(true)),
            "sgd: momentum must be > 0 with nesterov, got 0",
        ),
        (
            Box::new(RmsProp::new(0.1).rho(1.5)),
            "rmsprop: rho must be in [0, 1), got 1.5",
        ),
        (
            Box::new(Lion::new(0.1).beta_2(-0.1)),
            "lion: beta_2 must be in [0, 1), got -0.1",
        ),
        (
            Box::new(Adagrad::new(0.1).clip_norm(0.0)),
            "adagrad: clip_norm must be finite and > 0 in f64, got 0",
        ),
        (
            Box::new(Adadelta::new(0.1).clip_norm(1.0).global_clip_norm(1.0)),
            "adadelta: only one of clip_norm, clip_value and global_clip_norm may be set, got clip_norm and global_clip_norm",
        ),
        (
            Box::new(Nadam::new(LearningRateSchedule::cosine_decay(0.1, 0))),
            "CosineDecay: decay_steps must be > 0, got 0",
        ),
    ];
    for (mut opt, message) in cases {
        let err = opt.apply_gradients(&grads, &mut [&mut w]).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(w.value().as_slice(), &[1.0]);
}

/// One step of plain SGD with `lr = 1` shows the applied gradient: `-Δp`.
fn applied(opt: Sgd<f64>, gs: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut opt = opt;
    let mut ps: Vec<Param<f64>> = gs
        .iter()
        .map(|g| Param::new("p", tensor(&vec![0.0; g.len()], &[g.len()])))
        .collect();
    let pairs: Vec<(&Param<f64>, &[f64])> = ps.iter().zip(gs).map(|(p, g)| (p, *g)).collect();
    let grads = grads_for(&pairs);
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    opt.apply_gradients(&grads, &mut refs).expect("valid step");
    ps.iter()
        .map(|p| p.value().as_slice().iter().map(|x| -x).collect())
        .collect()
}

#[test]
fn clip_norm_scales_each_tensor_to_the_norm() {
    // ‖[3, 4]‖ = 5 → [0.6, 0.8]; ‖[0.3, 0.4]‖ = 0.5 ≤ 1 is unchanged.
    let got = applied(Sgd::new(1.0).clip_norm(1.0), &[&[3.0, 4.0], &[0.3, 0.4]]);
    assert_close(&got[0], &[0.6, 0.8], 1e-15, "clipped");
    assert_close(&got[1], &[0.3, 0.4], 1e-15, "unclipped");
}

#[test]
fn global_clip_norm_scales_all_gradients_by_one_factor() {
    // Joint norm of [3] and [0, 4] is 5; with c = 2.5 everything is halved.
    let got = applied(Sgd::new(1.0).global_clip_norm(2.5), &[&[3.0], &[0.0, 4.0]]);
    assert_close(&got[0], &[1.5], 1e-15, "first");
    assert_close(&got[1], &[0.0, 2.0], 1e-15, "second");
    let got = applied(Sgd::new(1.0).global_clip_norm(10.0), &[&[3.0], &[0.0, 4.0]]);
    assert_close(&got[1], &[0.0, 4.0], 1e-15, "below the limit");
}

#[test]
fn clip_value_clamps_elements() {
    let got = applied(Sgd::new(1.0).clip_value(0.5), &[&[2.0, -3.0, 0.1]]);
    assert_close(&got[0], &[0.5, -0.5, 0.1], 1e-15, "clamped");
}

#[test]
fn clipping_applies_to_every_optimizer() {
    // Clipping through the optimizer equals feeding it pre-clipped gradients.
    for (opt, plain) in all_optimizers().into_iter().zip(all_optimizers()) {
        let name = opt.name();
        let mut config = opt.config();
        config["clip_value"] = json!(0.3);
        let mut clipped = optimizers::from_config::<f64>(name, &config).expect("config");
        let mut plain = plain;
        let mut p = Param::new("w", tensor(&P0, &[2, 3]));
        let mut q = Param::new("w", tensor(&P0, &[2, 3]));
        for g in &GRADS {
            let c: Vec<f64> = g.iter().map(|x| x.clamp(-0.3, 0.3)).collect();
            clipped
                .apply_gradients(&grads_for(&[(&p, g)]), &mut [&mut p])
                .expect("step");
            plain
                .apply_gradients(&grads_for(&[(&q, &c)]), &mut [&mut q])
                .expect("step");
        }
        assert_eq!(p.value().as_slice(), q.value().as_slice(), "{name}");
    }
}

#[test]
fn optimizer_evaluates_schedule_at_its_step_count() {
    let schedule = LearningRateSchedule::PiecewiseConstantDecay {
        boundaries: vec![1],
        values: vec![1.0, 0.5],
    };
    let mut opt = Sgd::new(schedule);
    let mut w = Param::new("w", tensor(&[0.0], &[1]));
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(opt.learning_rate());
        opt.apply_gradients(&grads_for(&[(&w, &[1.0])]), &mut [&mut w])
            .expect("step");
    }
    assert_eq!(seen, [1.0, 1.0, 0.5]);
    assert_eq!(w.value().as_slice(), &[-2.5]);
    // set_learning_rate replaces the schedule by a constant.
    opt.set_learning_rate(0.25);
    assert_eq!(opt.config()["learning_rate"], json!(0.25));
    opt.apply_gradients(&grads_for(&[(&w, &[1.0])]), &mut [&mut w])
        .expect("step");
    assert_eq!(w.value().as_slice(), &[-2.75]);
}

#[test]
fn from_config_round_trips_every_optimizer() {
    for opt in all_optimizers() {
        let mut config = opt.config();
        config["learning_rate"] = LearningRateSchedule::cosine_decay(0.1, 100).to_config();
        config["global_clip_norm"] = json!(2.0);
        let again = optimizers::from_config::<f64>(opt.name(), &config).expect("valid config");
        assert_eq!(again.config(), config);
        assert_eq!(again.name(), opt.name());
    }
    let err = optimizers::from_config::<f32>("adamax", &json!({})).unwrap_err();
    assert_eq!(err.to_string(), "from_config: unknown optimizer 'adamax'");
    let err = optimizers::from_config::<f32>("sgd", &json!({ "momentum": -1.0 })).unwrap_err();
    assert_eq!(err.to_string(), "sgd: momentum must be in [0, 1), got -1");
    let err = optimizers::from_config::<f32>("adam", &json!({ "name": "sgd" })).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_config: config is for 'sgd', not 'adam'"
    );
    let err = optimizers::from_config::<f32>("lion", &json!({ "beta_1": "high" })).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_config: 'beta_1' must be a number, got \"high\""
    );
}

#[test]
fn keras_defaults() {
    let c = |o: &dyn Optimizer<f32>| o.config();
    assert_eq!(c(&Sgd::default())["learning_rate"], json!(0.01));
    assert_eq!(c(&Adam::default())["epsilon"], json!(1e-7));
    assert_eq!(c(&AdamW::default())["weight_decay"], json!(0.004));
    assert_eq!(c(&RmsProp::default())["rho"], json!(0.9));
    assert_eq!(
        c(&Adagrad::default())["initial_accumulator_value"],
        json!(0.1)
    );
    assert_eq!(c(&Adadelta::default())["rho"], json!(0.95));
    assert_eq!(c(&Nadam::default())["beta_2"], json!(0.999));
    assert_eq!(c(&Lion::default())["learning_rate"], json!(1e-4));
    assert_eq!(c(&Lion::default())["beta_2"], json!(0.99));
}

// Zero and constant gradients (dead units, constant features): no optimizer
// may produce 0/0 = NaN in a weight or its state.

fn finite_after_steps(mut opt: Box<dyn Optimizer<f32>>, g: &[f32], steps: usize) {
    let mut p = Param::new(
        "w",
        Tensor::from_vec(vec![0.5; g.len()], &[g.len()]).unwrap(),
    );
    let mut grads = Gradients::default();
    grads.insert_param(p.id(), Tensor::from_vec(g.to_vec(), &[g.len()]).unwrap());
    for step in 0..steps {
        opt.apply_gradients(&grads, &mut [&mut p])
            .unwrap_or_else(|e| panic!("{} step {step}: {e}", opt.name()));
    }
    assert!(
        p.value().as_slice().iter().all(|v| v.is_finite()),
        "{}: {:?}",
        opt.name(),
        p.value()
    );
    for (k, t) in opt.state() {
        assert!(
            t.as_slice().iter().all(|v| v.is_finite()),
            "{} {k}: {t:?}",
            opt.name()
        );
    }
}

fn every_optimizer_f32(epsilon: f64) -> Vec<Box<dyn Optimizer<f32>>> {
    vec![
        Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true)),
        Box::new(Adam::new(0.1).epsilon(epsilon).amsgrad(true)),
        Box::new(AdamW::new(0.1).epsilon(epsilon)),
        Box::new(Nadam::new(0.1).epsilon(epsilon)),
        Box::new(
            RmsProp::new(0.1)
                .epsilon(epsilon)
                .centered(true)
                .momentum(0.5),
        ),
        Box::new(
            Adagrad::new(0.1)
                .epsilon(epsilon)
                .initial_accumulator_value(0.0),
        ),
        Box::new(Adadelta::new(1.0).epsilon(epsilon)),
        Box::new(Lion::new(0.1)),
    ]
}

#[test]
fn zero_and_constant_gradients_keep_every_optimizer_finite() {
    // The smallest epsilon that is still positive in f32, and the default.
    for epsilon in [1e-45, 1e-7] {
        for opt in every_optimizer_f32(epsilon) {
            finite_after_steps(opt, &[0.0, 0.0, 0.0], 200);
        }
        for opt in every_optimizer_f32(epsilon) {
            finite_after_steps(opt, &[0.0, 1.0, -3.0], 200);
        }
    }
}

proptest::proptest! {
    #[test]
    fn a_step_either_commits_finite_values_or_changes_nothing(
        g in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(0.0f32),
            -1e38f32..1e38,
            -10.0f32..10.0,
        ], 1..6),
        lr in proptest::prop_oneof![1e-3f64..1.0, 1.0f64..1e38],
        which in 0usize..8,
    ) {
        let mut opt = every_optimizer_f32(1e-7).swap_remove(which);
        opt.set_learning_rate(lr);
        let mut p: Param<f32> = Param::new("w", Tensor::from_vec(vec![0.5f32; g.len()], &[g.len()]).unwrap());
        let mut grads = Gradients::default();
        grads.insert_param(p.id(), Tensor::from_vec(g.clone(), &[g.len()]).unwrap());
        let before: Vec<u32> = p.value().as_slice().iter().map(|v: &f32| v.to_bits()).collect();
        match opt.apply_gradients(&grads, &mut [&mut p]) {
            Ok(()) => {
                proptest::prop_assert!(p.value().as_slice().iter().all(|v| v.is_finite()));
                for (_, t) in opt.state() {
                    proptest::prop_assert!(t.as_slice().iter().all(|v| v.is_finite()));
                }
            }
            Err(e) => {
                let after: Vec<u32> = p.value().as_slice().iter().map(|v: &f32| v.to_bits()).collect();
                proptest::prop_assert_eq!(after, before, "{}", e);
                proptest::prop_assert_eq!(opt.iterations(), 0);
                proptest::prop_assert!(e.to_string().contains("\"w\""), "{}", e);
            }
        }
    }
}
