/*
 * Stand-in for webhook_fetch.c until the network layer (lib/net) is part of
 * the build: the verifier works with an injected fetcher (the unit tests),
 * and the default one says plainly that it cannot fetch yet.
 */
#include "webhook_internal.h"

int pcref__webhook_fetch_http(const char *url, pcref__buf *out, void *ctx)
{
	(void)out;
	(void)ctx;
	return pcref__error(PCREF_ENOTSUPPORTED,
		"cannot fetch '%.200s': this build of libpcref has no network layer yet", url);
}
