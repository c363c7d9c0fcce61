#!/usr/bin/env python3
"""Convert aisfx 0.1.2's embedding network (Ma & Lerch, ISMIR 2022; weights CC BY 4.0) to ONNX,
without PyTorch, and verify it.

Run through scripts/models/build_aisfx_onnx.sh (it makes the venv with the exact pins of
requirements-aisfx.txt, downloads and hash-checks the wheel and unpacks it). Usage:

    python convert_aisfx.py --pkg DIR --wheel WHEEL --out-dir crates/neural/models/aisfx --work-dir SCRATCH \
        [--audio FILE.oga ...]

The checkpoint `aisfx/models/checkpoint.pth` is a torch.save zip (`archive/data.pkl` +
`archive/data/<key>` raw little-endian storages) holding `(state_dict, dataset_dict)`. It is
read here with a restricted unpickler that knows only the few globals a state dict needs
(OrderedDict, torch._utils._rebuild_tensor_v2, the storage types); anything else in the pickle
is refused. Only `embedding_net.*` is kept (the per-dataset classifier heads `fc.*` are not part
of the embedding).

The network (the wheel's aisfx/models/cnn2d.py, `EmbeddingNet('max', 3, 1, 64)`, the DCASE
"Cnn_9layers" layout): input [batch, 100 frames, 96 mel bands] -> unsqueeze to
[batch, 1, 100, 96] -> 4 ConvBlocks (channels 64, 128, 256, 512; each = Conv3x3(pad 1, no bias)
-> BatchNorm(eps 1e-5) -> ReLU -> Conv3x3 -> BatchNorm -> ReLU -> MaxPool; pool 2x2 for blocks
1-3, 1x1 (identity) for block 4) -> mean over the frequency axis -> max over the time axis ->
[batch, 512].

ONNX model (opset 17):  input  logmel     float32 [batch, 100, 96]   normalised log-mel block
                        output embedding  float32 [batch, 512]

Verification: a float64 numpy implementation of the same network (written from cnn2d.py,
independent of the ONNX graph) vs onnxruntime (1 thread) and tract, on blocks of real audio
(Debian sound-theme-freedesktop recordings) made with the aisfx front end (front_end() below),
and on a synthetic batch. Writes <out-dir>/aisfx.onnx, <out-dir>/expected.json and
<work-dir>/facts.json.
"""
import argparse
import collections
import hashlib
import io
import json
import math
import os
import pickle
import time
import zipfile

import numpy as np

SR = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 96
F_MIN, F_MAX = 0.0, 22050.0
BLOCK = 100
LOGMEL_MAX = 9.457798957824707   # aisfx preprocessing.spectrogram_normalize('original')
BN_EPS = 1e-5                    # torch.nn.BatchNorm2d default
OPSET = 17
CHANNELS = [64, 128, 256, 512]
POOL = [2, 2, 2, 1]


