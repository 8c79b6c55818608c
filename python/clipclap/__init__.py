"""clipclap: text, images and audio in one embedding space, on clipclap's C++ engine.

    import clipclap
    model = clipclap.Model("path/to/clipclap-bundle")     # or a hub name, e.g. "org/name"
    model.embed_text(["the sound of rain"])               # float32 [1, dim], rows L2-normalised
    model.embed_image(["photo.jpg", pil_image, rgb_array])
    model.embed_audio(["rain.flac", (waveform, 48000)])

Inference releases the GIL. Errors raise ValueError (bad input), FileNotFoundError (missing
file or model) or RuntimeError (the engine itself), with the engine's message.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Sequence

import numpy as np

from . import _clipclap

__all__ = ["Model", "pull", "assemble", "train_projection", "evaluate"]


class Model:
    """A loaded model: a clipclap bundle (text, images, audio), a CLIP checkpoint (text, images)
    or a CLAP checkpoint (audio, and text in CLAP's own space).

    path_or_repo: a model directory, or a Hugging Face repository "org/name[@revision]", taken
        from the Hugging Face cache and pulled into it if absent.
    threads: inference threads (None: all cores). The engine has one thread pool per process.
    long_audio: audio longer than the model's window: "windows" (the mean of windows every
        window_hop seconds), "first", "center" or "fusion" (fused checkpoints).
    precision: "fp32" (exact to transformers), "bf16" or "int8".
    batch_size: inputs of one modality per forward pass.
    """

    def __init__(self, path_or_repo: str | os.PathLike, threads: int | None = None, long_audio: str = "windows",
                 window_hop: float = 10.0, precision: str = "fp32", batch_size: int = 8):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._native = _clipclap._Model(os.fspath(path_or_repo), threads or 0, long_audio, float(window_hop),
                                        precision, int(batch_size))

    @property
    def kind(self) -> str:
        """"clipclap", "clip" or "clap"."""
        return self._native.kind

    @property
    def capabilities(self) -> tuple[str, ...]:
        """What it embeds: a tuple of "text", "image", "audio"."""
        return self._native.capabilities

    @property
    def dim(self) -> int:
        """The length of its vectors."""
        return self._native.dim

    @property
    def directory(self) -> str:
        """The model directory it was loaded from."""
        return self._native.directory

    def __repr__(self) -> str:
        return f"clipclap.Model({self.directory!r}, kind={self.kind!r}, dim={self.dim})"

    def embed_text(self, texts: Sequence[str] | str) -> np.ndarray:
        """Embeds texts: float32 [len(texts), dim], one L2-normalised row per text, in order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}]: expected str, got {type(t).__name__}")
        return self._native.embed_text(texts, [f"texts[{i}]" for i in range(len(texts))])

    def embed_image(self, items: Sequence[Any] | Any) -> np.ndarray:
        """Embeds images: float32 [len(items), dim], in order. An item is a path (str or
        os.PathLike), the bytes of an encoded file (JPEG, PNG, GIF, WebP, BMP), a PIL image
        (converted to RGB as PIL does), or an HxWx3 uint8 RGB array."""
        items = _as_list(items)
        encoded, arrays = {}, {}
        for i, item in enumerate(items):
            label = f"images[{i}]"
            if isinstance(item, np.ndarray):
                arr = item
                if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
                    raise ValueError(f"{label}: an array must be height x width x 3 uint8 (RGB), got {arr.shape} {arr.dtype}")
                arrays[i] = np.ascontiguousarray(arr)
            elif _is_pil(item):
                arrays[i] = np.ascontiguousarray(np.asarray(item.convert("RGB"), dtype=np.uint8))
            else:
                encoded[i] = _encoded(item, label)
        return self._gather(len(items), [
            (encoded, lambda idx: self._native.embed_encoded("image", [encoded[i][0] for i in idx], [encoded[i][1] for i in idx])),
            (arrays, lambda idx: self._native.embed_rgb([arrays[i] for i in idx], [f"images[{i}]" for i in idx])),
        ])

    def embed_audio(self, items: Sequence[Any] | Any) -> np.ndarray:
        """Embeds audio: float32 [len(items), dim], in order. An item is a path, the bytes of an
        encoded file (WAV, FLAC, OGG Vorbis/Opus, MP3, M4A/AAC, MP4, WebM, Matroska: a video's
        soundtrack), or (samples, sample_rate): samples a 1-D array, or 2-D (frames x channels,
        as soundfile gives) averaged to mono."""
        items = _as_list(items, tuple_is_item=True)
        encoded, waves = {}, {}
        for i, item in enumerate(items):
            label = f"audio[{i}]"
            if isinstance(item, tuple):
                if len(item) != 2:
                    raise ValueError(f"{label}: expected (samples, sample_rate)")
                samples, rate = np.asarray(item[0], dtype=np.float64), int(item[1])
                if samples.ndim == 2:
                    samples = samples.mean(axis=1)
                elif samples.ndim != 1:
                    raise ValueError(f"{label}: samples must be 1-D, or 2-D frames x channels; got shape {samples.shape}")
                waves[i] = (np.ascontiguousarray(samples), rate)
            else:
                encoded[i] = _encoded(item, label)
        return self._gather(len(items), [
            (encoded, lambda idx: self._native.embed_encoded("audio", [encoded[i][0] for i in idx], [encoded[i][1] for i in idx])),
            (waves, lambda idx: self._native.embed_waveforms([waves[i][0] for i in idx], [waves[i][1] for i in idx],
                                                             [f"audio[{i}]" for i in idx])),
        ])

    def _gather(self, n: int, groups) -> np.ndarray:
        out = np.empty((n, self.dim), dtype=np.float32)
        for members, embed in groups:
            if members:
                idx = sorted(members)
                out[idx] = embed(idx)
        return out


