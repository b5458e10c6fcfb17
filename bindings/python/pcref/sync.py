"""Sync: the sync engine (pcref/sync.h)."""

from __future__ import annotations

import ctypes
import json as _json
from typing import Any, Callable, Mapping as _Mapping, NamedTuple

from . import _constants as K
from ._handle import Handle
from ._lib import SYNC_EVENT_CB, SYNC_PROGRESS_CB, SYNC_REPORT_COUNTERS, SyncOptions, SyncReport, lib
from .crm import Crm
from .errors import remember_callback_exception
from .mapping import Mapping
from .partnercenter import PartnerCenter
from .store import Store
from .webhook import WebhookVerifier, delivery_from_headers


class SyncEvent(NamedTuple):
    """One outcome reported by the engine (a copy)."""
    direction: int             # pcref.DIRECTION_TO_CRM or DIRECTION_TO_PC
    action: int                # pcref.ACTION_*
    referral_id: str | None
    crm_id: str | None
    fields: list[int]          # field ids written (or to be written)
    conflicts: list[int]       # fields changed on both sides, settled by the policy
    changes: dict[str, Any] | None   # {"field": [old, new], ...}
    code: int                  # pcref.OK, or the error of ACTION_FAIL
    message: str | None
    dry_run: bool


def _text(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def _event(ptr: Any) -> SyncEvent:
    e = ptr.contents
    return SyncEvent(e.direction, e.action, _text(e.referral_id), _text(e.crm_id),
                     [e.fields[i] for i in range(e.nfields)], [e.conflicts[i] for i in range(e.nconflicts)],
                     _json.loads(e.changes) if e.changes else None, e.code, _text(e.message),
                     bool(e.flags & K.SYNC_DRY_RUN))


class Sync(Handle):
    """The sync engine between Partner Center and a CRM.

    ``on_event(event)`` receives every outcome (a ``pcref.SyncEvent``);
    ``on_progress(done, total)`` the progress of a backfill (return False to
    stop it). An exception raised by either is re-raised from the call that
    ran it, once the engine has returned. Each entry point returns the
    counts of what it did (a dict: ``examined``, ``created``, ``updated``,
    ...); ``dry_run=True`` plans without writing.
    """

    _free_function_ = "pcref_sync_free"

    def __init__(self, partner_center: PartnerCenter, crm: Crm, mapping: Mapping, store: Store, *,
                 on_event: Callable[[SyncEvent], None] | None = None,
                 on_progress: Callable[[int, int], bool | None] | None = None,
                 referral_link_base: str | None = None, retry_max_attempts: int = 0, retry_delay_ms: int = 0,
                 overlap_ms: int = 0):
        self._raised: BaseException | None = None
        o = SyncOptions.make()
        self._callbacks: list[Any] = []   # alive as long as the engine
        if on_event is not None:
            def event(ptr: Any, payload: Any) -> None:
                try:
                    on_event(_event(ptr))
                except BaseException as e:
                    self._raised = self._raised or e
            self._callbacks.append(SYNC_EVENT_CB(event))
            o.on_event = self._callbacks[-1]
        if on_progress is not None:
            def progress(done: int, total: int, payload: Any) -> int:
                try:
                    return 0 if on_progress(done, total) is not False else 1
                except BaseException as e:
                    remember_callback_exception(e)
                    self._raised = self._raised or e
                    return 1
            self._callbacks.append(SYNC_PROGRESS_CB(progress))
            o.on_progress = self._callbacks[-1]
        o.referral_link_base = referral_link_base.encode("utf-8") if referral_link_base else None
        o.retry_max_attempts, o.retry_delay_ms, o.overlap_ms = retry_max_attempts, retry_delay_ms, overlap_ms
        ptr = self._pointer_type_()()
        lib.pcref_sync_new(ctypes.byref(ptr), partner_center._h, crm._h, mapping._h, store._h, ctypes.byref(o))
        super().__init__(ptr, parents=(partner_center, crm, store))

    def _run(self, call: Callable[[Any], Any]) -> dict[str, int]:
        report = SyncReport.make()
        self._raised = None
        try:
            call(ctypes.byref(report))
        finally:
            raised, self._raised = self._raised, None
        if raised is not None:
            raise raised
        return {name: getattr(report, name) for name in SYNC_REPORT_COUNTERS}

    @staticmethod
    def _flags(dry_run: bool) -> int:
        return K.SYNC_DRY_RUN if dry_run else 0

    def poll(self, dry_run: bool = False) -> dict[str, int]:
        """The reconciliation pass (watermarks, then the retry queue)."""
        return self._run(lambda r: lib.pcref_sync_poll(self._h, self._flags(dry_run), r))

    def referral(self, referral_id: str, dry_run: bool = False) -> dict[str, int]:
        """Sync one referral with its CRM record."""
        return self._run(lambda r: lib.pcref_sync_referral(self._h, referral_id, self._flags(dry_run), r))

    def opportunity(self, crm_id: str, dry_run: bool = False) -> dict[str, int]:
        """Sync one CRM record with its referral."""
        return self._run(lambda r: lib.pcref_sync_opportunity(self._h, crm_id, self._flags(dry_run), r))

    def backfill(self, dry_run: bool = False) -> dict[str, int]:
        """Compare everything, whatever the watermarks say."""
        return self._run(lambda r: lib.pcref_sync_backfill(self._h, self._flags(dry_run), r))

    def handle_webhook(self, verifier: WebhookVerifier, body: bytes | str, headers: _Mapping[str, Any] | Any,
                       dry_run: bool = False) -> dict[str, int]:
        """Verify a delivery (the raw body and the request's headers, as for
        ``pcref.verify_webhook``) and sync the referral it names. Raises
        ``pcref.Error`` whose ``http_status`` is the status to answer."""
        d = delivery_from_headers(body, headers)
        return self._run(lambda r: lib.pcref_sync_handle_webhook(self._h, verifier._h, ctypes.byref(d),
                                                                 self._flags(dry_run), r))
