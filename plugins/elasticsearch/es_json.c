#include "es_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 512

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

ej_kind ej_kind_of(ej_span v)
{
    if (v.p == NULL || v.n == 0)
        return EJ_INVALID;
    switch (v.p[0]) {
    case '{': return EJ_OBJECT;
    case '[': return EJ_ARRAY;
    case '"': return EJ_STRING;
    case 't': return EJ_TRUE;
    case 'f': return EJ_FALSE;
    case 'n': return EJ_NULL;
    default: return (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')) ? EJ_NUMBER : EJ_INVALID;
    }
}

/* The first '"' or '\\' at or after p, sixteen bytes at a time with SSE2
 * (every x86-64): most strings are short keys and values, for which a
 * memchr call costs more than the search. */
static const char *next_quote_or_escape(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote16 = _mm_set1_epi8('"'), escape16 = _mm_set1_epi8('\\');
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote16), _mm_cmpeq_epi8(v, escape16)));
        if (mask != 0)
            return p + __builtin_ctz(mask);
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* Past the end of the string that p is inside of (no escape pending at
 * p): a backslash escapes the byte after it. Control characters are not
 * checked here: whoever reads the string's content does. */
static const char *finish_string(const char *q, const char *end)
{
    for (;;) {
        q = next_quote_or_escape(q, end);
        if (q >= end)
            return NULL;
        if (*q == '"')
            return q + 1;
        q += 2;                  /* the backslash and the byte it escapes */
        if (q > end)
            return NULL;
    }
}

/* Past the string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
    return finish_string(p + 1, end);
}

static bool number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static const char *skip_number(const char *p, const char *end)
{
    const char *start = p;
    while (p < end && number_char(*p))
        p++;
    return p > start ? p : NULL;
}

static const char *skip_literal(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The first byte at or after p that may matter to skip_container: '"',
 * '{', '}', '[' or ']' ('[' and ']' are '{' and '}' with bit 0x20 clear).
 * Sixteen bytes at a time with SSE2: documents are mostly plain bytes
 * between those. */
static const char *next_structural(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote16 = _mm_set1_epi8('"'), open16 = _mm_set1_epi8('{');
    const __m128i close16 = _mm_set1_epi8('}'), fold16 = _mm_set1_epi8(0x20);
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i folded = _mm_or_si128(v, fold16);
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote16),
                                   _mm_or_si128(_mm_cmpeq_epi8(folded, open16),
                                                _mm_cmpeq_epi8(folded, close16)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask != 0)
            return p + __builtin_ctz(mask);
    }
#endif
    while (p < end && *p != '"' && *p != '{' && *p != '}' && *p != '[' && *p != ']')
        p++;
    return p;
}

/* Containers: a bit stack remembers whether each level is an object, so
 * that brackets must match. What skip_container reports to a watcher
 * (ej_take_value_watching): */
typedef struct number_watch {
    ej_number_watch fn;
    void *arg;
    bool seen;
} number_watch;

/* After the string that ended at `after`: when it is a member's name (a
 * ':' follows) and its value is a number or an array that starts with one,
 * asks the watcher about the name. */
