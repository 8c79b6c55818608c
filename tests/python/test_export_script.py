#!/usr/bin/env python3
"""scripts/export_onnx.py on the tiny fixture bundle, against the C++ engine.

ONNX Runtime runs the exported graphs (fed transformers' preprocessing: CLIPTokenizerFast,
CLIPImageProcessor, ClapFeatureExtractor, which the engine matches exactly) and its
normalised outputs must equal `clipclap embed --model BUNDLE` for every text, image and
audio clip, cosine >= 0.9999. The export from the bundle and the export from the source
checkpoints + projection must agree, and the int8 variant, written as `<name>_quantized.onnx`
beside each graph (where the Go server, termite, looks for it), is measured (cosine >= 0.99).

What termite computes from the same files is printed too, not checked: it tokenises each text
alone (no padding, to 77 or otherwise) and mean-pools `last_hidden_state` instead of reading
`pooler_output` (CLIP's end-of-text token), so its text vectors are not CLIP's.

    tests/python/test_export_script.py [--binary build/release/clipclap]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from transformers import ClapFeatureExtractor, CLIPImageProcessor, CLIPTokenizerFast

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks  # noqa: E402
sys.path.insert(0, str(ROOT / "scripts"))
from make_fixtures import load_at_48k  # noqa: E402  (the fixtures' own audio pipeline)

FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"
NAMES = {
    "text_model.onnx": (["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"]),
    "visual_model.onnx": (["pixel_values"], ["last_hidden_state", "pooler_output"]),
    "text_projection.onnx": (["input"], ["output"]),
    "visual_projection.onnx": (["input"], ["output"]),
    "audio_model.onnx": (["input_features"], ["last_hidden_state", "pooler_output"]),
    "audio_projection.onnx": (["input"], ["output"]),
}
TEXTS = ["a photo of a cat", "", "rain on a tin roof, recorded from inside at night",
         "an orchestra " * 40, "İstanbul'da ÇOK güzel bir gün 🎉"]
IMAGES = ["photo_420.jpg", "rgba.png", "cmyk.jpg", "odd_7x5.png", "large_4000x3000.jpg"]
AUDIO = ["tone_48k_pcm16.wav", "chirp_44k.flac", "exact_10s_16k.flac", "mp3_44k.mp3", "opus_48k.ogg", "short_8k_u8.wav"]


def quantized(name: str) -> str:
    return name.replace(".onnx", "_quantized.onnx")


class Runner:
    def __init__(self, folder: Path, rename=lambda n: n):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.s = {n: ort.InferenceSession(str(folder / rename(n)), opts, providers=["CPUExecutionProvider"]) for n in NAMES}

    def names(self, n):
        return [i.name for i in self.s[n].get_inputs()], [o.name for o in self.s[n].get_outputs()]

    def pooled(self, model, feeds):
        return self.s[model].run(["pooler_output"], feeds)[0]

    def project(self, name, x):
        y = self.s[name].run(None, {"input": x})[0]
        return y / np.linalg.norm(y, axis=1, keepdims=True)

    def text(self, ids, mask):
        return self.project("text_projection.onnx", self.pooled("text_model.onnx", {"input_ids": ids, "attention_mask": mask}))

    def text_as_termite(self, ids):
        """One text, unpadded, the mean of last_hidden_state over its tokens, projected."""
        hidden = self.s["text_model.onnx"].run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        return self.project("text_projection.onnx", hidden.mean(axis=1))

    def image(self, pixels):
        return self.project("visual_projection.onnx", self.pooled("visual_model.onnx", {"pixel_values": pixels}))

    def audio(self, features):
        return self.project("audio_projection.onnx", self.pooled("audio_model.onnx", {"input_features": features}))


def engine(binary: Path, flag: str, inputs):
    args = [str(binary), "embed", "--model", str(BUNDLE)]
    for x in inputs:
        args += [f"--{flag}", str(x)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return np.array([json.loads(line)["embedding"] for line in out.splitlines()], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    args = ap.parse_args()
    check = Checks()

    config = json.loads((BUNDLE / "clip_config.json").read_text())
    tok = CLIPTokenizerFast.from_pretrained(str(BUNDLE))
    positions = config["text_config"]["max_position_embeddings"]
    images = [Image.open(FIXTURES / "images" / f) for f in IMAGES]
    pixels = CLIPImageProcessor.from_pretrained(str(BUNDLE))(images=images, return_tensors="np")["pixel_values"]
    fe = ClapFeatureExtractor(**config["audio_config"]["feature_extractor"])
    waves = [load_at_48k(FIXTURES / "audio" / f)[1] for f in AUDIO]
    features = fe(waves, sampling_rate=48000, return_tensors="np")["input_features"].astype(np.float32)

    want_text = engine(args.binary, "text", TEXTS)
    want_image = engine(args.binary, "image", [FIXTURES / "images" / f for f in IMAGES])
    want_audio = engine(args.binary, "audio", [FIXTURES / "audio" / f for f in AUDIO])

    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "from_bundle", Path(tmp) / "from_checkpoints"
        for extra, out in ((["--bundle", str(BUNDLE), "--int8"], a),
                           (["--clip", str(FIXTURES / "models" / "clip-tiny-a"), "--clap", str(FIXTURES / "models" / "clap-tiny-a"),
                             "--projection", str(FIXTURES / "train" / "projection-tiny")], b)):
            subprocess.run([sys.executable, str(ROOT / "scripts" / "export_onnx.py"), *extra, "--out", str(out)],
                           check=True, capture_output=True)
        check(all((a / quantized(n)).exists() for n in NAMES) and not (a / "int8").exists(),
              f"--int8 writes {', '.join(quantized(n) for n in NAMES)} beside the fp32 graphs")
        runners = {"bundle export": Runner(a), "checkpoint export": Runner(b), "int8": Runner(a, quantized)}
        for n, names in NAMES.items():
            check(runners["bundle export"].names(n) == names, f"{n} input/output names {names}")

        results = {}
        for label, r in runners.items():
            # Padded to all 77 positions and to the batch's longest: the graphs give the same vectors.
            full = tok(TEXTS, padding="max_length", max_length=positions, truncation=True, return_tensors="np")
            short = tok(TEXTS, padding=True, max_length=positions, truncation=True, return_tensors="np")
            results[label] = {
                "text (padded to 77)": r.text(full["input_ids"].astype(np.int64), full["attention_mask"].astype(np.int64)),
                "text (padded to longest)": r.text(short["input_ids"].astype(np.int64), short["attention_mask"].astype(np.int64)),
                "image": r.image(pixels.astype(np.float32)),
                "audio": r.audio(features),
            }
        want = {"text (padded to 77)": want_text, "text (padded to longest)": want_text, "image": want_image, "audio": want_audio}
        for label, floor in (("bundle export", 0.9999), ("checkpoint export", 0.9999), ("int8", 0.99)):
            for what, got in results[label].items():
                cos = np.sum(got * want[what], axis=1) / np.linalg.norm(want[what], axis=1)
                check(cos.min() >= floor, f"{label:18s} {what:25s} vs engine: min cosine {cos.min():.8f} over {len(cos)} (floor {floor})")
        for what in want:
            diff = np.abs(results["bundle export"][what] - results["checkpoint export"][what]).max()
            check(diff <= 1e-6, f"bundle and checkpoint exports agree on {what}: max |diff| {diff:.2e}")
        alone = [tok(t, truncation=True, max_length=positions, return_tensors="np")["input_ids"].astype(np.int64) for t in TEXTS]
        termite = np.concatenate([runners["bundle export"].text_as_termite(ids) for ids in alone])
        cos = np.sum(termite * want_text, axis=1) / np.linalg.norm(want_text, axis=1)
        print(f"info termite's text vectors (each text alone, mean of last_hidden_state): cosine to transformers' "
              f"min {cos.min():.4f}, median {np.median(cos):.4f} over {len(cos)}")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
