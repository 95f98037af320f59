//! Synthetic Korean relation-extraction data (clearly labelled synthetic wherever it appears). (in progress)
pub mod competition;
