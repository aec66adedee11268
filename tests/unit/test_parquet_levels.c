/* Definition and repetition levels computed from hand-built Arrow arrays,
 * checked against the Dremel encoding worked out by hand, and the levels of
 * columns added after rows were written (back-fill). Then the writer itself
 * through a stub host: special values, zero rows, a refused schema change.
 * Then the page pipeline (order, errors, freeing with pages in flight) and
 * the writer's threads: the same file and sizes with 1 or 4 threads, close
 * without finish, a failing sink.
 * With PQ_TEST_OUT=DIR it leaves special.parquet, empty.parquet and
 * threads.parquet there for tests/integration/parquet.sh to read with
 * DuckDB. */
#include "levels.h"
#include "page_pipeline.h"
#include "parquet_internal.h"
#include "parquet_reader.h"

#include "tap_runner.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

/* ---- building Arrow arrays by hand ------------------------------------ */

typedef struct fake {
    struct ArrowArray a;
    const void *buffers[3];
    struct ArrowArray *kids[8];
} fake;

static void fake_init(fake *f, int64_t length, const uint8_t *validity, const void *values,
                      const void *data)
{
    memset(f, 0, sizeof *f);
    f->buffers[0] = validity;
    f->buffers[1] = values;
    f->buffers[2] = data;
    f->a.length = length;
    f->a.null_count = validity ? -1 : 0;
    f->a.n_buffers = 3;
    f->a.buffers = f->buffers;
    f->a.children = f->kids;
}

static void fake_child(fake *parent, fake *child)
{
    parent->kids[parent->a.n_children++] = &child->a;
}

static pq_node node(const char *name, pq_node_kind kind, bool optional)
{
    return (pq_node){.name = (char *)name, .kind = kind, .optional = optional,
                     .vtype = PQ_V_INT64};
}

static void link(pq_node *parent, pq_node **kids, pq_node *kid)
{
    parent->kids = kids;
    kids[parent->n_kids++] = kid;
    kid->parent = parent;
}

/* The levels of each node as the writer assigns them. */
static void levels(pq_node *n, int def_parent, int rep)
{
    n->def = def_parent + (n->optional ? 1 : 0);
    n->rep = rep;
    for (size_t i = 0; i < n->n_kids; i++) {
        if (n->kind == PQ_NODE_LIST)
            levels(n->kids[i], n->def + 1, rep + 1);
        else
            levels(n->kids[i], n->def, rep);
    }
}

typedef struct result {
    pq_buf def, rep;
    pq_level_out out;
} result;

static void run(pq_node *const *path, int depth, int64_t rows, result *r)
{
    memset(r, 0, sizeof *r);
    r->out.def = path[depth - 1]->def > 0 ? &r->def : NULL;
    r->out.rep = path[depth - 1]->rep > 0 ? &r->rep : NULL;
    pq_levels_compute(path, depth, 0, rows, &r->out);
    ck_assert(!r->out.failed);
}

static void result_free(result *r)
{
    pq_buf_free(&r->def);
    pq_buf_free(&r->rep);
    pq_level_out_free(&r->out);
}