static void watch_member(number_watch *w, const char *key, const char *after, const char *end)
{
    const char *q = skip_ws(after, end);
    if (q >= end || *q != ':')
        return;
    q++;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t' || *q == '['))
        q++;
    if (q < end && (*q == '-' || (*q >= '0' && *q <= '9')) &&
        w->fn(w->arg, key + 1, (size_t)(after - key - 2)))
        w->seen = true;
}

/* The open containers of a skip: depth and, per level, object or array. */
typedef struct skip_state {
    uint64_t is_object[MAX_DEPTH / 64];
    int depth;
} skip_state;

static bool in_object(const skip_state *st)
{
    int top = st->depth - 1;
    return top >= 0 && ((st->is_object[top / 64] >> (top % 64)) & 1);
}

/* One bracket: -1 when it breaks the nesting, 1 when it closes the
 * outermost container, 0 otherwise. */
static int take_bracket(skip_state *st, char c)
{
    if (c == '{' || c == '[') {
        if (st->depth == MAX_DEPTH)
            return -1;
        uint64_t bit = (uint64_t)1 << (st->depth % 64);
        if (c == '{')
            st->is_object[st->depth / 64] |= bit;
        else
            st->is_object[st->depth / 64] &= ~bit;
        st->depth++;
        return 0;
    }
    if (st->depth == 0)
        return -1;
    st->depth--;
    bool object = (st->is_object[st->depth / 64] >> (st->depth % 64)) & 1;
    if (object != (c == '}'))
        return -1;
    return st->depth == 0 ? 1 : 0;
}

/* From p (outside any string) to the end of the outermost container. */
static const char *skip_scalar(const char *p, const char *end, number_watch *watch,
                               skip_state *st)
{
    while ((p = next_structural(p, end)) < end) {
        if (*p == '"') {
            const char *key = p;
            p = skip_string(p, end);
            if (p == NULL)
                return NULL;
            if (watch && !watch->seen && in_object(st))
                watch_member(watch, key, p, end);
            continue;
        }
        int r = take_bracket(st, *p);
        if (r != 0)
            return r > 0 ? p + 1 : NULL;
        p++;
    }
    return NULL;
}

#if defined(__SSE2__)
/* 64 bytes as four SSE2 registers, and which of them equal a byte. */
typedef struct block64 {
    __m128i a, b, c, d;
} block64;

static inline uint64_t equal_mask(block64 v, char c)
{
    const __m128i k = _mm_set1_epi8(c);
    uint64_t a = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.a, k));
    uint64_t b = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.b, k));
    uint64_t cc = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.c, k));
    uint64_t d = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.d, k));
    return a | (b << 16) | (cc << 32) | (d << 48);
}

static inline block64 load_block(const char *p)
{
    return (block64){_mm_loadu_si128((const __m128i *)(const void *)p),
                     _mm_loadu_si128((const __m128i *)(const void *)(p + 16)),
                     _mm_loadu_si128((const __m128i *)(const void *)(p + 32)),
                     _mm_loadu_si128((const __m128i *)(const void *)(p + 48))};
}

static inline block64 fold_block(block64 v)
{
    const __m128i fold = _mm_set1_epi8(0x20);
    return (block64){_mm_or_si128(v.a, fold), _mm_or_si128(v.b, fold),
                     _mm_or_si128(v.c, fold), _mm_or_si128(v.d, fold)};
}

/* Bit i set when an odd number of bits 0..i of x are: with the quotes of
 * a block, the bytes inside strings (opening quote included). */
static uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* The colon at `at` (outside strings) separates a member's name from its
 * value: when the value is a number or an array that starts with one,
 * asks the watcher about the name. */
static void watch_colon(number_watch *w, const char *start, const char *at, const char *end)
{
    const char *q = at + 1;
    while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t' || *q == '['))
        q++;
    if (q >= end || !(*q == '-' || (*q >= '0' && *q <= '9')))
        return;
    const char *k = at;
    while (k > start && (k[-1] == ' ' || k[-1] == '\n' || k[-1] == '\r' || k[-1] == '\t'))
        k--;
    if (k <= start || k[-1] != '"')
        return;
    const char *close = k - 1, *open = close;
    while (open > start && open[-1] != '"')
        open--;
    if (open > start && w->fn(w->arg, open, (size_t)(close - open)))
        w->seen = true;
}

/* 64 bytes at a time while there is no backslash: which bytes are inside
 * strings follows from the quotes alone (a prefix XOR), and only brackets
 * (and, when watched, colons) outside strings are visited. A block with a
 * backslash, and the tail, go to the byte-wise scan. */
static const char *skip_container(const char *p, const char *end, number_watch *watch)
{
    skip_state st = {.depth = 0};
    bool in_string = false;
    const char *b = p;
    for (; end - b >= 64; b += 64) {
        block64 v = load_block(b), folded = fold_block(v);
        if (equal_mask(v, '\\') != 0)
            break;
        uint64_t inside = prefix_xor(equal_mask(v, '"')) ^ (in_string ? ~UINT64_C(0) : 0);
        in_string = inside >> 63;
        uint64_t events = (equal_mask(folded, '{') | equal_mask(folded, '}')) & ~inside;
        if (watch && !watch->seen)
            events |= equal_mask(v, ':') & ~inside;
        for (; events != 0; events &= events - 1) {
            const char *at = b + __builtin_ctzll(events);
            if (*at == ':') {
                if (!watch->seen)
                    watch_colon(watch, p, at, end);
                continue;
            }
            int r = take_bracket(&st, *at);
            if (r != 0)
                return r > 0 ? at + 1 : NULL;
        }
    }
    if (in_string) {
        /* The blocks before held no backslash: the last quote before b
         * opened this string, which may be a member's name. */
        const char *open = b - 1;
        while (*open != '"')
            open--;
        if ((b = finish_string(b, end)) == NULL)
            return NULL;
        if (watch && !watch->seen && in_object(&st))
            watch_member(watch, open, b, end);
    } else if (watch && !watch->seen) {
        /* A name that ended in the blocks before may have its colon here. */
        const char *colon = skip_ws(b, end);
        if (colon < end && *colon == ':')
            watch_colon(watch, p, colon, end);
    }
    return skip_scalar(b, end, watch, &st);
}
#else
static const char *skip_container(const char *p, const char *end, number_watch *watch)
{
    skip_state st = {.depth = 0};
    return skip_scalar(p, end, watch, &st);
}
#endif

const char *ej_skip(const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
    case '[': return skip_container(p, end, NULL);
    case '"': return skip_string(p, end);
    case 't': return skip_literal(p, end, "true");
    case 'f': return skip_literal(p, end, "false");
    case 'n': return skip_literal(p, end, "null");
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9'))
            return skip_number(p, end);
        return NULL;
    }
}

