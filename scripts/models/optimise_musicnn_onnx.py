#!/usr/bin/env python3
"""Rewrite the musicnn ONNX graph so it is cheaper to run (tract, onnxruntime)
without changing its outputs, and expose the backend pools as extra outputs.

    python optimise_musicnn_onnx.py IN.onnx OUT.onnx [--steps bfc] [--report FILE.json]

Each of musicnn's five front-end branches is
Conv -> Relu -> BatchNormalization -> MaxPool(whole frequency axis) -> Squeeze.
Steps (--steps picks them; default "bfc", the shipped graph):

a. MaxPool -> ReduceMax (not in the default). A MaxPool whose kernel covers
   its input's whole extent along a spatial axis (stride >= extent, no
   padding, no dilation, kernel 1 / stride 1 on the other spatial axes) is a
   max over that axis: it becomes ReduceMax(axes=[axis], keepdims=1). Exact.
   Faster in onnxruntime, but tract 0.23's Reduce<Max> slices the input once
   per output element (~0.7 us each), which makes it 3-4x slower than tract's
   MaxPool here: the shipped graph keeps MaxPool (and uses step f instead).

b. Pool before the ReLU / batch norm. For Conv -> Relu -> BatchNormalization
   -> pool (a whole-axis MaxPool, or ReduceMax(keepdims=1) over non-channel
   axes), every op between the Conv and the pool is a per-channel monotone
   map applied elementwise: ReLU is non-decreasing and BN is
   x -> (x - mean) * s + beta with s = gamma / sqrt(var + eps), which is
   non-decreasing for s > 0 and non-increasing for s < 0 (constant for
   s = 0). So max over the axis of BN(relu(y)) = BN(relu(max y)) on channels
   with s > 0 and BN(relu(min y)) on channels with s < 0 (rounding is
   monotone, so this also holds in float32 as long as the runtime evaluates
   BN with the same formula on both tensor sizes). Channels with s < 0 get
   min y = -max(-y): the Conv's weights and bias for those channels are
   negated (exact: the conv output is then exactly -y), the pool runs on
   that, and a Mul by the per-channel sign (+1/-1, exact) on the pooled
   tensor restores min y. Graph after the rewrite:
   Conv(sign-folded) -> pool -> [Mul(sign)] -> Relu -> BatchNormalization.
   Relu and BN then run on [batch, C, T, 1] instead of [batch, C, T, F].
   Only applied when each intermediate tensor has exactly one consumer and is
   not a graph output, and the Conv weights/bias and BN parameters are
   constants.

f. Pool along long rows. A MaxPool over the whole last axis of [N, C, T, F]
   (kernel [1, F], stride [1, F]) becomes Reshape [N, C, T/k, k*F] ->
   MaxPool(kernel [1, F], stride [1, F]) -> Reshape [N, C, T, 1], k = the
   largest divisor of T below T (187 = 11 x 17: k = 17). Same windows, same
   max (exact); tract's MaxPool walks each kernel column along a row, so this
   makes 17x fewer, 17x longer inner loops. (k = T, one row, is avoided: the
   new unit axis makes tract 0.23 turn the upstream convs into 3-D ones with
   a slow im2col at batch > 1.)

c. Extra outputs `max_pool` and `mean_pool` ([batch, 753]): musicnn's backend
   max and mean over time of the concatenated mid-end features (outputs of
   the nodes `model/Max` [batch, 753, 1] and `model/moments/mean`
   [batch, 1, 753, 1]), squeezed to [batch, 753]. Appended after `taggram`,
   `penultimate` (whose order and names are kept).

Steps run in the order a, b, f, c. The opset, the input `wave` and the
symbolic `batch` dim are kept; the result passes
onnx.checker.check_model(full_check=True).
"""

import argparse
import json
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference, TensorProto


