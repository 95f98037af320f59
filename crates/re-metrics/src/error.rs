//! The one error type of `re-metrics`. Every variant names the argument (and, where it applies, the row/column) so a
//! caller can find the bad input; no function of this crate panics on bad input.

/// Result alias of this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;

/// Everything that can be wrong with the inputs of a metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// An input that needs at least one element has none (scikit-learn raises too).
    #[error("{what} is empty; at least one example is needed")]
    Empty {
        /// Name of the argument, e.g. `gold`.
        what: &'static str,
    },
    /// Two inputs that must describe the same examples have different lengths.
    #[error("length mismatch: {what} has {found} values but {expected} were expected")]
    LengthMismatch {
        /// Name of the argument whose length is wrong.
        what: &'static str,
        /// Length implied by the other arguments.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A label id is not below the number of labels.
    #[error("{what}[{index}] = {label} is not a valid label id (there are {num_labels} labels)")]
    LabelOutOfRange {
        /// Name of the argument, e.g. `pred`.
        what: &'static str,
        /// Position of the example (0-based row).
        index: usize,
        /// The offending label id.
        label: usize,
        /// Number of labels.
        num_labels: usize,
    },
    /// A score/probability is NaN or infinite (scikit-learn's `assert_all_finite` rejects those too).
    #[error("{what}: row {row}, column {column} is {value}; scores must be finite")]
    NonFinite {
        /// Name of the argument, e.g. `probs`.
        what: &'static str,
        /// 0-based example index.
        row: usize,
        /// 0-based class (column) index.
        column: usize,
        /// The offending value.
        value: f64,
    },
    /// Any other argument that makes the metric undefined (zero labels, duplicate label names, `k = 0` …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
