"""libpcref for Python: keep Microsoft Partner Center co-sell referrals and a
CRM in sync.

Pure ctypes over the shared library: ``$PCREF_LIBRARY`` if set, else
``libpcref.so.1`` from the dynamic loader's path. The library is initialised
on import (``pcref_init()``) and shut down at exit, after every handle still
open was closed.

    >>> import pcref
    >>> r = pcref.Referral.parse(open("referral.json").read())
    >>> r.customer_name, r.deal_value, r.currency

Failures raise ``pcref.Error`` subclasses (``pcref.NotFound``,
``pcref.Conflict``, ...) carrying ``code``, ``message``, ``http_status`` and
``service_code``. See doc/python.md.
"""

from __future__ import annotations

import atexit

from ._constants import *  # noqa: F401,F403  (the C constants, without PCREF_)
from ._handle import close_all as _close_all
from ._lib import SONAME, LibraryNotFound, lib as _native
from .connection import Connection, TokenProvider
from .crm import Crm, CrmBackend
from .errors import (Auth, Conflict, Error, Exists, Invalid, Network, NoMemory, NotFound, NotSupported, Protocol,
                     Replay, Service, Signature, State, Store, Throttled, User, Version, error_class, strerror)
from .mapping import ExtraMapping, Mapping
from .opportunity import FIELDS, Opportunity, SolutionRef, field_id, field_kind, field_name
from .partnercenter import PartnerCenter, WebhookRegistration
from .referral import (Member, Referral, ReferralStream, Solution, Target, country_check, currency_check, iter_page,
                       parse_list, status_check, status_is_terminal, status_transition_check)
from .webhook import WebhookEvent, WebhookVerifier, verify_webhook

__version__ = "0.1.0"
"""The version of these bindings (the library's own: ``pcref.version()``)."""

__all__ = [
    "Auth", "Conflict", "Connection", "Crm", "CrmBackend", "Error", "Exists", "ExtraMapping", "FIELDS",
    "Invalid", "LibraryNotFound", "Mapping", "Member", "Network", "NoMemory", "NotFound", "NotSupported",
    "Opportunity", "PartnerCenter", "Protocol", "Referral", "ReferralStream", "Replay", "SONAME", "Service",
    "Signature", "Solution", "SolutionRef", "State", "Store", "Target", "Throttled", "TokenProvider", "User",
    "Version", "WebhookEvent", "WebhookRegistration", "WebhookVerifier", "country_check", "currency_check",
    "error_class", "field_id", "field_kind", "field_name", "iter_page", "library_path", "parse_list",
    "status_check", "status_is_terminal", "status_transition_check", "strerror", "verify_webhook", "version",
]


def version() -> str:
    """The version of the libpcref loaded, e.g. ``"0.1.0"``."""
    return _native.pcref_version_string() or ""


def library_path() -> str:
    """The file the library was loaded from (as given to the loader)."""
    return str(_native.path)


_native.pcref_init()


@atexit.register
def _shutdown() -> None:
    _close_all()
    _native.pcref_shutdown()
