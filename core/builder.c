/* Row-at-a-time builder of Arrow-layout batches with a growing schema.
 *
 * Columns live in one array indexed by handle (stable for the builder's
 * life). Each column keeps its Arrow buffers while it grows; builder_finish
 * hands them to the batch without copying.
 *
 * Slots are filled lazily: a column not set in a record (or struct element)
 * is padded with nulls only when it next gets a value, or at finish. So a
 * record costs O(values), not O(columns), however wide the schema, and the
 * observable result is the same as padding at end_record/end_struct.
 * A column's "slot" for the value being appended is:
 *   top level          the current row (builder rows)
 *   struct child       the struct's open element (struct length - 1)
 *   list element       a new element at the end
 * A column already longer than its slot was set twice: "duplicate field".
 *
 * Invariant: bytes past the used part of every column buffer are zero, and
 * bits past a column's length in its bitmaps are zero; growing zero-fills,
 * truncating (cancel_record) clears. So padding with nulls only bumps
 * lengths (and copies the last offset for offset-based columns).
 */
#include "builder.h"
#include "batch.h"
#include "batch_internal.h"
#include "buf.h"
#include "context.h"
#include "json_encode.h"

#include <cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

typedef struct cbuf {
    uint8_t *p;                  /* an rbuf, handed to the batch at finish */
    size_t len;                  /* bytes used */
    size_t cap;
    size_t hint;                 /* capacity at the last hand-over */
} cbuf;

/* Children of a struct (or of the root), with a name hash table. */
typedef struct kidset {
    int32_t *ids;
    int32_t n, cap;
    int32_t *table;              /* column ids, -1 empty; size mask + 1 */
    uint32_t mask;
    int32_t cursor;              /* position of the last lookup hit */
} kidset;

typedef struct bcol {
    char *name;
    uint32_t name_len;
    uint32_t hash;
    int32_t parent;              /* ETL_ROOT, a struct column, or the list of an item */
    int32_t pos;                 /* position among the parent's children */
    int32_t item;                /* list element column, or -1 */
    etl_type type;
    bool declared;               /* type fixed by builder_declare */
    bool is_item;
    bool open;                   /* a struct or list value in progress */
    int32_t precision, scale;
    uint64_t typed_seq;          /* record during which the type was inferred */
    int64_t len;
    cbuf validity;               /* bitmap */
    cbuf values;                 /* fixed-width values, bool bits, or int32 offsets */
    cbuf data;                   /* string/binary bytes */
    kidset kids;
} bcol;

struct etl_builder {
    etl_ctx *ctx;
    bcol *cols;
    int32_t ncols, cols_cap;
    kidset root;
    int64_t rows;
    int64_t bytes, bytes_at_record;
    bool in_record;
    uint64_t record_seq;
    int32_t *stack;              /* open structs and lists, outermost first */
    int32_t depth, stack_cap;
};

enum layout { LAYOUT_NONE, LAYOUT_BITS, LAYOUT_FIXED, LAYOUT_OFFSETS };

static enum layout type_layout(etl_type t)
{
    switch (t) {
    case ETL_TYPE_BOOL:
        return LAYOUT_BITS;
    case ETL_TYPE_INT32: case ETL_TYPE_INT64: case ETL_TYPE_FLOAT: case ETL_TYPE_DOUBLE:
    case ETL_TYPE_TIMESTAMP_US: case ETL_TYPE_DATE: case ETL_TYPE_DECIMAL:
        return LAYOUT_FIXED;
    case ETL_TYPE_STRING: case ETL_TYPE_BINARY: case ETL_TYPE_LIST:
        return LAYOUT_OFFSETS;
    default:
        return LAYOUT_NONE;
    }
}

static size_t type_width(etl_type t)
{
    switch (t) {
    case ETL_TYPE_INT32: case ETL_TYPE_FLOAT: case ETL_TYPE_DATE:
        return 4;
    case ETL_TYPE_DECIMAL:
        return 16;
    default:
        return 8;
    }
}

