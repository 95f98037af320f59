//! re-classic (work in progress).
