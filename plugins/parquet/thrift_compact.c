/* Thrift compact protocol encoder and decoder (see thrift_compact.h). */
#include "thrift_compact.h"

/* ---- encoder -------------------------------------------------------- */

uint64_t tc_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

int64_t tc_unzigzag64(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void tc_writer_init(tc_writer *w, pq_buf *out)
{
    *w = (tc_writer){.out = out};
}

/* Short form (delta in the high nibble) when the id grows by 1..15, else
 * the type byte and the id as a zigzag varint. */
static void field_header(tc_writer *w, int16_t id, uint8_t type)
{
    int delta = id - w->last_id[w->depth];
    if (delta > 0 && delta <= 15) {
        pq_buf_byte(w->out, (uint8_t)(delta << 4 | type));
    } else {
        pq_buf_byte(w->out, type);
        pq_buf_varint(w->out, tc_zigzag64(id));
    }
    w->last_id[w->depth] = id;
}

static void push(tc_writer *w)
{
    if (w->depth + 1 >= TC_MAX_DEPTH) {
        w->overflow = true;
        w->out->failed = true;
        return;
    }
    w->last_id[++w->depth] = 0;
}

void tc_field_i32(tc_writer *w, int16_t id, int32_t v)
{
    field_header(w, id, TC_I32);
    pq_buf_varint(w->out, tc_zigzag64(v));
}

void tc_field_i64(tc_writer *w, int16_t id, int64_t v)
{
    field_header(w, id, TC_I64);
    pq_buf_varint(w->out, tc_zigzag64(v));
}

void tc_field_bool(tc_writer *w, int16_t id, bool v)
{
    field_header(w, id, v ? TC_BOOL_TRUE : TC_BOOL_FALSE);
}

void tc_field_double(tc_writer *w, int16_t id, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    field_header(w, id, TC_DOUBLE);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(bits >> (8 * i));
    pq_buf_append(w->out, le, 8);
}

void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t len)
{
    field_header(w, id, TC_BINARY);
    pq_buf_varint(w->out, len);
    pq_buf_append(w->out, p, len);
}

void tc_field_string(tc_writer *w, int16_t id, const char *s)
{
    tc_field_binary(w, id, s, strlen(s));
}

void tc_field_struct(tc_writer *w, int16_t id)
{
    field_header(w, id, TC_STRUCT);
    push(w);
}

void tc_field_list(tc_writer *w, int16_t id, uint8_t elem_type, size_t size)
{
    field_header(w, id, TC_LIST);
    if (size <= 14) {
        pq_buf_byte(w->out, (uint8_t)(size << 4 | elem_type));
    } else {
        pq_buf_byte(w->out, (uint8_t)(0xF0 | elem_type));
        pq_buf_varint(w->out, size);
    }
}

void tc_list_struct(tc_writer *w)
{
    push(w);
}

void tc_list_i32(tc_writer *w, int32_t v)
{
    pq_buf_varint(w->out, tc_zigzag64(v));
}

void tc_list_binary(tc_writer *w, const void *p, size_t len)
{
    pq_buf_varint(w->out, len);
    pq_buf_append(w->out, p, len);
}

void tc_struct_end(tc_writer *w)
{
    pq_buf_byte(w->out, TC_STOP);
    if (w->depth > 0)
        w->depth--;
}

void tc_message_end(tc_writer *w)
{
    pq_buf_byte(w->out, TC_STOP);
}

/* ---- decoder -------------------------------------------------------- */

void tc_reader_init(tc_reader *r, const void *data, size_t len)
{
    *r = (tc_reader){.p = data, .end = (const uint8_t *)data + len};
}

void tc_fail(tc_reader *r, const char *why)
{
    if (!r->error)
        r->why = why;
    r->error = true;
    r->p = r->end;
}

static uint8_t read_byte(tc_reader *r)
{
    if (r->p >= r->end) {
        tc_fail(r, "truncated Thrift data");
        return 0;
    }
    return *r->p++;
}

static uint64_t read_varint(tc_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = read_byte(r);
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    tc_fail(r, "varint longer than 10 bytes");
    return 0;
}

bool tc_next_field(tc_reader *r, int16_t *id, uint8_t *type)
{
    uint8_t b = read_byte(r);
    if (r->error || b == TC_STOP)
        return false;
    *type = b & 0x0F;
    uint8_t delta = b >> 4;
    if (delta != 0) {
        *id = (int16_t)(r->last_id[r->depth] + delta);
    } else {
        int64_t v = tc_unzigzag64(read_varint(r));
        if (v < INT16_MIN || v > INT16_MAX)
            tc_fail(r, "field id out of range");
        *id = (int16_t)v;
    }
    r->last_id[r->depth] = *id;
    return !r->error;
}

