#!/usr/bin/env python3
"""audio_projection.onnx, written from C++ by `clipclap train-projection`, against the C++ engine.

ONNX Runtime runs the exported graph on CLAP's pooled audio features (computed with
transformers, whose HTSAT the engine matches); its L2-normalised output must equal what
`clipclap embed --audio ... --projection DIR` prints, cosine >= 0.9999 for every clip.

    tests/python/test_onnx_export.py [--binary build/release/clipclap]
"""
import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import ClapFeatureExtractor, ClapModel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from make_fixtures import load_at_48k  # noqa: E402  (the fixtures' own audio pipeline)

FIXTURES = ROOT / "tests" / "fixtures"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    args = ap.parse_args()
    clap_dir, clip_dir = FIXTURES / "models" / "clap-tiny-a", FIXTURES / "models" / "clip-tiny-a"
    clips = sorted(p for p in (FIXTURES / "audio").iterdir() if not p.name.startswith("long"))
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with open(tmp / "pairs.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["audio", "caption_1", "caption_2"])
            for i, c in enumerate(clips):
                w.writerow([str(c), f"a recording number {i}", f"sound {i} in a room"])
        out = tmp / "out"
        subprocess.run([str(args.binary), "train-projection", "--clip", str(clip_dir), "--clap", str(clap_dir),
                        "--out", str(out), "--mode", "audio-caption", "--pairs", str(tmp / "pairs.csv"),
                        "--epochs", "5", "--batch", "8", "--val-fraction", "0.3", "--cache", ""],
                       check=True, capture_output=True)
        onnx.checker.check_model(onnx.load(str(out / "audio_projection.onnx")))
        session = ort.InferenceSession(str(out / "audio_projection.onnx"), providers=["CPUExecutionProvider"])
        names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if names != (["input"], ["output"]):
            print(f"FAIL input/output names {names}")
            failed += 1
        model = ClapModel.from_pretrained(str(clap_dir)).eval()
        fe = ClapFeatureExtractor(**json.loads((clap_dir / "preprocessor_config.json").read_text()))
        for clip in clips:
            _, wave, _ = load_at_48k(clip)
            with torch.no_grad():
                feats = fe(wave, sampling_rate=48000, return_tensors="pt")["input_features"]
                pooled = model.audio_model(input_features=feats).pooler_output.numpy()
            onnx_out = session.run(None, {"input": pooled.astype(np.float32)})[0][0]
            onnx_out /= np.linalg.norm(onnx_out)
            line = subprocess.run([str(args.binary), "embed", "--model", str(clap_dir), "--audio", str(clip),
                                   "--projection", str(out)], check=True, capture_output=True, text=True).stdout
            engine = np.array(json.loads(line)["embedding"], dtype=np.float64)
            cos = float(np.dot(onnx_out, engine) / np.linalg.norm(engine))
            ok = cos >= 0.9999
            passed += ok
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {clip.name:24s} cosine {cos:.8f}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
