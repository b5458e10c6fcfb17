#!/usr/bin/env python3
"""Every public header compiles on its own as C99 -pedantic -Werror and as
C++ (STYLE.md), so it includes what it needs and nothing of libcurl, yajl or
SQLite leaks into a host's build.

usage: check-headers.py SRC_INCLUDE BUILD_INCLUDE -- CC... [-- CXX...]
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

FORBIDDEN = re.compile(r'#\s*include\s*[<"](curl/|yajl/|sqlite3)')


def main():
    args = sys.argv[1:]
    src_inc, build_inc = args[0], args[1]
    rest = args[3:]
    if "--" in rest:
        i = rest.index("--")
        cc, cxx = rest[:i], rest[i + 1:]
    else:
        cc, cxx = rest, []
    headers = sorted(p.relative_to(src_inc) for p in pathlib.Path(src_inc).rglob("*.h"))
    headers.append(pathlib.Path("pcref/version.h"))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for header in headers:
            path = pathlib.Path(src_inc) / header
            if path.exists() and FORBIDDEN.search(path.read_text()):
                print(f"FAIL {header}: includes a dependency's header")
                failures += 1
            for lang, compiler, flags in (
                    ("c", cc, ["-x", "c", "-std=c99", "-pedantic", "-Werror", "-Wall", "-Wextra"]),
                    ("c++", cxx, ["-x", "c++", "-std=c++11", "-pedantic", "-Werror", "-Wall", "-Wextra"])):
                if not compiler:
                    continue
                unit = os.path.join(tmp, "unit." + ("cpp" if lang == "c++" else "c"))
                with open(unit, "w") as f:
                    f.write(f"#include <{header.as_posix()}>\nint pcref_header_check_{lang == 'c'};\n")
                cmd = compiler + flags + ["-I", src_inc, "-I", build_inc, "-fsyntax-only", unit]
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode != 0:
                    failures += 1
                    print(f"FAIL {header} as {lang}:\n{res.stderr}")
                else:
                    print(f"ok   {header} as {lang}")
    print(f"{len(headers)} headers checked, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
