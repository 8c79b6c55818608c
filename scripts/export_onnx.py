#!/usr/bin/env python3
"""ONNX files for the existing Go server (the antflydb/clipclap layout), with torch.onnx.

From a clipclap bundle (clipclap assemble --out DIR):
    scripts/export_onnx.py --bundle DIR --out ONNX_DIR [--int8]
or from the source checkpoints and a trained projection:
    scripts/export_onnx.py --clip DIR --clap DIR --projection DIR --out ONNX_DIR [--int8]

Writes, with the input/output names the Go server selects (opset 14, constant folding on,
batch dynamic; weights of graphs over 64 MB in a side file <name>.onnx.data):
    text_model.onnx        input_ids, attention_mask (int64 [batch, sequence_length])
                           -> last_hidden_state, pooler_output
    visual_model.onnx      pixel_values (float32 [batch, 3, H, W]) -> last_hidden_state, pooler_output
    text_projection.onnx   input [batch, text hidden] -> output [batch, dim]
    visual_projection.onnx input [batch, vision hidden] -> output [batch, dim]
    audio_model.onnx       input_features (float32 [batch, 1, time, mel], traced at the extractor's
                           frame count, 1001 for CLAP) -> last_hidden_state, pooler_output
    audio_projection.onnx  input [batch, audio hidden] -> CLAP projection -> L2 -> W (+ b) -> output
and beside them CLIP's tokenizer and preprocessor files and clip_config.json (copied).
--int8 adds <name>_quantized.onnx beside each graph, dynamically quantised by onnxruntime
(weights int8): the name the Go server (termite) looks for, in the same folder.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import ClapAudioConfig, ClapAudioModelWithProjection, CLIPConfig, CLIPModel

BUNDLE_EXTRA_AUDIO_KEYS = ("feature_extractor", "sample_rate", "max_length_s")
CLIP_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
              "preprocessor_config.json")
EXTERNAL_DATA_ABOVE = 64 << 20


class Tower(torch.nn.Module):
    """A CLIP/CLAP tower returning (last_hidden_state, pooler_output)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        out = self.model(*inputs)
        return out.last_hidden_state, out.pooler_output


class TextTower(Tower):
    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state, out.pooler_output


class AudioProjection(torch.nn.Module):
    """CLAP's audio_projection, L2, then the trained W: the Go server normalises the output."""

    def __init__(self, clap_projection, w, b):
        super().__init__()
        self.clap_projection = clap_projection
        self.w = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        with torch.no_grad():
            self.w.weight.copy_(w)
            if b is not None:
                self.w.bias.copy_(b)

    def forward(self, x):
        return self.w(F.normalize(self.clap_projection(x), dim=-1))


def from_bundle(bundle: Path):
    config = json.loads((bundle / "clip_config.json").read_text())
    if config.get("model_type") != "clipclap":
        sys.exit(f"{bundle}: clip_config.json is not a clipclap bundle")
    weights = load_file(str(bundle / "model.safetensors"))
    clip_config = CLIPConfig(text_config=config["text_config"], vision_config=config["vision_config"],
                             projection_dim=config["projection_dim"])
    clip = CLIPModel(clip_config)
    clip_weights = {k: v for k, v in weights.items() if k.startswith(("text_", "vision_", "visual_", "logit_scale"))}
    missing, unexpected = clip.load_state_dict(clip_weights, strict=False)
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        sys.exit(f"{bundle}: CLIP weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    audio_config = {k: v for k, v in config["audio_config"].items() if k not in BUNDLE_EXTRA_AUDIO_KEYS}
    clap = ClapAudioModelWithProjection(ClapAudioConfig(**audio_config))
    audio_weights = {k: v for k, v in weights.items() if k.startswith(("audio_model.", "audio_projection."))}
    missing, unexpected = clap.load_state_dict(audio_weights, strict=False)
    if unexpected or missing:
        sys.exit(f"{bundle}: CLAP audio weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    features = config["audio_config"]["feature_extractor"]
    return clip, clap, weights["audio_to_clip.weight"], weights.get("audio_to_clip.bias"), features, bundle, config


def from_checkpoints(clip_dir: Path, clap_dir: Path, projection_dir: Path):
    clip = CLIPModel.from_pretrained(str(clip_dir), torch_dtype=torch.float32)
    clap = ClapAudioModelWithProjection.from_pretrained(str(clap_dir), torch_dtype=torch.float32)
    w = load_file(str(projection_dir / "projection.safetensors"))
    features = json.loads((clap_dir / "preprocessor_config.json").read_text())
    return clip, clap, w["weight"], w.get("bias"), features, clip_dir, None


def export(module, args, path: Path, input_names, output_names, dynamic_axes):
    torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=14, do_constant_folding=True, dynamo=False)
    model = onnx.load(str(path))
    if path.stat().st_size > EXTERNAL_DATA_ABOVE:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=1024)
        model = onnx.load(str(path), load_external_data=False)
    onnx.checker.check_model(str(path))
    print(f"wrote {path.name}: inputs {input_names} -> outputs {output_names}")


