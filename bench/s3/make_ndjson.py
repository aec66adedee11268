#!/usr/bin/env python3
"""make_ndjson.py OUT MB: about MB MiB of ~1 KB e-commerce-like NDJSON records
(seeded, so every run of the benchmark uploads the same bytes)."""
import json
import random
import sys

out, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]
limit = mb * 1024 * 1024
written = 0
i = 0
with open(out, "w") as f:
    while written < limit:
        rec = {
            "id": i,
            "sku": "SKU-%08d" % rng.randrange(10**8),
            "title": " ".join(rng.choice(words) for _ in range(8)),
            "price": round(rng.random() * 500, 2),
            "stock": rng.randrange(1000),
            "created_at": "2024-12-%02dT%02d:%02d:00Z" % (1 + i % 28, i % 24, i % 60),
            "tags": [rng.choice(words) for _ in range(4)],
            "brand": {"name": rng.choice(words).title(), "country": rng.choice(["FR", "DE", "US"])},
            "description": " ".join(rng.choice(words) for _ in range(90)),
        }
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        f.write(line)
        written += len(line)
        i += 1
print(i)
