/* Decompressing byte sources (etl_host_api.decompress_open): gzip or zstd
 * over any other byte source. */
#ifndef ETL_CORE_DECOMPRESS_H
#define ETL_CORE_DECOMPRESS_H

#include <etl/plugin.h>

/* `codec`: "auto" (NULL too: by the source's name, .gz .zst .zstd, else by
 * its first bytes), "none", "gzip" or "zstd". `out` reads the decompressed
 * bytes of `in` until decompress_close; its errors (corrupt or truncated
 * data: ETL_ERR_IO) are set on ctx. */
etl_status decompress_open(etl_ctx *ctx, const etl_byte_source *in, const char *codec,
                           etl_byte_source *out, etl_decompressor **d);
/* The codec in use: "none", "gzip" or "zstd". */
const char *decompress_codec(const etl_decompressor *d);
void decompress_close(etl_decompressor *d);

#endif
