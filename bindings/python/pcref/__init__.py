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

from ._constants import (  # the C constants, without PCREF_
    ACTION_ACCEPT, ACTION_CLOSE, ACTION_CREATE, ACTION_DECLINE, ACTION_FAIL, ACTION_LINK, ACTION_NONE, ACTION_SKIP,
    ACTION_UPDATE, ALLOCATOR_VERSION, AUTH_CALLBACK, AUTH_CLIENT_CREDENTIALS, AUTH_NONE, AUTH_PASSWORD,
    AUTH_REFRESH_TOKEN, AUTH_STATIC, CONNECTION_OPTIONS_VERSION, CONNECTION_STATS_VERSION, CONSENT_CONTACT,
    CONSENT_MICROSOFT_TO_CONTACT_PARTNERS, CONSENT_SHARE_INFO_WITH_OTHERS, CONSENT_SHARE_WITH_MICROSOFT_SELLERS,
    CRM_BACKEND_VERSION, DIRECTION_BOTH, DIRECTION_TO_CRM, DIRECTION_TO_PC, EAUTH, ECONFLICT, EEXISTS, EINVALID,
    ENETWORK, ENOMEM, ENOTFOUND, ENOTSUPPORTED, EPROTOCOL, EREPLAY, ERROR, ERROR_VERSION, ESERVICE, ESIGNATURE,
    ESTATE, ESTORE, ETHROTTLED, EUSER, EVERSION, FIELD_ACCOUNT_ADDRESS1, FIELD_ACCOUNT_ADDRESS2, FIELD_ACCOUNT_CITY,
    FIELD_ACCOUNT_COUNTRY, FIELD_ACCOUNT_ID, FIELD_ACCOUNT_NAME, FIELD_ACCOUNT_POSTAL_CODE, FIELD_ACCOUNT_STATE,
    FIELD_AUDIT, FIELD_CLOSE_DATE, FIELD_CLOSE_REASON, FIELD_CONTACT_EMAIL, FIELD_CONTACT_FIRST_NAME,
    FIELD_CONTACT_ID, FIELD_CONTACT_LAST_NAME, FIELD_CONTACT_PHONE, FIELD_CURRENCY, FIELD_DEAL_VALUE, FIELD_HELP,
    FIELD_ID, FIELD_IS_LEAD, FIELD_MICROSOFT_CRM_ID, FIELD_MODIFIED_TIME, FIELD_NAME, FIELD_NOTES,
    FIELD_OWNER_EMAIL, FIELD_REFERRAL_ID, FIELD_REFERRAL_LINK, FIELD_STAGE, FIELD_STATE, FIELD_SYNC, FIELD_VERSION,
    FIELD_VISIBILITY, KIND_FLAG, KIND_NUMBER, KIND_TEXT, KIND_TIME, LINK_LEAD, LINK_PENDING, LINK_VERSION,
    MEMBERS_CUSTOMER, MEMBERS_PARTNER, OK, OPTION_CHECK_MARK, OPTION_SYNC_COSELL_ONLY, REFERRAL_MAX_SIZE,
    REFERRAL_QUERY_VERSION, RETRY_VERSION, SIDE_CRM, SIDE_PARTNER_CENTER, STAGE_ACTIVE, STAGE_LOST, STAGE_ON_HOLD,
    STAGE_WON, STORE_BACKEND_VERSION, SYNC_DRY_RUN, SYNC_EVENT_VERSION, SYNC_WATERMARK_CRM, SYNC_WATERMARK_PARTNER_CENTER, SYNC_OPTIONS_VERSION, SYNC_REPORT_VERSION,
    TIME_NONE, TOKEN_REFRESH, WEBHOOK_CERTIFICATE_HOST, WEBHOOK_DELIVERY_VERSION, WEBHOOK_OPTIONS_VERSION,
    WEBHOOK_OVERWRITE, WEBHOOK_SIGNATURE_HEADER, WINNER_CRM, WINNER_NEWEST, WINNER_PARTNER_CENTER)
from ._handle import close_all as _close_all
from ._lib import SONAME, LibraryNotFound, lib as _native
from .connection import Connection, TokenProvider
from .crm import Crm, CrmBackend
from .errors import (Auth, Conflict, Error, Exists, Invalid, Network, NoMemory, NotFound, NotSupported, Protocol,
                     Replay, Service, Signature, State, StoreError, Throttled, User, Version, error_class, strerror)
from .mapping import ExtraMapping, Mapping
from .opportunity import FIELDS, Opportunity, SolutionRef, field_id, field_kind, field_name
from .partnercenter import PartnerCenter, WebhookRegistration
from .referral import (Member, Referral, ReferralStream, Solution, Target, country_check, currency_check, iter_page,
                       parse_list, status_check, status_is_terminal, status_transition_check)
from .store import Link, RetryItem, Store, StoreBackend
from .sync import Sync, SyncEvent
from .webhook import WebhookEvent, WebhookVerifier, verify_webhook

__version__ = "0.1.0"
"""The version of these bindings (the library's own: ``pcref.version()``)."""

