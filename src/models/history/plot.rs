//! [`History::plot_svg`]: the training curves as an SVG file (the `plot`
//! feature).

use super::History;
use crate::error::{Error, Result};

/// One panel of [`History::plot_svg`]: a title and its train and
/// validation series.
type Family<'h> = (&'h str, Option<&'h [f64]>, Option<&'h [f64]>);

impl History {
    /// Draws the training curves to an SVG file: one panel per quantity
    /// (`loss`, then each metric), the training series as a solid blue line
    /// and its `val_` series as a dashed orange line, with a legend, epochs
    /// on the x axis and the quantity's name as the panel's title. NaN and
    /// infinite values leave a gap in their line. Needs the `plot` feature
    /// (on by default).
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] if the history is empty.
    /// - [`Error::Io`] naming the path if the file cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// for epoch in 0..10 {
    ///     let mut logs = Logs::default();
    ///     logs.push("loss", 1.0 / (epoch as f64 + 1.0));
    ///     logs.push("val_loss", 1.2 / (epoch as f64 + 1.0));
    ///     h.push(epoch, &logs);
    /// }
    /// let path = std::env::temp_dir().join("tapeflow_history_doc.svg");
    /// h.plot_svg(&path)?;
    /// let svg = std::fs::read_to_string(&path).unwrap();
    /// assert!(svg.starts_with("<svg"));
    /// assert!(svg.contains("val_loss"));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn plot_svg(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        if self.is_empty() {
            return Err(Error::InvalidArgument {
                op: "plot_svg",
                message: "the history has no epochs to plot".to_string(),
            });
        }
        let svg = self.render_svg().map_err(|e| Error::InvalidArgument {
            op: "plot_svg",
            message: format!("drawing failed: {e}"),
        })?;
        std::fs::write(path, svg).map_err(|source| Error::Io {
            op: "plot_svg",
            path: path.display().to_string(),
            source,
        })
    }

    /// The panels: each series not named `val_…`, with its `val_` partner;
    /// a `val_` series without a partner gets a panel of its own.
    fn families(&self) -> Vec<Family<'_>> {
        let mut out = Vec::new();
        for (name, values) in &self.series {
            match name.strip_prefix("val_") {
                Some(base) if self.get(base).is_some() => {}
                Some(_) => out.push((name.as_str(), None, Some(values.as_slice()))),
                None => out.push((
                    name.as_str(),
                    Some(values.as_slice()),
                    self.get(&format!("val_{name}")),
                )),
            }
        }
        out
    }

    fn render_svg(&self) -> std::result::Result<String, Box<dyn std::error::Error>> {
        use plotters::prelude::*;

        const PANEL: (u32, u32) = (560, 360);
        const TITLE: u32 = 40;
        let families = self.families();
        let cols = families.len().clamp(1, 2);
        let rows = families.len().div_ceil(cols).max(1);
        let size = (PANEL.0 * cols as u32, PANEL.1 * rows as u32 + TITLE);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            root.fill(&WHITE)?;
            let body = root.titled("Training history", ("sans-serif", 24))?;
            for (panel, family) in body.split_evenly((rows, cols)).iter().zip(&families) {
                self.draw_panel(panel, family)?;
            }
            root.present()?;
        }
        Ok(svg)
    }

    fn draw_panel<DB: plotters::prelude::DrawingBackend>(
        &self,
        area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
        &(title, train, val): &Family<'_>,
    ) -> std::result::Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        use plotters::prelude::*;

        let train_colour = RGBColor(31, 119, 180);
        let val_colour = RGBColor(255, 127, 14);
        let first = self.epochs.iter().min().copied().unwrap_or(0) as f64;
        let last = self.epochs.iter().max().copied().unwrap_or(0) as f64;
        // Half an epoch of room at each end, so end markers are not clipped.
        let x_pad = ((last - first) * 0.02).max(0.5);
        let x_range = first - x_pad..last + x_pad;
        // At most one label per epoch, so ticks fall on whole epochs.
        let x_labels = ((last - first) as usize + 1).min(10);
        let finite = train
            .into_iter()
            .chain(val)
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (lo, hi) = if lo > hi {
            (0.0, 1.0)
        } else if lo == hi {
            let pad = lo.abs().max(1.0) * 0.1;
            (lo - pad, hi + pad)
        } else {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        };

        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(title)
            .x_labels(x_labels)
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_labels(8)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;

        let markers = self.epochs.len() <= 50;
        for (values, dashed) in [(train, false), (val, true)] {
            let Some(values) = values else { continue };
            let colour = if dashed { val_colour } else { train_colour };
            let style = colour.stroke_width(2);
            let label = if dashed && train.is_some() {
                format!("val_{title}")
            } else {
                title.to_string()
            };
            let points: Vec<(f64, f64)> = self
                .epochs
                .iter()
                .zip(values)
                .map(|(&e, &v)| (e as f64, v))
                .collect();
            // Non-finite values split the line into runs of finite points.
            let mut labelled = false;
            for run in points
                .split(|(_, v)| !v.is_finite())
                .filter(|r| !r.is_empty())
            {
                let annotation = if dashed {
                    chart.draw_series(DashedLineSeries::new(run.iter().copied(), 8, 5, style))?
                } else {
                    chart.draw_series(LineSeries::new(run.iter().copied(), style))?
                };
                if !labelled {
                    labelled = true;
                    annotation.label(label.clone()).legend(move |(x, y)| {
                        let seg =
                            |a: i32, b: i32| PathElement::new(vec![(x + a, y), (x + b, y)], style);
                        if dashed {
                            EmptyElement::at((0, 0)) + seg(0, 8) + seg(12, 20)
                        } else {
                            EmptyElement::at((0, 0)) + seg(0, 10) + seg(10, 20)
                        }
                    });
                }
                if markers {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
                }
            }
        }
        // The legend goes in the right-hand corner the curves end away from.
        let end = train
            .or(val)
            .and_then(|v| v.iter().rev().find(|v| v.is_finite()).copied());
        let position = match end {
            Some(v) if v > (lo + hi) / 2.0 => SeriesLabelPosition::LowerRight,
            _ => SeriesLabelPosition::UpperRight,
        };
        chart
            .configure_series_labels()
            .position(position)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    }
}
