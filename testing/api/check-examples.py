"""Every example in the admin API's OpenAPI document fits its schema.

Run by scripts/api-fuzz.sh before schemathesis (whose examples phase sends
the request examples but never checks the response ones). Exits non-zero,
naming each example that does not fit.
"""
import json
import sys

import jsonschema_rs

spec = json.load(open(sys.argv[1]))
components = spec["components"]


def check(where, schema, example):
    v = jsonschema_rs.validator_for({**schema, "components": components})
    return [f"{where}: {e.message}" for e in v.iter_errors(example)]


problems, checked = [], 0
for name, schema in components["schemas"].items():
    if "example" in schema:
        checked += 1
        problems += check(f"schema {name}", {"$ref": f"#/components/schemas/{name}"}, schema["example"])
for path, item in spec["paths"].items():
    for method, op in item.items():
        bodies = [("request", c) for c in op.get("requestBody", {}).get("content", {}).values()]
        bodies += [(status, c) for status, r in op["responses"].items() for c in r.get("content", {}).values()]
        for what, c in bodies:
            if "example" in c:
                checked += 1
                problems += check(f"{method} {path} {what}", c["schema"], c["example"])
print("\n".join(problems) or f"{checked} examples fit their schemas")
sys.exit(1 if problems else 0)
