//! re-ensemble (work in progress).
