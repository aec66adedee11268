/* String helpers for pipeline files: "did you mean", and the parsing of
 * numbers, booleans, durations and sizes as people write them.
 *
 * Decisions (the header gives the common forms):
 *  - Durations: one or more <number><unit> parts, units d, h, m, s, ms,
 *    each used at most once and from the largest down ("1h2m3s", "14m30s").
 *    Numbers may have a fraction ("1.5s" = 1500 ms, "0.5h"); what falls
 *    below a millisecond is dropped. A bare number is milliseconds, whole.
 *    Spaces between a number and its unit or between parts are allowed.
 *  - Sizes: a number, optional spaces, an optional unit (case-insensitive):
 *    B; KB MB GB TB = 1000^n; KiB MiB GiB TiB = 1024^n; and the bare letters
 *    K M G T = 1024^n, as in `sort -S 64M` or `java -Xmx2G`, because people
 *    who write "64M" mean a power of two. Fractions need a unit ("1.5MB");
 *    the result is truncated to whole bytes.
 *  - Everything rejects empty text, signs on sizes and durations, stray
 *    characters and values past INT64_MAX.
 */
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *xstrdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Levenshtein distance where swapping two adjacent characters also counts
 * as one edit (optimal string alignment), because "tpye" and "zsdt" are the
 * typos people make. Three rolling rows of the classic table. */
size_t edit_distance(const char *a, const char *b)
{
    if (a == NULL)
        a = "";
    if (b == NULL)
        b = "";
    size_t la = strlen(a), lb = strlen(b);
    if (la == 0)
        return lb;
    if (lb == 0)
        return la;
    size_t *rows = malloc(3 * (lb + 1) * sizeof *rows);
    if (rows == NULL)
        return la > lb ? la : lb;
    size_t *before = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < d)
                d = before[j - 2] + 1;
            cur[j] = d;
        }
        size_t *oldest = before;
        before = prev;
        prev = cur;
        cur = oldest;
    }
    size_t d = prev[lb];
    free(rows);
    return d;
}

const char *closest_match(const char *word, const char *const *candidates, size_t n)
{
    if (word == NULL || candidates == NULL)
        return NULL;
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_distance = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (candidates[i] == NULL)
            continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    return best;
}

bool parse_int64(const char *text, int64_t *out)
{
    if (text == NULL || *text == '\0' || isspace((unsigned char)*text))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return false;
    *out = (int64_t)v;
    return true;
}

bool parse_double(const char *text, double *out)
{
    if (text == NULL || *text == '\0' || isspace((unsigned char)*text))
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return false;
    if (end == text || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool parse_bool(const char *text, bool *out)
{
    static const char *const truthy[] = {"true", "yes", "on"};
    static const char *const falsy[] = {"false", "no", "off"};
    if (text == NULL)
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, truthy[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, falsy[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* An unsigned decimal with an optional fraction: "12", "1.5", ".5" is not
 * accepted (write 0.5). Stops at the first other character. */
typedef struct decimal {
    int64_t whole;
    int64_t frac;        /* the fraction digits as an integer */
    int64_t frac_scale;  /* 10^(number of fraction digits kept) */
    bool has_frac;
} decimal;

static bool add_digit(int64_t *v, char c)
{
    int d = c - '0';
    if (*v > (INT64_MAX - d) / 10)
        return false;
    *v = *v * 10 + d;
    return true;
}

static const char *scan_decimal(const char *p, decimal *dec)
{
    memset(dec, 0, sizeof *dec);
    dec->frac_scale = 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    while (isdigit((unsigned char)*p))
        if (!add_digit(&dec->whole, *p++))
            return NULL;
    if (*p != '.')
        return p;
    p++;
    if (!isdigit((unsigned char)*p))
        return NULL;
    dec->has_frac = true;
    for (; isdigit((unsigned char)*p); p++) {
        /* Digits past the 15th cannot change a result counted in ms or
         * bytes of any realistic size; drop them rather than overflow. */
        if (dec->frac_scale < 1000000000000000LL) {
            dec->frac = dec->frac * 10 + (*p - '0');
            dec->frac_scale *= 10;
        }
    }
    return p;
}

/* dec * unit, truncated, or false on overflow. */
static bool scale_decimal(const decimal *dec, int64_t unit, int64_t *out)
{
    if (dec->whole > INT64_MAX / unit)
        return false;
    int64_t v = dec->whole * unit;
    if (dec->has_frac) {
        /* frac < frac_scale <= 1e15 and unit <= 1024^4 could overflow a
         * plain product; long double keeps 64 bits of mantissa. */
        long double part = (long double)dec->frac * unit / dec->frac_scale;
        int64_t add = (int64_t)part;
        if (v > INT64_MAX - add)
            return false;
        v += add;
    }
    *out = v;
    return true;
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

typedef struct unit {
    const char *name;
    int64_t factor;
} unit;

static const unit duration_units[] = {
    {"ms", 1}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
};

/* Index of the duration unit at p (longest first: "ms" before "m"), or -1. */
static int duration_unit_at(const char *p, size_t *len)
{
    for (int i = 0; i < (int)(sizeof duration_units / sizeof duration_units[0]); i++) {
        size_t n = strlen(duration_units[i].name);
        if (strncmp(p, duration_units[i].name, n) == 0 && !isalpha((unsigned char)p[n])) {
            *len = n;
            return i;
        }
    }
    return -1;
}

bool parse_duration_ms(const char *text, int64_t *out)
{
    if (text == NULL)
        return false;
    const char *p = skip_spaces(text);
    decimal dec;
    const char *after = scan_decimal(p, &dec);
    if (after == NULL)
        return false;
    if (*skip_spaces(after) == '\0') {
        if (dec.has_frac)
            return false;
        *out = dec.whole;
        return true;
    }
    int64_t total = 0;
    int64_t last_factor = INT64_MAX;
    while (*p) {
        p = scan_decimal(p, &dec);
        if (p == NULL)
            return false;
        p = skip_spaces(p);
        size_t ulen;
        int u = duration_unit_at(p, &ulen);
        if (u < 0 || duration_units[u].factor >= last_factor)
            return false;
        last_factor = duration_units[u].factor;
        int64_t part;
        if (!scale_decimal(&dec, last_factor, &part) || total > INT64_MAX - part)
            return false;
        total += part;
        p = skip_spaces(p + ulen);
    }
    *out = total;
    return true;
}

static const unit size_units[] = {
    {"b", 1},
    {"kb", 1000LL}, {"mb", 1000000LL}, {"gb", 1000000000LL}, {"tb", 1000000000000LL},
    {"kib", 1LL << 10}, {"mib", 1LL << 20}, {"gib", 1LL << 30}, {"tib", 1LL << 40},
    {"k", 1LL << 10}, {"m", 1LL << 20}, {"g", 1LL << 30}, {"t", 1LL << 40},
};

bool parse_size_bytes(const char *text, int64_t *out)
{
    if (text == NULL)
        return false;
    decimal dec;
    const char *p = scan_decimal(skip_spaces(text), &dec);
    if (p == NULL)
        return false;
    p = skip_spaces(p);
    const char *end = p + strlen(p);
    while (end > p && end[-1] == ' ')
        end--;
    size_t ulen = (size_t)(end - p);
    if (ulen == 0) {
        if (dec.has_frac)
            return false;
        *out = dec.whole;
        return true;
    }
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
        if (strlen(size_units[i].name) == ulen && strncasecmp(p, size_units[i].name, ulen) == 0)
            return scale_decimal(&dec, size_units[i].factor, out);
    }
    return false;
}
