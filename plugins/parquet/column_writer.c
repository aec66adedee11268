/* Column chunks (see column_writer.h).
 *
 * Levels and values arrive per slice of rows. Values go to the page being
 * filled, in chunks of entries that end on a row boundary, so that a page
 * never splits a row; once the page holds page_size bytes it is encoded
 * ([rep levels][def levels][values]), compressed and appended to the chunk.
 * In dictionary mode values are hashed into the chunk's dictionary and the
 * page holds their indices; the dictionary page is written first when the
 * chunk is flushed. `auto` keeps the dictionary only if the first page shows
 * that values repeat, and every mode falls back to PLAIN once the
 * dictionary outgrows dict_limit. */
#include "column_writer.h"

#include <math.h>

#define MAX_PAGE_ENTRIES (1 << 20)
#define MAX_STAT_BYTES 4096
#define DICT_PROBE_VALUES 4096

/* ---- types ------------------------------------------------------------ */

static int decimal_bytes(int32_t precision)
{
    /* The fewest bytes whose signed range holds 10^precision - 1. */
    double bits = ceil(precision * 3.321928094887362 + 1);
    int n = (int)((bits + 7) / 8);
    return n < 1 ? 1 : n > 16 ? 16 : n;
}

int pq_physical_type(const pq_node *leaf, int *type_length)
{
    *type_length = 0;
    switch (leaf->vtype) {
    case PQ_V_BOOL: return PQ_BOOLEAN;
    case PQ_V_NULL: case PQ_V_INT32: case PQ_V_DATE: return PQ_INT32;
    case PQ_V_INT64: case PQ_V_TIMESTAMP: return PQ_INT64;
    case PQ_V_FLOAT: return PQ_FLOAT;
    case PQ_V_DOUBLE: return PQ_DOUBLE;
    case PQ_V_STRING: case PQ_V_BINARY: return PQ_BYTE_ARRAY;
    case PQ_V_DECIMAL:
        if (leaf->precision <= 9)
            return PQ_INT32;
        if (leaf->precision <= 18)
            return PQ_INT64;
        *type_length = decimal_bytes(leaf->precision);
        return PQ_FIXED_LEN_BYTE_ARRAY;
    }
    return PQ_INT32;
}

static void reset_stats(pq_column *c)
{
    c->has_minmax = false;
    c->null_count = c->nan_count = 0;
    pq_buf_reset(&c->bmin);
    pq_buf_reset(&c->bmax);
}

static void start_chunk(pq_column *c)
{
    c->dict_allowed = c->opts->dict != PQ_DICT_OFF && c->phys != PQ_BOOLEAN;
    c->dict_checked = false;
    c->page_dict = c->dict_allowed;
    pq_dict_reset(&c->dict);
    c->dict.width = c->width;
}

void pq_column_retype(pq_column *c)
{
    c->phys = pq_physical_type(c->leaf, &c->type_length);
    c->width = c->phys == PQ_INT32 || c->phys == PQ_FLOAT ? 4
               : c->phys == PQ_INT64 || c->phys == PQ_DOUBLE ? 8
               : c->phys == PQ_FIXED_LEN_BYTE_ARRAY ? c->type_length : 0;
    reset_stats(c);
    start_chunk(c);
}

bool pq_column_init(pq_column *c, pq_node *leaf, const pq_writer_opts *opts,
                    pq_pipeline *pipe)
{
    *c = (pq_column){.leaf = leaf, .opts = opts, .pipe = pipe};
    int depth = 0;
    for (pq_node *n = leaf; n != NULL && n->kind != PQ_NODE_ROOT; n = n->parent)
        depth++;
    c->path = calloc((size_t)depth, sizeof *c->path);
    if (c->path == NULL)
        return false;
    c->depth = depth;
    pq_node *n = leaf;
    for (int d = depth - 1; d >= 0; d--, n = n->parent)
        c->path[d] = n;
    pq_dict_init(&c->dict, 0);
    pq_column_retype(c);
    return true;
}

