"""The C headers' constants, named without the ``PCREF_`` prefix
(``PCREF_FIELD_NAME`` is ``pcref.FIELD_NAME``).

tests/test_constants.py compiles a C program against the headers and checks
every value here, and that every integer or string constant of the headers is
here (or listed there as deliberately left out).
"""

from typing import Final

# errors.h: the error codes (append-only)
OK: Final = 0
ERROR: Final = -1
ENOMEM: Final = -2
EINVALID: Final = -3
ENOTFOUND: Final = -4
EEXISTS: Final = -5
EAUTH: Final = -6
ECONFLICT: Final = -7
ETHROTTLED: Final = -8
ENETWORK: Final = -9
EPROTOCOL: Final = -10
ENOTSUPPORTED: Final = -11
EVERSION: Final = -12
EUSER: Final = -13
ESTATE: Final = -14
ESIGNATURE: Final = -15
ESTORE: Final = -16
ESERVICE: Final = -17
EREPLAY: Final = -18

# common.h
TIME_NONE: Final = -(2 ** 63)

# Versions of the structs the bindings pass (they describe these versions).
ERROR_VERSION: Final = 1
ALLOCATOR_VERSION: Final = 1
CONNECTION_OPTIONS_VERSION: Final = 1
CONNECTION_STATS_VERSION: Final = 1
REFERRAL_QUERY_VERSION: Final = 1
WEBHOOK_OPTIONS_VERSION: Final = 1
WEBHOOK_DELIVERY_VERSION: Final = 1
CRM_BACKEND_VERSION: Final = 1

# referral.h
REFERRAL_MAX_SIZE: Final = 16 * 1024 * 1024
CONSENT_SHARE_INFO_WITH_OTHERS: Final = 0
CONSENT_CONTACT: Final = 1
CONSENT_SHARE_WITH_MICROSOFT_SELLERS: Final = 2
CONSENT_MICROSOFT_TO_CONTACT_PARTNERS: Final = 3
MEMBERS_CUSTOMER: Final = 0
MEMBERS_PARTNER: Final = 1

# opportunity.h: field kinds and field ids
KIND_TEXT: Final = 1
KIND_NUMBER: Final = 2
KIND_TIME: Final = 3
KIND_FLAG: Final = 4
FIELD_ID: Final = 0
FIELD_NAME: Final = 1
FIELD_DEAL_VALUE: Final = 2
FIELD_CURRENCY: Final = 3
FIELD_CLOSE_DATE: Final = 4
FIELD_STAGE: Final = 5
FIELD_STATE: Final = 6
FIELD_ACCOUNT_ID: Final = 7
FIELD_ACCOUNT_NAME: Final = 8
FIELD_ACCOUNT_COUNTRY: Final = 9
FIELD_ACCOUNT_POSTAL_CODE: Final = 10
FIELD_ACCOUNT_CITY: Final = 11
FIELD_ACCOUNT_STATE: Final = 12
FIELD_ACCOUNT_ADDRESS1: Final = 13
FIELD_ACCOUNT_ADDRESS2: Final = 14
FIELD_CONTACT_ID: Final = 15
FIELD_CONTACT_FIRST_NAME: Final = 16
FIELD_CONTACT_LAST_NAME: Final = 17
FIELD_CONTACT_EMAIL: Final = 18
FIELD_CONTACT_PHONE: Final = 19
FIELD_NOTES: Final = 20
FIELD_SYNC: Final = 21
FIELD_REFERRAL_ID: Final = 22
FIELD_REFERRAL_LINK: Final = 23
FIELD_HELP: Final = 24
FIELD_VISIBILITY: Final = 25
FIELD_MICROSOFT_CRM_ID: Final = 26
FIELD_AUDIT: Final = 27
FIELD_OWNER_EMAIL: Final = 28
FIELD_CLOSE_REASON: Final = 29
FIELD_MODIFIED_TIME: Final = 30
FIELD_VERSION: Final = 31
FIELD_IS_LEAD: Final = 32

# mapping.h
STAGE_ON_HOLD: Final = 0
STAGE_ACTIVE: Final = 1
STAGE_WON: Final = 2
STAGE_LOST: Final = 3
OPTION_CHECK_MARK: Final = 0
OPTION_SYNC_COSELL_ONLY: Final = 1
WINNER_NEWEST: Final = 0
WINNER_PARTNER_CENTER: Final = 1
WINNER_CRM: Final = 2
DIRECTION_BOTH: Final = 0
DIRECTION_TO_CRM: Final = 1
DIRECTION_TO_PC: Final = 2

# connection.h
AUTH_NONE: Final = 0
AUTH_STATIC: Final = 1
AUTH_PASSWORD: Final = 2
AUTH_REFRESH_TOKEN: Final = 3
AUTH_CLIENT_CREDENTIALS: Final = 4
AUTH_CALLBACK: Final = 5
TOKEN_REFRESH: Final = 1

# partnercenter.h
WEBHOOK_OVERWRITE: Final = 1
WEBHOOK_SIGNATURE_HEADER: Final = 2

# webhook.h
WEBHOOK_CERTIFICATE_HOST: Final = "3psostorageacct.blob.core.windows.net"

# store.h, sys/store.h
SIDE_PARTNER_CENTER: Final = 1
SIDE_CRM: Final = 2
LINK_LEAD: Final = 1
LINK_PENDING: Final = 2
LINK_VERSION: Final = 1
RETRY_VERSION: Final = 1
STORE_BACKEND_VERSION: Final = 1

# sync.h
SYNC_DRY_RUN: Final = 1
SYNC_WATERMARK_PARTNER_CENTER: Final = "partner_center"
SYNC_WATERMARK_CRM: Final = "crm"
ACTION_NONE: Final = 0
ACTION_CREATE: Final = 1
ACTION_UPDATE: Final = 2
ACTION_ACCEPT: Final = 3
ACTION_DECLINE: Final = 4
ACTION_CLOSE: Final = 5
ACTION_LINK: Final = 6
ACTION_SKIP: Final = 7
ACTION_FAIL: Final = 8
SYNC_EVENT_VERSION: Final = 1
SYNC_REPORT_VERSION: Final = 1
SYNC_OPTIONS_VERSION: Final = 1
