//! `$vector` values (JSON arrays or `{"$binary": base64 big-endian f32}`) and
//! the similarity functions (jvector's, computed in f32).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Value, json};

use crate::error::{ApiResult, Code, err};
use crate::json::f32_to_json;

/// Similarity metric of a vector collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    Cosine,
    Euclidean,
    DotProduct,
}

impl Metric {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cosine" => Metric::Cosine,
            "euclidean" => Metric::Euclidean,
            "dot_product" => Metric::DotProduct,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
            Metric::DotProduct => "dot_product",
        }
    }
}

/// A decoded vector plus the form it was written in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredVector {
    pub(crate) values: Box<[f32]>,
    /// Sum of squares (for cosine).
    pub(crate) norm_sq: f32,
    /// `Some(base64)` when written as `{"$binary": …}` (returned verbatim).
    pub(crate) binary: Option<String>,
}

impl StoredVector {
    pub(crate) fn new(values: Vec<f32>, binary: Option<String>) -> Self {
        let norm_sq = dot(&values, &values);
        StoredVector {
            values: values.into_boxed_slice(),
            norm_sq,
            binary,
        }
    }

    /// The `$vector` value in the form it was written.
    pub(crate) fn to_json(&self) -> Value {
        match &self.binary {
            Some(b64) => json!({"$binary": b64}),
            None => Value::Array(self.values.iter().map(|&x| f32_to_json(x)).collect()),
        }
    }

    /// Little-endian bytes (storage format in SQLite).
    pub(crate) fn to_le_bytes(&self) -> Vec<u8> {
        self.values.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    pub(crate) fn from_le_bytes(bytes: &[u8], binary_form: bool) -> Option<Self> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let binary = binary_form.then(|| encode_binary(&values));
        Some(StoredVector::new(values, binary))
    }
}

/// Base64 of big-endian f32s, the `$binary` wire form.
pub(crate) fn encode_binary(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_be_bytes()).collect();
    STANDARD.encode(bytes)
}

/// Where a vector value comes from (changes the error codes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorUse {
    Document,
    Sort,
}

/// Parse a `$vector` value. `Ok(None)` for JSON null (no vector).
pub(crate) fn parse(v: &Value, usage: VectorUse) -> ApiResult<Option<StoredVector>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(err(
                    Code::SHRED_BAD_VECTOR_SIZE,
                    "Bad $vector value: cannot be empty Array.",
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Some(f) = item.as_f64() else {
                    return Err(err(
                        Code::SHRED_BAD_VECTOR_VALUE,
                        format!(
                            "Bad $vector value: needs to be an array containing only Numbers but has a {} value ({item}).",
                            crate::json::type_name(item)
                        ),
                    ));
                };
                let x = crate::json::narrow_f32(f);
                if !x.is_finite() {
                    return Err(err(
                        Code::SHRED_BAD_VECTOR_VALUE,
                        format!(
                            "Bad $vector value: {item} is outside the range of a 32-bit float (largest magnitude {:e}).",
                            f32::MAX
                        ),
                    ));
                }
                out.push(x);
            }
            checked(StoredVector::new(out, None))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("$binary") => {
            let bad = |why: &str| {
                err(
                    Code::SHRED_BAD_BINARY_VECTOR_VALUE,
                    format!("Bad binary vector value to shred: {why}."),
                )
            };
            let Some(s) = m.get("$binary").and_then(Value::as_str) else {
                return Err(bad("Unsupported JSON value type in EJSON $binary wrapper"));
            };
            let bytes = STANDARD
                .decode(s)
                .or_else(|_| STANDARD_NO_PAD.decode(s))
                .map_err(|_| {
                    bad("Invalid content in EJSON $binary wrapper: not valid Base64-encoded String")
                })?;
            if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
                return Err(bad(&format!(
                    "binary value to decode is not a multiple of 4 bytes long ({} bytes)",
                    bytes.len()
                )));
            }
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if values.iter().any(|x| !x.is_finite()) {
                return Err(bad("vector contains NaN or infinite values"));
            }
            checked(StoredVector::new(values, Some(s.to_owned())))
        }
        other => Err(match usage {
            VectorUse::Document => err(
                Code::SHRED_BAD_DOCUMENT_VECTOR_TYPE,
                format!(
                    "Bad $vector value to shred: $vector value needs to be of type Array or EJSON $binary, not {}.",
                    crate::json::type_name(other)
                ),
            ),
            VectorUse::Sort => err(
                Code::SORT_CLAUSE_VALUE_INVALID,
                format!(
                    "Value used for sort expression on path '$vector' not valid: vector sort value needs to be an Array of numbers or EJSON $binary, not {}.",
                    crate::json::type_name(other)
                ),
            ),
        }),
    }
}