void pq_column_free(pq_column *c)
{
    if (c->pending > 0 && c->pipe != NULL)
        pq_pipeline_drain(c->pipe);  /* an error stays in the pipeline */
    free(c->path);
    pq_buf_free(&c->def);
    pq_buf_free(&c->rep);
    pq_buf_free(&c->values);
    free(c->indices);
    pq_dict_free(&c->dict);
    pq_buf_free(&c->chunk);
    pq_buf_free(&c->dict_chunk);
    pq_buf_free(&c->tmp);
    pq_buf_free(&c->bmin);
    pq_buf_free(&c->bmax);
    *c = (pq_column){0};
}

/* ---- statistics ------------------------------------------------------- */

/* Byte arrays compare as unsigned bytes; decimals in fixed-length arrays
 * as big-endian two's complement. */
static int compare_bytes(const pq_column *c, const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen)
{
    if (c->phys == PQ_FIXED_LEN_BYTE_ARRAY && alen > 0 && blen > 0 && (a[0] ^ b[0]) & 0x80)
        return (a[0] & 0x80) ? -1 : 1;
    size_t common = alen < blen ? alen : blen;
    int r = common > 0 ? memcmp(a, b, common) : 0;  /* an empty value may have no bytes at all */
    return r != 0 ? r : (alen > blen) - (alen < blen);
}

static void set_buf(pq_buf *b, const void *p, size_t len)
{
    pq_buf_reset(b);
    pq_buf_append(b, p, len);
}

static void stats_bytes(pq_column *c, const uint8_t *p, size_t len)
{
    if (!c->has_minmax) {
        set_buf(&c->bmin, p, len);
        set_buf(&c->bmax, p, len);
        c->has_minmax = true;
        return;
    }
    if (compare_bytes(c, p, len, c->bmin.data, c->bmin.len) < 0)
        set_buf(&c->bmin, p, len);
    else if (compare_bytes(c, p, len, c->bmax.data, c->bmax.len) > 0)
        set_buf(&c->bmax, p, len);
}

static void stats_int(pq_column *c, int64_t v)
{
    if (!c->has_minmax) {
        c->imin = c->imax = v;
        c->has_minmax = true;
    } else if (v < c->imin) {
        c->imin = v;
    } else if (v > c->imax) {
        c->imax = v;
    }
}

static void stats_real(pq_column *c, double v)
{
    if (isnan(v)) {
        c->nan_count++;
        return;
    }
    if (!c->has_minmax) {
        c->dmin = c->dmax = v;
        c->has_minmax = true;
    } else if (v < c->dmin) {
        c->dmin = v;
    } else if (v > c->dmax) {
        c->dmax = v;
    }
}

/* One PLAIN value (a new dictionary entry). */
static void stats_value(pq_column *c, const uint8_t *p, size_t len)
{
    if (!c->opts->statistics)
        return;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    switch (c->phys) {
    case PQ_INT32: memcpy(&i32, p, 4); stats_int(c, i32); break;
    case PQ_INT64: memcpy(&i64, p, 8); stats_int(c, i64); break;
    case PQ_FLOAT: memcpy(&f, p, 4); stats_real(c, f); break;
    case PQ_DOUBLE: memcpy(&d, p, 8); stats_real(c, d); break;
    default: stats_bytes(c, p, len);
    }
}

/* n fixed-width PLAIN values. */
static void stats_fixed(pq_column *c, const uint8_t *p, size_t n)
{
    if (!c->opts->statistics || n == 0)
        return;
    size_t w = (size_t)c->width;
    if (c->phys == PQ_INT32 || c->phys == PQ_INT64) {
        int64_t lo, hi;
        for (size_t k = 0; k < n; k++) {
            int64_t v;
            if (c->phys == PQ_INT32) {
                int32_t x;
                memcpy(&x, p + 4 * k, 4);
                v = x;
            } else {
                memcpy(&v, p + 8 * k, 8);
            }
            if (k == 0 || v < lo)
                lo = v;
            if (k == 0 || v > hi)
                hi = v;
        }
        stats_int(c, lo);
        stats_int(c, hi);
        return;
    }
    for (size_t k = 0; k < n; k++)
        stats_value(c, p + k * w, w);
}

