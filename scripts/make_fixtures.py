#!/usr/bin/env python3
"""Builds the committed test fixtures: tiny random-weight checkpoints made with `transformers`
from configs (nothing is downloaded), inputs made here, and Hugging Face's outputs for them.

    scripts/make_fixtures.py                    # writes tests/fixtures/
    scripts/make_fixtures.py --only long-texts  # just reference/long_texts.json (from the committed tokenizers)
    scripts/make_fixtures.py --only media       # just media/: videos and audio containers, made by the ffmpeg CLI

The C++ tests read only what this writes; they never need Python. Re-running it gives the same
files: every random draw is seeded.
"""
import argparse
import csv
import gzip
import importlib.metadata
import io
import json
import random
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
import soundfile
import soxr
from tokenizers import ByteLevelBPETokenizer
from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, RobertaTokenizerFast
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizerFast
from transformers.models.clip.tokenization_clip import bytes_to_unicode

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"

# CLIP ViT-B/32's preprocessor_config.json, as published with openai/clip-vit-base-patch32.
CLIP_PREPROCESSOR = {
    "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3, "size": 224,
}

# Tiny checkpoints: different widths, heads, depths, activations, dtypes, pooling rules, patch sizes.
CLIP_MODELS = {
    "clip-tiny-a": dict(  # fp16 weights; legacy eos_token_id 2 (argmax pooling) as in the real checkpoint
        dtype=torch.float16, projection_dim=16, preprocessor=CLIP_PREPROCESSOR,
        text=dict(hidden_size=16, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  bos_token_id=0, eos_token_id=2, pad_token_id=1),
        vision=dict(hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                    image_size=224, patch_size=32)),
    "clip-tiny-b": dict(  # bf16; eos_token_id 49407 (first-eos pooling); odd patch 15 that leaves a remainder
        dtype=torch.bfloat16, projection_dim=24, preprocessor=CLIP_PREPROCESSOR,
        text=dict(hidden_size=12, intermediate_size=40, num_hidden_layers=3, num_attention_heads=2,
                  hidden_act="gelu"),
        vision=dict(hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=3,
                    image_size=224, patch_size=15, hidden_act="gelu")),
    "clip-tiny-c": dict(  # fp32 (mapped in place); 64-pixel input with its own preprocessor config
        dtype=torch.float32, projection_dim=8,
        preprocessor=dict(CLIP_PREPROCESSOR, crop_size={"height": 64, "width": 64}, size={"shortest_edge": 64}),
        text=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2),
        vision=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                    image_size=64, patch_size=16)),
}

# laion/larger_clap_music_and_speech's preprocessor_config.json.
CLAP_PREPROCESSOR = {
    "chunk_length_s": 10, "feature_extractor_type": "ClapFeatureExtractor", "feature_size": 64,
    "fft_window_size": 1024, "frequency_max": 14000, "frequency_min": 50, "hop_length": 480,
    "max_length_s": 10, "n_fft": 1024, "nb_frequency_bins": 513, "nb_max_frames": 1000,
    "nb_max_samples": 480000, "padding": "repeatpad", "padding_side": "right", "padding_value": 0.0,
    "processor_class": "ClapProcessor", "return_attention_mask": False, "sampling_rate": 48000,
    "top_db": None, "truncation": "rand_trunc",
}

# Tiny HTSAT checkpoints with the real input geometry (64 mel bins, spec_size 256, patch 4).
CLAP_MODELS = {
    "clap-tiny-a": dict(  # fp32; 4 stages, window 8: the last stage is one unshifted window
        dtype=torch.float32, projection_dim=16,
        audio=dict(patch_embeds_hidden_size=8, depths=[2, 2, 2, 2], num_attention_heads=[1, 2, 2, 4],
                   window_size=8, hidden_size=64)),
    "clap-tiny-b": dict(  # fp16; 3 stages, window 6: grids 64/32/16 are padded to whole windows
        dtype=torch.float16, projection_dim=8,
        audio=dict(patch_embeds_hidden_size=12, depths=[2, 1, 2], num_attention_heads=[2, 3, 4],
                   window_size=6, hidden_size=48, mlp_ratio=2.0)),
    "clap-tiny-fused": dict(  # bf16; enable_fusion (aff_2d) with the HTK "fusion" feature extractor
        dtype=torch.bfloat16, projection_dim=12, fused=True,
        audio=dict(patch_embeds_hidden_size=8, depths=[1, 2, 1, 2], num_attention_heads=[1, 2, 2, 4],
                   window_size=8, hidden_size=64, enable_fusion=True, fusion_type="aff_2d")),
}
# RoBERTa-shaped text tower; vocab_size is set from the fixture tokenizer. 80 positions allow
# 78 tokens (positions start at pad_token_id + 1).
CLAP_TEXT = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                 max_position_embeddings=80, type_vocab_size=1)
CLAP_MAX_TOKENS = 78

