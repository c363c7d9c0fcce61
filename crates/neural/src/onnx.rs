//! songrec's own reader of ONNX models: the part of `onnx.proto` songrec's kernels read (a
//! graph's nodes, their attributes and its initializers) as prost messages, and the values of a
//! [`TensorProto`] decoded into a typed vector.
//!
//! Field numbers are those of `onnx/onnx.proto` (IR version 7 and later, unchanged since);
//! every other field of the file is skipped. A model is outside data: a malformed one, or a
//! tensor whose type or length is not what is asked, is an `Err`, never a panic.

use prost::Message;

/// `TensorProto.DataType` values songrec decodes.
pub(crate) mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
}

/// `TensorProto.DataLocation.EXTERNAL`: the values are in another file.
const EXTERNAL: i32 = 1;

/// `ModelProto`: only its graph.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ModelProto {
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `GraphProto`: its nodes (in topological order) and its initializers.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
}

/// `NodeProto`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

impl NodeProto {
    /// The attribute named `name`, if the node has it.
    pub fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name == name)
    }
}

/// `AttributeProto` (`type` is the `AttributeType` discriminator: 1 float, 2 int, 3 string,
/// 4 tensor, 6 floats, 7 ints).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

/// `TensorProto`: shape, element type and values (in `raw_data`, little-endian, or in the
/// typed repeated field of its type).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(int32, optional, tag = "14")]
    pub data_location: Option<i32>,
}

/// Parses an ONNX model (`Err` on bytes that are not one).
pub(crate) fn read(bytes: &[u8]) -> Result<ModelProto, String> {
    ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))
}

/// An element type a [`TensorProto`] decodes into.
pub(crate) trait Element: Copy + Sized {
    /// Its `TensorProto.DataType`.
    const DATA_TYPE: i32;
    /// Its name in messages.
    const NAME: &'static str;
    /// Bytes per element in `raw_data`.
    const SIZE: usize;
    /// One element from its `SIZE` little-endian bytes.
    fn from_le(bytes: &[u8]) -> Self;
    /// The values of the typed repeated field that holds this type.
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String>;
}

/// `int32_data` narrowed to `T`, each value checked to fit.
fn narrowed<T: TryFrom<i32>>(t: &TensorProto, what: &str) -> Result<Vec<T>, String> {
    t.int32_data
        .iter()
        .map(|&x| {
            T::try_from(x).map_err(|_| format!("value {x} in int32_data does not fit a {what}"))
        })
        .collect()
}

impl Element for f32 {
    const DATA_TYPE: i32 = data_type::FLOAT;
    const NAME: &'static str = "float32";
    const SIZE: usize = 4;
    fn from_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String> {
        Ok(t.float_data.clone())
    }
}

impl Element for u8 {
    const DATA_TYPE: i32 = data_type::UINT8;
    const NAME: &'static str = "uint8";
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0]
    }
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String> {
        narrowed(t, Self::NAME)
    }
}

impl Element for i8 {
    const DATA_TYPE: i32 = data_type::INT8;
    const NAME: &'static str = "int8";
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        i8::from_le_bytes([b[0]])
    }
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String> {
        narrowed(t, Self::NAME)
    }
}

