#!/usr/bin/env python3
"""Convert musicnn 0.1.0's MSD_vgg / MTT_vgg (TF1 checkpoints in the PyPI wheel, ISC) to ONNX
with the same wave-input log-mel front end as convert_musicnn.py, and verify it against the
TF graph (mel input, as musicnn's extractor builds it).

    python convert_musicnn_vgg.py --musicnn-dir DIR --wheel WHEEL --out-dir OUT --work-dir W \
        --model MSD_vgg|MTT_vgg

Run in the TensorFlow venv of scripts/models/requirements.txt (build_musicnn_vgg_onnx.sh).

ONNX model (opset 17): input  wave     float32 [batch, 48128]  mono 16 kHz
                       output taggram  float32 [batch, 50]     sigmoid tag probabilities
                       output pool5    float32 [batch, 256]    flattened pool5 (2 x 1 x 128)
Writes OUT/<msd|mtt>_vgg.onnx, OUT/<msd|mtt>_vgg_expected.json, WORK/facts_<model>.json.
"""
import argparse
import json
import os
import time

import numpy as np

import convert_musicnn as cm   # same folder: front-end kernels, test signal, sessions

LABELS_ATTR = {"MSD_vgg": "MSD_LABELS", "MTT_vgg": "MTT_LABELS"}


def build_wave_graph(tf, models, ckpt, model, n):
    g = tf.Graph()
    with g.as_default():
        wave = tf.compat.v1.placeholder(tf.float32, [None, cm.PATCH], name="wave")
        with tf.name_scope("logmel"):
            x = tf.expand_dims(wave, 2)
            spec = tf.nn.conv1d(x, tf.constant(cm.dft_kernel(), name="dft_kernel"), stride=cm.HOP, padding="VALID")
            mel = tf.matmul(tf.square(spec), tf.constant(cm.mel_projection(), name="mel_fb"))
            logmel = tf.math.log(mel * 10000.0 + 1.0) * np.float32(1.0 / np.log(10.0))
        with tf.name_scope("model"):
            y, _p1, _p2, _p3, _p4, p5 = models.define_model(logmel, False, model, n)
            prob = tf.nn.sigmoid(y)
        tf.identity(prob, name="taggram")
        tf.identity(tf.compat.v1.layers.flatten(p5), name="pool5")
        with cm.tf_session(tf, g) as sess:
            tf.compat.v1.train.Saver().restore(sess, ckpt)
            return tf.compat.v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["taggram", "pool5"])


class Ref:
    def __init__(self, tf, models, ckpt, model, n):
        self.g = tf.Graph()
        with self.g.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, cm.N_FRAMES, cm.N_MELS])
                self.tr = tf.compat.v1.placeholder(tf.bool)
                y, _a, _b, _c, _d, p5 = models.define_model(self.x, self.tr, model, n)
                self.prob, self.p5 = tf.nn.sigmoid(y), tf.compat.v1.layers.flatten(p5)
            self.sess = cm.tf_session(tf, self.g)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(self.sess, ckpt)

    def run(self, feats):
        a, b = [], []
        for f in feats:
            t, p = self.sess.run([self.prob, self.p5], {self.x: f[None].astype(np.float32), self.tr: False})
            a.append(t[0])
            b.append(p[0])
        return np.stack(a), np.stack(b)


