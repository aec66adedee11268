/* The parquet record reader (see record_reader.h).
 *
 * The schema becomes a tree of nodes (leaf, struct, list), each knowing the
 * definition level at which it is present; the leaves are in schema order,
 * like the column chunks of a row group. A record is rebuilt by walking the
 * tree: a node peeks at the next level entry of its first leaf to tell
 * null / empty / present, and a list keeps taking elements while that leaf's
 * next repetition level says "same list". Every leaf keeps one decoded page
 * and a cursor into it; the next page is decoded when the cursor passes the
 * end, so memory holds the file plus one page per leaf. */
#include "record_reader.h"

#include "encodings.h"
#include "parquet_internal.h"
#include "parquet_reader.h"

#include <inttypes.h>
#include <snappy-c.h>
#include <stdio.h>
#include <zstd.h>

#define MAX_FILE_BYTES (INT64_C(4) << 30)
#define MAX_NESTING 64
#define MAX_PAGE_ENTRIES (1 << 26)
#define PATH_MAX_LEN 256

__extension__ typedef __int128 rr_i128;
__extension__ typedef unsigned __int128 rr_u128;

typedef enum rr_kind { RR_LEAF, RR_STRUCT, RR_LIST } rr_kind;

/* How a leaf's stored values become builder values. */
typedef enum rr_conv {
    RR_BOOL, RR_INT32, RR_UINT32, RR_INT64, RR_UINT64, RR_FLOAT, RR_DOUBLE, RR_STRING,
    RR_BINARY, RR_TS_MILLIS, RR_TS_MICROS, RR_TS_NANOS, RR_TS_INT96, RR_DATE, RR_DECIMAL,
    RR_UUID
} rr_conv;

typedef struct rr_node {
    rr_kind kind;
    const char *name;
    int def;                     /* level at which the node is present (a list: not null) */
    int rep;                     /* lists: the repetition level of their elements */
    struct rr_node **kids;       /* struct fields; a list's one element */
    size_t n_kids;
    size_t leaf_begin, leaf_end; /* the leaves below, in schema order */
    /* leaves */
    const pq_schema_element *e;
    rr_conv conv;
    etl_type type;
    int32_t precision, scale;
    int32_t col;                 /* builder handle (a list element: the item column) */
} rr_node;

typedef struct rr_leaf {
    rr_node *node;
    char path[PATH_MAX_LEN];
    int phys, width;             /* width: bytes of a fixed-size value */
    int max_def, max_rep;
    /* the column chunk */
    const uint8_t *next_page, *chunk_end;
    int codec;
    int64_t values_left;         /* entries the chunk metadata still announces */
    /* the dictionary */
    bool has_dict;
    pq_buf dict_buf;             /* decompressed dictionary page */
    const uint8_t **dict_val;
    uint32_t *dict_len;
    size_t dict_n;
    /* the current data page */
    pq_buf page_buf;             /* decompressed values */
    uint32_t *def, *rep;
    size_t def_cap, rep_cap;
    size_t n, cur;               /* entries in the page, the next one */
    int enc;                     /* values: PLAIN, a dictionary encoding or RLE */
    const uint8_t *vp, *vend;    /* PLAIN values still to read */
    size_t bit;                  /* PLAIN booleans: the next bit at vp */
    uint32_t *idx;               /* dictionary indices (or RLE booleans) of the page */
    size_t idx_cap, idx_n, idx_cur;
} rr_leaf;

typedef struct rr_reader {
    etl_ctx *ctx;
    char *name;
    uint8_t *file;
    size_t len;
    pq_file_meta meta;
    rr_node *root;
    rr_leaf *leaves;
    size_t n_leaves;
    size_t next_rg;              /* the next row group to open */
    int64_t rg_rows_left;
    ZSTD_DCtx *zstd;
    etl_status failed;           /* sticky */
} rr_reader;

/* ---- errors ------------------------------------------------------------ */

static etl_status fail(rr_reader *r, etl_status st, const char *fmt, ...) ETL_PRINTF(3, 4);

static etl_status fail(rr_reader *r, etl_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->failed = st;
    pq_set_errorv(r->ctx, st, r->name, fmt, ap);
    va_end(ap);
    return st;
}

static etl_status corrupt(rr_reader *r, const rr_leaf *l, const char *what)
{
    return fail(r, ETL_ERR_DATA, "column '%s' in row group %zu: %s (corrupt or truncated file)",
                l->path, r->next_rg - 1, what);
}

