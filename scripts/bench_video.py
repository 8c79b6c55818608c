#!/usr/bin/env python3
"""Where a video's embedding time goes: decoding (FFmpeg, RGB conversion) against preparing
(pixel_values, log-mel) and the towers, from `clipclap embed --video`'s own breakdown on stderr.

    scripts/bench_video.py --binary build/release/clipclap --model bench-models/clipclap-bench

The clips are 60 s of 1280x720 H.264 at 30 fps with a stereo AAC soundtrack, made once by the
ffmpeg CLI into build/bench-media (not committed), with two keyframe spacings: one per second
(what phone and streaming encoders use) and x264's default (up to 250 frames, 8.3 s). Medians
of --rounds runs, each a fresh process; model loading is not counted.
"""
import argparse
import re
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIPS = {
    "gop 1 s": ["-g", "30", "-keyint_min", "30"],
    "gop x264 default (250)": [],
}
LINE = re.compile(r"(\d+) frames sampled of (\d+) decoded, (\d+) segments; decoding ([\d.]+) s, preparing ([\d.]+) s; towers ([\d.]+) s")


def make_clip(out: Path, gop: list) -> Path:
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=60",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60", "-ac", "2",
                        "-c:v", "libx264", "-preset", "veryfast", *gop, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                        str(out)], check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build/release/clipclap"))
    ap.add_argument("--model", default=str(ROOT / "bench-models/clipclap-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fps", type=float, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"| clip (60 s, 1280x720, 30 fps) | frames sampled / decoded | decoding s | preparing s | towers s | decoding / (preparing + towers) |")
    print("|---|---|---|---|---|---|")
    for name, gop in CLIPS.items():
        clip = make_clip(ROOT / "build/bench-media" / ("clip720_" + name.split()[1] + ".mp4"), gop)
        runs = []
        for _ in range(args.rounds):
            r = subprocess.run([args.binary, "embed", "--model", args.model, "--video", str(clip), "--video-fps", str(args.fps),
                                "--threads", str(args.threads)], capture_output=True, text=True)
            m = LINE.search(r.stderr)
            if r.returncode != 0 or not m:
                raise SystemExit(f"clipclap embed failed on {clip}:\n{r.stderr}")
            runs.append(m.groups())
        med = lambda i: statistics.median(float(x[i]) for x in runs)  # noqa: E731
        decode, prepare, towers = med(3), med(4), med(5)
        print(f"| {name} | {runs[0][0]} / {runs[0][1]} | {decode:.3f} | {prepare:.3f} | {towers:.3f} | {decode / (prepare + towers):.1%} |")


if __name__ == "__main__":
    main()
