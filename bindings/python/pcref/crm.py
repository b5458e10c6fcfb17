"""Crm (pcref/crm.h) and CrmBackend, a CRM implemented in Python
(pcref/sys/crm_backend.h)."""

from __future__ import annotations

import ctypes
import json as _json
from typing import Any, Callable, Iterable, Iterator, Sequence

from . import _constants as K
from ._handle import Handle, callback_iterator, time_in, time_out
from ._lib import CRM_BACKEND_MEMBERS, OPPORTUNITY_CB, CrmBackendStruct, lib
from .connection import Connection
from ._vtable import VtableBridge
from .errors import Invalid
from .mapping import Mapping
from .opportunity import FieldKey, Opportunity, field_id


def _fields_array(fields: Sequence[FieldKey] | None) -> tuple[Any, int]:
    if not fields:
        return None, 0
    ids = [field_id(f) for f in fields]
    return (ctypes.c_int * len(ids))(*ids), len(ids)


def _copy_lent(ptr: Any) -> Opportunity:
    return Opportunity._from_out(lambda out: lib.pcref_opportunity_dup(out, ptr))


class Crm(Handle):
    """A CRM the sync engine reads and writes opportunities through: a
    built-in backend (``Crm.memory()``, ``Crm.dynamics()``, ``Crm.salesforce()``) or one written
    in Python (``Crm.from_backend(MyBackend())``)."""

    _free_function_ = "pcref_crm_free"

    def __init__(self) -> None:
        raise TypeError("use Crm.memory(), Crm.dynamics(), Crm.salesforce() or Crm.from_backend()")

    @classmethod
    def memory(cls, currencies: Sequence[str] | None = None, users: Sequence[str] | None = None) -> Crm:
        """The in-memory CRM. By default it has USD, EUR, GBP, SEK, JPY, CAD,
        AUD and any user; pass lists to have exactly those."""
        config: dict[str, list[str]] = {}
        if currencies is not None:
            config["currencies"] = list(currencies)
        if users is not None:
            config["users"] = list(users)
        text = _json.dumps(config) if config else None
        return cls._from_out(lambda out: lib.pcref_crm_memory_new(out, text))

    @classmethod
    def dynamics(cls, connection: Connection, mapping: Mapping | None = None) -> Crm:
        """Dynamics 365 Sales through the Dataverse Web API (see doc/dynamics.md)."""
        return cls._from_out(lambda out: lib.pcref_crm_dynamics_new(out, connection._h, mapping._h if mapping else None),
                             parents=(connection,))

    @classmethod
    def salesforce(cls, connection: Connection, mapping: Mapping | None = None) -> Crm:
        """A Salesforce org through the REST API (see doc/salesforce.md)."""
        return cls._from_out(lambda out: lib.pcref_crm_salesforce_new(out, connection._h,
                                                                      mapping._h if mapping else None),
                             parents=(connection,))

    @classmethod
    def from_backend(cls, backend: CrmBackend) -> Crm:
        """Wrap a ``pcref.CrmBackend``: the library calls its methods."""
        return cls._from_out(lambda out: _install(backend, out), parents=(backend,))

    def detach(self) -> int:
        """Hand the handle over to C code, which frees it with pcref_crm_free();
        returns its address. This object is closed afterwards; a Python
        backend stays alive until the library destroys it."""
        ptr = self._h
        self._ptr = None
        self._gone = "detached"
        return ctypes.cast(ptr, ctypes.c_void_p).value or 0

    @property
    def name(self) -> str:
        return lib.pcref_crm_name(self._h) or ""

    def get_opportunity(self, id: str) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_crm_get_opportunity(out, self._h, id))

    def find_opportunity(self, referral_id: str) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_crm_find_opportunity(out, self._h, referral_id))

    def create_opportunity(self, opp: Opportunity) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_crm_create_opportunity(out, self._h, opp._h))

    def update_opportunity(self, opp: Opportunity, fields: Sequence[FieldKey]) -> Opportunity:
        arr, n = _fields_array(fields)
        return Opportunity._from_out(lambda out: lib.pcref_crm_update_opportunity(out, self._h, opp._h, arr, n))

    def list_modified(self, since: int | None = None) -> Iterator[Opportunity]:
        """Iterate over the opportunities modified at or after ``since`` (epoch
        ms; None: all), oldest first. Do not call this CRM from the loop body."""
        return callback_iterator(
            self, lambda each: lib.pcref_crm_list_modified(self._h, time_in(since), OPPORTUNITY_CB(each), None),
            _copy_lent)

    def ensure_account(self, opp: Opportunity, match_fields: Sequence[FieldKey] | None = None) -> str:
        """Find or create the account of ``opp``; sets and returns its account id."""
        arr, n = _fields_array(match_fields)
        lib.pcref_crm_ensure_account(self._h, opp._h, arr, n)
        return str(opp[K.FIELD_ACCOUNT_ID])

    def ensure_contact(self, opp: Opportunity) -> str:
        """Find or create the customer contact of ``opp``; sets and returns its contact id."""
        lib.pcref_crm_ensure_contact(self._h, opp._h)
        return str(opp[K.FIELD_CONTACT_ID])

    def add_solution(self, id: str, solution_id: str, name: str | None = None) -> None:
        lib.pcref_crm_add_solution(self._h, id, solution_id, name)

    def remove_solution(self, id: str, solution_id: str) -> None:
        lib.pcref_crm_remove_solution(self._h, id, solution_id)

    def close_opportunity(self, id: str, won: bool, reason: str | None = None) -> None:
        lib.pcref_crm_close_opportunity(self._h, id, 1 if won else 0, reason)

    def find_lead(self, referral_id: str) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_crm_find_lead(out, self._h, referral_id))

    def create_lead(self, lead: Opportunity) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_crm_create_lead(out, self._h, lead._h))

    def update_lead(self, lead: Opportunity, fields: Sequence[FieldKey]) -> Opportunity:
        arr, n = _fields_array(fields)
        return Opportunity._from_out(lambda out: lib.pcref_crm_update_lead(out, self._h, lead._h, arr, n))

    def resolve_currency(self, iso_code: str) -> None:
        """``pcref.NotFound`` naming the currency when the CRM lacks it (R-29)."""
        lib.pcref_crm_resolve_currency(self._h, iso_code)

    def resolve_user(self, email: str) -> None:
        """``pcref.NotFound`` naming the user when the CRM lacks it (R-29)."""
        lib.pcref_crm_resolve_user(self._h, email)

    def batch_begin(self) -> None:
        lib.pcref_crm_batch_begin(self._h)

    def batch_commit(self) -> None:
        lib.pcref_crm_batch_commit(self._h)