def export(frozen, path, model):
    import onnx
    import tf2onnx
    proto, _ = tf2onnx.convert.from_graph_def(frozen, input_names=["wave:0"],
                                              output_names=["taggram:0", "pool5:0"], opset=cm.OPSET)
    ren = {"wave:0": "wave", "taggram:0": "taggram", "pool5:0": "pool5"}
    g = proto.graph
    for node in g.node:
        node.input[:] = [ren.get(i, i) for i in node.input]
        node.output[:] = [ren.get(o, o) for o in node.output]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = ren.get(vi.name, vi.name)
    for vi in list(g.input) + list(g.output):
        d0 = vi.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_value")
        d0.dim_param = "batch"
    proto.producer_name = "songrec scripts/models/convert_musicnn_vgg.py (tf2onnx %s)" % tf2onnx.__version__
    proto.doc_string = ("musicnn " + model + " (PyPI musicnn==0.1.0, ISC licence, MTG-UPF 2019) with in-graph "
                        "log-mel front end. Input wave [batch, 48128] float32 mono 16 kHz; outputs taggram "
                        "[batch, 50], pool5 [batch, 256].")
    used = {n.domain for n in g.node}
    keep = [o for o in proto.opset_import if o.domain in used or o.domain == ""]
    del proto.opset_import[:]
    proto.opset_import.extend(keep)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)
    return proto


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--musicnn-dir", required=True)
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--model", required=True, choices=sorted(LABELS_ATTR))
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    t0 = time.time()
    os.makedirs(a.out_dir, exist_ok=True)
    os.makedirs(a.work_dir, exist_ok=True)
    tf, models, config = cm.import_musicnn(a.musicnn_dir)
    import onnxruntime
    import tf2onnx
    labels = list(getattr(config, LABELS_ATTR[a.model]))
    ckpt = os.path.join(a.musicnn_dir, "musicnn", a.model) + "/"
    base = a.model.split("_")[0].lower() + "_vgg"
    onnx_path = os.path.join(a.out_dir, base + ".onnx")
    proto = export(build_wave_graph(tf, models, ckpt, a.model, len(labels)), onnx_path, a.model)
    sess = cm.ort_session(onnx_path)
    ref = Ref(tf, models, ckpt, a.model, len(labels))
    sig = cm.test_signal(cm.N_TEST_PATCHES * cm.PATCH)
    batch = sig.reshape(cm.N_TEST_PATCHES, cm.PATCH)
    o_tag, o_p5 = sess.run(["taggram", "pool5"], {"wave": batch})
    feats = np.stack([cm.musicnn_logmel_f32(r, center=False) for r in batch])
    r_tag, r_p5 = ref.run(feats)
    res = {"A_rows_vs_tf_librosa_f32": {"pool5": cm.maxdiff(o_p5, r_p5), "taggram": cm.maxdiff(o_tag, r_tag)}}
    one = [sess.run(["taggram", "pool5"], {"wave": batch[i:i + 1]}) for i in range(cm.N_TEST_PATCHES)]
    res["A_batch1_vs_batch3"] = {"pool5": cm.maxdiff(o_p5, np.concatenate([p for _, p in one])),
                                 "taggram": cm.maxdiff(o_tag, np.concatenate([t for t, _ in one]))}
    print("[convert_vgg]", a.model, json.dumps(res))
    for k, v in res.items():
        for o, x in v.items():
            if x > a.tolerance:
                raise SystemExit("FAIL %s %s %.3g" % (k, o, x))

    def r7(x):
        return [float("%.7g" % v) for v in np.asarray(x, np.float64).ravel()]
    exp = {"model": "crates/neural/models/musicnn/" + base + ".onnx",
           "input": {"name": "wave", "shape": ["batch", cm.PATCH], "sample_rate": cm.SR},
           "outputs": {"taggram": ["batch", 50], "pool5": ["batch", 256]},
           "test_signal": cm.TEST_SIGNAL_DOC,
           "tolerance": {"onnxruntime": 1e-4},
           "pool5": [r7(o_p5[i]) for i in range(cm.N_TEST_PATCHES)],
           "taggram": [r7(o_tag[i]) for i in range(cm.N_TEST_PATCHES)],
           "verification": res}
    with open(os.path.join(a.out_dir, base + "_expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    from write_provenance import sha256_file as sha256
    facts = {"model": a.model, "onnx": base + ".onnx", "onnx_bytes": os.path.getsize(onnx_path),
             "onnx_sha256": sha256(onnx_path), "wheel_sha256": sha256(a.wheel),
             "checkpoint_data_sha256": sha256(ckpt + ".data-00000-of-00001"),
             "op_types": cm.op_types(proto), "results": res,
             "versions": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
                          "onnxruntime": onnxruntime.__version__},
             "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(a.work_dir, "facts_%s.json" % a.model), "w") as f:
        json.dump(facts, f, indent=1)
    print("[convert_vgg]", json.dumps(facts))


if __name__ == "__main__":
    main()
