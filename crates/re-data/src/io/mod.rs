//! Readers and writers, one module per format. (in progress)
pub mod submission;
