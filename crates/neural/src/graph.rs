//! Reading the weights of a fixed ONNX graph for songrec's own network code: nodes by name,
//! each checked for its type, constant inputs as float or integer arrays with their shapes.

use std::collections::HashMap;

use crate::kernels::Affine;
pub(crate) use crate::onnx::read;
use crate::onnx::{Element, ModelProto, NodeProto, TensorProto};

/// A parsed graph's nodes by name and its initializers.
pub(crate) struct Graph<'a> {
    nodes: HashMap<&'a str, &'a NodeProto>,
    inits: HashMap<&'a str, &'a TensorProto>,
}

/// A tensor's shape and values.
pub(crate) type Weights<T = f32> = (Vec<usize>, Vec<T>);

impl<'a> Graph<'a> {
    pub fn new(proto: &'a ModelProto) -> Result<Self, String> {
        let g = proto.graph.as_ref().ok_or("no graph")?;
        Ok(Graph {
            nodes: g.node.iter().map(|n| (n.name.as_str(), n)).collect(),
            inits: g.initializer.iter().map(|t| (t.name.as_str(), t)).collect(),
        })
    }

    pub fn node(&self, name: &str, op: &str) -> Result<&'a NodeProto, String> {
        match self.nodes.get(name) {
            Some(n) if n.op_type == op => Ok(n),
            Some(n) => Err(format!("node {name} is a {}, expected {op}", n.op_type)),
            None => Err(format!("no node {name}")),
        }
    }

    /// Input `i` of node `name` (of type `op`), a float initializer.
    pub fn weight(&self, name: &str, op: &str, i: usize) -> Result<Weights, String> {
        self.tensor::<f32>(name, op, i)
    }

    /// Input `i` of node `name` (of type `op`), an initializer of element type `T`.
    pub fn tensor<T: Element>(&self, name: &str, op: &str, i: usize) -> Result<Weights<T>, String> {
        let n = self.node(name, op)?;
        let input = n
            .input
            .get(i)
            .ok_or_else(|| format!("node {name} has no input {i}"))?;
        let t = self
            .inits
            .get(input.as_str())
            .ok_or_else(|| format!("input {i} of {name} is not a constant"))?;
        t.decode::<T>().map_err(|e| format!("{name}: {e}"))
    }

    pub fn scalar(&self, name: &str, op: &str) -> Result<f32, String> {
        match self.weight(name, op, 1)? {
            (_, v) if v.len() == 1 => Ok(v[0]),
            (s, _) => Err(format!("{name}: shape {s:?}, expected a scalar")),
        }
    }

    pub fn ints(&self, name: &str, attr: &str) -> Result<Vec<i64>, String> {
        let n = self
            .nodes
            .get(name)
            .ok_or_else(|| format!("no node {name}"))?;
        Ok(n.attr(attr).map(|a| a.ints.clone()).unwrap_or_default())
    }

    pub fn batch_norm(&self, name: &str, channels: usize) -> Result<Affine, String> {
        let n = self.node(name, "BatchNormalization")?;
        let eps = n.attr("epsilon").map_or(1e-5, |a| a.f);
        let mut p = Vec::with_capacity(4);
        for i in 1..=4 {
            let (_, v) = self.weight(name, "BatchNormalization", i)?;
            if v.len() != channels {
                return Err(format!("{name}: {} channels, expected {channels}", v.len()));
            }
            p.push(v);
        }
        Ok(Affine::batch_norm(&p[0], &p[1], &p[2], &p[3], eps))
    }

    /// `x · mul + add` as two nodes (the dense layers' folded batch norms).
    pub fn mul_add(&self, mul: &str, add: &str, channels: usize) -> Result<Affine, String> {
        let (_, m) = self.weight(mul, "Mul", 1)?;
        let (_, a) = self.weight(add, "Add", 1)?;
        if m.len() != channels || a.len() != channels {
            return Err(format!("{mul}: expected {channels} channels"));
        }
        Ok(Affine { mul: m, add: a })
    }

    pub fn dense(
        &self,
        matmul: &str,
        bias: &str,
        inputs: usize,
        outputs: usize,
    ) -> Result<(Vec<f32>, Vec<f32>), String> {
        let (s, w) = self.weight(matmul, "MatMul", 1)?;
        let (_, b) = self.weight(bias, "Add", 1)?;
        if s != [inputs, outputs] || b.len() != outputs {
            return Err(format!(
                "{matmul}: shape {s:?}, expected [{inputs}, {outputs}]"
            ));
        }
        Ok((w, b))
    }

    /// A convolution's weights `[out, 1, kt, kf]` transposed to `[kt · kf, out]`, its bias and
    /// its top padding.
    pub fn conv(
        &self,
        name: &str,
        out: usize,
        kt: usize,
        kf: usize,
    ) -> Result<(Vec<f32>, Vec<f32>, usize), String> {
        let (s, w) = self.weight(name, "Conv", 1)?;
        let (_, b) = self.weight(name, "Conv", 2)?;
        if s != [out, 1, kt, kf] || b.len() != out {
            return Err(format!(
                "{name}: weights {s:?}, expected [{out}, 1, {kt}, {kf}]"
            ));
        }
        let strides = self.ints(name, "strides")?;
        if strides.iter().any(|s| *s != 1) {
            return Err(format!("{name}: strides {strides:?}"));
        }
        let pads = self.ints(name, "pads")?;
        let total = kt as i64 - 1;
        if pads.len() != 4 || pads[1] != 0 || pads[3] != 0 || pads[0] + pads[2] != total {
            return Err(format!(
                "{name}: pads {pads:?}, expected same over time, none over frequency"
            ));
        }
        Ok((transpose(&w, out, kt * kf), b, pads[0] as usize))
    }
}

/// `[rows, cols]` → `[cols, rows]`.
pub(crate) fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}