def opset_of(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    raise SystemExit("no default-domain opset")


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def static_shapes(model):
    """name -> list of dims (int or None) after ONNX shape inference."""
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    out = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        out[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return out


class Graph:
    def __init__(self, model):
        self.model = model
        self.g = model.graph
        self.opset = opset_of(model)
        self.init = {i.name: i for i in self.g.initializer}
        self.used_names = set(self.init)
        for n in self.g.node:
            self.used_names.update(n.output)
            self.used_names.add(n.name)
        self.used_names.update(i.name for i in self.g.input)

    def fresh(self, base):
        name, k = base, 0
        while name in self.used_names:
            k += 1
            name = "%s_%d" % (base, k)
        self.used_names.add(name)
        return name

    def consumers(self, tensor):
        return [n for n in self.g.node if tensor in n.input]

    def producer(self, tensor):
        for n in self.g.node:
            if tensor in n.output:
                return n
        return None

    def is_graph_output(self, tensor):
        return any(o.name == tensor for o in self.g.output)

    def add_init(self, base, array):
        name = self.fresh(base)
        self.g.initializer.append(numpy_helper.from_array(array, name))
        self.init[name] = self.g.initializer[-1]
        return name

    def const(self, name):
        if name in self.init:
            return numpy_helper.to_array(self.init[name])
        p = self.producer(name)
        if p is not None and p.op_type == "Constant":
            return numpy_helper.to_array(attrs(p)["value"])
        return None

    def reduce_max(self, name, x, y, axes, keepdims):
        if self.opset >= 18:
            ax = self.add_init(name + "/axes", np.array(axes, np.int64))
            return helper.make_node("ReduceMax", [x, ax], [y], name=name, keepdims=keepdims)
        return helper.make_node("ReduceMax", [x], [y], name=name, axes=list(axes), keepdims=keepdims)

    def reduce_axes(self, node):
        """axes of a ReduceMax node (attribute before opset 18, input after)."""
        a = attrs(node)
        if "axes" in a:
            return list(a["axes"])
        if len(node.input) > 1 and node.input[1]:
            v = self.const(node.input[1])
            return None if v is None else [int(x) for x in v.ravel()]
        return None


def full_extent_axes(node, shapes):
    """(axes, why): the axes a MaxPool reduces whole (window = the axis's full extent,
    kernel 1 / stride 1 on the other spatial axes, no padding, no dilation), or why not."""
    a = attrs(node)
    why = None
    shape = shapes.get(node.input[0])
    k = list(a.get("kernel_shape", []))
    nsp = len(k)
    strides = list(a.get("strides", [1] * nsp))
    pads = list(a.get("pads", [0] * (2 * nsp)))
    dil = list(a.get("dilations", [1] * nsp))
    auto_pad = a.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    full_axes = []
    if len(node.output) > 1 and node.output[1]:
        why = "Indices output used"
    elif shape is None or len(shape) != nsp + 2:
        why = "input shape unknown"
    elif auto_pad not in ("NOTSET", "VALID") or any(pads):
        why = "padding"
    elif any(d != 1 for d in dil):
        why = "dilation"
    else:
        for i in range(nsp):
            ext = shape[2 + i]
            if k[i] == 1 and strides[i] == 1:
                continue  # identity along this axis
            if ext is not None and k[i] == ext and strides[i] >= ext:
                full_axes.append(2 + i)  # one window covering the axis: output extent 1
            else:
                why = "axis %d: kernel %d stride %d extent %s" % (2 + i, k[i], strides[i], ext)
                break
        if why is None and not full_axes:
            why = "no full-extent axis"
    return (None, why) if why is not None else (full_axes, None)


def step_a(G, log):
    """MaxPool over the whole extent of one spatial axis -> ReduceMax."""
    shapes = static_shapes(G.model)
    done = []
    for idx, node in enumerate(list(G.g.node)):
        if node.op_type != "MaxPool":
            continue
        full_axes, why = full_extent_axes(node, shapes)
        shape, k = shapes.get(node.input[0]), list(attrs(node)["kernel_shape"])
        if why is not None:
            log.append("a: kept %s (%s)" % (node.name, why))
            continue
        new = G.reduce_max(node.name + "/as_ReduceMax", node.input[0], node.output[0], full_axes, 1)
        G.g.node.remove(node)
        G.g.node.insert(idx, new)
        done.append(new.name)
        log.append("a: %s %s kernel %s -> ReduceMax(axes=%s, keepdims=1)" % (node.name, shape, k, full_axes))
    return done


def step_b(G, log):
    """Conv -> Relu -> BN -> pool  =>  Conv' -> pool -> [Mul] -> Relu -> BN, where pool is a
    MaxPool over whole axes (kept a MaxPool) or a ReduceMax(keepdims=1) over non-channel axes."""
    shapes = static_shapes(G.model)
    done = []
    for rmax in [n for n in G.g.node if n.op_type in ("ReduceMax", "MaxPool")]:
        rank = len(shapes.get(rmax.input[0]) or [])
        if rmax.op_type == "MaxPool":
            axes, why = full_extent_axes(rmax, shapes)
            if axes is None:
                log.append("b: kept %s (%s)" % (rmax.name, why))
                continue
        else:
            axes = G.reduce_axes(rmax)
            if axes is None or rank < 3:
                continue
            axes = [x % rank for x in axes]
            if 0 in axes or 1 in axes or attrs(rmax).get("keepdims", 1) != 1:
                continue
        bn = G.producer(rmax.input[0])
        relu = G.producer(bn.input[0]) if bn is not None and bn.op_type == "BatchNormalization" else None
        conv = G.producer(relu.input[0]) if relu is not None and relu.op_type == "Relu" else None
        if conv is None or conv.op_type != "Conv":
            continue
        why = None
        for t in (conv.output[0], relu.output[0], bn.output[0]):
            if len(G.consumers(t)) != 1 or G.is_graph_output(t):
                why = "intermediate %s has other consumers" % t
        if len(bn.output) > 1 and any(bn.output[1:]):
            why = "BN training outputs"
        if attrs(bn).get("training_mode", 0):
            why = "BN training_mode"
        if attrs(conv).get("group", 1) != 1:
            why = "grouped conv"
        w = G.const(conv.input[1])
        b = G.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
        if w is None or (len(conv.input) > 2 and conv.input[2] and b is None):
            why = "conv weights not constant"
        gamma, beta, mean, var = (G.const(x) for x in bn.input[1:5])
        if any(v is None for v in (gamma, beta, mean, var)):
            why = "BN params not constant"
        if why is not None:
            log.append("b: kept %s (%s)" % (rmax.name, why))
            continue
        eps = np.float32(attrs(bn).get("epsilon", 1e-5))
        scale = gamma.astype(np.float32) / np.sqrt(var.astype(np.float32) + eps)
        sign = np.where(scale < 0, -1.0, 1.0).astype(np.float32)
        n_neg = int((scale < 0).sum())
        n_zero = int((scale == 0).sum())
        C = w.shape[0]
        assert scale.shape == (C,), (scale.shape, C)

        new_nodes = []
        conv_out = conv.output[0]
        if n_neg:
            # negate the weights/bias of channels with a negative BN scale: the conv then
            # outputs exactly -y there, and max(-y) = -min(y)
            wshape = (C,) + (1,) * (w.ndim - 1)
            conv.input[1] = G.add_init(conv.input[1] + "/signed", (w * sign.reshape(wshape)).astype(w.dtype))
            if b is not None:
                conv.input[2] = G.add_init(conv.input[2] + "/signed", (b * sign).astype(b.dtype))
        pooled = G.fresh(rmax.name + "/pooled")
        if rmax.op_type == "MaxPool":  # same pooling (same attributes) on the conv output
            early = helper.make_node("MaxPool", [conv_out], [pooled], name=rmax.name + "/early")
            early.attribute.extend(rmax.attribute)
        else:
            early = G.reduce_max(rmax.name + "/early", conv_out, pooled, axes, 1)
        new_nodes.append(early)
        relu_in = pooled
        if n_neg:
            s = G.add_init(rmax.name + "/channel_sign", sign.reshape((C,) + (1,) * (rank - 2)))
            relu_in = G.fresh(rmax.name + "/signed_back")
            new_nodes.append(helper.make_node("Mul", [pooled, s], [relu_in], name=rmax.name + "/sign_back"))
        relu_out = G.fresh(relu.output[0] + "/pooled")
        new_nodes.append(helper.make_node("Relu", [relu_in], [relu_out], name=relu.name + "/pooled"))
        bn_new = helper.make_node("BatchNormalization", [relu_out] + list(bn.input[1:5]), [rmax.output[0]],
                                  name=bn.name + "/pooled")
        bn_new.attribute.extend([a for a in bn.attribute])
        new_nodes.append(bn_new)

        pos = list(G.g.node).index(rmax)
        for n in (relu, bn, rmax):
            G.g.node.remove(n)
        pos = list(G.g.node).index(conv) + 1
        for i, n in enumerate(new_nodes):
            G.g.node.insert(pos + i, n)
        done.append(rmax.name)
        log.append("b: %s: %s(axes=%s) moved from after BN to right after Conv %s; channels: %d, "
                   "BN scale < 0: %d (conv weights negated, min via max), == 0: %d"
                   % (rmax.name, rmax.op_type, axes, conv.name, C, n_neg, n_zero))
    # drop initializers no longer referenced (the unsigned conv weights)
    used = set()
    for n in G.g.node:
        used.update(n.input)
    for i in list(G.g.initializer):
        if i.name not in used:
            G.g.initializer.remove(i)
    return done


def largest_proper_divisor(n):
    return max([d for d in range(1, n) if n % d == 0] or [1])


def step_f(G, log):
    """MaxPool over the whole last axis of [N, C, T, F] (kernel [1, F], stride [1, F]) ->
    Reshape [N, C, T / k, k * F] -> MaxPool(kernel [1, F], stride [1, F]) -> Reshape [N, C, T, 1],
    k = the largest divisor of T below T (not T itself: a new unit axis makes tract 0.23
    rewrite the convs upstream into slow 3-D ones at batch > 1)."""
    shapes = static_shapes(G.model)
    for node in [n for n in G.g.node if n.op_type == "MaxPool"]:
        axes, why = full_extent_axes(node, shapes)
        shape = shapes.get(node.input[0])
        if axes is not None and (len(shape) != 4 or axes != [3]):
            why = "pools axes %s of a rank-%d tensor" % (axes, len(shape))
        if why is None and largest_proper_divisor(shape[2]) == 1:
            why = "T = %d has no proper divisor > 1" % shape[2]
        if why is not None:
            log.append("f: kept %s (%s)" % (node.name, why))
            continue
        C, T, F = shape[1:]
        k = largest_proper_divisor(T)
        rows_in = G.fresh(node.output[0] + "/rows_in")
        rows_out = G.fresh(node.output[0] + "/rows_out")
        idx = list(G.g.node).index(node)
        G.g.node.remove(node)
        new = [helper.make_node("Reshape", [node.input[0], G.add_init(node.name + "/rows_shape",
                                                                      np.array([0, 0, T // k, k * F], np.int64))],
                                [rows_in], name=node.name + "/to_rows"),
               helper.make_node("MaxPool", [rows_in], [rows_out], name=node.name + "/rows",
                                kernel_shape=[1, F], strides=[1, F]),
               helper.make_node("Reshape", [rows_out, G.add_init(node.name + "/cols_shape",
                                                                np.array([0, 0, T, 1], np.int64))],
                                [node.output[0]], name=node.name + "/from_rows")]
        for i, n in enumerate(new):
            G.g.node.insert(idx + i, n)
        log.append("f: %s [N, %d, %d, %d] kernel [1, %d]: pooled as [N, %d, %d, %d] -> [N, %d, %d, %d]"
                   % (node.name, C, T, F, F, C, T // k, k * F, C, T // k, k))


def step_c(G, log):
    """Graph outputs max_pool / mean_pool = [batch, 753]."""
    by_name = {n.name: n for n in G.g.node}
    specs = [("max_pool", "model/Max"), ("mean_pool", "model/moments/mean")]
    shapes = static_shapes(G.model)
    batch_dim = G.g.input[0].type.tensor_type.shape.dim[0]
    for out_name, node_name in specs:
        if any(o.name == out_name for o in G.g.output):
            raise SystemExit("output %s already exists" % out_name)
        node = by_name.get(node_name)
        if node is None:
            raise SystemExit("node %s not found" % node_name)
        src = node.output[0]
        shp = shapes[src]
        # squeeze every unit axis except the batch axis
        sq = [i for i, d in enumerate(shp) if i > 0 and d == 1]
        feat = [d for i, d in enumerate(shp) if i > 0 and d != 1]
        if len(feat) != 1 or feat[0] is None:
            raise SystemExit("%s: unexpected shape %s" % (src, shp))
        axes = G.add_init(out_name + "/squeeze_axes", np.array(sq, np.int64))
        G.g.node.append(helper.make_node("Squeeze", [src, axes], [out_name], name=out_name + "/squeeze"))
        vi = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [None, feat[0]])
        vi.type.tensor_type.shape.dim[0].CopyFrom(batch_dim)
        G.g.output.append(vi)
        log.append("c: output %s = Squeeze(%s %s, axes=%s) -> [%s, %d]"
                   % (out_name, src, shp, sq, batch_dim.dim_param or batch_dim.dim_value, feat[0]))


def optimise(model, steps="bfc"):
    model = onnx.ModelProto.FromString(model.SerializeToString())
    G = Graph(model)
    log = []
    if "a" in steps:
        step_a(G, log)
    if "b" in steps:
        step_b(G, log)
    if "f" in steps:
        step_f(G, log)
    if "c" in steps:
        step_c(G, log)
    onnx.checker.check_model(model, full_check=True)
    return model, log


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--steps", default="bfc", help="steps to run, a subset of 'abfc' (default 'bfc', see above)")
    ap.add_argument("--report", help="write the rewrite log as JSON here")
    args = ap.parse_args()
    model = onnx.load(args.inp)
    in_ops = [n.op_type for n in model.graph.node]
    new, log = optimise(model, args.steps)
    out_ops = [n.op_type for n in new.graph.node]
    for line in log:
        print("[optimise] " + line)
    names_in = [o.name for o in model.graph.output]
    names_out = [o.name for o in new.graph.output]
    assert names_out[:len(names_in)] == names_in, (names_in, names_out)
    assert [i.name for i in new.graph.input] == [i.name for i in model.graph.input]
    onnx.save(new, args.out)
    count = lambda ops: {k: ops.count(k) for k in sorted(set(ops))}
    print("[optimise] ops before: %s" % count(in_ops))
    print("[optimise] ops after:  %s" % count(out_ops))
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"steps": args.steps, "log": log, "ops_before": count(in_ops),
                       "ops_after": count(out_ops), "outputs": names_out}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