/* ---- levels ----------------------------------------------------------- */

void pq_column_backfill(pq_column *c, const pq_column *tmpl, size_t rows, int rep_limit,
                        int def_cap)
{
    pq_buf *def = c->leaf->def > 0 ? &c->def : NULL;
    pq_buf *rep = c->leaf->rep > 0 ? &c->rep : NULL;
    size_t n = tmpl != NULL ? tmpl->entries : rows;
    const uint8_t *tdef = tmpl && tmpl->leaf->def > 0 ? tmpl->def.data : NULL;
    const uint8_t *trep = tmpl && tmpl->leaf->rep > 0 ? tmpl->rep.data : NULL;
    size_t added = pq_levels_backfill(tdef, trep, n, rep_limit, def_cap, def, rep);
    c->entries += added;
    c->null_count += (int64_t)added;
}

/* ---- pages ------------------------------------------------------------ */

static int64_t page_bytes(const pq_column *c)
{
    if (c->page_dict)
        return (int64_t)(c->n_indices * (size_t)pq_bit_width(c->dict.count) / 8);
    return (int64_t)c->values.len;
}

static bool push_index(pq_column *c, uint32_t index)
{
    if (c->n_indices == c->cap_indices) {
        size_t cap = c->cap_indices ? 2 * c->cap_indices : 4096;
        uint32_t *p = realloc(c->indices, cap * sizeof *p);
        if (p == NULL)
            return false;
        c->indices = p;
        c->cap_indices = cap;
    }
    c->indices[c->n_indices++] = index;
    return true;
}

/* The page's dictionary indices become PLAIN values again. */
static void page_to_plain(pq_column *c)
{
    pq_buf_reset(&c->values);
    for (size_t k = 0; k < c->n_indices; k++) {
        size_t len;
        const uint8_t *v = pq_dict_value(&c->dict, c->indices[k], &len);
        if (c->width == 0)
            pq_buf_u32le(&c->values, (uint32_t)len);
        pq_buf_append(&c->values, v, len);
    }
    c->n_indices = 0;
    c->page_dict = false;
}

static void give_up_dictionary(pq_column *c)
{
    if (c->page_dict)
        page_to_plain(c);
    c->dict_allowed = false;
    pq_dict_reset(&c->dict);
}

static pq_col_status pipe_status(const pq_column *c)
{
    return pq_pipeline_error(c->pipe, NULL) == PQ_PIPE_NOMEM ? PQ_COL_NOMEM : PQ_COL_CODEC;
}

/* Hands a page's parts (filled by the caller into pq_pipeline_parts) to
 * the pipeline, to be appended to `chunk` once encoded and compressed.
 * `estimate` (its size, guessed before encoding) counts into the row
 * group's size right away, the same whatever the threads. */
static pq_col_status submit_page(pq_column *c, const pq_page_header *h, pq_buf *chunk,
                                 int64_t *uncompressed, int64_t *compressed, int64_t estimate)
{
    pq_page_dest d = {.chunk = chunk, .uncompressed = uncompressed, .compressed = compressed,
                      .pending = &c->pending, .owner = c};
    c->chunk_estimate += estimate;
    return pq_pipeline_submit(c->pipe, h, &d, estimate) == PQ_PIPE_OK ? PQ_COL_OK
                                                                      : pipe_status(c);
}

static void swap_bufs(pq_buf *a, pq_buf *b)
{
    pq_buf t = *a;
    *a = *b;
    *b = t;
}

/* The page's levels are copied (the row group keeps them for columns added
 * later); its values and indices change hands with the slot's buffers. */
static void fill_parts(pq_column *c, pq_page_parts *pp, size_t n, bool dict)
{
    pp->entries = n;
    if (c->leaf->rep > 0) {
        pp->rep_max = c->leaf->rep;
        pq_buf_append(&pp->rep, c->rep.data + c->page_first, n);
    }
    if (c->leaf->def > 0) {
        pp->def_max = c->leaf->def;
        pq_buf_append(&pp->def, c->def.data + c->page_first, n);
    }
    if (dict) {
        int width = pq_bit_width(c->dict.count - 1);
        pp->index_width = width < 1 ? 1 : width;
        uint32_t *indices = pp->indices;
        size_t cap = pp->cap_indices;
        pp->indices = c->indices;
        pp->cap_indices = c->cap_indices;
        pp->n_indices = c->n_indices;
        c->indices = indices;
        c->cap_indices = cap;
    } else {
        swap_bufs(&pp->values, &c->values);
    }
}

