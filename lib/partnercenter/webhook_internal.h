/*
 * Internals of the webhook verifier (pcref/webhook.h) that tests and the
 * network glue need: the certificate fetch hook and the clock.
 */
#ifndef PCREF_PARTNERCENTER_WEBHOOK_INTERNAL_H
#define PCREF_PARTNERCENTER_WEBHOOK_INTERNAL_H

#include "pcref/webhook.h"
#include "../core/internal.h"

/* Largest certificate (file) accepted from a certificate URL. */
#define PCREF__WEBHOOK_CERT_MAX_BYTES (64u * 1024u)

/* Fetch the bytes at `url` (already checked against the verifier's scheme
 * and host rules) into `out`. Returns PCREF_OK, or a negative code with
 * pcref_error_last() describing the failure (the verifier prefixes it). */
typedef int (*pcref__webhook_fetch_fn)(const char *url, pcref__buf *out, void *ctx);

/* The current time in epoch milliseconds. */
typedef int64_t (*pcref__webhook_clock_fn)(void *ctx);

/* The default fetcher: a plain GET without credentials through the network
 * layer (lib/partnercenter/webhook_fetch.c). */
int pcref__webhook_fetch_http(const char *url, pcref__buf *out, void *ctx);

/* Replace the fetcher (NULL restores the default) and the clock (NULL
 * restores the system's real-time clock). For tests. */
void pcref__webhook_verifier_set_fetch(pcref_webhook_verifier *verifier,
                                       pcref__webhook_fetch_fn fetch, void *ctx);
void pcref__webhook_verifier_set_clock(pcref_webhook_verifier *verifier,
                                       pcref__webhook_clock_fn clock, void *ctx);

/* ---- replay memory (lib/partnercenter/replay.c) ---------------------------
 * The SHA-256 digests of the last `capacity` accepted deliveries: a FIFO ring
 * indexed by an open-addressing hash table (linear probing, backward-shift
 * deletion), so lookups and updates take constant time whatever the
 * capacity. */
#define PCREF__REPLAY_MAX (1u << 24)

typedef struct pcref__replay {
	unsigned char (*digests)[32]; /* the ring */
	uint32_t capacity, count, head; /* head: the next ring slot to (over)write */
	uint32_t *slots;              /* table of ring positions + 1; 0 = empty */
	uint32_t mask;                /* table size - 1 (a power of two >= 2 * capacity) */
} pcref__replay;

/* capacity in 1..PCREF__REPLAY_MAX; PCREF_ENOMEM (recorded) on failure. */
int pcref__replay_init(pcref__replay *r, uint32_t capacity);
int pcref__replay_seen(const pcref__replay *r, const unsigned char digest[32]);
/* Remember a digest not seen yet, forgetting the oldest when full. */
void pcref__replay_remember(pcref__replay *r, const unsigned char digest[32]);
void pcref__replay_dispose(pcref__replay *r);

#endif /* PCREF_PARTNERCENTER_WEBHOOK_INTERNAL_H */
