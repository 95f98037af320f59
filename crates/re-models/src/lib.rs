//! re-models (work in progress).
