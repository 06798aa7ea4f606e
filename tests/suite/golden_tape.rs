//! Golden values and gradients of composite expressions, from PyTorch in
//! float64. The numbers below were printed by `python3 tests/golden/composite.py`
//! (torch 2.15); the inputs here are copied from that script. Tolerance:
//! `1e-12` relative (plus `1e-15` absolute for values near zero).

use tapeflow::{GradientTape, Tensor};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor<f64>, want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (&g, &w)) in got.as_slice().iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs() + 1e-15,
            "{what}[{k}]: got {g:e}, want {w:e}"
        );
    }
}

// ---- constants printed by tests/golden/composite.py ----
#[rustfmt::skip]
const MLP_LOSS: [f64; 1] = [1.4529990596811861];
#[rustfmt::skip]
const MLP_DX: [f64; 12] = [-0.170461857423424, -0.08475936333247261, 0.1934884179975684, 0.21997411265596653, -0.015588590865646538, -0.02861925725066492, 0.004164819161935406, -0.037658172238467166, 0.08050128233374285, 0.15072659398566335, -0.07554983655424694, -0.15322407915320974];
#[rustfmt::skip]
const MLP_DW1: [f64; 20] = [-0.03242162536495367, -0.05268629346572195, 0.07754763294460751, 0.02646437805519966, 0.142046316429068, 0.12643853735791552, 0.11942607954433805, -0.2137326127931437, 0.04783611984555208, -0.38899679520767017, -0.1345156153534316, -0.003266296415323398, -0.011563815850109078, -0.15655979089270916, 0.09432636470665995, 0.012840356616663787, -0.0934962898311502, 0.08578682688996511, 0.19166543045687343, 0.1619787206612715];
#[rustfmt::skip]
const MLP_DB1: [f64; 5] = [-0.07569348052004565, -0.09068943986364361, 0.023245789092875516, 0.12987179591650477, 0.17778421993562482];
#[rustfmt::skip]
const MLP_DW2: [f64; 15] = [0.12620483752939565, -0.2848725605275316, 0.15866772299813603, 0.29906632568323893, 0.15122474367919334, -0.45029106936243224, -0.2343793749358501, -0.04858804043189277, 0.2829674153677429, 0.29725007739968107, 0.0585693612363295, -0.3558194386360106, 0.1695122643223764, 0.06437872803701278, -0.2338909923593892];
#[rustfmt::skip]
const MLP_DB2: [f64; 3] = [-0.09345450012694614, 0.004829897316422194, 0.08862460281052387];
#[rustfmt::skip]
const ES_VALUE: [f64; 1] = [3.1938444695258283];
#[rustfmt::skip]
const ES_DX: [f64; 6] = [0.333297253922256, 0.06436927889808752, 0.029487529562064463, 0.10612013733788372, 0.2334454690160832, 0.39913106138049126];
#[rustfmt::skip]
const ES_DW: [f64; 3] = [0.6356307043968372, 0.1578405561188319, 0.15372910051637548];
#[rustfmt::skip]
const LSM_VALUE: [f64; 8] = [-1.1062402084591967, -2.3062402084591964, -0.6762402084591964, -2.7962402084591966, -1.7893493772986642, -0.8193493772986642, -1.0593493772986642, -3.0893493772986647];
#[rustfmt::skip]
const LSM_DA: [f64; 6] = [1.8888318585593549, 0.39114847258610436, -2.907022719887551, -1.2335531815700247, 1.0350688809162265, 0.3636904804864394];
#[rustfmt::skip]
const LSM_DB: [f64; 12] = [1.1783219630752257, -1.1632856600279253, -1.1128948771618554, 1.097858574114555, -0.5936759311687057, 0.6203426639136125, 0.6138696744695027, -0.6405364072144096, -1.166460233963607, -0.05547277743124013, -0.772127078265185, 1.9940600896600325];
#[rustfmt::skip]
const GL_VALUE: [f64; 8] = [-0.15426876936299347, 0.31153126928484004, 0.8957979908053093, -0.07461232145609452, 0.29481383638933883, 0.6305156811332827, 0.04255050976111894, -0.14042012679713678];
#[rustfmt::skip]
const GL_DX: [f64; 12] = [0.6095077278391335, -0.13666511464249564, -0.7700237200435199, 0.43389035205340665, 0.39201800390337105, -0.37022750555280026, -1.1469939667560716, -0.21967216250646407, 1.2756575379820976, 0.22127831024661246, 0.4151129175612824, -0.11056057845098477];
#[rustfmt::skip]
const GL_DW: [f64; 6] = [1.2827780344711008, -0.7581359497038368, -0.784062000886468, 1.4169613944829502, -0.9145620549739258, 0.17135459452424753];
#[rustfmt::skip]
const GL_DC: [f64; 2] = [0.513775811663033, 0.1988649749263361];
// ---- end of printed constants ----