static const char *codec_name(int codec)
{
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI",
                                        "LZ4", "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

static const char *encoding_name(int enc)
{
    static const char *const names[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE",
                                        "BIT_PACKED", "DELTA_BINARY_PACKED",
                                        "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? names[enc] : "unknown";
}

/* ---- little helpers ---------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool grow_u32(uint32_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need)
        cap2 *= 2;
    uint32_t *q = realloc(*p, cap2 * sizeof *q);
    if (q == NULL)
        return false;
    *p = q;
    *cap = cap2;
    return true;
}

/* ---- the schema -------------------------------------------------------- */

static void node_free(rr_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

typedef struct rr_build {
    rr_reader *r;
    size_t next;                 /* the next schema element */
    size_t leaves;
    etl_status st;
} rr_build;

static bool is_int_type(const pq_schema_element *e, int bits, bool is_signed)
{
    static const int ct_signed[] = {15, 16, 17, 18}, ct_unsigned[] = {11, 12, 13, 14};
    if (e->logical.kind == PQ_LT_INTEGER)
        return e->logical.bit_width == bits && e->logical.is_signed == is_signed;
    int k = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3;
    return e->converted_type == (is_signed ? ct_signed[k] : ct_unsigned[k]);
}

/* The builder type of a leaf; NULL, or what is not supported. */
static const char *map_leaf(rr_node *n)
{
    const pq_schema_element *e = n->e;
    const pq_logical_type *lt = &e->logical;
    int ct = e->converted_type;
    if (lt->kind == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL) {
        n->precision = lt->kind == PQ_LT_DECIMAL ? lt->precision : e->precision;
        n->scale = lt->kind == PQ_LT_DECIMAL ? lt->scale : e->scale;
        if (e->type != PQ_INT32 && e->type != PQ_INT64 && e->type != PQ_FIXED_LEN_BYTE_ARRAY &&
            e->type != PQ_BYTE_ARRAY)
            return "a DECIMAL of this physical type is";
        if (n->precision < 1 || n->precision > 38 || n->scale < 0 || n->scale > n->precision)
            return "a DECIMAL precision over 38 (or an invalid scale) is";
        n->conv = RR_DECIMAL;
        n->type = ETL_TYPE_DECIMAL;
        return NULL;
    }
    if (lt->kind == PQ_LT_TIME || ct == 7 || ct == 8)
        return "the TIME type is";
    if (ct == 21)
        return "the INTERVAL type is";
    if (lt->kind == PQ_LT_MAP || lt->kind == PQ_LT_LIST)
        return "a MAP or LIST annotation on a primitive column is";
    switch (e->type) {
    case PQ_BOOLEAN:
        n->conv = RR_BOOL, n->type = ETL_TYPE_BOOL;
        return NULL;
    case PQ_INT32:
        if (lt->kind == PQ_LT_DATE || ct == PQ_CT_DATE)
            n->conv = RR_DATE, n->type = ETL_TYPE_DATE;
        else if (is_int_type(e, 32, false))
            n->conv = RR_UINT32, n->type = ETL_TYPE_INT64;
        else
            n->conv = RR_INT32, n->type = ETL_TYPE_INT32;
        return NULL;
    case PQ_INT64:
        n->type = ETL_TYPE_TIMESTAMP_US;
        if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_MILLIS)
            n->conv = RR_TS_MILLIS;
        else if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_MICROS)
            n->conv = RR_TS_MICROS;
        else if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_NANOS)
            n->conv = RR_TS_NANOS;
        else if (lt->kind == PQ_LT_TIMESTAMP)
            return "a TIMESTAMP with an unknown unit is";
        else if (ct == 9)
            n->conv = RR_TS_MILLIS;
        else if (ct == PQ_CT_TIMESTAMP_MICROS)
            n->conv = RR_TS_MICROS;
        else if (is_int_type(e, 64, false))   /* beyond int64: decimal(20,0) */
            n->conv = RR_UINT64, n->type = ETL_TYPE_DECIMAL, n->precision = 20, n->scale = 0;
        else
            n->conv = RR_INT64, n->type = ETL_TYPE_INT64;
        return NULL;
    case PQ_INT96:
        n->conv = RR_TS_INT96, n->type = ETL_TYPE_TIMESTAMP_US;
        return NULL;
    case PQ_FLOAT:
        n->conv = RR_FLOAT, n->type = ETL_TYPE_FLOAT;
        return NULL;
    case PQ_DOUBLE:
        n->conv = RR_DOUBLE, n->type = ETL_TYPE_DOUBLE;
        return NULL;
    case PQ_BYTE_ARRAY:
        if (lt->kind == PQ_LT_STRING || lt->kind == PQ_LT_ENUM || lt->kind == PQ_LT_JSON ||
            ct == PQ_CT_UTF8 || ct == 4 || ct == 19)
            n->conv = RR_STRING, n->type = ETL_TYPE_STRING;
        else
            n->conv = RR_BINARY, n->type = ETL_TYPE_BINARY;
        return NULL;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (lt->kind == 15)
            return "the FLOAT16 type is";
        if (lt->kind == PQ_LT_UUID && e->type_length == 16)
            n->conv = RR_UUID, n->type = ETL_TYPE_STRING;
        else
            n->conv = RR_BINARY, n->type = ETL_TYPE_BINARY;
        return NULL;
    default:
        return "this physical type is";
    }
}

static rr_node *build_node(rr_build *b, int def, int rep, bool as_required, const char *prefix,
                           bool element, int depth);

static void child_path(char *out, const char *prefix, const char *name)
{
    snprintf(out, PATH_MAX_LEN, "%s%s%s", prefix, *prefix ? "." : "", name);
}

static bool is_list_group(const pq_schema_element *e)
{
    return e->num_children == 1 && (e->logical.kind == PQ_LT_LIST || e->converted_type == PQ_CT_LIST);
}

/* LIST { repeated group list { element } } is three-level; a repeated
 * primitive, a repeated group of several fields, or one named "array" or
 * "<name>_tuple" is the element itself (the legacy two-level forms). */
static bool is_three_level(const pq_schema_element *list, const pq_schema_element *rep)
{
    if (rep->num_children != 1 || rep->type != PQ_UNSET || rep->name == NULL)
        return false;
    char tuple[PATH_MAX_LEN];
    snprintf(tuple, sizeof tuple, "%s_tuple", list->name ? list->name : "");
    return strcmp(rep->name, "array") != 0 && strcmp(rep->name, tuple) != 0;
}

static rr_node *build_list(rr_build *b, rr_node *n, const pq_schema_element *e, int def, int rep,
                           bool bare, const char *path, int depth)
{
    char element_path[PATH_MAX_LEN];
    snprintf(element_path, sizeof element_path, "%s[]", path);
    n->kind = RR_LIST;
    n->rep = rep + 1;
    n->kids = calloc(1, sizeof *n->kids);
    if (n->kids == NULL) {
        b->st = fail(b->r, ETL_ERR_NOMEM, "out of memory");
        return n;
    }
    n->n_kids = 1;
    if (bare) {
        b->next--;               /* the repeated field is its own element */
        n->kids[0] = build_node(b, def + 1, rep + 1, true, element_path, true, depth + 1);
    } else if (is_three_level(e, &b->r->meta.schema[b->next])) {
        b->next++;
        n->kids[0] = build_node(b, def + 1, rep + 1, false, element_path, true, depth + 1);
    } else {
        n->kids[0] = build_node(b, def + 1, rep + 1, true, element_path, true, depth + 1);
    }
    return n;
}

