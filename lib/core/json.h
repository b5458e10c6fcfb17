/*
 * A small lossless JSON document model on top of yajl.
 *
 * Lossless means: object members keep their order and duplicates' last value,
 * explicit nulls stay nulls, numbers keep their exact source text (so 50000
 * is written back as 50000, not 50000.0, and 0.1 stays 0.1). Strings are
 * UTF-8 (validated by yajl) and may contain NUL.
 *
 * Streaming: pcref__json_stream parses a document incrementally and hands
 * each element of one top-level array member (e.g. an OData page's "value")
 * to a callback as soon as it is complete, then frees it, so memory is
 * bounded by one element whatever the page size.
 */
#ifndef PCREF_CORE_JSON_H
#define PCREF_CORE_JSON_H

#include <yajl/yajl_common.h>

#include "internal.h"

typedef enum pcref__json_type {
	PCREF__JSON_NULL,
	PCREF__JSON_BOOL,
	PCREF__JSON_NUMBER,
	PCREF__JSON_STRING,
	PCREF__JSON_ARRAY,
	PCREF__JSON_OBJECT
} pcref__json_type;

typedef struct pcref__json pcref__json;

struct pcref__json {
	pcref__json_type type;
	union {
		int boolean;
		struct { char *text; size_t len; } str;   /* STRING and NUMBER (source text) */
		struct { pcref__json **items; size_t len, cap; } arr;
		struct { char **keys; pcref__json **values; size_t len, cap; } obj;
	} u;
};

/* Nesting deeper than this is refused (EPROTOCOL): no stack overflow on
 * hostile input, far above anything the services send. */
#define PCREF__JSON_MAX_DEPTH 64

/* The allocator functions in yajl's shape, for yajl_alloc()/yajl_gen_alloc(). */
void pcref__yajl_alloc_funcs(yajl_alloc_funcs *funcs);

/* Parse one whole document. `what` names it in error messages
 * ("Partner Center referral"). EPROTOCOL with position on bad JSON. */
int pcref__json_parse(pcref__json **out, const char *text, size_t len, const char *what);

void pcref__json_free(pcref__json *node);
pcref__json *pcref__json_dup(const pcref__json *node);

/* Constructors; NULL when out of memory. */
pcref__json *pcref__json_new(pcref__json_type type);
pcref__json *pcref__json_new_string(const char *s, size_t len);
pcref__json *pcref__json_new_number(double value);
pcref__json *pcref__json_new_number_text(const char *text);
pcref__json *pcref__json_new_bool(int value);

/* Object access. get returns NULL when absent. set takes ownership of value
 * (freed on failure) and replaces in place, keeping the member's position. */
pcref__json *pcref__json_get(const pcref__json *obj, const char *key);
int pcref__json_set(pcref__json *obj, const char *key, pcref__json *value);
int pcref__json_remove(pcref__json *obj, const char *key);

/* Array access. append takes ownership (freed on failure). */
int pcref__json_append(pcref__json *arr, pcref__json *value);
int pcref__json_array_remove(pcref__json *arr, size_t index);

/* RFC 6901 JSON Pointer lookup; NULL when any step is absent. */
pcref__json *pcref__json_pointer(const pcref__json *root, const char *pointer);
/* Set the value at a pointer, creating missing objects on the way (NULL
 * parents are replaced by objects). Takes ownership of value. */
int pcref__json_pointer_set(pcref__json *root, const char *pointer, pcref__json *value);

/* Typed reads: the string (NUL-terminated) or NULL when not a string. */
const char *pcref__json_string(const pcref__json *node);
/* A number, or a string holding a number (Partner Center samples send
 * "dealValue":"10000"). Returns 0 and sets *out, or -1. */
int pcref__json_number(const pcref__json *node, double *out);

/* Deep equality; numbers compare by value, objects ignore member order. */
int pcref__json_equal(const pcref__json *a, const pcref__json *b);

/* Compact serialisation. */
int pcref__json_write(pcref__buf *buf, const pcref__json *node);
int pcref__json_write_string(pcref__buf *buf, const char *s, size_t len);
/* Append an RFC 6901 reference token (escaping ~ and /). */
int pcref__json_pointer_append(pcref__buf *buf, const char *token);

/* Name of a type for messages ("string", "object", ...). */
const char *pcref__json_type_name(pcref__json_type type);

/* ---- streaming ---------------------------------------------------------- */
/* Called with each complete element of the streamed array; the element is
 * freed after the call (take it with *steal = 1 to keep it). Return 0 to go
 * on; anything else stops the parse and is returned by feed/finish. */
typedef int (*pcref__json_item_cb)(pcref__json *item, int *steal, void *payload);

typedef struct pcref__json_stream pcref__json_stream;

/* Stream the elements of the top-level object's member `array_key`. All other
 * top-level members are collected (see pcref__json_stream_rest). */
int pcref__json_stream_new(pcref__json_stream **out, const char *array_key,
                           pcref__json_item_cb cb, void *payload, const char *what);
int pcref__json_stream_feed(pcref__json_stream *s, const char *data, size_t len);
int pcref__json_stream_finish(pcref__json_stream *s);
/* The top-level object without the streamed array (valid after finish). */
const pcref__json *pcref__json_stream_rest(const pcref__json_stream *s);
/* Whether the streamed array member was present (after finish). */
int pcref__json_stream_found_array(const pcref__json_stream *s);
void pcref__json_stream_free(pcref__json_stream *s);

#endif /* PCREF_CORE_JSON_H */
