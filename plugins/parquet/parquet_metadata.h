/* Parquet file metadata (the footer's FileMetaData and each page's
 * PageHeader) as plain structs, with their Thrift compact encoding and
 * decoding. Field ids and enum values are those of parquet.thrift. */
#ifndef PQ_PARQUET_METADATA_H
#define PQ_PARQUET_METADATA_H

#include "pq_buf.h"

/* Physical types. */
enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3, PQ_FLOAT = 4, PQ_DOUBLE = 5,
       PQ_BYTE_ARRAY = 6, PQ_FIXED_LEN_BYTE_ARRAY = 7 };
/* Repetition. */
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
/* Converted (legacy) types we write. */
enum { PQ_CT_UTF8 = 0, PQ_CT_LIST = 3, PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6,
       PQ_CT_TIMESTAMP_MICROS = 10 };
/* LogicalType union members (field ids). */
enum { PQ_LT_NONE = 0, PQ_LT_STRING = 1, PQ_LT_MAP = 2, PQ_LT_LIST = 3, PQ_LT_ENUM = 4,
       PQ_LT_DECIMAL = 5, PQ_LT_DATE = 6, PQ_LT_TIME = 7, PQ_LT_TIMESTAMP = 8,
       PQ_LT_INTEGER = 10, PQ_LT_UNKNOWN = 11, PQ_LT_JSON = 12, PQ_LT_BSON = 13,
       PQ_LT_UUID = 14 };
/* TimeUnit union members. */
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };
/* Encodings. */
enum { PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICTIONARY = 2, PQ_ENC_RLE = 3, PQ_ENC_BIT_PACKED = 4,
       PQ_ENC_RLE_DICTIONARY = 8 };
/* Codecs. */
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_ZSTD = 6 };
/* Page types. */
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };

#define PQ_UNSET (-1)

typedef struct pq_logical_type {
    int kind;                    /* PQ_LT_*, PQ_LT_NONE when absent */
    int32_t scale, precision;    /* DECIMAL */
    bool utc;                    /* TIMESTAMP, TIME */
    int unit;                    /* TIMESTAMP, TIME: PQ_UNIT_* */
    int8_t bit_width;            /* INTEGER */
    bool is_signed;              /* INTEGER */
} pq_logical_type;

typedef struct pq_schema_element {
    int32_t type;                /* PQ_UNSET for groups */
    int32_t type_length;         /* PQ_UNSET unless FIXED_LEN_BYTE_ARRAY */
    int32_t repetition;          /* PQ_UNSET for the root */
    char *name;
    int32_t num_children;        /* PQ_UNSET for leaves */
    int32_t converted_type;      /* PQ_UNSET when absent */
    int32_t scale, precision;    /* PQ_UNSET when absent */
    pq_logical_type logical;
} pq_schema_element;

typedef struct pq_statistics {
    bool has_min_max;
    pq_buf min, max;             /* PLAIN bytes, without a length for BYTE_ARRAY */
    bool has_null_count;
    int64_t null_count;
    bool has_nan_count;
    int64_t nan_count;
} pq_statistics;

typedef struct pq_page_encoding_stats {
    int32_t page_type, encoding, count;
} pq_page_encoding_stats;

typedef struct pq_column_meta {
    int32_t type;
    int32_t encodings[8];
    size_t n_encodings;
    char **path;
    size_t path_len;
    int32_t codec;
    int64_t num_values;
    int64_t total_uncompressed_size;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset;  /* PQ_UNSET when there is no dictionary */
    pq_statistics stats;
    bool has_stats;
    pq_page_encoding_stats enc_stats[4];
    size_t n_enc_stats;
} pq_column_meta;

typedef struct pq_row_group {
    pq_column_meta *columns;
    size_t n_columns;
    int64_t total_byte_size;
    int64_t num_rows;
    int64_t file_offset;
    int64_t total_compressed_size;
} pq_row_group;

typedef struct pq_key_value {
    char *key;
    char *value;                 /* NULL when absent */
} pq_key_value;

typedef struct pq_file_meta {
    int32_t version;
    pq_schema_element *schema;
    size_t n_schema;
    int64_t num_rows;
    pq_row_group *row_groups;
    size_t n_row_groups;
    pq_key_value *kv;
    size_t n_kv;
    char *created_by;
    bool column_orders;          /* one TYPE_ORDER per leaf (written / was present) */
} pq_file_meta;

typedef struct pq_page_header {
    int32_t type;
    int32_t uncompressed_size;
    int32_t compressed_size;
    int32_t num_values;          /* data and dictionary pages */
    int32_t encoding;
    int32_t def_encoding, rep_encoding;   /* v1 data pages */
    /* v2 data pages */
    int32_t num_nulls, num_rows;
    int32_t def_bytes, rep_bytes;
    bool is_compressed;
} pq_page_header;

void pq_file_meta_write(const pq_file_meta *m, pq_buf *out);
void pq_page_header_write(const pq_page_header *h, pq_buf *out);

/* Decoders: false with a reason in err on malformed input; what was
 * allocated is freed by pq_file_meta_free even then. */
bool pq_file_meta_read(const uint8_t *data, size_t len, pq_file_meta *m, char *err,
                       size_t err_size);
/* Decodes a page header from the front of data; *used is its length. */
bool pq_page_header_read(const uint8_t *data, size_t len, pq_page_header *h, size_t *used,
                         char *err, size_t err_size);
void pq_file_meta_free(pq_file_meta *m);
void pq_column_meta_free(pq_column_meta *c);
void pq_statistics_free(pq_statistics *s);

/* Number of leaf columns of a schema (elements without children). */
size_t pq_schema_leaves(const pq_file_meta *m);

#endif