/// Refuses a vector whose sum of squares overflows f32 (e.g. `[3e38, 3e38]`): every
/// similarity computed with it would be infinite or NaN.
fn checked(v: StoredVector) -> ApiResult<Option<StoredVector>> {
    if v.norm_sq.is_finite() {
        return Ok(Some(v));
    }
    let largest = v.values.iter().fold(0f32, |m, x| m.max(x.abs()));
    Err(err(
        Code::SHRED_BAD_VECTOR_VALUE,
        format!(
            "Bad $vector value: the sum of the squares of its components overflows a 32-bit float (largest component {largest:e}); scale the vector down."
        ),
    ))
}

/// Check a vector's length against the collection's dimension.
pub(crate) fn check_dimension(v: &StoredVector, dimension: usize) -> ApiResult<()> {
    if v.values.len() == dimension {
        Ok(())
    } else {
        Err(err(
            Code::INVALID_VECTOR_LENGTH,
            format!(
                "Length of vector parameter different from declared '$vector' dimension: root cause = (InvalidQueryException) Not enough bytes to read a vector<float, {dimension}>; the vector has {} elements.",
                v.values.len()
            ),
        ))
    }
}

/// Sum over 8 lanes of `f(x_i, y_i)`, written with fixed-size chunks and
/// an unrolled body so it is fast even without heavy optimisation (the
/// workspace's dev profile uses opt-level 1). The summation order differs
/// from a plain loop only in rounding.
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let mut acc = [0f32; 8];
    let n = ca.len().min(cb.len());
    let mut i = 0;
    while i < n {
        let (x, y) = (&ca[i], &cb[i]);
        acc[0] += f(x[0], y[0]);
        acc[1] += f(x[1], y[1]);
        acc[2] += f(x[2], y[2]);
        acc[3] += f(x[3], y[3]);
        acc[4] += f(x[4], y[4]);
        acc[5] += f(x[5], y[5]);
        acc[6] += f(x[6], y[6]);
        acc[7] += f(x[7], y[7]);
        i += 1;
    }
    let mut sum = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for (x, y) in ra.iter().zip(rb) {
        sum += f(*x, *y);
    }
    sum
}

/// f32 dot product.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| x * y)
}

fn square_distance(a: &[f32], b: &[f32]) -> f32 {
    lanes(a, b, |x, y| (x - y) * (x - y))
}

/// `$similarity` of a document vector to the query, per the metric:
/// cosine `(1+cos)/2`, dot `(1+q·v)/2`, euclidean `1/(1+‖q−v‖²)`.
/// `None` when undefined (cosine with a zero-length document vector) or not a finite
/// number (vectors stored before huge values were refused), so such a document is never
/// returned as a match and ranking never sees a NaN.
pub(crate) fn similarity(metric: Metric, q: &StoredVector, v: &StoredVector) -> Option<f32> {
    raw_similarity(metric, q, v).filter(|s| s.is_finite())
}