def log(*a):
    print("[convert_aisfx]", *a, flush=True)


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- checkpoint

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
    arr = storage
    if len(size) == 0:
        return np.array(arr[offset])
    itemsize = arr.itemsize
    return np.lib.stride_tricks.as_strided(
        arr[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, zf, prefix):
        super().__init__(f)
        self.zf, self.prefix = zf, prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        # dataset_dict holds numpy integer scalars (class counts)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            return np._core.multiarray.scalar
        if module == "numpy" and name == "dtype":
            return np.dtype
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 pickles a scalar's bytes
            import codecs
            return codecs.encode
        raise pickle.UnpicklingError("refusing global %s.%s" % (module, name))

    def persistent_load(self, pid):
        typename, storage_type, key, _location, numel = pid
        assert typename == "storage", pid
        dtype = _DTYPES[storage_type.name]
        raw = self.zf.read("%s/data/%s" % (self.prefix, key))
        arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        assert arr.size == numel, (key, arr.size, numel)
        return arr


def load_checkpoint(path):
    zf = zipfile.ZipFile(path)
    pkl = [n for n in zf.namelist() if n.endswith("/data.pkl")]
    assert len(pkl) == 1, pkl
    prefix = pkl[0][: -len("/data.pkl")]
    obj = _Unpickler(io.BytesIO(zf.read(pkl[0])), zf, prefix).load()
    state, ds_dict = obj
    return state, ds_dict


def embedding_params(state):
    """{name: float32 array} of embedding_net.* (num_batches_tracked dropped)."""
    p = {}
    for k, v in state.items():
        if k.startswith("embedding_net.") and not k.endswith("num_batches_tracked"):
            p[k[len("embedding_net."):]] = np.asarray(v, dtype=np.float32)
    return p


def check_params(p):
    cin = 1
    n = 0
    for b, c in enumerate(CHANNELS, 1):
        for j in (1, 2):
            w = p["conv_block%d.conv%d.weight" % (b, j)]
            assert w.shape == (c, cin if j == 1 else c, 3, 3), (b, j, w.shape)
            n += w.size
            for s in ("weight", "bias", "running_mean", "running_var"):
                assert p["conv_block%d.bn%d.%s" % (b, j, s)].shape == (c,)
            n += 2 * c  # trainable BN affine
        cin = c
    assert len(p) == 4 * 2 * 5, sorted(p)
    return n


# ----------------------------------------------------------------------------- ONNX graph

def build_onnx(p, out_path, meta):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        return name

    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "unsqueeze_axes"))
    nodes.append(helper.make_node("Unsqueeze", ["logmel", "unsqueeze_axes"], ["x0"], name="unsqueeze"))
    x = "x0"
    for b in range(1, 5):
        for j in (1, 2):
            pre = "conv_block%d" % b
            w = init("%s.conv%d.weight" % (pre, j), p["%s.conv%d.weight" % (pre, j)])
            c = "%s.conv%d" % (pre, j)
            nodes.append(helper.make_node("Conv", [x, w], [c], name=c, kernel_shape=[3, 3],
                                          pads=[1, 1, 1, 1], strides=[1, 1]))
            bn = "%s.bn%d" % (pre, j)
            ins = [init(bn + "." + s, p[bn + "." + s]) for s in ("weight", "bias", "running_mean", "running_var")]
            nodes.append(helper.make_node("BatchNormalization", [c] + ins, [bn], name=bn, epsilon=BN_EPS))
            r = "%s.relu%d" % (pre, j)
            nodes.append(helper.make_node("Relu", [bn], [r], name=r))
            x = r
        if POOL[b - 1] > 1:
            mp = "%s.maxpool" % pre
            nodes.append(helper.make_node("MaxPool", [x], [mp], name=mp, kernel_shape=[2, 2], strides=[2, 2]))
            x = mp
    nodes.append(helper.make_node("ReduceMean", [x], ["freq_mean"], name="mean_over_freq", axes=[3], keepdims=0))
    nodes.append(helper.make_node("ReduceMax", ["freq_mean"], ["embedding"], name="max_over_time", axes=[2], keepdims=0))
    g = helper.make_graph(
        nodes, "aisfx_embedding_net",
        [helper.make_tensor_value_info("logmel", TensorProto.FLOAT, ["batch", BLOCK, N_MELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 512])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="songrec scripts/models/convert_aisfx.py")
    m.ir_version = 8
    m.doc_string = ("aisfx 0.1.2 EmbeddingNet (X-Sequential-CE; A. B. Ma and A. Lerch, ISMIR 2022; weights "
                    "CC BY 4.0). Input logmel [batch, 100, 96] float32: 100 frames x 96 bands of "
                    "log10(1 + 1e4 * mel) / 9.457798957824707 (44.1 kHz, n_fft 2048, hop 1024). "
                    "Output embedding [batch, 512].")
    for k, v in meta.items():
        pp = m.metadata_props.add()
        pp.key, pp.value = k, v
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out_path)
    return m


# ----------------------------------------------------------------------------- numpy reference

def _conv3x3_f64(x, w):
    """x [B, C, H, W], w [O, C, 3, 3], padding 1, stride 1, no bias (float64)."""
    B, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((B, w.shape[0], H, W))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("bchw,oc->bohw", xp[:, :, dy:dy + H, dx:dx + W], w[:, :, dy, dx], optimize=True)
    return out


