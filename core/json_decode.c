#include "json_decode.h"

#include "builder.h"
#include "context.h"
#include "json_tokenizer.h"

/* One decode: the builder and the tokenizer it reads from. */
typedef struct decoder {
    etl_builder *b;
    jt_tokenizer t;
} decoder;

static etl_status syntax_error(decoder *d)
{
    char message[256];
    jt_format_error(&d->t, message, sizeof message);
    etl_status status = d->t.error.kind == JT_ERR_NOMEM ? ETL_ERR_NOMEM : ETL_ERR_DATA;
    return ctx_set_error(builder_ctx(d->b), status, 0, "%s", message);
}

/* builder_field and builder_list_item return -1 after setting the error. */
static etl_status column_error(decoder *d)
{
    etl_status status = ctx_error_status(builder_ctx(d->b));
    return ETL_STATUS_IS_FAILURE(status) ? status : ETL_ERR_DATA;
}

static etl_status decode_value(decoder *d, int32_t col, jt_token tok);

/* Members up to the closing '}', as fields under `parent`. */
static etl_status decode_members(decoder *d, int32_t parent)
{
    for (;;) {
        jt_token tok = jt_next(&d->t);
        if (tok == JT_OBJECT_END)
            return ETL_OK;
        if (tok != JT_KEY)
            return syntax_error(d);
        int32_t field = builder_field(d->b, parent, d->t.str, d->t.len);
        if (field < 0)
            return column_error(d);
        etl_status st = decode_value(d, field, jt_next(&d->t));
        if (st != ETL_OK)
            return st;
    }
}

static etl_status decode_object(decoder *d, int32_t col)
{
    etl_status st = builder_begin_struct(d->b, col);
    if (st == ETL_OK)
        st = decode_members(d, col);
    if (st == ETL_OK)
        st = builder_end_struct(d->b, col);
    return st;
}

static etl_status decode_array(decoder *d, int32_t col)
{
    etl_status st = builder_begin_list(d->b, col);
    if (st != ETL_OK)
        return st;
    /* Asked even for an empty list, so that the list column has its item
     * column from the start. */
    int32_t item = builder_list_item(d->b, col);
    if (item < 0)
        return column_error(d);
    for (;;) {
        jt_token tok = jt_next(&d->t);
        if (tok == JT_ARRAY_END)
            return builder_end_list(d->b, col);
        st = decode_value(d, item, tok);
        if (st != ETL_OK)
            return st;
    }
}

static etl_status decode_value(decoder *d, int32_t col, jt_token tok)
{
    switch (tok) {
    case JT_OBJECT_BEGIN:
        return decode_object(d, col);
    case JT_ARRAY_BEGIN:
        return decode_array(d, col);
    case JT_STRING:
        return builder_append_string(d->b, col, d->t.str, d->t.len);
    case JT_INT:
        return builder_append_int64(d->b, col, d->t.i);
    case JT_DOUBLE:
    case JT_BIG_NUMBER:
        return builder_append_double(d->b, col, d->t.d);
    case JT_TRUE:
        return builder_append_bool(d->b, col, true);
    case JT_FALSE:
        return builder_append_bool(d->b, col, false);
    case JT_NULL:
        return builder_append_null(d->b, col);
    default:
        /* JT_ERROR; the tokenizer yields no other token where a value goes. */
        return syntax_error(d);
    }
}

/* After the value: nothing but whitespace. */
static etl_status expect_end(decoder *d)
{
    return jt_next(&d->t) == JT_END ? ETL_OK : syntax_error(d);
}

static const char *not_an_object(jt_token tok)
{
    switch (tok) {
    case JT_ARRAY_BEGIN: return "a record must be a JSON object, not an array";
    case JT_STRING: return "a record must be a JSON object, not a string";
    case JT_NULL: return "a record must be a JSON object, not null";
    case JT_TRUE: case JT_FALSE: return "a record must be a JSON object, not a boolean";
    default: return "a record must be a JSON object, not a number";
    }
}

static etl_status decode_record_body(decoder *d)
{
    jt_token tok = jt_next(&d->t);
    if (tok != JT_OBJECT_BEGIN && tok != JT_ERROR)
        jt_reject_token(&d->t, not_an_object(tok));
    if (tok != JT_OBJECT_BEGIN)
        return syntax_error(d);
    etl_status st = decode_members(d, ETL_ROOT);
    return st == ETL_OK ? expect_end(d) : st;
}

etl_status json_decode_record(etl_builder *b, const char *json, size_t len)
{
    decoder d;
    d.b = b;
    etl_status st = builder_begin_record(b);
    if (st != ETL_OK)
        return st;
    jt_init(&d.t);
    jt_reset(&d.t, json, len);
    st = decode_record_body(&d);
    jt_free(&d.t);
    if (st != ETL_OK) {
        builder_cancel_record(b);
        return st;
    }
    return builder_end_record(b);
}

etl_status json_decode_value(etl_builder *b, int32_t col, const char *json, size_t len)
{
    decoder d;
    d.b = b;
    jt_init(&d.t);
    jt_reset(&d.t, json, len);
    etl_status st = decode_value(&d, col, jt_next(&d.t));
    if (st == ETL_OK)
        st = expect_end(&d);
    jt_free(&d.t);
    if (st != ETL_OK)
        builder_cancel_record(b);
    return st;
}
