#!/usr/bin/python3
"""Validates evidence documents against schemas/evidence.v1.schema.json.

usage: validate_evidence.py FILE...   exit 0 when every file is valid; else
prints each violation (file, JSON path, message) and exits 1.

Besides the schema, checks what JSON Schema cannot say: failures_total
counts every failing test case, so it is at least the number listed.
"""
import json
import pathlib
import sys

import jsonschema

SCHEMA = pathlib.Path(__file__).resolve().parent.parent / "schemas" / "evidence.v1.schema.json"


def semantic_errors(doc):
    """Yields (path, message) for the rules outside the schema."""
    if not isinstance(doc, dict):
        return
    failures, total = doc.get("failures"), doc.get("failures_total")
    if isinstance(failures, list) and isinstance(total, int) and total < len(failures):
        yield "failures_total", f"{total} is less than the {len(failures)} failures listed"


def main(paths):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    bad = 0
    for path in paths:
        doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
            bad += 1
        for where, message in semantic_errors(doc):
            print(f"{path}: {where}: {message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