static pq_col_status cut_page(pq_column *c)
{
    size_t n = c->entries - c->page_first;
    if (n == 0)
        return PQ_COL_OK;
    if (c->page_dict && c->opts->dict == PQ_DICT_AUTO && !c->dict_checked) {
        c->dict_checked = true;
        /* Worth it when values repeat: fewer than half are distinct. */
        if ((int64_t)c->dict.count * 2 > c->page_values)
            give_up_dictionary(c);
    }
    bool dict = c->page_dict && c->n_indices > 0;
    if (c->page_dict && !dict)
        page_to_plain(c);
    if (c->values.failed)
        return PQ_COL_NOMEM;
    int64_t estimate = page_bytes(c) + (int64_t)n / 4;
    pq_page_parts *pp = pq_pipeline_parts(c->pipe);
    if (pp == NULL)
        return pipe_status(c);
    fill_parts(c, pp, n, dict);
    pq_page_header h = {.type = PQ_PAGE_DATA, .num_values = (int32_t)n,
                        .encoding = dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN,
                        .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE};
    pq_col_status st = submit_page(c, &h, &c->chunk, &c->chunk_uncompressed,
                                   &c->chunk_compressed, estimate);
    if (st != PQ_COL_OK)
        return st;
    if (dict)
        c->pages_dict++;
    else
        c->pages_plain++;
    c->page_first = c->entries;
    c->page_values = 0;
    c->n_indices = 0;
    pq_buf_reset(&c->values);
    c->page_dict = c->dict_allowed;
    return PQ_COL_OK;
}

/* ---- values ----------------------------------------------------------- */

#define POS(k) (lv->dense ? lv->first + (int64_t)(k) : lv->idx[k])

/* Fixed-width values of the file's physical type, converted as bound. */
static void gather_fixed(pq_column *c, const pq_level_out *lv, size_t v0, size_t n, uint8_t *dst)
{
    const struct ArrowArray *a = c->leaf->arr;
    const pq_node *leaf = c->leaf;
    if (leaf->vtype == PQ_V_DECIMAL) {
        for (size_t k = 0; k < n; k++) {
            uint64_t lo;
            int64_t hi;
            etl_arrow_decimal128(a, POS(v0 + k), &lo, &hi);
            if (c->phys == PQ_INT32) {
                int32_t v = (int32_t)(int64_t)lo;
                memcpy(dst + 4 * k, &v, 4);
            } else if (c->phys == PQ_INT64) {
                memcpy(dst + 8 * k, &lo, 8);
            } else {
                /* Big-endian, the low type_length bytes of the 16. */
                uint8_t be[16];
                for (int b = 0; b < 8; b++) {
                    be[15 - b] = (uint8_t)(lo >> (8 * b));
                    be[7 - b] = (uint8_t)((uint64_t)hi >> (8 * b));
                }
                memcpy(dst + (size_t)c->width * k, be + 16 - c->width, (size_t)c->width);
            }
        }
        return;
    }
    switch (leaf->conv) {
    case PQ_CONV_NONE: {
        size_t w = (size_t)c->width;
        const uint8_t *src = (const uint8_t *)a->buffers[1] + (size_t)a->offset * w;
        if (lv->dense) {
            memcpy(dst, src + (size_t)(lv->first + (int64_t)v0) * w, n * w);
        } else if (w == 8) {
            for (size_t k = 0; k < n; k++)
                memcpy(dst + 8 * k, src + 8 * (size_t)lv->idx[v0 + k], 8);
        } else {
            for (size_t k = 0; k < n; k++)
                memcpy(dst + 4 * k, src + 4 * (size_t)lv->idx[v0 + k], 4);
        }
        return;
    }
    case PQ_CONV_I32_TO_I64:
        for (size_t k = 0; k < n; k++) {
            int64_t v = etl_arrow_int32(a, POS(v0 + k));
            memcpy(dst + 8 * k, &v, 8);
        }
        return;
    case PQ_CONV_I32_TO_F64:
        for (size_t k = 0; k < n; k++) {
            double v = etl_arrow_int32(a, POS(v0 + k));
            memcpy(dst + 8 * k, &v, 8);
        }
        return;
    case PQ_CONV_I64_TO_F64:
        for (size_t k = 0; k < n; k++) {
            double v = (double)etl_arrow_int64(a, POS(v0 + k));
            memcpy(dst + 8 * k, &v, 8);
        }
        return;
    case PQ_CONV_F32_TO_F64:
        for (size_t k = 0; k < n; k++) {
            double v = etl_arrow_float(a, POS(v0 + k));
            memcpy(dst + 8 * k, &v, 8);
        }
        return;
    }
}

