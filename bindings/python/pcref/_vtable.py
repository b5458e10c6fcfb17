"""Python objects as C vtables (the CRM backend, the state store).

One C function pointer per member is made once per process and shared by
every object of a kind; the vtable's ``payload`` is a key naming the object
in a registry. The registry keeps the object alive until the library calls
``destroy`` — whatever happens to the Python handle in between (it may have
been handed to C code). A Python exception in a member becomes its error
code (``errors.report``).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Callable

from .errors import report


class VtableBridge:
    def __init__(self, kind: str, base: type, members: tuple[tuple[str, Any], ...],
                 adapters: dict[str, Callable[..., Any]], *, mandatory: frozenset[str] = frozenset(),
                 passthrough: frozenset[str] = frozenset()):
        """``adapters[member](obj, *c_args)`` calls the Python method; the
        members in ``passthrough`` return its int (what a listing's callback
        returned), the others 0. ``mandatory`` members are always set, the
        others only when the class overrides ``base``'s method."""
        self.kind, self.base, self.members = kind, base, members
        self.mandatory, self.passthrough = mandatory, passthrough
        self.objects: dict[int, Any] = {}
        self.lock = threading.Lock()
        self.keys = itertools.count(1)
        self.thunks = {"destroy": dict(members)["destroy"](self._destroy)}
        self.thunks.update({name: ctype(self._trampoline(name, adapters[name]))
                            for name, ctype in members if name != "destroy"})

    def _trampoline(self, member: str, adapt: Callable[..., Any]) -> Callable[..., int]:
        def call(*args: Any) -> int:
            obj = self.objects.get(args[-1] or 0)
            try:
                if obj is None:
                    raise RuntimeError(f"no Python {self.kind} is registered under key {args[-1]}")
                rc = adapt(obj, *args[:-1])
                return rc if member in self.passthrough else 0
            except BaseException as e:
                return report(e, f"the {getattr(obj, 'name', '?')!r} {self.kind}'s {member}()")
        return call

    def _destroy(self, payload: Any) -> None:
        with self.lock:
            obj = self.objects.pop(payload or 0, None)
        if obj is not None:
            try:
                obj.close()
            except Exception:
                pass   # destroy cannot fail; the object is gone either way

    def install(self, obj: Any, struct_class: Any, new_function: Callable[[Any, Any], Any], out: Any) -> None:
        """Build the vtable for ``obj`` and call ``new_function(out, &vtable)``."""
        if not isinstance(obj, self.base):
            raise TypeError(f"a {self.kind} must be a {self.base.__module__}.{self.base.__name__}, "
                            f"not {type(obj).__name__}")
        with self.lock:
            key = next(self.keys)
            self.objects[key] = obj
        vt = struct_class.make()
        name = str(getattr(obj, "name", "python")).encode("utf-8")
        vt.name, vt.payload = name, key
        for member, _ in self.members:
            if member == "destroy" or member in self.mandatory or \
                    getattr(type(obj), member, None) is not getattr(self.base, member):
                setattr(vt, member, self.thunks[member])
        try:
            new_function(out, ctypes.byref(vt))
        except BaseException:
            with self.lock:    # on failure the library does not call destroy
                self.objects.pop(key, None)
            raise

    def live(self) -> int:
        """How many objects the library still holds."""
        return len(self.objects)