static const char *type_name(etl_type t)
{
    static const char *const names[] = {"null", "bool", "int32", "int64", "float", "double",
                                        "string", "binary", "timestamp", "date", "decimal",
                                        "struct", "list"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static size_t bitmap_bytes(int64_t bits)
{
    return (size_t)((bits + 7) >> 3);
}

/* --- buffers ------------------------------------------------------------ */

static etl_status cbuf_grow(cbuf *cb, size_t need)
{
    size_t cap = cb->cap ? cb->cap * 2 : (cb->hint > 64 ? cb->hint : 64);
    while (cap < need)
        cap *= 2;
    uint8_t *p = rbuf_realloc(cb->p, cap);
    if (p == NULL)
        return ETL_ERR_NOMEM;
    memset(p + cb->cap, 0, cap - cb->cap);
    cb->p = p;
    cb->cap = cap;
    return ETL_OK;
}

static inline etl_status cbuf_reserve(cbuf *cb, size_t need)
{
    return need <= cb->cap ? ETL_OK : cbuf_grow(cb, need);
}

static void cbuf_free(cbuf *cb)
{
    rbuf_unref(cb->p);
    memset(cb, 0, sizeof *cb);
}

/* Gives the buffer to a batch (used size `size`); the builder starts a new
 * one next time, sized like this one. */
static const void *cbuf_take(cbuf *cb, size_t size)
{
    uint8_t *p = cb->p;
    if (p == NULL && (p = rbuf_alloc(8)) == NULL)
        return NULL;
    rbuf_set_size(p, size);
    cb->hint = cb->cap;
    cb->p = NULL;
    cb->len = cb->cap = 0;
    return p;
}

static void bits_clear_range(uint8_t *bits, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static int32_t *offsets_of(bcol *c)
{
    return (int32_t *)(void *)c->values.p;
}

/* --- errors ------------------------------------------------------------- */

static size_t col_path(const etl_builder *b, int32_t col, char *out, size_t cap)
{
    const bcol *c = &b->cols[col];
    size_t n = c->parent == ETL_ROOT ? 0 : col_path(b, c->parent, out, cap);
    int w;
    if (c->is_item)
        w = snprintf(out + n, cap - n, "[]");
    else
        w = snprintf(out + n, cap - n, "%s%.*s", n ? "." : "", (int)c->name_len, c->name);
    n += w > 0 ? (size_t)w : 0;
    return n < cap ? n : cap - 1;
}

static const char *col_type_text(const bcol *c, char *out, size_t cap)
{
    if (c->type == ETL_TYPE_DECIMAL)
        snprintf(out, cap, "decimal(%d,%d)", (int)c->precision, (int)c->scale);
    else
        snprintf(out, cap, "%s", type_name(c->type));
    return out;
}

static etl_status col_error(etl_builder *b, int32_t col, etl_status st, const char *fmt,
                            const char *what)
{
    char path[512], type[32];
    col_path(b, col, path, sizeof path);
    col_type_text(&b->cols[col], type, sizeof type);
    return ctx_set_error(b->ctx, st, 0, "column '%s' (%s): %s%s", path, type, fmt, what);
}

static etl_status mismatch(etl_builder *b, int32_t col, const char *value_type)
{
    char path[512], type[32];
    col_path(b, col, path, sizeof path);
    col_type_text(&b->cols[col], type, sizeof type);
    return ctx_set_error(b->ctx, ETL_ERR_DATA, 0,
                         "column '%s' has type %s; cannot append a %s value", path, type,
                         value_type);
}

/* Quotes at most 64 bytes of untrusted text, unprintable bytes as '?'. */
static void quote_text(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0, shown = len > 64 ? 64 : len;
    out[n++] = '"';
    for (size_t i = 0; i < shown && n + 5 < cap; i++)
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (shown < len && n + 5 < cap)
        n += (size_t)snprintf(out + n, cap - n, "...");
    out[n++] = '"';
    out[n] = '\0';
}

static etl_status parse_error(etl_builder *b, int32_t col, const char *s, size_t len,
                              const char *expected)
{
    char quoted[80], msg[256];
    quote_text(s, len, quoted, sizeof quoted);
    snprintf(msg, sizeof msg, "cannot parse %s as %s", quoted, expected);
    return col_error(b, col, ETL_ERR_DATA, msg, "");
}

static etl_status misuse(etl_builder *b, const char *what)
{
    return ctx_set_error(b->ctx, ETL_ERR_PERMANENT, 0, "builder misuse: %s", what);
}

static etl_status bad_handle(etl_builder *b, int32_t col)
{
    return ctx_set_error(b->ctx, ETL_ERR_PERMANENT, 0,
                         "builder misuse: invalid column handle %d (%d columns)", (int)col,
                         (int)b->ncols);
}

static etl_status nomem(etl_builder *b)
{
    return ctx_set_error(b->ctx, ETL_ERR_NOMEM, 0, "out of memory while building a batch");
}

/* --- names -------------------------------------------------------------- */

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static inline bool name_is(const bcol *c, const char *s, size_t len)
{
    if (c->name_len != len)
        return false;
    if (len > 16)
        return memcmp(c->name, s, len) == 0;
    /* Field names are short, and this runs once per JSON value: compare
     * them without a call. */
    for (size_t i = 0; i < len; i++)
        if (c->name[i] != s[i])
            return false;
    return true;
}

static int32_t kidset_find(const etl_builder *b, const kidset *ks, const char *s, size_t len,
                           uint32_t h)
{
    if (ks->table == NULL)
        return -1;
    for (uint32_t i = h & ks->mask;; i = (i + 1) & ks->mask) {
        int32_t id = ks->table[i];
        if (id < 0)
            return -1;
        if (b->cols[id].hash == h && name_is(&b->cols[id], s, len))
            return id;
    }
}

static etl_status kidset_rehash(etl_builder *b, kidset *ks, uint32_t size)
{
    int32_t *table = malloc(size * sizeof *table);
    if (table == NULL)
        return ETL_ERR_NOMEM;
    memset(table, 0xff, size * sizeof *table);
    for (int32_t k = 0; k < ks->n; k++) {
        uint32_t i = b->cols[ks->ids[k]].hash & (size - 1);
        while (table[i] >= 0)
            i = (i + 1) & (size - 1);
        table[i] = ks->ids[k];
    }
    free(ks->table);
    ks->table = table;
    ks->mask = size - 1;
    return ETL_OK;
}

static etl_status kidset_add(etl_builder *b, kidset *ks, int32_t id)
{
    if (ks->n == ks->cap) {
        int32_t cap = ks->cap ? ks->cap * 2 : 8;
        int32_t *ids = realloc(ks->ids, (size_t)cap * sizeof *ids);
        if (ids == NULL)
            return ETL_ERR_NOMEM;
        ks->ids = ids;
        ks->cap = cap;
    }
    b->cols[id].pos = ks->n;
    ks->ids[ks->n++] = id;
    uint32_t size = ks->table ? ks->mask + 1 : 0;
    if ((uint32_t)ks->n * 2 > size)
        return kidset_rehash(b, ks, size ? size * 2 : 16);
    uint32_t i = b->cols[id].hash & ks->mask;
    while (ks->table[i] >= 0)
        i = (i + 1) & ks->mask;
    ks->table[i] = id;
    return ETL_OK;
}

static kidset *kids_of(etl_builder *b, int32_t parent)
{
    return parent == ETL_ROOT ? &b->root : &b->cols[parent].kids;
}

/* Adds a column; may move b->cols. Returns the handle or a negative status. */
static int32_t col_add(etl_builder *b, int32_t parent, const char *name, size_t len,
                       bool is_item)
{
    if (b->ncols == b->cols_cap) {
        int32_t cap = b->cols_cap ? b->cols_cap * 2 : 16;
        bcol *cols = realloc(b->cols, (size_t)cap * sizeof *cols);
        if (cols == NULL)
            return nomem(b);
        b->cols = cols;
        b->cols_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return nomem(b);
    if (len)
        memcpy(copy, name, len);
    copy[len] = '\0';
    int32_t id = b->ncols++;
    bcol *c = &b->cols[id];
    memset(c, 0, sizeof *c);
    c->name = copy;
    c->name_len = (uint32_t)len;
    c->hash = name_hash(name, len);
    c->parent = parent;
    c->item = -1;
    c->is_item = is_item;
    c->kids.cursor = -1;
    if (!is_item && kidset_add(b, kids_of(b, parent), id) != ETL_OK)
        return nomem(b);
    return id;
}

/* --- column state ------------------------------------------------------- */

static void col_truncate(etl_builder *b, int32_t col, int64_t n);

/* Makes the buffers match `len` null slots of the column's type. */
static etl_status col_layout_init(etl_builder *b, int32_t col)
{
    bcol *c = &b->cols[col];
    cbuf *bufs[] = {&c->validity, &c->values, &c->data};
    for (int i = 0; i < 3; i++) {
        if (bufs[i]->p)
            memset(bufs[i]->p, 0, bufs[i]->cap);
        bufs[i]->len = 0;
    }
    if (c->type == ETL_TYPE_NULL)
        return ETL_OK;
    etl_status st = cbuf_reserve(&c->validity, bitmap_bytes(c->len) + 1);
    switch (type_layout(c->type)) {
    case LAYOUT_BITS:
        c->values.len = bitmap_bytes(c->len);
        st = st ? st : cbuf_reserve(&c->values, c->values.len + 1);
        break;
    case LAYOUT_FIXED:
        c->values.len = (size_t)c->len * type_width(c->type);
        st = st ? st : cbuf_reserve(&c->values, c->values.len);
        break;
    case LAYOUT_OFFSETS:
        c->values.len = (size_t)(c->len + 1) * 4;
        st = st ? st : cbuf_reserve(&c->values, c->values.len);
        if (c->type == ETL_TYPE_LIST && c->item >= 0)
            col_truncate(b, c->item, 0);
        break;
    case LAYOUT_NONE:
        break;
    }
    return st ? nomem(b) : ETL_OK;
}

static etl_status col_set_type(etl_builder *b, int32_t col, etl_type type)
{
    b->cols[col].type = type;
    b->cols[col].typed_seq = b->record_seq;
    return col_layout_init(b, col);
}

/* Appends n null slots. */
static etl_status col_pad(etl_builder *b, bcol *c, int64_t n)
{
    int64_t len = c->len + n;
    if (c->type != ETL_TYPE_NULL && cbuf_reserve(&c->validity, bitmap_bytes(len)) != ETL_OK)
        return nomem(b);
    switch (type_layout(c->type)) {
    case LAYOUT_BITS:
        if (cbuf_reserve(&c->values, bitmap_bytes(len)) != ETL_OK)
            return nomem(b);
        c->values.len = bitmap_bytes(len);
        break;
    case LAYOUT_FIXED: {
        size_t w = type_width(c->type);
        if (cbuf_reserve(&c->values, (size_t)len * w) != ETL_OK)
            return nomem(b);
        c->values.len = (size_t)len * w;
        b->bytes += n * (int64_t)w;
        break;
    }
    case LAYOUT_OFFSETS: {
        if (cbuf_reserve(&c->values, (size_t)(len + 1) * 4) != ETL_OK)
            return nomem(b);
        int32_t *off = offsets_of(c);
        for (int64_t i = c->len + 1; i <= len; i++)
            off[i] = off[c->len];
        c->values.len = (size_t)(len + 1) * 4;
        b->bytes += n * 4;
        break;
    }
    case LAYOUT_NONE:
        break;
    }
    c->len = len;
    return ETL_OK;
}

/* Drops slots [n, len), children included; restores the zero invariant. */
static void col_truncate(etl_builder *b, int32_t col, int64_t n)
{
    bcol *c = &b->cols[col];
    if (c->len <= n)
        return;
    if (c->validity.p)
        bits_clear_range(c->validity.p, n, c->len);
    switch (type_layout(c->type)) {
    case LAYOUT_BITS:
        bits_clear_range(c->values.p, n, c->len);
        c->values.len = bitmap_bytes(n);
        break;
    case LAYOUT_FIXED: {
        size_t w = type_width(c->type);
        memset(c->values.p + n * (int64_t)w, 0, c->values.len - (size_t)n * w);
        c->values.len = (size_t)n * w;
        break;
    }
    case LAYOUT_OFFSETS: {
        int32_t end = offsets_of(c)[n];
        memset(c->values.p + (n + 1) * 4, 0, c->values.len - (size_t)(n + 1) * 4);
        c->values.len = (size_t)(n + 1) * 4;
        if (c->type == ETL_TYPE_LIST) {
            if (c->item >= 0)
                col_truncate(b, c->item, end);
        } else if (c->data.p) {
            memset(c->data.p + end, 0, c->data.len - (size_t)end);
            c->data.len = (size_t)end;
        }
        break;
    }
    case LAYOUT_NONE:
        for (int32_t k = 0; k < c->kids.n; k++)
            col_truncate(b, c->kids.ids[k], n);
        break;
    }
    b->cols[col].len = n;
}

/* --- slots -------------------------------------------------------------- */

static etl_status open_struct(etl_builder *b, int32_t col, bool implicit);

/* Checks `col` may take a value now, pads it up to its slot, and returns
 * it. See the comment at the top for what a slot is. */
static etl_status col_slot(etl_builder *b, int32_t col, bcol **out)
{
    bcol *c = &b->cols[col];
    int64_t slot;
    if (c->parent == ETL_ROOT) {
        if (!b->in_record)
            return misuse(b, "a value was appended outside begin_record/end_record");
        slot = b->rows;
    } else {
        if (c->is_item) {
            if (!b->cols[c->parent].open)
                return col_error(b, col, ETL_ERR_PERMANENT,
                                 "element appended outside begin_list/end_list", "");
            *out = c;
            return ETL_OK;
        }
        if (!b->cols[c->parent].open) {
            /* Setting a child opens its struct, so flat producers need no
             * begin_struct; it stays open until end_struct or end_record. */
            etl_status st = open_struct(b, c->parent, true);
            if (st != ETL_OK)
                return st;
        }
        slot = b->cols[c->parent].len - 1;
    }
    if (c->len > slot)
        return col_error(b, col, ETL_ERR_DATA, "duplicate field in one record", "");
    if (c->len < slot) {
        etl_status st = col_pad(b, c, slot - c->len);
        if (st != ETL_OK)
            return st;
    }
    *out = c;
    return ETL_OK;
}

/* Validates the handle, gives an untyped column the type `infer`, and
 * returns the column padded to its slot. */
static etl_status col_prepare(etl_builder *b, int32_t col, etl_type infer, bcol **out)
{
    if ((uint32_t)col >= (uint32_t)b->ncols)
        return bad_handle(b, col);
    if (b->cols[col].type == ETL_TYPE_NULL && infer != ETL_TYPE_NULL) {
        etl_status st = col_set_type(b, col, infer);
        if (st != ETL_OK)
            return st;
    }
    return col_slot(b, col, out);
}

static inline etl_status put_valid(etl_builder *b, bcol *c)
{
    if (cbuf_reserve(&c->validity, ((size_t)c->len >> 3) + 1) != ETL_OK)
        return nomem(b);
    bitmap_set(c->validity.p, c->len);
    c->len++;
    return ETL_OK;
}

static inline etl_status put_fixed(etl_builder *b, bcol *c, const void *v, size_t w)
{
    size_t end = (size_t)(c->len + 1) * w;
    if (cbuf_reserve(&c->values, end) != ETL_OK)
        return nomem(b);
    memcpy(c->values.p + end - w, v, w);
    c->values.len = end;
    b->bytes += (int64_t)w;
    return put_valid(b, c);
}

static etl_status put_i64(etl_builder *b, bcol *c, int64_t v)
{
    return put_fixed(b, c, &v, 8);
}

static etl_status put_i32(etl_builder *b, bcol *c, int32_t v)
{
    return put_fixed(b, c, &v, 4);
}

static etl_status put_f64(etl_builder *b, bcol *c, double v)
{
    return put_fixed(b, c, &v, 8);
}

static etl_status put_i128(etl_builder *b, bcol *c, i128 v)
{
    uint64_t words[2] = {(uint64_t)v, (uint64_t)(v >> 64)};   /* little-endian words */
    return put_fixed(b, c, words, 16);
}

static etl_status put_bit(etl_builder *b, bcol *c, bool v)
{
    if (cbuf_reserve(&c->values, ((size_t)c->len >> 3) + 1) != ETL_OK)
        return nomem(b);
    if (v)
        bitmap_set(c->values.p, c->len);
    c->values.len = ((size_t)c->len >> 3) + 1;
    b->bytes += 1;
    return put_valid(b, c);
}

static etl_status put_bytes(etl_builder *b, int32_t col, bcol *c, const void *p, size_t len)
{
    size_t end = c->data.len + len;
    if (end > INT32_MAX)
        return col_error(b, col, ETL_ERR_DATA,
                         "more than 2 GiB of text in one batch; lower the batch size", "");
    if (cbuf_reserve(&c->data, end) != ETL_OK ||
        cbuf_reserve(&c->values, (size_t)(c->len + 2) * 4) != ETL_OK)
        return nomem(b);
    if (len)
        memcpy(c->data.p + c->data.len, p, len);
    c->data.len = end;
    offsets_of(c)[c->len + 1] = (int32_t)end;
    c->values.len += 4;
    b->bytes += (int64_t)len + 4;
    return put_valid(b, c);
}

/* --- text parsing (strict: the whole text, no spaces) -------------------- */

static bool parse_i64_text(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool parse_f64_text(const char *s, size_t len, double *out)
{
    char tmp[128];
    if (len == 0 || len >= sizeof tmp || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    *out = strtod(tmp, &end);
    return end == tmp + len;
}

static bool parse_bool_text(const char *s, size_t len, bool *out)
{
    if ((len == 4 && strncasecmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
        return *out = true, true;
    if ((len == 5 && strncasecmp(s, "false", 5) == 0) || (len == 1 && s[0] == '0'))
        return *out = false, true;
    return false;
}

static bool read_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic:
 * 400-year cycles of 146097 days, years starting in March). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static bool valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static bool parse_date_prefix(const char *s, size_t len, size_t *i, int64_t *days)
{
    int y, m, d;
    if (!read_digits(s, len, i, 4, &y) || *i >= len || s[(*i)++] != '-' ||
        !read_digits(s, len, i, 2, &m) || *i >= len || s[(*i)++] != '-' ||
        !read_digits(s, len, i, 2, &d) || !valid_date(y, m, d))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

static bool parse_date_text(const char *s, size_t len, int32_t *out)
{
    size_t i = 0;
    int64_t days;
    if (!parse_date_prefix(s, len, &i, &days) || i != len)
        return false;
    *out = (int32_t)days;
    return true;
}

/* [.fraction] then Z, +HH:MM, +HHMM, +HH or nothing (UTC). */
static bool parse_fraction_and_zone(const char *s, size_t len, size_t i, int64_t *us,
                                    int64_t *offset_s)
{
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        int64_t frac = 0, scale = 100000;
        size_t start = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += scale * (s[i] - '0');   /* digits past microseconds are dropped */
        if (i == start)
            return false;
        *us = frac;
    }
    *offset_s = 0;
    if (i == len)
        return true;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
        return true;
    if (s[i] != '+' && s[i] != '-')
        return false;
    int sign = s[i++] == '-' ? -1 : 1, hh, mm = 0;
    if (!read_digits(s, len, &i, 2, &hh))
        return false;
    if (i < len && s[i] == ':')
        i++;
    if (i < len && !read_digits(s, len, &i, 2, &mm))
        return false;
    if (i != len || hh > 23 || mm > 59)
        return false;
    *offset_s = sign * (hh * 3600 + mm * 60);
    return true;
}

/* ISO 8601 to microseconds UTC: YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]][zone]]. */
static bool parse_timestamp_text(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int64_t days, frac_us = 0, offset_s = 0;
    int hh = 0, mi = 0, ss = 0;
    if (!parse_date_prefix(s, len, &i, &days))
        return false;
    if (i < len) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return false;
        i++;
        if (!read_digits(s, len, &i, 2, &hh) || i >= len || s[i++] != ':' ||
            !read_digits(s, len, &i, 2, &mi))
            return false;
        if (i < len && s[i] == ':') {
            i++;
            if (!read_digits(s, len, &i, 2, &ss))
                return false;
        }
        if (hh > 23 || mi > 59 || ss > 59)
            return false;
        if (!parse_fraction_and_zone(s, len, i, &frac_us, &offset_s))
            return false;
    }
    int64_t secs = days * 86400 + hh * 3600 + mi * 60 + ss - offset_s;
    *out = secs * 1000000 + frac_us;
    return true;
}

static const i128 I128_TEN = 10;

static i128 pow10_i128(int n)
{
    i128 v = 1;
    while (n-- > 0)
        v *= I128_TEN;
    return v;
}

/* Number of fraction digits a decimal text needs (for inferring a scale). */
static int decimal_text_scale(const char *s, size_t len)
{
    int frac = 0;
    size_t i = 0;
    while (i < len && s[i] != '.' && s[i] != 'e' && s[i] != 'E')
        i++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            frac++;
    int64_t exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E') && !parse_i64_text(s + i + 1, len - i - 1, &exp))
        exp = 0;
    int64_t scale = frac - exp;
    return scale < 0 ? 0 : scale > 38 ? 38 : (int)scale;
}

enum dec_result { DEC_OK, DEC_SYNTAX, DEC_OVERFLOW, DEC_DIGITS };

/* "-12.345", "1e3", "1.5E-2" scaled by 10^scale into an i128 with
 * |value| < 10^precision. Digits that the scale cannot hold must be 0. */
static enum dec_result parse_decimal_text(const char *s, size_t len, int precision, int scale,
                                          i128 *out)
{
    size_t i = 0;
    bool neg = false, any = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    i128 mant = 0;
    int digits = 0, frac = 0, dropped_nonzero = 0;
    bool in_frac = false;
    for (; i < len; i++) {
        if (s[i] == '.' && !in_frac) {
            in_frac = true;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            break;
        any = true;
        if (digits == 0 && s[i] == '0' && !in_frac)
            continue;
        if (digits >= 38) {              /* keep counting the position only */
            if (s[i] != '0')
                dropped_nonzero = 1;
            if (!in_frac)
                return DEC_OVERFLOW;
            continue;
        }
        mant = mant * I128_TEN + (s[i] - '0');
        digits += mant != 0;
        frac += in_frac;
    }
    int64_t exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        if (!parse_i64_text(s + i + 1, len - i - 1, &exp) || exp > 100 || exp < -100)
            return DEC_SYNTAX;
        i = len;
    }
    if (!any || i != len)
        return DEC_SYNTAX;
    if (dropped_nonzero)
        return DEC_DIGITS;
    int64_t shift = scale - frac + exp;
    if (shift < 0) {
        i128 div = pow10_i128((int)(-shift > 38 ? 38 : -shift));
        if (mant % div != 0)
            return DEC_DIGITS;
        mant /= div;
    } else if (mant != 0) {
        if (shift > 38)
            return DEC_OVERFLOW;
        i128 limit = pow10_i128(38) / pow10_i128((int)shift);
        if (mant >= limit)
            return DEC_OVERFLOW;
        mant *= pow10_i128((int)shift);
    }
    if (mant >= pow10_i128(precision))
        return DEC_OVERFLOW;
    *out = neg ? -mant : mant;
    return DEC_OK;
}

/* --- the API ------------------------------------------------------------ */

etl_builder *builder_new(etl_ctx *ctx)
{
    etl_builder *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->ctx = ctx;
    b->root.cursor = -1;
    return b;
}

void builder_free(etl_builder *b)
{
    if (b == NULL)
        return;
    for (int32_t i = 0; i < b->ncols; i++) {
        bcol *c = &b->cols[i];
        free(c->name);
        free(c->kids.ids);
        free(c->kids.table);
        cbuf_free(&c->validity);
        cbuf_free(&c->values);
        cbuf_free(&c->data);
    }
    free(b->cols);
    free(b->root.ids);
    free(b->root.table);
    free(b->stack);
    free(b);
}

etl_ctx *builder_ctx(const etl_builder *b)
{
    return b->ctx;
}

/* builder_field is called once per JSON value: fields tend to come in the
 * same order in every record, so the child after the last hit is tried
 * first (one memcmp), then the hash table. */
int32_t builder_field(etl_builder *b, int32_t parent, const char *name, size_t name_len)
{
    if (name == NULL && name_len)
        return misuse(b, "builder_field with a NULL name");
    if (name == NULL)
        name = "";
    if (parent != ETL_ROOT) {
        if ((uint32_t)parent >= (uint32_t)b->ncols)
            return bad_handle(b, parent);
        bcol *p = &b->cols[parent];
        if (p->type == ETL_TYPE_NULL) {
            etl_status st = col_set_type(b, parent, ETL_TYPE_STRUCT);
            if (st != ETL_OK)
                return st;
        } else if (p->type != ETL_TYPE_STRUCT) {
            return col_error(b, parent, ETL_ERR_DATA, "cannot have fields: it is not a struct", "");
        }
    }
    kidset *ks = kids_of(b, parent);
    if (ks->n > 0) {
        int32_t next = ks->cursor + 1 < ks->n ? ks->cursor + 1 : 0;
        if (name_is(&b->cols[ks->ids[next]], name, name_len)) {
            ks->cursor = next;
            return ks->ids[next];
        }
    }
    uint32_t h = name_hash(name, name_len);
    int32_t id = kidset_find(b, ks, name, name_len, h);
    if (id < 0)
        id = col_add(b, parent, name, name_len, false);
    if (id >= 0)
        kids_of(b, parent)->cursor = b->cols[id].pos;
    return id;
}

static int32_t check_declared_type(etl_builder *b, const char *name, etl_type type,
                                   int32_t precision, int32_t scale)
{
    if ((unsigned)type > ETL_TYPE_LIST)
        return ctx_set_error(b->ctx, ETL_ERR_CONFIG, 0, "column '%s': unknown type %d",
                             name ? name : "", (int)type);
    if (type == ETL_TYPE_DECIMAL && (precision < 1 || precision > 38 || scale < 0 ||
                                     scale > precision))
        return ctx_set_error(b->ctx, ETL_ERR_CONFIG, 0,
                             "column '%s': decimal(%d,%d) is invalid: precision must be 1-38 "
                             "and scale between 0 and the precision",
                             name ? name : "", (int)precision, (int)scale);
    return 0;
}

int32_t builder_declare_type(etl_builder *b, int32_t id, etl_type type, int32_t precision,
                             int32_t scale)
{
    if ((uint32_t)id >= (uint32_t)b->ncols)
        return bad_handle(b, id);
    int32_t bad = check_declared_type(b, b->cols[id].name, type, precision, scale);
    if (bad < 0 || type == ETL_TYPE_NULL)
        return bad < 0 ? bad : id;
    bcol *c = &b->cols[id];
    if (type == ETL_TYPE_DECIMAL && c->type == ETL_TYPE_DECIMAL &&
        (c->precision != precision || c->scale != scale)) {
        char msg[64];
        snprintf(msg, sizeof msg, "decimal(%d,%d)", (int)precision, (int)scale);
        return col_error(b, id, ETL_ERR_CONFIG, "cannot be declared ", msg);
    }
    if (c->type == ETL_TYPE_NULL) {
        c->precision = type == ETL_TYPE_DECIMAL ? precision : 0;
        c->scale = type == ETL_TYPE_DECIMAL ? scale : 0;
        etl_status st = col_set_type(b, id, type);
        if (st != ETL_OK)
            return st;
    } else if (c->type != type) {
        return col_error(b, id, ETL_ERR_CONFIG, "cannot be declared ", type_name(type));
    }
    b->cols[id].declared = true;
    return id;
}

int32_t builder_declare(etl_builder *b, int32_t parent, const char *name, etl_type type,
                        int32_t precision, int32_t scale)
{
    int32_t bad = check_declared_type(b, name, type, precision, scale);
    if (bad < 0)
        return bad;
    int32_t id = builder_field(b, parent, name, name ? strlen(name) : 0);
    return id < 0 ? id : builder_declare_type(b, id, type, precision, scale);
}

static int32_t ensure_item(etl_builder *b, int32_t list)
{
    if (b->cols[list].item < 0) {
        int32_t item = col_add(b, list, "item", 4, true);
        if (item < 0)
            return item;
        b->cols[list].item = item;
    }
    return b->cols[list].item;
}

int32_t builder_list_item(etl_builder *b, int32_t list_column)
{
    if ((uint32_t)list_column >= (uint32_t)b->ncols)
        return bad_handle(b, list_column);
    if (b->cols[list_column].type == ETL_TYPE_NULL) {
        etl_status st = col_set_type(b, list_column, ETL_TYPE_LIST);
        if (st != ETL_OK)
            return st;
    } else if (b->cols[list_column].type != ETL_TYPE_LIST) {
        return col_error(b, list_column, ETL_ERR_DATA, "cannot have elements: it is not a list", "");
    }
    return ensure_item(b, list_column);
}

etl_type builder_column_type(const etl_builder *b, int32_t col)
{
    return (uint32_t)col < (uint32_t)b->ncols ? b->cols[col].type : ETL_TYPE_NULL;
}

/* --- records and nesting ------------------------------------------------ */

static etl_status stack_push(etl_builder *b, int32_t col)
{
    if (b->depth == b->stack_cap) {
        int32_t cap = b->stack_cap ? b->stack_cap * 2 : 16;
        int32_t *stack = realloc(b->stack, (size_t)cap * sizeof *stack);
        if (stack == NULL)
            return nomem(b);
        b->stack = stack;
        b->stack_cap = cap;
    }
    b->stack[b->depth++] = col;
    b->cols[col].open = true;
    return ETL_OK;
}

static void close_top(etl_builder *b)
{
    bcol *c = &b->cols[b->stack[--b->depth]];
    c->open = false;
    if (c->type == ETL_TYPE_LIST)
        offsets_of(c)[c->len] = (int32_t)b->cols[c->item].len;
}

/* Closes `col` and whatever was opened inside it. */
static etl_status close_until(etl_builder *b, int32_t col, const char *what)
{
    if ((uint32_t)col >= (uint32_t)b->ncols)
        return bad_handle(b, col);
    if (!b->cols[col].open)
        return col_error(b, col, ETL_ERR_PERMANENT, what, " without a matching begin");
    while (b->depth > 0 && b->stack[b->depth - 1] != col)
        close_top(b);
    close_top(b);
    return ETL_OK;
}

static etl_status open_struct(etl_builder *b, int32_t col, bool implicit)
{
    bcol *c;
    if (implicit && b->cols[col].is_item)
        return col_error(b, col, ETL_ERR_PERMANENT,
                         "a field was set in a list element without begin_struct", "");
    etl_status st = col_prepare(b, col, ETL_TYPE_STRUCT, &c);
    if (st == ETL_OK && c->type != ETL_TYPE_STRUCT)
        return mismatch(b, col, "struct");
    if (st != ETL_OK)
        return st;
    if (c->open)
        return col_error(b, col, ETL_ERR_PERMANENT, "begin_struct while already open", "");
    if ((st = put_valid(b, c)) != ETL_OK)
        return st;
    return stack_push(b, col);
}

etl_status builder_begin_record(etl_builder *b)
{
    if (b->in_record)
        return misuse(b, "begin_record inside a record (call end_record or cancel_record)");
    b->in_record = true;
    b->record_seq++;
    b->bytes_at_record = b->bytes;
    return ETL_OK;
}

/* Columns not set in the record are padded lazily (see the top). */
etl_status builder_end_record(etl_builder *b)
{
    if (!b->in_record)
        return misuse(b, "end_record without begin_record");
    while (b->depth > 0)
        close_top(b);
    b->rows++;
    b->in_record = false;
    return ETL_OK;
}

/* Truncates every column to the rows before the record and forgets types
 * first inferred in it. Widening done in the record (int64 to double,
 * decimal rescale) is kept: the values before are still exact. */
void builder_cancel_record(etl_builder *b)
{
    if (!b->in_record)
        return;
    for (int32_t k = 0; k < b->root.n; k++)
        col_truncate(b, b->root.ids[k], b->rows);
    for (int32_t i = 0; i < b->ncols; i++) {
        bcol *c = &b->cols[i];
        c->open = false;
        if (c->typed_seq == b->record_seq && !c->declared && c->type != ETL_TYPE_NULL) {
            c->type = ETL_TYPE_NULL;
            col_layout_init(b, i);
        }
    }
    b->depth = 0;
    b->bytes = b->bytes_at_record;
    b->in_record = false;
}

etl_status builder_begin_struct(etl_builder *b, int32_t col)
{
    return open_struct(b, col, false);
}

etl_status builder_end_struct(etl_builder *b, int32_t col)
{
    if ((uint32_t)col < (uint32_t)b->ncols && b->cols[col].type != ETL_TYPE_STRUCT)
        return col_error(b, col, ETL_ERR_PERMANENT, "end_struct on a column that is no struct", "");
    return close_until(b, col, "end_struct");
}

etl_status builder_begin_list(etl_builder *b, int32_t col)
{
    if ((uint32_t)col >= (uint32_t)b->ncols)
        return bad_handle(b, col);
    int32_t item = builder_list_item(b, col);
    if (item < 0)
        return (etl_status)item;
    bcol *c;
    etl_status st = col_slot(b, col, &c);
    if (st != ETL_OK)
        return st;
    if (c->open)
        return col_error(b, col, ETL_ERR_PERMANENT, "begin_list while already open", "");
    if (cbuf_reserve(&c->values, (size_t)(c->len + 2) * 4) != ETL_OK)
        return nomem(b);
    offsets_of(c)[c->len + 1] = (int32_t)b->cols[item].len;
    c->values.len += 4;
    b->bytes += 4;
    if ((st = put_valid(b, c)) != ETL_OK)
        return st;
    return stack_push(b, col);
}

etl_status builder_end_list(etl_builder *b, int32_t col)
{
    if ((uint32_t)col < (uint32_t)b->ncols && b->cols[col].type != ETL_TYPE_LIST)
        return col_error(b, col, ETL_ERR_PERMANENT, "end_list on a column that is no list", "");
    if ((uint32_t)col < (uint32_t)b->ncols && b->cols[col].open &&
        b->cols[b->cols[col].item].len > INT32_MAX)
        return col_error(b, col, ETL_ERR_DATA, "more than 2^31 elements in one batch", "");
    return close_until(b, col, "end_list");
}

/* --- values ------------------------------------------------------------- */

etl_status builder_append_null(etl_builder *b, int32_t col)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_NULL, &c);
    return st != ETL_OK ? st : col_pad(b, c, 1);
}

etl_status builder_append_bool(etl_builder *b, int32_t col, bool v)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_BOOL, &c);
    if (st != ETL_OK)
        return st;
    return c->type == ETL_TYPE_BOOL ? put_bit(b, c, v) : mismatch(b, col, "bool");
}

static etl_status put_text(etl_builder *b, int32_t col, bcol *c, const char *s, size_t len);

static etl_status put_scaled_int(etl_builder *b, int32_t col, bcol *c, int64_t v)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%lld", (long long)v);
    return put_text(b, col, c, text, (size_t)n);
}

etl_status builder_append_int64(etl_builder *b, int32_t col, int64_t v)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_INT64, &c);
    if (st != ETL_OK)
        return st;
    switch (c->type) {
    case ETL_TYPE_INT64:
    case ETL_TYPE_TIMESTAMP_US:          /* microseconds since the epoch */
        return put_i64(b, c, v);
    case ETL_TYPE_DOUBLE:
        return put_f64(b, c, (double)v);
    case ETL_TYPE_FLOAT: {
        float f = (float)v;
        return put_fixed(b, c, &f, 4);
    }
    case ETL_TYPE_INT32:
    case ETL_TYPE_DATE:                  /* days since the epoch */
        if (v < INT32_MIN || v > INT32_MAX)
            return col_error(b, col, ETL_ERR_DATA, "value out of the int32 range", "");
        return put_i32(b, c, (int32_t)v);
    case ETL_TYPE_DECIMAL:
        return put_scaled_int(b, col, c, v);
    default:
        return mismatch(b, col, "int64");
    }
}