# ---- CRM backends written in Python ------------------------------------------------------------


class CrmBackend:
    """Base class of a CRM implemented in Python; ``Crm.from_backend(obj)``
    turns it into a libpcref CRM the sync engine uses like a built-in one.

    Override the methods your CRM supports; the others stay NULL in the C
    vtable, so calling them fails with ``pcref.NotSupported`` naming the
    backend. The contract is the vtable's (doc/backends.md):

    - Records are ``pcref.Opportunity``. Return them with ``FIELD_ID``,
      ``FIELD_VERSION`` and ``FIELD_MODIFIED_TIME`` set; the library copies
      what you return. The records you receive are lent for the call (copy
      them with ``.copy()`` to keep them).
    - Fail by raising: ``pcref.NotFound`` (no such record, missing currency or
      user), ``pcref.Conflict`` (stale version), ``pcref.Invalid`` (refused
      data), ``pcref.Auth``, ``pcref.Network``... keep their code; any other
      exception becomes ``PCREF_EUSER`` with its message. Say what failed
      and what to do: the message reaches the partner's audit trail.
    - Times are epoch milliseconds; ``since`` of ``list_modified`` is None
      for "everything".
    - Calls come from one thread at a time per Crm.
    """

    name = "python"

    def get_opportunity(self, id: str) -> Opportunity:
        raise NotImplementedError

    def find_opportunity(self, referral_id: str) -> Opportunity:
        raise NotImplementedError

    def create_opportunity(self, opp: Opportunity) -> Opportunity:
        raise NotImplementedError

    def update_opportunity(self, opp: Opportunity, fields: list[int]) -> Opportunity:
        raise NotImplementedError

    def list_modified(self, since: int | None) -> Iterable[Opportunity]:
        raise NotImplementedError

    def ensure_account(self, opp: Opportunity, match_fields: list[int]) -> None:
        """Find or create the account; set ``opp[FIELD_ACCOUNT_ID]``. An empty
        ``match_fields`` means the default, name and postal code (R-27)."""
        raise NotImplementedError

    def ensure_contact(self, opp: Opportunity) -> None:
        raise NotImplementedError

    def add_solution(self, id: str, solution_id: str, name: str | None) -> None:
        raise NotImplementedError

    def remove_solution(self, id: str, solution_id: str) -> None:
        raise NotImplementedError

    def close_opportunity(self, id: str, won: bool, reason: str | None) -> None:
        raise NotImplementedError

    def find_lead(self, referral_id: str) -> Opportunity:
        raise NotImplementedError

    def create_lead(self, lead: Opportunity) -> Opportunity:
        raise NotImplementedError

    def update_lead(self, lead: Opportunity, fields: list[int]) -> Opportunity:
        raise NotImplementedError

    def resolve_currency(self, iso_code: str) -> None:
        raise NotImplementedError

    def resolve_user(self, email: str) -> None:
        raise NotImplementedError

    def batch_begin(self) -> None:
        raise NotImplementedError

    def batch_commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's resources; called once, when the Crm is freed."""


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def _give(out: Any, opp: Any, what: str) -> None:
    """Hand a returned record to the library through ``pcref_opportunity **out``."""
    if not out:
        return
    if not isinstance(opp, Opportunity):
        raise Invalid(f"{what} must return a pcref.Opportunity, not {type(opp).__name__}")
    lib.pcref_opportunity_dup(out, opp._h)


