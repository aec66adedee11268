/* A growable byte buffer with a sticky failure flag: encoders append without
 * checking every call, and the caller checks `failed` once at the end. The
 * memory is the plugin's own (malloc), never handed to the host. */
#ifndef PQ_BUF_H
#define PQ_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pq_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed;                 /* an allocation failed: the content is incomplete */
} pq_buf;

bool pq_buf_grow(pq_buf *b, size_t extra);

/* Room for `extra` more bytes; false (and `failed` set) when memory ran out. */
static inline bool pq_buf_reserve(pq_buf *b, size_t extra)
{
    return b->cap - b->len >= extra ? !b->failed : pq_buf_grow(b, extra);
}

static inline void pq_buf_append(pq_buf *b, const void *p, size_t n)
{
    if (n == 0 || !pq_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void pq_buf_byte(pq_buf *b, uint8_t v)
{
    if (!pq_buf_reserve(b, 1))
        return;
    b->data[b->len++] = v;
}

static inline void pq_buf_u32le(pq_buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pq_buf_append(b, le, 4);
}

static inline void pq_buf_varint(pq_buf *b, uint64_t v)
{
    if (!pq_buf_reserve(b, 10))
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

static inline void pq_buf_reset(pq_buf *b)
{
    b->len = 0;
    b->failed = false;
}

static inline void pq_buf_free(pq_buf *b)
{
    free(b->data);
    *b = (pq_buf){0};
}

#endif
