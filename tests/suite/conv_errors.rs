//! Bad input to the convolution, pooling and batch normalization ops and
//! layers: each is an error naming the op or layer and the shapes, never a
//! panic.

use tapeflow::layers::{BatchNormalization, Conv1D, Conv2D, DepthwiseConv2D, MaxPooling2D};
use tapeflow::ops::ConvSpec;
use tapeflow::prelude::*;
use tapeflow::tensor::Padding;

fn conv_err(x: &[usize], w: &[usize], spec: ConvSpec) -> String {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::zeros(x).unwrap());
    let w = tape.constant(&Tensor::zeros(w).unwrap());
    match x.conv2d(&w, None, spec) {
        Err(e) => e.to_string(),
        Ok(y) => panic!("expected an error, got shape {:?}", y.shape()),
    }
}

#[test]
fn conv2d_rejects_a_kernel_larger_than_the_padded_input() {
    assert_eq!(
        conv_err(&[1, 2, 5, 1], &[3, 3, 1, 1], ConvSpec::new()),
        "conv2d: kernel [3, 3] with dilation [1, 1] is larger than the valid input [2, 5] (input shape [1, 2, 5, 1])"
    );
    // Dilation 3 makes a 2-tap kernel span 4 inputs.
    assert!(
        conv_err(
            &[1, 3, 3, 1],
            &[2, 2, 1, 1],
            ConvSpec::new().dilation([3, 3])
        )
        .contains("is larger than the valid input [3, 3]")
    );
}

#[test]
fn conv2d_rejects_channel_mismatch_rank_zero_settings_and_bad_groups() {
    assert_eq!(
        conv_err(&[1, 4, 4, 3], &[3, 3, 2, 8], ConvSpec::new()),
        "conv2d: channel mismatch: input [1, 4, 4, 3] has 3 channels, kernel [3, 3, 2, 8] with groups 1 expects 2"
    );
    assert_eq!(
        conv_err(&[4, 4, 3], &[3, 3, 3, 8], ConvSpec::new()),
        "conv2d: expected a 4-d input [batch, height, width, channels], got shape [4, 4, 3]"
    );
    assert_eq!(
        conv_err(&[1, 4, 4, 3], &[3, 3, 3], ConvSpec::new()),
        "conv2d: expected a 4-d kernel [kernel_h, kernel_w, in_channels / groups, filters], got shape [3, 3, 3]"
    );
    assert_eq!(
        conv_err(
            &[1, 4, 4, 1],
            &[3, 3, 1, 1],
            ConvSpec::new().strides([0, 1])
        ),
        "conv2d: strides must be >= 1, got [0, 1]"
    );
    assert_eq!(
        conv_err(
            &[1, 4, 4, 1],
            &[3, 3, 1, 1],
            ConvSpec::new().dilation([1, 0])
        ),
        "conv2d: dilation must be >= 1, got [1, 0]"
    );
    assert_eq!(
        conv_err(&[1, 4, 4, 3], &[3, 3, 1, 3], ConvSpec::new().groups(2)),
        "conv2d: groups 2 must divide the input channels and the filters, input [1, 4, 4, 3], kernel [3, 3, 1, 3]"
    );
    assert!(
        conv_err(&[1, 4, 4, 3], &[3, 3, 1, 3], ConvSpec::new().groups(0))
            .starts_with("conv2d: groups 0 ")
    );
    assert!(
        conv_err(
            &[1, 4, 4, 1],
            &[3, 3, 1, 1],
            ConvSpec::new().padding(Padding::Causal)
        )
        .contains("causal padding is for 1-d inputs")
    );
}

#[test]
fn conv2d_rejects_a_bias_of_the_wrong_length() {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::zeros(&[1, 3, 3, 1]).unwrap());
    let w = tape.constant(&Tensor::zeros(&[2, 2, 1, 4]).unwrap());
    let b = tape.constant(&Tensor::zeros(&[3]).unwrap());
    let err = x.conv2d(&w, Some(&b), ConvSpec::new()).unwrap_err();
    assert_eq!(err.to_string(), "conv2d: shape mismatch, lhs [4], rhs [3]");
}

