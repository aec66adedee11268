#include "json_encode.h"

#include "buf.h"
#include "context.h"
#include "json_scan.h"
#include "json_tokenizer.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends to a buffer and remembers the first failure, so that the
 * encoders read as straight-line code; the caller checks once. */
typedef struct writer {
    etl_buf *out;
    etl_status status;
} writer;

static inline void put(writer *w, const void *data, size_t len)
{
    etl_buf *out = w->out;
    if (w->status == ETL_OK && out->data != NULL && out->cap - out->len > len) {
        memcpy(out->data + out->len, data, len);
        out->len += len;
        out->data[out->len] = '\0';
    } else if (w->status == ETL_OK) {
        w->status = buf_append(out, data, len);
    }
}

static inline void put_char(writer *w, char c)
{
    etl_buf *out = w->out;
    if (w->status == ETL_OK && out->data != NULL && out->cap - out->len > 1) {
        out->data[out->len++] = c;
        out->data[out->len] = '\0';
    } else {
        put(w, &c, 1);
    }
}

static void put_str(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                   */
/* ------------------------------------------------------------------------ */

static void put_uint(writer *w, uint64_t v, bool negative)
{
    char digits[24];
    char *p = digits + sizeof digits;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative)
        *--p = '-';
    put(w, p, (size_t)(digits + sizeof digits - p));
}

