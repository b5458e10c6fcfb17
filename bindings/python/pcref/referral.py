"""Referral: one Partner Center referral (pcref/referral.h)."""

from __future__ import annotations

import ctypes
import math
from typing import Any, Iterable, Iterator, NamedTuple

from . import _constants as K
from ._handle import Handle, OwnedString, as_bytes, time_in, time_out
from ._lib import REFERRAL_CB, REFERRAL_FIELDS, lib


class Solution(NamedTuple):
    id: str
    name: str | None
    type: str | None


class Member(NamedTuple):
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None


class Target(NamedTuple):
    type: str | None
    id: str | None


def _field(suffix: str, kind: str, settable: bool) -> property:
    getter = getattr(lib, "pcref_referral_" + suffix)
    setter = getattr(lib, "pcref_referral_set_" + suffix) if settable else None
    if kind == "time":
        def get(self: Referral) -> Any:
            return time_out(getter(self._h))

        def put(self: Referral, value: Any) -> None:
            setter(self._h, time_in(value))
    elif kind == "number":
        def get(self: Referral) -> Any:
            v = getter(self._h)
            return None if math.isnan(v) else v

        def put(self: Referral, value: Any) -> None:
            setter(self._h, math.nan if value is None else float(value))
    else:
        def get(self: Referral) -> Any:
            return getter(self._h)

        def put(self: Referral, value: Any) -> None:
            setter(self._h, value)
    doc = f"``pcref_referral_{suffix}()``" + (" (settable)" if settable else " (read-only)")
    return property(get, put if settable else None, doc=doc)


class Referral(Handle):
    """One Partner Center referral, parsed from and written back to the
    Referrals API JSON without losing anything.

    Every field the library models is a property (``name``, ``status``,
    ``deal_value``, ``closing_time``, ...); text is ``str`` or ``None``,
    date-times are epoch milliseconds or ``None``, the deal value a ``float``
    or ``None``. Settable ones write through the library's validating setters
    (``pcref.Invalid`` for a bad country, currency, ...).
    """

    _free_function_ = "pcref_referral_free"

    def __init__(self, json: str | bytes | None = None):
        """An empty referral (``{}``), or one parsed from ``json``."""
        ptr = self._pointer_type_()()
        if json is None:
            lib.pcref_referral_new(ctypes.byref(ptr))
        else:
            data = as_bytes(json)
            lib.pcref_referral_parse(ctypes.byref(ptr), data, len(data))
        super().__init__(ptr)

    @classmethod
    def parse(cls, json: str | bytes) -> Referral:
        """Parse one referral (``pcref.Protocol`` naming the bad field)."""
        return cls(json)

    def copy(self) -> Referral:
        return Referral._from_out(lambda out: lib.pcref_referral_dup(out, self._h))

    __copy__ = copy

    def to_json(self) -> str:
        """The referral as compact JSON, every field it was parsed with kept."""
        return self._serialise(lib.pcref_referral_to_json, "")

    def __repr__(self) -> str:
        if self.closed:
            return "<pcref.Referral closed>"
        return f"<pcref.Referral {self.id!r} {self.status}/{self.substatus} {self.name!r}>"

    # typed fields (generated below from the table of _lib)
    id: str | None
    name: str | None
    status: str | None
    substatus: str | None

    def set_status(self, status: str, substatus: str) -> None:
        """Set status and substatus together (an allowed pair, see ``pcref.status_check``)."""
        lib.pcref_referral_set_status(self._h, status, substatus)

    def consent(self, which: int) -> bool | None:
        """A ``pcref.CONSENT_*`` flag: True, False or None when absent."""
        v = lib.pcref_referral_consent(self._h, which)
        return None if v < 0 else bool(v)

    def set_consent(self, which: int, value: bool | None) -> None:
        lib.pcref_referral_set_consent(self._h, which, -1 if value is None else int(bool(value)))

    @property
    def solutions(self) -> list[Solution]:
        h = self._h
        return [Solution(lib.pcref_referral_solution_id(h, i), lib.pcref_referral_solution_name(h, i),
                         lib.pcref_referral_solution_type(h, i))
                for i in range(lib.pcref_referral_solution_count(h))]

    def add_solution(self, id: str, name: str | None = None, type: str | None = None) -> None:
        lib.pcref_referral_solution_add(self._h, id, name, type)

    def remove_solution(self, index: int) -> None:
        lib.pcref_referral_solution_remove(self._h, index)

    def members(self, which: int = K.MEMBERS_CUSTOMER) -> list[Member]:
        """The customer's contacts (``pcref.MEMBERS_CUSTOMER``) or the partner's team."""
        h = self._h
        return [Member(lib.pcref_referral_member_first_name(h, which, i),
                       lib.pcref_referral_member_last_name(h, which, i),
                       lib.pcref_referral_member_email(h, which, i),
                       lib.pcref_referral_member_phone(h, which, i))
                for i in range(lib.pcref_referral_member_count(h, which))]

    def add_member(self, which: int, first_name: str | None = None, last_name: str | None = None,
                   email: str | None = None, phone: str | None = None) -> None:
        lib.pcref_referral_member_add(self._h, which, first_name, last_name, email, phone)

    def remove_member(self, which: int, index: int) -> None:
        lib.pcref_referral_member_remove(self._h, which, index)

    @property
    def targets(self) -> list[Target]:
        h = self._h
        return [Target(lib.pcref_referral_target_type(h, i), lib.pcref_referral_target_id(h, i))
                for i in range(lib.pcref_referral_target_count(h))]

    def add_target(self, type: str, id: str) -> None:
        lib.pcref_referral_target_add(self._h, type, id)

    def get(self, pointer: str) -> str | None:
        """The string at a JSON Pointer (``/customerProfile/ids/0/id``), None when absent or not a string."""
        return lib.pcref_referral_get_string(self._h, pointer)

    def get_json(self, pointer: str) -> str:
        """The JSON value at a JSON Pointer, serialised (``pcref.NotFound`` when absent)."""
        s = OwnedString()
        lib.pcref_referral_get_json(self._h, pointer, s.out)
        return s.take() or ""

    def set_json(self, pointer: str, json: str | bytes) -> None:
        """Set the value at a JSON Pointer from JSON text (``/-`` appends)."""
        data = as_bytes(json)
        lib.pcref_referral_set_json(self._h, pointer, data, len(data))

    def diff(self, changed: Referral) -> str:
        """The JSON Patch that turns this referral into ``changed`` (``[]`` when equal)."""
        s = OwnedString()
        lib.pcref_referral_diff(s.out, s.out_len, self._h, changed._h)
        return s.take() or "[]"

    def validate(self) -> None:
        """Check the referral before sending it (``pcref.Invalid`` naming the first problem)."""
        lib.pcref_referral_validate(self._h, 0)