#[test]
fn two_layer_mlp_with_tanh_and_softmax_matches_pytorch() {
    // h = tanh(x·W1 + b1), p = softmax(h·W2 + b2), loss = -mean_rows Σ y ⊙ ln p
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(
        &[
            0.5, -1.2, 0.3, 0.8, -0.4, 0.9, 1.5, -0.7, 0.2, 0.1, -0.6, 1.1,
        ],
        &[3, 4],
    ));
    let w1 = tape.watch(&t(
        &[
            0.2, -0.3, 0.5, 0.1, -0.8, 0.7, 0.4, -0.2, 0.6, 0.3, -0.5, 0.9, -0.1, 0.2, 0.8, 0.4,
            -0.6, 0.3, -0.7, 0.5,
        ],
        &[4, 5],
    ));
    let b1 = tape.watch(&t(&[0.1, -0.2, 0.05, 0.3, -0.1], &[5]));
    let w2 = tape.watch(&t(
        &[
            0.3, -0.5, 0.2, 0.7, 0.1, -0.4, -0.2, 0.6, 0.5, 0.4, -0.3, 0.8, -0.9, 0.2, 0.1,
        ],
        &[5, 3],
    ));
    let b2 = tape.watch(&t(&[0.05, -0.1, 0.2], &[3]));
    let y = tape.constant(&t(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[3, 3]));
    let h = x.linear(&w1, Some(&b1)).unwrap().tanh();
    let p = h.linear(&w2, Some(&b2)).unwrap().softmax(1).unwrap();
    let loss = y
        .mul(&p.ln())
        .unwrap()
        .sum_axis(1, false)
        .unwrap()
        .mean()
        .neg();
    assert_close("loss", &loss.value(), &MLP_LOSS);
    let g = tape.gradient(&loss, [x, w1, b1, w2, b2]).unwrap();
    assert_close("dx", g.get(x).unwrap(), &MLP_DX);
    assert_close("dW1", g.get(w1).unwrap(), &MLP_DW1);
    assert_close("db1", g.get(b1).unwrap(), &MLP_DB1);
    assert_close("dW2", g.get(w2).unwrap(), &MLP_DW2);
    assert_close("db2", g.get(b2).unwrap(), &MLP_DB2);
}

#[test]
fn exp_times_sigmoid_over_one_plus_square_matches_pytorch() {
    // y = Σ eˣ ⊙ σ(w) / (1 + x²), w [3] broadcast over the rows of x [2, 3]
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(&[0.3, -1.1, 0.8, 1.7, -0.2, -0.9], &[2, 3]));
    let w = tape.watch(&t(&[0.4, -1.3, 2.1], &[3]));
    let num = x.exp().mul(&w.sigmoid()).unwrap();
    let y = num.div(&x.square().add_scalar(1.0)).unwrap().sum();
    assert_close("value", &y.value(), &ES_VALUE);
    let g = tape.gradient(&y, [x, w]).unwrap();
    assert_close("dx", g.get(x).unwrap(), &ES_DX);
    assert_close("dw", g.get(w).unwrap(), &ES_DW);
}

#[test]
fn log_softmax_of_a_matmul_matches_pytorch() {
    // y = log_softmax(a·b, axis 1), gradients of Σ r ⊙ y
    let tape = GradientTape::<f64>::new();
    let a = tape.watch(&t(&[0.5, -0.3, 1.2, -0.8, 0.4, 0.9], &[2, 3]));
    let b = tape.watch(&t(
        &[
            0.7, -0.2, 0.3, 1.1, -0.5, 0.8, -0.6, 0.2, 0.4, 0.1, 0.9, -1.0,
        ],
        &[3, 4],
    ));
    let r = t(&[1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 0.5, -0.25], &[2, 4]);
    let y = a.matmul(&b).unwrap().log_softmax(1).unwrap();
    assert_close("value", &y.value(), &LSM_VALUE);
    let g = tape.gradient_with(&y, &r, [a, b]).unwrap();
    assert_close("da", g.get(a).unwrap(), &LSM_DA);
    assert_close("db", g.get(b).unwrap(), &LSM_DB);
}

#[test]
fn gelu_of_a_batched_linear_matches_pytorch() {
    // y = gelu(x·W + c) with x [2, 2, 3], W [3, 2], c [2]; gradients of Σ r ⊙ y
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(
        &[
            0.2, -0.5, 1.0, 0.7, 0.3, -1.2, -0.4, 0.9, 0.6, 1.3, -0.8, 0.1,
        ],
        &[2, 2, 3],
    ));
    let w = tape.watch(&t(&[0.5, -0.7, 0.8, 0.2, -0.3, 0.9], &[3, 2]));
    let c = tape.watch(&t(&[0.1, -0.2], &[2]));
    let r = t(&[0.3, -1.0, 0.5, 2.0, -0.7, 1.2, 0.9, -0.4], &[2, 2, 2]);
    let y = x.linear(&w, Some(&c)).unwrap().gelu();
    assert_close("value", &y.value(), &GL_VALUE);
    let g = tape.gradient_with(&y, &r, [x, w, c]).unwrap();
    assert_close("dx", g.get(x).unwrap(), &GL_DX);
    assert_close("dW", g.get(w).unwrap(), &GL_DW);
    assert_close("dc", g.get(c).unwrap(), &GL_DC);
}
