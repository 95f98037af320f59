//! EDA plots (work in progress).
