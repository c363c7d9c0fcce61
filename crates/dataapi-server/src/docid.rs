//! Document ids: validation, the identity key used for storage and ordering,
//! and generation of new ids according to a collection's `defaultId`.

use serde_json::{Value, json};

use crate::error::{ApiResult, Code, err};

/// `defaultId.type` of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultId {
    ObjectId,
    Uuid,
    UuidV6,
    UuidV7,
}

impl DefaultId {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "objectId" => DefaultId::ObjectId,
            "uuid" => DefaultId::Uuid,
            "uuidv6" => DefaultId::UuidV6,
            "uuidv7" => DefaultId::UuidV7,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DefaultId::ObjectId => "objectId",
            DefaultId::Uuid => "uuid",
            DefaultId::UuidV6 => "uuidv6",
            DefaultId::UuidV7 => "uuidv7",
        }
    }
}

/// A fresh id: plain UUIDv4 string without `defaultId`, else the EJSON form.
pub(crate) fn generate(kind: Option<DefaultId>) -> Value {
    match kind {
        None => json!(uuid::Uuid::new_v4().to_string()),
        Some(DefaultId::Uuid) => json!({"$uuid": uuid::Uuid::new_v4().to_string()}),
        Some(DefaultId::UuidV6) => {
            let node: [u8; 6] = *uuid::Uuid::new_v4()
                .as_bytes()
                .first_chunk()
                .unwrap_or(&[0; 6]);
            json!({"$uuid": uuid::Uuid::now_v6(&node).to_string()})
        }
        Some(DefaultId::UuidV7) => json!({"$uuid": uuid::Uuid::now_v7().to_string()}),
        Some(DefaultId::ObjectId) => json!({"$objectId": new_object_id()}),
    }
}

fn new_object_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let random = uuid::Uuid::new_v4();
    let r = random.as_bytes();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    format!(
        "{secs:08x}{:02x}{:02x}{:02x}{:02x}{:02x}{count:06x}",
        r[0], r[1], r[2], r[3], r[4]
    )
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check that a value is a legal document id.
pub(crate) fn validate(id: &Value) -> ApiResult<()> {
    match id {
        Value::String(s) if s.is_empty() => Err(err(
            Code::SHRED_BAD_DOCID_VALUE,
            "Bad value for '_id' field: empty String not allowed.",
        )),
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(()),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", id));
            let ok = match k {
                "$date" => v.as_i64().is_some(),
                "$uuid" => v.as_str().is_some_and(is_uuid),
                "$objectId" => v.as_str().is_some_and(is_object_id),
                _ => {
                    return Err(err(
                        Code::SHRED_BAD_DOCID_TYPE,
                        format!(
                            "Bad type for '_id' field: unrecognized JSON extension type '{k}'."
                        ),
                    ));
                }
            };
            if ok {
                Ok(())
            } else {
                Err(err(
                    Code::SHRED_BAD_EJSON_VALUE,
                    format!(
                        "Bad JSON Extension value to shred: invalid value ({v}) for extended JSON type '{k}'."
                    ),
                ))
            }
        }
        other => Err(err(
            Code::SHRED_BAD_DOCID_TYPE,
            format!(
                "Bad type for '_id' field: Document Id must be a JSON String, Number, Boolean, EJSON-Encoded Date Object or NULL instead got {}.",
                crate::json::type_name(other)
            ),
        )),
    }
}

/// Storage key of a (valid) id: a 16-hex-digit token (a stable hash of the identity)
/// followed by the identity `(type, canonical string)`. `$uuid` and `$objectId` share the
/// string key space with plain strings.
///
/// Documents are kept and returned by unsorted finds in key order, so, like the real service
/// (Cassandra returns partitions in token order: the Murmur3 hash of the partition key `_id`),
/// an unsorted listing is in hash order, not `_id` order, and clients cannot come to rely on it.
pub(crate) fn key(id: &Value) -> String {
    let ident = identity(id);
    format!("{:016x}{ident}", token(ident.as_bytes()))
}

/// A stable 64-bit hash standing in for Cassandra's Murmur3 token (FNV-1a, then the
/// SplitMix64 finaliser so that similar ids land far apart).
fn token(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Identity of a (valid) id: `(type, canonical string)`.
fn identity(id: &Value) -> String {
    match id {
        Value::String(s) => format!("s{s}"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                format!("n{i}")
            } else if let Some(u) = n.as_u64() {
                format!("n{u}")
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    format!("n{}", f as i64)
                } else {
                    format!("n{f}")
                }
            }
        }
        Value::Bool(b) => format!("b{}", u8::from(*b)),
        Value::Null => "z".to_owned(),
        Value::Object(m) => match m.iter().next() {
            Some((k, Value::String(s))) if k == "$uuid" || k == "$objectId" => format!("s{s}"),
            Some((k, v)) if k == "$date" => format!("d{}", v.as_i64().unwrap_or(0)),
            _ => format!("o{id}"),
        },
        Value::Array(_) => format!("a{id}"),
    }
}

/// Key for a filter operand compared against `_id` (`None` if it can't be an id).
pub(crate) fn key_if_valid(v: &Value) -> Option<String> {
    validate(v).ok().map(|()| key(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_validation() {
        assert_ne!(key(&json!("5")), key(&json!(5)));
        // Token order, not id order (as Cassandra's partitioner).
        let mut ids: Vec<String> = (0..50).map(|i| format!("id{i:03}")).collect();
        let in_id_order = ids.clone();
        ids.sort_by_key(|i| key(&json!(i)));
        assert_ne!(ids, in_id_order);
        assert_eq!(key(&json!("a")), key(&json!("a")));
        assert_eq!(key(&json!(5)), key(&json!(5.0)));
        let u = "6f0a3b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(key(&json!({"$uuid": u})), key(&json!(u)));
        assert!(validate(&json!("")).is_err());
        assert!(validate(&json!([1])).is_err());
        assert!(validate(&json!({"x": 1})).is_err());
        assert!(validate(&generate(Some(DefaultId::ObjectId))).is_ok());
        assert!(validate(&generate(Some(DefaultId::UuidV6))).is_ok());
        assert!(validate(&generate(Some(DefaultId::UuidV7))).is_ok());
    }
}
