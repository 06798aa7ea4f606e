//! A PyTorch depthwise `Conv2d(3, 6, 3, padding=1, groups=3)` imported
//! through `WeightMap::pytorch_depthwise_conv` (`[6, 1, 3, 3]` →
//! `[3, 3, 3, 2]`) into a `DepthwiseConv2D` with depth multiplier 2 gives
//! torch's outputs. The file and the outputs come from
//! `tests/golden/conv_depthwise_import.py`.

use tapeflow::layers::DepthwiseConv2D;
use tapeflow::models::WeightMap;
use tapeflow::prelude::*;
use tapeflow::tensor::Padding;

/// torch's output for the script's input, NHWC, flattened (printed by the script).
const TORCH_OUT: [f64; 96] = [
    0.05143384635448456,
    -0.5950403809547424,
    0.16736628115177155,
    -0.03448881208896637,
    -0.13998019695281982,
    -0.08985654264688492,
    -0.019121035933494568,
    -0.5335672497749329,
    0.49735474586486816,
    -0.1464194357395172,
    -0.41502392292022705,
    -0.49914467334747314,
    -0.02982470393180847,
    -0.3636241555213928,
    0.47635960578918457,
    -0.5542449951171875,
    -0.3943150043487549,
    -0.30091047286987305,
    0.34161698818206787,
    -0.22922760248184204,
    0.21730613708496094,
    -0.8220535516738892,
    -0.4064213037490845,
    0.23314405977725983,
    0.1902274191379547,
    -0.03558570146560669,
    -0.1371118724346161,
    -0.4129669666290283,
    0.4156229496002197,
    0.11593286693096161,
    0.4113205671310425,
    -0.22026552259922028,
    -0.4869614541530609,
    -0.30363962054252625,
    0.03948338329792023,
    -0.01881617307662964,
    0.3585175573825836,
    -0.4065186381340027,
    -0.14278525114059448,
    -0.2661191523075104,
    -0.5916693806648254,
    -0.7374712228775024,
    -0.13069763779640198,
    -0.5154204368591309,
    0.24523112177848816,
    0.006893157958984375,
    -0.5057811141014099,
    -0.646485447883606,
    0.2711215913295746,
    0.21566632390022278,
    0.2046622335910797,
    -0.26805737614631653,
    -0.706611692905426,
    -0.38410624861717224,
    0.11758339405059814,
    0.024794280529022217,
    0.16762608289718628,
    -0.2596251964569092,
    0.21332795917987823,
    0.46771085262298584,
    0.32457631826400757,
    -0.06497867405414581,
    -0.3752031922340393,
    -0.3013015687465668,
    0.3293088674545288,
    0.415088951587677,
    0.4452504515647888,
    -0.001656845211982727,
    -0.5006526112556458,
    -0.267171710729599,
    -0.022423118352890015,
    -0.43496114015579224,
    0.45558610558509827,
    -0.49249035120010376,
    0.06295730173587799,
    -0.08690781891345978,
    -0.5160510540008545,
    -0.34776565432548523,
    0.08326664566993713,
    -0.48526331782341003,
    0.20491421222686768,
    0.12004899978637695,
    -0.26887577772140503,
    -0.7298215627670288,
    -0.19301298260688782,
    -0.32599779963493347,
    0.3662341833114624,
    0.20783400535583496,
    0.08678315579891205,
    -0.29876428842544556,
    0.27478912472724915,
    -0.08810485899448395,
    0.2207680344581604,
    -0.2683618664741516,
    -0.10145135223865509,
    0.13013319671154022,
];

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/torch_depthwise.safetensors"
);

fn model() -> Sequential {
    let mut model = Sequential::<f32>::new(&[4, 4, 3]).add(
        DepthwiseConv2D::new([3, 3])
            .depth_multiplier(2)
            .padding(Padding::Same),
    );
    model.build().unwrap();
    model
}

#[test]
fn pytorch_depthwise_weights_predict_as_torch_does() {
    let mut model = model();
    let map = WeightMap::pytorch_depthwise_conv("0", "depthwise_conv2d", 2, true);
    model.load_weights_from_safetensors(PATH, &map).unwrap();
    let x: Vec<f32> = (0..48)
        .map(|i| (0.37 * i as f64 + 0.1).sin() as f32)
        .collect();
    let y = model
        .predict(&Tensor::from_vec(x, &[1, 4, 4, 3]).unwrap())
        .unwrap();
    assert_eq!(y.shape(), &[1, 4, 4, 6]);
    for (i, (got, want)) in y.as_slice().iter().zip(TORCH_OUT).enumerate() {
        assert!(
            (f64::from(*got) - want).abs() < 1e-5,
            "element {i}: got {got}, torch {want}"
        );
    }
}

#[test]
fn a_depthwise_weight_the_multiplier_does_not_divide_is_an_error_naming_it() {
    let mut model = model();
    let map = WeightMap::new()
        .map_depthwise_kernel("0.weight", "depthwise_conv2d/depthwise_kernel", 4)
        .map("0.bias", "depthwise_conv2d/bias");
    let err = model.load_weights_from_safetensors(PATH, &map).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "tensor \"0.weight\" has shape [6, 1, 3, 3]; a depthwise weight with depth multiplier 4 is [channels * 4, 1, kh, kw]"
        ),
        "{err}"
    );
}
