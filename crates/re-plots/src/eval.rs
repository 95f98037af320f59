//! Evaluation plots (work in progress).
