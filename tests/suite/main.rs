//! The integration tests, one binary: each file is a module of its own (one
//! link instead of one per file keeps `cargo test` quick on a fresh clone).

mod attention_golden;
mod attention_layers;
mod attention_models;
mod attention_ops;
mod callbacks;
mod data_errors;
mod data_pipeline;
mod examples_accuracy;
mod golden_tape;
mod gpt_example;
mod gpt_generate;
mod gpt_import;
mod gradcheck;
mod history_plot;
mod initializers;
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
mod text_data;
mod training;
