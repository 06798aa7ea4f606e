//! `History::plot_svg`: the file is an SVG with a curve per series, gaps at
//! NaN, and errors that name the path.
#![cfg(feature = "plot")]

use std::path::PathBuf;

use tapeflow::callbacks::Logs;
use tapeflow::{Error, History};

const TRAIN: &str = "#1F77B4";
const VAL: &str = "#FF7F0E";

fn history(series: &[(&str, &[f64])]) -> History {
    let mut h = History::default();
    for epoch in 0..series[0].1.len() {
        let mut logs = Logs::default();
        for (name, values) in series {
            logs.push(*name, values[epoch]);
        }
        h.push(epoch, &logs);
    }
    h
}

fn temp_svg(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapeflow_plot_{}_{name}.svg", std::process::id()))
}

fn plot(h: &History, name: &str) -> String {
    let path = temp_svg(name);
    h.plot_svg(&path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    svg
}

/// The number of points of each `<polyline>` drawn in `colour`.
fn polylines(svg: &str, colour: &str) -> Vec<usize> {
    svg.lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&format!("stroke=\"{colour}\"")))
        .map(|l| {
            let points = l.split("points=\"").nth(1).unwrap();
            points.split('"').next().unwrap().split_whitespace().count()
        })
        .collect()
}

#[test]
fn plot_svg_draws_a_panel_per_quantity_with_train_and_val_curves() {
    let loss = [1.0, 0.6, 0.4, 0.3, 0.25];
    let val_loss = [1.1, 0.7, 0.5, 0.45, 0.44];
    let acc = [0.5, 0.7, 0.8, 0.85, 0.9];
    let val_acc = [0.45, 0.65, 0.75, 0.8, 0.82];
    let h = history(&[
        ("loss", &loss),
        ("accuracy", &acc),
        ("val_loss", &val_loss),
        ("val_accuracy", &val_acc),
    ]);
    let svg = plot(&h, "panels");
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    for label in [
        "Training history",
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    ] {
        assert!(svg.contains(&format!("\n{label}\n")), "no text {label:?}");
    }
    // One solid training curve through all 5 epochs per panel.
    let train = polylines(&svg, TRAIN);
    assert_eq!(train.iter().filter(|&&n| n == 5).count(), 2);
    // The validation curves are dashed: many short orange segments.
    let val = polylines(&svg, VAL);
    assert!(val.len() > 10, "{} orange polylines", val.len());
    assert!(val.iter().all(|&n| n < 5));
    // A marker per point: 4 series of 5 epochs.
    assert_eq!(svg.matches("<circle").count(), 20);
}

#[test]
fn plot_svg_leaves_gaps_at_nan() {
    let loss = [1.0, 0.9, 0.8, f64::NAN, 0.5, 0.4, 0.3, 0.2];
    let svg = plot(&history(&[("loss", &loss)]), "gaps");
    let mut train = polylines(&svg, TRAIN);
    train.retain(|&n| n > 2); // the legend's segments have 2 points
    assert_eq!(train, [3, 4]);
    assert_eq!(svg.matches("<circle").count(), 7);
}

#[test]
fn plot_svg_handles_a_single_epoch_and_a_lone_val_series() {
    let svg = plot(&history(&[("val_loss", &[0.5])]), "single");
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("\nval_loss\n"));
    assert_eq!(svg.matches("<circle").count(), 1);
    // Past 50 epochs the markers are left out; the curve is still drawn.
    let long: Vec<f64> = (0..60).map(|e| 1.0 / (e as f64 + 1.0)).collect();
    let svg = plot(&history(&[("loss", &long)]), "long");
    assert_eq!(svg.matches("<circle").count(), 0);
    assert!(polylines(&svg, TRAIN).contains(&60));
}

#[test]
fn plot_svg_error_names_an_unwritable_path() {
    let h = history(&[("loss", &[1.0, 0.5])]);
    let path = temp_svg("no_such_dir").join("h.svg");
    let err = h.plot_svg(&path).unwrap_err();
    let shown = path.display().to_string();
    assert!(matches!(&err, Error::Io { op: "plot_svg", path, .. } if *path == shown));
    let message = err.to_string();
    assert!(
        message.starts_with("plot_svg: ") && message.contains(&shown),
        "{message}"
    );
}

#[test]
fn plot_svg_rejects_an_empty_history() {
    let err = History::default().plot_svg(temp_svg("empty")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plot_svg: the history has no epochs to plot"
    );
    assert!(!temp_svg("empty").exists());
}
