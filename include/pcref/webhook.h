/**
 * @file pcref/webhook.h
 * @brief Partner Center webhook deliveries: parse the event, verify the
 *        signature, refuse replays.
 * @defgroup pcref_webhook Webhooks
 * @{
 *
 * Partner Center announces referral changes (`referral-created`,
 * `referral-updated`, `related-referral-created`, `related-referral-updated`;
 * R-33) by POSTing a small JSON event to the partner's registered URL. The
 * event names the referral; it carries no referral data. A
 * #pcref_webhook_verifier checks that a delivery really comes from Partner
 * Center before the host acts on it:
 *
 * 1. the signature header is present (`Authorization: Signature <base64>`,
 *    or `x-ms-signature` when the registration set
 *    `SignatureTokenToMsSignatureHeader`), and so are `X-MS-Certificate-Url`
 *    and `X-MS-Signature-Algorithm` (which must be `rsa-sha256`);
 * 2. the certificate URL is `https://` (plain `http://` only to a loopback
 *    host: the local emulator) on a host of the allow-list;
 * 3. the certificate (DER or PEM) is fetched — or taken from the cache —,
 *    its chain verified against the trust anchors, and the organisation
 *    (`O=`) of its issuer compared with `Microsoft Corporation`;
 * 4. the RSA PKCS#1 v1.5 SHA-256 signature is verified over the raw body
 *    bytes, exactly as received;
 * 5. the event is parsed, and refused if its `ResourceChangeUtcDate` is too
 *    old or in the future, or if the same body was verified before.
 *
 * Webhooks are hints, polling is the truth: a delivery refused here, or one
 * Partner Center gave up on, is repaired by the next reconciliation pass
 * . The defaults therefore lean to refusing.
 *
 * **Which HTTP status to answer.** After a failure pcref_error_last() carries
 * the status the receiver should send back to Partner Center in
 * `http_status`:
 *
 * | failure | code | answer |
 * |---|---|---|
 * | no `Authorization`/`x-ms-signature`, wrong scheme, bad base64 | #PCREF_ESIGNATURE | 401 |
 * | `X-MS-Certificate-Url` or `X-MS-Signature-Algorithm` missing, algorithm not `rsa-sha256` | #PCREF_ESIGNATURE | 400 |
 * | certificate URL not https / host not allowed, chain not trusted, issuer organisation wrong, signature does not match | #PCREF_ESIGNATURE | 401 |
 * | body larger than pcref_webhook_options::max_body_bytes | #PCREF_EINVALID | 413 |
 * | signed body that is not a webhook event | #PCREF_EPROTOCOL | 400 |
 * | delivered before, too old, or dated in the future | #PCREF_EREPLAY | 200 (so Partner Center stops re-sending) |
 * | the certificate could not be fetched | the fetch's code (#PCREF_ENETWORK, #PCREF_ENOTFOUND, ...) | 503 (a transient failure on the receiver's side) |
 * | out of memory, invalid arguments | #PCREF_ENOMEM, #PCREF_EINVALID, #PCREF_EVERSION | 500 |
 *
 * See @ref webhooks for a complete receiver.
 */
#ifndef PCREF_WEBHOOK_H
#define PCREF_WEBHOOK_H

#include "common.h"

PCREF_BEGIN_DECLS

/** @name Events
 * @{ */

/**
 * @brief One Partner Center webhook event (opaque).
 *
 * Strings returned by its getters are borrowed from the event and valid until
 * it is freed; they are NULL when the member is absent or null.
 * @since 0.1
 */
typedef struct pcref_webhook_event pcref_webhook_event;

