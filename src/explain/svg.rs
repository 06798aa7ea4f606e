//! [`attribution_svg`]: an image and its attribution map side by side, as
//! SVG (feature `plot`).

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Pixels per image cell in the drawing.
const CELL: u32 = 10;
/// Height of a panel's title strip.
const TITLE: u32 = 30;

/// Writes an SVG file showing one image (left, grey levels from its
/// minimum, black, to its maximum, white) beside its attribution map
/// (right: red for positive, blue for negative attribution, white for
/// zero, scaled by the largest absolute value), each `height × width`
/// cells, with titles. Channels (NHWC's last axis, `len / (height·width)`
/// of them) are averaged for the image and summed for the attributions.
/// Needs the `plot` feature (on by default).
///
/// # Shapes
///
/// `image` and `attribution`: the same number of elements,
/// `height · width · channels`, in any shape (e.g. `[784]`, `[1, 784]`,
/// `[28, 28, 1]`).
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `attribution_svg`) if `height` or
/// `width` is 0, the element counts differ or are not a multiple of
/// `height · width`, or a value is not finite; [`Error::Io`] naming the
/// path if the file cannot be written.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::attribution_svg;
/// use tapeflow::Tensor;
///
/// let image = Tensor::from_vec(vec![0.0f32, 0.5, 1.0, 0.25], &[2, 2])?;
/// let attr = Tensor::from_vec(vec![1.0f32, -1.0, 0.0, 0.5], &[2, 2])?;
/// let path = std::env::temp_dir().join("tapeflow_attribution_doc.svg");
/// attribution_svg(&path, &image, &attr, 2, 2)?;
/// let svg = std::fs::read_to_string(&path).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("attribution"));
/// # std::fs::remove_file(&path).unwrap();
/// assert!(attribution_svg(&path, &image, &attr, 3, 2).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn attribution_svg<T: Float>(
    path: impl AsRef<std::path::Path>,
    image: &Tensor<T>,
    attribution: &Tensor<T>,
    height: usize,
    width: usize,
) -> Result<()> {
    const OP: &str = "attribution_svg";
    let bad = |message: String| Error::InvalidArgument { op: OP, message };
    let cells = height
        .checked_mul(width)
        .filter(|&c| c > 0)
        .ok_or_else(|| {
            bad(format!(
                "height and width must be positive, got {height} x {width}"
            ))
        })?;
    if image.len() != attribution.len() || !image.len().is_multiple_of(cells) || image.is_empty() {
        return Err(bad(format!(
            "image {:?} and attribution {:?} must both hold {height} x {width} x channels values",
            image.shape(),
            attribution.shape()
        )));
    }
    if !(image.all_finite() && attribution.all_finite()) {
        return Err(bad(
            "the image or the attribution holds a non-finite value".to_string()
        ));
    }
    let channels = image.len() / cells;
    let pool = |t: &Tensor<T>, mean: bool| -> Vec<f64> {
        t.as_slice()
            .chunks(channels)
            .map(|c| {
                let s: f64 = c.iter().map(|&v| Float::to_f64(v)).sum();
                if mean { s / channels as f64 } else { s }
            })
            .collect()
    };
    let (img, attr) = (pool(image, true), pool(attribution, false));
    let svg =
        render(&img, &attr, height, width).map_err(|e| bad(format!("drawing failed: {e}")))?;
    let path = path.as_ref();
    std::fs::write(path, svg).map_err(|source| Error::Io {
        op: OP,
        path: path.display().to_string(),
        source,
    })
}

/// Draws the two panels.
fn render(
    img: &[f64],
    attr: &[f64],
    height: usize,
    width: usize,
) -> std::result::Result<String, Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let panel = (width as u32 * CELL, height as u32 * CELL + TITLE);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (2 * panel.0 + CELL, panel.1)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(panel.0 + CELL);
        let (lo, hi) = img
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let scale = attr.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if scale > 0.0 { scale } else { 1.0 };
        let grey = |v: f64| {
            let g = (255.0 * (v - lo) / span).round().clamp(0.0, 255.0) as u8;
            RGBColor(g, g, g)
        };
        // White at zero, towards red (positive) or blue (negative).
        let diverging = |v: f64| {
            let t = (v / scale).clamp(-1.0, 1.0);
            let fade = (255.0 * (1.0 - t.abs())).round() as u8;
            if t >= 0.0 {
                RGBColor(255, fade, fade)
            } else {
                RGBColor(fade, fade, 255)
            }
        };
        for (area, title, values, colour) in [
            (&left, "input", img, &grey as &dyn Fn(f64) -> RGBColor),
            (&right, "attribution", attr, &diverging),
        ] {
            let body = area.titled(title, ("sans-serif", 18))?;
            for (k, &v) in values.iter().enumerate() {
                let (r, c) = ((k / width) as i32, (k % width) as i32);
                let cell = CELL as i32;
                let corners = [(c * cell, r * cell), ((c + 1) * cell, (r + 1) * cell)];
                body.draw(&Rectangle::new(corners, colour(v).filled()))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}
