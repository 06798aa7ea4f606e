//! PyTorch `Conv2d` + `BatchNorm2d` weights imported through `WeightMap`
//! (OIHW → HWIO, running statistics → moving statistics) predict as torch
//! does. The file and the outputs come from
//! `tests/golden/conv_torch_import.py`.

use tapeflow::layers::{
    Activation as ActivationLayer, BatchNormalization, Conv2D, GlobalAveragePooling2D,
};
use tapeflow::models::WeightMap;
use tapeflow::prelude::*;
use tapeflow::tensor::Padding;

/// torch's outputs for the script's input (printed by the script).
const TORCH_OUT: [f64; 6] = [
    -0.005500912666320801,
    -0.34508344531059265,
    0.08692000806331635,
    -0.012400329113006592,
    -0.34308597445487976,
    0.08498315513134003,
];

#[test]
fn pytorch_conv_and_batch_norm_weights_predict_as_torch_does() {
    let mut model = Sequential::new(&[5, 5, 2])
        .add(Conv2D::new(4, [3, 3]).padding(Padding::Same))
        .add(BatchNormalization::new().epsilon(1e-5))
        .add(ActivationLayer::new(Activation::Relu))
        .add(GlobalAveragePooling2D::default())
        .add(Dense::new(3));
    model.build().unwrap();
    let map = WeightMap::pytorch_conv("0", "conv2d", true)
        .extend(WeightMap::pytorch_batch_norm("1", "batch_normalization"))
        .extend(WeightMap::pytorch_linear(&[("5", "dense")]));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_cnn.safetensors"
    );
    model.load_weights_from_safetensors(path, &map).unwrap();
    // The running statistics arrived (not the initial zeros and ones).
    let bn = &model.layers()[1];
    assert!(bn.params()[2].value().as_slice().iter().all(|&m| m != 0.0));
    let n = 2 * 5 * 5 * 2;
    let x: Vec<f32> = (0..n)
        .map(|i| (0.37 * i as f64 + 0.1).sin() as f32)
        .collect();
    let x = Tensor::from_vec(x, &[2, 5, 5, 2]).unwrap();
    let y = model.predict(&x).unwrap();
    for (got, want) in y.as_slice().iter().zip(TORCH_OUT) {
        assert!(
            (f64::from(*got) - want).abs() < 1e-5,
            "got {:?}, torch {TORCH_OUT:?}",
            y.to_vec()
        );
    }
}

#[test]
fn a_conv_weight_that_is_not_3d_or_4d_is_an_error_naming_it() {
    let mut model = Sequential::new(&[5, 5, 2]).add(Dense::new(3));
    model.build().unwrap();
    let map = WeightMap::new()
        .map_conv_kernel("5.weight", "dense/kernel")
        .map("5.bias", "dense/bias");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_cnn.safetensors"
    );
    let err = model.load_weights_from_safetensors(path, &map).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("tensor \"5.weight\" has shape [3, 4]; a convolution weight is 3-d or 4-d"),
        "{err}"
    );
}
