/* Small string helpers: "did you mean", and parsing of durations, sizes,
 * integers and booleans as they are written in pipeline files. */
#ifndef ETL_CORE_STRUTIL_H
#define ETL_CORE_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Levenshtein distance where swapping two adjacent characters counts as
 * one edit (so 'tpye' is one edit from 'type'). */
size_t edit_distance(const char *a, const char *b);
/* The candidate closest to `word` if it is close enough to be a plausible
 * typo (distance <= max(1, len/3)), else NULL. */
const char *closest_match(const char *word, const char *const *candidates, size_t n);

/* "250ms", "30s", "14m30s", "2h", "1h2m3s", "1.5s": units d h m s ms,
 * largest first, each once; a bare number means ms. */
bool parse_duration_ms(const char *text, int64_t *out);
/* "512", "64KB", "64KiB", "1.5MB", "2GB": KB/MB/GB/TB = 1000^n,
 * KiB/MiB/GiB/TiB and bare K/M/G/T = 1024^n. */
bool parse_size_bytes(const char *text, int64_t *out);
/* Whole text must be a base-10 int64. */
bool parse_int64(const char *text, int64_t *out);
bool parse_double(const char *text, double *out);
/* true/false/yes/no/on/off (case-insensitive). */
bool parse_bool(const char *text, bool *out);

char *xstrdup(const char *s);

#endif
