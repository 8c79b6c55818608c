#!/usr/bin/env python3
"""The playground page (GET /) and the API docs page (GET /docs) in a real browser.

Debian's chromium, headless, driven by chromium-driver through Selenium, against `clipclap
serve` on the demo bundle:
  - the page and /docs each load in under 300 ms, and the pages add under 200 KB;
  - two texts, a fixture image and a fixture clip go in through the page's own controls; the
    heatmap's cells must equal the cosines of the vectors /v1/embeddings gives directly
    (|diff| <= 1e-6), and the ranking lists the others, nearest first;
  - a corrupt file gets its error beside it while the other items are still embedded;
  - with --api-key the page asks for the key, and works once it is given;
  - screenshots at 360 px and 1280 px wide go to --artifacts (default build/artifacts), and the
    page must not scroll sideways at 360 px (only the heatmap's own box may).

    tests/python/test_playground.py [--binary build/release/clipclap] [--artifacts DIR]
"""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks, serving  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
BUNDLE = FIXTURES / "models" / "clipclap-tiny"
TEXTS = ["the sound of rain", "a photo of a cat"]
IMAGE = FIXTURES / "images" / "photo_420.jpg"
CLIP = FIXTURES / "audio" / "chirp_44k.flac"


def scratch_dir(prefix: str) -> str:
    """A temporary directory removed when the test ends (chromium's profiles, the test's files)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def browser(width: int):
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--window-size={width},1600"):
        options.add_argument(flag)
    options.add_argument("--user-data-dir=" + scratch_dir("clipclap-chromium-"))
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(width, 1600)
    return driver


def wait(driver, condition, seconds=30):
    return WebDriverWait(driver, seconds).until(lambda d: condition(d))


def add_items(driver, files):
    for t in TEXTS:
        box = driver.find_element(By.ID, "text")
        box.send_keys(t)
        box.submit()
    driver.find_element(By.ID, "files").send_keys("\n".join(str(f) for f in files))
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#items li")) == len(TEXTS) + len(files))


def direct_cosines(port, key=None):
    import base64
    parts = TEXTS + [{"type": "media", "data": base64.b64encode(IMAGE.read_bytes()).decode(), "mime_type": "image/jpeg"},
                     {"type": "media", "data": base64.b64encode(CLIP.read_bytes()).decode(), "mime_type": "audio/flac"}]
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/embeddings", data=json.dumps({"model": "clipclap-tiny", "input": parts}).encode(),
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        v = np.array([d["embedding"] for d in json.loads(r.read())["data"]], dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v @ v.T


def heat_cells(driver):
    cells = {}
    for b in driver.find_elements(By.CSS_SELECTOR, "#heat td button"):
        cells[(int(b.get_attribute("data-row")), int(b.get_attribute("data-col")))] = float(b.get_attribute("data-cos"))
    return cells


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--artifacts", type=Path, default=ROOT / "build" / "artifacts")
    args = ap.parse_args()
    args.artifacts.mkdir(parents=True, exist_ok=True)
    check = Checks()
    work = Path(scratch_dir("clipclap-playground-"))
    corrupt = work / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"this is not really a PNG" * 8)

    with serving(check, args.binary, "--model", BUNDLE) as port:
        base = f"http://127.0.0.1:{port}"
        sizes = {}
        for path in ("/", "/docs"):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    sizes[path] = len(r.read())
                times.append((time.perf_counter() - t0) * 1000)
            check(np.median(times) < 300, f"GET {path}: {sizes[path]} bytes in {np.median(times):.1f} ms (median of 5, HTTP)")
        check(sum(sizes.values()) < 200_000, f"the pages add {sum(sizes.values())} bytes (< 200 KB)")

        for width in (1280, 360):
            driver = browser(width)
            try:
                t0 = time.perf_counter()
                driver.get(base + "/")
                wait(driver, lambda d: d.find_element(By.ID, "model-info").text.startswith("clipclap"))
                load_ms = driver.execute_script("const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;")
                check(load_ms < 300, f"{width} px: the page loads in {load_ms:.0f} ms (navigation timing), model shown: "
                                     f"{driver.find_element(By.ID, 'model-info').text!r}")
                add_items(driver, [IMAGE, CLIP])
                driver.find_element(By.ID, "embed").click()
                wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#heat td button")) == 16)
                want = direct_cosines(port)
                cells = heat_cells(driver)
                diff = max(abs(cells[(i, j)] - want[i, j]) for i in range(4) for j in range(4))
                check(diff <= 1e-6, f"{width} px: the 4×4 heatmap equals the cosines of /v1/embeddings' vectors: max |diff| {diff:.1e}")
                ranked = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#ranking li")]
                values = [float(t.split()[0]) for t in ranked]
                check(len(ranked) == 3 and values == sorted(values, reverse=True), f"{width} px: the ranking lists 3 others, nearest first: {values}")
                overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                check(overflow <= 0, f"{width} px: the page does not scroll sideways (overflow {overflow} px)")
                shot = args.artifacts / f"playground-{width}.png"
                driver.save_screenshot(str(shot))
                check(shot.stat().st_size > 10_000, f"{width} px: screenshot {shot}")
                if width == 1280:
                    # A corrupt file: its error beside it, the rest still embedded.
                    driver.find_element(By.ID, "files").send_keys(str(corrupt))
                    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#items li")) == 5)
                    driver.find_element(By.ID, "embed").click()
                    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#items li[data-error]"))
                    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#heat td button")) == 16)
                    bad = driver.find_elements(By.CSS_SELECTOR, "#items li[data-error]")
                    text = bad[0].text if bad else ""
                    check(len(bad) == 1 and "corrupt.png" in text and "undecodable image" in text,
                          f"the corrupt file's error is beside it: {bad[0].get_attribute('data-error') if bad else None!r}; the other 4 still embedded")
                    driver.save_screenshot(str(args.artifacts / "playground-error.png"))
                    # The curl command is the request the page sent.
                    driver.find_element(By.ID, "copy").click()
                    curl = wait(driver, lambda d: d.find_element(By.ID, "curl").get_attribute("value"))
                    check(curl.startswith(f"curl -s {base}/v1/embeddings") and '"model":"clipclap-tiny"' in curl, "Copy as curl gives the request sent")
                    driver.get(base + "/docs")
                    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#paths details")) > 10)
                    count = len(driver.find_elements(By.CSS_SELECTOR, "#paths details"))
                    check(count == sum(len(v) for v in json.loads(urllib.request.urlopen(base + "/openapi.json").read())["paths"].values()),
                          f"/docs renders the {count} operations of /openapi.json, offline")
                    driver.save_screenshot(str(args.artifacts / "docs-1280.png"))
            finally:
                driver.quit()

    with serving(check, args.binary, "--model", BUNDLE, "--api-key", "secret") as port:
        driver = browser(1280)
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            wait(driver, lambda d: d.find_element(By.ID, "key-dialog").get_attribute("open") is not None)
            check(True, "with --api-key the page asks for the key")
            driver.find_element(By.ID, "key").send_keys("wrong")
            driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
            wait(driver, lambda d: "refused" in d.find_element(By.ID, "key-error").text)
            check(True, "a wrong key is refused, and the page asks again")
            driver.find_element(By.ID, "key").clear()
            driver.find_element(By.ID, "key").send_keys("secret")
            driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
            wait(driver, lambda d: d.find_element(By.ID, "model-info").text.startswith("clipclap"))
            add_items(driver, [IMAGE, CLIP])
            driver.find_element(By.ID, "embed").click()
            wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#heat td button")) == 16)
            want = direct_cosines(port, "secret")
            cells = heat_cells(driver)
            diff = max(abs(cells[(i, j)] - want[i, j]) for i in range(4) for j in range(4))
            stored = driver.execute_script("return [sessionStorage.getItem('clipclap-key'), localStorage.getItem('clipclap-key')];")
            check(diff <= 1e-6 and stored == ["secret", None], f"with the key it embeds (max |diff| {diff:.1e}); kept in sessionStorage only")
        finally:
            driver.quit()
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
