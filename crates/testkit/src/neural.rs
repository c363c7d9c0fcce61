//! The musicnn model's reference values, and small ONNX files made by hand (a minimal protobuf
//! writer, no Python): for the neural embedder's tests.

use std::path::PathBuf;

use songrec_neural::musicnn::{BUNDLED_MODEL, EXPECTED_JSON};

/// The reference outputs of the bundled musicnn model for its reference signal.
pub struct Expected {
    /// 3 rows of 200.
    pub penultimate: Vec<Vec<f32>>,
    /// 3 rows of 50.
    pub taggram: Vec<Vec<f32>>,
    pub tol_onnxruntime: f32,
    pub tol_tract: f32,
}

fn rows(v: &serde_json::Value, key: &str) -> Vec<Vec<f32>> {
    v[key].as_array().unwrap().iter().map(floats).collect()
}

/// The numbers of an `expected.json` entry (an array, or rows flattened):
/// [`songrec_neural::json_floats`], which must find numbers there.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    songrec_neural::json_floats(v).expect("an array of numbers, or of rows of numbers")
}

pub fn expected() -> Expected {
    let v: serde_json::Value = serde_json::from_str(EXPECTED_JSON).unwrap();
    Expected {
        penultimate: rows(&v, "penultimate"),
        taggram: rows(&v, "taggram"),
        tol_onnxruntime: v["tolerance"]["onnxruntime"].as_f64().unwrap() as f32,
        tol_tract: v["tolerance"]["tract"].as_f64().unwrap() as f32,
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn flat(rows: &[Vec<f32>]) -> Vec<f32> {
    rows.concat()
}

/// Writes `bytes` to a file in a fresh temporary directory.
pub fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

// --- a minimal protobuf writer, to make small ONNX files without any Python -----------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(field: u32, v: u64, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3, out);
    varint(v, out);
}

fn field_bytes(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        field_varint(1, *d as u64, &mut dim); // dim_value
        field_bytes(1, &dim, &mut shape);
    }
    let mut tensor = Vec::new();
    field_varint(1, 1, &mut tensor); // elem_type FLOAT
    field_bytes(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    field_bytes(1, &tensor, &mut ty); // tensor_type
    let mut vi = Vec::new();
    field_bytes(1, name.as_bytes(), &mut vi);
    field_bytes(2, &ty, &mut vi);
    vi
}

/// A valid ONNX model that is not musicnn: `y = Identity(x)`, x and y float [1, 4].
pub fn identity_model() -> Vec<u8> {
    let mut node = Vec::new();
    field_bytes(1, b"x", &mut node);
    field_bytes(2, b"y", &mut node);
    field_bytes(4, b"Identity", &mut node);
    let mut graph = Vec::new();
    field_bytes(1, &node, &mut graph);
    field_bytes(2, b"g", &mut graph);
    field_bytes(11, &value_info("x", &[1, 4]), &mut graph);
    field_bytes(12, &value_info("y", &[1, 4]), &mut graph);
    let mut opset = Vec::new();
    field_bytes(1, b"", &mut opset);
    field_varint(2, 17, &mut opset);
    let mut model = Vec::new();
    field_varint(1, 8, &mut model); // ir_version
    field_bytes(7, &graph, &mut model);
    field_bytes(8, &opset, &mut model);
    model
}

// --- a minimal protobuf reader, to find the model's weights -----------------------------------

fn read_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// (field, wire type, start of payload, payload length) of each top-level field in `b`.
fn fields(b: &[u8]) -> Vec<(u64, u64, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = read_varint(b, &mut pos);
        let (field, wt) = (key >> 3, key & 7);
        match wt {
            0 => {
                let s = pos;
                read_varint(b, &mut pos);
                out.push((field, wt, s, pos - s));
            }
            1 => {
                out.push((field, wt, pos, 8));
                pos += 8;
            }
            2 => {
                let len = read_varint(b, &mut pos) as usize;
                out.push((field, wt, pos, len));
                pos += len;
            }
            5 => {
                out.push((field, wt, pos, 4));
                pos += 4;
            }
            _ => panic!("unexpected wire type {wt}"),
        }
    }
    out
}

/// The built-in model with every float of its largest weight tensor scaled by 1.5: same inputs,
/// outputs and shapes, different numbers.
pub fn perturbed_musicnn() -> Vec<u8> {
    let mut m = BUNDLED_MODEL.to_vec();
    let (_, _, gs, gl) = *fields(&m).iter().find(|f| f.0 == 7).expect("graph");
    let mut best = (0usize, 0usize);
    for (f, _, is, il) in fields(&m[gs..gs + gl]) {
        if f != 5 {
            continue; // initializer
        }
        for (tf, _, rs, rl) in fields(&m[gs + is..gs + is + il]) {
            if tf == 9 && rl > best.1 {
                best = (gs + is + rs, rl); // raw_data
            }
        }
    }
    assert!(best.1 > 10_000, "no large weight tensor found");
    for c in m[best.0..best.0 + best.1].chunks_exact_mut(4) {
        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * 1.5;
        c.copy_from_slice(&v.to_le_bytes());
    }
    m
}
