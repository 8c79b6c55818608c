"""The Python package as a user installs it (`pip install .` into a clean venv, which runs this
file): its vectors equal `clipclap embed`'s, its inputs and errors, the GIL, the pipelines
(train_projection, evaluate, assemble), the README's Python example; then bulk embedding:
`clipclap embed --manifest` killed and restarted, and clipclap.ray on a local Ray cluster with
one of its two workers killed mid-run."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import clipclap
from checks import Checks

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
BUNDLE = FIX / "models" / "clipclap-tiny"
IMAGES = sorted(p for p in (FIX / "images").iterdir() if p.suffix in (".png", ".jpg", ".gif", ".webp", ".bmp"))
AUDIO = sorted(p for p in (FIX / "audio").iterdir() if p.suffix in (".wav", ".flac", ".ogg", ".mp3"))


def cli_embed(binary, *args):
    out = subprocess.run([str(binary), "embed", "--model", str(BUNDLE), *map(str, args)], check=True,
                         capture_output=True, text=True).stdout
    return np.array([json.loads(line)["embedding"] for line in out.splitlines()], dtype=np.float32)


def max_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def package(check, binary):
    model = clipclap.Model(BUNDLE, threads=2)
    check(model.kind == "clipclap" and model.capabilities == ("text", "image", "audio") and model.dim > 0,
          f"Model: kind {model.kind}, capabilities {model.capabilities}, dim {model.dim}")
    texts = ["the sound of rain", "a dog barking", "", "ünïcödé ✓"]
    v = model.embed_text(texts)
    cli = cli_embed(binary, *[a for t in texts for a in ("--text", t)])
    check(v.dtype == np.float32 and v.shape == (4, model.dim), f"embed_text: float32 {v.shape}")
    check(max_diff(v, cli) <= 1e-6, f"embed_text equals clipclap embed (max |diff| {max_diff(v, cli):.2e})")
    check(abs(float(np.linalg.norm(v[0])) - 1) < 1e-5, "rows are L2-normalised")

    from PIL import Image
    cli = cli_embed(binary, *[a for p in IMAGES for a in ("--image", p)])
    v = model.embed_image([str(p) for p in IMAGES])
    check(max_diff(v, cli) <= 1e-6, f"embed_image(paths) equals clipclap embed on {len(IMAGES)} images (max |diff| {max_diff(v, cli):.2e})")
    v = model.embed_image([p.read_bytes() for p in IMAGES])
    check(max_diff(v, cli) <= 1e-6, "embed_image(bytes) equals it too")
    png = next(p for p in IMAGES if p.name.endswith(".png") and Image.open(p).mode == "RGB")
    i = IMAGES.index(png)
    with Image.open(png) as im:
        mixed = model.embed_image([im, np.asarray(im.convert("RGB")), png, Path(png)])
    check(max_diff(mixed, np.repeat(cli[i:i + 1], 4, axis=0)) <= 1e-6,
          f"a PIL image, an HxWx3 array, a str and a Path of {png.name} give its CLI vector")

    import soundfile
    cli = cli_embed(binary, *[a for p in AUDIO for a in ("--audio", p)])
    v = model.embed_audio(AUDIO)
    check(max_diff(v, cli) <= 1e-6, f"embed_audio(paths) equals clipclap embed on {len(AUDIO)} clips (max |diff| {max_diff(v, cli):.2e})")
    wav = next(p for p in AUDIO if p.suffix == ".wav")
    samples, rate = soundfile.read(wav, dtype="float64")
    j = AUDIO.index(wav)
    v = model.embed_audio([(samples, rate), wav.read_bytes()])
    check(max_diff(v, np.repeat(cli[j:j + 1], 2, axis=0)) <= 1e-6,
          f"(samples, rate) from soundfile and the bytes of {wav.name} give its CLI vector (max |diff| {max_diff(v[0], cli[j]):.2e})")

    def raises(kind, fn, *needles):
        try:
            fn()
        except kind as e:
            ok = all(n in str(e) for n in needles)
            check(ok, f"{kind.__name__}: {str(e)[:140]}")
            return
        except Exception as e:  # noqa: BLE001
            check(False, f"expected {kind.__name__}, got {type(e).__name__}: {e}")
            return
        check(False, f"expected {kind.__name__}, nothing raised")

    raises(ValueError, lambda: model.embed_image([IMAGES[0], b"not an image"]), "images[1]", "undecodable image")
    raises(FileNotFoundError, lambda: model.embed_audio(["/nonexistent/rain.wav"]), "/nonexistent/rain.wav")
    raises(ValueError, lambda: model.embed_image(np.zeros((4, 4), np.uint8)), "images[0]")
    raises(ValueError, lambda: model.embed_audio([(np.zeros(0), 16000)]), "audio[0]", "empty")
    raises(ValueError, lambda: clipclap.Model(BUNDLE, long_audio="sideways"), "sideways")
    raises(FileNotFoundError, lambda: clipclap.Model(FIX / "no-such-model"), "no-such-model")
    clip_only = clipclap.Model(FIX / "models" / "clip-tiny-a")
    raises(ValueError, lambda: clip_only.embed_audio([wav]), "audio")
    check(model.embed_text([]).shape == (0, model.dim), "an empty list gives an empty [0, dim] array")

    # The GIL is released while the engine runs: another Python thread keeps running.
    ticks, done = [0], threading.Event()
    def spin():
        while not done.is_set():
            ticks[0] += 1
    t = threading.Thread(target=spin)
    t.start()
    start = time.perf_counter()
    for _ in range(5):
        model.embed_audio(AUDIO[:4])
    elapsed = time.perf_counter() - start
    done.set()
    t.join()
    check(ticks[0] > 10000, f"another thread ran {ticks[0]} loop turns during {elapsed:.2f} s of embedding (GIL released)")

    stubs = Path(clipclap.__file__).parent / "_clipclap.pyi"
    check(stubs.is_file() and (Path(clipclap.__file__).parent / "py.typed").is_file(), "type stubs and py.typed are installed")
    check("epochs" in clipclap.train_projection.__doc__ and "[default: 20]" in clipclap.train_projection.__doc__,
          "train_projection's docstring lists its flags with their defaults")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "projection"
        summary = clipclap.train_projection(clip=FIX / "models" / "clip-tiny-a", clap=FIX / "models" / "clap-tiny-a",
                                            captions=[FIX / "train" / "captions.txt"], out=out, epochs=2, cache="")
        check((out / "projection.safetensors").is_file() and summary["mode"] == "text-bridge",
              f"train_projection wrote {out.name} ({summary['mode']}, held-out cosine {summary['held_out_cosine']:.3f})")
        report = clipclap.evaluate(clip=FIX / "models" / "clip-tiny-a", clap=FIX / "models" / "clap-tiny-a", projection=out,
                                   pairs=FIX / "train" / "pairs.csv")
        check("R@1" in report["retrieval"]["shared"]["text_to_audio"], "evaluate returns the eval report")
        raises(TypeError, lambda: clipclap.train_projection(epoch=3), "epoch")
        raises(ValueError, lambda: clipclap.train_projection(clip="a", clap="b", out="c", epochs=0), "--epochs")
        bundle = clipclap.assemble(clip=FIX / "models" / "clip-tiny-a", clap=FIX / "models" / "clap-tiny-a",
                                   projection=out, out=Path(tmp) / "bundle")
        check(clipclap.Model(bundle).kind == "clipclap", "assemble writes a bundle that loads")


def readme_python(check):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    check(len(blocks) >= 2, f"the README's Python section has {len(blocks)} examples")
    for k, code in enumerate(blocks):
        cwd = os.getcwd()
        try:
            os.chdir(ROOT)
            with tempfile.TemporaryDirectory() as tmp:
                exec(compile(code.replace("vectors.parquet", f"{tmp}/vectors.parquet"), f"README example {k + 1}", "exec"), {})
            check(True, f"README example {k + 1} runs as written")
        except Exception as e:  # noqa: BLE001
            check(False, f"README example {k + 1}: {type(e).__name__}: {e}")
        finally:
            os.chdir(cwd)


def manifest_rows(n_rounds):
    rows = [{"path": str(p)} for p in IMAGES + AUDIO] * n_rounds
    rows.append({"path": "missing.png"})
    return rows


def manifest_kill(check, binary):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = manifest_rows(12)
        (tmp / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        base = [str(binary), "embed", "--model", str(BUNDLE), "--manifest", str(tmp / "m.jsonl"), "--batch", "4", "--threads", "1"]
        subprocess.run(base + ["--output", str(tmp / "whole.jsonl")], check=True, capture_output=True)
        whole = [json.loads(l) for l in (tmp / "whole.jsonl").read_text().splitlines()]
        check(len(whole) == len(rows) and whole[-1]["error"] and whole[-1]["embedding"] is None,
              f"--manifest: {len(whole)} rows, the missing file a row with its error: {whole[-1]['error']}")
        for shard in range(2):  # each shard killed once mid-run, then run again
            out = tmp / f"out-{shard}.jsonl"
            cmd = base + ["--output", str(out), "--shard", f"{shard}/2"]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            part = Path(str(out) + ".part")
            deadline = time.time() + 60
            while time.time() < deadline and (not part.exists() or part.read_text().count("\n") < 8):
                time.sleep(0.005)
            p.send_signal(signal.SIGKILL)
            p.wait()
            written = part.read_text().count("\n") if part.exists() else 0
            check(not out.exists() and 0 < written, f"shard {shard}/2 killed after {written} rows: no output yet, a journal")
            with open(part, "a") as f:
                f.write('{"path": "torn')  # as if killed in the middle of a write
            r = subprocess.run(cmd, capture_output=True, text=True)
            check(r.returncode == 0 and out.exists() and not part.exists(), f"the rerun finishes: {r.stderr.strip()[:160]}")
            got = [json.loads(l) for l in out.read_text().splitlines()]
            want = whole[shard::2]
            same = len(got) == len(want) and all(g["path"] == w["path"] and g["error"] == w["error"] and
                                                 (g["embedding"] is None) == (w["embedding"] is None) for g, w in zip(got, want))
            diff = max(max_diff(g["embedding"], w["embedding"]) for g, w in zip(got, want) if g["embedding"] is not None)
            check(same and diff <= 1e-6, f"shard {shard}/2: every row exactly once, in order, vectors as an uninterrupted run "
                                         f"(max |diff| {diff:.1e})")
            r = subprocess.run(cmd, capture_output=True, text=True)
            check(r.returncode == 0 and "nothing to do" in r.stderr, "a third run finds the output complete")
        r = subprocess.run(base + ["--output", str(tmp / "x.parquet")], capture_output=True, text=True)
        check(r.returncode != 0 and "Arrow" in r.stderr and not (tmp / "x.parquet").exists(), "Parquet from the CLI: a clear refusal")
        subprocess.run(base + ["--output", str(tmp / "v.npy")], check=True, capture_output=True)
        v = np.load(tmp / "v.npy")
        meta = [json.loads(l) for l in (tmp / "v.rows.jsonl").read_text().splitlines()]
        good = [i for i, w in enumerate(whole) if w["embedding"] is not None]
        check(v.shape == (len(rows), len(whole[0]["embedding"])) and np.isnan(v[-1]).all() and
              max_diff(v[good], [whole[i]["embedding"] for i in good]) <= 1e-6 and meta[-1]["error"],
              f".npy output: {v.shape}, NaN for the failed row, rows in v.rows.jsonl")


def ray_kill(check, binary):
    import ray
    import clipclap.ray as ccray

    class Killable(ccray.ClipclapEmbedder):
        """Writes its pid where the test finds it, and takes its time, so a kill lands mid-run."""

        def __init__(self, model, pid_dir, **kw):
            super().__init__(model, **kw)
            Path(pid_dir, str(os.getpid())).touch()

        def __call__(self, batch):
            time.sleep(0.2)
            return super().__call__(batch)

    rows = manifest_rows(6)
    whole = {}
    files = [r["path"] for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.jsonl").write_text("".join(json.dumps({"path": p}) + "\n" for p in dict.fromkeys(files)))
        subprocess.run([str(binary), "embed", "--model", str(BUNDLE), "--manifest", str(Path(tmp) / "m.jsonl"),
                        "--output", str(Path(tmp) / "ref.jsonl")], check=True, capture_output=True)
        for line in (Path(tmp) / "ref.jsonl").read_text().splitlines():
            r = json.loads(line)
            whole[r["path"]] = r
        pid_dir = Path(tmp) / "pids"
        pid_dir.mkdir()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            ds = ray.data.from_items([{"path": p} for p in files])
            out = ccray.embed_dataset(ds, str(BUNDLE), concurrency=2, batch_size=4, cls=Killable,
                                      fn_constructor_kwargs={"pid_dir": str(pid_dir)})
            killed = []
            def killer():
                deadline = time.time() + 120
                while time.time() < deadline and len(list(pid_dir.iterdir())) < 2:
                    time.sleep(0.05)
                time.sleep(1.0)
                pid = int(sorted(pid_dir.iterdir())[0].name)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            k = threading.Thread(target=killer)
            k.start()
            start = time.perf_counter()
            result = out.take_all()
            k.join()
            seconds = time.perf_counter() - start
            paths = [r["path"] for r in result]
            check(bool(killed), f"a worker (pid {killed[0] if killed else '?'}) was killed mid-run; "
                                f"{len(result)} rows in {seconds:.1f} s")
            check(sorted(paths) == sorted(files), f"every file's row is present exactly once ({len(files)} rows, "
                                                  f"{len(set(paths))} distinct files)")
            diffs = [max_diff(r["embedding"], whole[r["path"]]["embedding"]) for r in result if r["embedding"] is not None]
            errors = [r for r in result if r["error"]]
            check(len(diffs) == len(files) - len(errors) and max(diffs) <= 1e-6,
                  f"every vector equals clipclap embed's (max |diff| {max(diffs):.1e})")
            check(len(errors) == 1 and errors[0]["path"] == "missing.png" and errors[0]["embedding"] is None,
                  f"the missing file is a row with its error: {errors[0]['error'] if errors else None}")
        finally:
            ray.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    check = Checks()
    package(check, args.binary)
    readme_python(check)
    manifest_kill(check, args.binary)
    if not args.skip_ray:
        ray_kill(check, args.binary)
    sys.exit(check.summary())


if __name__ == "__main__":
    main()
