//! re-metrics (work in progress).
