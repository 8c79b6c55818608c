#!/usr/bin/env python3
"""Side-by-side speed of clipclap, ONNX Runtime and PyTorch on the same weights, in one run.

    scripts/bench.py --model bench-models/clip-vit-b32-random [--threads 2] [--iters 20]
    scripts/bench.py --model bench-models/clap-htsat-base-random --batch 1,4

Each engine gets the same inputs (random pixel_values or log-mels; the captions in
bench/captions.txt, tokenised and padded to the longest in the batch) and the same thread
count. A round times every engine (median seconds per batch over --iters runs after
--warmup); --rounds repeats that, engines interleaved, because a shared VM drifts. Reported:
items/s as the median over rounds, the ratios clipclap/ORT and clipclap/PyTorch of those
medians, and the range of the per-round ratios. clipclap also reports load time, mapped vs
copied weights and peak RSS. Create the models with scripts/make_bench_model.py.

clipclap runs four times per round: on the checkpoint as stored ("clipclap", [out, in] weights,
`--no-pack`), with packed weights ("packed": `clipclap pack` writes model.packed.safetensors
once, beside the checkpoint, if it is not there yet), and at --precision bf16 and int8.
ONNX Runtime runs the same ONNX at fp32 and dynamically quantised to int8 (`quantize_dynamic`,
MatMul/Gemm, QInt8 weights; cached beside it as *.int8.onnx). The table adds bf16 / ORT fp32
and int8 / ORT int8, and, with --cosines N (default 32), each reduced precision's min cosine to
its own engine's fp32 on N generated inputs (scripts/precision_accuracy.py).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def median_seconds(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--captions", type=Path, default=ROOT / "bench" / "captions.txt")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--modality", default="image,text", help="image and/or text for CLIP; CLAP is always audio")
    ap.add_argument("--rounds", type=int, default=3, help="repeat the whole comparison, engines interleaved")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--cosines", type=int, default=32, help="inputs for the cosine columns (0: none)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    clap = json.loads((args.model / "config.json").read_text()).get("model_type") == "clap"
    modalities = ["audio"] if clap else args.modality.split(",")
    captions = [l for l in args.captions.read_text().splitlines() if l.strip()]

    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import ClapAudioModelWithProjection, CLIPModel, CLIPTokenizerFast

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(1234)
    inputs = {}
    for b in batches:
        if clap:
            inputs[("audio", b)] = {"input_features": (rng.standard_normal((b, 1, 1001, 64)) * 20 - 40).astype(np.float32)}
            continue
        tok = CLIPTokenizerFast.from_pretrained(str(args.model))
        enc = tok([captions[i % len(captions)] for i in range(b)], padding=True, truncation=True, max_length=77,
                  return_tensors="np")
        inputs[("text", b)] = {"input_ids": enc["input_ids"].astype(np.int64),
                               "attention_mask": enc["attention_mask"].astype(np.int64)}
        inputs[("image", b)] = {"pixel_values": rng.standard_normal((b, 3, 224, 224)).astype(np.float32)}
    onnx_file = {"image": "vision.onnx", "text": "text.onnx", "audio": "audio.onnx"}
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    from onnxruntime.quantization import QuantType, quantize_dynamic
    sessions, int8_sessions = {}, {}
    for m in modalities:
        f = args.model / "onnx" / onnx_file[m]
        q = f.with_suffix(".int8.onnx")
        if not q.exists():
            quantize_dynamic(str(f), str(q), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
        sessions[m] = ort.InferenceSession(str(f), so, providers=["CPUExecutionProvider"])
        int8_sessions[m] = ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"])
    if clap:
        model = ClapAudioModelWithProjection.from_pretrained(str(args.model)).eval()
    else:
        model = CLIPModel.from_pretrained(str(args.model), attn_implementation="eager").eval()

    packed_file = args.model / "model.packed.safetensors"
    if not packed_file.exists():
        subprocess.run([str(args.binary), "pack", "--model", str(args.model)], check=True, stdout=sys.stderr)
    # The checkpoint as stored: the same files, linked into a directory without the packed file.
    as_stored_dir = tempfile.TemporaryDirectory(prefix="clipclap-bench-")  # removed at exit, even on failure
    as_stored = Path(as_stored_dir.name)
    for f in args.model.iterdir():
        if f != packed_file:
            (as_stored / f.name).symlink_to(f.resolve())

    def bench_cmd(model, *extra):
        return [str(args.binary), "bench", "--model", str(model), "--json", "--batch", args.batch,
                "--threads", str(args.threads), "--iters", str(args.iters), "--warmup", str(args.warmup),
                "--modality", args.modality, "--captions", str(args.captions), *extra]
    rounds = []
    reports = {}  # the last round's `clipclap bench --json` per engine: load time, RSS
    for r in range(args.rounds):
        results = {}
        for engine, model_dir, extra in (("clipclap", as_stored, ["--no-pack"]), ("packed", args.model, []),
                                         ("bf16", as_stored, ["--precision", "bf16"]), ("int8", as_stored, ["--precision", "int8"])):
            report = json.loads(subprocess.run(bench_cmd(model_dir, *extra), check=True, capture_output=True, text=True).stdout)
            if engine == "clipclap" and report["packed_weight_mib"] > 0:
                sys.exit(f"clipclap bench on {model_dir}: packed weights used")
            for row in report["results"]:
                results[(engine, row["modality"], row["batch"])] = row["items_per_s"]
            reports[engine] = report
        for m in modalities:
            for b in batches:
                feed = inputs[(m, b)]
                results[("onnxruntime", m, b)] = b / median_seconds(lambda: sessions[m].run(None, feed),
                                                                    args.warmup, args.iters)
                results[("ort-int8", m, b)] = b / median_seconds(lambda: int8_sessions[m].run(None, feed),
                                                                 args.warmup, args.iters)
        with torch.inference_mode():
            for m in modalities:
                for b in batches:
                    feed = {k: torch.from_numpy(v) for k, v in inputs[(m, b)].items()}
                    fn = {"image": lambda: model.get_image_features(**feed),
                          "text": lambda: model.get_text_features(**feed),
                          "audio": lambda: model(**feed).audio_embeds}[m]
                    results[("pytorch", m, b)] = b / median_seconds(fn, args.warmup, args.iters)
        rounds.append(results)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    results = {k: statistics.median(rd[k] for rd in rounds) for k in rounds[0]}
    ours, packed = reports["clipclap"], reports["packed"]

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {args.threads} threads per engine; "
          f"median of {args.iters} runs after {args.warmup} warm-up, median over {args.rounds} rounds")
    print(f"versions: onnxruntime {ort.__version__}, torch {torch.__version__}")
    print(f"clipclap: load {ours['load_ms']:.0f} ms, weights {ours['weight_file_mib']:.0f} MiB mapped "
          f"({ours['copied_weight_mib']:.0f} MiB copied), RSS after load {ours['rss_after_load_mib']:.0f} MiB, "
          f"peak RSS {ours['peak_rss_mib']:.0f} MiB")
    if clap:
        print(f"clipclap on a 10-s 44.1 kHz stereo WAV: decode {ours['decode_ms']:.1f} ms, resample "
              f"{ours['resample_ms']:.1f} ms, log-mel features {ours['features_ms']:.1f} ms = "
              f"{ours['features_pct_of_tower']:.1f} % of the tower at batch 1 (all three: "
              f"{ours['front_end_pct_of_tower']:.1f} %)")
    print(f"packed: {packed['packed_weight_mib']:.0f} MiB of packed weights mapped, load {packed['load_ms']:.0f} ms, "
          f"RSS after load {packed['rss_after_load_mib']:.0f} MiB, peak RSS {packed['peak_rss_mib']:.0f} MiB")
    cos = {}
    if args.cosines:
        import precision_accuracy as pa
        with tempfile.TemporaryDirectory(prefix="clipclap-bench-cos-") as tmp:
            work = Path(tmp)
            (work / "images").mkdir()
            inputs = {"image": pa.images(work / "images", args.cosines, 0), "text": pa.texts(args.cosines, 0), "seed": 0}
            for row in pa.study(args.model, args.binary, inputs, args.cosines, work):
                cos[row["tower"]] = row
    print(f"{'modality':8} {'batch':>5} {'clipclap/s':>10} {'packed/s':>9} {'bf16/s':>8} {'int8/s':>8} {'ORT/s':>8} "
          f"{'ORT int8/s':>10} {'PyTorch/s':>9} {'packed/ORT':>10} {'(rounds)':>10} {'bf16/ORT':>8} {'(rounds)':>10} "
          f"{'int8/ORT int8':>13} {'(rounds)':>10} {'cos bf16':>8} {'cos int8':>8} {'cos ORT int8':>12}")
    rows = []
    for m in modalities:
        for b in batches:
            c, k, bf, i8, o, oq, p = (results[(e, m, b)] for e in ("clipclap", "packed", "bf16", "int8", "onnxruntime",
                                                                     "ort-int8", "pytorch"))
            def span(num, den):
                r = [rd[(num, m, b)] / rd[(den, m, b)] for rd in rounds]
                return r, f"{min(r):.2f}-{max(r):.2f}"
            packed_rounds, packed_span = span("packed", "onnxruntime")
            bf_rounds, bf_span = span("bf16", "onnxruntime")
            i8_rounds, i8_span = span("int8", "ort-int8")
            cr = cos.get(m, {})
            cb, ci, co = (cr.get(key, {}).get("min_cos", float("nan")) for key in ("clipclap_bf16", "clipclap_int8", "ort_int8"))
            rows.append({"modality": m, "batch": b, "clipclap": c, "packed": k, "bf16": bf, "int8": i8, "onnxruntime": o,
                         "ort_int8": oq, "pytorch": p, "ratio_vs_onnxruntime": c / o, "ratio_vs_pytorch": c / p,
                         "packed_ratio_vs_onnxruntime": k / o, "packed_ratio_vs_onnxruntime_per_round": packed_rounds,
                         "bf16_ratio_vs_onnxruntime": bf / o, "bf16_ratio_vs_onnxruntime_per_round": bf_rounds,
                         "int8_ratio_vs_ort_int8": i8 / oq, "int8_ratio_vs_ort_int8_per_round": i8_rounds,
                         "min_cos_bf16": cb, "min_cos_int8": ci, "min_cos_ort_int8": co})
            print(f"{m:8} {b:5d} {c:10.2f} {k:9.2f} {bf:8.2f} {i8:8.2f} {o:8.2f} {oq:10.2f} {p:9.2f} {k / o:9.2f}x "
                  f"{packed_span:>10} {bf / o:7.2f}x {bf_span:>10} {i8 / oq:12.2f}x {i8_span:>10} {cb:8.5f} {ci:8.5f} {co:12.5f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": cpu_name(), "threads": args.threads, "clipclap": ours,
                                         "packed": packed, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
