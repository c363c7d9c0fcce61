#!/usr/bin/env python3
"""Convert musicnn's MSD_musicnn (or, with --model MTT_musicnn, MTT_musicnn; both TF1
checkpoints ship in the PyPI wheel
musicnn==0.1.0) to ONNX with the log-mel front end inside the graph, verify it
against the original TF graph fed through musicnn's own feature extraction,
and write the expected outputs for a fixed test signal.

Run through scripts/models/build_musicnn_onnx.sh (it creates the venv with the
pinned packages and unpacks the wheel). Usage:

    python convert_musicnn.py --musicnn-dir DIR --out-dir crates/neural/models/musicnn \
        --wheel path/to/musicnn-0.1.0-py3-none-any.whl --work-dir SCRATCH \
        [--model MSD_musicnn|MTT_musicnn]

Files written to <out-dir> (see out_names()): MSD_musicnn -> msd_musicnn.onnx, expected.json,
tags.json; MTT_musicnn -> mtt_musicnn.onnx, mtt_expected.json, mtt_tags.json (so both fit in
crates/neural/models/musicnn). MTT_musicnn (MagnaTagATune, 50 tags) has the same architecture and outputs.

ONNX model:  input  wave        float32 [batch, 48128]  raw mono 16 kHz audio
             output taggram     float32 [batch, 50]     sigmoid tag probabilities
             output penultimate float32 [batch, 200]    penultimate dense layer
"""

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np

# ---------------------------------------------------------------------------
# musicnn's signal-processing constants (musicnn/configuration.py)
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187                              # 3 s patches, as trained
PATCH = N_FFT + HOP * (N_FRAMES - 1)        # 48128 samples -> exactly 187 frames
PATCH_STEP = HOP * N_FRAMES                 # 47872: hop between musicnn's patches
N_BINS = N_FFT // 2 + 1                     # 257
MODEL = "MSD_musicnn"                       # --model; set once in main()
LABELS_ATTR = {"MSD_musicnn": "MSD_LABELS", "MTT_musicnn": "MTT_LABELS"}
OPSET = 17
N_TEST_PATCHES = 3

TF_THREADS = 2


def out_names(model):
    """(onnx, expected, tags) file names in the output dir for `model`. MSD_musicnn keeps the
    original names; MTT_musicnn's files get an `mtt_` prefix."""
    if model == "MSD_musicnn":
        return "msd_musicnn.onnx", "expected.json", "tags.json"
    p = model.split("_")[0].lower()
    return p + "_musicnn.onnx", p + "_expected.json", p + "_tags.json"


def log(*a):
    print("[convert]", *a, flush=True)


# ---------------------------------------------------------------------------
# Fixed deterministic test signal. Keep in sync with TEST_SIGNAL_DOC and
# expected.json["test_signal"]. Computed in float64, cast to float32 at the end.
SINES = [  # (amplitude, frequency Hz, phase rad)
    (0.25, 220.0, 0.0),
    (0.15, 440.0, 1.0),
    (0.10, 1318.5, 2.0),
    (0.05, 3520.0, 0.5),
]
CLICK_PERIOD = 8000      # samples (0.5 s, 120 clicks per minute)
CLICK_LEN = 200          # samples
CLICK_AMP = 0.6
CLICK_DECAY = 20.0       # samples

TEST_SIGNAL_DOC = (
    "n = 0 .. 3*48128-1 (144384 samples, 16 kHz), t = n / 16000, computed in float64 then cast to float32:\n"
    "s[n] = 0.25*sin(2*pi*220*t) + 0.15*sin(2*pi*440*t + 1.0) + 0.10*sin(2*pi*1318.5*t + 2.0)"
    " + 0.05*sin(2*pi*3520*t + 0.5) + click[n]\n"
    "click[n] = 0.6*exp(-k/20) if k < 200 else 0, where k = n mod 8000\n"
    "Batch for the model: row i = s[48128*i : 48128*(i+1)], i = 0, 1, 2 (shape [3, 48128])."
)


