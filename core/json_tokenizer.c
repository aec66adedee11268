#include "json_tokenizer.h"

#include "json_scan.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the next call expects. */
enum {
    ST_VALUE,                    /* a value (document start, after ':' or ',' in an array) */
    ST_ARRAY_FIRST,              /* a value or ']' */
    ST_OBJECT_FIRST,             /* a key or '}' */
    ST_AFTER_VALUE,              /* ',' or the container's close, or the end of the text */
    ST_DONE,
    ST_FAILED
};

enum { IN_ARRAY = 0, IN_OBJECT = 1 };

/* Bytes that stand for themselves inside a string: printable ASCII but
 * '"' and '\\'. Everything else needs a closer look. */
static const uint8_t plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

/* ------------------------------------------------------------------------ */
/* Set-up                                                                    */
/* ------------------------------------------------------------------------ */

void jt_init(jt_tokenizer *t)
{
    t->str = NULL;
    t->len = 0;
    t->i = 0;
    t->d = 0;
    t->error.kind = JT_ERR_NONE;
    t->error.reason[0] = '\0';
    t->max_depth = JT_DEFAULT_MAX_DEPTH;
    t->stack = t->inline_stack;
    t->stack_cap = sizeof t->inline_stack;
    t->scratch = t->inline_scratch;
    t->scratch_cap = sizeof t->inline_scratch;
    jt_reset(t, "", 0);
}

void jt_free(jt_tokenizer *t)
{
    if (t->stack != t->inline_stack)
        free(t->stack);
    if (t->scratch != t->inline_scratch)
        free(t->scratch);
    t->stack = t->inline_stack;
    t->stack_cap = sizeof t->inline_stack;
    t->scratch = t->inline_scratch;
    t->scratch_cap = sizeof t->inline_scratch;
}

void jt_set_max_depth(jt_tokenizer *t, int max_depth)
{
    t->max_depth = max_depth < 1 ? 1 : max_depth;
}