EMBED_TEXTS = [
    "a photo of a cat",
    "",
    "A DOG running on the beach at sunset!!",
    "the sound of rain on a tin roof",
    "日本語のテキストと emoji 😀👍🏽",
    "don't stop believin' — it's 3:14 a.m.",
    "x <|endoftext|> y",
    " ".join(["word"] * 100),  # longer than 77 tokens: truncated, eos kept
]


def build_tokenizer(out: Path) -> CLIPTokenizerFast:
    """The real CLIP BPE tokenizer, from the vocabulary file PyPI's open_clip_torch ships."""
    gz = [f for f in importlib.metadata.files("open_clip_torch") if f.name == "bpe_simple_vocab_16e6.txt.gz"][0]
    lines = gzip.open(gz.locate()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    work = out / "_build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (work / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    tok = CLIPTokenizerFast(vocab_file=str(work / "vocab.json"), merges_file=str(work / "merges.txt"),
                            pad_token="<|endoftext|>", model_max_length=77)
    tok.save_pretrained(str(out))
    shutil.rmtree(work)
    for name in ("vocab.json", "merges.txt"):  # tokenizer.json holds both; keep the fixtures small
        (out / name).unlink(missing_ok=True)
    return CLIPTokenizerFast.from_pretrained(str(out))


def build_clap_tokenizer(out: Path, corpus: list) -> RobertaTokenizerFast:
    """A RoBERTa-style byte-level BPE tokenizer (the structure of roberta-base's tokenizer.json,
    which CLAP uses), trained here on the fixture strings: the algorithm is what is tested."""
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=1200, min_frequency=2, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(out))
    tok = RobertaTokenizerFast(vocab_file=str(out / "vocab.json"), merges_file=str(out / "merges.txt"),
                               model_max_length=CLAP_MAX_TOKENS)
    tok.save_pretrained(str(out))
    for name in ("vocab.json", "merges.txt"):
        (out / name).unlink(missing_ok=True)
    return RobertaTokenizerFast.from_pretrained(str(out))


def hard_strings() -> list:
    s = [
        "", " ", "   ", "\t\n\r", "\u00a0", "\u3000\u3000", "\u200b", "a\u200bb", "a\u00a0b", "a\u2028b\u2029c",
        "a\x1cb", "a\u0085b", "\x00", "\x7f\x01\x02", "tab\tseparated\tvalues", "line\nbreaks\r\nhere",
        "café", "naïve résumé", "cafe\u0301", "A\u030a", "Å", "ﬁ ﬂ ﬃ", "İstanbul", "ΣΑΣ σας", "Straße STRASSE",
        "ǅemal ǈ ǋ", "Ⅻ Ⅳ ⅷ", "½ ¼ ¾ ² ³", "①②③", "٣٤٥ ١٢٣", "१२३ ๑๒๓", "𝟙𝟚𝟛", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "q\u0303 e\u0301\u0301",
        "日本語", "中文字符测试", "한국어 텍스트", "ひらがなカタカナ", "Привет, мир!", "Ελληνικά", "עברית", "العربية",
        "हिन्दी", "ไทย", "ქართული", "Հայերեն", "mixed Латиница and кириллица", "abc日本def", "1日2本3",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇳🇫🇷", "❤️", "☃", "🎉🎉🎉", "emoji😀inside", "a😀b😀c",
        "!!!", "???!!!...", "...", "…", "---", "—–-", "«quotes»", "“smart” ‘quotes’", "((()))", "[x]{y}<z>",
        "@#$%^&*", "~`|\\/", "a.b,c;d:e", "a!b?c", "'", "''", "'''", "x''s", "!'s", "'s", "'S", "'ll'", "''ll",
        "I'm", "you'll", "they've", "we'd", "it's", "CAN'T", "Don't", "o'clock", "rock'n'roll", "it’s", "'re'",
        "3.14159", "1,000,000", "2024-01-01", "12:30pm", "0x1F", "1e-10", "100%", "$5.99", "#1", "007",
        "&amp;", "&lt;b&gt;bold&lt;/b&gt;", "&#39;", "&nbsp;", "<b>bold</b>", "<a href='x'>link</a>",
        "https://example.com/path?q=1&r=2", "user@example.com", "C:\\Windows\\System32", "/usr/bin/env",
        "def f(x): return x**2", "int main() { return 0; }", "SELECT * FROM t;", "a_b_c", "camelCaseWord",
        "<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<|endoftext|><|endoftext|>", "a<|endoftext|>b",
        "<|startoftext|>hello<|endoftext|>", "<|endoftext", "|endoftext|>", "< |endoftext| >",
        "A" * 300, "ab" * 200, "!" * 150, "1" * 100, "supercalifragilisticexpialidocious",
        "pneumonoultramicroscopicsilicovolcanoconiosis", "HELLO World", "hElLo WoRlD",
        "\ue000\uf8ff", "\U000f0000", "\ufeffBOM", "\u202eRTL override", "\u200d", "a\u200db", "\u0301",
    ]
    # 1000-word text.
    words = ("the quick brown fox jumps over a lazy dog while rain falls softly on the old tin roof "
             "and children laugh in the distance near the river bank").split()
    rng = random.Random(7)
    s.append(" ".join(rng.choice(words) for _ in range(1000)))
    # Random strings from a pool spanning the categories that matter to the split.
    pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + \
        list(" \t\n\u00a0\u3000.,;:!?'\"-—…()[]{}<>@#$%&*/\\|~`^_+=") + \
        list("éèêëàâäôöûüçñßøåæœİıΣσςΩ") + list("日本語中文한국어ひらがなカタカナ") + \
        list("Привет") + list("العربية") + list("हिन्दी") + \
        ["😀", "👍", "🏽", "\u200d", "❤", "\ufe0f", "🇫", "🇷", "\u0301", "\u0303", "½", "²", "①", "٣", "Ⅻ", "𝟙"] + \
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "<|endoftext|>", "&amp;", "&#39;"]
    for _ in range(420):
        n = rng.randint(1, 40)
        s.append("".join(rng.choice(pool) for _ in range(n)))
    return s


