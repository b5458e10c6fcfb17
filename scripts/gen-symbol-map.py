#!/usr/bin/env python3
"""Print the PCREF_API functions of the public headers that lib/libpcref.map
does not list yet, ready to paste into the node of the release being made
(never into an earlier node: see doc/abi.md).

usage: python3 scripts/gen-symbol-map.py
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "abi"))
import importlib  # noqa: E402

check = importlib.import_module("check-symbols")
root = pathlib.Path(__file__).resolve().parent.parent
missing = sorted(check.header_symbols(root / "include") - check.map_symbols(root / "lib" / "libpcref.map"))
for name in missing:
    print(f"\t{name};")
