#!/usr/bin/python3
"""Validates evidence documents against schemas/evidence.v1.schema.json.

usage: validate_evidence.py FILE...   exit 0 when every file is valid; else
prints each violation (file, JSON path, message) and exits 1.
"""
import json
import pathlib
import sys

import jsonschema

SCHEMA = pathlib.Path(__file__).resolve().parent.parent / "schemas" / "evidence.v1.schema.json"


def main(paths):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    bad = 0
    for path in paths:
        doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            print(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
