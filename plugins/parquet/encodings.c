/* Encodings (see encodings.h). */
#include "encodings.h"

int pq_bit_width(uint64_t max)
{
    int w = 0;
    while (max != 0) {
        w++;
        max >>= 1;
    }
    return w;
}

/* ---- RLE / bit-packed hybrid ------------------------------------------ */

static void rle_run(pq_buf *out, uint32_t value, size_t count, int width)
{
    pq_buf_varint(out, (uint64_t)count << 1);
    int bytes = (width + 7) / 8;
    for (int i = 0; i < bytes; i++)
        pq_buf_byte(out, (uint8_t)(value >> (8 * i)));
}

/* Packs groups of 8 values LSB-first; `n` values are a multiple of 8 except
 * at the very end of the data, where the last group is padded with zeros
 * (the reader stops at the page's value count). */
#define DEFINE_BITPACK(NAME, T)                                                        \
    static void NAME(pq_buf *out, const T *v, size_t n, int width)                    \
    {                                                                                  \
        size_t groups = (n + 7) / 8;                                                   \
        pq_buf_varint(out, (uint64_t)groups << 1 | 1);                                 \
        if (!pq_buf_reserve(out, groups * (size_t)width + 8))                          \
            return;                                                                    \
        uint8_t *p = out->data + out->len;                                             \
        uint64_t acc = 0;                                                              \
        int bits = 0;                                                                  \
        for (size_t i = 0; i < groups * 8; i++) {                                      \
            acc |= (uint64_t)(i < n ? v[i] : 0) << bits;                               \
            bits += width;                                                             \
            while (bits >= 8) {                                                        \
                *p++ = (uint8_t)acc;                                                   \
                acc >>= 8;                                                             \
                bits -= 8;                                                             \
            }                                                                          \
        }                                                                              \
        out->len = (size_t)(p - out->data);                                            \
    }

DEFINE_BITPACK(bitpack_u8, uint8_t)
DEFINE_BITPACK(bitpack_u32, uint32_t)

/* Length of the run of equal values starting at v[i]. */
static size_t run_length_u8(const uint8_t *v, size_t i, size_t n)
{
    size_t j = i + 1;
    uint64_t pattern = 0x0101010101010101ULL * v[i];
    while (j + 8 <= n) {
        uint64_t word;
        memcpy(&word, v + j, 8);
        if (word != pattern)
            break;
        j += 8;
    }
    while (j < n && v[j] == v[i])
        j++;
    return j - i;
}

static size_t run_length_u32(const uint32_t *v, size_t i, size_t n)
{
    size_t j = i + 1;
    while (j < n && v[j] == v[i])
        j++;
    return j - i;
}

/* Values go to literal (bit-packed) runs until a repeat of 8 or more, which
 * becomes an RLE run. A literal run must hold a multiple of 8 values, so it
 * first borrows from the repeat to fill its last group. */
#define DEFINE_HYBRID(NAME, T, RUN, PACK)                                              \
    void NAME(pq_buf *out, const T *v, size_t n, int width)                           \
    {                                                                                  \
        if (width == 0) {                                                              \
            if (n > 0)                                                                 \
                rle_run(out, 0, n, 0);                                                 \
            return;                                                                    \
        }                                                                              \
        size_t lit = 0, i = 0;                                                         \
        while (i < n) {                                                                \
            size_t run = RUN(v, i, n);                                                 \
            if (run < 8) {                                                             \
                i += run;                                                              \
                continue;                                                              \
            }                                                                          \
            size_t pad = (8 - (i - lit) % 8) % 8;                                      \
            if (i - lit + pad > 0 && run - pad < 8) {                                  \
                i += run;      /* too short after padding: stays literal */            \
                continue;                                                              \
            }                                                                          \
            if (i - lit + pad > 0)                                                     \
                PACK(out, v + lit, i - lit + pad, width);                              \
            rle_run(out, v[i], run - pad, width);                                      \
            i += run;                                                                  \
            lit = i;                                                                   \
        }                                                                              \
        if (lit < n)                                                                   \
            PACK(out, v + lit, n - lit, width);                                        \
    }

DEFINE_HYBRID(pq_rle_encode_u8, uint8_t, run_length_u8, bitpack_u8)
DEFINE_HYBRID(pq_rle_encode_u32, uint32_t, run_length_u32, bitpack_u32)

