/* Thrift compact protocol: the subset Parquet metadata needs, as an encoder
 * (field headers with delta ids, zigzag varints, lists, nested structs) and a
 * bounds-checked decoder that can skip unknown fields. */
#ifndef PQ_THRIFT_COMPACT_H
#define PQ_THRIFT_COMPACT_H

#include "pq_buf.h"

/* Field and element type nibbles. */
enum {
    TC_STOP = 0,
    TC_BOOL_TRUE = 1,
    TC_BOOL_FALSE = 2,
    TC_I8 = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12
};

#define TC_MAX_DEPTH 32

/* ---- encoder -------------------------------------------------------- */

typedef struct tc_writer {
    pq_buf *out;
    int16_t last_id[TC_MAX_DEPTH];   /* previous field id, per open struct */
    int depth;
    bool overflow;                   /* structs nested deeper than TC_MAX_DEPTH */
} tc_writer;

void tc_writer_init(tc_writer *w, pq_buf *out);
void tc_field_i32(tc_writer *w, int16_t id, int32_t v);
void tc_field_i64(tc_writer *w, int16_t id, int64_t v);
void tc_field_bool(tc_writer *w, int16_t id, bool v);
void tc_field_double(tc_writer *w, int16_t id, double v);
void tc_field_binary(tc_writer *w, int16_t id, const void *p, size_t len);
void tc_field_string(tc_writer *w, int16_t id, const char *s);
/* A struct field: its fields follow, then tc_struct_end(). */
void tc_field_struct(tc_writer *w, int16_t id);
/* A list field header; the elements follow. */
void tc_field_list(tc_writer *w, int16_t id, uint8_t elem_type, size_t size);
/* A struct element of a list: its fields follow, then tc_struct_end(). */
void tc_list_struct(tc_writer *w);
void tc_list_i32(tc_writer *w, int32_t v);
void tc_list_binary(tc_writer *w, const void *p, size_t len);
/* Ends the innermost struct (writes the stop byte). */
void tc_struct_end(tc_writer *w);
/* A whole message: call at the top level after the last field. */
void tc_message_end(tc_writer *w);

uint64_t tc_zigzag64(int64_t v);
int64_t tc_unzigzag64(uint64_t v);

/* ---- decoder -------------------------------------------------------- */

typedef struct tc_reader {
    const uint8_t *p;
    const uint8_t *end;
    int16_t last_id[TC_MAX_DEPTH];
    int depth;
    bool error;                  /* truncated or malformed: every value read after is 0 */
    const char *why;             /* what was wrong, for the error message */
} tc_reader;

void tc_reader_init(tc_reader *r, const void *data, size_t len);
/* The next field of the current struct: false at its stop byte (or on an
 * error). `type` is the nibble; for bools the value is in it. */
bool tc_next_field(tc_reader *r, int16_t *id, uint8_t *type);
int32_t tc_read_i32(tc_reader *r);
int64_t tc_read_i64(tc_reader *r);
double tc_read_double(tc_reader *r);
bool tc_read_bool(tc_reader *r, uint8_t type);   /* a struct field's bool */
/* A binary or string: points into the input. */
const uint8_t *tc_read_binary(tc_reader *r, size_t *len);
/* A list header: element type and count (bounded by the bytes left). */
bool tc_read_list(tc_reader *r, uint8_t *elem_type, size_t *size);
/* Enter a struct (a struct field or a list element) / leave it after its stop. */
void tc_struct_begin(tc_reader *r);
void tc_struct_end_read(tc_reader *r);
/* Skips a value of the given type, nested values included. */
void tc_skip(tc_reader *r, uint8_t type);
void tc_fail(tc_reader *r, const char *why);

#endif