/**
 * @brief Parse a webhook event body, **without** verifying anything.
 *
 * Use it for events that were verified elsewhere or for tests;
 * pcref_webhook_verify() parses the events it verifies itself. Member names
 * match case-insensitively, so both the PascalCase of Partner Center's
 * samples (`EventName`, `ResourceUri`, `ResourceName`, `AuditUri`,
 * `ResourceChangeUtcDate`) and the camelCase of its swagger (`eventName`,
 * ...) are read; the audit link is also read as `AuditUrl`. Members this
 * library does not know are ignored.
 * @param[out] out the event; free with pcref_webhook_event_free().
 * @param body the JSON body (UTF-8, need not be NUL-terminated).
 * @param len its length in bytes (at most 1 MiB).
 * @return #PCREF_OK; #PCREF_EPROTOCOL for malformed JSON, a non-object, no
 *         `EventName`, a member of the wrong type or a date that does not
 *         parse; #PCREF_EINVALID for NULL or over-size input;
 *         #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_webhook_event_parse(pcref_webhook_event **out, const char *body, size_t len);

/**
 * @brief Free an event. NULL is ignored.
 * @since 0.1
 */
PCREF_API void pcref_webhook_event_free(pcref_webhook_event *event);

/**
 * @brief `EventName`, e.g. `referral-updated`; never NULL for a parsed event.
 * @since 0.1
 */
PCREF_API const char *pcref_webhook_event_name(const pcref_webhook_event *event);

/**
 * @brief `ResourceUri`, the changed resource, e.g.
 *        `https://api.partnercenter.microsoft.com/engagements/v1/referrals/{id}`.
 * @since 0.1
 */
PCREF_API const char *pcref_webhook_event_resource_uri(const pcref_webhook_event *event);

/**
 * @brief `ResourceName`, the kind of resource: `referral` for referral events,
 *        `test` for `test-created`.
 * @since 0.1
 */
PCREF_API const char *pcref_webhook_event_resource_name(const pcref_webhook_event *event);

/**
 * @brief `AuditUri` (or `AuditUrl`), the audit record of the change; usually null.
 * @since 0.1
 */
PCREF_API const char *pcref_webhook_event_audit_uri(const pcref_webhook_event *event);

/**
 * @brief `ResourceChangeUtcDate` in epoch milliseconds, or #PCREF_TIME_NONE
 *        when absent or null.
 * @since 0.1
 */
PCREF_API int64_t pcref_webhook_event_change_time(const pcref_webhook_event *event);

/**
 * @brief The id of the referral the event is about, or NULL when the event is
 *        not about a referral.
 *
 * It is the last path segment of a `ResourceUri` whose path ends in
 * `/referrals/{id}` (both `/engagements/v1/referrals/{id}`, the webhook form,
 * and `/v1.0/engagements/referrals/{id}` are recognised), provided
 * `ResourceName` is `referral` or absent and the id consists only of
 * URL-safe characters (letters, digits, `-`, `.`, `_`, `~`). NULL for
 * `test-created` and every other event.
 * @since 0.1
 */
PCREF_API const char *pcref_webhook_event_referral_id(const pcref_webhook_event *event);

/** @} */

/** @name Verification
 * @{ */

/**
 * @brief Verifies webhook deliveries and remembers the ones it accepted
 *        (opaque).
 *
 * It caches certificates and remembers deliveries, so create one per
 * receiving endpoint and keep it. Like every handle it is used by one thread
 * at a time (see @ref threading); a multi-threaded receiver serialises its
 * calls to pcref_webhook_verify() or gives each thread its own verifier
 * (which then detects replays only among its own deliveries).
 * @since 0.1
 */
typedef struct pcref_webhook_verifier pcref_webhook_verifier;

/**
 * @brief The host Partner Center serves its signing certificate from
 *        (partner-center-api.md §5.3), the default allow-list.
 * @since 0.1
 */
#define PCREF_WEBHOOK_CERTIFICATE_HOST "3psostorageacct.blob.core.windows.net"

/** @brief Version of #pcref_webhook_options this header describes. @since 0.1 */
#define PCREF_WEBHOOK_OPTIONS_VERSION 1

