//! submission.csv I/O (in progress)