#[test]
fn conv1d_and_pooling_reject_wrong_ranks_and_zero_sizes() {
    let tape = GradientTape::<f32>::new();
    let x4 = tape.constant(&Tensor::zeros(&[1, 4, 4, 1]).unwrap());
    let w3 = tape.constant(&Tensor::zeros(&[2, 1, 1]).unwrap());
    let err = x4.conv1d(&w3, None, 1, Padding::Valid, 1, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv1d: expected a 3-d input [batch, steps, channels] and a 3-d kernel [k, channels / groups, filters], got shape [1, 4, 4, 1]"
    );
    let x3 = tape.constant(&Tensor::zeros(&[1, 4, 1]).unwrap());
    let err = x3.max_pool2d([2, 2], [2, 2], Padding::Valid).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: expected a 4-d input [batch, height, width, channels], got shape [1, 4, 1]"
    );
    let err = x4.avg_pool2d([2, 2], [0, 2], Padding::Valid).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: strides must be >= 1, got [0, 2]"
    );
    let err = x4.max_pool2d([5, 1], [1, 1], Padding::Valid).unwrap_err();
    assert!(
        err.to_string().starts_with("max_pool2d: kernel [5, 1]"),
        "{err}"
    );
    let err = x4.max_pool1d(2, 2, Padding::Valid).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("max_pool1d: expected a 3-d input"),
        "{err}"
    );
    let err = x3.global_avg_pool2d().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("global_avg_pool2d: expected a 4-d input"),
        "{err}"
    );
}

#[test]
fn batch_norm_rejects_mismatched_parameters_and_bad_epsilon() {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::zeros(&[2, 3]).unwrap());
    let (g2, b3) = (
        tape.constant(&Tensor::ones(&[2]).unwrap()),
        tape.constant(&Tensor::zeros(&[3]).unwrap()),
    );
    let err = x.batch_norm_training(&g2, &b3, 1e-3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch_norm: shape mismatch, lhs [2, 3], rhs [2]"
    );
    let g3 = tape.constant(&Tensor::ones(&[3]).unwrap());
    let err = x.batch_norm_training(&g3, &b3, 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch_norm: epsilon must be finite and > 0, got 0"
    );
    let empty = tape.constant(&Tensor::zeros(&[0, 3]).unwrap());
    assert!(empty.batch_norm_training(&g3, &b3, 1e-3).is_err());
}

#[test]
fn layers_name_themselves_and_the_shapes_in_their_errors() {
    let mut model = Sequential::new(&[2, 2, 1]).add(Conv2D::new(4, [3, 3]));
    let err = model.build().unwrap_err().to_string();
    assert_eq!(
        err,
        "conv2d (Conv2D) at position 0: conv2d: kernel [3, 3] with dilation [1, 1] is larger than the valid input [2, 2] (input shape [1, 2, 2, 1])"
    );
    let mut model = Sequential::new(&[28, 28]).add(Conv2D::new(4, [3, 3]));
    assert_eq!(
        model.build().unwrap_err().to_string(),
        "conv2d (Conv2D) at position 0: expected an input shape [height, width, channels] (batch excluded), got [28, 28]"
    );
    let mut model = Sequential::new(&[8, 3]).add(Conv1D::new(4, 3).groups(2));
    assert!(
        model
            .build()
            .unwrap_err()
            .to_string()
            .starts_with("conv1d (Conv1D) at position 0: conv2d: groups 2 must divide")
    );
    let mut model = Sequential::new(&[8, 8, 3]).add(DepthwiseConv2D::new([3, 3]).strides([0, 0]));
    assert_eq!(
        model.build().unwrap_err().to_string(),
        "depthwise_conv2d (DepthwiseConv2D) at position 0: conv2d: strides must be >= 1, got [0, 0]"
    );
    let mut model = Sequential::new(&[8, 8, 3]).add(MaxPooling2D::new([2, 0]));
    assert!(
        model
            .build()
            .unwrap_err()
            .to_string()
            .starts_with("max_pooling2d (MaxPooling2D) at position 0: ")
    );
    let mut model = Sequential::new(&[3]).add(BatchNormalization::new().momentum(1.5));
    assert_eq!(
        model.build().unwrap_err().to_string(),
        "batch_normalization (BatchNormalization) at position 0: momentum must be in [0, 1], got 1.5"
    );
    let mut model = Sequential::new(&[3]).add(BatchNormalization::new());
    model.build().unwrap();
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::zeros(&[2, 4]).unwrap());
    let err = model.layers()[0].forward(x, Mode::Train).unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch_normalization (BatchNormalization): expected input [_, …, 3], got [2, 4]"
    );
}