__all__ = [
    "Auth", "Conflict", "Connection", "country_check", "Crm", "CrmBackend", "currency_check", "Error",
    "error_class", "Exists", "ExtraMapping", "field_id", "field_kind", "field_name", "FIELDS", "Invalid",
    "iter_page", "library_path", "LibraryNotFound", "Link", "Mapping", "Member", "Network", "NoMemory", "NotFound",
    "NotSupported", "Opportunity", "parse_list", "PartnerCenter", "Protocol", "Referral", "ReferralStream",
    "Replay", "RetryItem", "Service", "Signature", "Solution", "SolutionRef", "SONAME", "State", "status_check",
    "status_is_terminal", "status_transition_check", "Store", "StoreBackend", "StoreError", "strerror", "Sync",
    "SyncEvent", "Target", "Throttled", "TokenProvider", "User", "verify_webhook", "Version", "version",
    "WebhookEvent", "WebhookRegistration", "WebhookVerifier", "ACTION_ACCEPT", "ACTION_CLOSE", "ACTION_CREATE",
    "ACTION_DECLINE", "ACTION_FAIL", "ACTION_LINK", "ACTION_NONE", "ACTION_SKIP", "ACTION_UPDATE",
    "ALLOCATOR_VERSION", "AUTH_CALLBACK", "AUTH_CLIENT_CREDENTIALS", "AUTH_NONE", "AUTH_PASSWORD",
    "AUTH_REFRESH_TOKEN", "AUTH_STATIC", "CONNECTION_OPTIONS_VERSION", "CONNECTION_STATS_VERSION",
    "CONSENT_CONTACT", "CONSENT_MICROSOFT_TO_CONTACT_PARTNERS", "CONSENT_SHARE_INFO_WITH_OTHERS",
    "CONSENT_SHARE_WITH_MICROSOFT_SELLERS", "CRM_BACKEND_VERSION", "DIRECTION_BOTH", "DIRECTION_TO_CRM",
    "DIRECTION_TO_PC", "EAUTH", "ECONFLICT", "EEXISTS", "EINVALID", "ENETWORK", "ENOMEM", "ENOTFOUND",
    "ENOTSUPPORTED", "EPROTOCOL", "EREPLAY", "ERROR", "ERROR_VERSION", "ESERVICE", "ESIGNATURE", "ESTATE", "ESTORE",
    "ETHROTTLED", "EUSER", "EVERSION", "FIELD_ACCOUNT_ADDRESS1", "FIELD_ACCOUNT_ADDRESS2", "FIELD_ACCOUNT_CITY",
    "FIELD_ACCOUNT_COUNTRY", "FIELD_ACCOUNT_ID", "FIELD_ACCOUNT_NAME", "FIELD_ACCOUNT_POSTAL_CODE",
    "FIELD_ACCOUNT_STATE", "FIELD_AUDIT", "FIELD_CLOSE_DATE", "FIELD_CLOSE_REASON", "FIELD_CONTACT_EMAIL",
    "FIELD_CONTACT_FIRST_NAME", "FIELD_CONTACT_ID", "FIELD_CONTACT_LAST_NAME", "FIELD_CONTACT_PHONE",
    "FIELD_CURRENCY", "FIELD_DEAL_VALUE", "FIELD_HELP", "FIELD_ID", "FIELD_IS_LEAD", "FIELD_MICROSOFT_CRM_ID",
    "FIELD_MODIFIED_TIME", "FIELD_NAME", "FIELD_NOTES", "FIELD_OWNER_EMAIL", "FIELD_REFERRAL_ID",
    "FIELD_REFERRAL_LINK", "FIELD_STAGE", "FIELD_STATE", "FIELD_SYNC", "FIELD_VERSION", "FIELD_VISIBILITY",
    "KIND_FLAG", "KIND_NUMBER", "KIND_TEXT", "KIND_TIME", "LINK_LEAD", "LINK_PENDING", "LINK_VERSION",
    "MEMBERS_CUSTOMER", "MEMBERS_PARTNER", "OK", "OPTION_CHECK_MARK", "OPTION_SYNC_COSELL_ONLY",
    "REFERRAL_MAX_SIZE", "REFERRAL_QUERY_VERSION", "RETRY_VERSION", "SIDE_CRM", "SIDE_PARTNER_CENTER",
    "STAGE_ACTIVE", "STAGE_LOST", "STAGE_ON_HOLD", "STAGE_WON", "STORE_BACKEND_VERSION", "SYNC_DRY_RUN", "SYNC_WATERMARK_CRM", "SYNC_WATERMARK_PARTNER_CENTER",
    "SYNC_EVENT_VERSION", "SYNC_OPTIONS_VERSION", "SYNC_REPORT_VERSION", "TIME_NONE", "TOKEN_REFRESH",
    "WEBHOOK_CERTIFICATE_HOST", "WEBHOOK_DELIVERY_VERSION", "WEBHOOK_OPTIONS_VERSION", "WEBHOOK_OVERWRITE",
    "WEBHOOK_SIGNATURE_HEADER", "WINNER_CRM", "WINNER_NEWEST", "WINNER_PARTNER_CENTER",
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
