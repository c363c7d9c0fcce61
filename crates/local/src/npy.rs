//! Reading and writing numpy `.npy` vectors.
//!
//! Reads what `np.save` writes for a float vector: format versions 1.0–3.0, dtype float32 or
//! float64 in either byte order, C order, shape `(d,)`, `(1, d)` or `(d, 1)`. Writes version 1.0,
//! little-endian float32, shape `(d,)`, header padded to 64 bytes, which numpy reads back.

use std::path::Path;

use songrec_storage::{StorageError, StorageResult};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Serialises a vector as a `.npy` file's bytes.
///
/// ```
/// let bytes = songrec_local::npy::encode(&[1.0, 2.5]);
/// assert_eq!(songrec_local::npy::decode(&bytes).unwrap(), vec![1.0, 2.5]);
/// assert_eq!((bytes.len() - 8) % 64, 0); // data starts 64-byte aligned
/// ```
pub fn encode(v: &[f32]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        v.len()
    );
    // magic(6) + version(2) + header_len(2) + dict + padding + '\n' must be a multiple of 64.
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(10 + header_len + v.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Parses a `.npy` file's bytes into an f32 vector (float64 is narrowed), refusing a vector
/// that cannot be searched (see `unusable`).
///
/// ```
/// let nan = songrec_local::npy::encode(&[1.0, f32::NAN]);
/// assert!(songrec_local::npy::decode(&nan).unwrap_err().contains("NaN"));
/// ```
pub fn decode(bytes: &[u8]) -> Result<Vec<f32>, String> {
    let v = decode_values(bytes)?;
    unusable(&v).map_or(Ok(v), Err)
}

/// Why a well-formed vector cannot be stored or searched: it is empty, holds a NaN or an
/// infinity (including a float64 value beyond float32's range, which narrows to an infinity),
/// or its norm overflows float32. `None` for a usable vector.
pub(crate) fn unusable(v: &[f32]) -> Option<String> {
    if v.is_empty() {
        return Some("empty vector (0 values)".into());
    }
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Some(format!(
            "value {i} is {x}, not a finite float32 (the vector cannot be searched)"
        ));
    }
    if songrec_storage::math::checked_norm(v).is_none() {
        return Some("the vector's norm overflows float32 (the vector cannot be searched)".into());
    }
    None
}

/// Parses a `.npy` file's bytes into an f32 vector (float64 is narrowed) without judging the
/// values: only the file format is checked.
pub(crate) fn decode_values(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")?;
    let shape = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("bad shape {shape}"))
        })
        .collect::<Result<_, _>>()?;
    let n = match dims.as_slice() {
        [d] => *d,
        [1, d] | [d, 1] => *d,
        _ => {
            return Err(format!(
                "expected a vector (shape (d,) or (1, d)), got shape {shape}"
            ));
        }
    };
    if fortran.starts_with("True") && dims.len() > 1 && dims.iter().all(|&d| d != 1) {
        return Err("fortran-ordered matrices are not supported".into());
    }
    let data = &bytes[end..];
    let (size, little, is64) = match descr {
        "<f4" | "=f4" | "|f4" => (4, true, false),
        ">f4" => (4, false, false),
        "<f8" | "=f8" | "|f8" => (8, true, true),
        ">f8" => (8, false, true),
        other => {
            return Err(format!(
                "unsupported dtype {other} (expected float32 or float64)"
            ));
        }
    };
    let want = n
        .checked_mul(size)
        .ok_or_else(|| format!("shape {shape} is too large"))?;
    if data.len() != want {
        return Err(format!(
            "expected {want} data bytes for {n} values, found {}",
            data.len()
        ));
    }
    Ok(data
        .chunks_exact(size)
        .map(|c| match (is64, little) {
            (false, true) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            (false, false) => f32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            (true, true) => f64::from_le_bytes(c.try_into().unwrap_or_default()) as f32,
            (true, false) => f64::from_be_bytes(c.try_into().unwrap_or_default()) as f32,
        })
        .collect())
}

/// Reads a `.npy` file, naming the file in any error (a vector `unusable` for search is an
/// error too).
pub fn read(path: &Path) -> StorageResult<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path, e))?;
    decode(&bytes).map_err(|d| StorageError::corrupt(path, d))
}

/// Reads a well-formed `.npy` file whose values may still be [`unusable`]: `Ok(Err(why))` for
/// those, so a caller scanning a folder can skip them with a message; an unreadable or
/// malformed file is an error naming the file.
pub(crate) fn read_checked(path: &Path) -> StorageResult<Result<Vec<f32>, String>> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path, e))?;
    let v = decode_values(&bytes).map_err(|d| StorageError::corrupt(path, d))?;
    Ok(unusable(&v).map_or(Ok(v), Err))
}

