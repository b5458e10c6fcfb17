/* The webhook verifier's replay memory (see webhook_internal.h). */
#include <string.h>

#include "webhook_internal.h"

int pcref__replay_init(pcref__replay *r, uint32_t capacity)
{
	uint32_t size = 1;
	memset(r, 0, sizeof(*r));
	if (capacity == 0 || capacity > PCREF__REPLAY_MAX)
		return pcref__error(PCREF_EINVALID, "replay memory capacity %u is not in 1..%u",
		                    capacity, PCREF__REPLAY_MAX);
	while (size < 2 * capacity)
		size <<= 1;
	r->capacity = capacity;
	r->mask = size - 1;
	if (!(r->digests = pcref__calloc(capacity, sizeof(*r->digests))) ||
	    !(r->slots = pcref__calloc(size, sizeof(*r->slots)))) {
		pcref__replay_dispose(r);
		return pcref__error_nomem();
	}
	return PCREF_OK;
}

void pcref__replay_dispose(pcref__replay *r)
{
	pcref__dealloc(r->digests);
	pcref__dealloc(r->slots);
	memset(r, 0, sizeof(*r));
}

static uint32_t home(const pcref__replay *r, const unsigned char *digest)
{
	uint32_t h;
	memcpy(&h, digest, sizeof(h)); /* SHA-256 output is uniform already */
	return h & r->mask;
}

int pcref__replay_seen(const pcref__replay *r, const unsigned char digest[32])
{
	for (uint32_t i = home(r, digest); r->slots[i]; i = (i + 1) & r->mask)
		if (memcmp(r->digests[r->slots[i] - 1], digest, 32) == 0)
			return 1;
	return 0;
}

/* Take ring entry `idx` out of the table. Later entries of the same probe
 * run move back into the hole when their home allows, so lookups never
 * need tombstones. */
static void unindex(pcref__replay *r, uint32_t idx)
{
	uint32_t i = home(r, r->digests[idx]), j, k;
	while (r->slots[i] != idx + 1)
		i = (i + 1) & r->mask;
	for (j = i;;) {
		j = (j + 1) & r->mask;
		if (!r->slots[j])
			break;
		k = home(r, r->digests[r->slots[j] - 1]);
		/* the entry at j may fill the hole at i unless its home lies
		 * cyclically in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			r->slots[i] = r->slots[j];
			i = j;
		}
	}
	r->slots[i] = 0;
}

void pcref__replay_remember(pcref__replay *r, const unsigned char digest[32])
{
	uint32_t i;
	if (r->count == r->capacity)
		unindex(r, r->head); /* the oldest */
	else
		r->count++;
	memcpy(r->digests[r->head], digest, 32);
	for (i = home(r, digest); r->slots[i]; i = (i + 1) & r->mask)
		;
	r->slots[i] = r->head + 1;
	r->head = (r->head + 1) % r->capacity;
}