def long_texts() -> list:
    """Texts far past 77 tokens, where the engine tokenizes only the start: white space of every
    kind between words, words far longer than any token, runs without white space longer than
    the engine's pieces, combining marks after spaces, special tokens near white space. Each is
    a list of (part, repeat) to keep the file small: the text is the parts repeated, joined."""
    rng = random.Random(11)
    hard = hard_strings()
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        [(" ".join(hard[:120]), 1)],
        [("".join(rng.choice(["\n", "\t", " ", "  ", "\u00a0", "\u3000 ", "\r\n"]) + w for w in hard[200:300]), 1)],
        [("a", 200000)],
        [("".join(rng.choice(letters) for _ in range(3000)), 1)],
        [("photograph", 1500)],
        [("rain ", 3000)],
        [(" ", 3000), ("word ", 100)],
        [("e\u0301 ", 1200)],
        [("x \u0301y ", 600)],
        [("日本語のテキスト", 12000)],
        [("a,b.c;d!", 2000)],
        [("İ Σ σ ς ", 500)],
        [("<|endoftext|> <|endoftext|> <|endoftext|> the sound of rain ", 300)],
        [("a <mask> b  <mask>c   ", 200)],
        [("\t", 3000), ("<mask>", 1), (" tail", 200)],
        [("".join(rng.choice(letters + "  ") for _ in range(3000)), 1)],
        [("supercalifragilisticexpialidocious", 4000)],
    ]


def write_long_text_references():
    """HF's ids for long_texts() from the committed CLIP and CLAP tokenizers: cut (to 77 / 78),
    and whole for the texts short enough to keep the file small."""
    clip = CLIPTokenizerFast(tokenizer_file=str(OUT / "clip-tokenizer" / "tokenizer.json"))
    clap = RobertaTokenizerFast(tokenizer_file=str(OUT / "clap-tokenizer" / "tokenizer.json"))
    cases = []
    for parts in long_texts():
        t = "".join(p * n for p, n in parts)
        case = {"parts": parts}
        for name, tok, limit in (("clip", clip, 77), ("clap", clap, CLAP_MAX_TOKENS)):
            case[name] = tok(t, truncation=True, max_length=limit)["input_ids"]
            if len(t) <= 5000:
                case[name + "_full"] = tok(t)["input_ids"]
        cases.append(case)
    (OUT / "reference" / "long_texts.json").write_text(json.dumps(cases, ensure_ascii=False) + "\n")
    print(f"long texts: {len(cases)}")