/// Finds `'key': value` in a numpy header dict (values here never contain a top-level comma
/// except tuples, which are returned whole).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[pos + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, dict: &str) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.push(version);
        h.push(0);
        let body = format!("{dict}\n");
        if version == 1 {
            h.extend_from_slice(&(body.len() as u16).to_le_bytes());
        } else {
            h.extend_from_slice(&(body.len() as u32).to_le_bytes());
        }
        h.extend_from_slice(body.as_bytes());
        h
    }

    #[test]
    fn reads_numpy_variants() {
        let mut f8 = header(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }",
        );
        for x in [1.5f64, -2.0, 0.25] {
            f8.extend_from_slice(&x.to_le_bytes());
        }
        assert_eq!(decode(&f8).unwrap(), vec![1.5, -2.0, 0.25]);

        let mut be = header(
            2,
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
        );
        for x in [3.0f32, 4.0] {
            be.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(decode(&be).unwrap(), vec![3.0, 4.0]);

        let mut col = header(
            1,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }",
        );
        for x in [5.0f32, 6.0] {
            col.extend_from_slice(&x.to_le_bytes());
        }
        assert_eq!(decode(&col).unwrap(), vec![5.0, 6.0]);
    }

    #[test]
    fn rejects_bad_files_with_reasons() {
        assert!(decode(b"hello").unwrap_err().contains("magic"));
        let mut m = header(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
        );
        m.extend_from_slice(&[0u8; 36]);
        assert!(decode(&m).unwrap_err().contains("vector"));
        let mut i = header(
            1,
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
        );
        i.extend_from_slice(&[0u8; 8]);
        assert!(decode(&i).unwrap_err().contains("dtype"));
        let mut short = header(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
        );
        short.extend_from_slice(&[0u8; 8]);
        assert!(decode(&short).unwrap_err().contains("data bytes"));
        let full = encode(&[1.0, 2.0, 3.0]);
        assert!(decode(&full[..full.len() - 1]).is_err());
        assert!(decode(&full[..20]).is_err());
    }

    #[test]
    fn refuses_values_that_cannot_be_searched() {
        let f4 = |vals: &[f32]| encode(vals);
        assert!(
            decode(&f4(&[1.0, f32::NAN]))
                .unwrap_err()
                .contains("value 1 is NaN")
        );
        assert!(decode(&f4(&[f32::INFINITY])).unwrap_err().contains("inf"));
        assert!(
            decode(&f4(&[-f32::INFINITY, 0.0]))
                .unwrap_err()
                .contains("-inf")
        );
        // Finite values whose norm overflows.
        assert!(decode(&f4(&[3e38, 3e38])).unwrap_err().contains("norm"));
        // float64 beyond float32's range narrows to an infinity: refused, not stored as inf.
        let mut big = header(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        );
        for x in [1e300f64, 1.0] {
            big.extend_from_slice(&x.to_le_bytes());
        }
        assert!(decode(&big).unwrap_err().contains("value 0 is inf"));
        assert_eq!(decode_values(&big).unwrap()[0], f32::INFINITY);
        // A zero-length vector would make a model of dimension 0.
        let empty = header(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }",
        );
        assert!(decode(&empty).unwrap_err().contains("empty"));
        // Usable edge values pass bit for bit.
        let edge = [1e19, f32::MIN_POSITIVE, -1e-45, 0.0];
        let got = decode(&f4(&edge)).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&edge));
        // A single value whose square overflows makes the norm overflow too.
        assert!(decode(&f4(&[f32::MAX, 0.0])).unwrap_err().contains("norm"));
    }

    #[test]
    fn a_huge_shape_is_an_error_not_an_overflow() {
        // n * 8 wraps to 0 for n = 2^61: it must not read as an empty vector (nor panic).
        for shape in ["(2305843009213693952,)", "(18446744073709551615,)"] {
            let h = header(
                1,
                &format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"),
            );
            let err = decode_values(&h).unwrap_err();
            assert!(err.contains("too large"), "{shape}: {err}");
        }
    }

    #[test]
    fn roundtrip_and_alignment() {
        for n in [1usize, 8, 200, 512, 1000] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b = encode(&v);
            assert_eq!((b.len() - n * 4) % 64, 0, "header multiple of 64 for n={n}");
            assert_eq!(decode(&b).unwrap(), v);
        }
    }
}