/* An inferred int64 column receiving a fraction becomes double: every
 * value so far is converted in place (same width). This widening is what
 * JSON needs ({"x": 1} then {"x": 1.5}); the earlier values lose nothing
 * below 2^53. A declared int64 column takes only integral doubles. */
static void widen_to_double(bcol *c)
{
    for (int64_t i = 0; i < c->len; i++) {
        int64_t iv;
        memcpy(&iv, c->values.p + i * 8, 8);
        double d = (double)iv;
        memcpy(c->values.p + i * 8, &d, 8);
    }
    c->type = ETL_TYPE_DOUBLE;
}

static bool double_to_int(double v, double lo, double hi, int64_t *out)
{
    if (!(v >= lo && v < hi) || v != floor(v))
        return false;
    *out = (int64_t)v;
    return true;
}

etl_status builder_append_double(etl_builder *b, int32_t col, double v)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_DOUBLE, &c);
    if (st != ETL_OK)
        return st;
    int64_t iv;
    switch (c->type) {
    case ETL_TYPE_DOUBLE:
        return put_f64(b, c, v);
    case ETL_TYPE_FLOAT: {
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return col_error(b, col, ETL_ERR_DATA, "value out of the float range", "");
        float f = (float)v;
        return put_fixed(b, c, &f, 4);
    }
    case ETL_TYPE_INT64:
        if (double_to_int(v, -9223372036854775808.0, 9223372036854775808.0, &iv))
            return put_i64(b, c, iv);
        if (c->declared)
            return mismatch(b, col, "fractional or out-of-range double");
        widen_to_double(c);
        return put_f64(b, c, v);
    case ETL_TYPE_INT32:
        if (double_to_int(v, -2147483648.0, 2147483648.0, &iv))
            return put_i32(b, c, (int32_t)iv);
        return mismatch(b, col, "fractional or out-of-range double");
    case ETL_TYPE_DECIMAL: {
        char text[64];
        if (!isfinite(v) || fabs(v) >= 1e38)
            return col_error(b, col, ETL_ERR_DATA, "value out of range of the decimal type", "");
        int n = snprintf(text, sizeof text, "%.*f", (int)c->scale, v);
        if (n <= 0 || (size_t)n >= sizeof text)
            return col_error(b, col, ETL_ERR_DATA, "value out of range of the decimal type", "");
        return builder_append_decimal(b, col, text, (size_t)n);
    }
    default:
        return mismatch(b, col, "double");
    }
}

