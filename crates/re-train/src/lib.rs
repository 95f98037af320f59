//! re-train (work in progress).
