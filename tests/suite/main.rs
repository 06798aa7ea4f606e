//! The integration tests, one binary: each file is a module of its own (one
//! link instead of one per file keeps `cargo test` quick on a fresh clone).

mod alloc_count;
mod bad_inputs_callbacks;
mod bad_inputs_data;
mod bad_inputs_metrics;
mod bad_inputs_models;
mod bad_inputs_persist;
mod bad_inputs_tensor;
mod callbacks;
mod data_errors;
mod data_pipeline;
mod examples_accuracy;
mod fit_guarantees;
mod golden_tape;
mod gradcheck;
mod history_plot;
mod initializers;
mod kill_during_save;
mod layers;
mod losses;
mod matmul_props;
mod metrics;
mod optimizers;
mod persist;
mod persist_errors;
mod persist_fresh_process;
mod sequential;
mod sequential_errors;
mod tape;
mod tensor_errors;
mod tensor_props;
mod threads;
mod training;