/* Text into a typed column: parsed strictly (CSV fields, casts). */
static etl_status put_text(etl_builder *b, int32_t col, bcol *c, const char *s, size_t len)
{
    int64_t i64;
    int32_t i32;
    double f64;
    bool bv;
    i128 dec;
    switch (c->type) {
    case ETL_TYPE_STRING:
    case ETL_TYPE_BINARY:
        return put_bytes(b, col, c, s, len);
    case ETL_TYPE_TIMESTAMP_US:
        if (!parse_timestamp_text(s, len, &i64))
            return parse_error(b, col, s, len,
                               "an ISO 8601 timestamp (2024-05-01T12:30:00.5+02:00)");
        return put_i64(b, c, i64);
    case ETL_TYPE_DATE:
        if (!parse_date_text(s, len, &i32))
            return parse_error(b, col, s, len, "a date (YYYY-MM-DD)");
        return put_i32(b, c, i32);
    case ETL_TYPE_INT64:
        if (!parse_i64_text(s, len, &i64))
            return parse_error(b, col, s, len, "an int64");
        return put_i64(b, c, i64);
    case ETL_TYPE_INT32:
        if (!parse_i64_text(s, len, &i64) || i64 < INT32_MIN || i64 > INT32_MAX)
            return parse_error(b, col, s, len, "an int32");
        return put_i32(b, c, (int32_t)i64);
    case ETL_TYPE_DOUBLE:
    case ETL_TYPE_FLOAT:
        if (!parse_f64_text(s, len, &f64))
            return parse_error(b, col, s, len, "a number");
        if (c->type == ETL_TYPE_DOUBLE)
            return put_f64(b, c, f64);
        if (isfinite(f64) && fabs(f64) > FLT_MAX)
            return parse_error(b, col, s, len, "a float (out of range)");
        float f = (float)f64;
        return put_fixed(b, c, &f, 4);
    case ETL_TYPE_BOOL:
        if (!parse_bool_text(s, len, &bv))
            return parse_error(b, col, s, len, "a bool (true/false/1/0)");
        return put_bit(b, c, bv);
    case ETL_TYPE_DECIMAL:
        switch (parse_decimal_text(s, len, c->precision, c->scale, &dec)) {
        case DEC_OK:
            return put_i128(b, c, dec);
        case DEC_SYNTAX:
            return parse_error(b, col, s, len, "a decimal number");
        case DEC_DIGITS:
            return parse_error(b, col, s, len, "a decimal without more fraction digits than the scale");
        case DEC_OVERFLOW:
            return parse_error(b, col, s, len, "a decimal within the precision");
        }
        return ETL_ERR_DATA;
    default:
        return mismatch(b, col, "string");
    }
}