static bool decimals_fit(const pq_column *c, const pq_level_out *lv, size_t v0, size_t n)
{
    if (c->leaf->vtype != PQ_V_DECIMAL || c->phys == PQ_FIXED_LEN_BYTE_ARRAY)
        return true;
    for (size_t k = 0; k < n; k++) {
        uint64_t lo;
        int64_t hi;
        etl_arrow_decimal128(c->leaf->arr, POS(v0 + k), &lo, &hi);
        int64_t v = (int64_t)lo;
        if (hi != (v < 0 ? -1 : 0) || (c->phys == PQ_INT32 && (v < INT32_MIN || v > INT32_MAX)))
            return false;
    }
    return true;
}

static pq_col_status encode_fixed(pq_column *c, const pq_level_out *lv, size_t v0, size_t n)
{
    size_t w = (size_t)c->width;
    if (!decimals_fit(c, lv, v0, n))
        return PQ_COL_DECIMAL_RANGE;
    pq_buf_reset(&c->tmp);
    if (!pq_buf_reserve(&c->tmp, n * w))
        return PQ_COL_NOMEM;
    gather_fixed(c, lv, v0, n, c->tmp.data);
    if (!c->page_dict) {
        pq_buf_append(&c->values, c->tmp.data, n * w);
        stats_fixed(c, c->tmp.data, n);
        return c->values.failed ? PQ_COL_NOMEM : PQ_COL_OK;
    }
    for (size_t k = 0; k < n; k++) {
        bool added;
        int64_t index = pq_dict_insert(&c->dict, c->tmp.data + k * w, w, &added);
        if (index < 0 || !push_index(c, (uint32_t)index))
            return PQ_COL_NOMEM;
        if (added)
            stats_value(c, c->tmp.data + k * w, w);
    }
    return PQ_COL_OK;
}

static pq_col_status encode_bytes(pq_column *c, const pq_level_out *lv, size_t v0, size_t n)
{
    const struct ArrowArray *a = c->leaf->arr;
    bool stats = c->opts->statistics;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        const char *p = etl_arrow_bytes(a, POS(v0 + k), &len);
        if (c->page_dict) {
            bool added;
            int64_t index = pq_dict_insert(&c->dict, p, len, &added);
            if (index < 0 || !push_index(c, (uint32_t)index))
                return PQ_COL_NOMEM;
            if (added && stats)
                stats_bytes(c, (const uint8_t *)p, len);
        } else {
            if (!pq_buf_reserve(&c->values, len + 4))
                return PQ_COL_NOMEM;
            pq_buf_u32le(&c->values, (uint32_t)len);
            pq_buf_append(&c->values, p, len);
            if (stats)
                stats_bytes(c, (const uint8_t *)p, len);
        }
    }
    return PQ_COL_OK;
}

