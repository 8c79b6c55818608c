#!/usr/bin/env python3
"""Kubernetes' JSON schemas for kubeconform, made offline from the API's OpenAPI document.

kubeconform fetches its schemas from GitHub by default, which these machines cannot reach. The
same schemas follow from Kubernetes' own `api/openapi-spec/swagger.json` (in the k8s.io/kubernetes
module, served by the Go module proxy): one file per kind, named as kubeconform looks them up
(`{kind}-{group}-{version}.json`, lower case, the group's first label; core kinds
`{kind}-{version}.json`), their references into a shared `_definitions.json`. Strict, as
`kubeconform -strict` expects: an object with listed properties takes no others (kubectl's rule).

    scripts/k8s_schemas.py --swagger swagger.json --out DIR
    kubeconform -strict -schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json' ...
"""
import argparse
import json
from pathlib import Path


def strict(node):
    """References point into _definitions.json; typed-as-string fields that also take numbers
    (IntOrString, Quantity) take both; listed properties are the only ones allowed."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: strict(v) for k, v in node.items()}
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/definitions/"):
        node["$ref"] = "_definitions.json" + node["$ref"]
    if node.get("format") == "int-or-string":
        node.pop("type", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--swagger", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    definitions = json.loads(args.swagger.read_text())["definitions"]
    # resource.Quantity is a string in the document, and a number in many manifests ("cpu: 2").
    for name, d in definitions.items():
        if name.endswith(".api.resource.Quantity"):
            d.pop("type", None)
            d["oneOf"] = [{"type": "string"}, {"type": "number"}]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "_definitions.json").write_text(json.dumps({"definitions": strict(definitions)}))
    kinds = 0
    for name, d in definitions.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group = gvk["group"].split(".")[0]
            suffix = f"-{group}-{gvk['version']}" if group else f"-{gvk['version']}"
            schema = strict(d)
            schema["$schema"] = "http://json-schema.org/schema#"
            (args.out / f"{gvk['kind'].lower()}{suffix}.json").write_text(json.dumps(schema))
            kinds += 1
    print(f"{kinds} kinds written to {args.out}")


if __name__ == "__main__":
    main()
