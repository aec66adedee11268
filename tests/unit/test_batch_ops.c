/* Batch operations: select (paths, renames, parent nulls), filter on nested
 * data, add_columns, flatten, errors, and buffer sharing lifetimes. */
#include "batch.h"
#include "batch_internal.h"
#include "builder.h"
#include "context.h"
#include "tap_runner.h"

#include <string.h>

static etl_ctx *ctx;

static void setup(void)
{
    ctx = ctx_new("test batch", NULL);
}

static void teardown(void)
{
    ctx_free(ctx);
}

static const struct ArrowArray *col(const etl_batch *batch, const char *name)
{
    int32_t i = batch_column_index(batch, name);
    ck_assert_msg(i >= 0, "no column %s", name);
    return batch->array->children[i];
}

static const struct ArrowSchema *sch(const etl_batch *batch, const char *name)
{
    int32_t i = batch_column_index(batch, name);
    ck_assert_msg(i >= 0, "no column %s", name);
    return batch->schema->children[i];
}

static void assert_str(const struct ArrowArray *a, int64_t i, const char *want)
{
    size_t len;
    const char *p = etl_arrow_bytes(a, i, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(p, want, len) == 0);
}

static const int32_t *offs(const struct ArrowArray *a)
{
    return (const int32_t *)a->buffers[1];
}

static void S(etl_builder *b, int32_t c, const char *s)
{
    ck_assert_int_eq(builder_append_string(b, c, s, strlen(s)), ETL_OK);
}

/* id | brand {name, geo {lat}} | tags [string] | items [{k}] | price decimal | ok bool
 *  1 | {a, {1.5}}              | [x, y]        | [{1},{2}]   | 1.25          | true
 *  2 | null                    | []            | null        | null          | false
 *  3 | {c, null}               | null          | [{3}]       | -3.50         | null    */
static etl_batch *sample(void)
{
    etl_builder *b = builder_new(ctx);
    int32_t id = builder_field(b, ETL_ROOT, "id", 2), brand = builder_field(b, ETL_ROOT, "brand", 5),
            tags = builder_field(b, ETL_ROOT, "tags", 4), items = builder_field(b, ETL_ROOT, "items", 5),
            price = builder_declare(b, ETL_ROOT, "price", ETL_TYPE_DECIMAL, 9, 2),
            ok = builder_field(b, ETL_ROOT, "ok", 2);
    int32_t name = builder_field(b, brand, "name", 4), geo = builder_field(b, brand, "geo", 3);
    int32_t lat = builder_field(b, geo, "lat", 3), tag = builder_list_item(b, tags);
    int32_t item = builder_list_item(b, items);
    int32_t k = builder_field(b, item, "k", 1);

    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 1), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, brand), ETL_OK);
    S(b, name, "a");
    ck_assert_int_eq(builder_begin_struct(b, geo), ETL_OK);
    ck_assert_int_eq(builder_append_double(b, lat, 1.5), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, geo), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, tags), ETL_OK);
    S(b, tag, "x");
    S(b, tag, "y");
    ck_assert_int_eq(builder_end_list(b, tags), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    for (int v = 1; v <= 2; v++) {
        ck_assert_int_eq(builder_begin_struct(b, item), ETL_OK);
        ck_assert_int_eq(builder_append_int64(b, k, v), ETL_OK);
        ck_assert_int_eq(builder_end_struct(b, item), ETL_OK);
    }
    ck_assert_int_eq(builder_end_list(b, items), ETL_OK);
    S(b, price, "1.25");
    ck_assert_int_eq(builder_append_bool(b, ok, true), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);

    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 2), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, brand), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, tags), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, tags), ETL_OK);
    ck_assert_int_eq(builder_append_bool(b, ok, false), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);

    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 3), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, brand), ETL_OK);
    S(b, name, "c");
    ck_assert_int_eq(builder_append_null(b, geo), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, item), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, k, 3), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, item), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, items), ETL_OK);
    S(b, price, "-3.5");
    ck_assert_int_eq(builder_end_record(b), ETL_OK);

    etl_batch *out = NULL;
    ck_assert_int_eq(builder_finish(b, &out), ETL_OK);
    builder_free(b);
    return out;
}

/* A struct column "p" whose children are valid where "p" itself is null
 * (legal Arrow, which the builder never produces):
 *   p validity 1 0 1; p.v int64 10 20 30 (no bitmap); p.w validity 0 1 1. */