/**
 * @brief How a #pcref_webhook_verifier decides. Copied by
 *        pcref_webhook_verifier_new(); strings may be freed afterwards.
 *
 * Zero (or NULL) means "the default" for every member; negative numbers are
 * refused.
 * @since 0.1
 */
typedef struct pcref_webhook_options {
	unsigned int version;        /**< #PCREF_WEBHOOK_OPTIONS_VERSION. */
	/**
	 * NULL-terminated list of the hosts the signing certificate may be
	 * fetched from; default: only #PCREF_WEBHOOK_CERTIFICATE_HOST.
	 * Entries are exact host names or IP addresses (compared
	 * case-insensitively; no wildcards — `*.blob.core.windows.net` would
	 * admit every Azure customer's storage account), optionally with a port:
	 * `host` allows only the scheme's default port (443 for https, 80 for
	 * http), `host:port` (`127.0.0.1:8443`, `[::1]:8443`) allows only that
	 * port. `http://` URLs are refused unless the host is loopback
	 * (`localhost`, 127.0.0.0/8, `::1`), and then only when it is listed.
	 */
	const char *const *certificate_hosts;
	/**
	 * PEM file of the certificates to trust when verifying the signing
	 * certificate's chain; default (NULL): OpenSSL's default verify paths
	 * (the system store). OpenSSL does not download missing intermediate
	 * certificates: when the chain cannot be completed, put the issuing CA
	 * and its root in this file.
	 */
	const char *trust_anchors_file;
	/**
	 * The organisation (`O=`) the signing certificate's issuer must have,
	 * compared exactly (not as a substring of the issuer's name); default
	 * `Microsoft Corporation`.
	 */
	const char *issuer_organization;
	/**
	 * Oldest `ResourceChangeUtcDate` accepted, in milliseconds before now;
	 * default one hour. Older deliveries fail with #PCREF_EREPLAY: they are
	 * either replays or retries so late that the reconciliation pass
	 * has repaired, or will repair, what they announce. Keep it above the
	 * longest time Partner Center keeps retrying that you care about.
	 */
	int64_t max_age_ms;
	/** Largest amount a `ResourceChangeUtcDate` may lie in the future (clock skew); default 5 minutes. */
	int64_t max_skew_ms;
	/** Largest body accepted (#PCREF_EINVALID, answer 413); default 64 KiB (real events are ~300 bytes). */
	int64_t max_body_bytes;
	/**
	 * How many verified deliveries are remembered (by the SHA-256 of the
	 * exact body; the oldest is forgotten first) to recognise replays;
	 * default 4096, at most 16777216. Deliveries older than max_age_ms need
	 * no memory: they fail the age check.
	 */
	int32_t dedup_capacity;
	/** How long a verified certificate is reused for the same URL, in seconds; default 86400 (24 h). */
	int32_t certificate_cache_seconds;
} pcref_webhook_options;

/** @brief Initialiser for #pcref_webhook_options (all defaults). @since 0.1 */
#define PCREF_WEBHOOK_OPTIONS_INIT { PCREF_WEBHOOK_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, 0 }

/**
 * @brief Initialise options at run time (for bindings such as ctypes).
 * @param options the struct to zero and stamp with `version`.
 * @param version #PCREF_WEBHOOK_OPTIONS_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_webhook_options_init(pcref_webhook_options *options, unsigned int version);

/**
 * @brief Create a verifier. Loads the trust anchors; fetches nothing yet.
 * @param[out] out the verifier; free with pcref_webhook_verifier_free().
 * @param options the policy (copied), or NULL for all defaults.
 * @return #PCREF_OK; #PCREF_EINVALID naming the bad option (an empty host
 *         list, a malformed host entry, a negative limit, a trust-anchor
 *         file that cannot be read or holds no certificate);
 *         #PCREF_EVERSION; #PCREF_ESTATE before pcref_init(); #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_webhook_verifier_new(pcref_webhook_verifier **out, const pcref_webhook_options *options);

/**
 * @brief Free a verifier, its certificate cache and its replay memory. NULL
 *        is ignored.
 * @since 0.1
 */