static pq_col_status encode_bools(pq_column *c, const pq_level_out *lv, size_t v0, size_t n)
{
    const struct ArrowArray *a = c->leaf->arr;
    for (size_t k = 0; k < n; k++) {
        int64_t bit = c->page_values + (int64_t)k;
        if ((bit & 7) == 0)
            pq_buf_byte(&c->values, 0);
        if (c->values.failed)
            return PQ_COL_NOMEM;
        bool v = etl_arrow_bool(a, POS(v0 + k));
        if (v)
            c->values.data[c->values.len - 1] |= (uint8_t)(1u << (bit & 7));
        if (c->opts->statistics)
            stats_int(c, v);
    }
    return PQ_COL_OK;
}

static pq_col_status encode_values(pq_column *c, const pq_level_out *lv, size_t v0, size_t n)
{
    if (n == 0)
        return PQ_COL_OK;
    pq_col_status st = c->phys == PQ_BOOLEAN      ? encode_bools(c, lv, v0, n)
                       : c->phys == PQ_BYTE_ARRAY ? encode_bytes(c, lv, v0, n)
                                                  : encode_fixed(c, lv, v0, n);
    c->page_values += (int64_t)n;
    return st;
}

/* ---- writing rows ----------------------------------------------------- */

/* Entries per step: about what fills the rest of the page. */
static size_t step_entries(const pq_column *c)
{
    size_t in_page = c->entries - c->page_first;
    int64_t bytes = page_bytes(c);
    if (in_page == 0 || bytes <= 0)
        return 1024;
    double per_entry = (double)bytes / (double)in_page;
    double left = (double)(c->opts->page_size - bytes) / per_entry + 1;
    return left < 64 ? 64 : left > 65536 ? 65536 : (size_t)left;
}

static size_t count_values(const pq_column *c, size_t from, size_t to)
{
    if (c->leaf->def == 0)
        return to - from;
    const uint8_t *def = c->def.data;
    uint8_t max = (uint8_t)c->leaf->def;
    size_t n = 0;
    for (size_t e = from; e < to; e++)
        n += def[e] == max;
    return n;
}

pq_col_status pq_column_write(pq_column *c, int64_t row_begin, int64_t row_end,
                              pq_level_out *lv)
{
    lv->def = c->leaf->def > 0 ? &c->def : NULL;
    lv->rep = c->leaf->rep > 0 ? &c->rep : NULL;
    lv->required_null = false;
    pq_levels_compute(c->path, c->depth, row_begin, row_end, lv);
    if (lv->failed || c->def.failed || c->rep.failed)
        return PQ_COL_NOMEM;
    if (lv->required_null)
        return PQ_COL_REQUIRED_NULL;
    size_t end = c->entries + (size_t)lv->entries;
    size_t next_value = 0;
    while (c->entries < end) {
        size_t e = c->entries;
        size_t e2 = e + step_entries(c);
        if (e2 > end)
            e2 = end;
        while (c->leaf->rep > 0 && e2 < end && c->rep.data[e2] != 0)
            e2++;
        size_t n = count_values(c, e, e2);
        if (c->opts->statistics)
            c->null_count += (int64_t)(e2 - e - n);
        pq_col_status st = encode_values(c, lv, next_value, n);
        if (st != PQ_COL_OK)
            return st;
        next_value += n;
        c->entries = e2;
        /* auto: a first page of mostly distinct values will not pay for
         * its dictionary; say so early instead of hashing a whole page. */
        if (c->page_dict && c->opts->dict == PQ_DICT_AUTO && !c->dict_checked &&
            c->page_values >= DICT_PROBE_VALUES && (int64_t)c->dict.count * 2 > c->page_values) {
            c->dict_checked = true;
            give_up_dictionary(c);
        }
        if (c->page_dict && (c->dict.plain.len > (size_t)c->opts->dict_limit || c->dict.failed)) {
            if (c->opts->dict == PQ_DICT_AUTO && !c->dict_checked)
                give_up_dictionary(c);  /* the first page: no dictionary in this chunk */
            else
                c->dict_allowed = false;  /* this page keeps it, the next ones are PLAIN */
        }
        if (page_bytes(c) >= c->opts->page_size || c->entries - c->page_first >= MAX_PAGE_ENTRIES ||
            (c->page_dict && !c->dict_allowed)) {
            st = cut_page(c);
            if (st != PQ_COL_OK)
                return st;
        }
    }
    return PQ_COL_OK;
}