static etl_batch *hand_made(void)
{
    etl_batch *batch = batch_alloc(3, 1);
    ck_assert_ptr_nonnull(batch);
    struct ArrowSchema *ps = batch->schema->children[0];
    struct ArrowArray *pa = batch->array->children[0];
    ck_assert_int_eq(arrow_schema_init(ps, "+s", "p", ARROW_FLAG_NULLABLE, 2), ETL_OK);
    ck_assert_int_eq(arrow_schema_init(ps->children[0], "l", "v", ARROW_FLAG_NULLABLE, 0), ETL_OK);
    ck_assert_int_eq(arrow_schema_init(ps->children[1], "l", "w", ARROW_FLAG_NULLABLE, 0), ETL_OK);
    ck_assert_int_eq(arrow_array_init(pa, 3, 1, 1, 2), ETL_OK);
    uint8_t *pv = rbuf_alloc(1);
    pv[0] = 0x5;
    rbuf_set_size(pv, 1);
    pa->buffers[0] = pv;
    for (int c = 0; c < 2; c++) {
        struct ArrowArray *ch = pa->children[c];
        ck_assert_int_eq(arrow_array_init(ch, 3, c, 2, 0), ETL_OK);
        int64_t *vals = rbuf_alloc(24);
        for (int i = 0; i < 3; i++)
            vals[i] = 10 * (i + 1) + c;
        rbuf_set_size(vals, 24);
        ch->buffers[1] = vals;
        if (c == 1) {
            uint8_t *wv = rbuf_alloc(1);
            wv[0] = 0x6;
            rbuf_set_size(wv, 1);
            ch->buffers[0] = wv;
        }
    }
    batch_update_bytes(batch);
    return batch;
}

START_TEST(column_index_and_empty)
{
    etl_batch *in = sample();
    ck_assert_int_eq(batch_column_index(in, "id"), 0);
    ck_assert_int_eq(batch_column_index(in, "ok"), 5);
    ck_assert_int_eq(batch_column_index(in, "brand.name"), -1);
    ck_assert_int_eq(batch_column_index(in, "nope"), -1);
    batch_release(in);
    etl_batch *empty = NULL;
    ck_assert_int_eq(batch_new_empty(&empty), ETL_OK);
    ck_assert_int_eq(empty->num_rows, 0);
    ck_assert_int_eq(empty->schema->n_children, 0);
    ck_assert_str_eq(empty->schema->format, "+s");
    ck_assert_int_eq(empty->array->n_buffers, 1);
    ck_assert_uint_eq(empty->struct_size, sizeof(etl_batch));
    batch_release(empty);
}
END_TEST

START_TEST(select_paths_and_renames)
{
    etl_batch *in = sample();
    const char *paths[] = {"brand.name", "id", "brand.geo.lat", "tags"};
    const char *names[] = {"brand", NULL, "lat", NULL};
    etl_batch *out = NULL;
    ck_assert_int_eq(batch_select(ctx, in, paths, names, 4, &out), ETL_OK);
    ck_assert_int_eq(out->num_rows, 3);
    ck_assert_int_eq(out->schema->n_children, 4);
    ck_assert_str_eq(out->schema->children[0]->name, "brand");
    ck_assert_str_eq(out->schema->children[1]->name, "id");
    ck_assert_str_eq(out->schema->children[2]->name, "lat");
    ck_assert_str_eq(out->schema->children[3]->name, "tags");
    ck_assert_str_eq(out->schema->children[3]->children[0]->name, "item");
    /* zero-copy: the data buffers are the input's */
    const struct ArrowArray *in_name = col(in, "brand")->children[0];
    ck_assert_ptr_eq(col(out, "brand")->buffers[2], in_name->buffers[2]);
    ck_assert_ptr_eq(col(out, "id")->buffers[1], col(in, "id")->buffers[1]);
    ck_assert_ptr_eq(col(out, "tags")->children[0]->buffers[2],
                     col(in, "tags")->children[0]->buffers[2]);
    assert_str(col(out, "brand"), 0, "a");
    ck_assert(!etl_arrow_is_valid(col(out, "brand"), 1));
    assert_str(col(out, "brand"), 2, "c");
    const struct ArrowArray *lat = col(out, "lat");
    ck_assert_int_eq(lat->null_count, 2);
    ck_assert(etl_arrow_is_valid(lat, 0) && !etl_arrow_is_valid(lat, 1) &&
              !etl_arrow_is_valid(lat, 2));
    ck_assert(etl_arrow_double(lat, 0) == 1.5);
    int64_t bytes = out->approx_bytes;
    ck_assert_int_gt(bytes, 0);
    batch_update_bytes(out);
    ck_assert_int_eq(out->approx_bytes, bytes);
    /* names NULL altogether: last path part */
    etl_batch *out2 = NULL;
    ck_assert_int_eq(batch_select(ctx, in, paths, NULL, 2, &out2), ETL_OK);
    ck_assert_str_eq(out2->schema->children[0]->name, "name");
    /* the input goes first: the outputs keep their buffers alive */
    batch_release(in);
    assert_str(col(out, "brand"), 2, "c");
    assert_str(col(out, "tags")->children[0], 1, "y");
    assert_str(col(out2, "name"), 0, "a");
    batch_release(out);
    batch_release(out2);
}
END_TEST