static rr_node *build_group(rr_build *b, rr_node *n, const pq_schema_element *e, int def, int rep,
                            const char *path, int depth)
{
    if (e->logical.kind == PQ_LT_MAP || e->converted_type == 1 || e->converted_type == 2) {
        b->st = fail(b->r, ETL_ERR_UNSUPPORTED, "column '%s': MAP columns are not supported", path);
        return n;
    }
    if (e->num_children == 0) {
        b->st = fail(b->r, ETL_ERR_UNSUPPORTED, "column '%s': a group without fields is not "
                     "supported", path);
        return n;
    }
    n->kind = RR_STRUCT;
    n->kids = calloc((size_t)e->num_children, sizeof *n->kids);
    if (n->kids == NULL) {
        b->st = fail(b->r, ETL_ERR_NOMEM, "out of memory");
        return n;
    }
    for (int32_t i = 0; i < e->num_children && b->st == ETL_OK; i++) {
        n->kids[n->n_kids++] = build_node(b, def, rep, false, path, false, depth + 1);
    }
    return n;
}

static rr_node *build_leaf(rr_build *b, rr_node *n, const pq_schema_element *e, const char *path)
{
    n->kind = RR_LEAF;
    const char *why = map_leaf(n);
    if (why != NULL) {
        b->st = fail(b->r, ETL_ERR_UNSUPPORTED, "column '%s': %s not supported", path, why);
        return n;
    }
    if (e->type == PQ_FIXED_LEN_BYTE_ARRAY && (e->type_length < 1 || e->type_length > (1 << 20)))
        b->st = fail(b->r, ETL_ERR_DATA, "column '%s': invalid FIXED_LEN_BYTE_ARRAY length %d "
                     "(corrupt schema)", path, (int)e->type_length);
    rr_leaf *l = &b->r->leaves[b->leaves++];
    l->node = n;
    snprintf(l->path, sizeof l->path, "%s", path);
    l->phys = e->type;
    l->width = e->type == PQ_INT32 || e->type == PQ_FLOAT ? 4
               : e->type == PQ_INT64 || e->type == PQ_DOUBLE ? 8
               : e->type == PQ_INT96 ? 12
               : e->type == PQ_FIXED_LEN_BYTE_ARRAY ? e->type_length : 0;
    l->max_def = n->def;
    return n;
}

/* One schema element and what hangs below it. `def` and `rep` are the
 * parent's levels; `as_required` reads a repeated element as an element.
 * A list element's path is the list's, with "[]" (`prefix` already). */