fn raw_similarity(metric: Metric, q: &StoredVector, v: &StoredVector) -> Option<f32> {
    match metric {
        Metric::Cosine => {
            let denom = ((q.norm_sq as f64) * (v.norm_sq as f64)).sqrt();
            if denom == 0.0 {
                return None;
            }
            let cos = (dot(&q.values, &v.values) as f64 / denom) as f32;
            Some((1.0 + cos) / 2.0)
        }
        Metric::DotProduct => Some((1.0 + dot(&q.values, &v.values)) / 2.0),
        Metric::Euclidean => Some(1.0 / (1.0 + square_distance(&q.values, &v.values))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[f32]) -> StoredVector {
        StoredVector::new(x.to_vec(), None)
    }

    #[test]
    fn lanes_match_plain_sums() {
        let a: Vec<f32> = (0..21).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..21).map(|i| 3.0 - i as f32).collect();
        let plain_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let plain_sq: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - plain_dot).abs() < 1e-3);
        assert!((square_distance(&a, &b) - plain_sq).abs() < 1e-3);
    }

    #[test]
    fn metrics() {
        let a = v(&[1.0, 0.0]);
        let b = v(&[0.0, 1.0]);
        assert_eq!(similarity(Metric::Cosine, &a, &a), Some(1.0));
        assert_eq!(similarity(Metric::Cosine, &a, &b), Some(0.5));
        assert_eq!(similarity(Metric::Euclidean, &a, &b), Some(1.0 / 3.0));
        assert_eq!(similarity(Metric::DotProduct, &a, &b), Some(0.5));
        assert_eq!(similarity(Metric::Cosine, &a, &v(&[0.0, 0.0])), None);
    }

    #[test]
    fn overflowing_vectors_are_refused_and_never_ranked() {
        for bad in [json!([3e38, 3e38]), json!([1e300]), json!([-3.5e38, 0.0])] {
            for usage in [VectorUse::Document, VectorUse::Sort] {
                let e = parse(&bad, usage).err().map(|e| e.code);
                assert_eq!(e, Some(Code::SHRED_BAD_VECTOR_VALUE), "{bad}");
            }
        }
        let b64 = encode_binary(&[3e38, -3e38]);
        let e = parse(&json!({"$binary": b64}), VectorUse::Document).err();
        assert_eq!(e.map(|e| e.code), Some(Code::SHRED_BAD_VECTOR_VALUE));
        // The largest vector that is still accepted.
        let ok = parse(&json!([1.8e19, 0.0]), VectorUse::Document);
        assert!(ok.is_ok_and(|v| v.is_some()));

        // A vector stored before this check (read back from the database) scores nothing.
        let bytes: Vec<u8> = [3e38f32, 3e38]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let stored = StoredVector::from_le_bytes(&bytes, false).expect("decodes");
        let q = v(&[1.0, 1.0]);
        for m in [Metric::Cosine, Metric::DotProduct] {
            assert_eq!(similarity(m, &q, &stored), None, "{m:?}");
        }
        // Euclidean: an infinite distance is similarity 0, a finite number.
        assert_eq!(similarity(Metric::Euclidean, &q, &stored), Some(0.0));
        // Mixed signs whose partial sums overflow give NaN: no score either.
        let a = v(&[3e38, 3e38, -3e38, -3e38]);
        let b = v(&[3.0, 3.0, 3.0, 3.0]);
        assert_eq!(similarity(Metric::DotProduct, &a, &b), None);
    }

    #[test]
    fn binary_round_trip() {
        let b64 = encode_binary(&[0.5, -1.0, 2.25]);
        let parsed = parse(&json!({"$binary": b64}), VectorUse::Document);
        let parsed = parsed.ok().flatten().map(|p| p.values.to_vec());
        assert_eq!(parsed, Some(vec![0.5, -1.0, 2.25]));
        let bad = parse(&json!({"$binary": "AAA="}), VectorUse::Document);
        assert_eq!(
            bad.err().map(|e| e.code),
            Some(Code::SHRED_BAD_BINARY_VECTOR_VALUE)
        );
    }
}
