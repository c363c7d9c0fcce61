//! Row-major numbers: the rows of a reference output in an `expected.json`, and per-column
//! sums over rows (the means the pooling steps take).

/// The numbers of a JSON array, or of an array of rows (arrays of numbers) flattened row after
/// row, as `f32`: how the `expected.json` files beside the models hold reference outputs.
/// `None` when `v` is anything else.
///
/// ```
/// use serde_json::json;
/// use songrec_neural::json_floats;
/// assert_eq!(json_floats(&json!([1, 2.5])), Some(vec![1.0, 2.5]));
/// assert_eq!(json_floats(&json!([[1, 2], [3]])), Some(vec![1.0, 2.0, 3.0]));
/// assert_eq!(json_floats(&json!([1, "x"])), None);
/// assert_eq!(json_floats(&json!(null)), None);
/// ```
pub fn json_floats(v: &serde_json::Value) -> Option<Vec<f32>> {
    v.as_array()?
        .iter()
        .flat_map(|x| x.as_array().map_or(std::slice::from_ref(x), Vec::as_slice))
        .map(|y| y.as_f64().map(|f| f as f32))
        .collect()
}

/// Per-column f64 sums of row-major `values` with `width` columns, and the number of rows.
pub(crate) fn column_sums(values: &[f32], width: usize) -> (Vec<f64>, usize) {
    let mut sum = vec![0f64; width];
    for row in values.chunks_exact(width) {
        for (m, x) in sum.iter_mut().zip(row) {
            *m += f64::from(*x);
        }
    }
    (sum, values.len() / width)
}
