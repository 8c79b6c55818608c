#!/usr/bin/env python3
"""How far bf16 and int8 move the vectors, beside ONNX Runtime's int8 and PyTorch's bf16, on the same inputs.

    scripts/precision_accuracy.py --model bench-models/clip-vit-b32-random --model bench-models/clip-vit-b32-stress \\
        --model tests/fixtures/models/clip-tiny-a [--items 256] [--json OUT]

For each model and tower (CLIP image and text, CLAP audio; CLAP text where the model has it),
`--items` inputs are embedded at fp32, bf16 and int8 by `clipclap embed`, and by ONNX Runtime
at fp32 and int8 (`quantize_dynamic`, MatMul/Gemm, QInt8 weights, as a peer serving int8 would
run it), and by transformers at fp32 and under torch.autocast(bfloat16) (as a peer serving bf16
would run it; every tower but a fused CLAP's audio). Each reduced precision is compared with its
own engine's fp32:
  - min and median cosine over the items;
  - R@1 agreement: the share of items whose nearest neighbour among the others is the same.
"Weights alone" (transformers, where it runs) rounds only the encoder's linear weights to
nearest, bf16 or int8 per output channel, with every activation exact: a floor for any method
that rounds the weights so (int8's smoothing changes which weights are rounded, so for it a guide).
Each row also says how many of the model's linear layers clipclap's accuracy guard kept in fp32
(`clipclap embed` reports it; README "Precision").
Inputs (generated, deterministic): images of random shapes and gradients (PNG), captions from
templates, sounds of tones, chirps and noise bursts (WAV at the model's sampling rate).
ONNX Runtime reads the model's onnx/ directory when it has one (the bench models), else the
checkpoint is exported to a temporary one (fixtures; a fused CLAP is left to clipclap alone).
"""
import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def generator(stream: int, seed: int):
    """Seed 0 draws the inputs the README's tables were measured on; others draw new ones."""
    return np.random.default_rng((stream, seed) if seed else stream)


def images(folder: Path, n: int, seed: int):
    from PIL import Image, ImageDraw
    rng = generator(1, seed)
    paths = []
    for i in range(n):
        w, h = int(rng.integers(120, 360)), int(rng.integers(120, 360))
        ys, xs = np.mgrid[0:h, 0:w]
        base = np.stack([(xs * rng.uniform(0, 2) + ys * rng.uniform(0, 2) + rng.uniform(0, 255)) % 256 for _ in range(3)], -1)
        img = Image.fromarray(base.astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 8))):
            box = sorted(rng.integers(0, w, 2)), sorted(rng.integers(0, h, 2))
            shape = d.ellipse if rng.random() < 0.5 else d.rectangle
            shape([box[0][0], box[1][0], box[0][1], box[1][1]], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        p = folder / f"image_{i:03d}.png"
        img.save(p)
        paths.append(p)
    return paths


def texts(n: int, seed: int):
    rng = generator(2, seed)
    adjectives = ["red", "small", "noisy", "quiet", "old", "wet", "bright", "dark", "wooden", "golden", "tiny", "huge"]
    nouns = ["dog", "car", "violin", "river", "city street", "forest", "piano", "crowd", "train", "storm", "bird", "kitchen"]
    frames = ["a photo of a {a} {n}", "the sound of a {a} {n}", "{a} {n} at night", "a painting of a {n}",
              "someone recording a {a} {n} in the rain", "{n}", "a close-up of the {a} {n} next to a {b}"]
    return [frames[int(rng.integers(len(frames)))].format(a=adjectives[int(rng.integers(len(adjectives)))],
                                                          n=nouns[int(rng.integers(len(nouns)))],
                                                          b=nouns[int(rng.integers(len(nouns)))]) for _ in range(n)]


def sounds(folder: Path, n: int, rate: int, seed: int):
    import soundfile as sf
    rng = generator(3, seed)
    paths = []
    t = np.arange(int(rate * 3)) / rate
    for i in range(n):
        kind = i % 3
        if kind == 0:
            x = sum(rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(60, 4000) * t) for _ in range(3))
        elif kind == 1:
            f0, f1 = rng.uniform(100, 3000, 2)
            x = 0.3 * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / t[-1] / 2) * t)
        else:
            x = rng.standard_normal(t.size) * 0.1 * (np.sin(2 * np.pi * rng.uniform(0.5, 4) * t) > 0)
        p = folder / f"sound_{i:03d}.wav"
        sf.write(p, x.astype(np.float32), rate, subtype="PCM_16")
        paths.append(p)
    return paths


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def compare(exact, reduced):
    exact, reduced = unit(exact), unit(reduced)
    cos = np.sum(exact * reduced, axis=1)
    def neighbours(v):
        s = v @ v.T
        np.fill_diagonal(s, -np.inf)
        return s.argmax(1)
    return {"min_cos": float(cos.min()), "median_cos": float(np.median(cos)),
            "r1_agreement": float(np.mean(neighbours(exact) == neighbours(reduced)))}