START_TEST(select_parent_nulls_propagate)
{
    etl_batch *in = hand_made();
    const char *paths[] = {"p.v", "p.w", "p"};
    etl_batch *out = NULL;
    ck_assert_int_eq(batch_select(ctx, in, paths, NULL, 3, &out), ETL_OK);
    const struct ArrowArray *v = out->array->children[0], *w = out->array->children[1];
    ck_assert_str_eq(out->schema->children[0]->name, "v");
    ck_assert_int_eq(v->null_count, 1);
    ck_assert(etl_arrow_is_valid(v, 0) && !etl_arrow_is_valid(v, 1) && etl_arrow_is_valid(v, 2));
    ck_assert_int_eq(etl_arrow_int64(v, 2), 30);
    ck_assert_ptr_eq(v->buffers[1], in->array->children[0]->children[0]->buffers[1]);
    /* the child had no bitmap: the parent's is shared, not copied */
    ck_assert_ptr_eq(v->buffers[0], in->array->children[0]->buffers[0]);
    ck_assert_int_eq(w->null_count, 2);
    ck_assert(!etl_arrow_is_valid(w, 0) && !etl_arrow_is_valid(w, 1) && etl_arrow_is_valid(w, 2));
    ck_assert_int_eq(etl_arrow_int64(w, 2), 31);
    ck_assert_int_eq(out->array->children[2]->n_children, 2);
    batch_release(in);
    ck_assert_int_eq(etl_arrow_int64(w, 2), 31);
    batch_release(out);
}
END_TEST

START_TEST(select_unknown_column)
{
    etl_batch *in = sample();
    const char *paths[] = {"id", "x"};
    etl_batch *out = (etl_batch *)1;
    ck_assert_int_eq(batch_select(ctx, in, paths, NULL, 2, &out), ETL_ERR_CONFIG);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(ctx_error_message(ctx),
                     "no column 'x' in the batch (columns: id, brand, tags, items, price, ok)");
    const char *deep[] = {"brand.nam"};
    ck_assert_int_eq(batch_select(ctx, in, deep, NULL, 1, &out), ETL_ERR_CONFIG);
    ck_assert(strstr(ctx_error_message(ctx), "'brand.nam'") != NULL);
    const char *through_list[] = {"tags.item"};
    ck_assert_int_eq(batch_select(ctx, in, through_list, NULL, 1, &out), ETL_ERR_CONFIG);
    batch_release(in);
}
END_TEST

START_TEST(select_dotted_names)
{
    etl_batch *in = sample(), *flat = NULL, *out = NULL;
    ck_assert_int_eq(batch_flatten(ctx, in, ".", &flat), ETL_OK);
    const char *paths[] = {"brand.geo.lat"};
    ck_assert_int_eq(batch_select(ctx, flat, paths, NULL, 1, &out), ETL_OK);
    ck_assert_str_eq(out->schema->children[0]->name, "brand.geo.lat");
    ck_assert(etl_arrow_double(out->array->children[0], 0) == 1.5);
    batch_release(in);
    batch_release(flat);
    batch_release(out);
}
END_TEST

