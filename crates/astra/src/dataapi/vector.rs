//! `$vector` wire encoding: JSON arrays and `{"$binary": base64(big-endian f32)}`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};

use super::config::VectorEncoding;

/// Why a `$vector` value could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    /// `$binary` was not valid base64.
    #[error("$binary vector is not valid base64")]
    BadBase64,
    /// `$binary` decoded to a byte count that is not a multiple of 4.
    #[error("$binary vector has {0} bytes, not a multiple of 4")]
    BadLength(usize),
    /// An array element was not a number.
    #[error("vector element {0} is not a number")]
    NotANumber(usize),
    /// Neither an array nor `{"$binary": "..."}`.
    #[error("unsupported $vector value (expected an array or {{\"$binary\": ...}})")]
    UnsupportedShape,
}

/// Encodes a vector for the wire.
pub fn encode_vector(vector: &[f32], encoding: VectorEncoding) -> Value {
    match encoding {
        VectorEncoding::Array => Value::Array(
            vector
                .iter()
                .map(|&x| {
                    serde_json::Number::from_f64(f64::from(x)).map_or(Value::Null, Value::Number)
                })
                .collect(),
        ),
        VectorEncoding::Binary => {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_be_bytes()).collect();
            json!({ "$binary": STANDARD.encode(bytes) })
        }
    }
}

/// Decodes a `$vector` value in either wire form.
pub fn decode_vector(value: &Value) -> Result<Vec<f32>, VectorError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64()
                    .map(songrec_storage::metadata::narrow_f32)
                    .ok_or(VectorError::NotANumber(i))
            })
            .collect(),
        Value::Object(map) => {
            let b64 = match (map.len(), map.get("$binary")) {
                (1, Some(Value::String(s))) => s,
                _ => return Err(VectorError::UnsupportedShape),
            };
            let bytes = STANDARD
                .decode(b64)
                .or_else(|_| STANDARD_NO_PAD.decode(b64))
                .map_err(|_| VectorError::BadBase64)?;
            if bytes.len() % 4 != 0 {
                return Err(VectorError::BadLength(bytes.len()));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
        _ => Err(VectorError::UnsupportedShape),
    }
}

/// Reads a document's `$vector` (either form); `Ok(None)` if it has none.
pub fn document_vector(document: &Value) -> Result<Option<Vec<f32>>, VectorError> {
    match document.get("$vector") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => decode_vector(v).map(Some),
    }
}

/// Re-encodes a numeric-array `$vector` member of `obj` to `encoding` (used on outgoing
/// documents, `$set` clauses and sorts). Leaves other shapes untouched.
pub(crate) fn reencode_member(obj: &mut Map<String, Value>, encoding: VectorEncoding) {
    if encoding != VectorEncoding::Binary {
        return;
    }
    if let Some(v @ Value::Array(_)) = obj.get_mut("$vector")
        && let Ok(floats) = decode_vector(v)
    {
        *v = encode_vector(&floats, encoding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_big_endian() {
        // 1.0f32 = 0x3F800000, -2.0f32 = 0xC0000000
        let v = encode_vector(&[1.0, -2.0], VectorEncoding::Binary);
        let b64 = v["$binary"].as_str().unwrap_or_default();
        let bytes = STANDARD.decode(b64).unwrap_or_default();
        assert_eq!(bytes, [0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0]);
    }

    #[test]
    fn round_trips_odd_values() {
        let v = [f32::MIN_POSITIVE, f32::MAX, -0.0, 1e-30, 0.1];
        for enc in [VectorEncoding::Binary, VectorEncoding::Array] {
            let decoded = decode_vector(&encode_vector(&v, enc)).unwrap_or_default();
            assert_eq!(decoded.len(), v.len());
            for (a, b) in decoded.iter().zip(v.iter()) {
                assert_eq!(a.to_bits(), b.to_bits(), "{enc:?}");
            }
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(
            decode_vector(&json!({"$binary": "!!"})),
            Err(VectorError::BadBase64)
        );
        assert_eq!(
            decode_vector(&json!({"$binary": "AAA="})),
            Err(VectorError::BadLength(2))
        );
        assert_eq!(
            decode_vector(&json!([1, "x"])),
            Err(VectorError::NotANumber(1))
        );
        assert_eq!(
            decode_vector(&json!({"x": 1})),
            Err(VectorError::UnsupportedShape)
        );
        assert_eq!(
            decode_vector(&json!("a")),
            Err(VectorError::UnsupportedShape)
        );
    }

    #[test]
    fn reencode_only_touches_arrays() {
        let mut m = Map::new();
        m.insert("$vector".into(), json!([1.0]));
        reencode_member(&mut m, VectorEncoding::Binary);
        assert_eq!(m["$vector"], json!({"$binary": "P4AAAA=="}));
        let mut m = Map::new();
        m.insert("$vector".into(), json!([1.0]));
        reencode_member(&mut m, VectorEncoding::Array);
        assert_eq!(m["$vector"], json!([1.0]));
    }
}