PCREF_API void pcref_webhook_verifier_free(pcref_webhook_verifier *verifier);

/** @brief Version of #pcref_webhook_delivery this header describes. @since 0.1 */
#define PCREF_WEBHOOK_DELIVERY_VERSION 1

/**
 * @brief One webhook delivery, as the host's HTTP server received it. Only
 *        read during pcref_webhook_verify().
 *
 * Header values are passed as received (surrounding white space is
 * ignored); NULL or empty means the header was absent. Header names are
 * case-insensitive in HTTP: look them up that way.
 * @since 0.1
 */
typedef struct pcref_webhook_delivery {
	unsigned int version;            /**< #PCREF_WEBHOOK_DELIVERY_VERSION. */
	const char *body;                /**< The request body, byte for byte as received (the signature covers these bytes). */
	size_t body_len;                 /**< Its length. */
	const char *authorization;       /**< `Authorization`: `Signature <base64>`. */
	/**
	 * `x-ms-signature`: `Signature <base64>` (or the bare base64), sent
	 * instead of `Authorization` when the registration set
	 * `SignatureTokenToMsSignatureHeader`. Used when `authorization` is absent
	 * or not of the `Signature` scheme (a gateway's own credentials, for
	 * instance).
	 */
	const char *x_ms_signature;
	const char *certificate_url;     /**< `X-MS-Certificate-Url`. */
	const char *signature_algorithm; /**< `X-MS-Signature-Algorithm`: `rsa-sha256`. */
} pcref_webhook_delivery;

/** @brief Initialiser for #pcref_webhook_delivery (everything absent). @since 0.1 */
#define PCREF_WEBHOOK_DELIVERY_INIT { PCREF_WEBHOOK_DELIVERY_VERSION, NULL, 0, NULL, NULL, NULL, NULL }

/**
 * @brief Initialise a delivery at run time (for bindings such as ctypes).
 * @param delivery the struct to zero and stamp with `version`.
 * @param version #PCREF_WEBHOOK_DELIVERY_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID, #PCREF_EVERSION.
 * @since 0.1
 */
PCREF_API int pcref_webhook_delivery_init(pcref_webhook_delivery *delivery, unsigned int version);

/**
 * @brief Verify a delivery and parse its event.
 *
 * The steps are listed in @ref pcref_webhook; each failure has its own
 * message saying what was wrong and what to do, and sets
 * `pcref_error_last()->http_status` to the status to answer (see the table
 * there). A delivery is remembered only once it passed every check, so a
 * rejected delivery can be retried; an accepted one is refused as a replay
 * (#PCREF_EREPLAY) from then on — if handling it fails on your side, rely on
 * the reconciliation pass rather than on Partner Center's retries.
 *
 * The certificate is fetched (at most once per URL per
 * pcref_webhook_options::certificate_cache_seconds) with a plain GET without
 * credentials, through the library's network layer; the call blocks for that
 * time.
 * @param[out] out the verified event (free with pcref_webhook_event_free()),
 *        or NULL to only verify. Left NULL on failure.
 * @param verifier the verifier.
 * @param delivery the request as received.
 * @return #PCREF_OK; #PCREF_ESIGNATURE; #PCREF_EREPLAY; #PCREF_EINVALID
 *         (over-size body, NULL arguments); #PCREF_EPROTOCOL (the signed
 *         body is not an event); the certificate fetch's code
 *         (#PCREF_ENETWORK, #PCREF_ENOTFOUND, #PCREF_ESERVICE, ...);
 *         #PCREF_EVERSION; #PCREF_ENOMEM.
 * @since 0.1
 */
PCREF_API int pcref_webhook_verify(pcref_webhook_event **out, pcref_webhook_verifier *verifier,
                                   const pcref_webhook_delivery *delivery);

/** @} */

PCREF_END_DECLS

/** @} */
#endif /* PCREF_WEBHOOK_H */
