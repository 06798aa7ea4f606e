//! The progress display of `fit` on stderr, in Keras's layout: a bar per
//! epoch (`verbose = 1`), a line per epoch (`verbose = 2`), or nothing
//! (`0`). By default (Keras's `verbose="auto"`) the bar is drawn when
//! stderr is a terminal and one line per epoch is printed otherwise, so a
//! log file of a long run shows every epoch.
//!
//! On a terminal every line fits 80 columns: the bar shrinks first, then
//! goes, then the metrics continue on an indented next line. A log file gets
//! exactly one line per epoch, however long, so `grep Epoch` finds every
//! metric of every epoch. The formatting is pure functions of the numbers
//! and the width, tested below; [`Progress`] only times, and draws through
//! `indicatif`.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::callbacks::Logs;

/// The columns every line fits in: 80, the terminal default, so a line
/// never wraps in a default terminal, an editor or a CI log viewer.
const WIDTH: usize = 80;

/// The widest bar, Keras's.
const MAX_BAR: usize = 20;

/// Bars narrower than this are left out rather than drawn.
const MIN_BAR: usize = 5;

/// Formats logs as Keras does: `loss: 0.1234 - accuracy: 0.9000`.
pub(crate) fn format_logs(logs: &Logs) -> String {
    log_parts(logs).join(" - ")
}

/// Each log as `name: value` (4 decimals, or 4 significant digits in
/// exponent form below 1e-3).
fn log_parts(logs: &Logs) -> Vec<String> {
    logs.iter()
        .map(|(name, v)| {
            if v != 0.0 && v.abs() < 1e-3 {
                format!("{name}: {v:.4e}")
            } else {
                format!("{name}: {v:.4}")
            }
        })
        .collect()
}

/// A duration as Keras prints the time of an epoch: `450ms`, `3s`, `2m 05s`,
/// `1h 02m`.
pub(crate) fn format_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".to_string();
    }
    if secs < 1.0 {
        return format!("{}ms", (secs * 1e3).round() as u64);
    }
    let whole = secs.round() as u64;
    match whole {
        0..60 => format!("{whole}s"),
        60..3600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60),
    }
}

/// Time per step as Keras prints it: `6ms/step`, `250us/step`, `2s/step`.
pub(crate) fn format_step_time(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?/step".to_string();
    }
    if secs >= 1.0 {
        format!("{}s/step", secs.round() as u64)
    } else if secs >= 1e-3 {
        format!("{}ms/step", (secs * 1e3).round() as u64)
    } else {
        format!("{}us/step", (secs * 1e6).round() as u64)
    }
}

/// A bar of `width` columns, `done` of `total` steps filled.
fn bar(done: usize, total: usize, width: usize) -> String {
    // An epoch of no steps is complete; `width` ≤ 20 keeps the product small.
    let filled = (done.min(total) * width)
        .checked_div(total)
        .unwrap_or(width);
    "━".repeat(filled) + &"─".repeat(width - filled)
}

