/* Allocation through the host's allocator (pcref_allocator_set). */
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void *std_alloc(size_t size, void *payload) { (void)payload; return malloc(size); }
static void *std_realloc(void *ptr, size_t size, void *payload) { (void)payload; return realloc(ptr, size); }
static void std_free(void *ptr, void *payload) { (void)payload; free(ptr); }

static pcref_allocator current = {
	PCREF_ALLOCATOR_VERSION, std_alloc, std_realloc, std_free, NULL
};

int pcref_allocator_init(pcref_allocator *allocator, unsigned int version)
{
	if (!allocator)
		return pcref__error(PCREF_EINVALID, "pcref_allocator_init: allocator is NULL");
	if (version == 0 || version > PCREF_ALLOCATOR_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_allocator_init: version %u is not known to libpcref %s (it knows up to %d)",
			version, pcref_version_string(), PCREF_ALLOCATOR_VERSION);
	memset(allocator, 0, sizeof(*allocator));
	allocator->version = version;
	return PCREF_OK;
}

int pcref_allocator_set(const pcref_allocator *allocator)
{
	if (pcref__initialised())
		return pcref__error(PCREF_ESTATE,
			"pcref_allocator_set: call it before pcref_init() (or after the last pcref_shutdown())");
	if (!allocator) {
		current.alloc_fn = std_alloc;
		current.realloc_fn = std_realloc;
		current.free_fn = std_free;
		current.payload = NULL;
		return PCREF_OK;
	}
	if (allocator->version == 0 || allocator->version > PCREF_ALLOCATOR_VERSION)
		return pcref__error(PCREF_EVERSION,
			"pcref_allocator_set: allocator version %u is not known to libpcref %s",
			allocator->version, pcref_version_string());
	if (!allocator->alloc_fn || !allocator->realloc_fn || !allocator->free_fn)
		return pcref__error(PCREF_EINVALID,
			"pcref_allocator_set: alloc_fn, realloc_fn and free_fn must all be set");
	current = *allocator;
	current.version = PCREF_ALLOCATOR_VERSION;
	return PCREF_OK;
}

void *pcref__malloc(size_t size)
{
	return current.alloc_fn(size ? size : 1, current.payload);
}

void *pcref__calloc(size_t n, size_t size)
{
	void *p;
	if (size && n > SIZE_MAX / size)
		return NULL;
	p = pcref__malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *pcref__realloc(void *ptr, size_t size)
{
	return current.realloc_fn(ptr, size ? size : 1, current.payload);
}

void pcref__dealloc(void *ptr)
{
	if (ptr)
		current.free_fn(ptr, current.payload);
}

void pcref_free(void *ptr)
{
	pcref__dealloc(ptr);
}

int pcref__grow(void **array, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;
	if (need <= *cap)
		return PCREF_OK;
	ncap = *cap ? *cap : 4;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / size)
			return pcref__error_nomem();
		ncap *= 2;
	}
	p = pcref__realloc(*array, ncap * size);
	if (!p)
		return pcref__error_nomem();
	*array = p;
	*cap = ncap;
	return PCREF_OK;
}

char *pcref__strndup(const char *s, size_t len)
{
	char *p = pcref__malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *pcref__strdup(const char *s)
{
	return s ? pcref__strndup(s, strlen(s)) : NULL;
}

static void *yajl_malloc_cb(void *ctx, size_t size) { (void)ctx; return pcref__malloc(size); }
static void *yajl_realloc_cb(void *ctx, void *ptr, size_t size) { (void)ctx; return pcref__realloc(ptr, size); }
static void yajl_free_cb(void *ctx, void *ptr) { (void)ctx; pcref__dealloc(ptr); }

void pcref__yajl_alloc_funcs(yajl_alloc_funcs *funcs)
{
	funcs->malloc = yajl_malloc_cb;
	funcs->realloc = yajl_realloc_cb;
	funcs->free = yajl_free_cb;
	funcs->ctx = NULL;
}
