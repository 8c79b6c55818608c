#!/usr/bin/env python3
"""Ray Data's overhead on bulk embedding: the same image files through
  - one process with one 2-thread model (clipclap.Model, batches of --batch files), and
  - clipclap.ray.embed_dataset on a local Ray cluster of 2 CPUs: 2 actors of 1 thread each,
in alternating rounds, medians of files/s and their ratio (Ray / one process).

    python scripts/bench_ray.py --model bench-models/clip-vit-b32-random [--files 256] [--rounds 3]

Needs the package installed with its Ray extra (pip install ".[ray]") and Pillow to write the
images (640x480 JPEGs of smooth random colour, as a camera's would decode: no model work depends
on the content). Each timing includes the model loads: the actors' and the process's.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

import clipclap
import clipclap.ray


def write_images(folder: str, count: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((640, 480), Image.BICUBIC)
        path = os.path.join(folder, f"image_{i:04d}.jpg")
        image.save(path, quality=90)
        paths.append(path)
    return paths


def one_process(model: str, paths: list[str], batch: int) -> float:
    start = time.perf_counter()
    m = clipclap.Model(model, threads=2, batch_size=min(batch, 8))
    done = 0
    for i in range(0, len(paths), batch):
        chunk = paths[i:i + batch]
        vectors, _, errors = m._native.embed_files(chunk, [], [])
        assert not any(errors), errors
        done += len(vectors)
    assert done == len(paths)
    return len(paths) / (time.perf_counter() - start)


def on_ray(model: str, paths: list[str], batch: int) -> float:
    import ray.data

    start = time.perf_counter()
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=len(paths) // batch)
    out = clipclap.ray.embed_dataset(ds, model, concurrency=2, threads_per_actor=1, batch_size=batch).materialize()
    rows = out.take_all()
    assert len(rows) == len(paths) and not any(r["error"] for r in rows)
    return len(paths) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a CLIP model directory (e.g. bench-models/clip-vit-b32-random)")
    parser.add_argument("--files", type=int, default=256, help="image files to embed per run (default 256)")
    parser.add_argument("--batch", type=int, default=16, help="files per call / per Ray batch (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both (default 3)")
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory() as folder:
        paths = write_images(folder, args.files)
        single, distributed = [], []
        for r in range(args.rounds):
            single.append(one_process(args.model, paths, args.batch))
            distributed.append(on_ray(args.model, paths, args.batch))
            print(f"round {r + 1}: one 2-thread process {single[-1]:.2f} files/s, Ray 2x1-thread actors {distributed[-1]:.2f} files/s",
                  flush=True)
    a, b = statistics.median(single), statistics.median(distributed)
    print(f"{os.cpu_count()} CPUs, {args.files} 640x480 JPEGs, batches of {args.batch}, medians of {args.rounds}: "
          f"one process {a:.2f} files/s, Ray {b:.2f} files/s, Ray / one process = {b / a:.3f}")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