etl_status builder_append_string(etl_builder *b, int32_t col, const char *s, size_t len)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_STRING, &c);
    if (st != ETL_OK)
        return st;
    return put_text(b, col, c, s, len);
}

etl_status builder_append_binary(etl_builder *b, int32_t col, const void *p, size_t len)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_BINARY, &c);
    if (st != ETL_OK)
        return st;
    return c->type == ETL_TYPE_BINARY ? put_bytes(b, col, c, p, len) : mismatch(b, col, "binary");
}

etl_status builder_append_timestamp_us(etl_builder *b, int32_t col, int64_t us)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_TIMESTAMP_US, &c);
    if (st != ETL_OK)
        return st;
    return c->type == ETL_TYPE_TIMESTAMP_US ? put_i64(b, c, us) : mismatch(b, col, "timestamp");
}

etl_status builder_append_date(etl_builder *b, int32_t col, int32_t days)
{
    bcol *c;
    etl_status st = col_prepare(b, col, ETL_TYPE_DATE, &c);
    if (st != ETL_OK)
        return st;
    if (c->type == ETL_TYPE_DATE)
        return put_i32(b, c, days);
    if (c->type == ETL_TYPE_TIMESTAMP_US)
        return put_i64(b, c, (int64_t)days * 86400 * 1000000);
    return mismatch(b, col, "date");
}

