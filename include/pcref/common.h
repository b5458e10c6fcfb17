/**
 * @file pcref/common.h
 * @brief Export macro, C++ guards and the basic includes every libpcref header needs.
 *
 * Nothing in this header is specific to one part of the library; it exists so
 * that each public header can be included on its own.
 */
#ifndef PCREF_COMMON_H
#define PCREF_COMMON_H

#include <stddef.h>
#include <stdint.h>

/**
 * @def PCREF_API
 * @brief Marks a declaration as part of libpcref's public ABI.
 *
 * The library is built with hidden visibility; only declarations carrying this
 * macro are exported. Define `PCREF_STATIC` before including any libpcref
 * header when linking the static library on Windows.
 * @since 0.1
 */
#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(PCREF_STATIC)
#    define PCREF_API
#  elif defined(PCREF_BUILDING)
#    define PCREF_API __declspec(dllexport)
#  else
#    define PCREF_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define PCREF_API __attribute__((visibility("default")))
#else
#  define PCREF_API
#endif

/**
 * @def PCREF_BEGIN_DECLS
 * @brief Opens a block of C declarations (`extern "C"` under C++).
 * @since 0.1
 */
/**
 * @def PCREF_END_DECLS
 * @brief Closes a block opened with #PCREF_BEGIN_DECLS.
 * @since 0.1
 */
#ifdef __cplusplus
#  define PCREF_BEGIN_DECLS extern "C" {
#  define PCREF_END_DECLS }
#else
#  define PCREF_BEGIN_DECLS
#  define PCREF_END_DECLS
#endif

/**
 * @brief "No date-time": the value of absent or null date-time fields
 *        (date-times are `int64_t` milliseconds since 1970-01-01T00:00:00Z).
 * @since 0.1
 */
#define PCREF_TIME_NONE INT64_MIN

#endif /* PCREF_COMMON_H */