def test_signal(n_samples):
    n = np.arange(n_samples, dtype=np.float64)
    t = n / SR
    s = np.zeros(n_samples, dtype=np.float64)
    for amp, freq, phase in SINES:
        s += amp * np.sin(2.0 * math.pi * freq * t + phase)
    k = np.mod(np.arange(n_samples), CLICK_PERIOD)
    s += np.where(k < CLICK_LEN, CLICK_AMP * np.exp(-k / CLICK_DECAY), 0.0)
    return s.astype(np.float32)


# ---------------------------------------------------------------------------
# Front end constants (float64 -> float32)

def dft_kernel():
    """Conv1D kernel [512, 1, 512]: periodic-Hann-windowed DFT, real parts of
    bins 0..256 then imaginary parts of bins 1..255 (bins 0 and 256 have an
    identically zero imaginary part). Window = scipy.signal.get_window('hann',
    512, fftbins=True), what librosa.stft uses."""
    import scipy.signal
    win = scipy.signal.get_window("hann", N_FFT, fftbins=True).astype(np.float64)
    n = np.arange(N_FFT, dtype=np.float64)[:, None]
    k_re = np.arange(N_BINS, dtype=np.float64)[None, :]
    k_im = np.arange(1, N_BINS - 1, dtype=np.float64)[None, :]
    # integer-exact phase index (k*n mod N) keeps the float64 trig accurate
    re = np.cos(2.0 * math.pi * np.mod(n * k_re, N_FFT) / N_FFT)
    im = -np.sin(2.0 * math.pi * np.mod(n * k_im, N_FFT) / N_FFT)
    kern = np.concatenate([re, im], axis=1) * win[:, None]          # [512, 512]
    return kern[:, None, :].astype(np.float32)                     # [W, Cin, Cout]


def mel_projection():
    """[512, 96]: librosa's mel filter bank (Slaney mel scale, Slaney area
    normalisation, as librosa.feature.melspectrogram uses by default), rows
    duplicated so that squared real and imaginary DFT outputs are summed by
    the same MatMul that applies the filter bank."""
    import librosa
    fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS)     # [96, 257] float32
    fbt = fb.T.astype(np.float32)                                    # [257, 96]
    return np.concatenate([fbt, fbt[1:N_BINS - 1]], axis=0)          # [512, 96]


# ---------------------------------------------------------------------------
# TF graphs

def import_musicnn(musicnn_dir):
    sys.path.insert(0, musicnn_dir)
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    from musicnn import models, configuration  # noqa: E402
    assert configuration.SR == SR and configuration.FFT_HOP == HOP
    assert configuration.FFT_SIZE == N_FFT and configuration.N_MELS == N_MELS
    return tf, models, configuration


def tf_session(tf, graph):
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=TF_THREADS,
                                   inter_op_parallelism_threads=1)
    return tf.compat.v1.Session(graph=graph, config=cfg)


def build_wave_graph(tf, models, ckpt, n_classes):
    """wave [B, 48128] -> in-graph log-mel -> musicnn -> (taggram, penultimate).
    Returns a frozen GraphDef."""
    g = tf.Graph()
    with g.as_default():
        wave = tf.compat.v1.placeholder(tf.float32, [None, PATCH], name="wave")
        with tf.name_scope("logmel"):
            x = tf.expand_dims(wave, 2)                                        # [B, 48128, 1]
            spec = tf.nn.conv1d(x, tf.constant(dft_kernel(), name="dft_kernel"),
                                stride=HOP, padding="VALID")                   # [B, 187, 512]
            power = tf.square(spec)
            mel = tf.matmul(power, tf.constant(mel_projection(), name="mel_fb"))  # [B, 187, 96]
            # log10(1 + 10000 * mel), as musicnn's extractor.py
            logmel = tf.math.log(mel * 10000.0 + 1.0) * np.float32(1.0 / math.log(10.0))
        with tf.name_scope("model"):
            y, _timbral, _temporal, _c1, _c2, _c3, _mean, _max, pen = models.define_model(
                logmel, False, MODEL, n_classes)
            prob = tf.nn.sigmoid(y)
        tf.identity(prob, name="taggram")
        tf.identity(pen, name="penultimate")
        with tf_session(tf, g) as sess:
            saver = tf.compat.v1.train.Saver()
            saver.restore(sess, ckpt)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), ["taggram", "penultimate"])
    return frozen


