#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the fixtures: small
files of every shape each surface takes, so that coverage-guided fuzzing starts from inputs that
reach deep. Run with the venv's Python (Pillow, soundfile, numpy, safetensors):

    scripts/make_fuzz_corpora.py

Deterministic; every seed is a few KB, so the corpora stay small in git.
"""
import base64
import io
import json
import random
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image
from safetensors.numpy import save as save_safetensors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))
from media import GIF_ENDS_AFTER_DESCRIPTOR, float_wav, ogg_page, vorbis_id_header, with_ogg_checksum  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "fuzz" / "corpus"


def seeds(target: str, files: dict):
    d = OUT / target
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for name, data in files.items():
        (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def picture(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), rng.integers(0, 255, (h, w))], -1).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def tone(rate: int, channels: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], -1)


def sound(fmt: str, subtype: str, rate: int, channels: int = 1, seconds: float = 0.05) -> bytes:
    b = io.BytesIO()
    soundfile.write(b, tone(rate, channels, seconds), rate, format=fmt, subtype=subtype)
    data = b.getvalue()
    return fixed_ogg_serial(data) if fmt == "OGG" else data


def fixed_ogg_serial(data: bytes) -> bytes:
    """libsndfile picks a random stream serial number: set it to 1 on every page (and the checksums)."""
    out, at = b"", 0
    while at + 27 <= len(data) and data[at:at + 4] == b"OggS":
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27:at + 27 + segments])
        out += with_ogg_checksum(data[at:at + 14] + struct.pack("<I", 1) + data[at + 18:at + size])
        at += size
    return out + data[at:]


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def ffmpeg_media(args: list, fmt: str, remux: list = None) -> bytes:
    """A file the ffmpeg CLI makes (Debian's), single-threaded and bit-exact."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1", *args, "-fflags", "+bitexact",
                        "-flags", "+bitexact", "-threads", "1", "-f", fmt, str(out)], check=True)
        if remux:
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(out), "-c", "copy", *remux,
                            "-fflags", "+bitexact", "-f", fmt, str(out) + ".2"], check=True)
            out = Path(str(out) + ".2")
        return out.read_bytes()