int64_t pq_column_open_bytes(const pq_column *c)
{
    return (int64_t)c->dict.plain.len / 2 + page_bytes(c) / 4;
}

int64_t pq_column_uncompressed_bytes(const pq_column *c)
{
    return c->chunk_estimate + (int64_t)c->dict.plain.len + page_bytes(c) +
           (int64_t)(c->entries - c->page_first) / 4;
}

/* ---- flushing the chunk ----------------------------------------------- */

static void encode_stat(const pq_column *c, pq_buf *out, bool is_max)
{
    pq_buf_reset(out);
    if (c->phys == PQ_INT32 || c->phys == PQ_BOOLEAN) {
        int64_t v = is_max ? c->imax : c->imin;
        if (c->phys == PQ_BOOLEAN) {
            pq_buf_byte(out, (uint8_t)v);
        } else {
            int32_t x = (int32_t)v;
            pq_buf_append(out, &x, 4);
        }
    } else if (c->phys == PQ_INT64) {
        int64_t v = is_max ? c->imax : c->imin;
        pq_buf_append(out, &v, 8);
    } else if (c->phys == PQ_FLOAT || c->phys == PQ_DOUBLE) {
        double v = is_max ? c->dmax : c->dmin;
        /* Zero bounds are written as -0.0 (min) and +0.0 (max), so that
         * readers never skip a page that holds the other zero. */
        if (v == 0)
            v = is_max ? 0.0 : -0.0;
        if (c->phys == PQ_FLOAT) {
            float f = (float)v;
            pq_buf_append(out, &f, 4);
        } else {
            pq_buf_append(out, &v, 8);
        }
    } else {
        const pq_buf *b = is_max ? &c->bmax : &c->bmin;
        pq_buf_append(out, b->data, b->len);
    }
}

static void fill_stats(const pq_column *c, pq_column_meta *m)
{
    if (!c->opts->statistics)
        return;
    m->has_stats = true;
    m->stats.has_null_count = true;
    m->stats.null_count = c->null_count;
    if (c->phys == PQ_FLOAT || c->phys == PQ_DOUBLE) {
        m->stats.has_nan_count = true;
        m->stats.nan_count = c->nan_count;
    }
    bool fits = c->bmin.len <= MAX_STAT_BYTES && c->bmax.len <= MAX_STAT_BYTES;
    if (c->has_minmax && fits && c->leaf->vtype != PQ_V_NULL) {
        m->stats.has_min_max = true;
        encode_stat(c, &m->stats.min, false);
        encode_stat(c, &m->stats.max, true);
    }
}

static bool fill_path(const pq_column *c, pq_column_meta *m)
{
    size_t n = 0;
    for (int d = 0; d < c->depth; d++)
        n += c->path[d]->kind == PQ_NODE_LIST ? 2 : 1;
    m->path = calloc(n, sizeof *m->path);
    if (m->path == NULL)
        return false;
    for (int d = 0; d < c->depth; d++) {
        const pq_node *node = c->path[d];
        bool element = d > 0 && c->path[d - 1]->kind == PQ_NODE_LIST;
        m->path[m->path_len++] = strdup(element ? "element" : node->name);
        if (node->kind == PQ_NODE_LIST)
            m->path[m->path_len++] = strdup("list");
    }
    for (size_t i = 0; i < m->path_len; i++)
        if (m->path[i] == NULL)
            return false;
    return true;
}

static void add_encoding(pq_column_meta *m, int32_t e)
{
    for (size_t i = 0; i < m->n_encodings; i++)
        if (m->encodings[i] == e)
            return;
    m->encodings[m->n_encodings++] = e;
}