class TFReference:
    """The original musicnn graph (mel patch input), exactly as
    musicnn.extractor builds it, restored from the checkpoint."""

    def __init__(self, tf, models, ckpt, n_classes):
        self.g = tf.Graph()
        with self.g.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                y, _t, _te, _c1, _c2, _c3, _mp, _xp, self.pen = models.define_model(
                    self.x, self.is_training, MODEL, n_classes)
                self.prob = tf.nn.sigmoid(y)
            self.sess = tf_session(tf, self.g)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(self.sess, ckpt)

    def run(self, patches):
        # one patch at a time, as musicnn (config.BATCH_SIZE = 1)
        probs, pens = [], []
        for p in patches:
            a, b = self.sess.run([self.prob, self.pen],
                                 feed_dict={self.x: p[None].astype(np.float32),
                                            self.is_training: False})
            probs.append(a[0])
            pens.append(b[0])
        return np.stack(probs), np.stack(pens)


# ---------------------------------------------------------------------------
# ONNX export and post-processing

def export_onnx(frozen, out_path):
    import onnx
    import tf2onnx
    model_proto, _ = tf2onnx.convert.from_graph_def(
        frozen, input_names=["wave:0"], output_names=["taggram:0", "penultimate:0"],
        opset=OPSET)
    rename = {"wave:0": "wave", "taggram:0": "taggram", "penultimate:0": "penultimate"}
    g = model_proto.graph
    for node in g.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        node.output[:] = [rename.get(o, o) for o in node.output]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = rename.get(vi.name, vi.name)
    # name the dynamic batch dimension
    for vi in list(g.input) + list(g.output):
        d0 = vi.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_value")
        d0.dim_param = "batch"
    model_proto.producer_name = "songrec scripts/models/convert_musicnn.py (tf2onnx %s)" % tf2onnx.__version__
    model_proto.doc_string = ("musicnn " + MODEL + " (PyPI musicnn==0.1.0, ISC licence, MTG-UPF 2019) "
                              "with in-graph log-mel front end. Input wave [batch, 48128] float32 "
                              "mono 16 kHz in [-1, 1]; outputs taggram [batch, 50] (sigmoid), "
                              "penultimate [batch, 200].")
    for k, v in [("source", "PyPI musicnn==0.1.0, musicnn/" + MODEL + " checkpoint"),
                 ("license", "ISC (Music Technology Group, Universitat Pompeu Fabra 2019)"),
                 ("sample_rate", str(SR)), ("patch_samples", str(PATCH))]:
        p = model_proto.metadata_props.add()
        p.key, p.value = k, v
    # tf2onnx declares ai.onnx.ml although no node uses it: keep only used domains
    used = {n.domain for n in g.node}
    keep = [o for o in model_proto.opset_import if o.domain in used or o.domain == ""]
    del model_proto.opset_import[:]
    model_proto.opset_import.extend(keep)
    onnx.checker.check_model(model_proto, full_check=True)
    onnx.save(model_proto, out_path)
    return model_proto


def op_types(model_proto):
    ops = {}
    for n in model_proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return dict(sorted(ops.items()))


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def ort_run(sess, batch):
    tg, pen = sess.run(["taggram", "penultimate"], {"wave": batch.astype(np.float32)})
    return tg, pen


# ---------------------------------------------------------------------------
# Reference features (musicnn's own front end)

