"""Mapping: an installation's field-mapping configuration (pcref/mapping.h)."""

from __future__ import annotations

import ctypes
from typing import NamedTuple

from ._handle import Handle
from ._lib import lib
from .opportunity import FieldKey, field_id


class ExtraMapping(NamedTuple):
    referral: str      # JSON Pointer into the referral
    crm: str           # CRM field
    direction: int     # pcref.DIRECTION_*


class Mapping(Handle):
    """Which CRM field holds what, stage names, options, account matching,
    required-field defaults, custom field mappings and the conflict policy."""

    _free_function_ = "pcref_mapping_free"

    def __init__(self, backend: str = "memory"):
        """The defaults of a backend: ``"dynamics"``, ``"salesforce"`` or ``"memory"``."""
        ptr = self._pointer_type_()()
        lib.pcref_mapping_new(ctypes.byref(ptr), backend)
        super().__init__(ptr)

    @classmethod
    def load(cls, json: str | bytes) -> Mapping:
        """A mapping document (see doc/mapping.md): its backend's defaults, overridden."""
        return cls._parse(lib.pcref_mapping_load, json)

    def to_json(self) -> str:
        """The complete mapping (defaults included) as a JSON document."""
        return self._serialise(lib.pcref_mapping_to_json, "{}")

    @property
    def backend(self) -> str:
        return lib.pcref_mapping_backend(self._h) or ""

    def column(self, field: FieldKey) -> str | None:
        """The CRM field holding a canonical field, None when not mapped."""
        return lib.pcref_mapping_column(self._h, field_id(field))

    def set_column(self, field: FieldKey, column: str | None) -> None:
        lib.pcref_mapping_set_column(self._h, field_id(field), column)

    def entity(self, role: str) -> str | None:
        """The CRM table for a role (``opportunity``, ``account``, ...)."""
        return lib.pcref_mapping_entity(self._h, role)

    def stage(self, which: int) -> str | None:
        """A stage name (``pcref.STAGE_*``)."""
        return lib.pcref_mapping_stage(self._h, which)

    def option(self, which: int) -> bool:
        """An option (``pcref.OPTION_*``)."""
        v = lib.pcref_mapping_option(self._h, which)
        if v < 0:
            raise ValueError(f"unknown mapping option {which}")
        return bool(v)

    @property
    def account_match(self) -> list[int]:
        h = self._h
        return [lib.pcref_mapping_account_match(h, i) for i in range(lib.pcref_mapping_account_match_count(h))]

    def required_defaults(self, record: str = "opportunity") -> dict[str, str]:
        """Required-field defaults (R-28) of a new ``record``: CRM field -> value text."""
        h = self._h
        columns = [lib.pcref_mapping_required_default_column(h, record, i)
                   for i in range(lib.pcref_mapping_required_default_count(h, record))]
        return {c: lib.pcref_mapping_required_default(h, record, c) or "" for c in columns if c}

    @property
    def extras(self) -> list[ExtraMapping]:
        """The custom field mappings (R-32)."""
        h = self._h
        return [ExtraMapping(lib.pcref_mapping_extra_referral(h, i) or "", lib.pcref_mapping_extra_crm(h, i) or "",
                             lib.pcref_mapping_extra_direction(h, i))
                for i in range(lib.pcref_mapping_extra_count(h))]

    def conflict_winner(self, field: FieldKey) -> int:
        """Who wins a conflict on this field (``pcref.WINNER_*``)."""
        return lib.pcref_mapping_conflict_winner(self._h, field_id(field))