def reference_net(p, logmel):
    """float64 forward pass of EmbeddingNet('max', 3, 1, 64) in eval mode, [B, 100, 96] -> [B, 512]."""
    x = np.asarray(logmel, np.float64)[:, None]
    for b in range(1, 5):
        for j in (1, 2):
            pre = "conv_block%d" % b
            x = _conv3x3_f64(x, p["%s.conv%d.weight" % (pre, j)].astype(np.float64))
            g, be, mu, var = (p["%s.bn%d.%s" % (pre, j, s)].astype(np.float64)
                              for s in ("weight", "bias", "running_mean", "running_var"))
            x = (x - mu[:, None, None]) / np.sqrt(var[:, None, None] + BN_EPS) * g[:, None, None] + be[:, None, None]
            x = np.maximum(x, 0.0)
        k = POOL[b - 1]
        if k > 1:  # F.max_pool2d(kernel 2): floor mode, odd remainders dropped
            B, C, H, W = x.shape
            x = x[:, :, : H // k * k, : W // k * k].reshape(B, C, H // k, k, W // k, k).max(axis=(3, 5))
    return x.mean(axis=3).max(axis=2)


# ----------------------------------------------------------------------------- front end

def mel_filters():
    """[96, 1025] HTK mel filters 0-22050 Hz, each normalised to sum 1 (librosa norm=1.0, what
    aisfx's spectrogram_librosa.py asks for)."""
    import librosa
    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX,
                               htk=True, norm=1.0).astype(np.float64)


def front_end(y):
    """44.1 kHz mono float -> normalised log-mel [frames, 96] (float64).

    y / max|y| (aisfx spectrogram_librosa.py; silence is left as is); power STFT (periodic Hann
    2048, hop 1024, centred with n_fft/2 = 1024 zeros each side: librosa's pad_mode 'constant',
    the default in the aisfx-pinned librosa 0.9.2 and today); mel; log10(1 + 1e4 x) / 9.457798957824707;
    frames on the first axis (as aisfx's Essentia front end returns them)."""
    import librosa
    y = np.asarray(y, np.float64)
    peak = np.max(np.abs(y)) if y.size else 0.0
    if peak > 0:
        y = y / peak
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann",
                            center=True, pad_mode="constant")) ** 2
    mel = mel_filters() @ S
    return (np.log10(1.0 + 1e4 * mel) / LOGMEL_MAX).T