impl Element for i32 {
    const DATA_TYPE: i32 = data_type::INT32;
    const NAME: &'static str = "int32";
    const SIZE: usize = 4;
    fn from_le(b: &[u8]) -> Self {
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String> {
        Ok(t.int32_data.clone())
    }
}

impl Element for i64 {
    const DATA_TYPE: i32 = data_type::INT64;
    const NAME: &'static str = "int64";
    const SIZE: usize = 8;
    fn from_le(b: &[u8]) -> Self {
        let mut a = [0; 8];
        a.copy_from_slice(&b[..8]);
        i64::from_le_bytes(a)
    }
    fn from_fields(t: &TensorProto) -> Result<Vec<Self>, String> {
        Ok(t.int64_data.clone())
    }
}

/// Name of a `TensorProto.DataType` value, for messages.
fn type_name(dt: i32) -> String {
    match dt {
        data_type::FLOAT => "float32".into(),
        data_type::UINT8 => "uint8".into(),
        data_type::INT8 => "int8".into(),
        4 => "uint16".into(),
        5 => "int16".into(),
        data_type::INT32 => "int32".into(),
        data_type::INT64 => "int64".into(),
        8 => "string".into(),
        9 => "bool".into(),
        10 => "float16".into(),
        11 => "float64".into(),
        other => format!("data type {other}"),
    }
}

impl TensorProto {
    /// The shape (`Err` on a negative dimension).
    pub fn shape(&self) -> Result<Vec<usize>, String> {
        self.dims
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| format!("tensor {}: dimension {d}", self.name))
            })
            .collect()
    }

    /// The shape and the values as `T`; `Err` when the tensor holds another type, its values
    /// are not as many as its shape says, or they are in an external file.
    pub fn decode<T: Element>(&self) -> Result<(Vec<usize>, Vec<T>), String> {
        let name = &self.name;
        if self.data_type != T::DATA_TYPE {
            return Err(format!(
                "tensor {name} is {}, expected {}",
                type_name(self.data_type),
                T::NAME
            ));
        }
        let shape = self.shape()?;
        let len = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| format!("tensor {name}: shape {shape:?} overflows"))?;
        let values = if !self.raw_data.is_empty() {
            if Some(self.raw_data.len()) != len.checked_mul(T::SIZE) {
                return Err(format!(
                    "tensor {name}: {} bytes of raw data, expected {len} {} values",
                    self.raw_data.len(),
                    T::NAME
                ));
            }
            self.raw_data
                .chunks_exact(T::SIZE)
                .map(T::from_le)
                .collect()
        } else if self.data_location == Some(EXTERNAL) {
            return Err(format!(
                "tensor {name}: its values are in an external file, which songrec does not read"
            ));
        } else {
            let v = T::from_fields(self).map_err(|e| format!("tensor {name}: {e}"))?;
            if v.len() != len {
                return Err(format!(
                    "tensor {name}: {} values, expected {len} (shape {shape:?})",
                    v.len()
                ));
            }
            v
        };
        Ok((shape, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bundled ONNX file.
    fn bundled() -> Vec<(&'static str, Vec<u8>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
        [
            "musicnn/msd_musicnn.onnx",
            "musicnn/mtt_musicnn.onnx",
            "musicnn/msd_vgg.onnx",
            "aisfx/aisfx.onnx",
            "aisfx/aisfx_int8.onnx",
            "aisfx/aisfx_texture_int8.onnx",
        ]
        .into_iter()
        .map(|p| (p, std::fs::read(format!("{dir}/{p}")).unwrap()))
        .collect()
    }

    fn tensor(data_type: i32, dims: &[i64]) -> TensorProto {
        TensorProto {
            name: "t".into(),
            data_type,
            dims: dims.to_vec(),
            ..TensorProto::default()
        }
    }

    #[test]
    fn the_bundled_models_read() {
        for (path, bytes) in bundled() {
            let m = read(&bytes).unwrap();
            let g = m.graph.expect(path);
            assert!(!g.node.is_empty() && !g.initializer.is_empty(), "{path}");
            assert!(g.node.iter().any(|n| n.op_type == "Conv"), "{path}");
        }
    }

    #[test]
    fn truncated_or_corrupt_bytes_are_an_error() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/aisfx/aisfx_texture_int8.onnx"
        ))
        .unwrap();
        for cut in [1, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // A length prefix far beyond the end, a wire type 7, a varint that never ends.
        for bad in [
            &[0x3a, 0xff, 0xff, 0xff, 0x0f, 0x00][..],
            &[0x3f, 0x00],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ] {
            let e = read(bad).unwrap_err();
            assert!(e.contains("not an ONNX model"), "{e}");
        }
    }

    #[test]
    fn typed_fields_and_raw_data_decode() {
        let mut t = tensor(data_type::FLOAT, &[2]);
        t.float_data = vec![1.5, -2.0];
        assert_eq!(t.decode::<f32>().unwrap(), (vec![2], vec![1.5, -2.0]));
        t.float_data.clear();
        t.raw_data = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(t.decode::<f32>().unwrap(), (vec![2], vec![1.5, -2.0]));

        let mut t = tensor(data_type::INT8, &[]);
        t.int32_data = vec![-3];
        assert_eq!(t.decode::<i8>().unwrap(), (vec![], vec![-3]));
        let mut t = tensor(data_type::UINT8, &[1]);
        t.raw_data = vec![200];
        assert_eq!(t.decode::<u8>().unwrap().1, [200]);
        let mut t = tensor(data_type::INT64, &[2]);
        t.raw_data = [7i64, -1].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(t.decode::<i64>().unwrap().1, [7, -1]);
        t.raw_data.clear();
        t.int64_data = vec![7, -1];
        assert_eq!(t.decode::<i64>().unwrap().1, [7, -1]);
        let mut t = tensor(data_type::INT32, &[0, 5]);
        assert_eq!(t.decode::<i32>().unwrap(), (vec![0, 5], vec![]));
        t.dims = vec![1];
        t.int32_data = vec![i32::MIN];
        assert_eq!(t.decode::<i32>().unwrap().1, [i32::MIN]);
    }

    #[test]
    fn a_wrong_type_or_length_is_an_error() {
        let mut t = tensor(data_type::FLOAT, &[3]);
        t.float_data = vec![1.0, 2.0];
        let e = t.decode::<f32>().unwrap_err();
        assert!(e.contains("2 values, expected 3"), "{e}");
        let e = t.decode::<i8>().unwrap_err();
        assert!(e.contains("is float32, expected int8"), "{e}");
        t.float_data.clear();
        t.raw_data = vec![0; 11];
        let e = t.decode::<f32>().unwrap_err();
        assert!(e.contains("11 bytes"), "{e}");
        let mut t = tensor(data_type::UINT8, &[1]);
        t.int32_data = vec![256];
        assert!(t.decode::<u8>().unwrap_err().contains("does not fit"));
        let t = tensor(data_type::INT8, &[-1]);
        assert!(t.decode::<i8>().unwrap_err().contains("dimension -1"));
        let t = tensor(data_type::FLOAT, &[i64::MAX, i64::MAX]);
        assert!(t.decode::<f32>().unwrap_err().contains("overflows"));
        let mut t = tensor(data_type::FLOAT, &[4]);
        t.data_location = Some(EXTERNAL);
        assert!(t.decode::<f32>().unwrap_err().contains("external"));
    }

    /// Every initializer of every bundled model decodes to what tract decodes.
    #[cfg(feature = "tract")]
    #[test]
    fn every_initializer_decodes_as_tract_decodes_it() {
        use tract_onnx::prelude::{Datum, Framework, Tensor};
        fn same<T: Element + Datum + PartialEq + std::fmt::Debug>(
            ours: &TensorProto,
            theirs: &Tensor,
            bits: fn(&T) -> u64,
        ) {
            let (shape, v) = ours.decode::<T>().unwrap();
            assert_eq!(shape, theirs.shape(), "{}", ours.name);
            let want = theirs.to_plain_array_view::<T>().unwrap();
            // Bit for bit (a NaN equals itself, -0 differs from 0).
            assert!(
                v.len() == want.len() && v.iter().zip(want.iter()).all(|(a, b)| bits(a) == bits(b)),
                "{}",
                ours.name
            );
        }
        let mut counts = [0usize; 5];
        for (path, bytes) in bundled() {
            let ours = read(&bytes).unwrap().graph.unwrap();
            let theirs = tract_onnx::onnx()
                .proto_model_for_read(&mut &bytes[..])
                .unwrap()
                .graph
                .unwrap();
            assert_eq!(ours.node.len(), theirs.node.len(), "{path}");
            for (a, b) in ours.node.iter().zip(&theirs.node) {
                assert_eq!(
                    (&a.name, &a.op_type, &a.input, &a.output),
                    (&b.name, &b.op_type, &b.input, &b.output)
                );
                for (x, y) in a.attribute.iter().zip(&b.attribute) {
                    assert_eq!(
                        (&x.name, x.r#type, x.i, &x.ints, &x.s),
                        (&y.name, y.r#type, y.i, &y.ints, &y.s)
                    );
                    assert_eq!(
                        (x.f.to_bits(), x.floats.len()),
                        (y.f.to_bits(), y.floats.len())
                    );
                }
                assert_eq!(a.attribute.len(), b.attribute.len());
            }
            assert_eq!(ours.initializer.len(), theirs.initializer.len(), "{path}");
            for (a, b) in ours.initializer.iter().zip(&theirs.initializer) {
                assert_eq!(a.name, b.name);
                let t = tract_onnx::tensor::load_tensor(
                    &tract_onnx::data_resolver::FopenDataResolver,
                    b,
                    None,
                )
                .unwrap();
                match a.data_type {
                    data_type::FLOAT => same::<f32>(a, &t, |x| u64::from(x.to_bits())),
                    data_type::UINT8 => same::<u8>(a, &t, |x| u64::from(*x)),
                    data_type::INT8 => same::<i8>(a, &t, |x| *x as u8 as u64),
                    data_type::INT32 => same::<i32>(a, &t, |x| *x as u32 as u64),
                    data_type::INT64 => same::<i64>(a, &t, |x| *x as u64),
                    other => panic!("{path}: {} has data type {other}", a.name),
                }
                let k = [1, 2, 3, 6, 7]
                    .iter()
                    .position(|&d| d == a.data_type)
                    .unwrap();
                counts[k] += 1;
            }
        }
        // float32, uint8, int8, int32 and int64 initializers all met.
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }
}