static void put_int(writer *w, int64_t v)
{
    put_uint(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

/* A number printed by %g reads back as an integer unless it has one of
 * these; the column type should survive a round trip. */
static void put_as_double(writer *w, const char *text, int len)
{
    put(w, text, (size_t)len);
    if (strpbrk(text, ".e") == NULL)
        put(w, ".0", 2);
}

/* Most doubles in records are short decimals (prices, ratings). For those,
 * m / 10^k == v with m < 10^15 proves that "m with k decimals" reads back
 * as v (both m and 10^k are exact doubles and the division is correctly
 * rounded), and the smallest such k gives the digits %.15g would print, in
 * the same fixed notation (1e-4 <= |v| < 1e15), without printf and strtod,
 * which dominate encoding time otherwise. Returns 0 when it does not apply. */
static int fast_short_decimal(double v, char *out)
{
    static const double powers[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int k = 0; k < (int)(sizeof powers / sizeof powers[0]); k++) {
        double scaled = a * powers[k];
        if (scaled >= 1e15)
            return 0;
        double m = nearbyint(scaled);
        if (m / powers[k] != a)
            continue;
        char digits[24];
        int n = 0;
        for (uint64_t u = (uint64_t)m; u > 0 || n == 0; u /= 10)
            digits[n++] = (char)('0' + u % 10);
        int len = 0;
        if (v < 0)
            out[len++] = '-';
        if (n <= k) {              /* 0.00ddd */
            out[len++] = '0';
            out[len++] = '.';
            for (int z = 0; z < k - n; z++)
                out[len++] = '0';
            while (n > 0)
                out[len++] = digits[--n];
        } else {
            while (n > k)
                out[len++] = digits[--n];
            if (k > 0)
                out[len++] = '.';
            while (n > 0)
                out[len++] = digits[--n];
        }
        out[len] = '\0';
        return len;
    }
    return 0;
}

static void put_double(writer *w, double v)
{
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    char text[32];
    int len = fast_short_decimal(v, text);
    if (len > 0) {
        put_as_double(w, text, len);
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        len = snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    put_as_double(w, text, len);
}

static void put_float(writer *w, float v)
{
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    char text[32];
    int len = 0;
    for (int precision = 6; precision <= 9; precision++) {
        len = snprintf(text, sizeof text, "%.*g", precision, (double)v);
        if (strtof(text, NULL) == v)
            break;
    }
    put_as_double(w, text, len);
}

static const char hex_digits[] = "0123456789abcdef";

static void put_escaped_byte(writer *w, unsigned char c)
{
    switch (c) {
    case '"': put(w, "\\\"", 2); return;
    case '\\': put(w, "\\\\", 2); return;
    case '\n': put(w, "\\n", 2); return;
    case '\r': put(w, "\\r", 2); return;
    case '\t': put(w, "\\t", 2); return;
    case '\b': put(w, "\\b", 2); return;
    case '\f': put(w, "\\f", 2); return;
    default: {
        char u[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
        put(w, u, sizeof u);
    }
    }
}

static inline bool plain_ascii(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Copies runs that need no escaping in one append each; the run scan is
 * the tokenizer's (SIMD), and valid UTF-8 sequences extend a run. */
static void put_string(writer *w, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    put_char(w, '"');
    while (p < end) {
        const uint8_t *run = p;
        for (;;) {
            p = json_skip_plain_run(p, end);
            while (p < end && plain_ascii(*p))
                p++;
            if (p == end || *p < 0x80)
                break;
            int n = jt_utf8_sequence_length((const char *)p, (const char *)end);
            if (n <= 0)
                break;
            p += n;
        }
        put(w, run, (size_t)(p - run));
        if (p == end)
            break;
        if (*p < 0x80)
            put_escaped_byte(w, *p);
        else
            put(w, "\xEF\xBF\xBD", 3);   /* not UTF-8: U+FFFD */
        p++;
    }
    put_char(w, '"');
}

static void put_base64(writer *w, const unsigned char *p, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    put_char(w, '"');
    for (size_t k = 0; k < len; k += 3) {
        uint32_t v = (uint32_t)p[k] << 16;
        if (k + 1 < len)
            v |= (uint32_t)p[k + 1] << 8;
        if (k + 2 < len)
            v |= p[k + 2];
        char quad[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63],
                        k + 1 < len ? alphabet[(v >> 6) & 63] : '=',
                        k + 2 < len ? alphabet[v & 63] : '='};
        put(w, quad, 4);
    }
    put_char(w, '"');
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days). */
static void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static char *two_digits(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Writes the date at text (room for 40 bytes); returns its length. The
 * common years are written by hand: printf is the bulk of the cost of a
 * timestamp column otherwise. */
static int format_date(char *text, size_t cap, int64_t days)
{
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999)   /* ISO 8601 expanded years */
        return snprintf(text, cap, "%+05lld-%02d-%02d", (long long)year, month, day);
    char *p = two_digits(text, (int)(year / 100));
    p = two_digits(p, (int)(year % 100));
    *p++ = '-';
    p = two_digits(p, month);
    *p++ = '-';
    p = two_digits(p, day);
    return (int)(p - text);
}

static void put_date(writer *w, int32_t days)
{
    char text[48];
    int len = format_date(text + 1, sizeof text - 2, days);
    text[0] = '"';
    text[len + 1] = '"';
    put(w, text, (size_t)len + 2);
}

/* "2024-12-15T10:20:30Z", with .mmm or .uuuuuu only when the fraction is
 * not zero. */
static void put_timestamp(writer *w, int64_t us)
{
    const int64_t us_per_day = INT64_C(86400000000);
    int64_t days = us / us_per_day, rest = us % us_per_day;
    if (rest < 0) {
        rest += us_per_day;
        days--;
    }
    int seconds = (int)(rest / 1000000), fraction = (int)(rest % 1000000);
    char text[80];
    text[0] = '"';
    char *p = text + 1 + format_date(text + 1, 40, days);
    *p++ = 'T';
    p = two_digits(p, seconds / 3600);
    *p++ = ':';
    p = two_digits(p, seconds / 60 % 60);
    *p++ = ':';
    p = two_digits(p, seconds % 60);
    if (fraction != 0) {
        bool millis = fraction % 1000 == 0;
        int digits = millis ? 3 : 6, value = millis ? fraction / 1000 : fraction;
        *p++ = '.';
        for (int k = digits - 1; k >= 0; k--, value /= 10)
            p[k] = (char)('0' + value % 10);
        p += digits;
    }
    memcpy(p, "Z\"", 2);
    put(w, text, (size_t)(p + 2 - text));
}

__extension__ typedef unsigned __int128 u128;

/* decimal128 as a JSON number with exactly `scale` fraction digits. */
static void put_decimal(writer *w, uint64_t lo, int64_t hi, int scale)
{
    u128 v = ((u128)(uint64_t)hi << 64) | lo;
    bool negative = hi < 0;
    if (negative)
        v = 0 - v;
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (scale > 0 && n <= scale)
        digits[n++] = '0';
    char text[96];
    int len = 0;
    if (negative)
        text[len++] = '-';
    for (int k = n - 1; k >= 0; k--) {
        text[len++] = digits[k];
        if (k == scale && k > 0)
            text[len++] = '.';
    }
    put(w, text, (size_t)len);
    for (int k = 0; k < -scale && k < 40; k++)
        put_char(w, '0');
}

/* ------------------------------------------------------------------------ */
/* Values by format                                                          */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* The plan: what each column is, decided once per call                      */
/* ------------------------------------------------------------------------ */

typedef enum value_kind {
    V_NULL, V_BOOL, V_INT32, V_INT64, V_DOUBLE, V_FLOAT, V_TEXT, V_BINARY, V_SMALL_INT,
    V_STRUCT, V_LIST, V_TIMESTAMP, V_DATE, V_DECIMAL, V_UNSUPPORTED
} value_kind;

/* One schema node. A struct's members carry their name's length, and
 * whether it needs escaping (names almost never do), so rows only copy it. */
typedef struct plan_node {
    value_kind kind;
    const struct ArrowSchema *schema;
    const char *key;                 /* a struct member's name, or NULL */
    size_t key_len;
    bool key_plain;                  /* written as is between quotes */
    size_t first, count;             /* children: nodes[first .. first+count) */
    int scale;                       /* decimals */
} plan_node;

/* Nodes live in the plan itself up to PLAN_INLINE_NODES: a plan is built
 * per call, and some sinks call json_write_row once per record. */
#define PLAN_INLINE_NODES 64

typedef struct plan {
    plan_node *nodes;
    size_t n, cap;
    bool failed;
    plan_node inline_nodes[PLAN_INLINE_NODES];
} plan;

static value_kind kind_of(const char *f, int *scale)
{
    if (f[0] != '\0' && f[1] == '\0') {
        switch (f[0]) {
        case 'n': return V_NULL;
        case 'b': return V_BOOL;
        case 'i': return V_INT32;
        case 'l': return V_INT64;
        case 'g': return V_DOUBLE;
        case 'f': return V_FLOAT;
        case 'u': return V_TEXT;
        case 'z': return V_BINARY;
        case 'c': case 'C': case 's': case 'S': case 'I': case 'L': return V_SMALL_INT;
        default: return V_UNSUPPORTED;
        }
    }
    if (strcmp(f, "+s") == 0)
        return V_STRUCT;
    if (strcmp(f, "+l") == 0)
        return V_LIST;
    if (strncmp(f, "tsu:", 4) == 0)
        return V_TIMESTAMP;
    if (strcmp(f, "tdD") == 0)
        return V_DATE;
    const char *comma = strchr(f, ',');
    if (strncmp(f, "d:", 2) == 0 && comma != NULL) {
        *scale = atoi(comma + 1);
        return *scale > 38 || *scale < -38 ? V_UNSUPPORTED : V_DECIMAL;
    }
    return V_UNSUPPORTED;
}

/* Reserves `count` nodes; their index, or SIZE_MAX without memory. */
static size_t plan_reserve(plan *p, size_t count)
{
    if (p->n + count > p->cap) {
        size_t cap = p->cap * 2;
        while (cap < p->n + count)
            cap *= 2;
        bool inline_now = p->nodes == p->inline_nodes;
        plan_node *grown = realloc(inline_now ? NULL : p->nodes, cap * sizeof *grown);
        if (grown == NULL) {
            p->failed = true;
            return SIZE_MAX;
        }
        if (inline_now)
            memcpy(grown, p->inline_nodes, p->n * sizeof *grown);
        p->nodes = grown;
        p->cap = cap;
    }
    size_t first = p->n;
    p->n += count;
    return first;
}

static bool plain_key(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!plain_ascii((uint8_t)name[i]))
            return false;
    return true;
}

static void plan_fill(plan *p, size_t index, const struct ArrowSchema *s, const char *key)
{
    plan_node node = {.schema = s, .key = key};
    if (key) {
        node.key_len = strlen(key);
        node.key_plain = plain_key(key, node.key_len);
    }
    node.kind = kind_of(s->format ? s->format : "", &node.scale);
    if (node.kind == V_STRUCT || node.kind == V_LIST) {
        node.count = node.kind == V_LIST ? (s->n_children > 0 ? 1 : 0) : (size_t)s->n_children;
        if (node.kind == V_LIST && node.count == 0)
            node.kind = V_UNSUPPORTED;
        node.first = plan_reserve(p, node.count);
        if (node.first == SIZE_MAX)
            return;
    }
    p->nodes[index] = node;
    for (size_t k = 0; k < node.count && !p->failed; k++) {
        const struct ArrowSchema *child = s->children[k];
        const char *name = node.kind == V_STRUCT ? (child->name ? child->name : "") : NULL;
        plan_fill(p, node.first + k, child, name);
    }
}

static bool plan_build(plan *p, const struct ArrowSchema *root)
{
    p->nodes = p->inline_nodes;
    p->n = 0;
    p->cap = PLAN_INLINE_NODES;
    p->failed = false;
    size_t index = plan_reserve(p, 1);
    if (index != SIZE_MAX)
        plan_fill(p, index, root, NULL);
    return !p->failed;
}

static void plan_free(plan *p)
{
    if (p->nodes != p->inline_nodes)
        free(p->nodes);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

static void unsupported(writer *w, const struct ArrowSchema *s)
{
    if (w->status == ETL_OK)
        w->status = ctx_set_error(NULL, ETL_ERR_UNSUPPORTED, 0,
                                  "column '%s': Arrow format '%s' cannot be written as JSON",
                                  s->name ? s->name : "", s->format);
}

static void put_small_int(writer *w, const struct ArrowSchema *s, const struct ArrowArray *a,
                          int64_t i)
{
    int64_t j = i + a->offset;
    switch (s->format[0]) {
    case 'c': put_int(w, ((const int8_t *)a->buffers[1])[j]); break;
    case 'C': put_int(w, ((const uint8_t *)a->buffers[1])[j]); break;
    case 's': put_int(w, ((const int16_t *)a->buffers[1])[j]); break;
    case 'S': put_int(w, ((const uint16_t *)a->buffers[1])[j]); break;
    case 'I': put_int(w, ((const uint32_t *)a->buffers[1])[j]); break;
    default: put_uint(w, ((const uint64_t *)a->buffers[1])[j], false); break;
    }
}

static void put_value(writer *w, const plan *p, size_t index, const struct ArrowArray *a,
                      int64_t i);

static void put_members(writer *w, const plan *p, const plan_node *n, const struct ArrowArray *a,
                        int64_t i)
{
    put_char(w, '{');
    int64_t child_index = i + a->offset;
    for (size_t k = 0; k < n->count && (int64_t)k < a->n_children; k++) {
        const plan_node *member = &p->nodes[n->first + k];
        if (k > 0)
            put_char(w, ',');
        if (member->key_plain) {
            put_char(w, '"');
            put(w, member->key, member->key_len);
            put(w, "\":", 2);
        } else {
            put_string(w, member->key, member->key_len);
            put_char(w, ':');
        }
        put_value(w, p, n->first + k, a->children[k], child_index);
    }
    put_char(w, '}');
}

static void put_list(writer *w, const plan *p, const plan_node *n, const struct ArrowArray *a,
                     int64_t i)
{
    int64_t begin, end;
    etl_arrow_list_range(a, i, &begin, &end);
    put_char(w, '[');
    for (int64_t k = begin; k < end; k++) {
        if (k > begin)
            put_char(w, ',');
        put_value(w, p, n->first, a->children[0], k);
    }
    put_char(w, ']');
}

static void put_value(writer *w, const plan *p, size_t index, const struct ArrowArray *a,
                      int64_t i)
{
    const plan_node *n = &p->nodes[index];
    if (n->kind == V_NULL || !etl_arrow_is_valid(a, i)) {
        put(w, "null", 4);
        return;
    }
    size_t len;
    const char *bytes;
    uint64_t lo;
    int64_t hi;
    switch (n->kind) {
    case V_BOOL: put_str(w, etl_arrow_bool(a, i) ? "true" : "false"); return;
    case V_INT32: put_int(w, etl_arrow_int32(a, i)); return;
    case V_INT64: put_int(w, etl_arrow_int64(a, i)); return;
    case V_DOUBLE: put_double(w, etl_arrow_double(a, i)); return;
    case V_FLOAT: put_float(w, etl_arrow_float(a, i)); return;
    case V_TEXT:
        bytes = etl_arrow_bytes(a, i, &len);
        put_string(w, bytes, len);
        return;
    case V_BINARY:
        bytes = etl_arrow_bytes(a, i, &len);
        put_base64(w, (const unsigned char *)bytes, len);
        return;
    case V_SMALL_INT: put_small_int(w, n->schema, a, i); return;
    case V_STRUCT: put_members(w, p, n, a, i); return;
    case V_LIST: put_list(w, p, n, a, i); return;
    case V_TIMESTAMP: put_timestamp(w, etl_arrow_int64(a, i)); return;
    case V_DATE: put_date(w, etl_arrow_int32(a, i)); return;
    case V_DECIMAL:
        etl_arrow_decimal128(a, i, &lo, &hi);
        put_decimal(w, lo, hi, n->scale);
        return;
    case V_NULL:
    case V_UNSUPPORTED: break;
    }
    unsupported(w, n->schema);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */
/* ------------------------------------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* printf and strtod follow LC_NUMERIC; JSON needs '.' whatever it is. */
static locale_t enter_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale != (locale_t)0 ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t previous)
{
    if (previous != (locale_t)0)
        uselocale(previous);
}

static etl_status finish(writer *w, size_t start_len)
{
    if (w->status != ETL_OK && w->out->data != NULL) {
        w->out->len = start_len;
        w->out->data[start_len] = '\0';
    }
    return w->status;
}

etl_status json_encode_rows(const etl_batch *batch, int64_t first, int64_t count,
                            const char *separator, etl_buf *out)
{
    writer w = {out, ETL_OK};
    size_t start_len = out->len;
    if (first < 0 || count < 0 || first > batch->num_rows - count)
        return ctx_set_error(NULL, ETL_ERR_PERMANENT, 0,
                             "rows %lld to %lld are outside the batch (%lld rows)",
                             (long long)first, (long long)(first + count - 1),
                             (long long)batch->num_rows);
    plan p;
    if (!plan_build(&p, batch->schema)) {
        plan_free(&p);
        return ctx_set_error(NULL, ETL_ERR_NOMEM, 0, "out of memory encoding JSON");
    }
    size_t separator_len = separator ? strlen(separator) : 0;
    locale_t previous = enter_c_locale();
    for (int64_t row = first; row < first + count && w.status == ETL_OK; row++) {
        put_value(&w, &p, 0, batch->array, row);
        if (separator_len)
            put(&w, separator, separator_len);
    }
    leave_c_locale(previous);
    plan_free(&p);
    return finish(&w, start_len);
}

etl_status json_encode_row(const etl_batch *batch, int64_t row, etl_buf *out)
{
    return json_encode_rows(batch, row, 1, NULL, out);
}

etl_status json_encode_string(etl_buf *out, const char *s, size_t len)
{
    writer w = {out, ETL_OK};
    size_t start_len = out->len;
    put_string(&w, s, len);
    return finish(&w, start_len);
}

etl_status json_encode_double(etl_buf *out, double v)
{
    writer w = {out, ETL_OK};
    size_t start_len = out->len;
    locale_t previous = enter_c_locale();
    put_double(&w, v);
    leave_c_locale(previous);
    return finish(&w, start_len);
}