bool ej_root(const char *text, size_t len, ej_span *root)
{
    if (text == NULL)
        return false;
    const char *end = text + len;
    const char *start = skip_ws(text, end);
    const char *after = ej_skip(start, end);
    if (after == NULL || skip_ws(after, end) != end)
        return false;
    *root = (ej_span){start, (size_t)(after - start)};
    return true;
}

/* ------------------------------------------------------------------ iterating */

static bool begin(ej_span v, char open, ej_iter *it)
{
    *it = (ej_iter){0};
    if (v.p == NULL || v.n < 2 || v.p[0] != open)
        return false;
    it->p = v.p + 1;
    it->end = v.p + v.n - 1;     /* the closing bracket */
    it->close = open == '{' ? '}' : ']';
    return true;
}

bool ej_members(ej_span object, ej_iter *it) { return begin(object, '{', it); }
bool ej_elements(ej_span array, ej_iter *it) { return begin(array, '[', it); }

/* Before the next item: a comma unless this is the first one. False at the
 * end of the container (or on a syntax error, with it->failed set). */
static bool next_item(ej_iter *it)
{
    if (it->p == NULL || it->failed || it->closed)
        return false;
    it->p = skip_ws(it->p, it->end);
    if (it->p >= it->end)
        return false;
    if (*it->p == it->close) {   /* a streaming iterator's end */
        it->p++;
        it->closed = true;
        return false;
    }
    if (it->started) {
        if (*it->p != ',') {
            it->failed = true;
            return false;
        }
        it->p = skip_ws(it->p + 1, it->end);
        if (it->p >= it->end) {
            it->failed = true;
            return false;
        }
    }
    it->started = true;
    return true;
}

bool ej_take_value(ej_iter *it, ej_span *value)
{
    const char *start = skip_ws(it->p, it->end);
    const char *after = ej_skip(start, it->end);
    if (after == NULL) {
        it->failed = true;
        return false;
    }
    *value = (ej_span){start, (size_t)(after - start)};
    it->p = after;
    return true;
}

bool ej_take_value_watching(ej_iter *it, ej_span *value, ej_number_watch fn, void *arg,
                            bool *seen)
{
    const char *start = skip_ws(it->p, it->end);
    if (start >= it->end || (*start != '{' && *start != '['))
        return ej_take_value(it, value);
    number_watch w = {fn, arg, false};
    const char *after = skip_container(start, it->end, &w);
    if (after == NULL) {
        it->failed = true;
        return false;
    }
    *value = (ej_span){start, (size_t)(after - start)};
    it->p = after;
    *seen = w.seen;
    return true;
}

