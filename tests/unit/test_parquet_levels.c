/* Definition and repetition levels computed from hand-built Arrow arrays,
 * checked against the Dremel encoding worked out by hand, and the levels of
 * columns added after rows were written (back-fill). Then the writer itself
 * through a stub host: special values, zero rows, a refused schema change.
 * With PQ_TEST_OUT=DIR it leaves special.parquet and empty.parquet there
 * for tests/integration/parquet.sh to read with DuckDB. */
#include "levels.h"
#include "parquet_internal.h"
#include "parquet_reader.h"

#include "tap_runner.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
    return s;
}

int main(void)
{
    return run_suite_as_tap(levels_suite());
}