/* An inferred decimal column meeting a value with more fraction digits
 * gets a larger scale: existing values are multiplied in place. */
static etl_status decimal_rescale(etl_builder *b, int32_t col, int scale)
{
    bcol *c = &b->cols[col];
    i128 mul = pow10_i128(scale - c->scale), limit = pow10_i128(c->precision);
    for (int64_t i = 0; i < c->len; i++) {
        uint64_t w[2];
        memcpy(w, c->values.p + i * 16, 16);
        i128 v = (i128)(((u128)w[1] << 64) | w[0]);
        i128 mag = v < 0 ? -v : v;
        if (mag != 0 && mag >= limit / mul)
            return col_error(b, col, ETL_ERR_DATA, "values no longer fit after raising the scale", "");
        v *= mul;
        w[0] = (uint64_t)v;
        w[1] = (uint64_t)(v >> 64);
        memcpy(c->values.p + i * 16, w, 16);
    }
    c->scale = scale;
    return ETL_OK;
}

etl_status builder_append_decimal(etl_builder *b, int32_t col, const char *text, size_t len)
{
    if ((uint32_t)col >= (uint32_t)b->ncols)
        return bad_handle(b, col);
    bcol *c = &b->cols[col];
    int scale = decimal_text_scale(text, len);
    if (c->type == ETL_TYPE_NULL) {
        c->precision = 38;
        c->scale = scale;
    } else if (c->type == ETL_TYPE_DECIMAL && !c->declared && scale > c->scale) {
        etl_status st = decimal_rescale(b, col, scale);
        if (st != ETL_OK)
            return st;
    }
    /* After append_double converted a value, the slot is already padded:
     * col_prepare is idempotent for a column at its slot. */
    etl_status st = col_prepare(b, col, ETL_TYPE_DECIMAL, &c);
    if (st != ETL_OK)
        return st;
    switch (c->type) {
    case ETL_TYPE_DECIMAL: case ETL_TYPE_DOUBLE: case ETL_TYPE_FLOAT: case ETL_TYPE_INT64:
    case ETL_TYPE_INT32: case ETL_TYPE_STRING:
        return put_text(b, col, c, text, len);
    default:
        return mismatch(b, col, "decimal");
    }
}

