"""The bindings agree with the C headers: every constant's value (by a C
program compiled against the headers and run now), every struct's size and
field offsets, and every function's presence, arity and argument types.
Both directions: what the headers add must be bound (or listed in
``pcref._lib.UNBOUND`` / ``NOT_BOUND`` below with a reason).

Needs a C compiler: PCREF_CC (set by meson test), else cc.
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path

import pcref
from pcref import _constants, _lib
from support import BUILD_ROOT, SOURCE_ROOT

INCLUDE = Path(SOURCE_ROOT) / "include"
BUILD_INCLUDE = Path(BUILD_ROOT) / "include"
CC = shlex.split(os.environ.get("PCREF_CC", "cc"))

NOT_BOUND = {
    # the headers' own version: compared with pcref.__version__ instead
    "PCREF_VERSION_MAJOR", "PCREF_VERSION_MINOR", "PCREF_VERSION_MICRO", "PCREF_VERSION_NUMBER",
    "PCREF_VERSION_STRING",
}


def header_text() -> str:
    files = sorted(INCLUDE.rglob("*.h"))
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_constants() -> set[str]:
    """Object-like PCREF_ macros with a value, and enumerators."""
    text = strip_comments(header_text())
    names = set()
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(PCREF_\w+)(\(?)[ \t]*(.*)$", text, flags=re.M):
        name, function_like, value = m.groups()
        if function_like or not value.strip() or name.endswith(("_H", "_INIT")) or name in (
                "PCREF_API", "PCREF_BEGIN_DECLS", "PCREF_END_DECLS"):
            continue
        names.add(name)
    for body in re.findall(r"typedef\s+enum\s+\w*\s*\{(.*?)\}", text, flags=re.S):
        names.update(re.findall(r"\b(PCREF_\w+)\s*=", body))
    return names


def header_functions() -> dict[str, tuple[str, list[str]]]:
    """name -> (return type, parameter declarations) of every PCREF_API function."""
    text = " ".join(strip_comments(header_text()).split())
    found = {}
    for m in re.finditer(r"PCREF_API\s+([^;()]*?)\b(pcref_\w+)\s*\(([^;]*?)\)\s*;", text):
        ret, name, params = m.groups()
        plist = [] if params.strip() in ("", "void") else [p.strip() for p in params.split(",")]
        found[name] = (ret.strip(), plist)
    return found


C_SCALARS = {"int": ("signed", 4), "unsigned int": ("unsigned", 4), "uint32_t": ("unsigned", 4),
             "int32_t": ("signed", 4), "int64_t": ("signed", 8), "uint64_t": ("unsigned", 8),
             "size_t": ("unsigned", ctypes.sizeof(ctypes.c_size_t)), "double": ("float", 8), "void": "void"}


def c_category(decl: str, is_return: bool = False) -> object:
    """What a C parameter (or return) type is for ctypes: 'ptr', 'void' or (signedness, size)."""
    decl = re.sub(r"\b(const|struct)\b", " ", decl)
    if "*" in decl or re.search(r"\bpcref_\w+_cb\b", decl):
        return "ptr"
    words = decl.split()
    return C_SCALARS[" ".join(words if is_return else words[:-1])]   # (dropping the parameter's name)


def py_category(t: object) -> object:
    if t is _lib.STATUS:
        t = ctypes.c_int
    if t is None:
        return "void"
    code = getattr(t, "_type_", None)
    if isinstance(code, str) and code in "bhilqBHILQd":
        kind = "float" if code == "d" else "unsigned" if code.isupper() else "signed"
        return (kind, ctypes.sizeof(t))  # type: ignore[arg-type]
    return "ptr"


class Functions(unittest.TestCase):
    def test_every_exported_function_is_bound_or_excused(self) -> None:
        declared = header_functions()
        self.assertGreater(len(declared), 150, "the header parser found too little")
        bound = {name for name, _, _ in _lib.FUNCTIONS}
        self.assertEqual(sorted(set(declared) - bound - set(_lib.UNBOUND)), [],
                         "functions in the headers that the bindings' table lacks")
        self.assertEqual(sorted(bound - set(declared)), [], "functions in the table that no header declares")

    def test_each_binding_has_the_c_signature(self) -> None:
        declared = header_functions()
        for name, argtypes, restype in _lib.FUNCTIONS:
            with self.subTest(name):
                ret, params = declared[name]
                self.assertEqual(len(argtypes), len(params), f"{name}: arity")
                self.assertEqual([py_category(a) for a in argtypes], [c_category(p) for p in params])
                want = c_category(ret, is_return=True)
                got = "ptr" if restype is _lib.TEXT else py_category(restype)
                self.assertEqual(got, want, f"{name}: return type")


class Values(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        names = sorted(n for n in vars(_constants) if n.isupper())
        structs = _lib.STRUCTS
        lines = ['#include <stddef.h>', '#include <stdio.h>', '#include <pcref/pcref.h>',
                 '#include <pcref/sys/crm_backend.h>', '#include <pcref/sys/store.h>', 'int main(void) {']
        for n in names:
            if isinstance(getattr(_constants, n), str):
                lines.append(f'printf("{n}=%s\\n", PCREF_{n});')
            else:
                lines.append(f'printf("{n}=%lld\\n", (long long)(PCREF_{n}));')
        for s in structs:
            lines.append(f'printf("sizeof {s._c_name_}=%zu\\n", sizeof({s._c_name_}));')
            for field, _ in s._fields_:
                lines.append(f'printf("offsetof {s._c_name_}.{field}=%zu\\n", offsetof({s._c_name_}, {field}));')
                lines.append(f'printf("sizeof {s._c_name_}.{field}=%zu\\n", sizeof((({s._c_name_} *)0)->{field}));')
        lines.append('printf("PCREF_VERSION_STRING=%s\\n", PCREF_VERSION_STRING);')
        lines.append("return 0; }")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pcref-constants-")
        src, exe = os.path.join(cls.tmp.name, "values.c"), os.path.join(cls.tmp.name, "values")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        build = subprocess.run(CC + ["-std=c11", "-I", str(INCLUDE), "-I", str(BUILD_INCLUDE), "-o", exe, src],
                               capture_output=True, text=True, timeout=60)
        if build.returncode != 0:
            raise AssertionError(f"the constants program does not compile (a binding constant the headers "
                                 f"lack?):\n{build.stderr}")
        out = subprocess.run([exe], capture_output=True, text=True, check=True, timeout=30).stdout
        cls.c = dict(line.split("=", 1) for line in out.splitlines())

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_every_binding_constant_has_the_c_value(self) -> None:
        for n in sorted(n for n in vars(_constants) if n.isupper()):
            with self.subTest(n):
                value = getattr(_constants, n)
                self.assertEqual(str(value), self.c[n])
                self.assertEqual(getattr(pcref, n), value, "exported from pcref")

    def test_every_header_constant_is_bound(self) -> None:
        missing = sorted(n for n in header_constants() - NOT_BOUND if not hasattr(_constants, n[len("PCREF_"):]))
        self.assertEqual(missing, [], "constants of the headers the bindings lack (add them to _constants.py)")

    def test_struct_layouts_match(self) -> None:
        for s in _lib.STRUCTS:
            with self.subTest(s._c_name_):
                self.assertEqual(ctypes.sizeof(s), int(self.c[f"sizeof {s._c_name_}"]))
                for field, _ in s._fields_:
                    self.assertEqual(getattr(s, field).offset, int(self.c[f"offsetof {s._c_name_}.{field}"]), field)
                    self.assertEqual(getattr(s, field).size, int(self.c[f"sizeof {s._c_name_}.{field}"]), field)

    def test_struct_versions_are_the_headers(self) -> None:
        for s in _lib.STRUCTS:
            if getattr(s, "_version_", 0):
                macro = s._c_name_.upper().replace("PCREF_", "", 1) + "_VERSION"
                self.assertEqual(s._version_, int(self.c[macro]), s._c_name_)

    def test_bindings_version_is_the_projects(self) -> None:
        self.assertEqual(pcref.__version__, self.c["PCREF_VERSION_STRING"])


if __name__ == "__main__":
    unittest.main()
