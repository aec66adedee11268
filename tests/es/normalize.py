#!/usr/bin/env python3
"""Canonical NDJSON for comparisons: one JSON object per line with sorted
keys, lines sorted by the key field (as a string, so that big integers and
string ids sort alike). Integers stay exact (Python ints), which jq 1.6
cannot promise above 2^53.

    normalize.py [--key id] [--count] FILE...   ('-' reads stdin)
"""
import json
import sys


def canonical(v):
    """Numbers compare by value, as jq shows them: 1.0 is 1."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    if isinstance(v, list):
        return [canonical(x) for x in v]
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    return v


def main():
    args = sys.argv[1:]
    key = "id"
    if args[:1] == ["--key"]:
        key, args = args[1], args[2:]
    rows = []
    for name in args or ["-"]:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        for line in stream:
            line = line.strip()
            if line:
                doc = canonical(json.loads(line))
                rows.append((str(doc.get(key)), json.dumps(doc, sort_keys=True, ensure_ascii=False)))
    rows.sort()
    out = sys.stdout
    for _, text in rows:
        out.write(text + "\n")


if __name__ == "__main__":
    main()
