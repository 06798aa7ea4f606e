//! [`History`]: what `fit` returns — per-epoch loss and metrics, train and
//! validation — and its text forms (CSV and a plain-text table).

use std::fmt;

use crate::callbacks::Logs;
#[cfg(feature = "plot")]
use crate::error::{Error, Result};
use crate::metrics::Metric;

/// Per-epoch training results, Keras's `History.history`.
///
/// Series are named as Keras names them: `loss`, each metric (`accuracy`,
/// `mean_absolute_error`, …), then `val_loss` and `val_…` when there is
/// validation data. Epoch numbers count from 0 and continue across calls to
/// `fit` with `initial_epoch`.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::Logs;
/// use tapeflow::History;
///
/// let mut h = History::default();
/// let mut logs = Logs::default();
/// logs.push("loss", 0.5);
/// h.push(0, &logs);
/// logs.push("loss", 0.25);
/// h.push(1, &logs);
/// assert_eq!(h.get("loss"), Some(&[0.5, 0.25][..]));
/// assert_eq!(h.epochs(), &[0, 1]);
/// assert_eq!(h.to_csv(), "epoch,loss\n0,0.5\n1,0.25\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    epochs: Vec<usize>,
    series: Vec<(String, Vec<f64>)>,
}

impl History {
    /// Records one epoch's logs. A series that appears late is padded with
    /// NaN for the epochs before it, and one missing from these logs gets NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 1.0);
    /// h.push(0, &logs);
    /// logs.push("val_loss", 2.0);
    /// h.push(1, &logs);
    /// let val = h.get("val_loss").unwrap();
    /// assert!(val[0].is_nan());
    /// assert_eq!(val[1], 2.0);
    /// ```
    pub fn push(&mut self, epoch: usize, logs: &Logs) {
        let n = self.epochs.len();
        for (name, value) in logs.iter() {
            match self.series.iter_mut().find(|(s, _)| s == name) {
                Some((_, values)) => values.push(value),
                None => {
                    let mut values = vec![f64::NAN; n];
                    values.push(value);
                    self.series.push((name.to_string(), values));
                }
            }
        }
        self.epochs.push(epoch);
        for (_, values) in &mut self.series {
            values.resize(n + 1, f64::NAN);
        }
    }

    /// The values of one series, one per epoch, or `None` if no epoch
    /// logged it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("accuracy", 0.75);
    /// h.push(0, &logs);
    /// assert_eq!(h.get("accuracy"), Some(&[0.75][..]));
    /// assert_eq!(h.get("val_accuracy"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The per-epoch values of a compiled metric on the training data
    /// (the series [`Metric::name`] names); `None` if the model was not
    /// compiled with it. [`get`](Self::get) takes any series by name
    /// (`"loss"`, `"val_loss"`, `"lr"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::{History, Metric};
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("accuracy", 0.75);
    /// logs.push("val_accuracy", 0.5);
    /// h.push(0, &logs);
    /// assert_eq!(h.metric(Metric::Accuracy), Some(&[0.75][..]));
    /// assert_eq!(h.val_metric(Metric::Accuracy), Some(&[0.5][..]));
    /// assert_eq!(h.metric(Metric::Auc), None);
    /// ```
    pub fn metric(&self, metric: Metric) -> Option<&[f64]> {
        self.get(metric.name())
    }

