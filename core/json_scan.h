#ifndef ETL_JSON_SCAN_H
#define ETL_JSON_SCAN_H
/* The scan that finds where a run of plain JSON string bytes ends, shared
 * by the tokenizer (reading strings) and the encoder (escaping them): both
 * spend most of their time on long runs of bytes that need no attention. */

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The high bit of each of 8 bytes that is not a plain string byte: '"',
 * '\\', a control byte (< 0x20) or non-ASCII (>= 0x80). Word-at-a-time (the
 * classic "has a zero byte" test): a borrow can flag a byte after a flagged
 * one, but the first flagged byte in memory order is always exact on a
 * little-endian machine, and "none" is always exact. */
static inline uint64_t json_special_bytes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t zero_quote = (quote - ones) & ~quote;
    uint64_t zero_backslash = (backslash - ones) & ~backslash;
    uint64_t control = w - ones * 0x20;  /* borrows into the high bit below 0x20 */
    return (zero_quote | zero_backslash | control | w) & highs;
}

/* The first byte at or after p that is not a plain string byte (or where
 * the byte-wise loop must take over, near the end). Strings are most of the
 * bytes of typical records, so this is the tokenizer's hottest loop: 16
 * bytes at a time with SSE2 (every x86-64), 8 at a time elsewhere. */
static inline const uint8_t *json_skip_plain_run(const uint8_t *p, const uint8_t *end)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches
         * both control bytes and non-ASCII. */
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                    _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
        unsigned mask = (unsigned)_mm_movemask_epi8(special);
        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    for (uint64_t w; end - p >= 8; p += 8) {
        memcpy(&w, p, 8);
        uint64_t special = json_special_bytes(w);
        if (special != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + __builtin_ctzll(special) / 8;
#else
            return p;
#endif
        }
    }
    return p;
}

#endif
