/* One leaf column of the row group being written: its levels, the values of
 * the page being filled (PLAIN or dictionary indices), the dictionary, the
 * finished pages (compressed, assembled by the page pipeline) and the
 * statistics. */
#ifndef PQ_COLUMN_WRITER_H
#define PQ_COLUMN_WRITER_H

#include "encodings.h"
#include "levels.h"
#include "page_pipeline.h"

typedef enum pq_dict_mode { PQ_DICT_OFF = 0, PQ_DICT_ON, PQ_DICT_AUTO } pq_dict_mode;

typedef struct pq_writer_opts {
    int codec;
    int level;
    int64_t page_size;
    int64_t dict_limit;          /* bytes of dictionary before falling back to PLAIN */
    pq_dict_mode dict;
    bool statistics;
} pq_writer_opts;

typedef enum pq_col_status {
    PQ_COL_OK = 0,
    PQ_COL_NOMEM,
    PQ_COL_REQUIRED_NULL,        /* a null in a required column */
    PQ_COL_CODEC,                /* the compressor failed */
    PQ_COL_DECIMAL_RANGE,        /* a decimal does not fit the physical type */
    PQ_COL_IO                    /* the byte sink failed (its error is set) */
} pq_col_status;

typedef struct pq_column {
    pq_node *leaf;
    pq_node **path;              /* top-level column .. leaf */
    int depth;
    int phys;                    /* PQ_INT32 ... */
    int type_length;             /* FIXED_LEN_BYTE_ARRAY */
    int width;                   /* bytes per PLAIN value; 0 for byte arrays and bools */
    const pq_writer_opts *opts;
    pq_pipeline *pipe;           /* compresses and assembles the pages */

    /* levels of every entry of the row group (pages point into them) */
    pq_buf def, rep;
    size_t entries;
    size_t page_first;           /* first entry of the page being filled */

    /* the page being filled */
    pq_buf values;               /* PLAIN values (bools bit-packed) */
    int64_t page_values;
    uint32_t *indices;           /* dictionary indices */
    size_t n_indices, cap_indices;
    bool page_dict;              /* this page uses the dictionary */

    /* the chunk (this column in the row group) */
    pq_dict dict;
    bool dict_allowed;           /* new pages may still use the dictionary */
    bool dict_checked;           /* auto: the first page decided whether it pays */
    pq_buf chunk;                /* finished data pages, header + compressed body */
    pq_buf dict_chunk;           /* the dictionary page, once the chunk is closed */
    pq_buf tmp;                  /* scratch: gathered fixed-width values */
    int64_t chunk_uncompressed, chunk_compressed;  /* of the pages assembled */
    int64_t chunk_estimate;      /* of the pages submitted, estimated before encoding */
    int64_t dict_uncompressed, dict_compressed;
    int32_t pages_plain, pages_dict;
    int32_t pending;             /* pages in the pipeline, not yet in a chunk */

    /* statistics of the chunk */
    bool has_minmax;
    int64_t imin, imax;
    double dmin, dmax;
    pq_buf bmin, bmax;
    int64_t null_count, nan_count;
} pq_column;

/* The column of a leaf node; false when out of memory. */
bool pq_column_init(pq_column *c, pq_node *leaf, const pq_writer_opts *opts,
                    pq_pipeline *pipe);
/* Waits for the column's pages still in the pipeline (so that nothing
 * points into the column any more), then frees it. */
void pq_column_free(pq_column *c);
/* After the leaf's type changed (from all-null to a type): new physical type. */
void pq_column_retype(pq_column *c);

/* Physical type of a value type (PQ_V_NULL is written as INT32). */
int pq_physical_type(const pq_node *leaf, int *type_length);

/* Encodes the rows [row_begin, row_end) of the bound batch. PQ_COL_CODEC
 * and PQ_COL_NOMEM may come from another column's page in the pipeline
 * (pq_pipeline_error says which). */
pq_col_status pq_column_write(pq_column *c, int64_t row_begin, int64_t row_end,
                              pq_level_out *scratch);
/* Levels for rows already in the row group when the column was added. */
void pq_column_backfill(pq_column *c, const pq_column *tmpl, size_t rows, int rep_limit,
                        int def_cap);

/* Estimates that do not depend on the pipeline's progress: the compressed
 * size of what is not submitted yet (the open page and the dictionary, for
 * rolling files), and the uncompressed size of the row group so far (for
 * the row group size). */
int64_t pq_column_open_bytes(const pq_column *c);
int64_t pq_column_uncompressed_bytes(const pq_column *c);

/* Ends the chunk: submits its last data page and its dictionary page. */
pq_col_status pq_column_close_chunk(pq_column *c);
/* After the pipeline is drained: writes the closed chunk at `offset`
 * through the sink and fills its metadata; the column is ready for the
 * next row group. */
pq_col_status pq_column_flush(pq_column *c, const etl_byte_sink *out, int64_t offset,
                              pq_column_meta *meta);

#endif