void jt_reset(jt_tokenizer *t, const char *json, size_t len)
{
    t->begin = json;
    t->p = json;
    t->token = json;
    t->end = json + len;
    t->state = ST_VALUE;
    t->depth = 0;
    t->error.kind = JT_ERR_NONE;
    /* RFC 8259 lets a parser ignore a byte order mark; files saved by
     * Windows tools start with one. */
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0)
        t->p += 3;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static void locate(const jt_tokenizer *t, const char *at, int *line, int *column)
{
    int l = 1, c = 1;
    for (const char *q = t->begin; q < at; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else if (((uint8_t)*q & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *column = c;
}


#if defined(__GNUC__)
__attribute__((format(printf, 4, 5), cold, noinline))
#endif
static jt_token fail(jt_tokenizer *t, const char *at, jt_error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error.reason, sizeof t->error.reason, fmt, ap);
    va_end(ap);
    t->error.kind = kind;
    t->error.offset = (size_t)(at - t->begin);
    locate(t, at, &t->error.line, &t->error.column);
    t->state = ST_FAILED;
    return JT_ERROR;
}

/* "'x'" for a printable character, "byte 0xNN" otherwise, or "the end". */
static const char *describe(const jt_tokenizer *t, const char *at, char *buf, size_t cap)
{
    if (at >= t->end)
        snprintf(buf, cap, "the end of the input");
    else if ((uint8_t)*at > 0x20 && (uint8_t)*at < 0x7f)
        snprintf(buf, cap, "'%c'", *at);
    else
        snprintf(buf, cap, "byte 0x%02X", (unsigned)(uint8_t)*at);
    return buf;
}

int jt_format_error(const jt_tokenizer *t, char *buf, size_t cap)
{
    return snprintf(buf, cap, "byte %zu (line %d, column %d): %s", t->error.offset,
                    t->error.line, t->error.column, t->error.reason);
}

/* ------------------------------------------------------------------------ */
/* Small scanners                                                            */
/* ------------------------------------------------------------------------ */

static inline const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline bool is_digit(char c)
{
    return (unsigned)(c - '0') < 10u;
}

/* Length (2..4) of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF); 0 when it is
 * malformed, -1 when the input ends inside it. */
static int utf8_sequence(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    int n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (int k = 1; k < n; k++) {
        if (p + k >= end)
            return -1;
        if (p[k] < lo || p[k] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return n;
}

static int hex4(const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = p[k];
        int digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            digit = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + digit;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

static bool grow_scratch(jt_tokenizer *t, size_t need, size_t used)
{
    size_t cap = t->scratch_cap * 2;
    if (cap < need)
        cap = need;
    char *bigger;
    if (t->scratch == t->inline_scratch) {
        bigger = malloc(cap);
        if (bigger != NULL)
            memcpy(bigger, t->scratch, used);
    } else {
        bigger = realloc(t->scratch, cap);
    }
    if (bigger == NULL)
        return false;
    t->scratch = bigger;
    t->scratch_cap = cap;
    return true;
}

static inline bool reserve_scratch(jt_tokenizer *t, size_t used, size_t extra)
{
    return used + extra <= t->scratch_cap || grow_scratch(t, used + extra, used);
}

static jt_token fail_in_string(jt_tokenizer *t, const uint8_t *p, int utf8_result)
{
    if (p >= (const uint8_t *)t->end || utf8_result < 0)
        return fail(t, t->end, JT_ERR_SYNTAX,
                    "unexpected end of the input inside a string (missing closing '\"')");
    if (*p < 0x20)
        return fail(t, (const char *)p, JT_ERR_SYNTAX,
                    "control character U+%04X in a string must be escaped", (unsigned)*p);
    return fail(t, (const char *)p, JT_ERR_SYNTAX, "invalid UTF-8 in a string (byte 0x%02X)",
                (unsigned)*p);
}

/* Decodes the escape at p ('\\' then at least one byte) into the scratch
 * space at *used; returns where the input goes on, or NULL after fail(). */
static const uint8_t *unescape_one(jt_tokenizer *t, const uint8_t *p, size_t *used)
{
    const uint8_t *end = (const uint8_t *)t->end;
    char *out = t->scratch + *used;
    char simple;
    switch (p[1]) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': simple = 0; break;
    default:
        if (p[1] > 0x20 && p[1] < 0x7f)
            fail(t, (const char *)p, JT_ERR_SYNTAX, "invalid escape '\\%c' in a string", p[1]);
        else
            fail(t, (const char *)p, JT_ERR_SYNTAX,
                 "invalid escape in a string: '\\' followed by byte 0x%02X", (unsigned)p[1]);
        return NULL;
    }
    if (simple) {
        *out = simple;
        *used += 1;
        return p + 2;
    }
    int unit = hex4(p + 2, end);
    if (unit < 0) {
        fail(t, (const char *)p, JT_ERR_SYNTAX, "invalid \\u escape: expected 4 hex digits");
        return NULL;
    }
    const uint8_t *next = p + 6;
    uint32_t cp = (uint32_t)unit;
    /* A surrogate pair makes one code point; a lone half cannot be UTF-8,
     * so it becomes U+FFFD (docs/json.md). */
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        int low = (end - next >= 6 && next[0] == '\\' && next[1] == 'u') ? hex4(next + 2, end) : -1;
        if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + (((uint32_t)unit - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
            next += 6;
        } else {
            cp = 0xFFFD;
        }
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
        cp = 0xFFFD;
    }
    *used += utf8_encode(cp, out);
    return next;
}

/* The rest of a string that has escapes, from the first backslash at p:
 * unescaped into the scratch space. */
static jt_token unescape_string(jt_tokenizer *t, const uint8_t *start, const uint8_t *p)
{
    const uint8_t *end = (const uint8_t *)t->end;
    size_t used = (size_t)(p - start);
    if (!reserve_scratch(t, 0, used + 16))
        return fail(t, (const char *)p, JT_ERR_NOMEM, "out of memory unescaping a string");
    memcpy(t->scratch, start, used);
    for (;;) {
        const uint8_t *run = p;
        while (p < end && plain_byte[*p])
            p++;
        size_t n = (size_t)(p - run);
        /* +4: room for the longest escape or UTF-8 sequence that follows. */
        if (!reserve_scratch(t, used, n + 4))
            return fail(t, (const char *)p, JT_ERR_NOMEM, "out of memory unescaping a string");
        memcpy(t->scratch + used, run, n);
        used += n;
        if (p >= end)
            return fail_in_string(t, p, 0);
        if (*p == '"') {
            t->str = t->scratch;
            t->len = used;
            t->p = (const char *)p + 1;
            return JT_STRING;
        }
        if (*p == '\\') {
            if (p + 1 >= end)
                return fail_in_string(t, end, 0);
            p = unescape_one(t, p, &used);
            if (p == NULL)
                return JT_ERROR;
        } else if (*p >= 0x80) {
            int len = utf8_sequence(p, end);
            if (len <= 0)
                return fail_in_string(t, p, len);
            memcpy(t->scratch + used, p, (size_t)len);
            used += (size_t)len;
            p += len;
        } else {
            return fail_in_string(t, p, 0);
        }
    }
}

/* A string whose opening quote is just before `start`. Sets str/len and
 * moves past the closing quote; returns JT_STRING or JT_ERROR. */
static jt_token read_string(jt_tokenizer *t, const char *start)
{
    const uint8_t *p = (const uint8_t *)start, *end = (const uint8_t *)t->end;
    for (;;) {
        p = json_skip_plain_run(p, end);
        while (p < end && plain_byte[*p])
            p++;
        if (p >= end)
            return fail_in_string(t, p, 0);
        if (*p == '"') {
            t->str = start;
            t->len = (size_t)(p - (const uint8_t *)start);
            t->p = (const char *)p + 1;
            return JT_STRING;
        }
        if (*p == '\\')
            return unescape_string(t, (const uint8_t *)start, p);
        if (*p < 0x80)
            return fail_in_string(t, p, 0);
        int len = utf8_sequence(p, end);
        if (len <= 0)
            return fail_in_string(t, p, len);
        p += len;
    }
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */
/* ------------------------------------------------------------------------ */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Correctly rounded, whatever LC_NUMERIC the process has. */
static double parse_double_text(const char *text)
{
    pthread_once(&c_locale_once, make_c_locale);
    if (c_locale != (locale_t)0)
        return strtod_l(text, NULL, c_locale);
    return strtod(text, NULL);
}

static bool lexeme_to_double(jt_tokenizer *t, const char *start, size_t len, double *out)
{
    char small[64];
    char *text = small;
    if (len >= sizeof small) {
        /* Numbers are never inside a string being unescaped, so the scratch
         * space is free here. */
        if (!reserve_scratch(t, 0, len + 1))
            return false;
        text = t->scratch;
    }
    memcpy(text, start, len);
    text[len] = '\0';
    *out = parse_double_text(text);
    return true;
}

static const double exact_powers_of_ten[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The scanned parts of a number lexeme. */
typedef struct number_parts {
    bool negative;
    uint64_t mantissa;           /* the first 19 significant-or-not digits */
    int digits;                  /* all digits of the integer and fraction parts */
    int int_digits;
    int frac_digits;
    long exponent;               /* saturated at +-100000 */
    bool integral;               /* no fraction, no exponent */
} number_parts;

static inline const char *scan_digits(const char *p, const char *end, number_parts *n,
                                      int *count)
{
    while (p < end && is_digit(*p)) {
        if (n->digits < 19)
            n->mantissa = n->mantissa * 10 + (uint64_t)(*p - '0');
        n->digits++;
        (*count)++;
        p++;
    }
    return p;
}

/* Scans the grammar of RFC 8259 section 6; returns the end of the lexeme or
 * NULL after fail(). */
static const char *scan_number(jt_tokenizer *t, const char *p, number_parts *n)
{
    const char *end = t->end;
    char what[32];
    memset(n, 0, sizeof *n);
    n->integral = true;
    if (*p == '-') {
        n->negative = true;
        p++;
    }
    if (p >= end || !is_digit(*p)) {
        fail(t, p, JT_ERR_SYNTAX, "invalid number: expected a digit after '-', found %s",
             describe(t, p, what, sizeof what));
        return NULL;
    }
    if (*p == '0' && p + 1 < end && is_digit(p[1])) {
        fail(t, p, JT_ERR_SYNTAX, "invalid number: leading zeros are not allowed");
        return NULL;
    }
    p = scan_digits(p, end, n, &n->int_digits);
    if (p < end && *p == '.') {
        n->integral = false;
        p++;
        if (p >= end || !is_digit(*p)) {
            fail(t, p, JT_ERR_SYNTAX, "invalid number: expected a digit after '.', found %s",
                 describe(t, p, what, sizeof what));
            return NULL;
        }
        p = scan_digits(p, end, n, &n->frac_digits);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        n->integral = false;
        p++;
        bool negative_exponent = false;
        if (p < end && (*p == '+' || *p == '-'))
            negative_exponent = *p++ == '-';
        if (p >= end || !is_digit(*p)) {
            fail(t, p, JT_ERR_SYNTAX, "invalid number: expected a digit in the exponent, found %s",
                 describe(t, p, what, sizeof what));
            return NULL;
        }
        for (; p < end && is_digit(*p); p++)
            if (n->exponent < 100000)
                n->exponent = n->exponent * 10 + (*p - '0');
        if (negative_exponent)
            n->exponent = -n->exponent;
    }
    return p;
}

/* Clinger's fast path: a mantissa below 2^53 times or divided by an exact
 * power of ten rounds once, so the result is correctly rounded. */
static bool fast_double(const number_parts *n, double *out)
{
    if (n->digits > 19 || n->mantissa > (UINT64_C(1) << 53))
        return false;
    long e = n->exponent - n->frac_digits;
    double m = (double)n->mantissa;
    if (n->mantissa == 0)
        *out = 0.0;
    else if (e >= 0 && e <= 22)
        *out = m * exact_powers_of_ten[e];
    else if (e < 0 && e >= -22)
        *out = m / exact_powers_of_ten[-e];
    else
        return false;
    if (n->negative)
        *out = -*out;
    return true;
}

static jt_token number_out_of_range(jt_tokenizer *t, const char *start, size_t len)
{
    int shown = len > 40 ? 40 : (int)len;
    return fail(t, start, JT_ERR_RANGE, "number %.*s%s is beyond the range of a double",
                shown, start, len > 40 ? "..." : "");
}

static jt_token read_number(jt_tokenizer *t, const char *start)
{
    number_parts n;
    const char *p = scan_number(t, start, &n);
    if (p == NULL)
        return JT_ERROR;
    size_t len = (size_t)(p - start);
    t->p = p;
    t->state = ST_AFTER_VALUE;
    if (n.integral && n.int_digits <= 19) {
        uint64_t limit = n.negative ? (UINT64_C(1) << 63) : (uint64_t)INT64_MAX;
        if (n.mantissa <= limit) {
            t->i = n.negative ? (int64_t)(0 - n.mantissa) : (int64_t)n.mantissa;
            return JT_INT;
        }
    }
    if (!fast_double(&n, &t->d) && !lexeme_to_double(t, start, len, &t->d))
        return fail(t, start, JT_ERR_NOMEM, "out of memory reading a number");
    if (isinf(t->d))
        return number_out_of_range(t, start, len);
    if (n.integral) {
        t->str = start;
        t->len = len;
        return JT_BIG_NUMBER;
    }
    return JT_DOUBLE;
}

/* ------------------------------------------------------------------------ */
/* Structure                                                                 */
/* ------------------------------------------------------------------------ */

static bool grow_stack(jt_tokenizer *t)
{
    size_t cap = t->stack_cap * 2;
    if (cap > (size_t)t->max_depth)
        cap = (size_t)t->max_depth;
    uint8_t *bigger;
    if (t->stack == t->inline_stack) {
        bigger = malloc(cap);
        if (bigger != NULL)
            memcpy(bigger, t->stack, (size_t)t->depth);
    } else {
        bigger = realloc(t->stack, cap);
    }
    if (bigger == NULL)
        return false;
    t->stack = bigger;
    t->stack_cap = cap;
    return true;
}

static jt_token open_container(jt_tokenizer *t, const char *p, uint8_t kind)
{
    if (t->depth >= t->max_depth)
        return fail(t, p, JT_ERR_DEPTH,
                    "nesting deeper than %d levels of objects and arrays", t->max_depth);
    if ((size_t)t->depth >= t->stack_cap && !grow_stack(t))
        return fail(t, p, JT_ERR_NOMEM, "out of memory for the nesting stack");
    t->stack[t->depth++] = kind;
    t->p = p + 1;
    if (kind == IN_OBJECT) {
        t->state = ST_OBJECT_FIRST;
        return JT_OBJECT_BEGIN;
    }
    t->state = ST_ARRAY_FIRST;
    return JT_ARRAY_BEGIN;
}

static jt_token close_container(jt_tokenizer *t, const char *p)
{
    t->depth--;
    t->p = p + 1;
    t->state = ST_AFTER_VALUE;
    return *p == '}' ? JT_OBJECT_END : JT_ARRAY_END;
}

static jt_token read_literal(jt_tokenizer *t, const char *p, const char *word, size_t len,
                             jt_token token)
{
    if ((size_t)(t->end - p) < len || memcmp(p, word, len) != 0)
        return fail(t, p, JT_ERR_SYNTAX, "invalid literal: expected '%s'", word);
    t->p = p + len;
    t->state = ST_AFTER_VALUE;
    return token;
}

static jt_token read_value(jt_tokenizer *t, const char *p)
{
    char what[32];
    if (p >= t->end)
        return fail(t, p, JT_ERR_SYNTAX, "unexpected end of the input: expected a value");
    switch (*p) {
    case '{':
        return open_container(t, p, IN_OBJECT);
    case '[':
        return open_container(t, p, IN_ARRAY);
    case '"':
        if (read_string(t, p + 1) != JT_STRING)
            return JT_ERROR;
        t->state = ST_AFTER_VALUE;
        return JT_STRING;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return read_number(t, p);
    case 't':
        return read_literal(t, p, "true", 4, JT_TRUE);
    case 'f':
        return read_literal(t, p, "false", 5, JT_FALSE);
    case 'n':
        return read_literal(t, p, "null", 4, JT_NULL);
    default:
        return fail(t, p, JT_ERR_SYNTAX,
                    "expected a value (object, array, string, number, true, false or null), "
                    "found %s", describe(t, p, what, sizeof what));
    }
}

/* A member name, then its ':'. */
static jt_token read_key(jt_tokenizer *t, const char *p, const char *expected)
{
    char what[32];
    if (p >= t->end || *p != '"')
        return fail(t, p, JT_ERR_SYNTAX, "%s, found %s", expected,
                    describe(t, p, what, sizeof what));
    if (read_string(t, p + 1) != JT_STRING)
        return JT_ERROR;
    const char *colon = skip_space(t->p, t->end);
    if (colon >= t->end || *colon != ':')
        return fail(t, colon, JT_ERR_SYNTAX, "expected ':' after object key, found %s",
                    describe(t, colon, what, sizeof what));
    t->p = colon + 1;
    t->state = ST_VALUE;
    return JT_KEY;
}

static jt_token after_value(jt_tokenizer *t, const char *p)
{
    char what[32];
    if (t->depth == 0) {
        if (p < t->end)
            return fail(t, p, JT_ERR_SYNTAX, "unexpected data after the JSON value: %s",
                        describe(t, p, what, sizeof what));
        t->p = p;
        t->state = ST_DONE;
        return JT_END;
    }
    bool in_object = t->stack[t->depth - 1] == IN_OBJECT;
    if (p < t->end) {
        if (*p == ',') {
            const char *next = skip_space(p + 1, t->end);
            if (in_object)
                return read_key(t, next, "expected a string key after ','");
            return read_value(t, next);
        }
        if (*p == (in_object ? '}' : ']'))
            return close_container(t, p);
    }
    if (in_object)
        return fail(t, p, JT_ERR_SYNTAX, "expected ',' or '}' after object member, found %s",
                    describe(t, p, what, sizeof what));
    return fail(t, p, JT_ERR_SYNTAX, "expected ',' or ']' after array element, found %s",
                describe(t, p, what, sizeof what));
}

jt_token jt_next(jt_tokenizer *t)
{
    const char *p = skip_space(t->p, t->end);
    t->token = p;
    switch (t->state) {
    case ST_AFTER_VALUE:
        return after_value(t, p);
    case ST_VALUE:
        return read_value(t, p);
    case ST_OBJECT_FIRST:
        if (p < t->end && *p == '}')
            return close_container(t, p);
        return read_key(t, p, "expected a string key or '}' after '{'");
    case ST_ARRAY_FIRST:
        if (p < t->end && *p == ']')
            return close_container(t, p);
        return read_value(t, p);
    case ST_DONE:
        return JT_END;
    default:
        return JT_ERROR;
    }
}

int jt_utf8_sequence_length(const char *p, const char *end)
{
    return utf8_sequence((const uint8_t *)p, (const uint8_t *)end);
}

jt_token jt_reject_token(jt_tokenizer *t, const char *reason)
{
    return fail(t, t->token, JT_ERR_SYNTAX, "%s", reason);
}

bool jt_validate(const char *json, size_t len, int max_depth, jt_error *err)
{
    jt_tokenizer t;
    jt_init(&t);
    jt_set_max_depth(&t, max_depth);
    jt_reset(&t, json, len);
    jt_token tok;
    while ((tok = jt_next(&t)) > JT_END)
        ;
    if (tok == JT_ERROR && err != NULL)
        *err = t.error;
    jt_free(&t);
    return tok == JT_END;
}
