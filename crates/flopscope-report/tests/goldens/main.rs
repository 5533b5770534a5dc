//! Golden outputs of every report in every format, on small fixed inputs whose numbers are
//! derived by hand in the comments (so the goldens are checked, not just recorded).

mod fixtures;
mod renderers;
mod reports;