int32_t tc_read_i32(tc_reader *r)
{
    int64_t v = tc_unzigzag64(read_varint(r));
    if (v < INT32_MIN || v > INT32_MAX) {
        tc_fail(r, "i32 out of range");
        return 0;
    }
    return (int32_t)v;
}

int64_t tc_read_i64(tc_reader *r)
{
    return tc_unzigzag64(read_varint(r));
}

double tc_read_double(tc_reader *r)
{
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)read_byte(r) << (8 * i);
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

bool tc_read_bool(tc_reader *r, uint8_t type)
{
    (void)r;
    return type == TC_BOOL_TRUE;
}

const uint8_t *tc_read_binary(tc_reader *r, size_t *len)
{
    uint64_t n = read_varint(r);
    if (r->error || n > (uint64_t)(r->end - r->p)) {
        tc_fail(r, "binary longer than the data left");
        *len = 0;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    *len = (size_t)n;
    return p;
}

bool tc_read_list(tc_reader *r, uint8_t *elem_type, size_t *size)
{
    uint8_t b = read_byte(r);
    *elem_type = b & 0x0F;
    uint64_t n = b >> 4;
    if (n == 15)
        n = read_varint(r);
    /* Every element takes at least one byte, except bools in some writers'
     * lists; bounding by the bytes left stops absurd sizes either way. */
    if (!r->error && n > (uint64_t)(r->end - r->p))
        tc_fail(r, "list longer than the data left");
    *size = r->error ? 0 : (size_t)n;
    return !r->error;
}

void tc_struct_begin(tc_reader *r)
{
    if (r->depth + 1 >= TC_MAX_DEPTH) {
        tc_fail(r, "structs nested too deep");
        return;
    }
    r->last_id[++r->depth] = 0;
}

void tc_struct_end_read(tc_reader *r)
{
    if (r->depth > 0)
        r->depth--;
}

static void skip_struct(tc_reader *r)
{
    tc_struct_begin(r);
    int16_t id;
    uint8_t type;
    while (tc_next_field(r, &id, &type))
        tc_skip(r, type);
    tc_struct_end_read(r);
}

/* Lists and maps nest too: bound the recursion like structs. */
static bool enter(tc_reader *r)
{
    if (r->depth + 1 >= TC_MAX_DEPTH) {
        tc_fail(r, "values nested too deep");
        return false;
    }
    r->depth++;
    return true;
}

void tc_skip(tc_reader *r, uint8_t type)
{
    size_t len, n;
    uint8_t et, kt;
    switch (type) {
    case TC_BOOL_TRUE: case TC_BOOL_FALSE:
        break;
    case TC_I8:
        read_byte(r);
        break;
    case TC_I16: case TC_I32: case TC_I64:
        read_varint(r);
        break;
    case TC_DOUBLE:
        tc_read_double(r);
        break;
    case TC_BINARY:
        tc_read_binary(r, &len);
        break;
    case TC_LIST: case TC_SET:
        if (!tc_read_list(r, &et, &n) || !enter(r))
            break;
        for (size_t i = 0; i < n && !r->error; i++)
            tc_skip(r, et == TC_BOOL_TRUE || et == TC_BOOL_FALSE ? TC_I8 : et);
        r->depth--;
        break;
    case TC_MAP:
        n = (size_t)read_varint(r);
        if (n == 0 || r->error)
            break;
        kt = read_byte(r);
        if (n > (size_t)(r->end - r->p)) {
            tc_fail(r, "map longer than the data left");
            break;
        }
        if (!enter(r))
            break;
        for (size_t i = 0; i < n && !r->error; i++) {
            tc_skip(r, (kt >> 4) == TC_BOOL_TRUE || (kt >> 4) == TC_BOOL_FALSE ? TC_I8 : kt >> 4);
            tc_skip(r, (kt & 15) == TC_BOOL_TRUE || (kt & 15) == TC_BOOL_FALSE ? TC_I8 : kt & 15);
        }
        r->depth--;
        break;
    case TC_STRUCT:
        if (r->depth + 1 >= TC_MAX_DEPTH)
            tc_fail(r, "structs nested too deep");
        else
            skip_struct(r);
        break;
    default:
        tc_fail(r, "unknown Thrift type");
    }
}