START_TEST(filter_nested)
{
    etl_batch *in = sample(), *out = NULL;
    uint8_t keep[] = {1, 0, 7};
    ck_assert_int_eq(batch_filter(ctx, in, keep, &out), ETL_OK);
    batch_release(in);
    ck_assert_int_eq(out->num_rows, 2);
    ck_assert_int_eq(out->array->length, 2);
    ck_assert_int_eq(out->schema->n_children, 6);
    ck_assert_int_eq(etl_arrow_int64(col(out, "id"), 0), 1);
    ck_assert_int_eq(etl_arrow_int64(col(out, "id"), 1), 3);
    const struct ArrowArray *brand = col(out, "brand");
    ck_assert_int_eq(brand->null_count, 0);
    assert_str(brand->children[0], 0, "a");
    assert_str(brand->children[0], 1, "c");
    const struct ArrowArray *geo = brand->children[1];
    ck_assert_int_eq(geo->null_count, 1);
    ck_assert(!etl_arrow_is_valid(geo, 1));
    ck_assert(etl_arrow_double(geo->children[0], 0) == 1.5);
    const struct ArrowArray *tags = col(out, "tags");
    ck_assert_int_eq(offs(tags)[0], 0);
    ck_assert_int_eq(offs(tags)[1], 2);
    ck_assert_int_eq(offs(tags)[2], 2);
    ck_assert(!etl_arrow_is_valid(tags, 1));
    ck_assert_int_eq(tags->children[0]->length, 2);
    assert_str(tags->children[0], 1, "y");
    const struct ArrowArray *items = col(out, "items");
    ck_assert_int_eq(offs(items)[2], 3);
    ck_assert_int_eq(items->children[0]->length, 3);
    ck_assert_int_eq(etl_arrow_int64(items->children[0]->children[0], 2), 3);
    uint64_t lo;
    int64_t hi;
    etl_arrow_decimal128(col(out, "price"), 1, &lo, &hi);
    ck_assert_int_eq((int64_t)lo, -350);
    ck_assert_int_eq(hi, -1);
    ck_assert_str_eq(sch(out, "price")->format, "d:9,2");
    const struct ArrowArray *ok = col(out, "ok");
    ck_assert(etl_arrow_bool(ok, 0));
    ck_assert(!etl_arrow_is_valid(ok, 1));
    ck_assert_int_eq(ok->null_count, 1);
    ck_assert_int_gt(out->approx_bytes, 0);
    batch_release(out);
}
END_TEST

START_TEST(filter_none_and_all)
{
    etl_batch *in = sample(), *none = NULL, *all = NULL;
    uint8_t zero[3] = {0}, ones[3] = {1, 1, 1};
    ck_assert_int_eq(batch_filter(ctx, in, zero, &none), ETL_OK);
    ck_assert_int_eq(none->num_rows, 0);
    ck_assert_int_eq(col(none, "tags")->length, 0);
    ck_assert_int_eq(offs(col(none, "tags"))[0], 0);
    ck_assert_int_eq(col(none, "tags")->children[0]->length, 0);
    ck_assert_int_eq(batch_filter(ctx, in, ones, &all), ETL_OK);
    ck_assert_int_eq(all->num_rows, 3);
    ck_assert_ptr_eq(col(all, "id")->buffers[1], col(in, "id")->buffers[1]);
    batch_release(in);
    ck_assert_int_eq(etl_arrow_int64(col(all, "id"), 2), 3);
    batch_release(none);
    batch_release(all);
}
END_TEST

START_TEST(filter_hand_made_struct)
{
    etl_batch *in = hand_made(), *out = NULL;
    uint8_t keep[] = {0, 1, 1};
    ck_assert_int_eq(batch_filter(ctx, in, keep, &out), ETL_OK);
    const struct ArrowArray *p = out->array->children[0];
    ck_assert_int_eq(p->length, 2);
    ck_assert_int_eq(p->null_count, 1);
    ck_assert(!etl_arrow_is_valid(p, 0) && etl_arrow_is_valid(p, 1));
    ck_assert_ptr_null(p->children[0]->buffers[0]);
    ck_assert_int_eq(etl_arrow_int64(p->children[0], 0), 20);
    ck_assert_ptr_null(p->children[1]->buffers[0]);     /* no nulls left: no bitmap */
    ck_assert_int_eq(p->children[1]->null_count, 0);
    batch_release(in);
    batch_release(out);
}
END_TEST