bool ej_next_key(ej_iter *it, ej_span *key)
{
    if (!next_item(it))
        return false;
    if (*it->p != '"') {
        it->failed = true;
        return false;
    }
    const char *after = skip_string(it->p, it->end);
    if (after == NULL) {
        it->failed = true;
        return false;
    }
    *key = (ej_span){it->p, (size_t)(after - it->p)};
    it->p = skip_ws(after, it->end);
    if (it->p >= it->end || *it->p != ':') {
        it->failed = true;
        return false;
    }
    it->p = skip_ws(it->p + 1, it->end);
    return true;
}

bool ej_next_slot(ej_iter *it) { return next_item(it); }

char ej_peek(const ej_iter *it)
{
    const char *p = it->p ? skip_ws(it->p, it->end) : NULL;
    return p && p < it->end ? *p : '\0';
}

bool ej_descend(ej_iter *it, char open, ej_iter *child)
{
    *child = (ej_iter){0};
    const char *p = skip_ws(it->p, it->end);
    if (p >= it->end || *p != open) {
        it->failed = true;
        return false;
    }
    child->p = p + 1;
    child->end = it->end;
    child->close = open == '{' ? '}' : ']';
    return true;
}

bool ej_ascend(ej_iter *it, const ej_iter *child)
{
    if (!child->closed || child->failed) {
        it->failed = true;
        return false;
    }
    it->p = child->p;
    return true;
}

bool ej_next_member(ej_iter *it, ej_span *key, ej_span *value)
{
    return ej_next_key(it, key) && ej_take_value(it, value);
}

bool ej_next_element(ej_iter *it, ej_span *value)
{
    return next_item(it) && ej_take_value(it, value);
}

/* ------------------------------------------------------------------ strings */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return true;
}

static size_t utf8_encode(unsigned cp, char out[4])
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

/* One escape after the backslash at *pp; writes its UTF-8 bytes. */
static bool unescape_one(const char **pp, const char *end, char out[4], size_t *n)
{
    const char *p = *pp + 1;
    if (p >= end)
        return false;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = *p ? strchr(from, *p) : NULL;
    if (hit) {
        out[0] = to[hit - from];
        *n = 1;
        *pp = p + 1;
        return true;
    }
    unsigned cp;
    if (*p != 'u' || !read_hex4(p + 1, end, &cp))
        return false;
    p += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned low;
        if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && read_hex4(p + 2, end, &low) &&
            low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    *n = utf8_encode(cp, out);
    *pp = p;
    return true;
}

/* Walks the string's bytes, unescaped, through `put` (false stops). */
typedef bool (*byte_fn)(void *user, const char *bytes, size_t n);

static bool each_byte(ej_span v, byte_fn put, void *user)
{
    if (ej_kind_of(v) != EJ_STRING || v.n < 2 || v.p[v.n - 1] != '"')
        return false;
    const char *p = v.p + 1, *end = v.p + v.n - 1;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\') {
            if ((unsigned char)*p < 0x20)
                return false;
            p++;
        }
        if (p > run && !put(user, run, (size_t)(p - run)))
            return true;
        if (p < end) {
            char bytes[4];
            size_t n;
            if (!unescape_one(&p, end, bytes, &n))
                return false;
            if (!put(user, bytes, n))
                return true;
        }
    }
    return true;
}

typedef struct fixed_out {
    char *out;
    size_t cap, n;
    bool truncated;
} fixed_out;

/* Copies what fits, never cutting a UTF-8 sequence in half. */
static bool put_fixed(void *user, const char *bytes, size_t n)
{
    fixed_out *f = user;
    size_t room = f->cap - 1 - f->n;
    if (n <= room) {
        memcpy(f->out + f->n, bytes, n);
        f->n += n;
        return true;
    }
    size_t take = room;
    while (take > 0 && ((unsigned char)bytes[take] & 0xC0) == 0x80)
        take--;
    memcpy(f->out + f->n, bytes, take);
    f->n += take;
    f->truncated = true;
    return false;
}

bool ej_string(ej_span v, char *out, size_t cap)
{
    if (cap == 0)
        return false;
    fixed_out f = {out, cap, 0, false};
    bool ok = each_byte(v, put_fixed, &f);
    out[f.n] = '\0';
    return ok;
}

