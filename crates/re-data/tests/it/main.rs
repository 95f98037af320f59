//! Integration tests of `re-data`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod io_bad_input;
mod io_kaist;
mod labels_pickle;
mod markers_encode;
mod minilm_weights;
mod readers;
mod synth_eda;
