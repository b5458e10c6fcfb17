/**
 * @file pcref/global.h
 * @brief Library initialisation, the allocator hook, memory release and version.
 * @defgroup pcref_global Library set-up
 * @{
 *
 * Call pcref_init() once before using any other libpcref function (it may be
 * called any number of times, from any thread; each call needs a matching
 * pcref_shutdown()). Nothing runs in constructors: loading the library has no
 * side effect. See @ref threading for what may run concurrently.
 */
#ifndef PCREF_GLOBAL_H
#define PCREF_GLOBAL_H

#include "common.h"

PCREF_BEGIN_DECLS

/**
 * @brief Initialise the library (reference-counted, thread-safe).
 *
 * The first call sets up global state (and libcurl's, once the network layer
 * is used); later calls only count.
 * @return the new number of initialisations (> 0), or a negative
 *         #pcref_error_code.
 * @since 0.1
 */
PCREF_API int pcref_init(void);

/**
 * @brief Undo one pcref_init() (reference-counted, thread-safe).
 *
 * The call that brings the count to zero releases global state; handles must
 * have been freed by then.
 * @return the remaining number of initialisations (>= 0), or
 *         #PCREF_ESTATE when the library was not initialised.
 * @since 0.1
 */
PCREF_API int pcref_shutdown(void);

/**
 * @brief The version of the library loaded at run time, e.g. `"0.1.0"`.
 * @return static text, never NULL. Compare with #PCREF_VERSION_STRING for the
 *         headers' version.
 * @since 0.1
 */
PCREF_API const char *pcref_version_string(void);

/**
 * @brief Release memory that libpcref handed to the caller (strings returned
 *        through `char **out` parameters). NULL is ignored.
 * @param ptr what a libpcref function returned as the caller's to free.
 * @since 0.1
 */
PCREF_API void pcref_free(void *ptr);

/** @brief Version of #pcref_allocator this header describes. @since 0.1 */
#define PCREF_ALLOCATOR_VERSION 1

/**
 * @brief A host-supplied memory allocator.
 *
 * Installed with pcref_allocator_set() before the first pcref_init(); libpcref
 * then allocates everything through it and forwards it to yajl. libcurl's
 * process-wide allocator is left to the host (`curl_global_init_mem()`).
 * The functions follow the C library's contracts (`realloc_fn(NULL, n)` acts
 * as `alloc_fn(n)`; `free_fn(NULL)` does nothing) and must be thread-safe.
 * @since 0.1
 */
typedef struct pcref_allocator {
	unsigned int version;   /**< #PCREF_ALLOCATOR_VERSION. */
	void *(*alloc_fn)(size_t size, void *payload);              /**< Like malloc(). */
	void *(*realloc_fn)(void *ptr, size_t size, void *payload); /**< Like realloc(). */
	void (*free_fn)(void *ptr, void *payload);                  /**< Like free(). */
	void *payload;          /**< Passed to every call. */
} pcref_allocator;

/**
 * @brief Initialiser for a #pcref_allocator of the headers' version.
 * @since 0.1
 */
#define PCREF_ALLOCATOR_INIT { PCREF_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL }

/**
 * @brief Initialise a #pcref_allocator at run time (for bindings such as ctypes).
 * @param allocator the struct to fill with zeros and `version`.
 * @param version #PCREF_ALLOCATOR_VERSION of the caller's headers.
 * @return #PCREF_OK, #PCREF_EINVALID for NULL, #PCREF_EVERSION for a version
 *         this library does not know.
 * @since 0.1
 */
PCREF_API int pcref_allocator_init(pcref_allocator *allocator, unsigned int version);

/**
 * @brief Install a host allocator, or restore the C library's with NULL.
 *
 * The struct is copied. Only allowed while the library is not initialised
 * (before the first pcref_init() or after the last pcref_shutdown()).
 * @param allocator the allocator, all three functions set; NULL for malloc().
 * @return #PCREF_OK; #PCREF_ESTATE when the library is initialised;
 *         #PCREF_EVERSION for an unknown version; #PCREF_EINVALID when a
 *         function is missing.
 * @since 0.1
 */
PCREF_API int pcref_allocator_set(const pcref_allocator *allocator);

PCREF_END_DECLS

/** @} */
#endif /* PCREF_GLOBAL_H */
