//! What an embedder expects of its ONNX model: the one input and the outputs it reads.

/// The inputs and outputs an embedder expects of its model.
#[derive(Debug)]
pub(crate) struct Signature {
    /// The one float32 input, `[batch, ..item]`.
    pub input: &'static str,
    /// Shape of one item (without the batch axis).
    pub item: &'static [usize],
    /// The float32 outputs used, `[batch, width]`, by name.
    pub outputs: &'static [(&'static str, usize)],
}

impl Signature {
    /// Values per item.
    pub fn item_len(&self) -> usize {
        self.item.iter().product()
    }

    /// The input's shape for `batch` items: `[batch, ..item]`.
    pub fn shape(&self, batch: usize) -> Vec<usize> {
        std::iter::once(batch)
            .chain(self.item.iter().copied())
            .collect()
    }
}
