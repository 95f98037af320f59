//! Integration tests of `re-classic`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod common;
mod features;
mod morphology;
mod pipeline;
