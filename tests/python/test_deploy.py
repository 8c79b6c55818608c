#!/usr/bin/env python3
"""The container image's entry point and the Helm chart, without a container runtime.

No Docker engine runs on these machines, so the image's entry point script
(deploy/docker/entrypoint.sh) runs directly, as the image would run it: serve the models found
in a models folder, answer its HEALTHCHECK, drain on SIGTERM and exit 0, refuse a pull with
nothing to pull. The chart (deploy/helm/clipclap) goes through `helm lint --strict`, and
`helm template` with several sets of values through `kubeconform -strict` against Kubernetes'
schemas (all built by scripts/setup-go-tools.sh); values that would break a rollout must fail.

    tests/python/test_deploy.py [--binary build/release/clipclap] [--tools DIR]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Checks  # noqa: E402
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
CHART = ROOT / "deploy" / "helm" / "clipclap"
KINDS_WITHOUT_SCHEMAS = "ScaledObject,ServiceMonitor"  # KEDA's and the Prometheus Operator's CRDs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_entrypoint(check: Checks, binary: Path):
    work = Path(tempfile.mkdtemp(prefix="clipclap-entrypoint-"))
    try:
        models = work / "models"
        models.mkdir()
        (models / "clipclap-tiny").symlink_to(ROOT / "tests" / "fixtures" / "models" / "clipclap-tiny")
        port = free_port()
        env = dict(os.environ, CLIPCLAP_BIN=str(binary.resolve()), CLIPCLAP_MODELS_DIR=str(models), CLIPCLAP_PORT=str(port),
                   CLIPCLAP_HOST="127.0.0.1", CLIPCLAP_THREADS="1", CLIPCLAP_MAX_BATCH="8", CLIPCLAP_TIMEOUT_S="30")
        env.pop("CLIPCLAP_MODELS", None)
        health = lambda: subprocess.run([str(ENTRYPOINT), "health"], env=env, capture_output=True, timeout=10).returncode  # noqa: E731
        check(health() != 0, "health fails while nothing listens")
        proc = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while health() != 0 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        check(health() == 0, "entrypoint.sh (default: serve) answers the HEALTHCHECK")
        exe = os.readlink(f"/proc/{proc.pid}/exe")
        check(Path(exe).name == "clipclap", f"the script exec'd clipclap (PID {proc.pid} is {Path(exe).name}): SIGTERM reaches it")
        body = json.dumps({"texts": ["a cat"], "images": []}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/vectorize", data=body), timeout=30) as r:
            vectors = json.loads(r.read())["textVectors"]
        check(len(vectors) == 1 and len(vectors[0]) == 16, "it serves the models folder: /vectorize answers")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
        log = proc.stderr.read()
        check(code == 0 and '"event":"draining"' in log, f"SIGTERM drains and exits {code}")
        check(health() != 0, "health fails once it stopped")
        r = subprocess.run([str(ENTRYPOINT), "pull"], env=env, capture_output=True, text=True)
        check(r.returncode == 2 and "CLIPCLAP_MODELS" in r.stderr, f"pull with nothing to pull: exit {r.returncode}, {r.stderr.strip()}")
        r = subprocess.run([str(ENTRYPOINT), "nonsense"], env=env, capture_output=True, text=True)
        check(r.returncode == 2 and "unknown command" in r.stderr, f"an unknown command: exit {r.returncode}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_chart(check: Checks, tools: Path):
    helm, kubeconform = str(tools / "helm"), str(tools / "kubeconform")
    schemas = f"{tools / 'k8s-schemas'}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    r = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True)
    check(r.returncode == 0, f"helm lint --strict: {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()}")

    def template(*values):
        return subprocess.run([helm, "template", "cc", str(CHART), *values], capture_output=True, text=True)

    def conform(manifests: str):
        return subprocess.run([kubeconform, "-strict", "-summary", "-schema-location", schemas, "-skip", KINDS_WITHOUT_SCHEMAS],
                              input=manifests, capture_output=True, text=True)

    cases = {
        "defaults (HPA, PDB)": [],
        "pulled models, API key, KEDA, ServiceMonitor": [
            "--set", "models.pull={openai/clip-vit-base-patch32,laion/larger_clap_music_and_speech}", "--set", "models.hfTokenSecret=hf",
            "--set", "serve.apiKeySecret=key", "--set", "serve.weaviateModel=clipclap", "--set", "keda.enabled=true",
            "--set", "serviceMonitor.enabled=true", "--set", "serve.extraArgs={--precision,int8}"],
        "fixed replicas, no HPA, no PDB, a claim": [
            "--set", "autoscaling.enabled=false", "--set", "podDisruptionBudget.enabled=false",
            "--set", "models.volume.emptyDir=null", "--set", "models.volume.persistentVolumeClaim.claimName=models"],
    }
    for name, values in cases.items():
        rendered = template(*values)
        if rendered.returncode != 0:
            check(False, f"helm template ({name}): {rendered.stderr.strip()}")
            continue
        kinds = sorted({line.split(":", 1)[1].strip() for line in rendered.stdout.splitlines() if line.startswith("kind:")})
        r = conform(rendered.stdout)
        check(r.returncode == 0, f"helm template ({name}) | kubeconform -strict: {r.stdout.strip().splitlines()[-1] if r.stdout else r.stderr} "
                                 f"[{', '.join(kinds)}]")
    default = template().stdout
    check("path: /readyz" in default and "path: /healthz" in default, "readiness /readyz, liveness /healthz")
    r = template("--set", "terminationGracePeriodSeconds=10")
    check(r.returncode != 0 and "terminationGracePeriodSeconds" in r.stderr, "a grace period shorter than the request deadline is refused")
    # The validation is strict: a misspelt field fails (so the passes above mean something).
    r = conform(default.replace("readinessProbe:", "readinesProbe:"))
    check(r.returncode != 0 and "readinesProbe" in r.stdout, "kubeconform -strict catches a misspelt field")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "release" / "clipclap")
    ap.add_argument("--tools", type=Path, help="folder with helm, kubeconform, k8s-schemas (default: scripts/setup-go-tools.sh)")
    args = ap.parse_args()
    tools = args.tools or Path(subprocess.run([str(ROOT / "scripts" / "setup-go-tools.sh"), "helm", "kubeconform", "k8s-schemas"],
                                              check=True, capture_output=True, text=True).stdout.strip())
    check = Checks()
    check_entrypoint(check, args.binary)
    check_chart(check, tools)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