for _suffix, _kind, _settable in REFERRAL_FIELDS:
    setattr(Referral, _suffix, _field(_suffix, _kind, _settable))
del _suffix, _kind, _settable


def _copy_lent(ptr: Any) -> Referral:
    """An owned copy of a referral the library lends to a callback."""
    return Referral._from_out(lambda out: lib.pcref_referral_dup(out, ptr))


def parse_list(json: str | bytes) -> tuple[list[Referral], str | None]:
    """Parse a whole Referrals API list page held in memory: its referrals and
    its ``@odata.nextLink`` (None on the last page)."""
    data = as_bytes(json)
    found: list[Referral] = []
    link = OwnedString()

    def each(ptr: Any, payload: Any) -> int:
        found.append(_copy_lent(ptr))
        return 0

    lib.pcref_referral_list_parse(data, len(data), REFERRAL_CB(each), None, link.out)
    return found, link.take()


class ReferralStream(Handle):
    """An incremental parser of a list page fed in chunks: ``feed()`` returns
    the referrals each chunk completed, so memory stays bounded by one
    referral whatever the page size."""

    _free_function_ = "pcref_referral_stream_free"

    def __init__(self) -> None:
        self._ready: list[Referral] = []

        def each(ptr: Any, payload: Any) -> int:
            self._ready.append(_copy_lent(ptr))
            return 0

        self._cb = REFERRAL_CB(each)   # kept alive as long as the stream
        ptr = self._pointer_type_()()
        lib.pcref_referral_stream_new(ctypes.byref(ptr), self._cb, None)
        super().__init__(ptr)

    def _take(self) -> list[Referral]:
        ready, self._ready = self._ready, []
        return ready

    def feed(self, chunk: str | bytes) -> list[Referral]:
        data = as_bytes(chunk)
        try:
            lib.pcref_referral_stream_feed(self._h, data, len(data))
        finally:
            ready = self._take()
        return ready

    def finish(self) -> list[Referral]:
        """Declare the page complete (``pcref.Protocol`` when truncated)."""
        try:
            lib.pcref_referral_stream_finish(self._h)
        finally:
            ready = self._take()
        return ready

    @property
    def next_link(self) -> str | None:
        return lib.pcref_referral_stream_next_link(self._h)

    @property
    def count(self) -> int:
        return lib.pcref_referral_stream_count(self._h)


def iter_page(chunks: Iterable[str | bytes]) -> Iterator[Referral]:
    """The referrals of a list page read in chunks (a file, an HTTP body), one
    by one as each is complete."""
    with ReferralStream() as stream:
        for chunk in chunks:
            yield from stream.feed(chunk)
        yield from stream.finish()


def status_check(status: str, substatus: str) -> None:
    """Raise ``pcref.Invalid`` unless Partner Center allows this status/substatus pair."""
    lib.pcref_status_check(status, substatus)


def status_transition_check(from_status: str, from_substatus: str, to_status: str, to_substatus: str) -> None:
    """Raise ``pcref.Invalid`` unless a referral may move between these states."""
    lib.pcref_status_transition_check(from_status, from_substatus, to_status, to_substatus)


def status_is_terminal(status: str) -> bool:
    return bool(lib.pcref_status_is_terminal(status))


def country_check(code: str) -> None:
    """Raise ``pcref.Invalid`` unless an ISO 3166-1 alpha-2 code."""
    lib.pcref_country_check(code)


def currency_check(code: str) -> None:
    """Raise ``pcref.Invalid`` unless an ISO 4217 code."""
    lib.pcref_currency_check(code)