def main():
    png = encoded(picture(3, 2), "PNG")
    wav = sound("WAV", "PCM_16", 8000, seconds=0.01)

    # Images, per decoder.
    seeds("fuzz_jpeg", {
        "gray.jpg": encoded(picture(16, 8, "L"), "JPEG", quality=80),
        "420.jpg": encoded(picture(24, 16), "JPEG", quality=70, subsampling=2),
        "444.jpg": encoded(picture(17, 9), "JPEG", quality=90, subsampling=0),
        "progressive.jpg": encoded(picture(20, 12), "JPEG", progressive=True),
        "cmyk.jpg": encoded(picture(8, 8, "CMYK"), "JPEG"),
        "restart.jpg": encoded(picture(32, 16), "JPEG", restart_marker_blocks=1),
    })
    seeds("fuzz_png", {
        "rgb.png": png,
        "rgba.png": encoded(picture(4, 3, "RGBA"), "PNG"),
        "la.png": encoded(picture(5, 2, "LA"), "PNG"),
        "palette.png": encoded(picture(6, 4, "P"), "PNG", transparency=0),
        "bilevel.png": encoded(picture(9, 3, "1"), "PNG"),
        "gray16.png": (FIXTURES / "images" / "gray2bit.png").read_bytes(),
        "odd.png": (FIXTURES / "images" / "odd_7x5.png").read_bytes(),
        "tiny.png": (FIXTURES / "images" / "tiny_1x1.png").read_bytes(),
    })
    seeds("fuzz_gif", {
        "still.gif": encoded(picture(6, 5, "P"), "GIF"),
        "interlaced.gif": encoded(picture(12, 9, "P"), "GIF", interlace=True),
        "transparent.gif": encoded(picture(4, 4, "P"), "GIF", transparency=2),
        "anim.gif": encoded(picture(5, 5, "P"), "GIF", save_all=True, append_images=[picture(5, 5, "P", 1)], duration=10),
        "finding_ends_after_descriptor.gif": GIF_ENDS_AFTER_DESCRIPTOR,
    })
    seeds("fuzz_webp", {
        "lossy.webp": encoded(picture(8, 6), "WEBP", quality=50),
        "lossless.webp": encoded(picture(7, 5), "WEBP", lossless=True),
        "alpha.webp": encoded(picture(6, 6, "RGBA"), "WEBP", quality=60),
        "anim.webp": encoded(picture(5, 4), "WEBP", save_all=True, append_images=[picture(5, 4, "RGB", 1)], duration=10),
    })
    seeds("fuzz_bmp", {
        "rgb24.bmp": encoded(picture(5, 3), "BMP"),
        "palette8.bmp": encoded(picture(6, 4, "P"), "BMP"),
        "gray.bmp": encoded(picture(3, 3, "L"), "BMP"),
        "bilevel.bmp": (FIXTURES / "images" / "bilevel.bmp").read_bytes(),
        "rgba32.bmp": encoded(picture(4, 2, "RGBA"), "BMP"),
    })

    # Audio: every container and sample format libsndfile reads, a few milliseconds each, and
    # Ogg pages whose Vorbis headers fail to open.
    seeds("fuzz_audio", {
        "u8.wav": sound("WAV", "PCM_U8", 8000, seconds=0.02),
        "pcm16.wav": wav,
        "pcm24_stereo.wav": sound("WAV", "PCM_24", 11025, 2, 0.02),
        "float.wav": float_wav(tone(16000, 1, 0.02)[:, 0].astype(np.float32), 16000),
        "double.wav": float_wav(tone(22050, 1, 0.01)[:, 0].astype(np.float64), 22050),
        "finding_huge_samples.wav": float_wav(np.full(4, 1e300), 22050),
        "extensible.wav": sound("WAVEX", "PCM_32", 8000, 3, 0.01),
        "tone.flac": sound("FLAC", "PCM_16", 16000, seconds=0.05),
        "vorbis.ogg": sound("OGG", "VORBIS", 16000, seconds=0.05),
        "opus.ogg": sound("OGG", "OPUS", 48000, seconds=0.05),
        "tone.mp3": sound("MP3", "MPEG_LAYER_III", 16000, seconds=0.1),
        "bad_version.ogg": ogg_page(vorbis_id_header(version=1), True, 0),
        "id_only.ogg": ogg_page(vorbis_id_header(), True, 0),
        # the containers that go to FFmpeg
        "adts.aac": ffmpeg_media(["-f", "lavfi", "-i", "sine=sample_rate=8000:duration=0.1", "-c:a", "aac", "-b:a", "16k"], "adts"),
        "aac.m4a": ffmpeg_media(["-f", "lavfi", "-i", "sine=sample_rate=8000:duration=0.1", "-c:a", "aac", "-b:a", "16k"], "ipod"),
        "opus.webm": ffmpeg_media(["-f", "lavfi", "-i", "sine=sample_rate=48000:duration=0.1", "-c:a", "libopus", "-b:a", "16k"], "webm"),
        "vorbis.mkv": ffmpeg_media(["-f", "lavfi", "-i", "sine=sample_rate=8000:duration=0.1", "-c:a", "libvorbis"], "matroska"),
    })

    # Videos: each codec and container FFmpeg is allowed, a few 16x16 frames, with and without
    # sound, rotated, with B-frames and keyframes to seek to.
    tiny = ["-f", "lavfi", "-i", "testsrc2=size=16x16:rate=8:duration=0.75"]
    sine = ["-f", "lavfi", "-i", "sine=sample_rate=8000:duration=0.75"]
    seeds("fuzz_video", {
        "h264_aac.mp4": ffmpeg_media(tiny + sine + ["-c:v", "libx264", "-g", "3", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k"], "mp4"),
        "h264.mov": ffmpeg_media(tiny + ["-c:v", "libx264", "-pix_fmt", "yuv444p"], "mov"),
        "vp9_opus.webm": ffmpeg_media(tiny + sine + ["-c:v", "libvpx-vp9", "-g", "4", "-c:a", "libopus", "-b:a", "16k"], "webm"),
        "vp8.mkv": ffmpeg_media(tiny + ["-c:v", "libvpx", "-g", "4"], "matroska"),
        "rotated.mp4": ffmpeg_media(tiny + ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "mp4", remux=["-metadata:s:v:0", "rotate=270"]),
        "mpeg4.mp4": ffmpeg_media(tiny + ["-c:v", "mpeg4"], "mp4"),
        "aac.m4a": ffmpeg_media(sine + ["-c:a", "aac", "-b:a", "16k"], "ipod"),
    })

    # Request bodies: every content part, both APIs' fields, and the wrong shapes.
    requests = {p.name: p.read_bytes() for p in sorted((FIXTURES / "requests").glob("*.json"))}
    parts = [
        "rain", {"type": "text", "text": "a dog"},
        {"type": "image_url", "image_url": {"url": data_uri("image/png", png)}},
        {"type": "image_url", "image_url": data_uri("image/png", png)},
        {"type": "audio_url", "audio_url": {"url": data_uri("audio/wav", wav)}},
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}},
        {"type": "media", "data": base64.b64encode(png).decode(), "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "video_url", "video_url": {"url": data_uri("video/mp4", (FIXTURES / "media" / "silent.mp4").read_bytes())}},
        {"type": "input_video", "input_video": {"data": base64.b64encode((FIXTURES / "media" / "silent.mp4").read_bytes()).decode(), "format": "mp4"}},
    ]
    requests.update({
        "parts.json": json.dumps({"model": "m", "input": parts}),
        "openai.json": json.dumps({"model": "m", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 16, "user": {"x": [1]},
                                   "video_segments": True}),
        "single_part.json": json.dumps({"input": parts[2], "truncate": False}),
        "token_ids.json": json.dumps({"input": [[1, 2, 3], 4]}),
        "duplicate.json": '{"input": "a", "input": ["b", "c"], "model": "m", "model": "n"}',
        "nested.json": json.dumps({"input": "a", "extra": [[[[{"a": [1, 2, {"b": None}]}]]]]}),
        "escapes.json": '{"input": ["\\u0000\\ud83c\\udf89", "\\n\\t"], "model": "\\u00e9"}',
        # Weaviate's multi2vec-bind lists (bare base64), and antfly's audio as image_url.
        "weaviate.json": json.dumps({"texts": ["a", "b"], "images": [base64.b64encode(png).decode()], "audio": [base64.b64encode(wav).decode()],
                                     "video": []}),
        "weaviate_wrong.json": json.dumps({"texts": "a", "images": [1, None], "audio": [data_uri("audio/wav", wav)], "thermal": ["x"]}),
        "antfly.json": json.dumps({"model": "org/m", "input": ["test", {"type": "image_url", "image_url": {"url": data_uri("audio/wav", wav)}}]}),
    })
    seeds("fuzz_request", requests)

    # HTTP request heads.
    body = json.dumps({"input": "rain"})
    seeds("fuzz_http", {
        "get.txt": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "post.txt": f"POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}",
        "chunked.txt": "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "continue.txt": "POST /api/embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "gzip.txt": "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
        "te_gzip.txt": "POST /api/embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "fold.txt": "GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\nAuthorization: Bearer k\r\n\r\n",
        "http10.txt": "GET /v1/models?x=1#f HTTP/1.0\r\n\r\n",
        "many.txt": "GET / HTTP/1.1\r\n" + "".join(f"X-{i}: {i}\r\n" for i in range(40)) + "\r\n",
        "range.txt": "POST /api/embed HTTP/1.1\r\nRange: bytes=0-,0-,0-\r\nContent-Length: 0\r\n\r\n",
    })

    # safetensors files: dtypes, shapes, metadata.
    rng = np.random.default_rng(3)
    seeds("fuzz_safetensors", {
        "f32.safetensors": save_safetensors({"a.weight": rng.standard_normal((3, 4)).astype(np.float32), "a.bias": np.zeros(3, np.float32)}),
        "f16.safetensors": save_safetensors({"x": rng.standard_normal((2, 2, 2)).astype(np.float16)}, metadata={"format": "pt"}),
        "i64.safetensors": save_safetensors({"ids": np.arange(5, dtype=np.int64), "s": np.array(1.5, np.float32)}),
        "empty.safetensors": save_safetensors({"e": np.zeros((0, 3), np.float32)}),
    })

    # Configs of every kind the loaders read, and small tokenizers of both structures.
    configs = {}
    for m in sorted((FIXTURES / "models").iterdir()):
        for f in ("config.json", "preprocessor_config.json", "clip_config.json"):
            if (m / f).exists():
                configs[f"{m.name}_{f}"] = (m / f).read_bytes()
    for name in ("clip-tokenizer", "clap-tokenizer"):
        t = json.loads((FIXTURES / name / "tokenizer.json").read_text())
        keep = list(t["model"]["vocab"].items())[:300]
        t["model"]["vocab"] = dict(keep)
        t["model"]["merges"] = t["model"]["merges"][:40]
        configs[f"{name}.json"] = json.dumps(t, ensure_ascii=False)
    # fuzz_config's findings: 48000 s at 48 kHz overflowed the window's sample count; 7e39 was
    # converted to an int.
    configs["finding_max_length_s.json"] = json.dumps({"feature_extractor_type": "ClapFeatureExtractor", "max_length_s": 48000})
    configs["finding_shortest_edge.json"] = '{"size": {"shortest_edge": 6999999999999999999999999999999999999994}}'

    seeds("fuzz_config", configs)

    # Texts for both tokenizers: the hard fixture strings and their long relatives.
    cases = json.loads((FIXTURES / "reference" / "clip_tokenizer.json").read_text())
    rnd = random.Random(5)
    texts = {f"t{i:03d}.txt": c["text"] for i, c in enumerate(rnd.sample(cases, 80))}
    texts.update({"long_words.txt": "supercalifragilistic" * 50 + " word " * 20, "spaces.txt": " \t\n\u3000" * 50 + "a",
                  "specials.txt": "<|startoftext|>a <mask> b<|endoftext|>  <mask>c"})
    seeds("fuzz_clip_tokenizer", texts)
    seeds("fuzz_roberta_tokenizer", texts)

    # Manifests for embed --manifest, each tried as JSONL and as CSV.
    seeds("fuzz_manifest", {
        "jsonl.txt": '{"path": "a.png"}\n{"path": "b/c.flac", "modality": "audio"}\n\n{"path": "/abs/d.jpg", "modality": ""}\n',
        "csv.txt": 'path,modality\na.png,image\n"b, c.wav",audio\nd.jpg\n',
        "bad.txt": '{"path": 3}\n{"path": "x", "modality": "video"}\npath\n""\n',
    })

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fuzz corpora: {sum(1 for p in OUT.rglob('*') if p.is_file())} seeds, {total / 1024:.0f} KB")


if __name__ == "__main__":
    main()
