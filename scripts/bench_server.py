#!/usr/bin/env python3
"""Load benchmark of `clipclap serve` with wrk, beside the engine's own batch timing.

    scripts/bench_server.py [--bundle bench-models/clipclap-bench] [--duration 20] [--rounds 3]

Serves the full-size random-weight bundle (made from scripts/make_bench_model.py's CLIP and
CLAP checkpoints, assembled here when absent: never committed), drives POST /api/embed with
wrk at several concurrencies, one item per request, and reports items/s and p50/p99 latency
per modality. The floor: image items/s at concurrency 8 >= 85 % of `clipclap bench`'s batch-8
images/s on the same bundle, so the HTTP, decode and queue overhead is measured, not guessed.
Medians over --rounds rounds. Standard library only (plus wrk from Debian).
"""
import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "release" / "clipclap"
FIX = ROOT / "tests" / "fixtures"


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw).stdout


def ensure_bundle(bundle: Path):
    if (bundle / "model.safetensors").exists():
        return
    clip, clap = ROOT / "bench-models" / "clip-vit-b32-random", ROOT / "bench-models" / "clap-htsat-base-random"
    if not clip.exists() or not clap.exists():
        sys.exit("make the full-size random checkpoints first: scripts/make_bench_model.py (see README, Speed)")
    with tempfile.TemporaryDirectory() as tmp:
        # The bench CLAP holds the audio tower only, so the projection comes from the fixture clips.
        print("assembling", bundle, "(projection trained on the fixture audio-caption pairs; random weights)", file=sys.stderr)
        sh(BIN, "train-projection", "--clip", clip, "--clap", clap, "--pairs", FIX / "train" / "pairs.csv",
           "--mode", "audio-caption", "--epochs", "2", "--cache", "", "--out", Path(tmp) / "p")
        sh(BIN, "assemble", "--clip", clip, "--clap", clap, "--projection", Path(tmp) / "p", "--out", bundle)


def data_uri(path: Path, mime: str):
    return "data:%s;base64,%s" % (mime, base64.b64encode(path.read_bytes()).decode())


BODIES = {
    "image": lambda: {"input": [{"type": "image_url", "image_url": {"url": data_uri(FIX / "images" / "photo_420.jpg", "image/jpeg")}}]},
    "text": lambda: {"input": ["a photograph of a dog running on a beach at sunset"]},
    "audio": lambda: {"input": [{"type": "input_audio", "input_audio": {"data": base64.b64encode(
        (FIX / "audio" / "exact_10s_16k.flac").read_bytes()).decode(), "format": "flac"}}]},
}


def wrk(url: str, body: str, connections: int, seconds: int, tmp: Path):
    lua = tmp / "post.lua"
    lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n'
                   'done = function(summary, latency, requests)\n'
                   '  io.write(string.format("JSON {\\"requests\\": %%d, \\"errors\\": %%d, \\"p50\\": %%d, \\"p99\\": %%d, \\"seconds\\": %%f}\\n",\n'
                   '    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,\n'
                   '    latency:percentile(50), latency:percentile(99), summary.duration / 1e6))\nend\n' % json.dumps(body))
    out = sh("wrk", "-t", min(2, connections), "-c", connections, "-d", f"{seconds}s", "--timeout", "60s", "-s", lua, url)
    m = json.loads(re.search(r"^JSON (.*)$", out, re.M).group(1))
    return {"items_per_s": m["requests"] / m["seconds"], "p50_ms": m["p50"] / 1000, "p99_ms": m["p99"] / 1000, "errors": m["errors"]}


def batch_totals(port: int, modality: str):
    """(items, batches) the server has run for `modality` so far, from GET /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    get = lambda name: sum(float(m.group(1)) for m in re.finditer(
        r'^clipclap_batch_size_%s\{[^}]*modality="%s"[^}]*\} (\S+)$' % (name, modality), text, re.M))
    return get("sum"), get("count")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "bench-models" / "clipclap-bench")
    ap.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--modalities", default="image,text,audio")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    ensure_bundle(args.bundle)
    levels = [int(c) for c in args.concurrency.split(",")]
    modalities = args.modalities.split(",")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; bundle {args.bundle}; {args.rounds} rounds of {args.duration} s", file=sys.stderr)

    rounds = []
    for r in range(args.rounds):
        engine = json.loads(sh(BIN, "bench", "--model", args.bundle, "--modality", "image", "--batch", "8", "--json"))
        engine_b8 = next(x["items_per_s"] for x in engine["results"] if x["modality"] == "image" and x["batch"] == 8)
        server = subprocess.Popen([str(BIN), "serve", "--model", str(args.bundle), "--port", "0", "--max-batch", "8",
                                   "--max-wait-ms", "5"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = int(server.stdout.readline().rsplit(":", 1)[1])
            url = f"http://127.0.0.1:{port}/api/embed"
            results = {}
            with tempfile.TemporaryDirectory() as tmp:
                for modality in modalities:
                    body = json.dumps(BODIES[modality]())
                    wrk(url, body, 1, 3, Path(tmp))  # warm-up
                    for c in levels:
                        items0, batches0 = batch_totals(port, modality)
                        results[f"{modality}@{c}"] = wrk(url, body, c, args.duration, Path(tmp))
                        items1, batches1 = batch_totals(port, modality)
                        # The mean batch shows whether concurrent requests shared batches.
                        results[f"{modality}@{c}"]["mean_batch"] = (items1 - items0) / max(1.0, batches1 - batches0)
        finally:
            server.terminate()
            server.wait(timeout=60)
        rounds.append({"engine_image_b8": engine_b8, "server": results})
        c8 = results.get("image@8", {})
        print(f"round {r + 1}: engine image b8 {engine_b8:.2f}/s, server image c8 {c8.get('items_per_s', 0):.2f}/s "
              f"(mean batch {c8.get('mean_batch', 0):.2f})",
              file=sys.stderr)

    med = lambda xs: statistics.median(xs)
    engine_b8 = med([r["engine_image_b8"] for r in rounds])
    print(f"{'modality':8s} {'conc.':>5s} {'items/s':>9s} {'p50 ms':>9s} {'p99 ms':>9s} {'batch':>6s} {'errors':>6s}")
    table = {}
    for key in rounds[0]["server"]:
        modality, c = key.split("@")
        row = {k: med([r["server"][key][k] for r in rounds]) for k in ("items_per_s", "p50_ms", "p99_ms", "mean_batch", "errors")}
        table[key] = row
        print(f"{modality:8s} {c:>5s} {row['items_per_s']:9.2f} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f} {row['mean_batch']:6.2f} {row['errors']:6.0f}")
    ratio = table["image@8"]["items_per_s"] / engine_b8 if "image@8" in table else float("nan")
    per_round = [r["server"]["image@8"]["items_per_s"] / r["engine_image_b8"] for r in rounds if "image@8" in r["server"]]
    print(f"engine (clipclap bench) image batch 8: {engine_b8:.2f} images/s")
    print(f"server image at concurrency 8 / engine batch 8: {ratio:.3f} (per round {', '.join(f'{x:.3f}' for x in per_round)}); floor 0.85")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "rounds": rounds, "median": table, "engine_image_b8": engine_b8, "ratio": ratio}, indent=2))
    return 0 if ratio >= 0.85 else 1


if __name__ == "__main__":
    sys.exit(main())