static void expect_levels(const pq_buf *b, const uint8_t *want, size_t n, const char *what)
{
    ck_assert_msg(b->len == n, "%s: %zu levels, expected %zu", what, b->len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(b->data[i] == want[i], "%s[%zu] = %d, expected %d", what, i, b->data[i],
                      want[i]);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(flat_optional_column)
{
    /* [10, null, 30, null, 50] */
    static const int64_t values[] = {10, 0, 30, 0, 50};
    static const uint8_t valid[] = {0x15};
    fake col;
    fake_init(&col, 5, valid, values, NULL);
    col.a.null_count = 2;
    pq_node root = node("schema", PQ_NODE_ROOT, false), leaf = node("x", PQ_NODE_LEAF, true);
    pq_node *kids[1];
    link(&root, kids, &leaf);
    levels(&leaf, 0, 0);
    leaf.arr = &col.a;
    pq_node *path[] = {&leaf};
    result r;
    run(path, 1, 5, &r);
    static const uint8_t def[] = {1, 0, 1, 0, 1};
    expect_levels(&r.def, def, 5, "def");
    ck_assert_int_eq(r.out.n_idx, 3);
    ck_assert(r.out.idx[0] == 0 && r.out.idx[1] == 2 && r.out.idx[2] == 4);
    ck_assert_int_eq(r.out.entries, 5);
    result_free(&r);

    /* no nulls: dense, every level 1 */
    fake full;
    fake_init(&full, 5, NULL, values, NULL);
    leaf.arr = &full.a;
    run(path, 1, 5, &r);
    ck_assert(r.out.dense && r.out.first == 0);
    static const uint8_t all[] = {1, 1, 1, 1, 1};
    expect_levels(&r.def, all, 5, "def");
    result_free(&r);

    /* absent from the batch: all null */
    leaf.arr = NULL;
    run(path, 1, 3, &r);
    static const uint8_t none[] = {0, 0, 0};
    expect_levels(&r.def, none, 3, "def");
    ck_assert_int_eq(r.out.n_idx, 0);
    result_free(&r);
}
END_TEST

START_TEST(required_column_with_a_null_is_reported)
{
    static const int64_t values[] = {1, 2};
    static const uint8_t valid[] = {0x01};
    fake col;
    fake_init(&col, 2, valid, values, NULL);
    col.a.null_count = 1;
    pq_node root = node("schema", PQ_NODE_ROOT, false), leaf = node("x", PQ_NODE_LEAF, false);
    pq_node *kids[1];
    link(&root, kids, &leaf);
    levels(&leaf, 0, 0);
    leaf.arr = &col.a;
    pq_node *path[] = {&leaf};
    result r;
    memset(&r, 0, sizeof r);
    r.out.def = &r.def;
    pq_levels_compute(path, 1, 0, 2, &r.out);
    ck_assert(r.out.required_null);
    result_free(&r);
}
END_TEST

/* list<int64>, optional list and optional elements:
 * rows [1, 2], [], null, [null, 3]
 * def: list null 0, empty 1, element null 2, value 3; rep 1 inside a list. */
START_TEST(list_of_int64)
{
    static const int32_t offsets[] = {0, 2, 2, 2, 4};
    static const uint8_t list_valid[] = {0x0B};       /* rows 0, 1, 3 */
    static const int64_t items[] = {1, 2, 0, 3};
    static const uint8_t item_valid[] = {0x0B};       /* items 0, 1, 3 */
    fake list, item;
    fake_init(&list, 4, list_valid, offsets, NULL);
    fake_init(&item, 4, item_valid, items, NULL);
    fake_child(&list, &item);
    pq_node root = node("schema", PQ_NODE_ROOT, false);
    pq_node l = node("tags", PQ_NODE_LIST, true), e = node("element", PQ_NODE_LEAF, true);
    pq_node *rk[1], *lk[1];
    link(&root, rk, &l);
    link(&l, lk, &e);
    levels(&l, 0, 0);
    ck_assert_int_eq(e.def, 3);
    ck_assert_int_eq(e.rep, 1);
    l.arr = &list.a;
    e.arr = &item.a;
    pq_node *path[] = {&l, &e};
    result r;
    run(path, 2, 4, &r);
    static const uint8_t def[] = {3, 3, 1, 0, 2, 3};
    static const uint8_t rep[] = {0, 1, 0, 0, 0, 1};
    expect_levels(&r.def, def, 6, "def");
    expect_levels(&r.rep, rep, 6, "rep");
    ck_assert_int_eq(r.out.n_idx, 3);
    ck_assert(r.out.idx[0] == 0 && r.out.idx[1] == 1 && r.out.idx[2] == 3);
    result_free(&r);
}
END_TEST

/* list<struct<sku: string, sizes: list<int64>>> (list of struct holding a
 * list of list's worth of nesting):
 * row 0: [{sku, sizes: [7, 8]}, null]
 * row 1: null
 * row 2: [{sku: null, sizes: []}]
 * Leaf sizes.element: def variants 1, its repeated group 2, element struct
 * 3, sizes 4, its repeated group 5, value 6; rep 1 for the outer list, 2
 * for the inner one. */
START_TEST(list_of_struct_with_inner_list)
{
    static const int32_t outer_offsets[] = {0, 2, 2, 3};
    static const uint8_t outer_valid[] = {0x05};
    static const uint8_t struct_valid[] = {0x05};     /* element 1 is null */
    static const int32_t inner_offsets[] = {0, 2, 2, 2};
    static const uint8_t inner_valid[] = {0x05};
    static const int64_t sizes[] = {7, 8};
    fake outer, st, inner, size;
    fake_init(&outer, 3, outer_valid, outer_offsets, NULL);
    fake_init(&st, 3, struct_valid, NULL, NULL);
    fake_init(&inner, 3, inner_valid, inner_offsets, NULL);
    fake_init(&size, 2, NULL, sizes, NULL);
    fake_child(&outer, &st);
    fake_child(&st, &inner);
    fake_child(&inner, &size);
    pq_node root = node("schema", PQ_NODE_ROOT, false);
    pq_node v = node("variants", PQ_NODE_LIST, true), s = node("element", PQ_NODE_STRUCT, true);
    pq_node sz = node("sizes", PQ_NODE_LIST, true), leaf = node("element", PQ_NODE_LEAF, true);
    pq_node *k1[1], *k2[1], *k3[1], *k4[1];
    link(&root, k1, &v);
    link(&v, k2, &s);
    link(&s, k3, &sz);
    link(&sz, k4, &leaf);
    levels(&v, 0, 0);
    ck_assert_int_eq(leaf.def, 6);
    ck_assert_int_eq(leaf.rep, 2);
    v.arr = &outer.a;
    s.arr = &st.a;
    sz.arr = &inner.a;
    leaf.arr = &size.a;
    pq_node *path[] = {&v, &s, &sz, &leaf};
    result r;
    run(path, 4, 3, &r);
    static const uint8_t def[] = {6, 6, 2, 0, 4};
    static const uint8_t rep[] = {0, 2, 1, 0, 0};
    expect_levels(&r.def, def, 5, "def");
    expect_levels(&r.rep, rep, 5, "rep");
    ck_assert_int_eq(r.out.n_idx, 2);
    result_free(&r);
}
END_TEST

/* struct<a: struct<b: int64>>, all optional: a null outer, a null inner,
 * a null leaf, a value; and an array offset on the struct. */
START_TEST(nested_structs_and_offsets)
{
    static const uint8_t outer_valid[] = {0x1E};      /* rows 1..4 of 5; row 0 null */
    static const uint8_t inner_valid[] = {0x1A};      /* 1, 3, 4 */
    static const uint8_t leaf_valid[] = {0x12};       /* 1, 4 */
    static const int64_t values[] = {0, 11, 0, 0, 44};
    fake outer, inner, leafa;
    fake_init(&outer, 5, outer_valid, NULL, NULL);
    fake_init(&inner, 5, inner_valid, NULL, NULL);
    fake_init(&leafa, 5, leaf_valid, values, NULL);
    fake_child(&outer, &inner);
    fake_child(&inner, &leafa);
    /* The batch's rows are rows 1..4 of the arrays. */
    outer.a.offset = 1;
    outer.a.length = 4;
    pq_node root = node("schema", PQ_NODE_ROOT, false);
    pq_node a = node("a", PQ_NODE_STRUCT, true), b = node("b", PQ_NODE_STRUCT, true);
    pq_node c = node("c", PQ_NODE_LEAF, true);
    pq_node *k1[1], *k2[1], *k3[1];
    link(&root, k1, &a);
    link(&a, k2, &b);
    link(&b, k3, &c);
    levels(&a, 0, 0);
    a.arr = &outer.a;
    b.arr = &inner.a;
    c.arr = &leafa.a;
    pq_node *path[] = {&a, &b, &c};
    result r;
    run(path, 3, 4, &r);
    /* rows 1..4: leaf 11; inner null; inner ok leaf null; leaf 44 */
    static const uint8_t def[] = {3, 1, 2, 3};
    expect_levels(&r.def, def, 4, "def");
    ck_assert_int_eq(r.out.n_idx, 2);
    ck_assert(r.out.idx[0] == 1 && r.out.idx[1] == 4);
    result_free(&r);
}
END_TEST

/* A field added to a list's struct elements after rows were written gets
 * one entry per element (not per inner repetition), null at the struct. */
START_TEST(backfill_follows_the_template)
{
    /* Template: variants.element.sizes.element of the test above. */
    static const uint8_t tdef[] = {6, 6, 2, 0, 4};
    static const uint8_t trep[] = {0, 2, 1, 0, 0};
    pq_buf def = {0}, rep = {0};
    /* New field under the element struct: rep limit 1, def cap 3. */
    size_t n = pq_levels_backfill(tdef, trep, 5, 1, 3, &def, &rep);
    ck_assert_int_eq(n, 4);
    static const uint8_t want_def[] = {3, 2, 0, 3};
    static const uint8_t want_rep[] = {0, 1, 0, 0};
    expect_levels(&def, want_def, 4, "def");
    expect_levels(&rep, want_rep, 4, "rep");
    pq_buf_free(&def);
    pq_buf_free(&rep);
    /* A new top-level column: one null per row. */
    n = pq_levels_backfill(NULL, NULL, 3, 0, 0, &def, NULL);
    ck_assert_int_eq(n, 3);
    static const uint8_t zeros[] = {0, 0, 0};
    expect_levels(&def, zeros, 3, "def");
    pq_buf_free(&def);
}
END_TEST


/* ---- the writer through a stub host ------------------------------------ */

/* The few host services the writer uses: errors and options. */
static char last_error[1024];
static const char *option_keys[8], *option_values[8];

static etl_status stub_set_error(etl_ctx *ctx, etl_status st, int64_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

static const char *stub_option(const char *key)
{
    for (int i = 0; i < 8 && option_keys[i]; i++)
        if (strcmp(option_keys[i], key) == 0)
            return option_values[i];
    return NULL;
}

static const char *stub_opt_string(const etl_options *o, const char *key)
{
    return stub_option(key);
}

static bool stub_opt_int(const etl_options *o, const char *key, int64_t *out)
{
    const char *v = stub_option(key);
    if (v != NULL)
        *out = strtoll(v, NULL, 10);
    return v != NULL;
}

static bool stub_opt_bool(const etl_options *o, const char *key, bool *out)
{
    const char *v = stub_option(key);
    if (v != NULL)
        *out = strcmp(v, "true") == 0;
    return v != NULL;
}

static const char *stub_opt_where(const etl_options *o, const char *key)
{
    return "test.yaml:1:1";
}

static const etl_host_api stub_host = {
    .struct_size = sizeof(etl_host_api), .abi_major = ETL_ABI_MAJOR,
    .set_error = stub_set_error, .opt_string = stub_opt_string, .opt_int = stub_opt_int,
    .opt_bool = stub_opt_bool, .opt_size = stub_opt_int, .opt_where = stub_opt_where};

static etl_status to_buf(void *user, const void *data, size_t len)
{
    pq_buf_append(user, data, len);
    return ETL_OK;
}

typedef struct column_fake {
    struct ArrowSchema s;
    fake a;
} column_fake;

typedef struct batch_fake {
    struct ArrowSchema s;
    struct ArrowSchema *schemas[8];
    fake a;
    etl_batch batch;
} batch_fake;

static void column(batch_fake *b, column_fake *c, const char *name, const char *format,
                   bool nullable, int64_t rows, const uint8_t *valid, const void *values,
                   const void *data)
{
    memset(&c->s, 0, sizeof c->s);
    c->s.format = format;
    c->s.name = name;
    c->s.flags = nullable ? ARROW_FLAG_NULLABLE : 0;
    fake_init(&c->a, rows, valid, values, data);
    b->schemas[b->s.n_children++] = &c->s;
    fake_child(&b->a, &c->a);
}

static void batch_init(batch_fake *b, int64_t rows)
{
    memset(b, 0, sizeof *b);
    b->s.format = "+s";
    b->s.children = b->schemas;
    fake_init(&b->a, rows, NULL, NULL, NULL);
    b->batch = (etl_batch){.struct_size = sizeof(etl_batch), .num_rows = rows, .schema = &b->s,
                           .array = &b->a.a};
}

static void save(const char *name, const pq_buf *b)
{
    const char *dir = getenv("PQ_TEST_OUT");
    if (dir == NULL)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

static const etl_format_vtable *writer_vtable(void)
{
    pq_host = &stub_host;
    memset(option_keys, 0, sizeof option_keys);
    return parquet_format_connector.vtable;
}

START_TEST(writer_special_values)
{
    const etl_format_vtable *vt = writer_vtable();
    pq_buf out = {0};
    etl_byte_sink sink = {.struct_size = sizeof sink, .user = &out, .name = "memory",
                          .write = to_buf};
    void *w = NULL;
    ck_assert_int_eq(vt->writer_open(NULL, NULL, &sink, &w), ETL_OK);

    static const int64_t k[] = {0, 1, 2, 3, 4};
    static const float f[] = {1.5f, -INFINITY, NAN, 0, FLT_MAX};
    static const uint8_t f_valid[] = {0x17};
    static const double g[] = {NAN, INFINITY, -INFINITY, -0.0, DBL_MAX};
    static const int32_t i32[] = {INT32_MIN, INT32_MAX, 0, 0, 1};
    static const uint8_t i_valid[] = {0x1B};
    static const int32_t z_off[] = {0, 2, 2, 2, 6, 7};
    static const uint8_t z_data[] = {0x00, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 'A'};
    static const uint8_t z_valid[] = {0x1B};
    batch_fake b;
    column_fake ck, cf, cg, ci, cz, cr;
    batch_init(&b, 5);
    column(&b, &ck, "k", "l", true, 5, NULL, k, NULL);
    column(&b, &cf, "f", "f", true, 5, f_valid, f, NULL);
    column(&b, &cg, "g", "g", true, 5, NULL, g, NULL);
    column(&b, &ci, "i", "i", true, 5, i_valid, i32, NULL);
    column(&b, &cz, "z", "z", true, 5, z_valid, z_off, z_data);
    column(&b, &cr, "r", "l", false, 5, NULL, k, NULL);
    ck_assert_int_eq(vt->write(w, &b.batch), ETL_OK);
    /* Until finish() there is no footer: the bytes so far are not a file. */
    ck_assert(out.len < 8 || memcmp(out.data + out.len - 4, "PAR1", 4) != 0 || out.len == 4);
    ck_assert_int_eq(vt->finish(w), ETL_OK);
    ck_assert_int_eq(vt->bytes_written(w), (int64_t)out.len);
    vt->writer_close(w);

    pq_file_meta m;
    char err[256];
    ck_assert_msg(pq_read_footer(out.data, out.len, &m, err, sizeof err), "%s", err);
    ck_assert_int_eq(m.num_rows, 5);
    ck_assert_int_eq(m.n_row_groups, 1);
    ck_assert_int_eq(m.n_schema, 7);
    ck_assert_int_eq(m.schema[6].repetition, PQ_REQUIRED);
    ck_assert_int_eq(m.schema[2].type, PQ_FLOAT);
    const pq_statistics *gs = &m.row_groups[0].columns[2].stats;
    ck_assert(gs->has_nan_count && gs->nan_count == 1);
    double lo, hi;
    memcpy(&lo, gs->min.data, 8);
    memcpy(&hi, gs->max.data, 8);
    ck_assert(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
    pq_file_meta_free(&m);
    save("special.parquet", &out);
    pq_buf_free(&out);
}
END_TEST

START_TEST(writer_zero_rows_keeps_the_schema)
{
    const etl_format_vtable *vt = writer_vtable();
    pq_buf out = {0};
    etl_byte_sink sink = {.struct_size = sizeof sink, .user = &out, .name = "memory",
                          .write = to_buf};
    void *w = NULL;
    ck_assert_int_eq(vt->writer_open(NULL, NULL, &sink, &w), ETL_OK);
    batch_fake b;
    column_fake ck, cf;
    static const int64_t none[1];
    batch_init(&b, 0);
    column(&b, &ck, "k", "l", true, 0, NULL, none, NULL);
    column(&b, &cf, "f", "f", true, 0, NULL, none, NULL);
    ck_assert_int_eq(vt->write(w, &b.batch), ETL_OK);
    ck_assert_int_eq(vt->finish(w), ETL_OK);
    vt->writer_close(w);
    pq_file_meta m;
    char err[256];
    ck_assert_msg(pq_read_footer(out.data, out.len, &m, err, sizeof err), "%s", err);
    ck_assert_int_eq(m.num_rows, 0);
    ck_assert_int_eq(m.n_row_groups, 0);
    ck_assert_int_eq(m.n_schema, 3);
    pq_file_meta_free(&m);
    save("empty.parquet", &out);
    pq_buf_free(&out);
}
END_TEST

START_TEST(writer_refuses_a_new_column_after_a_row_group)
{
    const etl_format_vtable *vt = writer_vtable();
    option_keys[0] = "row_group_rows";
    option_values[0] = "2";
    pq_buf out = {0};
    etl_byte_sink sink = {.struct_size = sizeof sink, .user = &out, .name = "memory",
                          .write = to_buf};
    void *w = NULL;
    ck_assert_int_eq(vt->writer_open(NULL, NULL, &sink, &w), ETL_OK);
    static const int64_t k[] = {1, 2, 3};
    batch_fake b1, b2;
    column_fake c1, c2, c3;
    batch_init(&b1, 3);
    column(&b1, &c1, "k", "l", true, 3, NULL, k, NULL);
    ck_assert_int_eq(vt->write(w, &b1.batch), ETL_OK);
    batch_init(&b2, 3);
    column(&b2, &c2, "k", "l", true, 3, NULL, k, NULL);
    column(&b2, &c3, "new", "l", true, 3, NULL, k, NULL);
    ck_assert_int_eq(vt->write(w, &b2.batch), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(last_error, "column 'new' first appears in the batch that starts at row 3") != NULL, "%s",
                  last_error);
    ck_assert_int_eq(vt->finish(w), ETL_ERR_PERMANENT);   /* the file stays unfinished */
    vt->writer_close(w);
    pq_buf_free(&out);

    /* A bad option value fails open. */
    option_values[0] = "0";
    ck_assert_int_eq(vt->writer_open(NULL, NULL, &sink, &w), ETL_ERR_CONFIG);
    ck_assert(strstr(last_error, "row_group_rows") != NULL);
}
END_TEST


/* ---- the page pipeline and the writer's threads -------------------------- */

/* Page k of a test: k-dependent bytes of a k-dependent length. */
static size_t test_page(int k, uint8_t *out)
{
    size_t len = (size_t)(k * 37 % 5000) + 1;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(k * 7 + (int)(i % 13) * (k % 5));
    return len;
}

typedef struct test_dest {
    pq_buf chunk;
    int64_t uncompressed, compressed;
    int32_t pending;
} test_dest;

/* Submits pages first..last-1, page k to dest k % 3, then marks. */
static void submit_pages(pq_pipeline *p, test_dest *d, int first, int last)
{
    static uint8_t page[5000];
    for (int k = first; k < last; k++) {
        pq_page_parts *pp = pq_pipeline_parts(p);
        ck_assert_ptr_nonnull(pp);
        pq_buf_append(&pp->values, page, test_page(k, page));
        pq_page_header h = {.type = PQ_PAGE_DATA, .num_values = k, .encoding = PQ_ENC_PLAIN};
        pq_page_dest dest = {.chunk = &d[k % 3].chunk, .uncompressed = &d[k % 3].uncompressed,
                             .compressed = &d[k % 3].compressed, .pending = &d[k % 3].pending,
                             .owner = &d[k % 3]};
        ck_assert_int_eq(pq_pipeline_submit(p, &h, &dest, (int64_t)pp->values.len), PQ_PIPE_OK);
    }
    pq_pipeline_mark(p, false);
}

/* Every page of dest `which` is there, in order, decompressing to its bytes. */
static void check_chunk(const test_dest *d, int which, int pages)
{
    static uint8_t want[5000], got[5000];
    size_t at = 0;
    int64_t compressed = 0;
    for (int k = which; k < pages; k += 3) {
        pq_page_header h;
        size_t used;
        char err[128];
        ck_assert_msg(pq_page_header_read(d->chunk.data + at, d->chunk.len - at, &h, &used, err,
                                          sizeof err), "%s", err);
        ck_assert_int_eq(h.num_values, k);
        size_t len = test_page(k, want);
        ck_assert_int_eq(h.uncompressed_size, (int32_t)len);
        size_t n = ZSTD_decompress(got, sizeof got, d->chunk.data + at + used,
                                   (size_t)h.compressed_size);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(got, want, len) == 0);
        at += used + (size_t)h.compressed_size;
        compressed += (int64_t)used + h.compressed_size;
    }
    ck_assert_uint_eq(at, d->chunk.len);
    ck_assert_int_eq(d->compressed, compressed);
    ck_assert_int_eq(d->pending, 0);
}

START_TEST(pipeline_keeps_page_order_and_sizes_do_not_depend_on_threads)
{
    int64_t marks[2][12];
    for (int run = 0; run < 2; run++) {
        /* A tiny in-flight bound: the caller often waits, and helps. */
        pq_pipeline *p = pq_pipeline_new(PQ_CODEC_ZSTD, 3, run == 0 ? 0 : 3, 4096);
        ck_assert_ptr_nonnull(p);
        test_dest d[3] = {0};
        for (int batch = 0; batch < 12; batch++) {
            submit_pages(p, d, batch * 25, batch * 25 + 25);
            marks[run][batch] = pq_pipeline_before_mark(p) + pq_pipeline_since_mark(p);
        }
        ck_assert_int_eq(pq_pipeline_drain(p), PQ_PIPE_OK);
        for (int i = 0; i < 3; i++) {
            check_chunk(&d[i], i, 300);
            pq_buf_free(&d[i].chunk);
        }
        pq_pipeline_free(p);
    }
    for (int batch = 0; batch < 12; batch++)
        ck_assert_int_eq(marks[0][batch], marks[1][batch]);
}
END_TEST

START_TEST(pipeline_reports_a_codec_failure_and_never_hangs)
{
    for (int workers = 0; workers <= 2; workers += 2) {
        pq_pipeline *p = pq_pipeline_new(99, 0, workers, 1 << 20);   /* 99: no such codec */
        ck_assert_ptr_nonnull(p);
        test_dest d[3] = {0};
        static uint8_t page[5000];
        for (int k = 0; k < 3; k++) {
            pq_page_parts *pp = pq_pipeline_parts(p);
            if (pp == NULL)
                break;           /* inline: the first page failed at once */
            pq_buf_append(&pp->values, page, test_page(k, page));
            pq_page_header h = {.type = PQ_PAGE_DATA};
            pq_page_dest dest = {.chunk = &d[k].chunk, .uncompressed = &d[k].uncompressed,
                                 .compressed = &d[k].compressed, .pending = &d[k].pending,
                                 .owner = &d[k]};
            pq_pipeline_submit(p, &h, &dest, 10);
        }
        ck_assert_int_eq(pq_pipeline_drain(p), PQ_PIPE_CODEC);
        const void *owner = NULL;
        ck_assert_int_eq(pq_pipeline_error(p, &owner), PQ_PIPE_CODEC);
        ck_assert_ptr_eq(owner, &d[0]);
        ck_assert_ptr_null(pq_pipeline_parts(p));
        ck_assert_int_eq(pq_pipeline_before_mark(p), -1);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(d[i].pending, 0);
            ck_assert_uint_eq(d[i].chunk.len, 0);
        }
        pq_pipeline_free(p);
    }
}
END_TEST

START_TEST(pipeline_freed_with_pages_in_flight)
{
    pq_pipeline *p = pq_pipeline_new(PQ_CODEC_ZSTD, 19, 2, 64 << 20);  /* slow level */
    ck_assert_ptr_nonnull(p);
    test_dest d[3] = {0};
    submit_pages(p, d, 0, 9);
    pq_pipeline_free(p);         /* joins the workers, drops what was not assembled */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(d[i].pending, 0);
        pq_buf_free(&d[i].chunk);
    }
    ck_assert_int_eq(pq_pipeline_workers_for(1), 0);
    ck_assert_int_eq(pq_pipeline_workers_for(3), 2);
    ck_assert_int_eq(pq_pipeline_workers_for(1000), PQ_MAX_WORKERS);
    ck_assert_int_ge(pq_pipeline_workers_for(0), 0);
}
END_TEST

/* Batches of `rows` rows: an int64 id, a string that repeats (dictionary)
 * and one that does not (PLAIN), with nulls. */
typedef struct rows_fake {
    batch_fake b;
    column_fake id, tag, text;
    int64_t ids[1000];
    int32_t tag_off[1001], text_off[1001];
    char tag_data[8000], text_data[40000];
    uint8_t valid[125];
} rows_fake;

static void rows_init(rows_fake *r, int64_t first, int64_t rows)
{
    memset(r, 0, sizeof *r);
    size_t tag_at = 0, text_at = 0;
    for (int64_t i = 0; i < rows; i++) {
        int64_t v = first + i;
        r->ids[i] = v * 2654435761LL;
        tag_at += (size_t)snprintf(r->tag_data + tag_at, 8, "t%d", (int)(v % 7));
        text_at += (size_t)snprintf(r->text_data + text_at, 40, "row %lld of many",
                                    (long long)v);
        r->tag_off[i + 1] = (int32_t)tag_at;
        r->text_off[i + 1] = (int32_t)text_at;
        if (v % 11 != 0)
            r->valid[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    batch_init(&r->b, rows);
    column(&r->b, &r->id, "id", "l", true, rows, NULL, r->ids, NULL);
    column(&r->b, &r->tag, "tag", "u", true, rows, r->valid, r->tag_off, r->tag_data);
    column(&r->b, &r->text, "text", "u", true, rows, NULL, r->text_off, r->text_data);
}

static int sink_fail_after = -1;     /* writes accepted before the sink fails; -1: never */

static etl_status to_buf_or_fail(void *user, const void *data, size_t len)
{
    if (sink_fail_after == 0)
        return stub_set_error(NULL, ETL_ERR_IO, 0, "disk full (test)");
    if (sink_fail_after > 0)
        sink_fail_after--;
    return to_buf(user, data, len);
}

/* Writes `batches` batches of 1000 rows with `threads`; the bytes of the
 * file and bytes_written after each batch. Stops after the first error
 * (returned) and, unless `finish`, closes the writer without finishing. */
static etl_status write_rows_with(const char *threads, int batches, bool finish, pq_buf *out,
                                  int64_t *reported)
{
    const etl_format_vtable *vt = writer_vtable();
    const char *keys[] = {"threads", "page_size", "row_group_rows", "compression_level"};
    const char *values[] = {threads, "512", "2500", "1"};
    for (int i = 0; i < 4; i++) {
        option_keys[i] = keys[i];
        option_values[i] = values[i];
    }
    etl_byte_sink sink = {.struct_size = sizeof sink, .user = out, .name = "memory",
                          .write = to_buf_or_fail};
    void *w = NULL;
    ck_assert_int_eq(vt->writer_open(NULL, NULL, &sink, &w), ETL_OK);
    static rows_fake r;
    etl_status st = ETL_OK;
    for (int k = 0; k < batches && st == ETL_OK; k++) {
        rows_init(&r, (int64_t)k * 1000, 1000);
        st = vt->write(w, &r.b.batch);
        if (reported != NULL)
            reported[k] = vt->bytes_written(w);
    }
    if (st == ETL_OK && finish)
        st = vt->finish(w);
    vt->writer_close(w);
    return st;
}

START_TEST(writer_threads_make_the_same_file)
{
    pq_buf one = {0}, four = {0};
    int64_t rep_one[12], rep_four[12];
    sink_fail_after = -1;
    ck_assert_int_eq(write_rows_with("1", 12, true, &one, rep_one), ETL_OK);
    ck_assert_int_eq(write_rows_with("4", 12, true, &four, rep_four), ETL_OK);
    ck_assert_uint_eq(one.len, four.len);
    ck_assert(memcmp(one.data, four.data, one.len) == 0);
    for (int k = 0; k < 12; k++)
        ck_assert_int_eq(rep_one[k], rep_four[k]);   /* files would roll at the same rows */
    pq_file_meta m;
    char err[256];
    ck_assert_msg(pq_read_footer(four.data, four.len, &m, err, sizeof err), "%s", err);
    ck_assert_int_eq(m.num_rows, 12000);
    ck_assert_int_eq(m.n_row_groups, 5);
    /* Offsets come from the real compressed sizes: each chunk starts where
     * the previous one ended, and the data pages follow the dictionary. */
    int64_t at = 4;
    for (size_t g = 0; g < m.n_row_groups; g++)
        for (size_t c = 0; c < m.row_groups[g].n_columns; c++) {
            const pq_column_meta *cm = &m.row_groups[g].columns[c];
            int64_t start = cm->dictionary_page_offset >= 0 ? cm->dictionary_page_offset
                                                            : cm->data_page_offset;
            ck_assert_int_eq(start, at);
            at += cm->total_compressed_size;
        }
    pq_file_meta_free(&m);
    save("threads.parquet", &four);
    pq_buf_free(&one);
    pq_buf_free(&four);
}
END_TEST

START_TEST(writer_closed_without_finish_stops_its_workers)
{
    pq_buf out = {0};
    sink_fail_after = -1;
    ck_assert_int_eq(write_rows_with("3", 4, false, &out, NULL), ETL_OK);
    /* LeakSanitizer and the join in writer_close do the checking. */
    ck_assert(out.len < 8 || memcmp(out.data + out.len - 4, "PAR1", 4) != 0);
    pq_buf_free(&out);
}
END_TEST

START_TEST(writer_reports_a_failing_sink)
{
    pq_buf out = {0};
    sink_fail_after = 3;         /* PAR1, then two column chunks */
    ck_assert_int_eq(write_rows_with("3", 8, true, &out, NULL), ETL_ERR_IO);
    ck_assert_str_eq(last_error, "disk full (test)");
    sink_fail_after = -1;
    pq_buf_free(&out);
}
END_TEST

static Suite *levels_suite(void)
{
    Suite *s = suite_create("parquet_levels");
    TCase *t = tcase_create("core");
    tcase_add_test(t, flat_optional_column);
    tcase_add_test(t, required_column_with_a_null_is_reported);
    tcase_add_test(t, list_of_int64);
    tcase_add_test(t, list_of_struct_with_inner_list);
    tcase_add_test(t, nested_structs_and_offsets);
    tcase_add_test(t, backfill_follows_the_template);
    suite_add_tcase(s, t);
    TCase *w = tcase_create("writer");
    tcase_add_test(w, writer_special_values);
    tcase_add_test(w, writer_zero_rows_keeps_the_schema);
    tcase_add_test(w, writer_refuses_a_new_column_after_a_row_group);
    suite_add_tcase(s, w);
    TCase *pp = tcase_create("threads");
    tcase_set_timeout(pp, 60);
    tcase_add_test(pp, pipeline_keeps_page_order_and_sizes_do_not_depend_on_threads);
    tcase_add_test(pp, pipeline_reports_a_codec_failure_and_never_hangs);
    tcase_add_test(pp, pipeline_freed_with_pages_in_flight);
    tcase_add_test(pp, writer_threads_make_the_same_file);
    tcase_add_test(pp, writer_closed_without_finish_stops_its_workers);
    tcase_add_test(pp, writer_reports_a_failing_sink);
    suite_add_tcase(s, pp);
    return s;
}

int main(void)
{
    return run_suite_as_tap(levels_suite());
}