def _as_list(items, tuple_is_item=False) -> list:
    if isinstance(items, (str, bytes, bytearray, memoryview, os.PathLike, np.ndarray)) or _is_pil(items) or \
            (tuple_is_item and isinstance(items, tuple)):
        return [items]
    return list(items)


def _is_pil(item) -> bool:
    return type(item).__module__.startswith("PIL.") and hasattr(item, "convert")


def _encoded(item, label: str) -> tuple[bytes, str]:
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item), label
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        with open(path, "rb") as f:  # FileNotFoundError names the path
            return f.read(), f"{label} ({path})"
    raise TypeError(f"{label}: expected a path, bytes, a PIL image or an array, got {type(item).__name__}")


# The pipelines: keyword arguments are the command's flags (dashes as underscores), so their
# defaults, checks and help come from the same table as the CLI's --help.
def _argv(command: str, kwargs: dict) -> list[str]:
    flags = {name.replace("-", "_"): (name, value_name, repeatable) for name, value_name, _, _, repeatable in _clipclap._flags(command)}
    argv = []
    for key, value in kwargs.items():
        if key not in flags:
            raise TypeError(f"{command}() got an unexpected keyword argument '{key}'")
        name, value_name, repeatable = flags[key]
        if not value_name:  # a switch
            if value:
                argv.append(f"--{name}")
            continue
        values = value if repeatable and isinstance(value, (list, tuple)) else [value]
        for v in values:
            argv += [f"--{name}", os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
    return argv


def _document(function, command: str):
    lines = []
    for name, value_name, help_text, default, repeatable in _clipclap._flags(command):
        line = f"    {name.replace('-', '_')}: {help_text}"
        if repeatable:
            line += " (a list)"
        if default:
            line += f" [default: {default}]"
        lines.append(line)
    function.__doc__ = (function.__doc__ or "") + "\n\nKeyword arguments:\n" + "\n".join(lines) + "\n"
    return function


def pull(repo: str, all_files: bool = False, include: Iterable[str] = ()) -> str:
    """Downloads a model from the Hugging Face hub ("org/name[@revision]") into the Hugging
    Face cache, checking sizes and LFS hashes, and returns its snapshot directory."""
    return _clipclap._pull(repo, bool(all_files), list(include))


def train_projection(**kwargs) -> dict:
    """Trains the CLAP -> CLIP projection (as `clipclap train-projection`) and writes it to
    `out`. Returns a summary: mode, chosen start, held-out cosine and loss, pair counts."""
    return json.loads(_clipclap._train_projection(_argv("train_projection", kwargs)))


def evaluate(**kwargs) -> dict:
    """Retrieval and zero-shot metrics (as `clipclap eval --json`), returned as a dict."""
    return json.loads(_clipclap._eval(_argv("eval", kwargs)))


def assemble(**kwargs) -> str:
    """Writes a clipclap bundle (as `clipclap assemble`) and returns its directory."""
    return _clipclap._assemble(_argv("assemble", kwargs))


_document(train_projection, "train_projection")
_document(evaluate, "eval")
_document(assemble, "assemble")
eval = evaluate  # the CLI's name