static void fill_encodings(const pq_column *c, pq_column_meta *m, bool dict_page)
{
    if (dict_page) {
        add_encoding(m, PQ_ENC_PLAIN);
        add_encoding(m, PQ_ENC_RLE_DICTIONARY);
        m->enc_stats[m->n_enc_stats++] = (pq_page_encoding_stats){PQ_PAGE_DICTIONARY,
                                                                  PQ_ENC_PLAIN, 1};
    }
    if (c->pages_plain > 0)
        add_encoding(m, PQ_ENC_PLAIN);
    if (c->leaf->def > 0 || c->leaf->rep > 0)
        add_encoding(m, PQ_ENC_RLE);
    if (c->pages_dict > 0)
        m->enc_stats[m->n_enc_stats++] = (pq_page_encoding_stats){PQ_PAGE_DATA,
                                                                  PQ_ENC_RLE_DICTIONARY,
                                                                  c->pages_dict};
    if (c->pages_plain > 0)
        m->enc_stats[m->n_enc_stats++] = (pq_page_encoding_stats){PQ_PAGE_DATA, PQ_ENC_PLAIN,
                                                                  c->pages_plain};
}

static void reset_row_group(pq_column *c)
{
    pq_buf_reset(&c->def);
    pq_buf_reset(&c->rep);
    pq_buf_reset(&c->values);
    pq_buf_reset(&c->chunk);
    pq_buf_reset(&c->dict_chunk);
    c->entries = c->page_first = 0;
    c->page_values = 0;
    c->n_indices = 0;
    c->chunk_uncompressed = c->chunk_compressed = c->chunk_estimate = 0;
    c->dict_uncompressed = c->dict_compressed = 0;
    c->pages_plain = c->pages_dict = 0;
    reset_stats(c);
    start_chunk(c);
}

pq_col_status pq_column_close_chunk(pq_column *c)
{
    pq_col_status st = cut_page(c);
    if (st != PQ_COL_OK)
        return st;
    if (c->entries == 0 && c->pages_plain == 0) {
        /* A row group of zero rows still needs a page per column. */
        c->page_dict = false;
        if (pq_pipeline_parts(c->pipe) == NULL)
            return pipe_status(c);
        pq_page_header h = {.type = PQ_PAGE_DATA, .encoding = PQ_ENC_PLAIN,
                            .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE};
        st = submit_page(c, &h, &c->chunk, &c->chunk_uncompressed, &c->chunk_compressed, 0);
        if (st != PQ_COL_OK)
            return st;
        c->pages_plain++;
    }
    if (c->pages_dict == 0)
        return PQ_COL_OK;
    pq_page_parts *pp = pq_pipeline_parts(c->pipe);
    if (pp == NULL)
        return pipe_status(c);
    swap_bufs(&pp->values, &c->dict.plain);  /* the dictionary is reset after the flush */
    pq_page_header h = {.type = PQ_PAGE_DICTIONARY, .num_values = (int32_t)c->dict.count,
                        .encoding = PQ_ENC_PLAIN};
    return submit_page(c, &h, &c->dict_chunk, &c->dict_uncompressed, &c->dict_compressed,
                       (int64_t)pp->values.len);
}

pq_col_status pq_column_flush(pq_column *c, const etl_byte_sink *out, int64_t offset,
                              pq_column_meta *m)
{
    *m = (pq_column_meta){.type = c->phys, .codec = pq_pipeline_codec(c->pipe),
                          .num_values = (int64_t)c->entries,
                          .dictionary_page_offset = PQ_UNSET};
    bool dict_page = c->pages_dict > 0;
    int64_t dict_bytes = (int64_t)c->dict_chunk.len;
    if (dict_page)
        m->dictionary_page_offset = offset;
    m->total_uncompressed_size = c->dict_uncompressed + c->chunk_uncompressed;
    m->total_compressed_size = dict_bytes + (int64_t)c->chunk.len;
    m->data_page_offset = offset + dict_bytes;
    fill_encodings(c, m, dict_page);
    fill_stats(c, m);
    bool ok = fill_path(c, m) && !m->stats.min.failed && !m->stats.max.failed;
    etl_status io = ETL_OK;
    if (ok && dict_page)
        io = out->write(out->user, c->dict_chunk.data, c->dict_chunk.len);
    if (ok && io == ETL_OK)
        io = out->write(out->user, c->chunk.data, c->chunk.len);
    reset_row_group(c);
    return !ok ? PQ_COL_NOMEM : io != ETL_OK ? PQ_COL_IO : PQ_COL_OK;
}