START_TEST(add_columns_replace_and_append)
{
    etl_batch *in = sample(), *extra = NULL, *out = NULL;
    etl_builder *b = builder_new(ctx);
    int32_t id = builder_field(b, ETL_ROOT, "id", 2), dt = builder_field(b, ETL_ROOT, "dt", 2);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_string(b, id, "s", 1), ETL_OK);
        ck_assert_int_eq(builder_append_date(b, dt, r), ETL_OK);
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    ck_assert_int_eq(builder_finish(b, &extra), ETL_OK);
    ck_assert_int_eq(batch_add_columns(ctx, in, extra, &out), ETL_OK);
    ck_assert_int_eq(out->schema->n_children, 7);
    ck_assert_str_eq(out->schema->children[0]->name, "id");
    ck_assert_str_eq(out->schema->children[0]->format, "u");   /* replaced in place */
    ck_assert_str_eq(out->schema->children[1]->name, "brand");
    ck_assert_str_eq(out->schema->children[6]->name, "dt");
    ck_assert_str_eq(out->schema->children[6]->format, "tdD");
    ck_assert_int_eq(etl_arrow_int32(col(out, "dt"), 2), 2);
    ck_assert_ptr_eq(col(out, "brand")->children[0]->buffers[2],
                     col(in, "brand")->children[0]->buffers[2]);
    batch_release(in);
    batch_release(extra);
    assert_str(col(out, "id"), 1, "s");
    assert_str(col(out, "brand")->children[0], 0, "a");
    batch_release(out);

    /* a row count mismatch is the transform's bug: permanent */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_date(b, dt, 1), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_finish(b, &extra), ETL_OK);
    in = sample();
    out = (etl_batch *)1;
    ck_assert_int_eq(batch_add_columns(ctx, in, extra, &out), ETL_ERR_PERMANENT);
    ck_assert_ptr_null(out);
    ck_assert(strstr(ctx_error_message(ctx), "1 rows") != NULL);
    batch_release(in);
    batch_release(extra);
    builder_free(b);
}
END_TEST

START_TEST(flatten_structs)
{
    etl_batch *in = sample(), *out = NULL;
    ck_assert_int_eq(batch_flatten(ctx, in, "_", &out), ETL_OK);
    const char *want[] = {"id", "brand_name", "brand_geo_lat", "tags", "items", "price", "ok"};
    ck_assert_int_eq(out->schema->n_children, 7);
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(out->schema->children[i]->name, want[i]);
    ck_assert_str_eq(sch(out, "items")->format, "+l");          /* lists kept */
    ck_assert_str_eq(sch(out, "items")->children[0]->format, "+s");
    const struct ArrowArray *name = col(out, "brand_name"), *lat = col(out, "brand_geo_lat");
    ck_assert_int_eq(name->null_count, 1);
    ck_assert(!etl_arrow_is_valid(name, 1));
    ck_assert_int_eq(lat->null_count, 2);
    ck_assert_ptr_eq(name->buffers[2], col(in, "brand")->children[0]->buffers[2]);
    batch_release(in);
    assert_str(name, 2, "c");
    ck_assert(etl_arrow_double(lat, 0) == 1.5);
    batch_release(out);

    in = hand_made();
    ck_assert_int_eq(batch_flatten(ctx, in, NULL, &out), ETL_OK);
    ck_assert_str_eq(out->schema->children[0]->name, "p.v");
    ck_assert_str_eq(out->schema->children[1]->name, "p.w");
    ck_assert_int_eq(out->array->children[0]->null_count, 1);
    ck_assert_int_eq(out->array->children[1]->null_count, 2);
    ck_assert(!etl_arrow_is_valid(out->array->children[0], 1));
    batch_release(out);
    batch_release(in);
}
END_TEST

START_TEST(chained_sharing)
{
    /* select of a flatten of a filter, released input-first */
    etl_batch *in = sample(), *f = NULL, *fl = NULL, *sel = NULL;
    uint8_t keep[] = {1, 1, 0};
    ck_assert_int_eq(batch_filter(ctx, in, keep, &f), ETL_OK);
    batch_release(in);
    ck_assert_int_eq(batch_flatten(ctx, f, "/", &fl), ETL_OK);
    batch_release(f);
    const char *paths[] = {"brand/name", "tags"};
    ck_assert_int_eq(batch_select(ctx, fl, paths, NULL, 2, &sel), ETL_OK);
    batch_release(fl);
    ck_assert_int_eq(sel->num_rows, 2);
    assert_str(sel->array->children[0], 0, "a");
    ck_assert(!etl_arrow_is_valid(sel->array->children[0], 1));
    ck_assert_int_eq(offs(sel->array->children[1])[2], 2);
    batch_release(sel);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_ops");
    TCase *tc = tcase_create("batch_ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, column_index_and_empty);
    tcase_add_test(tc, select_paths_and_renames);
    tcase_add_test(tc, select_parent_nulls_propagate);
    tcase_add_test(tc, select_unknown_column);
    tcase_add_test(tc, select_dotted_names);
    tcase_add_test(tc, filter_nested);
    tcase_add_test(tc, filter_none_and_all);
    tcase_add_test(tc, filter_hand_made_struct);
    tcase_add_test(tc, add_columns_replace_and_append);
    tcase_add_test(tc, flatten_structs);
    tcase_add_test(tc, chained_sharing);
    suite_add_tcase(s, tc);
    return run_suite_as_tap(s);
}
