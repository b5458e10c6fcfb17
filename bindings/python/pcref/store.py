"""Store: the sync engine's state (pcref/store.h), and StoreBackend, a store
implemented in Python (pcref/sys/store.h)."""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Iterator

from ._handle import Handle, time_in, time_out
from ._lib import LINK_CB, RETRY_CB, STORE_BACKEND_MEMBERS, Link as _CLink, Retry as _CRetry, StoreBackendStruct, lib
from ._vtable import VtableBridge
from .errors import Exists, NotFound


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


@dataclass
class Link:
    """A link between a referral and a CRM record, with the merge base."""
    referral_id: str | None = None
    crm_id: str | None = None
    base: str | None = None            # canonical values last synced (Opportunity JSON)
    referral_etag: str | None = None
    crm_version: str | None = None
    started_ms: int | None = None
    synced_ms: int | None = None
    last_code: int = 0
    last_message: str | None = None
    flags: int = 0                     # pcref.LINK_*


@dataclass
class RetryItem:
    """An item of the retry queue (R-34)."""
    side: int                          # pcref.SIDE_*
    id: str
    attempts: int = 0
    next_ms: int | None = None
    last_code: int = 0
    last_message: str | None = None


_TIMES = ("started_ms", "synced_ms", "next_ms")


def _from_c(cls: Any, ptr: Any) -> Any:
    """A dataclass copy of a struct the library lends."""
    c = ptr.contents
    values = {}
    for f in fields(cls):
        v = getattr(c, f.name)
        values[f.name] = _text(v) if isinstance(v, bytes) else time_out(v) if f.name in _TIMES else v
    return cls(**values)


def _to_c(struct_class: Any, obj: Any) -> Any:
    """The C struct of a dataclass (its strings live as long as the struct)."""
    s = struct_class.make()
    for f in fields(obj):
        v = getattr(obj, f.name)
        if f.name in _TIMES:
            v = time_in(v)
        elif isinstance(v, str):
            v = v.encode("utf-8")
        setattr(s, f.name, v)
    return s


def _collect(cls: Any, found: list[Any]) -> Callable[[Any, Any], int]:
    def each(ptr: Any, payload: Any) -> int:
        found.append(_from_c(cls, ptr))
        return 0
    return each


class Store(Handle):
    """Where the sync engine keeps links, merge bases, watermarks, the retry
    queue and the webhook deliveries it handled: ``Store.sqlite(path)``
    (durable), ``Store.memory()``, or ``Store.from_backend(obj)``."""

    _free_function_ = "pcref_store_free"

    def __init__(self) -> None:
        raise TypeError("use Store.sqlite(), Store.memory() or Store.from_backend()")

    @classmethod
    def sqlite(cls, path: str) -> Store:
        return cls._from_out(lambda out: lib.pcref_store_sqlite_open(out, path, 0))

    @classmethod
    def memory(cls) -> Store:
        return cls._from_out(lambda out: lib.pcref_store_memory_new(out))

    @classmethod
    def from_backend(cls, backend: StoreBackend) -> Store:
        return cls._from_out(lambda out: _bridge.install(backend, StoreBackendStruct, lib.pcref_store_new, out),
                             parents=(backend,))

    @property
    def name(self) -> str:
        return lib.pcref_store_name(self._h) or ""

    def begin(self) -> None:
        lib.pcref_store_begin(self._h)

    def commit(self) -> None:
        lib.pcref_store_commit(self._h)

    def rollback(self) -> None:
        lib.pcref_store_rollback(self._h)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """``with store.transaction():`` commits at the end, rolls back on an exception."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def link(self, referral_id: str | None = None, crm_id: str | None = None) -> Link:
        """The link of a referral, or (without one) of a CRM record; ``pcref.NotFound`` if none."""
        found: list[Link] = []
        lib.pcref_store_link_get(self._h, referral_id, crm_id, LINK_CB(_collect(Link, found)), None)
        return found[0]

    def put_link(self, link: Link) -> None:
        lib.pcref_store_link_put(self._h, ctypes.byref(_to_c(_CLink, link)))

    def delete_link(self, referral_id: str | None = None, crm_id: str | None = None) -> None:
        lib.pcref_store_link_delete(self._h, referral_id, crm_id)

    def links(self) -> list[Link]:
        found: list[Link] = []
        lib.pcref_store_link_list(self._h, LINK_CB(_collect(Link, found)), None)
        return found

    def watermark(self, name: str) -> int | None:
        ms = ctypes.c_int64()
        lib.pcref_store_watermark_get(self._h, name, ctypes.byref(ms))
        return time_out(ms.value)

    def set_watermark(self, name: str, ms: int | None) -> None:
        lib.pcref_store_watermark_set(self._h, name, time_in(ms))

    def put_retry(self, item: RetryItem) -> None:
        lib.pcref_store_retry_put(self._h, ctypes.byref(_to_c(_CRetry, item)))

    def delete_retry(self, side: int, id: str) -> None:
        lib.pcref_store_retry_delete(self._h, side, id)

    def retries(self, due_ms: int | None = None) -> list[RetryItem]:
        """The retry items due at ``due_ms`` (None: all), soonest first."""
        found: list[RetryItem] = []
        lib.pcref_store_retry_list(self._h, time_in(due_ms), RETRY_CB(_collect(RetryItem, found)), None)
        return found

    def record_delivery(self, key: str, received_ms: int) -> bool:
        """Record a webhook delivery: True when new, False when seen before."""
        try:
            lib.pcref_store_delivery_record(self._h, key, received_ms)
        except Exists:
            return False
        return True

    def prune_deliveries(self, before_ms: int) -> None:
        lib.pcref_store_delivery_prune(self._h, before_ms)


class StoreBackend:
    """Base class of a state store implemented in Python
    (``Store.from_backend(obj)``). Every method is mandatory (see
    pcref/sys/store.h for the contract); failures are exceptions, as for
    ``pcref.CrmBackend``. Times are epoch ms, None for "none"."""

    name = "python"

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def link_get(self, referral_id: str | None, crm_id: str | None) -> Link | None:
        """The link by referral id, or (when None) by CRM id; None when there is none."""
        raise NotImplementedError

    def link_put(self, link: Link) -> None:
        raise NotImplementedError

    def link_delete(self, referral_id: str | None, crm_id: str | None) -> None:
        """Raise ``pcref.NotFound`` when there is none."""
        raise NotImplementedError

    def link_list(self) -> Iterable[Link]:
        """Every link, by referral id then CRM id (None first)."""
        raise NotImplementedError

    def watermark_get(self, name: str) -> int | None:
        raise NotImplementedError

    def watermark_set(self, name: str, ms: int | None) -> None:
        raise NotImplementedError

    def retry_put(self, item: RetryItem) -> None:
        raise NotImplementedError

    def retry_delete(self, side: int, id: str) -> None:
        raise NotImplementedError

    def retry_list(self, due_ms: int | None) -> Iterable[RetryItem]:
        """Items due at ``due_ms`` (None: all), soonest first, then by side and id."""
        raise NotImplementedError

    def delivery_record(self, key: str, received_ms: int) -> bool:
        """True when the delivery is new, False when it was recorded before."""
        raise NotImplementedError

    def delivery_prune(self, before_ms: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Called once, when the Store is freed."""


