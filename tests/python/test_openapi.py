#!/usr/bin/env python3
"""Real answers of `clipclap serve` against its own OpenAPI document (GET /openapi.json).

Starts the server on the demo bundle with an API key, sends each route a good request and the
errors it documents (bad JSON, a wrong model, a missing key, an unsupported medium, too many
items), and validates every JSON body against the schema the document gives for that route and
status (jsonschema, Draft 2020-12, the dialect of OpenAPI 3.1). An answer whose status the
document does not list fails too. The C++ test OpenApi.* holds the document's routes to the
server's own table.

    tests/python/test_openapi.py [--binary build/release/clipclap]
"""
import argparse
import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks, serving  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"
KEY = "test-key"


def call(port, method, path, body=None, key=KEY, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def b64(rel):
    return base64.b64encode((FIXTURES / rel).read_bytes()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    args = ap.parse_args()
    check = Checks()
    with serving(check, args.binary, "--model", BUNDLE, "--api-key", KEY, "--max-items", "4") as port:
        status, _, body = call(port, "GET", "/openapi.json", key=None)
        doc = json.loads(body)
        check(status == 200, "GET /openapi.json without a key")

        def follow(node):
            while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/responses/"):
                node = doc["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
            return node

        def validate(method, path, status, content_type, body, what):
            op = doc["paths"].get(path, {}).get(method.lower())
            response = follow((op or {}).get("responses", {}).get(str(status)))
            if response is None:
                check(False, f"{what}: {method} {path} answered {status}, which the document does not list")
                return
            media = "application/json" if "json" in content_type else content_type.split(";")[0]
            schema = response.get("content", {}).get(media, {}).get("schema")
            if schema is None:
                check(False, f"{what}: {method} {path} {status} answered {media}, not in the document")
                return
            if media != "application/json":
                check(True, f"{what}: {method} {path} {status} {media}")
                return
            try:
                jsonschema.validate(json.loads(body), {**schema, "components": doc["components"]},
                                    cls=jsonschema.Draft202012Validator)
                check(True, f"{what}: {method} {path} {status} matches its schema")
            except jsonschema.ValidationError as e:
                check(False, f"{what}: {method} {path} {status}: {e.message[:200]}")

        image, clip = b64("images/photo_420.jpg"), b64("audio/chirp_44k.flac")
        parts = ["a cat", {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + image}},
                 {"type": "input_audio", "input_audio": {"data": clip, "format": "flac"}}]
        requests = [
            ("good", "POST", "/api/embed", {"model": "clipclap-tiny", "input": parts}, KEY, None),
            ("good", "POST", "/v1/embeddings", {"model": "clipclap-tiny", "input": parts}, KEY, None),
            ("base64", "POST", "/v1/embeddings", {"model": "clipclap-tiny", "input": "a", "encoding_format": "base64"}, KEY, None),
            ("good", "POST", "/embeddings", {"model": "clipclap-tiny", "input": ["a", "b"]}, KEY, None),
            ("good", "POST", "/ai/v1/embed", {"model": "antflydb/clipclap-tiny", "input": ["test"]}, KEY, None),
            ("good", "POST", "/vectorize", {"texts": ["a"], "images": [image], "audio": [clip]}, KEY, None),
            ("good", "GET", "/meta", None, KEY, None),
            ("good", "GET", "/.well-known/live", None, None, None),
            ("good", "GET", "/.well-known/ready", None, None, None),
            ("good", "GET", "/v1/models", None, KEY, None),
            ("good", "GET", "/api/models", None, KEY, None),
            ("good", "GET", "/healthz", None, None, None),
            ("good", "GET", "/readyz", None, None, None),
            ("good", "GET", "/metrics", None, None, None),
            ("bad JSON", "POST", "/v1/embeddings", None, KEY, b'{"input": ['),
            ("bad JSON", "POST", "/vectorize", None, KEY, b'{"texts": ['),
            ("no key", "POST", "/v1/embeddings", {"input": "a"}, None, None),
            ("no key", "POST", "/vectorize", {"texts": ["a"]}, None, None),
            ("no key", "GET", "/v1/models", None, None, None),
            ("wrong model", "POST", "/api/embed", {"model": "nope", "input": "a"}, KEY, None),
            ("wrong model", "POST", "/ai/v1/embed", {"model": "nope", "input": "a"}, KEY, None),
            ("too many items", "POST", "/v1/embeddings", {"model": "clipclap-tiny", "input": ["a"] * 5}, KEY, None),
            ("video", "POST", "/vectorize", {"video": ["AAAA"]}, KEY, None),
            ("token ids", "POST", "/embeddings", {"model": "clipclap-tiny", "input": [[1, 2]]}, KEY, None),
            ("compressed", "POST", "/v1/embeddings", None, KEY, b"\x1f\x8b"),
        ]
        for what, method, path, body, key, raw in requests:
            if what == "compressed":
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=raw, method=method,
                                             headers={"Authorization": f"Bearer {KEY}", "Content-Encoding": "gzip"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        status, ctype, answer = r.status, r.headers.get("Content-Type", ""), r.read()
                except urllib.error.HTTPError as e:
                    status, ctype, answer = e.code, e.headers.get("Content-Type", ""), e.read()
            else:
                status, ctype, answer = call(port, method, path, body, key, raw)
            validate(method, path, status, ctype, answer, what)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
