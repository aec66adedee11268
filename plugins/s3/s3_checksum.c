/* Integrity checksums for uploads: CRC32C as S3's x-amz-checksum-crc32c.
 * CRC32C rather than Content-MD5 or a signed SHA-256 payload because S3
 * verifies it just the same while it costs a fraction of a second per GB
 * with the SSE4.2 instruction (bench/s3.md). */
#include "s3_internal.h"

#include <pthread.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define S3_HAVE_SSE42_PATH 1
#endif

#define CRC32C_POLY_REFLECTED 0x82F63B78u
/* Bytes per stream of the three interleaved streams of the SSE4.2 path. */
#define STREAM_BLOCK 4096

static uint32_t crc_table[8][256];
/* shift_table[j][v]: the CRC state whose byte j is v, advanced over
 * STREAM_BLOCK zero bytes (multiplied by x^(8*STREAM_BLOCK) mod P). */
static uint32_t shift_table[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* a*b mod P, in the reflected bit order (bit 31 is the x^0 coefficient). */
static uint32_t gf2_multiply(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (a & (0x80000000u >> i))
            product ^= b;
        b = b & 1 ? (b >> 1) ^ CRC32C_POLY_REFLECTED : b >> 1;
    }
    return product;
}

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    uint32_t block_shift = 0x80000000u;   /* x^0, times x once per bit of a block */
    for (long bit = 0; bit < 8L * STREAM_BLOCK; bit++)
        block_shift = block_shift & 1 ? (block_shift >> 1) ^ CRC32C_POLY_REFLECTED
                                      : block_shift >> 1;
    for (int j = 0; j < 4; j++)
        for (uint32_t v = 0; v < 256; v++)
            shift_table[j][v] = gf2_multiply(v << (8 * j), block_shift);
}

/* Slicing-by-8: the portable path. */
static uint32_t crc32c_table(uint32_t c, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
            crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

#ifdef S3_HAVE_SSE42_PATH
static uint32_t shift_over_block(uint32_t c)
{
    return shift_table[0][c & 0xff] ^ shift_table[1][(c >> 8) & 0xff] ^
           shift_table[2][(c >> 16) & 0xff] ^ shift_table[3][c >> 24];
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t word;
    memcpy(&word, p, 8);
    return word;
}

/* The crc32 instruction takes 3 cycles but can start one every cycle: three
 * independent streams over consecutive blocks keep it busy, and since a CRC
 * is linear, crc(A B) = shift(crc(A), |B|) ^ crc0(B) joins them. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c, const unsigned char *p,
                                                                size_t len)
{
    while (len >= 3 * STREAM_BLOCK) {
        uint64_t a = c, b = 0, d = 0;
        for (size_t i = 0; i < STREAM_BLOCK; i += 8) {
            a = _mm_crc32_u64(a, load64(p + i));
            b = _mm_crc32_u64(b, load64(p + STREAM_BLOCK + i));
            d = _mm_crc32_u64(d, load64(p + 2 * STREAM_BLOCK + i));
        }
        c = shift_over_block(shift_over_block((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
        p += 3 * STREAM_BLOCK;
        len -= 3 * STREAM_BLOCK;
    }
    uint64_t c64 = c;
    while (len >= 8) {
        c64 = _mm_crc32_u64(c64, load64(p));
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len)
{
    uint32_t c = ~crc;
    pthread_once(&tables_once, build_tables);
#ifdef S3_HAVE_SSE42_PATH
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc32c_sse42(c, data, len);
#endif
    return ~crc32c_table(c, data, len);
}

uint32_t s3_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&tables_once, build_tables);
    return ~crc32c_table(~crc, data, len);
}

void s3_base64(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

void s3_crc32c_header(uint32_t crc, char out[9])
{
    unsigned char be[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc};
    s3_base64(be, 4, out);
}
