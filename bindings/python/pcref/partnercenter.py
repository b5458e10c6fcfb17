"""PartnerCenter: the Referrals API client and the webhook registration
(pcref/partnercenter.h)."""

from __future__ import annotations

import ctypes
from typing import Any, Iterator, NamedTuple, Sequence

from . import _constants as K
from ._handle import Handle, as_bytes, callback_iterator
from ._lib import REFERRAL_CB, ReferralQuery, lib
from .connection import Connection
from .errors import Error
from .referral import Referral, _copy_lent


class WebhookRegistration(NamedTuple):
    url: str
    events: list[str]
    replaced_url: str | None   # the URL a registration replaced, else None


def _registration(fill: Any) -> WebhookRegistration:
    ptr = lib.pcref_webhook_registration_free.argtypes[0]()
    fill(ctypes.byref(ptr))
    try:
        return WebhookRegistration(
            lib.pcref_webhook_registration_url(ptr) or "",
            [lib.pcref_webhook_registration_event(ptr, i) or ""
             for i in range(lib.pcref_webhook_registration_event_count(ptr))],
            lib.pcref_webhook_registration_replaced_url(ptr))
    finally:
        lib.pcref_webhook_registration_free(ptr)


class PartnerCenter(Handle):
    """A Partner Center client over a Referrals API connection and,
    optionally, a webhook API connection (the two take tokens for
    different audiences). Both connections are kept alive by the client."""

    _free_function_ = "pcref_partner_center_free"

    def __init__(self, referrals: Connection, webhooks: Connection | None = None):
        ptr = self._pointer_type_()()
        lib.pcref_partner_center_new(ctypes.byref(ptr), referrals._h, webhooks._h if webhooks else None)
        super().__init__(ptr, parents=(referrals, webhooks))

    def referrals(self, filter: str | None = None, orderby: str | None = None, select: str | None = None,
                  top: int = 0) -> Iterator[Referral]:
        """Iterate over the referrals matching the OData options, page after
        page (memory stays bounded by a page's referral). Do not call this
        client from the loop body; leave the loop to stop listing."""
        q = ReferralQuery.make()
        keep = [s.encode("utf-8") if s is not None else None for s in (filter, orderby, select)]
        q.filter, q.orderby, q.select = keep
        q.top = top
        return callback_iterator(
            self, lambda each: lib.pcref_partner_center_list_referrals(self._h, ctypes.byref(q), REFERRAL_CB(each),
                                                                       None),
            _copy_lent)

    def related(self, engagement_id: str) -> Iterator[Referral]:
        """Iterate over the referrals of one engagement (every party's record of a deal)."""
        return callback_iterator(
            self, lambda each: lib.pcref_partner_center_list_related(self._h, engagement_id, REFERRAL_CB(each),
                                                                     None),
            _copy_lent)

    def get_referral(self, id: str) -> Referral:
        """Read one referral (``pcref.NotFound`` when there is none)."""
        return Referral._from_out(lambda out: lib.pcref_partner_center_get_referral(out, self._h, id))

    def create_referral(self, referral: Referral) -> Referral:
        """Create a referral; returns it as stored. Never retried after a server error."""
        return Referral._from_out(lambda out: lib.pcref_partner_center_create_referral(out, self._h, referral._h))

    def update_referral(self, id: str, patch: str | bytes, if_match: str | None = None) -> Referral:
        """Apply a JSON Patch (``pcref.Conflict`` when ``if_match`` is stale)."""
        data = as_bytes(patch)
        return Referral._from_out(
            lambda out: lib.pcref_partner_center_update_referral(out, self._h, id, data, len(data), if_match))

    def apply(self, original: Referral, changed: Referral) -> Referral:
        """Write the difference between a referral as read and as it should be."""
        return Referral._from_out(lambda out: lib.pcref_partner_center_apply(out, self._h, original._h, changed._h))

    def invite_microsoft(self, referral: Referral) -> Referral:
        """Invite Microsoft to a Shared referral (idempotent)."""
        return Referral._from_out(lambda out: lib.pcref_partner_center_invite_microsoft(out, self._h, referral._h))

    def create_cosell(self, referral: Referral) -> tuple[Referral, Referral]:
        """Create a co-sell referral in two steps; returns (partner's, Microsoft's).
        If the second step fails, the exception's ``partner`` attribute holds
        the partner's referral, for ``invite_microsoft()`` to retry."""
        rtype = lib.pcref_referral_free.argtypes[0]
        partner, microsoft = rtype(), rtype()
        try:
            lib.pcref_partner_center_create_cosell(ctypes.byref(partner), ctypes.byref(microsoft), self._h,
                                                   referral._h)
        except Error as e:
            e.partner = _adopt(partner)  # type: ignore[attr-defined]
            _adopt(microsoft)
            raise
        return _adopt(partner), _adopt(microsoft)  # type: ignore[return-value]

    def webhook_registration(self) -> WebhookRegistration:
        """The current registration (``pcref.NotFound`` when there is none)."""
        return _registration(lambda out: lib.pcref_partner_center_webhook_get(out, self._h))

    def register_webhook(self, url: str, events: Sequence[str] | None = None, *, overwrite: bool = False,
                         signature_header: bool = False) -> WebhookRegistration:
        """Register ``url`` for ``events`` (default: the four referral events).
        Replacing another URL needs ``overwrite=True`` (else ``pcref.Exists``)."""
        arr = None
        if events is not None:
            arr = (ctypes.c_char_p * (len(events) + 1))(*[e.encode("utf-8") for e in events], None)
        flags = (K.WEBHOOK_OVERWRITE if overwrite else 0) | (K.WEBHOOK_SIGNATURE_HEADER if signature_header else 0)
        return _registration(lambda out: lib.pcref_partner_center_webhook_register(out, self._h, url, arr, flags))


def _adopt(ptr: Any) -> Referral | None:
    if not ptr:
        return None
    r = Referral.__new__(Referral)
    Handle.__init__(r, ptr)
    return r