void pq_levels_encode_v1(pq_buf *out, const uint8_t *levels, size_t n, int max_level)
{
    size_t at = out->len;
    pq_buf_u32le(out, 0);
    pq_rle_encode_u8(out, levels, n, pq_bit_width((uint64_t)max_level));
    if (out->failed)
        return;
    uint32_t len = (uint32_t)(out->len - at - 4);
    uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    memcpy(out->data + at, le, 4);
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

bool pq_rle_decode(const uint8_t *in, size_t len, int width, uint32_t *out, size_t n,
                   size_t *used)
{
    const uint8_t *p = in, *end = in + len;
    size_t got = 0;
    if (width < 0 || width > 32)
        return false;
    uint32_t mask = width == 32 ? 0xFFFFFFFFu : (1u << width) - 1;
    while (got < n) {
        uint64_t header;
        if (!read_varint(&p, end, &header))
            return false;
        if (header & 1) {
            uint64_t groups = header >> 1;
            if (groups == 0 || groups > (uint64_t)(end - p) / (width ? (uint64_t)width : 1) + 1)
                return false;
            size_t bytes = (size_t)groups * (size_t)width;
            if (bytes > (size_t)(end - p))
                return false;
            uint64_t acc = 0;
            int bits = 0;
            const uint8_t *q = p;
            for (size_t k = 0; k < groups * 8; k++) {
                while (bits < width) {
                    acc |= (uint64_t)*q++ << bits;
                    bits += 8;
                }
                uint32_t value = (uint32_t)(acc & mask);
                acc >>= width;
                bits -= width;
                if (got < n)
                    out[got++] = value;
            }
            p += bytes;
        } else {
            uint64_t count = header >> 1;
            int bytes = (width + 7) / 8;
            if (count == 0 || bytes > end - p)
                return false;
            uint32_t value = 0;
            for (int i = 0; i < bytes; i++)
                value |= (uint32_t)p[i] << (8 * i);
            p += bytes;
            if (value > mask)
                return false;
            for (uint64_t k = 0; k < count && got < n; k++)
                out[got++] = value;
        }
    }
    *used = (size_t)(p - in);
    return true;
}

/* ---- dictionary -------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* The last len (< 8) bytes as one word, without a variable-length memcpy
 * (a call): two overlapping loads, or three bytes. Every byte is covered,
 * and the length is mixed into the hash, so equal words mean equal tails. */
static inline uint64_t load_tail(const uint8_t *s, size_t len)
{
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        return a | (uint64_t)b << 32;
    }
    if (len == 0)
        return 0;
    return s[0] | (uint64_t)s[len / 2] << 8 | (uint64_t)s[len - 1] << 16;
}

uint64_t pq_hash_bytes(const void *p, size_t len)
{
    const uint8_t *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    return mix64(h ^ load_tail(s, len));
}

void pq_dict_init(pq_dict *d, int width)
{
    *d = (pq_dict){.width = width};
}

void pq_dict_reset(pq_dict *d)
{
    pq_buf_reset(&d->plain);
    d->count = 0;
    d->failed = false;
    if (d->slots != NULL)
        memset(d->slots, 0, (d->mask + 1) * sizeof *d->slots);
}

void pq_dict_free(pq_dict *d)
{
    pq_buf_free(&d->plain);
    free(d->offsets);
    free(d->slots);
    free(d->slot_hash);
    *d = (pq_dict){.width = d->width};
}

const uint8_t *pq_dict_value(const pq_dict *d, size_t i, size_t *len)
{
    if (d->width > 0) {
        *len = (size_t)d->width;
        return d->plain.data + i * (size_t)d->width;
    }
    uint32_t at = d->offsets[i];
    uint32_t n;
    memcpy(&n, d->plain.data + at, 4);      /* little-endian hosts only (x86, arm) */
    *len = n;
    return d->plain.data + at + 4;
}

static bool dict_rehash(pq_dict *d)
{
    size_t slots = d->slots == NULL ? 1024 : 2 * (d->mask + 1);
    uint32_t *s = calloc(slots, sizeof *s);
    uint32_t *h = malloc(slots * sizeof *h);
    if (s == NULL || h == NULL) {
        free(s);
        free(h);
        return false;
    }
    size_t mask = slots - 1;
    for (size_t k = 0; d->slots != NULL && k <= d->mask; k++) {
        if (d->slots[k] == 0)
            continue;
        size_t at = d->slot_hash[k] & mask;
        while (s[at] != 0)
            at = (at + 1) & mask;
        s[at] = d->slots[k];
        h[at] = d->slot_hash[k];
    }
    free(d->slots);
    free(d->slot_hash);
    d->slots = s;
    d->slot_hash = h;
    d->mask = mask;
    return true;
}

static bool dict_add(pq_dict *d, const void *value, size_t len)
{
    if (d->width == 0) {
        if (d->count == d->offsets_cap) {
            size_t cap = d->offsets_cap ? 2 * d->offsets_cap : 1024;
            uint32_t *o = realloc(d->offsets, cap * sizeof *o);
            if (o == NULL)
                return false;
            d->offsets = o;
            d->offsets_cap = cap;
        }
        if (d->plain.len > UINT32_MAX - len - 4)
            return false;
        d->offsets[d->count] = (uint32_t)d->plain.len;
        pq_buf_u32le(&d->plain, (uint32_t)len);
    }
    pq_buf_append(&d->plain, value, len);
    return !d->plain.failed;
}

/* Dictionary values are often short: compare them without a call. */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len > 16)
        return memcmp(a, b, len) == 0;
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

int64_t pq_dict_insert(pq_dict *d, const void *value, size_t len, bool *added)
{
    *added = false;
    if (d->failed)
        return -1;
    if ((d->count + 1) * 2 > d->mask + 1 && !dict_rehash(d)) {
        d->failed = true;
        return -1;
    }
    uint32_t h = (uint32_t)pq_hash_bytes(value, len);
    size_t at = h & d->mask;
    for (;;) {
        uint32_t e = d->slots[at];
        if (e == 0)
            break;
        if (d->slot_hash[at] == h) {
            size_t elen;
            const uint8_t *ev = pq_dict_value(d, e - 1, &elen);
            if (elen == len && same_bytes(ev, value, len))
                return e - 1;
        }
        at = (at + 1) & d->mask;
    }
    if (d->count >= UINT32_MAX - 1 || !dict_add(d, value, len)) {
        d->failed = true;
        return -1;
    }
    d->slots[at] = (uint32_t)++d->count;
    d->slot_hash[at] = h;
    *added = true;
    return (int64_t)d->count - 1;
}
