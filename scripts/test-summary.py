#!/usr/bin/env python3
"""Print one closing line 'N passed, N failed[, N skipped]' for a meson test
run (its testlog.json), so any CI reads the outcome the same way."""
import json
import sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif result == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
label = sys.argv[2] + ": " if len(sys.argv) > 2 else ""
print(f"{label}{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
sys.exit(1 if counts["failed"] or not counts["passed"] else 0)