/* --- finishing ---------------------------------------------------------- */

int64_t builder_rows(const etl_builder *b)
{
    return b->rows;
}

int64_t builder_bytes(const etl_builder *b)
{
    return b->bytes;
}

/* Pads a column (and its children) to its final length. */
static etl_status col_normalize(etl_builder *b, int32_t col, int64_t len)
{
    bcol *c = &b->cols[col];
    if (c->len < len) {
        etl_status st = col_pad(b, c, len - c->len);
        if (st != ETL_OK)
            return st;
    }
    if (c->type == ETL_TYPE_STRUCT) {
        for (int32_t k = 0; k < b->cols[col].kids.n; k++) {
            etl_status st = col_normalize(b, b->cols[col].kids.ids[k], b->cols[col].len);
            if (st != ETL_OK)
                return st;
        }
    } else if (c->type == ETL_TYPE_LIST) {
        int32_t item = ensure_item(b, col);
        if (item < 0)
            return (etl_status)item;
        return col_normalize(b, item, offsets_of(&b->cols[col])[b->cols[col].len]);
    }
    return ETL_OK;
}

static const char *const fixed_formats[] = {
    [ETL_TYPE_NULL] = "n", [ETL_TYPE_BOOL] = "b", [ETL_TYPE_INT32] = "i",
    [ETL_TYPE_INT64] = "l", [ETL_TYPE_FLOAT] = "f", [ETL_TYPE_DOUBLE] = "g",
    [ETL_TYPE_STRING] = "u", [ETL_TYPE_BINARY] = "z", [ETL_TYPE_TIMESTAMP_US] = "tsu:UTC",
    [ETL_TYPE_DATE] = "tdD", [ETL_TYPE_DECIMAL] = "d", [ETL_TYPE_STRUCT] = "+s",
    [ETL_TYPE_LIST] = "+l"};