def clipclap(binary, model, precision, flag, items):
    """The vectors, and the model's layers the accuracy guard kept in fp32, as "kept/all"."""
    out, kept = [], "0"
    for i in range(0, len(items), 64):  # the argument list stays short
        cmd = [str(binary), "embed", "--model", str(model), "--precision", precision, "--batch", "8"]
        for item in items[i:i + 64]:
            cmd += [flag, str(item)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{' '.join(cmd[:8])}: {run.stderr.strip()}")
        out += [json.loads(line)["embedding"] for line in run.stdout.splitlines()]
        said = re.search(r"(\d+) of (\d+) linear layers kept in fp32", run.stderr)
        kept = f"{said[1]}/{said[2]}" if said else kept
    return np.array(out), kept


def ort_sessions(onnx_file: Path):
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    q = onnx_file.with_suffix(".int8.onnx")  # cached beside it, as scripts/bench.py does
    if not q.exists():
        quantize_dynamic(str(onnx_file), str(q), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return {p: ort.InferenceSession(str(f), so, providers=["CPUExecutionProvider"]) for p, f in (("fp32", onnx_file), ("int8", q))}


def ort_run(session, feeds):
    out = []
    n = len(next(iter(feeds.values())))
    for i in range(0, n, 16):
        out.append(session.run(None, {k: v[i:i + 16] for k, v in feeds.items()})[0])
    return np.concatenate(out)


def audio_inputs(model: Path, inputs, items: int, work: Path):
    rate = json.loads((model / "preprocessor_config.json").read_text())["sampling_rate"]
    if ("audio", rate) not in inputs:
        folder = work / f"audio-{rate}"
        folder.mkdir()
        inputs[("audio", rate)] = sounds(folder, items, rate, inputs["seed"])
    return inputs[("audio", rate)]


def tower_feeds(model: Path, tower: str, items_in):
    """The reference preprocessing's tensors for one tower, as ONNX Runtime and PyTorch take them."""
    from transformers import AutoFeatureExtractor, AutoProcessor, AutoTokenizer
    if tower == "image":
        from PIL import Image
        proc = AutoProcessor.from_pretrained(str(model)).image_processor
        return {"pixel_values": np.concatenate([proc(images=Image.open(p), return_tensors="np")["pixel_values"]
                                                for p in items_in]).astype(np.float32)}
    if tower == "text":
        tok = AutoTokenizer.from_pretrained(str(model))
        enc = tok(items_in, padding="max_length", truncation=True, max_length=min(77, tok.model_max_length), return_tensors="np")
        return {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}
    import soundfile as sf
    fe = AutoFeatureExtractor.from_pretrained(str(model))
    feats = [fe(sf.read(p)[0], sampling_rate=fe.sampling_rate, return_tensors="np")["input_features"] for p in items_in]
    return {"input_features": np.concatenate(feats).astype(np.float32)}


def encoder_linears(module, tower: str):
    """The linear layers clipclap runs in bf16 / int8: the encoder's, without the patch embedding
    and the projections, which stay fp32 (README "Precision")."""
    import torch
    m = module.model
    encoder = {"image": lambda: m.vision_model.encoder, "text": lambda: m.text_model.encoder,
               "audio": lambda: m.audio_model.audio_encoder.layers}[tower]()
    return [layer for layer in encoder.modules() if isinstance(layer, torch.nn.Linear)]


def round_weights(weight, precision: str):
    """Round to nearest: bf16 as torch's .to(bfloat16); int8 symmetric per output channel, 127 levels."""
    import torch
    if precision == "bf16":
        return weight.to(torch.bfloat16).float()
    scale = weight.abs().amax(1, keepdim=True) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(weight / scale) * scale


def torch_run(model: Path, tower: str, feeds):
    """transformers' own vectors at fp32 and under torch.autocast(bfloat16), PyTorch's bf16 inference:
    the peer for bf16, as ONNX Runtime's quantize_dynamic is for int8. And the vectors with only the
    encoder's weights rounded (bf16, int8) and every activation exact: the error any method that
    rounds the weights to nearest starts from, which no handling of the activations can undo."""
    import torch
    from make_bench_model import AudioFeatures, ImageFeatures, TextFeatures
    from transformers import AutoModel, ClapAudioModelWithProjection
    if tower == "audio":
        module = AudioFeatures(ClapAudioModelWithProjection.from_pretrained(str(model)))
    else:
        whole = AutoModel.from_pretrained(str(model), attn_implementation="eager")
        module = ImageFeatures(whole) if tower == "image" else TextFeatures(whole)
    module.eval()
    n = len(next(iter(feeds.values())))

    def run(autocast: bool):
        rows = []
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            for i in range(0, n, 16):
                rows.append(module(**{k: torch.from_numpy(v[i:i + 16]) for k, v in feeds.items()}).float().numpy())
        return np.concatenate(rows)

    out = {"fp32": run(False), "bf16": run(True)}
    layers = encoder_linears(module, tower)
    exact = [layer.weight.data.clone() for layer in layers]
    for precision in ("bf16", "int8"):
        for layer, w in zip(layers, exact):
            layer.weight.data = round_weights(w, precision)
        out["weights_" + precision] = run(False)
        for layer, w in zip(layers, exact):
            layer.weight.data = w.clone()
    return out


def study(model: Path, binary: Path, inputs, items: int, work: Path):
    from transformers import AutoFeatureExtractor
    config = json.loads((model / "config.json").read_text())
    clap = config.get("model_type") == "clap"
    onnx_dir = model / "onnx"
    results = []
    if clap:
        towers = ["audio"] + (["text"] if (model / "tokenizer.json").exists() else [])
    else:
        towers = ["image", "text"]
    if not (onnx_dir.exists() and any(onnx_dir.glob("*.onnx"))):
        onnx_dir = work / ("onnx-" + model.name)
        onnx_dir.mkdir(exist_ok=True)
        from make_bench_model import export_clap_onnx, export_clip_onnx
        if clap:
            from transformers import ClapAudioModelWithProjection
            if not config["audio_config"].get("enable_fusion"):
                m = ClapAudioModelWithProjection.from_pretrained(str(model)).eval()
                import soundfile as sf
                fe = AutoFeatureExtractor.from_pretrained(str(model))
                first = audio_inputs(model, inputs, items, work)[0]
                shape = fe(sf.read(first)[0], sampling_rate=fe.sampling_rate, return_tensors="np")["input_features"].shape
                export_clap_onnx(m, onnx_dir, (2,) + shape[1:])
        else:
            from transformers import CLIPModel
            export_clip_onnx(CLIPModel.from_pretrained(str(model), attn_implementation="eager").eval(), onnx_dir)
    for tower in towers:
        flag = {"image": "--image", "text": "--text", "audio": "--audio"}[tower]
        items_in = inputs[tower] if tower != "audio" else audio_inputs(model, inputs, items, work)
        ran = {p: clipclap(binary, model, p, flag, items_in) for p in ("fp32", "bf16", "int8")}
        vec = {p: v for p, (v, _) in ran.items()}
        row = {"model": str(model), "tower": tower, "items": len(items_in),
               "clipclap_bf16": compare(vec["fp32"], vec["bf16"]), "clipclap_int8": compare(vec["fp32"], vec["int8"]),
               "fp32_layers_bf16": ran["bf16"][1], "fp32_layers_int8": ran["int8"][1]}
        onnx_file = onnx_dir / {"image": "vision.onnx", "text": "text.onnx", "audio": "audio.onnx"}[tower]
        run_ort = onnx_file.exists() and not (clap and tower == "text")
        run_torch = not (clap and tower == "audio" and config["audio_config"].get("enable_fusion"))
        feeds = tower_feeds(model, tower, items_in) if run_ort or run_torch else None
        if run_ort:
            ort = {p: ort_run(s, feeds) for p, s in ort_sessions(onnx_file).items()}
            row["ort_int8"] = compare(ort["fp32"], ort["int8"])
            row["clipclap_fp32_vs_ort_fp32"] = compare(ort["fp32"], vec["fp32"])["min_cos"]
        if run_torch:
            vectors = torch_run(model, tower, feeds)
            row["torch_bf16"] = compare(vectors["fp32"], vectors["bf16"])
            for p in ("bf16", "int8"):
                row["weights_alone_" + p] = compare(vectors["fp32"], vectors["weights_" + p])
        results.append(row)
        fmt = lambda r: f"min {r['min_cos']:.5f} median {r['median_cos']:.6f} R@1 {r['r1_agreement']:.3f}"
        print(f"{model.name} {tower}: bf16 {fmt(row['clipclap_bf16'])} | int8 {fmt(row['clipclap_int8'])}"
              + (f" | ORT int8 {fmt(row['ort_int8'])}" if "ort_int8" in row else "")
              + (f" | torch bf16 {fmt(row['torch_bf16'])}" if "torch_bf16" in row else "")
              + (f" | weights alone: bf16 min {row['weights_alone_bf16']['min_cos']:.5f}, "
                 f"int8 min {row['weights_alone_int8']['min_cos']:.5f}" if "weights_alone_bf16" in row else "")
              + f" | layers kept fp32 (model): bf16 {row['fp32_layers_bf16']}, int8 {row['fp32_layers_int8']}", flush=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, action="append", required=True)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0, help="which generated inputs (0: the README's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clipclap-precision-") as tmp:
        work = Path(tmp)
        (work / "images").mkdir()
        inputs = {"image": images(work / "images", args.items, args.seed), "text": texts(args.items, args.seed), "seed": args.seed}
        rows = []
        for model in args.model:
            rows += study(model, args.binary, inputs, args.items, work)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