def plan(seg_lens, max_n, unit):
    """Where blocks (or musicnn patches) are cut: crates/neural/src/patches.rs plan() with `unit`
    = the block length. Segments at least `unit` long count; n = ceil(their total / unit) capped
    at max_n; block k starts at the middle of the k-th of n equal shares of all valid starts
    (sum over those segments of len - unit + 1), located in its segment. No such segment: one
    block of the longest segment from its start (zero-padded by the caller).
    Returns [(segment, start, length)]."""
    longs = [(i, l) for i, l in enumerate(seg_lens) if l >= unit]
    if not longs:
        c = [(i, l) for i, l in enumerate(seg_lens) if l > 0]
        if not c:
            return []
        i, l = max(c, key=lambda t: (t[1], -t[0]))
        return [(i, 0, l)]
    audio = sum(l for _, l in longs)
    n = min(max(-(-audio // unit), 1), max(max_n, 1))
    valid = [l - unit + 1 for _, l in longs]
    total = sum(valid)
    out = []
    for k in range(n):
        pos = min((2 * k + 1) * total // (2 * n), total - 1)
        si = 0
        while pos >= valid[si]:
            pos -= valid[si]
            si += 1
        out.append((longs[si][0], pos, unit))
    return out


def blocks_of(lms, n_max):
    """Blocks [n, 100, 96] from the log-mels of a file's segments (plan() over frames; a block
    shorter than 100 frames is zero-padded at its end)."""
    bp = plan([lm.shape[0] for lm in lms], n_max, BLOCK)
    out = np.zeros((max(len(bp), 1), BLOCK, N_MELS))
    for i, (si, st, ln) in enumerate(bp):
        out[i, :ln] = lms[si][st:st + ln]
    return out


# ----------------------------------------------------------------------------- runtimes

def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def tract_run(path, x):
    import tract
    m = tract.onnx().load(path)
    return m.into_model().into_runnable().run([np.ascontiguousarray(x, dtype=np.float32)])[0].to_numpy()


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def r7(a):
    return [float("%.7g" % v) for v in np.asarray(a, np.float64).ravel()]


def decode_44k(path):
    """Decode `path` to 44.1 kHz mono float32: ffmpeg to interleaved float32 at 44.1 kHz with the
    file's own channels (a 44.1 kHz file is not resampled; any other rate goes through ffmpeg's
    default swresample), then the mean of the channels in float64, cast to float32."""
    import subprocess
    ch = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                             "stream=channels", "-of", "csv=p=0", path],
                            check=True, capture_output=True, text=True).stdout.strip())
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "f32le", "-ar", str(SR), "-"],
                         check=True, capture_output=True).stdout
    x = np.frombuffer(raw, dtype="<f4").reshape(-1, ch).astype(np.float64)
    return x.mean(axis=1).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkg", required=True, help="the unpacked aisfx wheel")
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--audio", nargs="*", default=[], help="real recordings for the checks and expected.json")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    t0 = time.time()
    os.makedirs(a.out_dir, exist_ok=True)
    os.makedirs(a.work_dir, exist_ok=True)
    import librosa
    import onnx
    import onnxruntime
    import tract

    ckpt = os.path.join(a.pkg, "aisfx", "models", "checkpoint.pth")
    state, ds_dict = load_checkpoint(ckpt)
    p = embedding_params(state)
    n_params = check_params(p)
    n_all = sum(int(np.asarray(v).size) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    log("state dict: %d tensors, %d values; embedding_net: %d tensors, %d trainable parameters; datasets %s"
        % (len(state), n_all, len(p), n_params, ds_dict))

    onnx_path = os.path.join(a.out_dir, "aisfx.onnx")
    build_onnx(p, onnx_path, {
        "source": "PyPI aisfx==0.1.2, aisfx/models/checkpoint.pth, embedding_net.*",
        "license": "CC BY 4.0, (c) 2022 A. B. Ma and A. Lerch; cite Ma & Lerch, ISMIR 2022",
        "sample_rate": str(SR), "block_frames": str(BLOCK), "mel_bands": str(N_MELS)})
    sess = ort_session(onnx_path)

    results = {}
    # synthetic batch: uniform [0, 1) values, fixed seed (covers every input position)
    rng = np.random.default_rng(0)
    syn = rng.random((3, BLOCK, N_MELS)).astype(np.float32)
    ref = reference_net(p, syn)
    o = sess.run(["embedding"], {"logmel": syn})[0]
    results["synthetic_ort_vs_numpy64"] = maxdiff(o, ref)
    results["synthetic_tract_vs_numpy64"] = maxdiff(tract_run(onnx_path, syn), ref)
    o1 = np.concatenate([sess.run(["embedding"], {"logmel": syn[i:i + 1]})[0] for i in range(3)])
    results["synthetic_ort_batch1_vs_batch3"] = maxdiff(o, o1)

    recordings = []
    fb = mel_filters()
    for path in a.audio:
        y = decode_44k(path)
        lm = front_end(y)
        blk = blocks_of([lm], 8)
        ref = reference_net(p, blk)
        o = sess.run(["embedding"], {"logmel": blk.astype(np.float32)})[0]
        tr = tract_run(onnx_path, blk.astype(np.float32))
        name = os.path.basename(path)
        results["%s_ort_vs_numpy64" % name] = maxdiff(o, ref)
        results["%s_tract_vs_numpy64" % name] = maxdiff(tr, ref)
        results["%s_tract_vs_ort" % name] = maxdiff(tr, o)
        emb = o  # [n_blocks, 512]
        track = np.concatenate([emb.mean(0), emb.max(0)])
        peak = float(np.max(np.abs(y)))
        recordings.append({
            "file": name,
            "decode": "ffmpeg -i FILE -f f32le -ar 44100 - (float32, file channels), mean of channels in float64 -> float32",
            "source_rate": int(__import__("subprocess").run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()),
            "samples": int(y.size),
            "pcm_sum": float(np.sum(y, dtype=np.float64)),
            "pcm_abs_sum": float(np.sum(np.abs(y), dtype=np.float64)),
            "pcm_peak": peak,
            "pcm_first16": r7(y[:16]),
            "frames": int(lm.shape[0]),
            "logmel_sum": float(lm.sum()),
            "logmel_frame_sums": r7(lm.sum(axis=1)),
            "logmel_band_sums": r7(lm.sum(axis=0)),
            "logmel_first3_frames": [r7(lm[i]) for i in range(min(3, lm.shape[0]))],
            "logmel_frame10": r7(lm[10]) if lm.shape[0] > 10 else None,
            "blocks": int(blk.shape[0]),
            "block_starts": [st for _, st, _ in plan([lm.shape[0]], 8, BLOCK)],
            "block0_frames": int(min(lm.shape[0], BLOCK)),
            "embedding_block0": r7(emb[0]),
            "embedding_block0_l2": float(np.linalg.norm(emb[0].astype(np.float64))),
            "track_vector_first8": r7(track[:8]),
            "track_vector_512_519": r7(track[512:520]),
        })
        log("%s: %d samples, %d frames, %d blocks; ort-ref %.2g tract-ref %.2g"
            % (name, y.size, lm.shape[0], blk.shape[0], results["%s_ort_vs_numpy64" % name],
               results["%s_tract_vs_numpy64" % name]))
    for k, v in results.items():
        log("%-50s %.3g" % (k, v))
    bad = {k: v for k, v in results.items() if v > a.tolerance}
    if bad:
        raise SystemExit("FAIL: %s > %g" % (bad, a.tolerance))

    # one frame of librosa vs an explicit numpy STFT (checks the front-end description itself)
    if recordings:
        y = decode_44k(a.audio[0])
        yy = y.astype(np.float64) / np.max(np.abs(y))
        pad = np.pad(yy, N_FFT // 2)
        win = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(N_FFT) / N_FFT)   # periodic Hann
        fr = pad[10 * HOP: 10 * HOP + N_FFT] * win
        pw = np.abs(np.fft.rfft(fr)) ** 2
        lm10 = np.log10(1 + 1e4 * (fb @ pw)) / LOGMEL_MAX
        results["frontend_frame10_numpy_vs_librosa"] = maxdiff(lm10, front_end(y)[10])
        log("front end frame 10, explicit numpy vs librosa: %.3g" % results["frontend_frame10_numpy_vs_librosa"])

    expected = {
        "model": "crates/neural/models/aisfx/aisfx.onnx",
        "input": {"name": "logmel", "shape": ["batch", BLOCK, N_MELS], "dtype": "float32",
                  "layout": "[block, frame, mel band]"},
        "output": {"name": "embedding", "shape": ["batch", 512]},
        "front_end": {
            "sample_rate": SR, "peak_normalise": True, "n_fft": N_FFT, "hop": HOP, "window": "periodic Hann",
            "center": True, "pad": "1024 zeros each side (librosa pad_mode 'constant')",
            "power": 2, "mel": "96 HTK bands, 0-22050 Hz, librosa.filters.mel(htk=True, norm=1.0): each filter sums to 1",
            "log": "log10(1 + 1e4 * mel) / 9.457798957824707", "block": BLOCK,
            "blocks": "one segment of F frames: F < 100: one block, the F frames then zeros; else n = min(8, "
                      "ceil(F / 100)), block k (0-based) starts at frame floor((2k + 1) * (F - 99) / (2n)) "
                      "(crates/neural/src/patches.rs plan() with 100-frame units)",
            "track_vector": "mean over blocks (512) then max over blocks (512), 1024 values",
            "mel_filter_row_sums_first4": r7(fb.sum(axis=1)[:4]),
            "mel_filter_nonzero_first_band": [int(np.nonzero(fb[0])[0][0]), int(np.nonzero(fb[0])[0][-1])],
        },
        "tolerance": {"logmel": 1e-4, "embedding": 1e-4},
        "versions": {"librosa": librosa.__version__, "numpy": np.__version__,
                     "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__},
        "recordings": recordings,
        "verification_max_abs_diff": results,
    }
    with open(os.path.join(a.out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    facts = {
        "wheel": os.path.basename(a.wheel), "wheel_sha256": sha256_file(a.wheel),
        "checkpoint_sha256": sha256_file(ckpt), "checkpoint_bytes": os.path.getsize(ckpt),
        "onnx_sha256": sha256_file(onnx_path), "onnx_bytes": os.path.getsize(onnx_path),
        "embedding_params": n_params, "state_dict_values": n_all,
        "datasets": {str(k): [int(x) for x in v] for k, v in ds_dict.items()},
        "versions": expected["versions"] | {"tract": tract.version()},
        "results": results, "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(a.work_dir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1)
    log("wrote %s (%d bytes, sha256 %s) in %.1f s" % (onnx_path, facts["onnx_bytes"], facts["onnx_sha256"], facts["seconds"]))


if __name__ == "__main__":
    main()
