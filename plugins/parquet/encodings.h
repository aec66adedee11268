/* Parquet value and level encodings: the RLE / bit-packed hybrid (levels,
 * dictionary indices), bit packing, and the dictionary itself (an
 * open-addressing hash over PLAIN-encoded values). */
#ifndef PQ_ENCODINGS_H
#define PQ_ENCODINGS_H

#include "pq_buf.h"

/* Bits needed for values 0..max (0 for max 0). */
int pq_bit_width(uint64_t max);

/* Hybrid runs without a length prefix (dictionary indices, v2 levels). */
void pq_rle_encode_u8(pq_buf *out, const uint8_t *v, size_t n, int width);
void pq_rle_encode_u32(pq_buf *out, const uint32_t *v, size_t n, int width);
/* v1 levels: 4-byte little-endian length, then hybrid runs. */
void pq_levels_encode_v1(pq_buf *out, const uint8_t *levels, size_t n, int max_level);

/* Decodes n values of the hybrid format; false when the input is short or
 * malformed. *used: bytes consumed. */
bool pq_rle_decode(const uint8_t *in, size_t len, int width, uint32_t *out, size_t n,
                   size_t *used);

/* ---- dictionary ------------------------------------------------------ */

typedef struct pq_dict {
    int width;                   /* bytes per value; 0: byte arrays */
    pq_buf plain;                /* the dictionary page body (PLAIN) */
    uint32_t *offsets;           /* byte arrays: where entry i starts in `plain` */
    size_t count;
    size_t offsets_cap;
    uint32_t *slots;             /* entry index + 1; 0 is empty */
    uint32_t *slot_hash;         /* the hash of the slot's entry, to skip most compares */
    size_t mask;                 /* slots - 1 */
    bool failed;                 /* out of memory */
} pq_dict;

void pq_dict_init(pq_dict *d, int width);
void pq_dict_reset(pq_dict *d);
void pq_dict_free(pq_dict *d);
/* The index of the value, added if new (*added). -1 when out of memory. */
int64_t pq_dict_insert(pq_dict *d, const void *value, size_t len, bool *added);
/* Entry i: its bytes (for byte arrays, without the length prefix). */
const uint8_t *pq_dict_value(const pq_dict *d, size_t i, size_t *len);

uint64_t pq_hash_bytes(const void *p, size_t len);

#endif