static etl_status col_export(etl_builder *b, int32_t col, struct ArrowArray *a,
                             struct ArrowSchema *s)
{
    bcol *c = &b->cols[col];
    char format[32];
    if (c->type == ETL_TYPE_DECIMAL)
        snprintf(format, sizeof format, "d:%d,%d", (int)c->precision, (int)c->scale);
    else
        snprintf(format, sizeof format, "%s", fixed_formats[c->type]);
    int64_t n_children = c->type == ETL_TYPE_STRUCT ? c->kids.n : c->type == ETL_TYPE_LIST;
    int64_t n_buffers = c->type == ETL_TYPE_NULL ? 0 : c->type == ETL_TYPE_STRUCT ? 1
                        : type_layout(c->type) == LAYOUT_OFFSETS && c->type != ETL_TYPE_LIST ? 3
                                                                                            : 2;
    int64_t nulls = c->type == ETL_TYPE_NULL ? c->len
                                             : c->len - bitmap_count_set(c->validity.p, c->len);
    if (arrow_schema_init(s, format, c->name, ARROW_FLAG_NULLABLE, n_children) != ETL_OK ||
        arrow_array_init(a, c->len, nulls, n_buffers, n_children) != ETL_OK)
        return nomem(b);
    if (n_buffers >= 1 && nulls > 0)
        a->buffers[0] = cbuf_take(&c->validity, bitmap_bytes(c->len));
    if (n_buffers >= 2)
        a->buffers[1] = cbuf_take(&c->values, c->values.len);
    if (n_buffers >= 3)
        a->buffers[2] = cbuf_take(&c->data, c->data.len);
    for (int64_t i = 1; i < n_buffers; i++)
        if (a->buffers[i] == NULL)
            return nomem(b);
    if ((n_buffers >= 1 && nulls > 0 && a->buffers[0] == NULL))
        return nomem(b);
    for (int64_t k = 0; k < n_children; k++) {
        int32_t child = c->type == ETL_TYPE_STRUCT ? c->kids.ids[k] : c->item;
        etl_status st = col_export(b, child, a->children[k], s->children[k]);
        if (st != ETL_OK)
            return st;
        c = &b->cols[col];
    }
    return ETL_OK;
}

/* Every column starts the next batch empty, with its type kept. */
static void builder_reset_rows(etl_builder *b)
{
    for (int32_t i = 0; i < b->ncols; i++) {
        b->cols[i].len = 0;
        b->cols[i].open = false;
    }
    for (int32_t i = 0; i < b->ncols; i++)
        col_layout_init(b, i);
    b->rows = 0;
    b->bytes = 0;
    b->depth = 0;
}

etl_status builder_finish(etl_builder *b, etl_batch **out)
{
    *out = NULL;
    if (b->in_record)
        return misuse(b, "builder_finish inside a record");
    etl_batch *batch = batch_alloc(b->rows, b->root.n);
    if (batch == NULL)
        return nomem(b);
    etl_status st = ETL_OK;
    for (int32_t k = 0; k < b->root.n && st == ETL_OK; k++) {
        st = col_normalize(b, b->root.ids[k], b->rows);
        if (st == ETL_OK)
            st = col_export(b, b->root.ids[k], batch->array->children[k],
                            batch->schema->children[k]);
    }
    builder_reset_rows(b);
    if (st != ETL_OK) {
        batch_release(batch);
        return st;
    }
    batch_update_bytes(batch);
    *out = batch;
    return ETL_OK;
}

/* --- schema snapshots (checkpoints) ------------------------------------- */

/* A resumed run must build the same columns, in the same order, with the
 * same types and the same inferred-or-declared status as the run it
 * continues, or its output would differ (7 vs 7.0, column order). The
 * snapshot is JSON: [{"name","type","declared","precision","scale",
 * "fields":[...],"item":{...}}]. */

static void schema_column_json(const etl_builder *b, int32_t id, etl_buf *out)
{
    const bcol *c = &b->cols[id];
    buf_append_str(out, "{\"name\":");
    json_encode_string(out, c->name, c->name_len);
    buf_printf(out, ",\"type\":\"%s\",\"declared\":%s", type_name(c->type),
               c->declared ? "true" : "false");
    if (c->type == ETL_TYPE_DECIMAL)
        buf_printf(out, ",\"precision\":%d,\"scale\":%d", (int)c->precision, (int)c->scale);
    if (c->type == ETL_TYPE_STRUCT) {
        buf_append_str(out, ",\"fields\":[");
        for (int32_t i = 0; i < c->kids.n; i++) {
            if (i)
                buf_append_char(out, ',');
            schema_column_json(b, c->kids.ids[i], out);
        }
        buf_append_char(out, ']');
    }
    if (c->type == ETL_TYPE_LIST && c->item >= 0) {
        buf_append_str(out, ",\"item\":");
        schema_column_json(b, c->item, out);
    }
    buf_append_char(out, '}');
}

etl_status builder_schema_json(const etl_builder *b, etl_buf *out)
{
    buf_append_char(out, '[');
    for (int32_t i = 0; i < b->root.n; i++) {
        if (i)
            buf_append_char(out, ',');
        schema_column_json(b, b->root.ids[i], out);
    }
    buf_append_char(out, ']');
    return ETL_OK;
}

static etl_type type_from_name(const char *name)
{
    for (int t = ETL_TYPE_NULL; t <= ETL_TYPE_LIST; t++)
        if (strcmp(type_name((etl_type)t), name) == 0)
            return (etl_type)t;
    return (etl_type)-1;
}

static etl_status restore_column(etl_builder *b, int32_t parent, bool is_item, const cJSON *spec);

static etl_status restore_children(etl_builder *b, int32_t id, const cJSON *spec)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(spec, "fields");
    const cJSON *field;
    cJSON_ArrayForEach(field, fields)
    {
        etl_status st = restore_column(b, id, false, field);
        if (st != ETL_OK)
            return st;
    }
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(spec, "item");
    return item ? restore_column(b, id, true, item) : ETL_OK;
}

static etl_status restore_column(etl_builder *b, int32_t parent, bool is_item, const cJSON *spec)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(spec, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(spec, "type");
    if (!cJSON_IsString(name) || !cJSON_IsString(type))
        return ctx_set_error(b->ctx, ETL_ERR_DATA, 0, "schema snapshot: a column lacks name or type");
    etl_type t = type_from_name(type->valuestring);
    if ((int)t < 0)
        return ctx_set_error(b->ctx, ETL_ERR_DATA, 0, "schema snapshot: unknown type '%s'",
                             type->valuestring);
    int32_t id = is_item ? builder_list_item(b, parent)
                         : builder_field(b, parent, name->valuestring, strlen(name->valuestring));
    if (id < 0)
        return (etl_status)id;
    bcol *c = &b->cols[id];
    if (c->type == ETL_TYPE_NULL && t != ETL_TYPE_NULL) {
        if (t == ETL_TYPE_DECIMAL) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(spec, "precision");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(spec, "scale");
            c->precision = cJSON_IsNumber(p) ? p->valueint : 38;
            c->scale = cJSON_IsNumber(s) ? s->valueint : 0;
        }
        etl_status st = col_set_type(b, id, t);
        if (st != ETL_OK)
            return st;
    } else if (c->type != t) {
        return col_error(b, id, ETL_ERR_DATA, "snapshot disagrees on the type: ", type->valuestring);
    }
    b->cols[id].declared = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "declared"));
    return restore_children(b, id, spec);
}

etl_status builder_schema_restore(etl_builder *b, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return ctx_set_error(b->ctx, ETL_ERR_DATA, 0, "schema snapshot is not a JSON array");
    }
    etl_status st = ETL_OK;
    const cJSON *column;
    cJSON_ArrayForEach(column, root)
    {
        if ((st = restore_column(b, ETL_ROOT, false, column)) != ETL_OK)
            break;
    }
    cJSON_Delete(root);
    return st;
}