    /// The per-epoch values of a compiled metric on the validation data
    /// (the series `val_` + [`Metric::name`]); `None` without validation
    /// data or if the model was not compiled with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// let (x, y) = (Tensor::ones(&[4, 1])?, Tensor::ones(&[4, 1])?);
    /// let opts = FitOptions::default().epochs(2).validation_data(x.clone(), y.clone()).verbose(0);
    /// let h = model.fit(&x, &y, opts)?;
    /// assert_eq!(h.val_metric(Metric::MeanAbsoluteError).map(<[f64]>::len), Some(2));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn val_metric(&self, metric: Metric) -> Option<&[f64]> {
        self.get(&format!("val_{}", metric.name()))
    }

    /// The epoch numbers recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// // A second call to `fit` with `initial_epoch = 5` goes on from 5.
    /// h.push(5, &Logs::default());
    /// h.push(6, &Logs::default());
    /// assert_eq!(h.epochs(), &[5, 6]);
    /// ```
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The number of epochs recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// assert_eq!(h.len(), 0);
    /// h.push(0, &Logs::default());
    /// assert_eq!(h.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch has been recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// assert!(h.is_empty());
    /// h.push(0, &Logs::default());
    /// assert!(!h.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// The series' names, in the order they first appeared.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// logs.push("val_loss", 0.6);
    /// h.push(0, &logs);
    /// assert_eq!(h.names().collect::<Vec<_>>(), ["loss", "val_loss"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.iter().map(|(s, _)| s.as_str())
    }

    /// The last recorded value of a series.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// for (epoch, loss) in [0.5, 0.25].into_iter().enumerate() {
    ///     let mut logs = Logs::default();
    ///     logs.push("loss", loss);
    ///     h.push(epoch, &logs);
    /// }
    /// assert_eq!(h.last("loss"), Some(0.25));
    /// assert_eq!(h.last("accuracy"), None);
    /// ```
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// Appends another history (a later call to `fit`) to this one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// let mut first = History::default();
    /// first.push(0, &logs);
    /// let mut second = History::default();
    /// logs.push("loss", 0.25);
    /// second.push(1, &logs);
    /// first.extend(&second);
    /// assert_eq!(first.epochs(), &[0, 1]);
    /// assert_eq!(first.get("loss"), Some(&[0.5, 0.25][..]));
    /// ```
    pub fn extend(&mut self, other: &History) {
        for (i, &epoch) in other.epochs.iter().enumerate() {
            let mut logs = Logs::default();
            for (name, values) in &other.series {
                logs.push(name.clone(), values[i]);
            }
            self.push(epoch, &logs);
        }
    }

    /// The history as CSV: a header `epoch,<series…>` and one row per epoch.
    /// Values use Rust's shortest round-trip formatting, so parsing them
    /// back gives the same numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.1);
    /// logs.push("val_loss", 0.2);
    /// h.push(0, &logs);
    /// let csv = h.to_csv();
    /// assert_eq!(csv, "epoch,loss,val_loss\n0,0.1,0.2\n");
    /// let back: f64 = csv.lines().nth(1).unwrap().split(',').nth(1).unwrap().parse().unwrap();
    /// assert_eq!(back, 0.1);
    /// ```
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch");
        for (name, _) in &self.series {
            out.push(',');
            out.push_str(name);
        }
        out.push('\n');
        for (i, epoch) in self.epochs.iter().enumerate() {
            out.push_str(&epoch.to_string());
            for (_, values) in &self.series {
                out.push(',');
                out.push_str(&values[i].to_string());
            }
            out.push('\n');
        }
        out
    }
}

/// One panel of [`History::plot_svg`]: a title and its train and
/// validation series.
#[cfg(feature = "plot")]
type Family<'h> = (&'h str, Option<&'h [f64]>, Option<&'h [f64]>);

#[cfg(feature = "plot")]
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

impl fmt::Display for History {
    /// A plain-text table, one row per epoch, values to 4 decimals
    /// (or the precision given, as in `{:.6}`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    /// use tapeflow::History;
    ///
    /// let mut h = History::default();
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// h.push(0, &logs);
    /// assert_eq!(h.to_string(), "epoch    loss\n    0  0.5000\n");
    /// assert_eq!(format!("{h:.1}"), "epoch  loss\n    0   0.5\n");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(4);
        let mut header = vec!["epoch".to_string()];
        header.extend(self.series.iter().map(|(s, _)| s.clone()));
        let rows: Vec<Vec<String>> = self
            .epochs
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut row = vec![e.to_string()];
                row.extend(
                    self.series
                        .iter()
                        .map(|(_, v)| format!("{:.*}", precision, v[i])),
                );
                row
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].len())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                // Padded by hand: a width from the content (a logged name
                // can be any length) could exceed what `{:>w$}` accepts.
                .map(|(c, w)| format!("{}{c}", " ".repeat(w.saturating_sub(c.chars().count()))))
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&header))?;
        for row in &rows {
            writeln!(f, "{}", line(row))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_series_are_padded_and_table_aligns() {
        let mut h = History::default();
        let mut a = Logs::default();
        a.push("loss", 1.0);
        h.push(0, &a);
        a.push("val_loss", 2.0);
        h.push(1, &a);
        assert!(h.get("val_loss").unwrap()[0].is_nan());
        let table = format!("{h:.2}");
        assert_eq!(
            table,
            "epoch  loss  val_loss\n    0  1.00       NaN\n    1  1.00      2.00\n"
        );
    }
}