def _lend(ptr: Any, call: Callable[[Opportunity], Any]) -> Any:
    view = Opportunity._borrow(ptr)
    try:
        return call(view)
    finally:
        view._revoke()


def _fields(arr: Any, n: int) -> list[int]:
    return [arr[i] for i in range(n)] if arr else []


def _list(since: int, cb: Any, cb_payload: Any, backend: CrmBackend) -> int:
    for opp in backend.list_modified(time_out(since)):
        rc = cb(opp._h, cb_payload)
        if rc:
            return rc
    return 0


# member name -> how the C arguments (without the payload) reach the Python method
_ADAPTERS: dict[str, Callable[..., Any]] = {
    "get_opportunity": lambda b, out, id: _give(out, b.get_opportunity(_text(id)), "get_opportunity"),
    "find_opportunity": lambda b, out, rid: _give(out, b.find_opportunity(_text(rid)), "find_opportunity"),
    "create_opportunity": lambda b, out, o: _give(out, _lend(o, b.create_opportunity), "create_opportunity"),
    "update_opportunity": lambda b, out, o, arr, n: _give(
        out, _lend(o, lambda v: b.update_opportunity(v, _fields(arr, n))), "update_opportunity"),
    "list_modified": lambda b, since, cb, cb_payload: _list(since, cb, cb_payload, b),
    "ensure_account": lambda b, o, arr, n: _lend(o, lambda v: b.ensure_account(v, _fields(arr, n))),
    "ensure_contact": lambda b, o: _lend(o, b.ensure_contact),
    "add_solution": lambda b, id, sid, name: b.add_solution(_text(id), _text(sid), _text(name)),
    "remove_solution": lambda b, id, sid: b.remove_solution(_text(id), _text(sid)),
    "close_opportunity": lambda b, id, won, reason: b.close_opportunity(_text(id), bool(won), _text(reason)),
    "find_lead": lambda b, out, rid: _give(out, b.find_lead(_text(rid)), "find_lead"),
    "create_lead": lambda b, out, o: _give(out, _lend(o, b.create_lead), "create_lead"),
    "update_lead": lambda b, out, o, arr, n: _give(
        out, _lend(o, lambda v: b.update_lead(v, _fields(arr, n))), "update_lead"),
    "resolve_currency": lambda b, iso: b.resolve_currency(_text(iso)),
    "resolve_user": lambda b, email: b.resolve_user(_text(email)),
    "batch_begin": lambda b: b.batch_begin(),
    "batch_commit": lambda b: b.batch_commit(),
}


_bridge = VtableBridge("CRM backend", CrmBackend, CRM_BACKEND_MEMBERS, _ADAPTERS,
                       passthrough=frozenset({"list_modified"}))


def _install(backend: CrmBackend, out: Any) -> None:
    _bridge.install(backend, CrmBackendStruct, lib.pcref_crm_new, out)
