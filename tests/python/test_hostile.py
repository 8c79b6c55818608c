#!/usr/bin/env python3
"""Hostile clients against the real `clipclap serve` on the tiny bundle: one check per attack of
issue 14 (the fuzz findings, the 129 hostile requests, each class of limit), each measuring what
it costs the server: its peak RSS (VmHWM, reset before each attack), whether it still answers a
normal request meanwhile, and what it answered.

    tests/python/test_hostile.py [--binary build/release/clipclap] [--only NAME,...] [--list]

Run against an older binary, the same checks show what it did wrong (every attack here broke
a promise of issue 14 before it was fixed). Everything is local: the "origins" that fetches go to
are threads on loopback ports.
"""
import argparse
import base64
import gzip
import http.server
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks  # noqa: E402
from media import GIF_ENDS_AFTER_DESCRIPTOR, float_wav, ogg_page, vorbis_id_header  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"
CACHE = Path(tempfile.gettempdir()) / "clipclap-hostile"
MB = 1 << 20


class Server:
    """`clipclap serve --port 0` with the tiny bundle; its RSS and log."""

    def __init__(self, binary, *flags):
        self.log = tempfile.NamedTemporaryFile(prefix="clipclap-hostile-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([str(binary), "serve", "--model", str(BUNDLE), "--port", "0", *map(str, flags)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening" not in line:
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {Path(self.log.name).read_text()[-500:]}")
        self.port = int(line.rsplit(":", 1)[1])

    def status(self, key):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def rss(self):
        return self.status("VmRSS")

    def reset_peak(self):
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def peak(self):
        return self.status("VmHWM")

    def cost(self, send):
        """send() from a fresh peak: its result, the seconds it took, and the server's peak RSS above
        its RSS before."""
        base = self.rss()
        self.reset_peak()
        t = time.monotonic()
        result = send()
        return result, time.monotonic() - t, self.peak() - base

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        os.unlink(self.log.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def request(port, raw, timeout=30.0):
    """Sends raw bytes, returns (status, headers, body) of the answer (status 0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass
        return read_response(s)


def read_response(s):
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0, {}, data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    except (OSError, ValueError, IndexError):
        return 0, {}, data


def post(port, body, path="/api/embed", headers=(), timeout=60.0):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "Connection: close\r\n\r\n"
    return request(port, head.encode() + body, timeout)


def get(port, path, headers=()):
    head = f"GET {path} HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "Connection: close\r\n\r\n"
    return request(port, head.encode())


def normal_ok(port, timeout=5.0):
    """A normal text request: (answered 200 within timeout, seconds)."""
    t = time.monotonic()
    status, _, _ = post(port, {"model": "clipclap-tiny", "input": "a dog barking"}, timeout=timeout)
    return status == 200, time.monotonic() - t


def uri(mime, data):
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_request(data, mime="image/png"):
    return {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": uri(mime, data)}}]}


def audio_request(data):
    return {"model": "clipclap-tiny", "input": [{"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode()}}]}


def cached(name, make):
    CACHE.mkdir(exist_ok=True)
    p = CACHE / name
    if not p.exists():
        tmp = p.with_suffix(".part")
        tmp.write_bytes(make())
        tmp.rename(p)
    return p.read_bytes()


def silent_flac_384k_599s():
    b = io.BytesIO()
    with soundfile.SoundFile(b, "w", 384000, 1, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros(3_840_000, np.int16)
        for _ in range(59):
            f.write(block)
        f.write(block[: 384000 * 9])
    return b.getvalue()


def png_16bit_rgba(w, h):
    """A w x h 16-bit RGBA PNG of one colour (compresses to almost nothing)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + b"\x12\x34\x56\x78\x9a\xbc\xff\xff" * w
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


VORBIS_BAD_VERSION = ogg_page(vorbis_id_header(version=1), True, 0)


class Origin:
    """A local HTTP origin for fetches: counts requests; `hang` accepts and never answers."""

    def __init__(self, hang=False, body=b"", status=200, headers=()):
        self.hits = 0
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                origin.hits += 1
                if hang:
                    time.sleep(60)
                    return
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.httpd.shutdown()


def parallel(fns):
    results = [None] * len(fns)

    def run(i, f):
        try:
            results[i] = f()
        except Exception as e:  # an attack's own failure is its result
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# Each attack: (name, what it does, function(binary, check)).
ATTACKS = []


def attack(name):
    def register(fn):
        ATTACKS.append((name, fn))
        return fn
    return register


def fmt_mb(b):
    return f"{b / MB:.0f} MB"


@attack("gif-23-bytes")
def _(binary, check):
    with Server(binary) as s:
        status, _, body = post(s.port, image_request(GIF_ENDS_AFTER_DESCRIPTOR, "image/gif"))
        check(status == 400 and b"GIF" in body and s.alive() and normal_ok(s.port)[0],
              f"a 23-byte GIF ending after its image descriptor: {status}, server {'alive' if s.alive() else 'DEAD'}")
    r = subprocess.run([str(binary), "embed", "--model", str(BUNDLE), "--image", "/dev/stdin"], input=GIF_ENDS_AFTER_DESCRIPTOR, capture_output=True)
    check(r.returncode == 1 and b"GIF" in r.stderr, f"embed --image of that GIF exits {r.returncode} with a message")


@attack("vorbis-leak")
def _(binary, check):
    with Server(binary) as s:
        body = json.dumps(audio_request(VORBIS_BAD_VERSION)).encode()
        statuses = set()

        def burst(n):
            for _ in range(n):
                statuses.add(post(s.port, body)[0])
        parallel([lambda: burst(300)] * 2)
        time.sleep(2.5)
        before = s.rss()
        parallel([lambda: burst(1500)] * 2)
        time.sleep(2.5)
        grown = s.rss() - before
        check(statuses == {400} and grown < 6 * MB,
              f"3,000 Ogg pages with valid checksums and a corrupt Vorbis header: {sorted(statuses)}, RSS at rest {grown / MB:+.1f} MB "
              f"(a 5.8 KB leak each would be +17 MB)")


@attack("float64-huge-samples")
def _(binary, check):
    with Server(binary) as s:
        status, _, body = post(s.port, audio_request(float_wav(np.array([0.1, 1e300, -1e300, 0.2]), 22050)))
        check(status == 400 and b"nan" not in body.lower(), f"a float64 WAV of 1e300 samples: {status} {body[:120]!r}")
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        f.write(float_wav(np.array([0.1, 1e300, 0.2]), 22050))
        f.flush()
        r = subprocess.run([str(binary), "embed", "--model", str(BUNDLE), "--audio", f.name], capture_output=True)
        check(r.returncode == 1 and b"nan" not in r.stdout.lower(), f"embed --audio of it exits {r.returncode}, no NaN printed")


@attack("fetch-nul-bypass")
def _(binary, check):
    with Origin(body=(FIXTURES / "images" / "tiny_1x1.png").read_bytes()) as origin, Server(binary, "--allow-fetch", "example.invalid") as s:
        url = f"http://127.0.0.1:{origin.port}\u0000.example.invalid:80/x"
        status, _, body = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": url}}]})
        check(status == 400 and origin.hits == 0, f"an allow-listed name after a NUL: {status}, origin fetched {origin.hits} times")
        for bad in (f"http://example.invalid@127.0.0.1:{origin.port}/x", f"http://127.0.0.1:{origin.port}/x",
                    f"http://example.invalid\r\n:{origin.port}/x", f"ftp://example.invalid/x"):
            status, _, _ = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": bad}}]})
            check(status == 400 and origin.hits == 0, f"  {bad!r}: {status}, origin fetched {origin.hits} times")


@attack("fetch-internal-name-and-redirect")
def _(binary, check):
    png = (FIXTURES / "images" / "tiny_1x1.png").read_bytes()
    with Origin(body=png) as origin, \
         Origin(status=302, headers=[("Location", f"http://127.0.0.1:{origin.port}/x")]) as redirect:
        with Server(binary, "--allow-fetch", "localhost,127.0.0.1") as s:
            ok = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{origin.port}/x"}}]})
            check(ok[0] == 200 and origin.hits == 1, f"an allowed origin is fetched: {ok[0]}")
            r = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{redirect.port}/r"}}]})
            check(r[0] == 400 and origin.hits == 1 and b"302" in r[2], f"a redirect is not followed: {r[0]} {r[2][:160]!r}")
            with socket.socket() as closed:
                closed.bind(("127.0.0.1", 0))
                gone = closed.getsockname()[1]  # a port nobody listens on
            r = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{gone}/x"}}]})
            check(r[0] == 400 and b"HF_ENDPOINT" not in r[2] and f"127.0.0.1:{gone}".encode() in r[2],
                  f"a failed fetch's error speaks of the URL, not of the hub: {r[2][:160]!r}")
        host = socket.gethostname()
        try:
            addr = socket.gethostbyname(host)
        except OSError:
            addr = ""
        if addr.startswith("127."):
            with Server(binary, "--allow-fetch", host) as s:
                r = post(s.port, {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://{host}:{origin.port}/x"}}]})
                check(r[0] == 400 and origin.hits == 1, f"an allowed name ({host}) that resolves to {addr} is refused: {r[0]} {r[2][:140]!r}")


@attack("flac-384k-599s")
def _(binary, check):
    flac = cached("silence_384k_599s.flac", silent_flac_384k_599s)
    with Server(binary) as s:
        (status, _, _), seconds, peak = s.cost(lambda: post(s.port, audio_request(flac), timeout=120))
        check(status == 200 and peak < 120 * MB,
              f"{len(flac) // 1024} KB FLAC, 599 s at 384 kHz: {status} in {seconds:.1f} s, peak RSS +{fmt_mb(peak)}")


@attack("text-10mb")
def _(binary, check):
    with Server(binary) as s:
        (status, _, _), seconds, peak = s.cost(
            lambda: post(s.port, {"model": "clipclap-tiny", "input": "the sound of rain " * (10 * MB // 18)}))
        check(status == 200 and seconds < 2 and peak < 60 * MB, f"a 10 MB text: {status} in {seconds:.2f} s, peak RSS +{fmt_mb(peak)}")


@attack("gzip-bomb")
def _(binary, check):
    with Server(binary, "--max-body-mb", 16) as s:
        inner = b'{"model":"clipclap-tiny","input":"' + b"a" * (200 * MB) + b'"}'
        bomb = gzip.compress(inner, 9)
        del inner
        (status, _, _), _, peak = s.cost(lambda: post(s.port, bomb, headers=[("Content-Encoding", "gzip")]))
        check(status == 415 and peak < 30 * MB, f"{len(bomb) // 1024} KB gzip body inflating to 200 MB: {status}, peak RSS +{fmt_mb(peak)}")


@attack("chunked-64mb")
def _(binary, check):
    with Server(binary, "--max-body-mb", 16) as s:
        base = s.rss()
        s.reset_peak()
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
            c.sendall(b"POST /api/embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % MB + b"a" * MB + b"\r\n"
            try:
                for _ in range(64):
                    c.sendall(chunk)
            except OSError:
                pass
            status, _, _ = read_response(c)
        check(status == 413 and s.peak() - base < 40 * MB, f"a 64 MB chunked body (limit 16 MB): {status}, peak RSS +{fmt_mb(s.peak() - base)}")


@attack("endless-headers")
def _(binary, check):
    with Server(binary) as s:
        base = s.rss()
        s.reset_peak()
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
            c.sendall(b"POST /api/embed HTTP/1.1\r\nHost: x\r\n")
            line = b"X-Filler: " + b"a" * 8180 + b"\r\n"
            sent = 0
            try:
                while sent < 150 * MB:
                    c.sendall(line)
                    sent += len(line)
            except OSError:
                pass
            status, _, _ = read_response(c)
        time.sleep(1.5)
        check(status == 431 and sent < 10 * MB and s.peak() - base < 20 * MB and s.rss() - base < 5 * MB,
              f"8 KB header lines without end: {status} after {sent // 1024} KB sent, peak RSS +{fmt_mb(s.peak() - base)}")
        status, _, _ = request(s.port, b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n")
        check(status == 431, f"500 header fields: {status}")


@attack("range")
def _(binary, check):
    with Server(binary) as s:
        ranges = ",".join(["0-"] * 2000)
        plain = post(s.port, {"model": "clipclap-tiny", "input": "rain"})
        ranged = post(s.port, {"model": "clipclap-tiny", "input": "rain"}, headers=[("Range", f"bytes={ranges}")])
        check(ranged[0] == 200 and len(ranged[2]) == len(plain[2]), f"2,000 ranges on POST /api/embed: {ranged[0]}, {len(ranged[2])} bytes "
              f"(plain {len(plain[2])})")
        metrics = get(s.port, "/metrics", [("Range", "bytes=" + ",".join(["0-"] * 8))])
        check(metrics[0] == 200, f"8 ranges on GET /metrics: {metrics[0]}")


@attack("metrics-labels")
def _(binary, check):
    with Server(binary) as s:
        for i in range(1000):
            get(s.port, f"/no/such/route/{i}")
        for i in range(50):
            post(s.port, {"model": f"no-such-model-{i}", "input": "a"})
        status, _, body = get(s.port, "/metrics")
        check(status == 200 and len(body) < 64 * 1024 and b"/no/such" not in body and b"no-such-model" not in body,
              f"1,000 unknown paths and 50 unknown models, then /metrics: {len(body) // 1024} KB")
    with Server(binary, "--api-key", "k1", "--metrics-key", "m1") as s:
        codes = [get(s.port, "/metrics", h)[0] for h in ([], [("Authorization", "Bearer m1")], [("Authorization", "Bearer k1")],
                                                          [("Authorization", "Bearer nope")])]
        check(codes == [401, 200, 200, 401], f"--metrics-key: without, metrics key, API key, wrong key: {codes}")


def slow_connections(port, n, seconds, stop):
    """n connections sending a request one byte per second."""
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    text = b"POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    for i in range(seconds):
        if stop.is_set():
            break
        for s in socks:
            try:
                s.send(text[i % len(text):i % len(text) + 1])
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()
    return len(socks)


@attack("slowloris")
def _(binary, check):
    with Server(binary, "--http-threads", 64) as s:
        stop = threading.Event()
        opened = []
        t = threading.Thread(target=lambda: opened.append(slow_connections(s.port, 256, 12, stop)))
        t.start()
        time.sleep(2)
        times = []
        for _ in range(20):
            ok, sec = normal_ok(s.port, timeout=10)
            times.append(sec if ok else 99)
        stop.set()
        t.join()
        times.sort()
        check(times[-1] <= 1.0, f"{opened[0] if opened else '?'} connections sending a byte a second (4x --http-threads 64): a normal client's "
              f"p50 {times[9] * 1000:.0f} ms, p99 {times[-1] * 1000:.0f} ms")
    with Server(binary, "--header-timeout-s", 2) as s:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"GET /heal")
        t0 = time.monotonic()
        status, _, _ = read_response(c)
        check(time.monotonic() - t0 < 5, f"a request line stalled mid-way is closed after --header-timeout-s 2: {status or 'closed'} "
              f"after {time.monotonic() - t0:.1f} s")
        c.close()
    with Server(binary, "--max-connections", 20) as s:
        socks = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        time.sleep(0.3)
        status, headers, _ = request(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        check(status == 503 and headers.get("retry-after") == "1", f"connection 21 of --max-connections 20: {status}")
        for c in socks:
            c.close()


@attack("no-key-big-bodies")
def _(binary, check):
    with Server(binary, "--api-key", "s3cret", "--max-body-mb", 64) as s:
        base = s.rss()
        s.reset_peak()

        def send_big():
            with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
                c.sendall(b"POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (60 * MB))
                t = time.monotonic()
                sent = 0
                try:
                    while sent < 60 * MB:
                        c.sendall(b"\x00" * MB)
                        sent += MB
                except OSError:
                    pass
                return read_response(c)[0], time.monotonic() - t
        results = parallel([send_big] * 6)
        statuses = [r[0] if isinstance(r, tuple) else 0 for r in results]
        check(all(x == 401 for x in statuses) and s.peak() - base < 30 * MB,
              f"six 60 MB bodies without a key: {statuses}, peak RSS +{fmt_mb(s.peak() - base)}")
        body = b'{"input": "a"}'
        status, _, _ = request(s.port, b"POST /api/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\x00garbage\r\n"
                               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        check(status in (400, 401), f"Authorization: Bearer KEY\\0garbage: {status}")


@attack("hanging-fetch")
def _(binary, check):
    with Origin(hang=True) as origin, Server(binary, "--allow-fetch", "127.0.0.1", "--fetch-timeout-s", 5) as s:
        cores = os.cpu_count() or 2
        body = {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{origin.port}/x"}}]}
        hung = [threading.Thread(target=post, args=(s.port, body), kwargs={"timeout": 40}, daemon=True) for _ in range(cores * 2)]
        for t in hung:
            t.start()
        time.sleep(1)
        ok, sec = normal_ok(s.port, timeout=10)
        check(ok and sec < 1, f"{len(hung)} requests fetching from an origin that never answers: a text request meanwhile "
              f"{'answered' if ok else 'NOT answered'} in {sec * 1000:.0f} ms")


@attack("png-9000-16bit")
def _(binary, check):
    png = cached("rgba16_9000.png", lambda: png_16bit_rgba(9000, 9000))
    with Server(binary) as s:
        (status, _, _), _, peak = s.cost(lambda: post(s.port, image_request(png), timeout=120))
        check(status == 200 and peak < 60 * MB, f"a 9000x9000 16-bit RGBA PNG ({len(png) // 1024} KB): {status}, peak RSS +{fmt_mb(peak)}")


@attack("echoed-name")
def _(binary, check):
    with Server(binary) as s:
        status, _, body = post(s.port, {"model": "m" * 100_000, "input": "a"})
        check(status == 404 and len(body) < 1024, f"a 100 KB model name: {status}, a {len(body)}-byte answer")


@attack("budget")
def _(binary, check):
    with Server(binary, "--max-inflight-mb", 32, "--max-body-mb", 64) as s:
        jpg = (FIXTURES / "images" / "photo_420.jpg").read_bytes()
        big = {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": uri("image/jpeg", jpg)}}] * 16}
        results = parallel([lambda: post(s.port, big)] * 8)
        statuses = sorted(r[0] for r in results)
        retry = all(r[1].get("retry-after") == "1" for r in results if r[0] == 503)
        check(set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses and retry and s.alive() and normal_ok(s.port)[0],
              f"eight requests of 16 images (12 MB held each) against --max-inflight-mb 32: {statuses}")
        huge = {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": uri("image/jpeg", jpg)}}] * 64}
        status, _, body = post(s.port, huge)
        check(status == 413, f"one request that could never fit (64 images, 40 MB of tensors): {status} {body[:100]!r}")


@attack("together")
def _(binary, check):
    """The attacks above at once: the server stays within its budget and answers a normal client."""
    flac = cached("silence_384k_599s.flac", silent_flac_384k_599s)
    png = cached("rgba16_9000.png", lambda: png_16bit_rgba(9000, 9000))
    with Origin(hang=True) as origin, Server(binary, "--max-body-mb", 16, "--allow-fetch", "127.0.0.1") as s:
        s.reset_peak()
        stop = threading.Event()
        bomb = gzip.compress(b'{"input":"' + b"a" * (50 * MB) + b'"}', 9)
        fetch = {"model": "clipclap-tiny", "input": [{"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{origin.port}/x"}}]}
        attacks = [
            lambda: post(s.port, audio_request(flac), timeout=120),
            lambda: post(s.port, {"model": "clipclap-tiny", "input": "rain " * (2 * MB)}),
            lambda: post(s.port, bomb, headers=[("Content-Encoding", "gzip")]),
            lambda: post(s.port, image_request(png), timeout=120),
            lambda: post(s.port, image_request(GIF_ENDS_AFTER_DESCRIPTOR, "image/gif")),
            lambda: post(s.port, audio_request(VORBIS_BAD_VERSION)),
            lambda: post(s.port, audio_request(float_wav(np.full(4, 1e300), 22050))),
            lambda: post(s.port, fetch, timeout=40),
            lambda: slow_connections(s.port, 100, 10, stop),
            lambda: [get(s.port, f"/x/{i}") for i in range(300)],
        ]
        normal = []

        def meanwhile():
            time.sleep(2)
            normal.append(normal_ok(s.port, timeout=10))
        results = parallel(attacks + [meanwhile])
        stop.set()
        peak = s.peak()
        ok = normal and normal[0][0]
        check(s.alive() and ok and peak <= 300 * MB,
              f"all at once: server peak RSS {fmt_mb(peak)} (limit 300 MB), a normal text request "
              f"{'answered in %.0f ms' % (normal[0][1] * 1000) if ok else 'NOT answered'}; attacks answered "
              f"{[r[0] if isinstance(r, tuple) else '-' for r in results[:8]]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--only", default="", help="comma-separated attack names")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(name for name, _ in ATTACKS))
        return 0
    check = Checks()
    only = set(filter(None, args.only.split(",")))
    for name, fn in ATTACKS:
        if only and name not in only:
            continue
        t = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            fn(args.binary, check)
        except Exception as e:  # a server that cannot start or a crashed attack fails the check
            check(False, f"{name}: {type(e).__name__}: {e}")
        print(f"   ({time.monotonic() - t:.1f} s)", flush=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
