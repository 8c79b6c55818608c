#!/usr/bin/env python3
"""Load benchmark of `clipclap serve` with wrk, beside the engine's own batch timing.

    scripts/bench_server.py [--bundle bench-models/clipclap-bench] [--duration 20] [--rounds 3]

Serves the full-size random-weight bundle (made from scripts/make_bench_model.py's CLIP and
CLAP checkpoints, assembled here when absent: never committed), drives POST /api/embed with
wrk at several concurrencies, one item per request, and reports items/s and p50/p99 latency
per modality. The floors, against `clipclap bench` on the same bundle in the same round (the
towers alone, inputs already decoded), so the HTTP, decode and queue overhead is measured:
  - image items/s at concurrency 8 >= 85 % of the engine's batch-8 images/s;
  - text and image items/s at concurrency 1 >= 85 % of the engine's batch-1 rate (the engine
    embeds the server's text);
  - with --compare-packed: text at concurrency 1 from the bundle as it is (serve packs its
    weights at load) within 5 % of the same bundle with a `clipclap pack` file.
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
    ap.add_argument("--compare-packed", action="store_true",
                    help="also serve a copy with a pack file (linked files + clipclap pack) and time text at concurrency 1")
    args = ap.parse_args()
    ensure_bundle(args.bundle)
    levels = [int(c) for c in args.concurrency.split(",")]
    modalities = args.modalities.split(",")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; bundle {args.bundle}; {args.rounds} rounds of {args.duration} s", file=sys.stderr)

    keep = tempfile.TemporaryDirectory(prefix="clipclap-bench-server-")
    work = Path(keep.name)
    captions = work / "captions.txt"  # the engine embeds the text the server is sent
    captions.write_text(BODIES["text"]()["input"][0] + "\n")
    packed = None
    if args.compare_packed:  # the same files, linked, plus a pack file
        packed = work / "packed"
        packed.mkdir()
        for f in args.bundle.iterdir():
            if not f.name.startswith("model.packed"):
                (packed / f.name).symlink_to(f.resolve())
        sh(BIN, "pack", "--model", packed)

    def serve_and_load(bundle, plan):
        server = subprocess.Popen([str(BIN), "serve", "--model", str(bundle), "--port", "0", "--max-batch", "8",
                                   "--max-wait-ms", "5"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        results = {}
        try:
            port = int(server.stdout.readline().rsplit(":", 1)[1])
            url = f"http://127.0.0.1:{port}/api/embed"
            for modality, levels_here in plan:
                body = json.dumps(BODIES[modality]())
                wrk(url, body, 1, 3, work)  # warm-up
                for c in levels_here:
                    items0, batches0 = batch_totals(port, modality)
                    results[f"{modality}@{c}"] = wrk(url, body, c, args.duration, work)
                    items1, batches1 = batch_totals(port, modality)
                    # The mean batch shows whether concurrent requests shared batches.
                    results[f"{modality}@{c}"]["mean_batch"] = (items1 - items0) / max(1.0, batches1 - batches0)
        finally:
            server.terminate()
            server.wait(timeout=60)
        return results

    rounds = []
    for r in range(args.rounds):
        engine = json.loads(sh(BIN, "bench", "--model", args.bundle, "--modality", "image,text", "--batch", "1,8",
                               "--captions", captions, "--json"))
        rate = lambda m, b: next(x["items_per_s"] for x in engine["results"] if x["modality"] == m and x["batch"] == b)
        engine_rates = {f"{m}@{b}": rate(m, b) for m in ("image", "text") for b in (1, 8)}
        results = serve_and_load(args.bundle, [(m, levels) for m in modalities])
        if packed:
            results["text@1 packed"] = serve_and_load(packed, [("text", [1])])["text@1"]
        rounds.append({"engine_image_b8": engine_rates["image@8"], "engine": engine_rates, "server": results})
        c8 = results.get("image@8", {})
        print(f"round {r + 1}: engine image b8 {engine_rates['image@8']:.2f}/s, server image c8 {c8.get('items_per_s', 0):.2f}/s "
              f"(mean batch {c8.get('mean_batch', 0):.2f})",
              file=sys.stderr)

    med = lambda xs: statistics.median(xs)
    print(f"{'modality':8s} {'conc.':>5s} {'items/s':>9s} {'p50 ms':>9s} {'p99 ms':>9s} {'batch':>6s} {'errors':>6s}")
    table = {}
    for key in rounds[0]["server"]:
        modality, c = key.split("@", 1)
        row = {k: med([r["server"][key][k] for r in rounds]) for k in ("items_per_s", "p50_ms", "p99_ms", "mean_batch", "errors")}
        table[key] = row
        print(f"{modality:8s} {c:>5s} {row['items_per_s']:9.2f} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f} {row['mean_batch']:6.2f} {row['errors']:6.0f}")
    def floor(name, key, over, minimum):
        """A server/engine ratio of medians, its per-round values, and whether it holds."""
        if key not in table:
            return True
        ratio = table[key]["items_per_s"] / med([over(r) for r in rounds])
        per_round = [r["server"][key]["items_per_s"] / over(r) for r in rounds]
        print(f"{name}: {ratio:.3f} (per round {', '.join(f'{x:.3f}' for x in per_round)}); floor {minimum}")
        ratios[name] = ratio
        return ratio >= minimum
    ratios = {}
    print("engine (clipclap bench, same rounds): " + ", ".join(
        f"{k.replace('@', ' batch ')} {med([r['engine'][k] for r in rounds]):.2f}/s" for k in rounds[0]["engine"]))
    ok = floor("server image at concurrency 8 / engine batch 8", "image@8", lambda r: r["engine"]["image@8"], 0.85)
    ok &= floor("server image at concurrency 1 / engine batch 1", "image@1", lambda r: r["engine"]["image@1"], 0.85)
    ok &= floor("server text at concurrency 1 / engine batch 1", "text@1", lambda r: r["engine"]["text@1"], 0.85)
    if "text@1 packed" in table:
        ok &= floor("server text at concurrency 1, packed at load / with a pack file", "text@1",
                    lambda r: r["server"]["text@1 packed"]["items_per_s"], 0.95)
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "rounds": rounds, "median": table, "ratios": ratios}, indent=2))
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