def write_raw_png(path: Path, width: int, height: int, bit_depth: int, color_type: int, rows: list):
    """A minimal PNG writer for layouts Pillow cannot save (16-bit RGB, 2-bit gray)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) +
                     chunk(b"IEND", b""))


def synthetic_rgb(w: int, h: int, seed: int) -> np.ndarray:
    """Smooth gradients, a few shapes and mild noise: detail for the resize, small once compressed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 6, 3)
        img[..., c] = 127 + 90 * np.sin(2 * np.pi * (fx * x / max(w, 1) + fy * y / max(h, 1)) + ph * 3)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.3) * max(w, h)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_images(out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    names = []

    def save(name, im, **kw):
        im.save(out / name, **kw)
        names.append(name)

    rgb = lambda w, h, s: Image.fromarray(synthetic_rgb(w, h, s))
    save("photo_420.jpg", rgb(640, 480, 1), quality=90)
    save("photo_444.jpg", rgb(500, 375, 2), quality=95, subsampling=0)
    save("progressive.jpg", rgb(300, 400, 3), quality=85, progressive=True)
    save("gray.jpg", rgb(320, 240, 4).convert("L"), quality=90)
    save("cmyk.jpg", rgb(256, 192, 5).convert("CMYK"), quality=90)
    save("large_4000x3000.jpg", rgb(4000, 3000, 6), quality=40)
    save("wide_1000x100.jpg", rgb(1000, 100, 7), quality=90)
    save("tiny_1x1.png", rgb(1, 1, 8))
    save("tall_1x2000.png", rgb(1, 2000, 9))
    save("flat_2000x1.png", rgb(2000, 1, 10))
    save("odd_7x5.png", rgb(7, 5, 11))
    rgba = rgb(300, 200, 12).convert("RGBA")
    a = np.array(rgba)
    a[..., 3] = np.linspace(0, 255, 300, dtype=np.uint8)[None, :]
    a[:50, :50, 3] = 0  # fully transparent corner: its colour must survive, not turn black
    save("rgba.png", Image.fromarray(a, "RGBA"))
    save("la.png", rgb(120, 90, 13).convert("LA"))
    pal = rgb(200, 150, 14).quantize(64)
    pal.info["transparency"] = 3
    save("palette_trns.png", pal, transparency=3)
    g16 = (synthetic_rgb(64, 48, 15)[..., 0].astype(np.uint16) * 4)  # up to 1020: Pillow clips at 255
    save("gray16.png", Image.fromarray(g16, "I;16"))
    rows16 = [synthetic_rgb(40, 30, 16)[y].astype(">u2").tobytes() for y in range(30)]
    rows16 = [(np.frombuffer(r, ">u2").astype(np.uint32) * 257 + 3).astype(">u2").tobytes() for r in rows16]
    write_raw_png(out / "rgb16.png", 40, 30, 16, 2, rows16)
    names.append("rgb16.png")
    g2 = synthetic_rgb(33, 20, 17)[..., 1] // 64
    rows2 = [np.packbits(np.unpackbits(g2[y].astype(np.uint8)[:, None], axis=1)[:, 6:].reshape(-1)).tobytes()
             for y in range(20)]
    write_raw_png(out / "gray2bit.png", 33, 20, 2, 0, rows2)
    names.append("gray2bit.png")
    frames = [rgb(120, 90, 20 + i).quantize(32) for i in range(3)]
    save("anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    save("still.webp", rgb(160, 120, 30), quality=80)
    wa = np.array(rgb(150, 100, 31).convert("RGBA"))
    wa[..., 3] = 128
    wa[:20, :20, 3] = 0
    save("alpha.webp", Image.fromarray(wa, "RGBA"), quality=80)
    save("lossless.webp", rgb(100, 80, 32), lossless=True)
    save("anim.webp", rgb(90, 60, 33), save_all=True, append_images=[rgb(90, 60, 34)], duration=100, lossless=True)
    save("rgb24.bmp", rgb(61, 47, 40))
    save("rgba32.bmp", rgb(40, 30, 41).convert("RGBA"))
    save("palette8.bmp", rgb(50, 40, 42).quantize(200))
    save("gray8.bmp", rgb(30, 20, 43).convert("L"))
    save("bilevel.bmp", rgb(37, 20, 44).convert("1"))
    return names


def to_uint8(pixel_values: np.ndarray, mean, std) -> np.ndarray:
    """Recovers the 8-bit image Pillow produced from HF's normalised pixel_values."""
    v = (pixel_values * np.array(std, np.float64)[:, None, None] + np.array(mean, np.float64)[:, None, None]) * 255
    r = np.round(v)
    assert np.abs(v - r).max() < 1e-3, "pixel_values are not an exact function of 8-bit values"
    return r.astype(np.uint8).transpose(1, 2, 0)


def make_clip(name: str, spec: dict, tokenizer_dir: Path, images_dir: Path, image_names: list, tokenizer) -> dict:
    torch.manual_seed(sum(map(ord, name)))
    config = CLIPConfig(text_config=spec["text"], vision_config=spec["vision"], projection_dim=spec["projection_dim"])
    model = CLIPModel._from_config(config, attn_implementation="eager").eval()
    # Widen the tiny init so every layer matters to the output; round to the storage dtype.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(4.0)
            p.copy_(p.to(spec["dtype"]).to(torch.float32))
    d = OUT / "models" / name
    d.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(d))
    save_file({k: v.to(spec["dtype"]).contiguous() for k, v in model.state_dict().items()},
              str(d / "model.safetensors"), metadata={"format": "pt"})
    (d / "preprocessor_config.json").write_text(json.dumps(spec["preprocessor"], indent=2) + "\n")
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        link = d / f
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..") / ".." / tokenizer_dir.name / f)

    # The reference is what HF computes after loading the saved checkpoint.
    model = CLIPModel.from_pretrained(str(d), attn_implementation="eager").eval()
    proc = CLIPImageProcessor(**spec["preprocessor"])
    ref = {"model": name, "texts": [], "images": []}
    with torch.no_grad():
        enc = tokenizer(EMBED_TEXTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
        t = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        t = torch.nn.functional.normalize(t, dim=-1)
        for i, text in enumerate(EMBED_TEXTS):
            ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
            ref["texts"].append({"text": text, "ids": ids, "embedding": t[i].tolist()})
        pvs = []
        for n in image_names:
            with Image.open(images_dir / n) as im:
                pvs.append(proc(images=im, return_tensors="pt", input_data_format="channels_last")["pixel_values"])
        v = model.get_image_features(pixel_values=torch.cat(pvs))
        v = torch.nn.functional.normalize(v, dim=-1)
        for i, n in enumerate(image_names):
            ref["images"].append({"file": n, "embedding": v[i].tolist()})
    (OUT / "reference" / f"{name}.json").write_text(json.dumps(ref) + "\n")
    return ref


def make_audio(out: Path) -> list:
    """Clips in every format libsndfile reads, at several rates and lengths."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)

    def t(seconds, rate):
        return np.arange(int(round(seconds * rate))) / rate

    def tone(seconds, rate, f=440.0):
        x = t(seconds, rate)
        return 0.5 * np.sin(2 * np.pi * f * x) + 0.2 * np.sin(2 * np.pi * 3.1 * f * x)

    def chirp(seconds, rate, f0=200.0, f1=8000.0):
        x = t(seconds, rate)
        return 0.6 * np.sin(2 * np.pi * (f0 * x + (f1 - f0) / (2 * seconds) * x * x))

    clips = [  # name, signal [frames] or [frames, channels], rate, soundfile format, subtype
        ("tone_48k_pcm16.wav", tone(1.0, 48000), 48000, "WAV", "PCM_16"),
        ("chirp_44k.flac", chirp(3.0, 44100), 44100, "FLAC", "PCM_16"),
        ("noise_16k.ogg", 0.3 * rng.standard_normal(32000), 16000, "OGG", "VORBIS"),
        ("silence_48k_float.wav", np.zeros(12000), 48000, "WAV", "FLOAT"),
        ("short_8k_u8.wav", tone(0.3, 8000, 330.0), 8000, "WAV", "PCM_U8"),
        ("exact_10s_16k.flac", tone(10.0, 16000, 220.0) * np.linspace(0.2, 1, 160000), 16000, "FLAC", "PCM_16"),
        ("long_23s_8k.flac", np.concatenate([chirp(8.0, 8000, 100, 3000), tone(7.0, 8000, 500),
                                             tone(8.0, 8000, 1500)]), 8000, "FLAC", "PCM_16"),
        ("stereo_44k_pcm24.wav", np.stack([tone(0.2, 44100, 300), chirp(0.2, 44100)], axis=1), 44100, "WAV", "PCM_24"),
        ("float64_22k.wav", chirp(0.3, 22050, 100, 5000), 22050, "WAV", "DOUBLE"),
        ("wavex_48k_pcm32.wav", tone(0.2, 48000, 1000), 48000, "WAVEX", "PCM_32"),
        ("opus_48k.ogg", chirp(2.0, 48000, 300, 3000), 48000, "OGG", "OPUS"),
        ("mp3_44k.mp3", tone(2.0, 44100, 660), 44100, "MP3", "MPEG_LAYER_III"),
    ]
    # Existing clips are kept: libsndfile stamps float WAVs with the time (PEAK chunk) and Ogg
    # streams get random serial numbers, so rewriting them would change bytes, not content.
    # Delete tests/fixtures/audio to make them anew.
    for name, x, rate, fmt, subtype in clips:
        if not (out / name).exists():
            soundfile.write(out / name, x, rate, format=fmt, subtype=subtype)
    return [c[0] for c in clips]


def load_at_48k(path: Path):
    """What a Python CLAP pipeline does: soundfile (float64), mean of channels, soxr HQ, librosa's length."""
    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if rate == 48000:
        return mono, mono, rate
    y = soxr.resample(mono, rate, 48000, quality="HQ")
    n = int(np.ceil(len(mono) * 48000 / rate))
    y = np.pad(y, (0, max(0, n - len(y))))[:n]  # librosa.util.fix_length
    return mono, y, rate


def slices(x: np.ndarray, n: int = 1024) -> np.ndarray:
    """Start, middle and end of a signal (all of it when shorter)."""
    if len(x) <= 3 * n:
        return x
    mid = len(x) // 2 - n // 2
    return np.concatenate([x[:n], x[mid:mid + n], x[-n:]])


def clap_windows(wave: np.ndarray, max_len: int = 480000, hop: int = 480000):
    """The deterministic long-audio modes the engine documents, for the reference."""
    if len(wave) <= max_len:
        return {"all": [wave]}
    last = len(wave) - max_len
    starts = list(range(0, last, hop)) + [last]
    return {"first": [wave[:max_len]], "center": [wave[last // 2: last // 2 + max_len]],
            "windows": [wave[s:s + max_len] for s in starts]}


class FixedFusionChunks:
    """HF's _random_mel_fusion draws its front/middle/back chunks with np.random.choice; the
    engine takes the first, middle and last candidate of each range instead (repeatable)."""

    def __enter__(self):
        self.original, self.calls = np.random.choice, 0

        def choose(candidates):
            pick = [candidates[0], candidates[len(candidates) // 2], candidates[-1]][self.calls % 3]
            self.calls += 1
            return pick
        np.random.choice = choose
        return self

    def __exit__(self, *exc):
        np.random.choice = self.original


def make_clap(name: str, spec: dict, audio_dir: Path, audio_names: list, tokenizer_dir: Path, tokenizer) -> None:
    torch.manual_seed(sum(map(ord, name)))
    fused = spec.get("fused", False)
    preprocessor = dict(CLAP_PREPROCESSOR, truncation="fusion") if fused else CLAP_PREPROCESSOR
    config = ClapConfig(text_config=dict(CLAP_TEXT, vocab_size=len(tokenizer)), audio_config=spec["audio"],
                        projection_dim=spec["projection_dim"])
    model = ClapModel(config).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "relative_position_bias_table" in n:
                p.copy_(torch.randn_like(p) * 0.5)  # HF initialises it to zeros; make it matter
            elif p.dim() >= 2:
                p.mul_(4.0)
        bn = model.audio_model.audio_encoder.batch_norm
        bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 5 - 30)
        bn.running_var.copy_(torch.rand_like(bn.running_var) * 200 + 50)
        stats = [bn.running_mean, bn.running_var]
        for module in model.audio_model.modules():  # the AFF block's BatchNorms too
            if isinstance(module, torch.nn.BatchNorm2d) and module is not bn:
                module.running_mean.copy_(torch.randn_like(module.running_mean) * 0.5)
                module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
                stats += [module.running_mean, module.running_var]
        for p in list(model.parameters()) + stats:
            p.copy_(p.to(spec["dtype"]).to(torch.float32))
    d = OUT / "models" / name
    d.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(d))
    state = {k: (v.to(spec["dtype"]) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})
    (d / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n")
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        link = d / f
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..") / ".." / tokenizer_dir.name / f)

    model = ClapModel.from_pretrained(str(d)).eval()
    fe = ClapFeatureExtractor(**preprocessor)

    def embed(waves):  # each window alone, as HF embeds a lone clip; vectors averaged
        vs = []
        for w in waves:
            with FixedFusionChunks():
                inputs = fe(w, sampling_rate=48000, return_tensors="pt")
            v = model.get_audio_features(input_features=inputs["input_features"], is_longer=inputs["is_longer"])
            vs.append(torch.nn.functional.normalize(v, dim=-1)[0])
        return torch.nn.functional.normalize(torch.stack(vs).sum(0), dim=-1).tolist()

    ref = {"model": name, "audio": [], "texts": []}
    with torch.no_grad():
        texts = EMBED_TEXTS + ["a <mask> barking", "rain <pad> on a roof", "  leading and trailing  "]
        enc = tokenizer(texts, padding=True, truncation=True, max_length=CLAP_MAX_TOKENS, return_tensors="pt")
        t = torch.nn.functional.normalize(
            model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]), dim=-1)
        for i, text in enumerate(texts):
            ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
            ref["texts"].append({"text": text, "ids": ids, "embedding": t[i].tolist()})
        for f in audio_names:
            _, wave, _ = load_at_48k(audio_dir / f)
            entry = {"file": f}
            for mode, waves in clap_windows(wave).items():
                entry[mode] = embed(waves)
            if fused and len(wave) > 480000:
                entry["fusion"] = embed([wave])
            ref["audio"].append(entry)
    (OUT / "reference" / f"{name}.json").write_text(json.dumps(ref) + "\n")


def make_training_inputs(out: Path, audio_names: list) -> None:
    """Small inputs for the README's train-projection / eval example over the fixture clips."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    subjects = ["a dog", "rain", "a car", "an orchestra", "a crowd", "the wind", "a train", "birds", "a baby", "thunder"]
    verbs = ["barking", "falling", "passing by", "playing", "cheering", "blowing", "arriving", "singing", "crying"]
    places = ["in the street", "on a tin roof", "at night", "in a park", "in a hall", "far away", "near the sea"]
    captions = sorted({f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(places)}" for _ in range(1000)})[:200]
    (out / "captions.txt").write_text("\n".join(captions) + "\n")
    with open(out / "pairs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["audio", "caption_1", "caption_2", "caption_3"])
        for name in audio_names:
            w.writerow([f"../audio/{name}"] + rng.sample(captions, 3))
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "category"])
        for name in audio_names:
            w.writerow([f"../audio/{name}", "tone" if "tone" in name or "chirp" in name else "other"])


# The media FFmpeg decodes, made by the ffmpeg CLI (Debian's) from its own test sources: small
# pictures and a few seconds each, single-threaded bit-exact encodes so a rerun gives the same
# bytes on the same ffmpeg. The tests take their references from the ffmpeg CLI at run time.
MEDIA = {
    # H.264 + AAC (stereo, 44.1 kHz), 12 fps with B-frames and a 1-s GOP
    "h264_aac.mp4": ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=12:duration=3.5",
                     "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=3.5",
                     "-f", "lavfi", "-i", "sine=frequency=550:sample_rate=44100:duration=3.5",
                     "-filter_complex", "[1:a][2:a]amerge=inputs=2[a]", "-map", "0:v", "-map", "[a]",
                     "-c:v", "libx264", "-preset", "medium", "-g", "12", "-bf", "2", "-pix_fmt", "yuv420p",
                     "-c:a", "aac", "-b:a", "48k"],
    # VP9 + Opus (mono, 48 kHz) in WebM
    "vp9_opus.webm": ["-f", "lavfi", "-i", "testsrc=size=80x60:rate=10:duration=3",
                      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
                      "-c:v", "libvpx-vp9", "-b:v", "100k", "-g", "10", "-pix_fmt", "yuv420p",
                      "-c:a", "libopus", "-b:a", "32k"],
    # no soundtrack
    "silent.mp4": ["-f", "lavfi", "-i", "smptebars=size=64x48:rate=8:duration=2.5",
                   "-c:v", "libx264", "-g", "8", "-pix_fmt", "yuv420p"],
    # a phone's portrait video: stored landscape, displayed rotated 90 degrees (the display
    # matrix is written by remuxing: ffmpeg 5.1 drops "rotate" when it encodes)
    "rotated.mp4": ["-f", "lavfi", "-i", "testsrc2=size=80x48:rate=10:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=16000:duration=2",
                    "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "24k"],
    # audio only
    "audio_only.m4a": ["-f", "lavfi", "-i", "sine=frequency=300:sample_rate=22050:duration=2.5",
                       "-c:a", "aac", "-b:a", "32k"],
    "opus_only.webm": ["-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:duration=1.5:seed=7",
                       "-c:a", "libopus", "-b:a", "24k"],
    "vorbis.mkv": ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=32000:duration=1.2",
                   "-c:a", "libvorbis", "-q:a", "2"],
    "adts.aac": ["-f", "lavfi", "-i", "sine=frequency=500:sample_rate=16000:duration=1",
                 "-c:a", "aac", "-b:a", "24k"],
}


def make_media(out: Path) -> None:
    import subprocess
    out.mkdir(parents=True, exist_ok=True)
    for name, args in MEDIA.items():
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1", *args,
               "-fflags", "+bitexact", "-flags", "+bitexact", "-threads", "1", str(out / name)]
        subprocess.run(cmd, check=True)
        if name == "rotated.mp4":
            plain = out / "rotated.plain.mp4"
            (out / name).rename(plain)
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(plain), "-c", "copy",
                            "-metadata:s:v:0", "rotate=90", "-fflags", "+bitexact", str(out / name)], check=True)
            plain.unlink()
        print(f"media: {name} ({(out / name).stat().st_size} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["long-texts", "media"], help="write only this part")
    args = ap.parse_args()
    if args.only == "long-texts":
        write_long_text_references()
        return
    if args.only == "media":
        make_media(OUT / "media")
        return
    make_media(OUT / "media")
    torch.set_num_threads(2)
    (OUT / "reference").mkdir(parents=True, exist_ok=True)
    tokenizer_dir = OUT / "clip-tokenizer"
    tokenizer = build_tokenizer(tokenizer_dir)

    strings = hard_strings()
    cases = []
    for s in strings:
        full = tokenizer(s, add_special_tokens=True)["input_ids"]
        cut = tokenizer(s, truncation=True, max_length=77)["input_ids"]
        cases.append({"text": s, "ids": cut, "ids_full": full})
    (OUT / "reference" / "clip_tokenizer.json").write_text(json.dumps(cases, ensure_ascii=False) + "\n")
    print(f"tokenizer: {len(cases)} strings")

    images_dir = OUT / "images"
    names = make_images(images_dir)
    # Pixel references with the real CLIP preprocessor: the 8-bit image after resize + crop
    # (PNG), and the full float tensor for two images.
    proc = CLIPImageProcessor(**CLIP_PREPROCESSOR)
    pix_dir = OUT / "pixels"
    pix_dir.mkdir(exist_ok=True)
    for n in names:
        with Image.open(images_dir / n) as im:
            pv = proc(images=im, return_tensors="np", input_data_format="channels_last")["pixel_values"][0]
        Image.fromarray(to_uint8(pv, CLIP_PREPROCESSOR["image_mean"], CLIP_PREPROCESSOR["image_std"])).save(
            pix_dir / (n + ".png"))
        if n in ("photo_420.jpg", "rgba.png"):
            pv.astype("<f4").tofile(pix_dir / (n + ".f32"))
    print(f"images: {len(names)}")

    for name, spec in CLIP_MODELS.items():
        make_clip(name, spec, tokenizer_dir, images_dir, names, tokenizer)
        print(f"model: {name}")

    # Audio: decoded and resampled signals (start/middle/end), mel features, embeddings.
    audio_dir = OUT / "audio"
    audio_names = make_audio(audio_dir)
    fe = ClapFeatureExtractor(**CLAP_PREPROCESSOR)
    signals_dir = OUT / "audio_reference"
    signals_dir.mkdir(exist_ok=True)
    index = []
    for f in audio_names:
        mono, wave, rate = load_at_48k(audio_dir / f)
        slices(mono).astype("<f8").tofile(signals_dir / (f + ".decoded.f64"))
        slices(wave).astype("<f8").tofile(signals_dir / (f + ".48k.f64"))
        entry = {"file": f, "rate": rate, "decoded_length": len(mono), "length_48k": len(wave)}
        if len(wave) <= 480000:
            mel = fe(wave, sampling_rate=48000, return_tensors="np")["input_features"][0, 0]
            every = 1 if f == "tone_48k_pcm16.wav" else 25  # all frames of one clip, every 25th of the rest
            mel[::every].astype("<f4").tofile(signals_dir / (f + ".mel.f32"))
            entry.update(mel_frames=mel.shape[0], mel_every=every)
        index.append(entry)
    (OUT / "reference" / "audio.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"audio: {len(audio_names)} clips")
    clap_tokenizer_dir = OUT / "clap-tokenizer"
    clap_tokenizer = build_clap_tokenizer(clap_tokenizer_dir, strings + EMBED_TEXTS * 20)
    cases = []
    for s in strings + ["a <mask> b", "a<mask>b", "<s>x</s>", "<pad>", "  x", "x   ", "a \n b", "it's IT'S"]:
        full = clap_tokenizer(s)["input_ids"]
        cut = clap_tokenizer(s, truncation=True, max_length=CLAP_MAX_TOKENS)["input_ids"]
        cases.append({"text": s, "ids": cut, "ids_full": full})
    (OUT / "reference" / "clap_tokenizer.json").write_text(json.dumps(cases, ensure_ascii=False) + "\n")
    print(f"clap tokenizer: {len(cases)} strings")
    for name, spec in CLAP_MODELS.items():
        make_clap(name, spec, audio_dir, audio_names, clap_tokenizer_dir, clap_tokenizer)
        print(f"model: {name}")
    make_training_inputs(OUT / "train", audio_names)
    write_long_text_references()


if __name__ == "__main__":
    main()
