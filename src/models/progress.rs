//! The progress display of `fit` on stderr: a bar per epoch (`verbose = 1`),
//! a line per epoch (`verbose = 2`), or nothing (`0`). By default the bar is
//! drawn only when stderr is a terminal, so tests and pipes stay quiet.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::callbacks::Logs;

/// Formats logs as Keras does: `loss: 0.1234 - accuracy: 0.9000`.
pub(crate) fn format_logs(logs: &Logs) -> String {
    logs.iter()
        .map(|(name, v)| {
            if v != 0.0 && v.abs() < 1e-3 {
                format!("{name}: {v:.4e}")
            } else {
                format!("{name}: {v:.4}")
            }
        })
        .collect::<Vec<_>>()
        .join(" - ")
}

pub(crate) struct Progress {
    level: u8,
    epochs: usize,
    steps: usize,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    pub(crate) fn new(verbose: Option<u8>, epochs: usize, steps: usize) -> Self {
        let level = verbose.unwrap_or(if std::io::stderr().is_terminal() {
            1
        } else {
            0
        });
        Progress {
            level,
            epochs,
            steps,
            bar: None,
            started: Instant::now(),
        }
    }

    pub(crate) fn epoch_begin(&mut self, epoch: usize) {
        self.started = Instant::now();
        if self.level == 1 {
            let bar = ProgressBar::with_draw_target(
                Some(self.steps as u64),
                ProgressDrawTarget::stderr(),
            );
            let style = ProgressStyle::with_template(
                "{prefix} {pos:>5}/{len} [{bar:30}] {elapsed_precise} ETA {eta_precise} {msg}",
            )
            .expect("invariant: the template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("Epoch {}/{}", epoch + 1, self.epochs));
            self.bar = Some(bar);
        }
    }

    pub(crate) fn batch_end(&mut self, batch: usize, logs: &Logs) {
        if let Some(bar) = &self.bar {
            bar.set_position(batch as u64 + 1);
            bar.set_message(format_logs(logs));
        }
    }

    pub(crate) fn epoch_end(&mut self, epoch: usize, logs: &Logs) {
        match (self.level, self.bar.take()) {
            (1, Some(bar)) => bar.finish_with_message(format_logs(logs)),
            (2, _) => eprintln!(
                "Epoch {}/{} - {:.2}s - {}",
                epoch + 1,
                self.epochs,
                self.started.elapsed().as_secs_f64(),
                format_logs(logs)
            ),
            _ => {}
        }
    }
}
