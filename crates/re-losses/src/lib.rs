//! re-losses (work in progress).