/// Columns a string takes (every character here is one column wide).
fn columns(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to at most `width` columns, marking a cut with `…`.
fn truncate(s: &str, width: usize) -> String {
    if columns(s) <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `head` followed by `" - part"` for each part, broken into lines of at
/// most `width` columns: a part that does not fit goes to a new line,
/// indented by two spaces; a part wider than a line on its own is cut.
fn wrap(head: &str, parts: &[String], width: usize) -> Vec<String> {
    let mut lines = vec![truncate(head, width)];
    for part in parts {
        let last = lines.last_mut().expect("invariant: starts with one line");
        if columns(last) + 3 + columns(part) <= width {
            last.push_str(" - ");
            last.push_str(part);
        } else {
            lines.push(truncate(&format!("  {part}"), width));
        }
    }
    lines
}

/// The line of the bar while an epoch runs, Keras's
/// `12/469 ━━━━──────────────── ETA 3s 6ms/step - loss: 0.3100`: one line
/// of at most `width` columns (the bar shrinks, then the logs are cut).
pub(crate) fn running_line(
    done: usize,
    steps: usize,
    elapsed: f64,
    logs: &Logs,
    width: usize,
) -> String {
    let per_step = if done == 0 {
        f64::NAN
    } else {
        elapsed / done as f64
    };
    let eta = per_step * steps.saturating_sub(done) as f64;
    let counter = format!("{done:>w$}/{steps}", w = steps.to_string().len());
    let timing = format!(
        "ETA {} {}",
        format_duration(eta),
        format_step_time(per_step)
    );
    let logs = format_logs(logs);
    let tail = if logs.is_empty() {
        timing
    } else {
        format!("{timing} - {logs}")
    };
    truncate(&with_bar(&counter, done, steps, &tail, width), width)
}

/// The lines of a finished epoch, Keras's
/// `469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 6ms/step - accuracy: 0.9000 - loss: 0.3100`:
/// the time taken instead of an ETA, each line at most `width` columns
/// (the bar shrinks, then the logs continue on further lines).
pub(crate) fn finished_lines(steps: usize, elapsed: f64, logs: &Logs, width: usize) -> Vec<String> {
    let counter = format!("{steps}/{steps}");
    let timing = format!(
        "{} {}",
        format_duration(elapsed),
        format_step_time(elapsed / steps.max(1) as f64)
    );
    let parts = log_parts(logs);
    let logs = parts.join(" - ");
    let tail = if logs.is_empty() {
        timing.clone()
    } else {
        format!("{timing} - {logs}")
    };
    // One line with the bar shrunk (or left out) if the logs fit beside it;
    // otherwise the bar beside the first log, the other logs wrapped.
    let line = with_bar(&counter, steps, steps, &tail, width);
    if columns(&line) <= width {
        return vec![line];
    }
    let first = parts.first().map_or(0, |p| 3 + columns(p));
    let head = with_bar(&counter, steps, steps, &timing, width.saturating_sub(first));
    wrap(&head, &parts, width)
}

/// The line `verbose = 2` prints after each epoch, as Keras does:
/// `Epoch 3/10 - 3s 6ms/step - loss: 0.3100 - accuracy: 0.9000`. Always one
/// line (it is meant for log files, where nothing wraps), every log on it.
pub(crate) fn epoch_summary_line(
    epoch: usize,
    epochs: usize,
    steps: usize,
    elapsed: f64,
    logs: &Logs,
) -> String {
    let mut line = format!(
        "Epoch {}/{epochs} - {} {}",
        epoch + 1,
        format_duration(elapsed),
        format_step_time(elapsed / steps.max(1) as f64)
    );
    for part in log_parts(logs) {
        line.push_str(" - ");
        line.push_str(&part);
    }
    line
}

/// `counter bar tail`, the bar as wide as fits in `width` (up to
/// [`MAX_BAR`]), or `counter tail` when fewer than [`MIN_BAR`] columns are left.
fn with_bar(counter: &str, done: usize, steps: usize, tail: &str, width: usize) -> String {
    let fixed = columns(counter) + 2 + columns(tail);
    let room = width.saturating_sub(fixed).min(MAX_BAR);
    if room >= MIN_BAR {
        format!("{counter} {} {tail}", bar(done, steps, room))
    } else {
        format!("{counter} {tail}")
    }
}

/// The display state of one `fit`.
pub(crate) struct Progress {
    level: u8,
    epochs: usize,
    steps: usize,
    width: usize,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// `verbose`: the level asked for, or `None` for Keras's `"auto"`
    /// (1 on a terminal, 2 otherwise).
    pub(crate) fn new(verbose: Option<u8>, epochs: usize, steps: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let level = verbose.unwrap_or(if terminal { 1 } else { 2 });
        Progress {
            level,
            epochs,
            steps,
            width: WIDTH,
            bar: None,
            started: Instant::now(),
        }
    }

    pub(crate) fn epoch_begin(&mut self, epoch: usize) {
        self.started = Instant::now();
        if self.level == 1 {
            eprintln!("Epoch {}/{}", epoch + 1, self.epochs);
            let bar = ProgressBar::with_draw_target(
                Some(self.steps as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{msg}").expect("invariant: the template is valid"),
            );
            bar.set_message(running_line(
                0,
                self.steps,
                0.0,
                &Logs::default(),
                self.width,
            ));
            self.bar = Some(bar);
        }
    }

    pub(crate) fn batch_end(&mut self, batch: usize, logs: &Logs) {
        if let Some(bar) = &self.bar {
            let elapsed = self.started.elapsed().as_secs_f64();
            bar.set_position(batch as u64 + 1);
            bar.set_message(running_line(
                batch + 1,
                self.steps,
                elapsed,
                logs,
                self.width,
            ));
        }
    }

    pub(crate) fn epoch_end(&mut self, epoch: usize, logs: &Logs) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let lines = match (self.level, self.bar.take()) {
            (1, Some(bar)) => {
                bar.finish_and_clear();
                finished_lines(self.steps, elapsed, logs, self.width)
            }
            (2, _) => vec![epoch_summary_line(
                epoch,
                self.epochs,
                self.steps,
                elapsed,
                logs,
            )],
            _ => Vec::new(),
        };
        for line in lines {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(pairs: &[(&str, f64)]) -> Logs {
        let mut l = Logs::default();
        for &(name, v) in pairs {
            l.push(name, v);
        }
        l
    }

    #[test]
    fn durations_read_as_keras_prints_them() {
        assert_eq!(format_duration(0.45), "450ms");
        assert_eq!(format_duration(3.2), "3s");
        assert_eq!(format_duration(125.0), "2m 05s");
        assert_eq!(format_duration(3720.0), "1h 02m");
        assert_eq!(format_duration(f64::NAN), "?");
        assert_eq!(format_step_time(0.006), "6ms/step");
        assert_eq!(format_step_time(0.00025), "250us/step");
        assert_eq!(format_step_time(2.4), "2s/step");
    }

    #[test]
    fn finished_epoch_shows_time_taken_in_keras_layout() {
        let l = logs(&[("loss", 0.31), ("accuracy", 0.9)]);
        let lines = finished_lines(469, 2.8, &l, 80);
        assert_eq!(
            lines,
            ["469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 6ms/step - loss: 0.3100 - accuracy: 0.9000"]
        );
        assert!(!lines[0].contains("ETA"));
    }

    #[test]
    fn running_line_shows_eta_and_a_partial_bar() {
        let l = logs(&[("loss", 0.5)]);
        // 100 of 400 steps in 1 s: 10 ms a step, 300 steps (3 s) to go.
        let line = running_line(100, 400, 1.0, &l, 80);
        assert_eq!(
            line,
            "100/400 ━━━━━─────────────── ETA 3s 10ms/step - loss: 0.5000"
        );
    }

    #[test]
    fn every_terminal_line_fits_its_width_with_validation_metrics() {
        let l = logs(&[
            ("loss", 0.312_345),
            ("sparse_categorical_accuracy", 0.9),
            ("val_loss", 0.4),
            ("val_sparse_categorical_accuracy", 0.85),
            ("lr", 1e-4),
        ]);
        for width in [40, 60, 80, 120] {
            let running = running_line(1234, 60_000, 12.0, &l, width);
            assert!(columns(&running) <= width, "{running}");
            let lines = finished_lines(60_000, 754.0, &l, width);
            for line in &lines {
                assert!(columns(line) <= width, "{width}: {line}");
            }
            // Nothing is lost when the line wraps: every log is shown.
            let all = lines.join(" ");
            for (name, _) in l.iter() {
                assert!(all.contains(&format!("{name}: ")), "{all}");
            }
        }
    }

    #[test]
    fn the_bar_shrinks_before_the_logs_wrap() {
        let l = logs(&[("loss", 0.25), ("accuracy", 0.5), ("val_loss", 0.75)]);
        let lines = finished_lines(469, 3.0, &l, 80);
        // 80 columns leave 7 for the bar beside the three logs.
        assert_eq!(
            lines,
            ["469/469 ━━━━━━━ 3s 6ms/step - loss: 0.2500 - accuracy: 0.5000 - val_loss: 0.7500"]
        );
        // Narrower than the bar's minimum: the bar goes, still one line.
        let narrow = finished_lines(469, 3.0, &l, 75);
        assert_eq!(
            narrow,
            ["469/469 3s 6ms/step - loss: 0.2500 - accuracy: 0.5000 - val_loss: 0.7500"]
        );
        // Narrower still: the logs wrap, the bar comes back beside the first.
        let wrapped = finished_lines(469, 3.0, &l, 50);
        assert_eq!(wrapped.len(), 2, "{wrapped:?}");
        assert!(wrapped[0].starts_with("469/469 ━"), "{wrapped:?}");
        assert_eq!(wrapped[1], "  accuracy: 0.5000 - val_loss: 0.7500");
    }

    #[test]
    fn one_line_per_epoch_for_log_files() {
        let l = logs(&[("loss", 0.31), ("accuracy", 0.9)]);
        assert_eq!(
            epoch_summary_line(2, 10, 469, 2.8, &l),
            "Epoch 3/10 - 3s 6ms/step - loss: 0.3100 - accuracy: 0.9000"
        );
        // Longer than 80 columns with validation metrics: still one line.
        let long = logs(&[
            ("loss", 0.0198),
            ("accuracy", 0.9951),
            ("val_loss", 0.0413),
            ("val_accuracy", 0.9783),
        ]);
        let line = epoch_summary_line(16, 20, 13, 0.112, &long);
        assert_eq!(
            line,
            "Epoch 17/20 - 112ms 9ms/step - loss: 0.0198 - accuracy: 0.9951 - val_loss: 0.0413 - val_accuracy: 0.9783"
        );
    }

    #[test]
    fn small_values_use_exponent_form() {
        assert_eq!(format_logs(&logs(&[("lr", 1e-4)])), "lr: 1.0000e-4");
    }
}