def quantise(out: Path):
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice, once per file

    for f in sorted(p for p in out.glob("*.onnx") if not p.stem.endswith("_quantized")):
        q = f.with_name(f.stem + "_quantized.onnx")
        # MatMul/Gemm only: ONNX Runtime's CPU provider has no ConvInteger for the patch embeddings.
        quantize_dynamic(str(f), str(q), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                         use_external_data_format=(out / (f.name + ".data")).exists())
        print(f"wrote {q.name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, help="a clipclap bundle directory")
    ap.add_argument("--clip", type=Path, help="CLIP checkpoint directory (with --clap and --projection)")
    ap.add_argument("--clap", type=Path, help="CLAP checkpoint directory")
    ap.add_argument("--projection", type=Path, help="train-projection output directory")
    ap.add_argument("--out", type=Path, required=True, help="directory for the ONNX files")
    ap.add_argument("--int8", action="store_true", help="also write int8/ (onnxruntime dynamic quantisation)")
    args = ap.parse_args()
    if args.bundle:
        clip, clap, w, b, features, files_from, config = from_bundle(args.bundle)
    elif args.clip and args.clap and args.projection:
        clip, clap, w, b, features, files_from, config = from_checkpoints(args.clip, args.clap, args.projection)
    else:
        ap.error("give --bundle DIR, or --clip, --clap and --projection")
    clip.eval()
    clap.eval()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    text_positions = clip.config.text_config.max_position_embeddings
    ids = torch.ones(2, min(8, text_positions), dtype=torch.int64)
    export(TextTower(clip.text_model), (ids, torch.ones_like(ids)), out / "text_model.onnx",
           ["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch", 1: "sequence_length"}, "attention_mask": {0: "batch", 1: "sequence_length"},
            "last_hidden_state": {0: "batch", 1: "sequence_length"}, "pooler_output": {0: "batch"}})
    vc = clip.config.vision_config
    pixels = torch.zeros(2, vc.num_channels, vc.image_size, vc.image_size)
    export(Tower(clip.vision_model), (pixels,), out / "visual_model.onnx", ["pixel_values"],
           ["last_hidden_state", "pooler_output"],
           {"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
    for name, layer in (("text_projection", clip.text_projection), ("visual_projection", clip.visual_projection)):
        export(layer, (torch.zeros(2, layer.in_features),), out / f"{name}.onnx", ["input"], ["output"],
               {"input": {0: "batch"}, "output": {0: "batch"}})
    frames = int(features.get("nb_max_frames", 1000)) + 1  # the extractor's output: 1001 for CLAP
    mel = torch.zeros(2, 1, frames, int(features.get("feature_size", 64)))
    export(Tower(clap.audio_model), (mel,), out / "audio_model.onnx", ["input_features"],
           ["last_hidden_state", "pooler_output"],
           {"input_features": {0: "batch", 2: "time"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
    projection = AudioProjection(clap.audio_projection, w.float(), None if b is None else b.float()).eval()
    export(projection, (torch.zeros(2, clap.config.hidden_size),), out / "audio_projection.onnx", ["input"], ["output"],
           {"input": {0: "batch"}, "output": {0: "batch"}})

    for f in CLIP_FILES:
        if (files_from / f).exists():
            shutil.copyfile(files_from / f, out / f)
    if config is not None:
        (out / "clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    if args.int8:
        quantise(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
