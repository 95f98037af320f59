//! Synthetic competition-relation set (in progress)