static rr_node *build_node(rr_build *b, int def, int rep, bool as_required, const char *prefix,
                           bool element, int depth)
{
    const pq_file_meta *m = &b->r->meta;
    if (b->st != ETL_OK)
        return NULL;
    if (b->next >= m->n_schema || depth > MAX_NESTING) {
        b->st = fail(b->r, ETL_ERR_DATA, "malformed schema: %s",
                     depth > MAX_NESTING ? "it nests too deep" : "it ends before all the fields "
                     "its groups announce");
        return NULL;
    }
    const pq_schema_element *e = &m->schema[b->next++];
    rr_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        b->st = fail(b->r, ETL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    n->e = e;
    n->name = e->name != NULL ? e->name : "";
    n->leaf_begin = b->leaves;
    char path[PATH_MAX_LEN];
    if (element)
        snprintf(path, sizeof path, "%s", prefix);
    else
        child_path(path, prefix, n->name);
    bool group = e->num_children >= 0 && e->type == PQ_UNSET;
    int repetition = as_required ? PQ_REQUIRED : e->repetition;
    if (repetition == PQ_REPEATED) {
        n->def = def;
        build_list(b, n, e, def, rep, true, path, depth);
    } else {
        n->def = def + (repetition == PQ_OPTIONAL ? 1 : 0);
        if (group && is_list_group(e) && b->next < m->n_schema &&
            m->schema[b->next].repetition == PQ_REPEATED)
            build_list(b, n, e, n->def, rep, false, path, depth);
        else if (group)
            build_group(b, n, e, n->def, rep, path, depth);
        else if (b->leaves >= b->r->n_leaves)
            b->st = fail(b->r, ETL_ERR_DATA, "malformed schema: more leaves than announced");
        else
            build_leaf(b, n, e, path);
    }
    if (n->kind == RR_LEAF && b->st == ETL_OK)
        b->r->leaves[b->leaves - 1].max_rep = rep;
    n->leaf_end = b->leaves;
    return n;
}

static etl_status build_schema(rr_reader *r)
{
    const pq_file_meta *m = &r->meta;
    r->n_leaves = pq_schema_leaves(m);
    r->leaves = calloc(r->n_leaves ? r->n_leaves : 1, sizeof *r->leaves);
    r->root = calloc(1, sizeof *r->root);
    if (r->leaves == NULL || r->root == NULL)
        return fail(r, ETL_ERR_NOMEM, "out of memory");
    int32_t count = m->schema[0].num_children;
    r->root->kind = RR_STRUCT;
    r->root->kids = calloc(count > 0 ? (size_t)count : 1, sizeof *r->root->kids);
    if (r->root->kids == NULL)
        return fail(r, ETL_ERR_NOMEM, "out of memory");
    rr_build b = {.r = r, .next = 1};
    for (int32_t i = 0; i < count && b.st == ETL_OK; i++)
        r->root->kids[r->root->n_kids++] = build_node(&b, 0, 0, false, "", false, 0);
    if (b.st != ETL_OK)
        return b.st;
    if (b.next != m->n_schema || b.leaves != r->n_leaves)
        return fail(r, ETL_ERR_DATA, "malformed schema: it has elements no group announces");
    return ETL_OK;
}

/* ---- pages ------------------------------------------------------------- */

/* The page body, decompressed into `buf` unless stored as is. */
static etl_status decompress(rr_reader *r, rr_leaf *l, int codec, const uint8_t *src,
                             size_t src_len, size_t out_len, pq_buf *buf, const uint8_t **out)
{
    if (codec == PQ_CODEC_UNCOMPRESSED) {
        if (src_len != out_len)
            return corrupt(r, l, "an uncompressed page's sizes differ");
        *out = src;
        return ETL_OK;
    }
    pq_buf_reset(buf);
    if (!pq_buf_reserve(buf, out_len + 1))
        return fail(r, ETL_ERR_NOMEM, "out of memory for a %zu-byte page", out_len);
    if (codec == PQ_CODEC_SNAPPY) {
        size_t n = out_len;
        if (snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK ||
            n != out_len ||
            snappy_uncompress((const char *)src, src_len, (char *)buf->data, &n) != SNAPPY_OK ||
            n != out_len)
            return corrupt(r, l, "a SNAPPY page does not decompress to its announced size");
    } else {
        if (r->zstd == NULL && (r->zstd = ZSTD_createDCtx()) == NULL)
            return fail(r, ETL_ERR_NOMEM, "out of memory (zstd)");
        size_t n = ZSTD_decompressDCtx(r->zstd, buf->data, out_len, src, src_len);
        if (ZSTD_isError(n) || n != out_len)
            return corrupt(r, l, "a ZSTD page does not decompress to its announced size");
    }
    buf->len = out_len;
    *out = buf->data;
    return ETL_OK;
}

static etl_status load_dictionary(rr_reader *r, rr_leaf *l, const pq_page_header *h,
                                  const uint8_t *body)
{
    const uint8_t *p;
    if (l->has_dict)
        return corrupt(r, l, "a second dictionary page");
    if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
        return fail(r, ETL_ERR_UNSUPPORTED, "column '%s': a dictionary page in %s encoding is "
                    "not supported", l->path, encoding_name(h->encoding));
    if (l->phys == PQ_BOOLEAN)
        return corrupt(r, l, "a dictionary page for booleans");
    etl_status st = decompress(r, l, l->codec, body, (size_t)h->compressed_size,
                               (size_t)h->uncompressed_size, &l->dict_buf, &p);
    if (st != ETL_OK)
        return st;
    size_t len = (size_t)h->uncompressed_size, count = h->num_values < 0 ? SIZE_MAX
                                                                          : (size_t)h->num_values;
    size_t unit = l->width ? (size_t)l->width : 4;
    if (count > len / unit)
        return corrupt(r, l, "the dictionary page holds fewer values than it announces");
    free(l->dict_val);
    free(l->dict_len);
    l->dict_val = malloc((count ? count : 1) * sizeof *l->dict_val);
    l->dict_len = malloc((count ? count : 1) * sizeof *l->dict_len);
    if (l->dict_val == NULL || l->dict_len == NULL)
        return fail(r, ETL_ERR_NOMEM, "out of memory for a dictionary of %zu values", count);
    const uint8_t *q = p, *end = p + len;
    for (size_t i = 0; i < count; i++) {
        uint32_t n = (uint32_t)unit;
        if (l->width == 0) {
            if (end - q < 4 || le32(q) > (size_t)(end - q - 4))
                return corrupt(r, l, "a dictionary value runs past its page");
            n = le32(q);
            q += 4;
        }
        l->dict_val[i] = q;
        l->dict_len[i] = n;
        q += n;
    }
    l->dict_n = count;
    l->has_dict = true;
    return ETL_OK;
}

/* Levels of the hybrid encoding, checked against their maximum. */
static etl_status decode_levels(rr_reader *r, rr_leaf *l, const uint8_t *p, size_t len, int max,
                                uint32_t *out, size_t n, size_t *used)
{
    if (max == 0) {
        memset(out, 0, n * sizeof *out);
        *used = 0;
        return ETL_OK;
    }
    if (!pq_rle_decode(p, len, pq_bit_width((uint64_t)max), out, n, used))
        return corrupt(r, l, "its levels do not decode");
    for (size_t i = 0; i < n; i++)
        if (out[i] > (uint32_t)max)
            return corrupt(r, l, "a level above the schema's maximum");
    return ETL_OK;
}

/* v1 levels: a 4-byte length, then the runs. */
static etl_status levels_v1(rr_reader *r, rr_leaf *l, int encoding, const uint8_t **p,
                            const uint8_t *end, int max, uint32_t *out, size_t n)
{
    if (max == 0)
        return decode_levels(r, l, *p, 0, 0, out, n, &(size_t){0});
    if (encoding != PQ_ENC_RLE)
        return fail(r, ETL_ERR_UNSUPPORTED, "column '%s': levels in %s encoding are not "
                    "supported", l->path, encoding_name(encoding));
    if (end - *p < 4 || le32(*p) > (size_t)(end - *p - 4))
        return corrupt(r, l, "levels run past their page");
    size_t len = le32(*p), used;
    etl_status st = decode_levels(r, l, *p + 4, len, max, out, n, &used);
    *p += 4 + len;
    return st;
}

/* Prepares the values part of a page: `present` values follow. */
static etl_status setup_values(rr_reader *r, rr_leaf *l, int encoding, const uint8_t *p,
                               const uint8_t *end, size_t present)
{
    l->enc = encoding;
    l->vp = p;
    l->vend = end;
    l->bit = 0;
    l->idx_n = l->idx_cur = 0;
    if (encoding == PQ_ENC_PLAIN)
        return ETL_OK;
    bool dict = encoding == PQ_ENC_PLAIN_DICTIONARY || encoding == PQ_ENC_RLE_DICTIONARY;
    bool rle_bool = encoding == PQ_ENC_RLE && l->phys == PQ_BOOLEAN;
    if (!dict && !rle_bool)
        return fail(r, ETL_ERR_UNSUPPORTED, "column '%s': the %s encoding is not supported "
                    "(PLAIN and dictionary encodings are)", l->path, encoding_name(encoding));
    if (dict && !l->has_dict)
        return corrupt(r, l, "a dictionary-encoded page without a dictionary page");
    if (present == 0)
        return ETL_OK;
    int width = 1;
    if (dict) {
        if (p >= end || *p > 32)
            return corrupt(r, l, "a bad dictionary index width");
        width = *p++;
    } else {
        if (end - p < 4 || le32(p) > (size_t)(end - p - 4))
            return corrupt(r, l, "RLE booleans run past their page");
        end = p + 4 + le32(p);
        p += 4;
    }
    if (!grow_u32(&l->idx, &l->idx_cap, present))
        return fail(r, ETL_ERR_NOMEM, "out of memory");
    size_t used;
    if (!pq_rle_decode(p, (size_t)(end - p), width, l->idx, present, &used))
        return corrupt(r, l, "dictionary indices do not decode");
    l->idx_n = present;
    return ETL_OK;
}

static etl_status reserve_levels(rr_reader *r, rr_leaf *l, int32_t num_values)
{
    if (num_values < 0 || num_values > MAX_PAGE_ENTRIES || num_values > l->values_left)
        return corrupt(r, l, "a page announces more values than its column chunk");
    l->values_left -= num_values;
    size_t n = (size_t)num_values;
    if (!grow_u32(&l->def, &l->def_cap, n) || !grow_u32(&l->rep, &l->rep_cap, n))
        return fail(r, ETL_ERR_NOMEM, "out of memory for a page of %zu values", n);
    return ETL_OK;
}

static size_t count_present(const rr_leaf *l, size_t n)
{
    size_t present = 0;
    for (size_t i = 0; i < n; i++)
        present += l->def[i] == (uint32_t)l->max_def;
    return present;
}

static etl_status load_v1(rr_reader *r, rr_leaf *l, const pq_page_header *h, const uint8_t *body)
{
    const uint8_t *p;
    etl_status st = reserve_levels(r, l, h->num_values);
    if (st == ETL_OK)
        st = decompress(r, l, l->codec, body, (size_t)h->compressed_size,
                        (size_t)h->uncompressed_size, &l->page_buf, &p);
    if (st != ETL_OK)
        return st;
    const uint8_t *end = p + h->uncompressed_size;
    size_t n = (size_t)h->num_values;
    st = levels_v1(r, l, h->rep_encoding, &p, end, l->max_rep, l->rep, n);
    if (st == ETL_OK)
        st = levels_v1(r, l, h->def_encoding, &p, end, l->max_def, l->def, n);
    if (st == ETL_OK)
        st = setup_values(r, l, h->encoding, p, end, count_present(l, n));
    l->n = st == ETL_OK ? n : 0;
    l->cur = 0;
    return st;
}

static etl_status load_v2(rr_reader *r, rr_leaf *l, const pq_page_header *h, const uint8_t *body)
{
    etl_status st = reserve_levels(r, l, h->num_values);
    if (st != ETL_OK)
        return st;
    if (h->rep_bytes < 0 || h->def_bytes < 0 ||
        (int64_t)h->rep_bytes + h->def_bytes > h->compressed_size ||
        (int64_t)h->rep_bytes + h->def_bytes > h->uncompressed_size)
        return corrupt(r, l, "a v2 page's level sizes exceed the page");
    size_t n = (size_t)h->num_values, used, lv = (size_t)h->rep_bytes + (size_t)h->def_bytes;
    st = decode_levels(r, l, body, (size_t)h->rep_bytes, l->max_rep, l->rep, n, &used);
    if (st == ETL_OK)
        st = decode_levels(r, l, body + h->rep_bytes, (size_t)h->def_bytes, l->max_def, l->def,
                           n, &used);
    const uint8_t *p = NULL;
    if (st == ETL_OK)
        st = decompress(r, l, h->is_compressed ? l->codec : PQ_CODEC_UNCOMPRESSED, body + lv,
                        (size_t)h->compressed_size - lv, (size_t)h->uncompressed_size - lv,
                        &l->page_buf, &p);
    if (st == ETL_OK)
        st = setup_values(r, l, h->encoding, p, p + ((size_t)h->uncompressed_size - lv),
                          count_present(l, n));
    l->n = st == ETL_OK ? n : 0;
    l->cur = 0;
    return st;
}

/* Decodes pages until one has entries. */
static etl_status next_page(rr_reader *r, rr_leaf *l)
{
    char err[160];
    l->n = l->cur = 0;
    while (l->n == 0) {
        if (l->next_page >= l->chunk_end)
            return corrupt(r, l, "the column chunk ends before the row group's last row");
        pq_page_header h;
        size_t used;
        if (!pq_page_header_read(l->next_page, (size_t)(l->chunk_end - l->next_page), &h, &used,
                                 err, sizeof err))
            return corrupt(r, l, err);
        const uint8_t *body = l->next_page + used;
        if ((size_t)h.compressed_size > (size_t)(l->chunk_end - body))
            return corrupt(r, l, "a page runs past its column chunk");
        l->next_page = body + h.compressed_size;
        etl_status st = ETL_OK;
        if (h.type == PQ_PAGE_DICTIONARY)
            st = load_dictionary(r, l, &h, body);
        else if (h.type == PQ_PAGE_DATA)
            st = load_v1(r, l, &h, body);
        else if (h.type == PQ_PAGE_DATA_V2)
            st = load_v2(r, l, &h, body);
        if (st != ETL_OK)
            return st;
    }
    return ETL_OK;
}

/* The leaf's current entry exists (decoding the next page if needed). */
static inline etl_status leaf_ready(rr_reader *r, rr_leaf *l)
{
    return l->cur < l->n ? ETL_OK : next_page(r, l);
}

/* Whether another entry follows in the row group, without failing at its end. */
static etl_status leaf_has_next(rr_reader *r, rr_leaf *l, bool *has)
{
    *has = l->cur < l->n || l->values_left > 0 || l->next_page < l->chunk_end;
    if (!*has || l->cur < l->n)
        return ETL_OK;
    if (l->values_left == 0) {   /* only index pages may be left */
        *has = false;
        return ETL_OK;
    }
    return next_page(r, l);
}

/* ---- values ------------------------------------------------------------ */

typedef struct rr_value {
    const uint8_t *p;
    size_t len;
    bool b;
} rr_value;

static etl_status next_value(rr_reader *r, rr_leaf *l, rr_value *v)
{
    if (l->enc != PQ_ENC_PLAIN) {
        if (l->idx_cur >= l->idx_n)
            return corrupt(r, l, "a page has fewer values than its levels say");
        uint32_t i = l->idx[l->idx_cur++];
        if (l->phys == PQ_BOOLEAN) {
            v->b = i != 0;
            return ETL_OK;
        }
        if (i >= l->dict_n)
            return corrupt(r, l, "a dictionary index past the dictionary");
        v->p = l->dict_val[i];
        v->len = l->dict_len[i];
        return ETL_OK;
    }
    size_t left = (size_t)(l->vend - l->vp);
    if (l->phys == PQ_BOOLEAN) {
        if (l->bit >= left * 8)
            return corrupt(r, l, "a page has fewer values than its levels say");
        v->b = (l->vp[l->bit >> 3] >> (l->bit & 7)) & 1;
        l->bit++;
        return ETL_OK;
    }
    size_t n = (size_t)l->width;
    if (l->width == 0) {
        if (left < 4 || le32(l->vp) > left - 4)
            return corrupt(r, l, "a value runs past its page");
        n = le32(l->vp);
        l->vp += 4;
        left -= 4;
    }
    if (n > left)
        return corrupt(r, l, "a page has fewer values than its levels say");
    v->p = l->vp;
    v->len = n;
    l->vp += n;
    return ETL_OK;
}

/* Unscaled two's complement big-endian bytes, at most 128 bits of them. */
static bool be_to_i128(const uint8_t *p, size_t len, rr_i128 *out)
{
    bool negative = len > 0 && (p[0] & 0x80);
    for (; len > 16; p++, len--)
        if (*p != (negative ? 0xFF : 0x00))
            return false;
    rr_u128 u = negative ? ~(rr_u128)0 : 0;
    for (size_t i = 0; i < len; i++)
        u = u << 8 | p[i];
    *out = (rr_i128)u;
    return true;
}

static size_t decimal_text(rr_i128 v, int scale, char *out)
{
    char digits[48];
    size_t n = 0, at = 0;
    rr_u128 u = v < 0 ? -(rr_u128)v : (rr_u128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    while (n <= (size_t)scale)
        digits[n++] = '0';
    if (v < 0)
        out[at++] = '-';
    while (n > 0) {
        if (n == (size_t)scale)
            out[at++] = '.';
        out[at++] = digits[--n];
    }
    return at;
}

static etl_status append_decimal(rr_reader *r, rr_leaf *l, etl_builder *out, int32_t col,
                                 const rr_value *v)
{
    rr_i128 x;
    if (l->phys == PQ_INT32)
        x = (int32_t)le32(v->p);
    else if (l->phys == PQ_INT64)
        x = (int64_t)le64(v->p);
    else if (!be_to_i128(v->p, v->len, &x))
        return corrupt(r, l, "a decimal wider than 128 bits");
    char text[64];
    size_t n = decimal_text(x, l->node->scale, text);
    return pq_host->append_decimal(out, col, text, n);
}

static etl_status append_uuid(etl_builder *out, int32_t col, const uint8_t *p)
{
    static const char hex[] = "0123456789abcdef";
    char text[36];
    size_t at = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[at++] = '-';
        text[at++] = hex[p[i] >> 4];
        text[at++] = hex[p[i] & 15];
    }
    return pq_host->append_string(out, col, text, sizeof text);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b != 0 && (a < 0) != (b < 0) ? q - 1 : q;
}

static etl_status append_value(rr_reader *r, rr_leaf *l, etl_builder *out, int32_t col,
                               const rr_value *v)
{
    const etl_host_api *h = pq_host;
    int64_t i64;
    switch (l->node->conv) {
    case RR_BOOL: return h->append_bool(out, col, v->b);
    case RR_INT32: return h->append_int64(out, col, (int32_t)le32(v->p));
    case RR_UINT32: return h->append_int64(out, col, (int64_t)le32(v->p));
    case RR_INT64: return h->append_int64(out, col, (int64_t)le64(v->p));
    case RR_UINT64: {
        char text[24];
        int n = snprintf(text, sizeof text, "%" PRIu64, le64(v->p));
        return h->append_decimal(out, col, text, (size_t)n);
    }
    case RR_FLOAT: {
        float f;
        memcpy(&f, v->p, 4);
        return h->append_double(out, col, (double)f);
    }
    case RR_DOUBLE: {
        double d;
        memcpy(&d, v->p, 8);
        return h->append_double(out, col, d);
    }
    case RR_STRING: return h->append_string(out, col, (const char *)v->p, v->len);
    case RR_BINARY: return h->append_binary(out, col, v->p, v->len);
    case RR_TS_MILLIS:
        i64 = (int64_t)le64(v->p);
        if (i64 > INT64_MAX / 1000 || i64 < INT64_MIN / 1000)
            return corrupt(r, l, "a millisecond timestamp out of the microsecond range");
        return h->append_timestamp_us(out, col, i64 * 1000);
    case RR_TS_MICROS: return h->append_timestamp_us(out, col, (int64_t)le64(v->p));
    case RR_TS_NANOS: return h->append_timestamp_us(out, col, floor_div((int64_t)le64(v->p), 1000));
    case RR_TS_INT96: {
        /* Nanoseconds of the day, then the Julian day number. */
        int64_t nanos = (int64_t)le64(v->p), day = (int64_t)le32(v->p + 8) - 2440588;
        if (nanos < 0 || nanos >= INT64_C(86400000000000))
            return corrupt(r, l, "an INT96 timestamp with a bad time of day");
        return h->append_timestamp_us(out, col, day * INT64_C(86400000000) + nanos / 1000);
    }
    case RR_DATE: return h->append_date(out, col, (int32_t)le32(v->p));
    case RR_DECIMAL: return append_decimal(r, l, out, col, v);
    case RR_UUID: return append_uuid(out, col, v->p);
    }
    return ETL_ERR_PERMANENT;
}

/* ---- records ----------------------------------------------------------- */

/* A null or empty node: one level entry in each leaf below. */
static etl_status skip_one(rr_reader *r, const rr_node *n)
{
    for (size_t i = n->leaf_begin; i < n->leaf_end; i++) {
        etl_status st = leaf_ready(r, &r->leaves[i]);
        if (st != ETL_OK)
            return st;
        r->leaves[i].cur++;
    }
    return ETL_OK;
}

static etl_status emit(rr_reader *r, etl_builder *out, const rr_node *n);

static etl_status emit_leaf(rr_reader *r, etl_builder *out, const rr_node *n)
{
    rr_leaf *l = &r->leaves[n->leaf_begin];
    etl_status st = leaf_ready(r, l);
    if (st != ETL_OK)
        return st;
    uint32_t d = l->def[l->cur++];
    if (d < (uint32_t)n->def)
        return pq_host->append_null(out, n->col);
    rr_value v = {0};
    st = next_value(r, l, &v);
    return st != ETL_OK ? st : append_value(r, l, out, n->col, &v);
}

static etl_status emit_list(rr_reader *r, etl_builder *out, const rr_node *n, uint32_t d)
{
    const etl_host_api *h = pq_host;
    rr_leaf *first = &r->leaves[n->leaf_begin];
    etl_status st = h->begin_list(out, n->col);
    if (st == ETL_OK && d == (uint32_t)n->def)
        st = skip_one(r, n);     /* an empty list */
    else {
        bool more = true;
        while (st == ETL_OK && more) {
            st = emit(r, out, n->kids[0]);
            if (st == ETL_OK)
                st = leaf_has_next(r, first, &more);
            more = more && st == ETL_OK && first->rep[first->cur] == (uint32_t)n->rep;
        }
    }
    return st != ETL_OK ? st : h->end_list(out, n->col);
}

static etl_status emit(rr_reader *r, etl_builder *out, const rr_node *n)
{
    if (n->kind == RR_LEAF)
        return emit_leaf(r, out, n);
    rr_leaf *first = &r->leaves[n->leaf_begin];
    etl_status st = leaf_ready(r, first);
    if (st != ETL_OK)
        return st;
    uint32_t d = first->def[first->cur];
    if (d < (uint32_t)n->def) {
        st = pq_host->append_null(out, n->col);
        return st != ETL_OK ? st : skip_one(r, n);
    }
    if (n->kind == RR_LIST)
        return emit_list(r, out, n, d);
    st = pq_host->begin_struct(out, n->col);
    for (size_t i = 0; i < n->n_kids && st == ETL_OK; i++)
        st = emit(r, out, n->kids[i]);
    return st != ETL_OK ? st : pq_host->end_struct(out, n->col);
}

static etl_status emit_record(rr_reader *r, etl_builder *out)
{
    for (size_t i = 0; i < r->n_leaves; i++) {
        rr_leaf *l = &r->leaves[i];
        etl_status st = leaf_ready(r, l);
        if (st != ETL_OK)
            return st;
        if (l->rep[l->cur] != 0)
            return corrupt(r, l, "a record does not start where the previous one ended");
    }
    etl_status st = pq_host->builder_begin_record(out);
    for (size_t i = 0; i < r->root->n_kids && st == ETL_OK; i++)
        st = emit(r, out, r->root->kids[i]);
    if (st != ETL_OK) {
        pq_host->builder_cancel_record(out);
        return st;
    }
    return pq_host->builder_end_record(out);
}

/* ---- row groups -------------------------------------------------------- */

static etl_status open_chunk(rr_reader *r, rr_leaf *l, const pq_column_meta *c)
{
    if (c->type != l->phys)
        return corrupt(r, l, "the column chunk's type differs from the schema's");
    if (c->codec != PQ_CODEC_UNCOMPRESSED && c->codec != PQ_CODEC_SNAPPY &&
        c->codec != PQ_CODEC_ZSTD)
        return fail(r, ETL_ERR_UNSUPPORTED, "column '%s': the %s compression codec is not "
                    "supported (UNCOMPRESSED, SNAPPY and ZSTD are)", l->path, codec_name(c->codec));
    int64_t start = c->data_page_offset;
    if (c->dictionary_page_offset > 0 && c->dictionary_page_offset < start)
        start = c->dictionary_page_offset;
    int64_t file_len = (int64_t)r->len;
    if (start < 4 || start > file_len || c->total_compressed_size < 0 ||
        c->total_compressed_size > file_len - start || c->num_values < 0)
        return corrupt(r, l, "the column chunk lies outside the file");
    l->next_page = r->file + start;
    l->chunk_end = l->next_page + c->total_compressed_size;
    l->codec = c->codec;
    l->values_left = c->num_values;
    l->has_dict = false;
    l->dict_n = 0;
    l->n = l->cur = 0;
    return ETL_OK;
}

static etl_status open_row_group(rr_reader *r)
{
    const pq_row_group *g = &r->meta.row_groups[r->next_rg++];
    if (g->num_rows < 0)
        return fail(r, ETL_ERR_DATA, "row group %zu has a negative row count (corrupt file)",
                    r->next_rg - 1);
    if (g->n_columns != r->n_leaves)
        return fail(r, ETL_ERR_DATA, "row group %zu has %zu column chunks for %zu columns "
                    "(corrupt file)", r->next_rg - 1, g->n_columns, r->n_leaves);
    for (size_t i = 0; i < r->n_leaves; i++) {
        etl_status st = open_chunk(r, &r->leaves[i], &g->columns[i]);
        if (st != ETL_OK)
            return st;
    }
    r->rg_rows_left = g->num_rows;
    return ETL_OK;
}

/* ---- builder columns --------------------------------------------------- */

static etl_status declare_inside(etl_builder *out, rr_node *n);
static etl_type builder_type_of(const rr_node *n);

static etl_status declare_field(etl_builder *out, rr_node *n, int32_t parent)
{
    etl_type type = builder_type_of(n);
    int32_t col = pq_host->builder_declare(out, parent, n->name, type,
                                           type == ETL_TYPE_DECIMAL ? n->precision : 0,
                                           type == ETL_TYPE_DECIMAL ? n->scale : 0);
    if (col < 0)
        return (etl_status)col;
    n->col = col;
    return declare_inside(out, n);
}

static etl_type builder_type_of(const rr_node *n)
{
    return n->kind == RR_STRUCT ? ETL_TYPE_STRUCT : n->kind == RR_LIST ? ETL_TYPE_LIST : n->type;
}

/* Struct fields and list elements, each with its type. */
static etl_status declare_inside(etl_builder *out, rr_node *n)
{
    if (n->kind == RR_STRUCT) {
        for (size_t i = 0; i < n->n_kids; i++) {
            etl_status st = declare_field(out, n->kids[i], n->col);
            if (st != ETL_OK)
                return st;
        }
    } else if (n->kind == RR_LIST) {
        rr_node *element = n->kids[0];
        int32_t item = pq_host->builder_list_item(out, n->col);
        if (item >= 0) {
            etl_type type = builder_type_of(element);
            item = pq_host->builder_declare_type(out, item, type,
                                                 type == ETL_TYPE_DECIMAL ? element->precision : 0,
                                                 type == ETL_TYPE_DECIMAL ? element->scale : 0);
        }
        if (item < 0)
            return (etl_status)item;
        element->col = item;
        return declare_inside(out, element);
    }
    return ETL_OK;
}

/* ---- the vtable entries ------------------------------------------------ */

static etl_status read_all(rr_reader *r, const etl_byte_source *in)
{
    size_t cap = 1 << 20;
    r->file = malloc(cap);
    if (r->file == NULL)
        return fail(r, ETL_ERR_NOMEM, "out of memory");
    for (;;) {
        if (r->len == cap) {
            if ((int64_t)cap >= MAX_FILE_BYTES)
                return fail(r, ETL_ERR_UNSUPPORTED, "files over 4 GiB are not supported (the "
                            "parquet reader holds the whole file in memory): split the file");
            size_t cap2 = cap * 2;
            uint8_t *file = realloc(r->file, cap2);
            if (file == NULL)
                return fail(r, ETL_ERR_NOMEM, "out of memory reading a file of over %zu bytes",
                            cap);
            r->file = file;
            cap = cap2;
        }
        int64_t got = in->read(in->user, r->file + r->len, cap - r->len);
        if (got < 0)
            return r->failed = ETL_ERR_IO;
        if (got == 0)
            return ETL_OK;
        r->len += (size_t)got;
    }
}

etl_status pq_reader_open(etl_ctx *ctx, const etl_options *opts, const etl_byte_source *in,
                          void **state)
{
    (void)opts;
    *state = NULL;
    rr_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return pq_host->set_error(ctx, ETL_ERR_NOMEM, 0, "parquet: out of memory");
    r->ctx = ctx;
    r->name = strdup(in->name != NULL ? in->name : "input");
    etl_status st = r->name != NULL ? read_all(r, in) : ETL_ERR_NOMEM;
    if (st == ETL_OK) {
        char err[256];
        if (!pq_read_footer(r->file, r->len, &r->meta, err, sizeof err))
            st = fail(r, ETL_ERR_DATA, "%s", err);
    }
    if (st == ETL_OK)
        st = build_schema(r);
    if (st != ETL_OK) {
        if (st == ETL_ERR_NOMEM && r->name == NULL)
            pq_host->set_error(ctx, st, 0, "parquet: out of memory");
        pq_reader_close(r);
        return st;
    }
    *state = r;
    return ETL_OK;
}

etl_status pq_reader_read(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes)
{
    rr_reader *r = state;
    if (r->failed != ETL_OK)
        return r->failed;
    /* Every call: the builder may be new, and a declared column keeps its
     * type even when no value arrives. */
    for (size_t i = 0; i < r->root->n_kids; i++) {
        etl_status st = declare_field(out, r->root->kids[i], ETL_ROOT);
        if (st != ETL_OK)
            return r->failed = st;
    }
    for (int64_t done = 0; done < max_records;) {
        while (r->rg_rows_left == 0) {
            if (r->next_rg >= r->meta.n_row_groups)
                return ETL_END;
            etl_status st = open_row_group(r);
            if (st != ETL_OK)
                return st;
        }
        etl_status st = emit_record(r, out);
        if (st != ETL_OK)
            return r->failed = st;
        r->rg_rows_left--;
        done++;
        if (max_bytes > 0 && pq_host->builder_bytes(out) >= max_bytes)
            break;
    }
    return ETL_OK;
}

void pq_reader_close(void *state)
{
    rr_reader *r = state;
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_leaves; i++) {
        rr_leaf *l = &r->leaves[i];
        pq_buf_free(&l->dict_buf);
        pq_buf_free(&l->page_buf);
        free(l->dict_val);
        free(l->dict_len);
        free(l->def);
        free(l->rep);
        free(l->idx);
    }
    free(r->leaves);
    node_free(r->root);
    pq_file_meta_free(&r->meta);
    ZSTD_freeDCtx(r->zstd);
    free(r->file);
    free(r->name);
    free(r);
}