static bool put_str(void *user, const char *bytes, size_t n)
{
    es_str_add(user, bytes, n);
    return true;
}

char *ej_string_dup(ej_span v)
{
    es_str s = {0};
    if (!each_byte(v, put_str, &s) || !es_str_ok(&s)) {
        es_str_free(&s);
        return NULL;
    }
    es_str_cstr(&s);
    return s.p;
}

typedef struct compare_state {
    const char *want;
    size_t at, len;
    bool same;
} compare_state;

static bool put_compare(void *user, const char *bytes, size_t n)
{
    compare_state *c = user;
    if (c->at + n > c->len || memcmp(c->want + c->at, bytes, n) != 0) {
        c->same = false;
        return false;
    }
    c->at += n;
    return true;
}

bool ej_string_is(ej_span v, const char *s)
{
    /* The common case, no escapes: compare in place (a raw control byte
     * cannot match, as `s` holds none). */
    size_t len = strlen(s);
    if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"' && memchr(v.p + 1, '\\', v.n - 2) == NULL)
        return v.n == len + 2 && memcmp(v.p + 1, s, len) == 0;
    compare_state c = {s, 0, len, true};
    return each_byte(v, put_compare, &c) && c.same && c.at == len;
}

bool ej_key_is(ej_span key, const char *name) { return ej_string_is(key, name); }

bool ej_get(ej_span object, const char *name, ej_span *value)
{
    ej_iter it;
    ej_span k, v;
    if (!ej_members(object, &it))
        return false;
    while (ej_next_member(&it, &k, &v))
        if (ej_key_is(k, name)) {
            *value = v;
            return true;
        }
    return false;
}

bool ej_get_path(ej_span object, const char *path, ej_span *value)
{
    char part[128];
    ej_span cur = object;
    while (*path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part)
            return false;
        memcpy(part, path, n);
        part[n] = '\0';
        if (!ej_get(cur, part, &cur))
            return false;
        path += n;
        if (*path == '.')
            path++;
    }
    *value = cur;
    return true;
}

bool ej_int64(ej_span v, int64_t *out)
{
    if (ej_kind_of(v) != EJ_NUMBER)
        return false;
    size_t i = 0;
    bool negative = v.p[0] == '-';
    if (negative)
        i++;
    if (i >= v.n)
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, acc = 0;
    for (; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        unsigned d = (unsigned)(v.p[i] - '0');
        if (acc > (limit - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    *out = negative ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

/* ------------------------------------------------------------------ es_str */

static bool reserve(es_str *s, size_t more)
{
    if (s->failed)
        return false;
    if (s->n + more + 1 <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->n + more + 1) {
        if (cap > SIZE_MAX / 2) {
            s->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(s->p, cap);
    if (p == NULL) {
        s->failed = true;
        return false;
    }
    s->p = p;
    s->cap = cap;
    return true;
}

void es_str_add(es_str *s, const char *data, size_t len)
{
    if (len == 0 || !reserve(s, len))
        return;
    memcpy(s->p + s->n, data, len);
    s->n += len;
    s->p[s->n] = '\0';
}

void es_str_cat(es_str *s, const char *text) { es_str_add(s, text, strlen(text)); }

void es_str_printf(es_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(s, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(s->p + s->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->n += (size_t)n;
}

void es_str_json_string(es_str *s, const char *text, size_t len)
{
    es_str_add(s, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        es_str_add(s, text + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            es_str_add(s, esc, 2);
        } else {
            es_str_printf(s, "\\u%04x", c);
        }
    }
    es_str_add(s, text + run, len - run);
    es_str_add(s, "\"", 1);
}

void es_str_reset(es_str *s)
{
    s->n = 0;
    if (s->p)
        s->p[0] = '\0';
}

bool es_str_ok(const es_str *s) { return !s->failed; }

const char *es_str_cstr(es_str *s)
{
    if (s->p == NULL && !reserve(s, 0))
        return "";
    if (s->p)
        s->p[s->n] = '\0';
    return s->p ? s->p : "";
}

void es_str_free(es_str *s)
{
    free(s->p);
    *s = (es_str){0};
}
