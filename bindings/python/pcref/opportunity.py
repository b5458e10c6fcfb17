"""Opportunity: the CRM-neutral record (pcref/opportunity.h)."""

from __future__ import annotations

import ctypes
import json as _json
from typing import Any, Iterator, NamedTuple, Union

from . import _constants as K
from ._handle import Handle, OwnedString, time_in, time_out
from ._lib import lib

Value = Union[str, float, int, bool, None]
FieldKey = Union[int, str]


def _field_table() -> tuple[dict[str, int], dict[int, int]]:
    names, kinds = {}, {}
    for f in range(lib.pcref_opportunity_field_count()):
        names[lib.pcref_opportunity_field_name(f)] = f
        kinds[f] = lib.pcref_opportunity_field_kind(f)
    return names, kinds


FIELDS, _KINDS = _field_table()
"""Field names (``"deal_value"``) to ids (``pcref.FIELD_DEAL_VALUE``), as the loaded library knows them."""


def field_id(key: FieldKey) -> int:
    """A field id from an id or a name (``pcref.Invalid`` for neither)."""
    if isinstance(key, int) and key in _KINDS:
        return key
    if isinstance(key, str) and key in FIELDS:
        return FIELDS[key]
    from .errors import Invalid
    raise Invalid(f"unknown opportunity field {key!r}; known: {', '.join(FIELDS)}")


def field_name(field: int) -> str:
    return lib.pcref_opportunity_field_name(field_id(field)) or ""


def field_kind(field: FieldKey) -> int:
    """A field's ``pcref.KIND_*``."""
    return _KINDS[field_id(field)]


class SolutionRef(NamedTuple):
    id: str
    name: str | None


class Opportunity(Handle):
    """A CRM-neutral opportunity or lead: a set of fields, solutions and extra fields.

    Fields are read and written by id or name, with the field's kind deciding
    the Python type: text ``str``, number ``float``, date-time epoch
    milliseconds ``int``, flag ``bool``. An unset field reads as ``None``;
    assigning ``None`` (or ``del``) unsets it::

        opp = pcref.Opportunity(name="Contoso", deal_value=50000, currency="USD")
        opp[pcref.FIELD_STAGE] = "Qualify"
        opp["deal_value"]        # 50000.0
    """

    _free_function_ = "pcref_opportunity_free"

    def __init__(self, fields: dict[FieldKey, Value] | None = None, **named: Value):
        ptr = self._pointer_type_()()
        lib.pcref_opportunity_new(ctypes.byref(ptr))
        super().__init__(ptr)
        for key, value in {**(fields or {}), **named}.items():
            self[key] = value

    @classmethod
    def from_json(cls, json: str | bytes) -> Opportunity:
        """Read the JSON form written by ``to_json()``."""
        return cls._parse(lib.pcref_opportunity_from_json, json)

    def to_json(self) -> str:
        """``{"fields": {...}, "solutions": [...], "extra": {...}}``."""
        return self._serialise(lib.pcref_opportunity_to_json, "{}")

    def copy(self) -> Opportunity:
        return Opportunity._from_out(lambda out: lib.pcref_opportunity_dup(out, self._h))

    __copy__ = copy

    def __repr__(self) -> str:
        if self.closed:
            return "<pcref.Opportunity closed>"
        return f"<pcref.Opportunity {self[K.FIELD_ID]!r} {self[K.FIELD_NAME]!r}>"

    # -- fields -----------------------------------------------------------------------
    def __contains__(self, key: FieldKey) -> bool:
        return bool(lib.pcref_opportunity_has(self._h, field_id(key)))

    def __getitem__(self, key: FieldKey) -> Value:
        f, h = field_id(key), self._h
        if not lib.pcref_opportunity_has(h, f):
            return None
        kind = _KINDS[f]
        if kind == K.KIND_TEXT:
            return lib.pcref_opportunity_text(h, f)
        if kind == K.KIND_NUMBER:
            return lib.pcref_opportunity_number(h, f)
        if kind == K.KIND_TIME:
            return time_out(lib.pcref_opportunity_time(h, f))
        return lib.pcref_opportunity_flag(h, f) == 1

    def __setitem__(self, key: FieldKey, value: Value) -> None:
        f, h = field_id(key), self._h
        if value is None:
            lib.pcref_opportunity_unset(h, f)
            return
        kind = _KINDS[f]
        if kind == K.KIND_TEXT:
            lib.pcref_opportunity_set_text(h, f, value)
        elif kind == K.KIND_NUMBER:
            lib.pcref_opportunity_set_number(h, f, float(value))  # type: ignore[arg-type]
        elif kind == K.KIND_TIME:
            lib.pcref_opportunity_set_time(h, f, time_in(value))  # type: ignore[arg-type]
        else:
            lib.pcref_opportunity_set_flag(h, f, 1 if value else 0)

    def __delitem__(self, key: FieldKey) -> None:
        lib.pcref_opportunity_unset(self._h, field_id(key))

    def get(self, key: FieldKey, default: Value = None) -> Value:
        value = self[key]
        return default if value is None else value

    def fields(self) -> dict[str, Value]:
        """Every set field, by name."""
        return {name: self[f] for name, f in FIELDS.items() if f in self}

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields())

    def same(self, other: Opportunity, key: FieldKey) -> bool:
        """Whether a field has the same value (or is unset) in both."""
        return bool(lib.pcref_opportunity_field_equal(self._h, other._h, field_id(key)))

    # -- solutions (R-07) --------------------------------------------------------------
    @property
    def solutions(self) -> list[SolutionRef]:
        h = self._h
        return [SolutionRef(lib.pcref_opportunity_solution_id(h, i), lib.pcref_opportunity_solution_name(h, i))
                for i in range(lib.pcref_opportunity_solution_count(h))]

    def add_solution(self, id: str, name: str | None = None) -> None:
        lib.pcref_opportunity_solution_add(self._h, id, name)

    def remove_solution(self, id: str) -> None:
        lib.pcref_opportunity_solution_remove(self._h, id)

    def same_solutions(self, other: Opportunity) -> bool:
        return bool(lib.pcref_opportunity_solutions_equal(self._h, other._h))

    # -- extra fields (custom mappings) ------------------------------------------------
    @property
    def extra(self) -> dict[str, Any]:
        """The extra fields, decoded from JSON."""
        h = self._h
        names = [lib.pcref_opportunity_extra_name(h, i) for i in range(lib.pcref_opportunity_extra_count(h))]
        return {n: self.get_extra(n) for n in names if n is not None}

    def get_extra(self, name: str) -> Any:
        """An extra field's value decoded from JSON (``pcref.NotFound`` when absent)."""
        s = OwnedString()
        lib.pcref_opportunity_extra_get(self._h, name, s.out)
        return _json.loads(s.take() or "null")

    def set_extra(self, name: str, value: Any) -> None:
        """Set an extra field to any JSON-serialisable value."""
        data = _json.dumps(value).encode("utf-8")
        lib.pcref_opportunity_extra_set(self._h, name, data, len(data))

    def del_extra(self, name: str) -> None:
        lib.pcref_opportunity_extra_set(self._h, name, None, 0)