def _each(items: Iterable[Any], struct_class: Any, cb: Any, cb_payload: Any) -> int:
    for item in items:
        c = _to_c(struct_class, item)
        rc = cb(ctypes.byref(c), cb_payload)
        if rc:
            return int(rc)
    return 0


def _link_get(b: StoreBackend, rid: bytes | None, cid: bytes | None, cb: Any, cb_payload: Any) -> int:
    link = b.link_get(_text(rid), _text(cid))
    if link is None:
        raise NotFound(f"no link for referral {_text(rid)!r} / CRM record {_text(cid)!r}")
    return _each([link], _CLink, cb, cb_payload)


def _watermark_get(b: StoreBackend, name: bytes, out: Any) -> None:
    out[0] = time_in(b.watermark_get(_text(name) or ""))


def _delivery_record(b: StoreBackend, key: bytes, ms: int) -> None:
    if not b.delivery_record(_text(key) or "", ms):
        raise Exists(f"webhook delivery {_text(key)} was recorded before")


_ADAPTERS: dict[str, Callable[..., Any]] = {
    "begin": lambda b: b.begin(),
    "commit": lambda b: b.commit(),
    "rollback": lambda b: b.rollback(),
    "link_get": _link_get,
    "link_put": lambda b, p: b.link_put(_from_c(Link, p)),
    "link_delete": lambda b, rid, cid: b.link_delete(_text(rid), _text(cid)),
    "link_list": lambda b, cb, cbp: _each(b.link_list(), _CLink, cb, cbp),
    "watermark_get": _watermark_get,
    "watermark_set": lambda b, name, ms: b.watermark_set(_text(name) or "", time_out(ms)),
    "retry_put": lambda b, p: b.retry_put(_from_c(RetryItem, p)),
    "retry_delete": lambda b, side, id: b.retry_delete(side, _text(id) or ""),
    "retry_list": lambda b, due, cb, cbp: _each(b.retry_list(time_out(due)), _CRetry, cb, cbp),
    "delivery_record": _delivery_record,
    "delivery_prune": lambda b, ms: b.delivery_prune(ms),
}

_bridge = VtableBridge("store", StoreBackend, STORE_BACKEND_MEMBERS, _ADAPTERS,
                       mandatory=frozenset(name for name, _ in STORE_BACKEND_MEMBERS),
                       passthrough=frozenset({"link_get", "link_list", "retry_list"}))
