#!/usr/bin/env python3
"""ABI guard: the exported dynamic symbols of libpcref.so, the PCREF_API
declarations of the public headers and lib/libpcref.map must name exactly
the same functions (STYLE.md "Symbols, SONAME, ABI checking").

usage: check-symbols.py NM LIBPCREF_SO INCLUDE_DIR MAP_FILE
"""
import pathlib
import re
import subprocess
import sys


def header_symbols(include_dir):
    syms = set()
    for header in sorted(pathlib.Path(include_dir).rglob("*.h")):
        text = header.read_text(encoding="utf-8")
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)   # drop comments
        text = re.sub(r"^\s*#.*?(?<!\\)$", " ", text, flags=re.M | re.S)  # and the preprocessor
        for decl in re.finditer(r"PCREF_API\b([^;{]*?)\b(\w+)\s*\(", text):
            syms.add(decl.group(2))
    return syms


def exported_symbols(nm, so):
    out = subprocess.run([nm, "-D", "--defined-only", so], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRWVi":
            syms.add(parts[2].split("@")[0])
    return syms


def map_symbols(map_file):
    text = re.sub(r"/\*.*?\*/", " ", pathlib.Path(map_file).read_text(), flags=re.S)
    return set(re.findall(r"\b(pcref_\w+)\s*;", text))


def main():
    nm, so, include_dir, map_file = sys.argv[1:5]
    headers = header_symbols(include_dir)
    exported = exported_symbols(nm, so)
    mapped = map_symbols(map_file)
    failed = False
    for name, got, want in (("exported but not declared PCREF_API in a header", exported, headers),
                            ("declared PCREF_API but not exported", headers, exported),
                            ("declared PCREF_API but missing from libpcref.map", headers, mapped),
                            ("in libpcref.map but not declared in a header", mapped, headers)):
        extra = sorted(got - want)
        if extra:
            failed = True
            print(f"{len(extra)} symbol(s) {name}:")
            for s in extra:
                print("   ", s)
    outside = sorted(s for s in exported if not s.startswith("pcref_") or s.startswith("pcref__"))
    if outside:
        failed = True
        print("exported symbols outside the pcref_ namespace:", ", ".join(outside))
    if not headers:
        failed = True
        print("no PCREF_API declarations found under", include_dir)
    print(f"{len(headers)} public functions; {len(exported)} exported; {len(mapped)} in the map")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
