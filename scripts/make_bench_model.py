#!/usr/bin/env python3
"""Builds full-size random weights for the benchmark (never committed):

    scripts/make_bench_model.py --out bench-models/clip-vit-b32-random
    scripts/make_bench_model.py --kind clap --out bench-models/clap-htsat-base-random
    scripts/make_bench_model.py --stress-from bench-models/clip-vit-b32-random --out bench-models/clip-vit-b32-stress

CLIP: a checkpoint directory with openai/clip-vit-base-patch32's sizes (fp32
model.safetensors, config.json, tokenizer, preprocessor config); CLAP: the audio tower and
projection of laion/larger_clap_music_and_speech (HTSAT-base) under ClapModel's tensor names.
In onnx/, the towers exported with torch.onnx (opset 14) for ONNX Runtime:
  text.onnx:   input_ids, attention_mask -> text_embeds   (get_text_features)
  vision.onnx: pixel_values -> image_embeds               (get_image_features)
  audio.onnx:  input_features [b, 1, 1001, 64] -> audio_embeds (before L2)
"""
import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import ClapAudioModelWithProjection, ClapConfig, CLIPConfig, CLIPModel

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


class TextFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)


class ImageFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model.get_image_features(pixel_values=pixel_values)


class AudioFeatures(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_features):
        return self.model(input_features=input_features).audio_embeds


def make_clap(out: Path):
    # laion/larger_clap_music_and_speech: HTSAT-base, unfused.
    audio = dict(patch_embeds_hidden_size=128, depths=[2, 2, 12, 2], num_attention_heads=[4, 8, 16, 32],
                 hidden_size=1024, window_size=8, spec_size=256, num_mel_bins=64, enable_fusion=False)
    text = dict(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    config = ClapConfig(audio_config=audio, text_config=text, projection_dim=512)
    config.save_pretrained(str(out))
    model = ClapAudioModelWithProjection(config.audio_config).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    shutil.copy(FIXTURES / "models" / "clap-tiny-a" / "preprocessor_config.json", out / "preprocessor_config.json")
    export_clap_onnx(model, out / "onnx", (2, 1, 1001, 64))


def export_clap_onnx(model, onnx_dir: Path, feature_shape):
    onnx_dir.mkdir(exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(AudioFeatures(model), (torch.zeros(*feature_shape),), str(onnx_dir / "audio.onnx"),
                          input_names=["input_features"], output_names=["audio_embeds"],
                          dynamic_axes={"input_features": {0: "batch"}, "audio_embeds": {0: "batch"}},
                          opset_version=14, do_constant_folding=True, dynamo=False)


def export_clip_onnx(model, onnx_dir: Path):
    onnx_dir.mkdir(exist_ok=True)
    size = model.config.vision_config.image_size
    ids = torch.ones(2, 12, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(TextFeatures(model), (ids, torch.ones_like(ids)), str(onnx_dir / "text.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
                          opset_version=14, do_constant_folding=True, dynamo=False)
        torch.onnx.export(ImageFeatures(model), (torch.zeros(2, 3, size, size),), str(onnx_dir / "vision.onnx"),
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=14, do_constant_folding=True, dynamo=False)


# The layer norms that feed linear layers (CLIP's encoder layers, HTSAT's Swin blocks).
STRESS_NORMS = (".layer_norm1.", ".layer_norm2.", ".layernorm_before.", ".layernorm_after.")


def make_stress(source: Path, out: Path, channels: int, seed: int):
    """The bench weights with outlier activation channels planted, as trained ViTs grow them:
    in every layer norm that feeds linear layers, `channels` hidden dimensions get their gain
    and bias multiplied by 20-50x. Those activation channels are then 20-50x larger than the
    rest, which is what per-tensor int8 activations break on. The layers reading them are left
    as they are (scaling their columns down by the same factors would make a model that
    smoothing by the layer norms' gains undoes exactly, which would flatter int8), so this is
    another model, with its own fp32 vectors."""
    from safetensors.torch import load_file
    out.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.is_file() and f.name not in ("model.safetensors",) and not f.name.startswith("model.packed"):
            shutil.copy(f, out / f.name)
    weights = load_file(str(source / "model.safetensors"))
    gen = torch.Generator().manual_seed(seed)
    planted = 0
    for name in list(weights):
        for norm in STRESS_NORMS:
            if norm not in name or not name.endswith(".weight"):
                continue
            dim = weights[name].shape[0]
            picks = torch.randperm(dim, generator=gen)[:channels]
            factors = 20 + 30 * torch.rand(channels, generator=gen)
            weights[name][picks] *= factors
            weights[name[: -len("weight")] + "bias"][picks] *= factors
            planted += 1
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((out / "config.json").read_text())
    if config.get("model_type") == "clap":
        model = ClapAudioModelWithProjection.from_pretrained(str(out)).eval()
        export_clap_onnx(model, out / "onnx", (2, 1, 1001, 64))
    else:
        model = CLIPModel.from_pretrained(str(out), attn_implementation="eager").eval()
        export_clip_onnx(model, out / "onnx")
    (out / "README.txt").write_text(f"Stress weights: {source.name} with {channels} outlier channels planted in each of "
                                    f"{planted} layer norms (20-50x), for the precision study only.\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--kind", choices=["clip", "clap"], default="clip")
    ap.add_argument("--stress-from", type=Path, help="make stress weights from this bench model instead (make_stress)")
    ap.add_argument("--outlier-channels", type=int, default=6, help="with --stress-from: outlier channels per layer norm")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if args.stress_from:
        make_stress(args.stress_from, out, args.outlier_channels, seed=1)
        return
    if args.kind == "clap":
        make_clap(out)
        (out / "README.txt").write_text("Random weights with HTSAT-base's shapes, for benchmarks only.\n")
        return
    # openai/clip-vit-base-patch32's sizes; the legacy eos_token_id 2 as in its config.json.
    config = CLIPConfig(text_config=dict(bos_token_id=0, eos_token_id=2, pad_token_id=1),
                        vision_config=dict(patch_size=32), projection_dim=512)
    model = CLIPModel._from_config(config, attn_implementation="eager").eval()
    config.save_pretrained(str(out))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(FIXTURES / "clip-tokenizer" / f, out / f)
    shutil.copy(FIXTURES / "models" / "clip-tiny-a" / "preprocessor_config.json", out / "preprocessor_config.json")

    export_clip_onnx(model, out / "onnx")
    (out / "README.txt").write_text("Random weights with CLIP ViT-B/32's shapes, for benchmarks only.\n")
    print(json.dumps({"out": str(out), "files": sorted(p.name for p in out.rglob("*") if p.is_file())}))


if __name__ == "__main__":
    main()
