//! Models: [`Sequential`] — building, summary, `compile`, `fit`,
//! `evaluate`, `predict` — with [`FitOptions`], [`History`] and
//! [`Evaluation`].

mod history;

pub use history::History;
