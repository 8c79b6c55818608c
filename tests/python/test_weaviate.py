#!/usr/bin/env python3
"""Weaviate, built from the Go module proxy, with clipclap serve as its multi2vec-bind service.

Starts `clipclap serve` on the demo bundle and a real Weaviate (scripts/setup-go-tools.sh
builds it once, outside the repo) on 127.0.0.1 with its data in a temporary folder, its
multi2vec-bind module pointed at clipclap. Then, through Weaviate's own REST and GraphQL API:
  - creates a collection whose text, image and audio fields clipclap vectorizes;
  - batch-imports fixture texts, images and clips, killing clipclap (SIGKILL) and starting it
    again mid-import; objects whose vectors could not be made must come back to the importer as
    errors, which it retries, and in the end every object is stored exactly once;
  - checks every stored vector against `clipclap embed` for the same input (max |diff| <= 1e-6);
  - runs nearText, nearImage and nearAudio: a stored item's own media finds it first;
  - does the same, smaller, with a multi2vec-clip collection (texts and images).
Prints the import rate through Weaviate beside the rate of the same inputs sent to
/v1/embeddings directly.

    tests/python/test_weaviate.py [--binary build/release/clipclap] [--tools DIR]
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"
COLLECTION = "Media"

TEXTS = ["a photo of a cat", "rain on a tin roof", "a dog barking at night", "an orchestra tuning up",
         "waves on a pebble beach", "a red bicycle against a wall", "footsteps in the snow", "a kettle whistling",
         "children laughing in a park", "thunder far away", "a violin solo", "traffic at rush hour"]
IMAGES = ["photo_420.jpg", "cmyk.jpg", "gray.jpg", "progressive.jpg", "rgba.png", "palette_trns.png", "la.png",
          "odd_7x5.png", "still.webp", "lossless.webp", "rgb24.bmp", "anim.gif"]
AUDIO = ["chirp_44k.flac", "tone_48k_pcm16.wav", "noise_16k.ogg", "mp3_44k.mp3", "stereo_44k_pcm24.wav",
         "short_8k_u8.wav", "opus_48k.ogg", "wavex_48k_pcm32.wav"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def wait_for(what: str, ready, seconds: float, proc=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {seconds:.0f} s")


class Clipclap:
    """`clipclap serve` on a fixed port, so that Weaviate finds it again after a restart."""

    def __init__(self, binary: Path, port: int, log: Path):
        self.binary, self.port, self.log = binary, port, log
        self.proc = None

    def start(self):
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([str(self.binary), "serve", "--model", str(BUNDLE), "--port", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=log)
        wait_for("clipclap serve", lambda: http("GET", f"http://127.0.0.1:{self.port}/.well-known/ready", timeout=2)[0] == 200, 60, self.proc)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_weaviate(tools: Path, data: Path, clipclap_port: int, log: Path):
    port, grpc = free_port(), free_port()
    gossip, cluster_data, raft, raft_rpc = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ,
               PERSISTENCE_DATA_PATH=str(data),
               AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED="true",
               DEFAULT_VECTORIZER_MODULE="none",
               ENABLE_MODULES="multi2vec-bind,multi2vec-clip",
               BIND_INFERENCE_API=f"http://127.0.0.1:{clipclap_port}",
               CLIP_INFERENCE_API=f"http://127.0.0.1:{clipclap_port}",
               CLUSTER_HOSTNAME="node1",
               CLUSTER_BIND_ADDR="127.0.0.1",
               CLUSTER_ADVERTISE_ADDR="127.0.0.1",
               CLUSTER_GOSSIP_BIND_PORT=str(gossip),
               CLUSTER_DATA_BIND_PORT=str(cluster_data),
               RAFT_PORT=str(raft),
               RAFT_INTERNAL_RPC_PORT=str(raft_rpc),
               RAFT_BOOTSTRAP_EXPECT="1",
               RAFT_JOIN=f"node1:{raft}",
               GRPC_PORT=str(grpc),
               DISABLE_TELEMETRY="true",
               LOG_LEVEL="warning",
               QUERY_DEFAULTS_LIMIT="25")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(tools / "weaviate-server"), "--host", "127.0.0.1", "--port", str(port), "--scheme", "http"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_for("weaviate", lambda: http("GET", base + "/v1/.well-known/ready", timeout=2)[0] == 200, 180, proc)
    return proc, base


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--tools", type=Path, help="folder with weaviate-server (default: scripts/setup-go-tools.sh weaviate)")
    args = ap.parse_args()
    tools = args.tools or Path(subprocess.run([str(ROOT / "scripts" / "setup-go-tools.sh"), "weaviate"], check=True,
                                              capture_output=True, text=True).stdout.strip())
    check = Checks()
    work = Path(tempfile.mkdtemp(prefix="clipclap-weaviate-"))
    clipclap = Clipclap(args.binary, free_port(), work / "clipclap.log")
    weaviate = None
    ok = False
    try:
        clipclap.start()
        weaviate, base = start_weaviate(tools, work / "data", clipclap.port, work / "weaviate.log")
        status, meta = http("GET", base + "/v1/meta")
        for name in ("multi2vec-bind", "multi2vec-clip"):
            module = (meta or {}).get("modules", {}).get(name, {})
            check(status == 200 and module.get("model") == "clipclap-tiny", f"Weaviate's /v1/meta shows clipclap's /meta for {name}: {json.dumps(module)[:120]}")

        status, body = http("POST", base + "/v1/schema", {
            "class": COLLECTION,
            "vectorizer": "multi2vec-bind",
            "moduleConfig": {"multi2vec-bind": {"textFields": ["caption"], "imageFields": ["image"], "audioFields": ["audio"]}},
            "vectorIndexConfig": {"distance": "cosine"},
            "properties": [{"name": "name", "dataType": ["text"]}, {"name": "caption", "dataType": ["text"]},
                           {"name": "image", "dataType": ["blob"]}, {"name": "audio", "dataType": ["blob"]}],
        })
        check(status == 200, f"multi2vec-bind collection created ({status})")

        # Each object has one medium, so its vector is that medium's vector alone. Ids are
        # derived from the names: a retried object replaces itself, never doubles.
        objects = [("text:" + t, {"caption": t}) for t in TEXTS]
        objects += [("image:" + n, {"image": b64(FIXTURES / "images" / n)}) for n in IMAGES]
        objects += [("audio:" + n, {"audio": b64(FIXTURES / "audio" / n)}) for n in AUDIO]
        ids = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, "clipclap-test/" + name)) for name, _ in objects}

        def import_batch(batch):
            status, body = http("POST", base + "/v1/batch/objects", {"objects": [
                {"class": COLLECTION, "id": ids[name], "properties": dict(props, name=name)} for name, props in batch]}, timeout=120)
            if status != 200:
                return [name for name, _ in batch], [f"batch status {status}: {body}"]
            failed, messages = [], []
            for (name, _), result in zip(batch, body):
                errors = ((result.get("result") or {}).get("errors") or {}).get("error") or []
                if errors:
                    failed.append(name)
                    messages.append(errors[0].get("message", ""))
            return failed, messages

        # The import, in batches of 4, with clipclap killed after the second batch and started
        # again after the third: the third batch's objects must fail, as errors.
        t0 = time.perf_counter()
        pending, failures, rounds = list(objects), [], 0
        while pending and rounds < 5:
            rounds += 1
            retry = []
            for i in range(0, len(pending), 4):
                if rounds == 1 and i == 8:
                    clipclap.kill()
                if rounds == 1 and i == 12:
                    clipclap.start()
                failed, messages = import_batch(pending[i:i + 4])
                retry += failed
                failures += messages
            pending = [(n, p) for n, p in objects if n in retry]
        import_seconds = time.perf_counter() - t0
        check(len(failures) >= 4 and all(m for m in failures),
              f"objects imported while clipclap was down came back as errors ({len(failures)}), e.g. {failures[0][:140] if failures else ''!r}")
        check(not pending, f"after {rounds} rounds of retries every object is stored ({len(objects)} objects)")
        status, agg = http("POST", base + "/v1/graphql", {"query": "{ Aggregate { %s { meta { count } } } }" % COLLECTION})
        count = agg["data"]["Aggregate"][COLLECTION][0]["meta"]["count"] if status == 200 else -1
        check(count == len(objects), f"stored exactly once: Weaviate counts {count} objects, {len(objects)} were imported")

        # Stored vectors against `clipclap embed` for the same inputs.
        flags = [f for t in TEXTS for f in ("--text", t)]
        flags += [f for n in IMAGES for f in ("--image", str(FIXTURES / "images" / n))]
        flags += [f for n in AUDIO for f in ("--audio", str(FIXTURES / "audio" / n))]
        out = subprocess.run([str(args.binary), "embed", "--model", str(BUNDLE), *flags], check=True, capture_output=True, text=True).stdout
        want = np.array([json.loads(line)["embedding"] for line in out.splitlines()], dtype=np.float64)
        got = []
        for name, _ in objects:
            status, obj = http("GET", f"{base}/v1/objects/{COLLECTION}/{ids[name]}?include=vector")
            got.append(obj["vector"] if status == 200 else [np.nan] * want.shape[1])
        got = np.array(got, dtype=np.float64)
        diff = float(np.abs(got - want).max())
        check(diff <= 1e-6, f"the {len(objects)} vectors Weaviate stored equal clipclap embed's: max |diff| {diff:.2e}")

        # Queries: Weaviate vectorizes the query through clipclap too.
        def nearest(near: str) -> str:
            status, body = http("POST", base + "/v1/graphql", {"query": "{ Get { %s(%s, limit: 1) { name } } }" % (COLLECTION, near)})
            hits = ((body or {}).get("data") or {}).get("Get", {}).get(COLLECTION) if status == 200 else None
            return hits[0]["name"] if hits else f"(no hit: {str(body)[:200]})"

        for t in TEXTS[:3]:
            hit = nearest('nearText: {concepts: [%s]}' % json.dumps(t))
            check(hit == "text:" + t, f"nearText {t!r} finds its own caption first ({hit})")
        for n in IMAGES[:4]:
            hit = nearest('nearImage: {image: "%s"}' % b64(FIXTURES / "images" / n))
            check(hit == "image:" + n, f"nearImage {n} finds itself first ({hit})")
        for n in AUDIO[:4]:
            hit = nearest('nearAudio: {audio: "%s"}' % b64(FIXTURES / "audio" / n))
            check(hit == "audio:" + n, f"nearAudio {n} finds itself first ({hit})")

        # multi2vec-clip: texts and images, its own client (it sends a Content-Type, and reads
        # errors with a status over 399).
        http("POST", base + "/v1/schema", {
            "class": "Pictures", "vectorizer": "multi2vec-clip",
            "moduleConfig": {"multi2vec-clip": {"textFields": ["caption"], "imageFields": ["image"]}},
            "properties": [{"name": "name", "dataType": ["text"]}, {"name": "caption", "dataType": ["text"]},
                           {"name": "image", "dataType": ["blob"]}]})
        clip_objects = [o for o in objects if not o[0].startswith("audio:")][::3]
        failed, messages = [], []
        status, body = http("POST", base + "/v1/batch/objects", {"objects": [
            {"class": "Pictures", "id": ids[name], "properties": dict(props, name=name)} for name, props in clip_objects]}, timeout=120)
        errors = [r for r in (body or []) if ((r.get("result") or {}).get("errors"))] if status == 200 else [body]
        check(status == 200 and not errors, f"multi2vec-clip: {len(clip_objects)} texts and images imported ({errors[:1]})")
        index = {name: i for i, (name, _) in enumerate(objects)}
        clip_diff = 0.0
        for name, _ in clip_objects:
            status, obj = http("GET", f"{base}/v1/objects/Pictures/{ids[name]}?include=vector")
            stored = np.array(obj["vector"] if status == 200 else [np.nan] * want.shape[1], dtype=np.float64)
            clip_diff = max(clip_diff, float(np.abs(stored - want[index[name]]).max()))
        check(clip_diff <= 1e-6, f"multi2vec-clip stored vectors equal clipclap embed's: max |diff| {clip_diff:.2e}")
        image_name = next(n for n, _ in clip_objects if n.startswith("image:"))
        status, body = http("POST", base + "/v1/graphql", {"query": '{ Get { Pictures(nearImage: {image: "%s"}, limit: 1) { name } } }'
                                                            % b64(FIXTURES / "images" / image_name.split(":", 1)[1])})
        hit = (((body or {}).get("data") or {}).get("Get") or {}).get("Pictures") or [{"name": str(body)[:200]}]
        check(hit[0]["name"] == image_name, f"multi2vec-clip nearImage {image_name} finds itself first ({hit[0]['name']})")

        # The import rate: the same objects, 4 times over, through Weaviate (clipclap up
        # throughout) and their inputs sent to /v1/embeddings directly, 4 per request, one
        # request at a time; the median of 3 rounds each.
        http("DELETE", f"{base}/v1/schema/{COLLECTION}")
        rate_objects = objects * 4

        def part(props):
            if "caption" in props:
                return props["caption"]
            mime = "image/*" if "image" in props else "audio/*"
            return {"type": "media", "data": props.get("image") or props.get("audio"), "mime_type": mime}

        through_weaviate, direct = [], []
        for round_ in range(3):
            http("POST", base + "/v1/schema", {
                "class": f"Rate{round_}", "vectorizer": "multi2vec-bind",
                "moduleConfig": {"multi2vec-bind": {"textFields": ["caption"], "imageFields": ["image"], "audioFields": ["audio"]}},
                "properties": [{"name": "name", "dataType": ["text"]}, {"name": "caption", "dataType": ["text"]},
                               {"name": "image", "dataType": ["blob"]}, {"name": "audio", "dataType": ["blob"]}]})
            t0 = time.perf_counter()
            for i in range(0, len(rate_objects), 4):
                http("POST", base + "/v1/batch/objects", {"objects": [
                    {"class": f"Rate{round_}", "properties": dict(props, name=name)} for name, props in rate_objects[i:i + 4]]}, timeout=120)
            through_weaviate.append(len(rate_objects) / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            for i in range(0, len(rate_objects), 4):
                http("POST", f"http://127.0.0.1:{clipclap.port}/v1/embeddings",
                     {"model": "clipclap-tiny", "input": [part(p) for _, p in rate_objects[i:i + 4]]})
            direct.append(len(rate_objects) / (time.perf_counter() - t0))
        print(f"import rate (demo bundle, {len(rate_objects)} objects in batches of 4, one client, median of 3): through Weaviate "
              f"{np.median(through_weaviate):.1f} objects/s, direct /v1/embeddings {np.median(direct):.1f} items/s "
              f"(ratio {np.median(through_weaviate) / np.median(direct):.2f}); the first import, with the restart, took {import_seconds:.1f} s")
        ok = check.failed == 0
    finally:
        clipclap.stop()
        if weaviate is not None:
            weaviate.terminate()
            try:
                weaviate.wait(timeout=30)
            except subprocess.TimeoutExpired:
                weaviate.kill()
        if not ok:
            for log in ("weaviate.log", "clipclap.log"):
                path = work / log
                if path.exists():
                    print(f"--- last lines of {log}")
                    print("\n".join(path.read_text(errors="replace").splitlines()[-25:]))
        shutil.rmtree(work, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
