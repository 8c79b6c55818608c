#!/usr/bin/env python3
"""The official OpenAI Python client, unchanged, against `clipclap serve`'s /v1 endpoints.

Starts the real binary on a free loopback port with the tiny bundle and an API key, embeds
text, images and audio through client.embeddings.create (the client asks for base64 by
default and decodes it), and checks every vector against `clipclap embed` (cosine >= 0.99999),
then the models list and the client's exception classes for 400, 401, 404 and 422.

    tests/python/test_openai_client.py [--binary build/release/clipclap]
"""
import argparse
import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openai

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks, serving  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"


def uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    args = ap.parse_args()
    check = Checks()

    def engine(*flags):
        out = subprocess.run([str(args.binary), "embed", "--model", str(BUNDLE), *map(str, flags)],
                             check=True, capture_output=True, text=True).stdout
        return np.array([json.loads(l)["embedding"] for l in out.splitlines()])

    with serving(check, args.binary, "--model", BUNDLE, "--model", FIXTURES / "models" / "clip-tiny-a", "--api-key", "test-key") as port:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test-key", max_retries=0)
        cases = [
            ("text", ["a photo of a cat", "rain on a tin roof"], engine("--text", "a photo of a cat", "--text", "rain on a tin roof")),
            ("image", [{"type": "image_url", "image_url": {"url": uri(FIXTURES / "images" / "photo_420.jpg", "image/jpeg")}}],
             engine("--image", FIXTURES / "images" / "photo_420.jpg")),
            ("audio", [{"type": "input_audio", "input_audio": {"data": base64.b64encode((FIXTURES / "audio" / "chirp_44k.flac").read_bytes()).decode(),
                                                                "format": "flac"}}],
             engine("--audio", FIXTURES / "audio" / "chirp_44k.flac")),
        ]
        for name, payload, want in cases:
            for fmt in (openai.NOT_GIVEN, "float"):
                r = client.embeddings.create(model="clipclap-tiny", input=payload, encoding_format=fmt)
                got = np.array([d.embedding for d in r.data])
                cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
                label = "base64 (client default)" if fmt is openai.NOT_GIVEN else "float"
                check(got.shape == want.shape and cos.min() >= 0.99999,
                      f"{name:5s} {label:24s} {len(got)} vectors, min cosine vs embed {cos.min():.8f}")
        r = client.embeddings.create(model="clipclap-tiny", input="usage counts tokens")
        check(r.usage.prompt_tokens > 0 and r.model == "clipclap-tiny", f"usage {r.usage.prompt_tokens} tokens, model {r.model}")
        ids = [m.id for m in client.models.list()]
        check(ids == ["clipclap-tiny", "clip-tiny-a"], f"models.list() {ids}")
        for exc, call in (
            (openai.BadRequestError, lambda: client.embeddings.create(model="clipclap-tiny", input=[])),
            (openai.BadRequestError, lambda: client.embeddings.create(model="clipclap-tiny", input="x", dimensions=512)),
            (openai.NotFoundError, lambda: client.embeddings.create(model="gpt-nothing", input="x")),
            (openai.AuthenticationError, lambda: openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong",
                                                               max_retries=0).embeddings.create(model="clipclap-tiny", input="x")),
            (openai.BadRequestError, lambda: client.embeddings.create(model="clipclap-tiny", input=[{"type": "video_url"}])),
            (openai.UnprocessableEntityError, lambda: client.embeddings.create(model="clip-tiny-a", input=cases[2][1])),
        ):
            try:
                call()
                check(False, f"{exc.__name__} expected")
            except exc as e:
                check(isinstance(e.body, dict) and "message" in e.body, f"{exc.__name__}: {e.body.get('message') if isinstance(e.body, dict) else e}")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
