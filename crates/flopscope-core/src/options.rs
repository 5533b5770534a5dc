//! What to analyse: sizes for symbolic dims, explicit input shapes, built-in model options.

/// What to analyse: sizes for symbolic dims and explicit input shapes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--dim name=N`: a size for a named symbolic dim.
    pub dims: Vec<(String, u64)>,
    /// `--input [name=]AxBxC`: a full shape for an input (the only input when unnamed).
    pub inputs: Vec<(Option<String>, Vec<u64>)>,
    /// `--classes N`: classifier outputs of a built-in image model.
    pub classes: Option<u64>,
}