def musicnn_logmel_f32(y, center):
    """musicnn.extractor.batch_data's spectrogram, but kept in float32 (no
    float16 cast) - librosa.feature.melspectrogram with musicnn's arguments."""
    import librosa
    rep = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT,
                                         n_mels=N_MELS, center=center).T
    return np.log10(10000 * rep + 1)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--musicnn-dir", required=True, help="dir containing the unpacked musicnn package")
    ap.add_argument("--wheel", required=True, help="the musicnn wheel (for its sha256)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--model", default="MSD_musicnn", choices=sorted(LABELS_ATTR))
    args = ap.parse_args()
    global MODEL
    MODEL = args.model

    t0 = time.time()
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)
    tf, models, config = import_musicnn(args.musicnn_dir)
    import librosa
    import onnx
    import onnxruntime
    import tf2onnx
    labels = list(getattr(config, LABELS_ATTR[MODEL]))
    assert len(labels) == 50
    ckpt = os.path.join(args.musicnn_dir, "musicnn", MODEL) + "/"

    # --- 1. build, freeze, export --------------------------------------------
    log("building wave-input graph and restoring", ckpt)
    frozen = build_wave_graph(tf, models, ckpt, len(labels))
    onnx_name, expected_name, tags_name = out_names(MODEL)
    onnx_path = os.path.join(args.out_dir, onnx_name)
    log("exporting", onnx_path, "(tf2onnx %s, opset %d)" % (tf2onnx.__version__, OPSET))
    proto = export_onnx(frozen, onnx_path)
    ops = op_types(proto)
    log("op types:", ops)
    assert not ({"Einsum", "STFT", "DFT"} & set(ops)), "unexpected ops in graph"
    sess = ort_session(onnx_path)
    ref = TFReference(tf, models, ckpt, len(labels))
    results = {}

    # --- 2. check A: the fixed test signal, rows of 48128 samples ------------
    sig = test_signal(N_TEST_PATCHES * PATCH)
    batch = sig.reshape(N_TEST_PATCHES, PATCH)
    o_tag, o_pen = ort_run(sess, batch)
    feats = np.stack([musicnn_logmel_f32(r, center=False) for r in batch])
    assert feats.shape == (N_TEST_PATCHES, N_FRAMES, N_MELS), feats.shape
    r_tag, r_pen = ref.run(feats)
    results["A_rows_vs_tf_librosa_f32"] = {
        "desc": "test-signal rows [3,48128]: ONNX(wave) vs TF graph on librosa log-mel "
                "(musicnn's melspectrogram call, center=False, float32)",
        "penultimate": maxdiff(o_pen, r_pen), "taggram": maxdiff(o_tag, r_tag)}
    # batch-size independence (dynamic batch): run rows one by one
    one = [ort_run(sess, batch[i:i + 1]) for i in range(N_TEST_PATCHES)]
    results["A_batch1_vs_batch3"] = {
        "desc": "ONNX batch of 3 vs three batches of 1",
        "penultimate": maxdiff(o_pen, np.concatenate([p for _, p in one])),
        "taggram": maxdiff(o_tag, np.concatenate([t for t, _ in one]))}

    # --- 3. check B: musicnn's own extractor path (file -> batch_data) -------
    import soundfile as sf
    from musicnn import extractor as mx
    wav = os.path.join(args.work_dir, "test_signal.wav")
    sf.write(wav, sig, SR, subtype="FLOAT")
    mx_batch, mx_spec = mx.batch_data(wav, N_FRAMES, N_FRAMES)   # float16-quantised log-mel
    n_mx = mx_batch.shape[0]
    assert n_mx == N_TEST_PATCHES, n_mx
    # musicnn frames the whole file with librosa's centre padding (n_fft/2 each
    # side; zeros in librosa >= 0.10, reflection in older librosa), patch i =
    # frames 187*i .. 187*i+186 = padded[47872*i : 47872*i + 48128]
    import inspect
    pad_mode = inspect.signature(librosa.feature.melspectrogram).parameters["pad_mode"].default
    assert pad_mode == "constant", pad_mode
    y_file, _ = librosa.load(wav, sr=SR)
    assert np.array_equal(y_file, sig)
    padded = np.pad(y_file, N_FFT // 2, mode=pad_mode)
    mx_windows = np.stack([padded[PATCH_STEP * i: PATCH_STEP * i + PATCH] for i in range(n_mx)])
    ob_tag, ob_pen = ort_run(sess, mx_windows)
    rb16_tag, rb16_pen = ref.run(mx_batch.astype(np.float32))
    spec32 = musicnn_logmel_f32(y_file, center=True)
    feats32 = np.stack([spec32[N_FRAMES * i: N_FRAMES * (i + 1)] for i in range(n_mx)])
    assert np.max(np.abs(feats32 - mx_batch.astype(np.float32))) < 5e-3
    rb32_tag, rb32_pen = ref.run(feats32)
    results["B_extractor_f32_vs_onnx"] = {
        "desc": "musicnn.extractor framing (centre-padded whole file, patch hop 47872) with the "
                "log-mel kept in float32: TF graph vs ONNX on the same windows",
        "penultimate": maxdiff(ob_pen, rb32_pen), "taggram": maxdiff(ob_tag, rb32_tag)}
    results["B_extractor_f16_vs_onnx"] = {
        "desc": "musicnn.extractor.batch_data exactly (its log-mel is computed in float16): "
                "TF graph vs ONNX on the same windows",
        "penultimate": maxdiff(ob_pen, rb16_pen), "taggram": maxdiff(ob_tag, rb16_tag)}
    results["B_extractor_f16_vs_f32_tf_only"] = {
        "desc": "TF graph alone: musicnn's float16 log-mel vs the same log-mel in float32 "
                "(the quantisation noise of musicnn's own extractor, no ONNX involved)",
        "penultimate": maxdiff(rb16_pen, rb32_pen), "taggram": maxdiff(rb16_tag, rb32_tag)}
    results["B_logmel_f16_quantisation"] = {
        "desc": "max abs(float16 log-mel of musicnn - float32 log-mel) over the 3 patches",
        "logmel": float(np.max(np.abs(feats32 - mx_batch.astype(np.float32))))}

    # musicnn.extractor.extractor() end to end (taggram; its penultimate for
    # patches >= 2 repeats patch 1 because of a bug in musicnn 0.1.0)
    tg_mx, labels_mx, _feat = mx.extractor(wav, model=MODEL, input_length=3,
                                           extract_features=True)
    assert list(labels_mx) == labels
    results["B_extractor_function_vs_tf_reference"] = {
        "desc": "musicnn.extractor.extractor() taggram vs this script's TF reference on "
                "batch_data (same float16 features; checks the reference graph)",
        "taggram": maxdiff(tg_mx, rb16_tag)}
    results["B_extractor_function_vs_onnx"] = {
        "desc": "musicnn.extractor.extractor() taggram vs ONNX on the matching windows",
        "taggram": maxdiff(tg_mx, ob_tag)}

    for k, v in results.items():
        log("%-40s %s" % (k, {kk: ("%.3g" % vv if isinstance(vv, float) else vv)
                              for kk, vv in v.items() if kk != "desc"}))
    # the conversion checks (same float32 features): must be within tolerance
    for k in ["A_rows_vs_tf_librosa_f32", "A_batch1_vs_batch3", "B_extractor_f32_vs_onnx"]:
        for out in ["penultimate", "taggram"]:
            if results[k][out] > args.tolerance:
                raise SystemExit("FAIL: %s %s max abs diff %.3g > %.3g"
                                 % (k, out, results[k][out], args.tolerance))
    if results["B_extractor_function_vs_tf_reference"]["taggram"] > 1e-6:
        raise SystemExit("FAIL: reference graph does not reproduce musicnn.extractor")

    # --- 4. expected values ----------------------------------------------------
    def top5(p):
        idx = np.argsort(-p, kind="stable")[:5]
        return [{"index": int(i), "tag": labels[i], "prob": round(float(p[i]), 6)} for i in idx]

    def r6(a):
        return [float("%.7g" % v) for v in np.asarray(a, np.float64).ravel()]

    mean_pen = o_pen.mean(axis=0)
    mean_tag = o_tag.mean(axis=0)
    expected = {
        "model": "crates/neural/models/musicnn/" + onnx_name,
        "input": {"name": "wave", "shape": ["batch", PATCH], "dtype": "float32",
                  "sample_rate": SR},
        "outputs": {"taggram": ["batch", 50], "penultimate": ["batch", 200]},
        "test_signal": {
            "description": TEST_SIGNAL_DOC,
            "sample_rate": SR,
            "n_samples": int(sig.shape[0]),
            "sines": [{"amplitude": a, "frequency_hz": f, "phase_rad": p} for a, f, p in SINES],
            "click": {"period_samples": CLICK_PERIOD, "length_samples": CLICK_LEN,
                      "amplitude": CLICK_AMP, "decay_samples": CLICK_DECAY},
            "batch_rows": "row i = s[48128*i : 48128*(i+1)]",
            "sum_of_samples": float(np.sum(sig, dtype=np.float64)),
            "sum_of_abs_samples": float(np.sum(np.abs(sig), dtype=np.float64)),
            "first_samples": r6(sig[:4]),
        },
        "tolerance": {"onnxruntime": 1e-4, "tract": 1e-3,
                      "note": "max abs difference per value; generated with onnxruntime "
                              + onnxruntime.__version__},
        "penultimate_first8": [r6(o_pen[i, :8]) for i in range(N_TEST_PATCHES)],
        "penultimate": [r6(o_pen[i]) for i in range(N_TEST_PATCHES)],
        "taggram": [r6(o_tag[i]) for i in range(N_TEST_PATCHES)],
        "top5": [top5(o_tag[i]) for i in range(N_TEST_PATCHES)],
        "penultimate_l2": [round(float(np.linalg.norm(o_pen[i].astype(np.float64))), 5)
                           for i in range(N_TEST_PATCHES)],
        "mean_penultimate_first8": r6(mean_pen[:8]),
        "mean_taggram_top5": top5(mean_tag),
        "verification": results,
    }
    with open(os.path.join(args.out_dir, expected_name), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out_dir, tags_name), "w") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")

    # --- 5. facts for PROVENANCE.md -------------------------------------------
    # Same folder, standard library only: the provenance writer's file hash.
    from write_provenance import sha256_file as sha256

    facts = {
        "model": MODEL,
        "files": {"onnx": onnx_name, "expected": expected_name, "tags": tags_name},
        "checkpoint": "musicnn/%s/" % MODEL,
        "wheel": os.path.basename(args.wheel),
        "wheel_sha256": sha256(args.wheel),
        "checkpoint_data_sha256": sha256(ckpt + ".data-00000-of-00001"),
        "onnx_bytes": os.path.getsize(onnx_path),
        "onnx_sha256": sha256(onnx_path),
        "op_types": ops,
        "versions": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
                     "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                     "librosa": librosa.__version__, "numpy": np.__version__},
        "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(args.work_dir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1)
    log("ONNX %s: %d bytes" % (onnx_path, facts["onnx_bytes"]))
    log("penultimate[0,:8] =", r6(o_pen[0, :8]))
    for i in range(N_TEST_PATCHES):
        log("top5 patch %d:" % i, ", ".join("%s %.4f" % (t["tag"], t["prob"]) for t in top5(o_tag[i])))
    log("done in %.1f s" % facts["seconds"])


if __name__ == "__main__":
    main()
