#!/usr/bin/env python3
"""LangChain's OpenAIEmbeddings, as it comes, against `clipclap serve`.

- With check_embedding_ctx_length=False it sends text: 1,500 documents go as requests of up to
  1,000 inputs (its chunk_size), and every vector equals `clipclap embed`'s (max |diff| <= 1e-6);
  a base URL without /v1 works too (POST /embeddings).
- By default it sends tiktoken token ids, which mean nothing to CLIP: the answer is a 400 whose
  message names the setting that sends text. (tiktoken would download its vocabulary, which
  these machines cannot: a byte-level encoding stands in for it, so the request is the same in
  shape, lists of integers.)

    tests/python/test_langchain.py [--binary build/release/clipclap]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openai
import tiktoken
from langchain_openai import OpenAIEmbeddings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks, serving  # noqa: E402
BUNDLE = ROOT / "tests" / "fixtures" / "models" / "clipclap-tiny"


def byte_level_encoding(*_args, **_kwargs):
    return tiktoken.Encoding("bytes", pat_str=r"\S+|\s+", mergeable_ranks={bytes([i]): i for i in range(256)}, special_tokens={})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    args = ap.parse_args()
    check = Checks()
    docs = [f"document {i}: {'rain on a tin roof' if i % 2 else 'a photo of a cat'}" for i in range(1500)]
    out = subprocess.run([str(args.binary), "embed", "--model", str(BUNDLE), "--batch", "64", *[f for d in docs for f in ("--text", d)]],
                         check=True, capture_output=True, text=True).stdout
    want = np.array([json.loads(line)["embedding"] for line in out.splitlines()])

    with serving(check, args.binary, "--model", BUNDLE) as port:
        for base in (f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}"):
            emb = OpenAIEmbeddings(model="clipclap-tiny", base_url=base, api_key="unused", check_embedding_ctx_length=False, max_retries=0)
            got = np.array(emb.embed_documents(docs))
            diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
            check(diff <= 1e-6, f"embed_documents, {len(docs)} texts in requests of {emb.chunk_size}, base {base}: max |diff| {diff:.2e}")
        q = np.array(emb.embed_query(docs[7]))
        check(float(np.abs(q - want[7]).max()) <= 1e-6, "embed_query equals embed's vector")

        tiktoken.encoding_for_model = tiktoken.get_encoding = byte_level_encoding
        emb = OpenAIEmbeddings(model="clipclap-tiny", base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        try:
            emb.embed_documents(docs[:3])
            check(False, "token-id input must be refused")
        except openai.BadRequestError as e:
            message = e.body.get("message", "") if isinstance(e.body, dict) else str(e)
            check("check_embedding_ctx_length=False" in message, f"the default (token ids) gets a 400 naming the setting: {message}")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
