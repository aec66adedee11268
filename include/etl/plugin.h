/*
 * etl plugin ABI, version 1.
 *
 * The only header a connector needs. Plain C99, no third-party types.
 *
 * Rules that keep this ABI stable (see docs/plugin-abi.md):
 *  - A plugin loads iff its ABI major equals the host's and the host's minor is
 *    at least the plugin's min_host_minor.
 *  - Every struct that crosses the boundary starts with its size (struct_size)
 *    and only ever grows at the end. A reader never touches bytes past the
 *    smaller of its own sizeof() and struct_size.
 *  - Host services come through one const function table (etl_host_api), to
 *    which entries are only appended. Plugins link nothing from the host.
 *  - No memory changes hands without a matching release: inputs are borrowed
 *    for the duration of a call; what the host hands out (batches, builders,
 *    buffers) goes back through host functions.
 */
#ifndef ETL_PLUGIN_H
#define ETL_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETL_ABI_MAJOR 1
#define ETL_ABI_MINOR 2

/* ------------------------------------------------------------------------ */
/* Apache Arrow C Data Interface (declared from the public specification).   */
/* ------------------------------------------------------------------------ */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* ------------------------------------------------------------------------ */
/* Status                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Every callback returns a status. Negative values are failures; the host
 * decides what to do from the class alone, the details are in the error
 * record set through etl_host_api.set_error().
 */
typedef enum etl_status {
    ETL_OK = 0,
    ETL_END = 1,                 /* a source or decoder has no more records */
    ETL_ERR_RETRY = -1,          /* transient (timeout, 429, 503): back off, call again */
    ETL_ERR_PERMANENT = -2,      /* the run cannot go on */
    ETL_ERR_CONFIG = -3,         /* the options are invalid */
    ETL_ERR_DATA = -4,           /* one record is malformed: reject it or fail */
    ETL_ERR_UNSUPPORTED = -5,    /* asked for something not implemented */
    ETL_ERR_NOMEM = -6,
    ETL_ERR_IO = -7,             /* local I/O failed (disk full, permission) */
    ETL_ERR_AUTH = -8,           /* credentials refused */
    ETL_ERR_CONFLICT = -9        /* (1.1) a compare-and-swap or a lease lost to another writer */
} etl_status;

#define ETL_STATUS_IS_FAILURE(s) ((int)(s) < 0)
#define ETL_STATUS_IS_RETRYABLE(s) ((s) == ETL_ERR_RETRY)

typedef enum etl_log_level {
    ETL_LOG_DEBUG = 0,
    ETL_LOG_INFO = 1,
    ETL_LOG_WARN = 2,
    ETL_LOG_ERROR = 3
} etl_log_level;

/* ------------------------------------------------------------------------ */
/* Opaque host handles                                                       */
/* ------------------------------------------------------------------------ */

/* One per connector instance: the host knows who is calling (for log
 * prefixes, the error record, the time budget and throttling). */
typedef struct etl_ctx etl_ctx;
/* Validated options of one connector instance (a YAML mapping). The
 * options passed to open() stay valid until close(). */
typedef struct etl_options etl_options;
/* Row-at-a-time builder of a columnar batch. */
typedef struct etl_builder etl_builder;
/* A format encoder or decoder opened through the host. */
typedef struct etl_format_writer etl_format_writer;
typedef struct etl_format_reader etl_format_reader;

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A batch is a set of rows in the Arrow C Data Interface layout: `schema` has
 * format "+s" (struct) and one child per column; `array` has one child array
 * per column. Batches are created and released only by the host. Plugins
 * read them directly (see the etl_arrow_* helpers below) and never modify
 * them.
 *
 * Column formats produced by the host's builders:
 *   "b" bool, "i" int32, "l" int64, "f" float32, "g" float64, "u" utf8 string,
 *   "z" binary, "tsu:UTC" timestamp (microseconds, UTC), "tdD" date32 (days),
 *   "d:P,S" decimal128, "+s" struct, "+l" list, "n" all-null (type unknown yet).
 */
typedef struct etl_batch {
    uint32_t struct_size;
    int64_t num_rows;
    struct ArrowSchema *schema;
    struct ArrowArray *array;
    int64_t approx_bytes;        /* size of the buffers, for byte-based batching */
} etl_batch;

/* Column types a connector can declare up front (builder_declare). */
typedef enum etl_type {
    ETL_TYPE_NULL = 0,           /* not known yet: decided by the first value */
    ETL_TYPE_BOOL,
    ETL_TYPE_INT32,
    ETL_TYPE_INT64,
    ETL_TYPE_FLOAT,
    ETL_TYPE_DOUBLE,
    ETL_TYPE_STRING,
    ETL_TYPE_BINARY,
    ETL_TYPE_TIMESTAMP_US,
    ETL_TYPE_DATE,
    ETL_TYPE_DECIMAL,
    ETL_TYPE_STRUCT,
    ETL_TYPE_LIST
} etl_type;

/* The root of a record, as a parent column. */
#define ETL_ROOT (-1)

/*
 * Per-record outcome reported by a sink. A sink fills one entry per row of
 * the batch it was given (the host pre-fills ETL_OK): ETL_ERR_RETRY means
 * "send this record again later", ETL_ERR_DATA "this record can never be
 * written" (it goes to the rejects file or fails the run).
 */
typedef int8_t etl_outcome;

/* A growable byte buffer. Memory comes from the host allocator; release it
 * with etl_host_api.buf_free(). */
typedef struct etl_buf {
    char *data;
    size_t len;
    size_t cap;
} etl_buf;

/* A stream of bytes provided by the caller (a sink's output, a source's
 * input). `name` says where the bytes live, for error messages. */
typedef struct etl_byte_sink {
    uint32_t struct_size;
    void *user;
    const char *name;
    etl_status (*write)(void *user, const void *data, size_t len);
} etl_byte_sink;

/* (1.2) A decompressing byte source (etl_host_api.decompress_open). */
typedef struct etl_decompressor etl_decompressor;

typedef struct etl_byte_source {
    uint32_t struct_size;
    void *user;
    const char *name;
    /* Returns bytes read (0 at the end), or -1 after set_error() on failure. */
    int64_t (*read)(void *user, void *buf, size_t cap);
} etl_byte_source;

/* (1.1) An HTTP request made through the host (etl_host_api.http_send).
 * The host throttles it (requests per second, in flight), signs it with
 * AWS SigV4 when asked, derives its timeout from the time budget, and with
 * ETL_HTTP_RETRY retries transport errors, 429 and 5xx with capped,
 * jittered, logged backoff that honours Retry-After. */
#define ETL_HTTP_RETRY 0x1u          /* retry transport errors, 429, 500, 502, 503, 504 */
#define ETL_HTTP_NO_THROTTLE 0x2u    /* not a source request (control plane) */

#define ETL_SIGV4_S3 0x1u            /* S3 rules: single-encoded path, x-amz-content-sha256 */

typedef struct etl_http_request {
    uint32_t struct_size;
    const char *method;              /* NULL: GET */
    const char *url;                 /* encoded: scheme://host[:port]/path?query */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    const void *body;
    size_t body_len;
    int64_t timeout_ms;              /* 0: from remaining_ms, at most 60 s */
    uint32_t flags;                  /* ETL_HTTP_* */
    const char *ca_file;             /* NULL: the system's; TLS is always verified */
    /* SigV4 signing: all NULL for none. */
    const char *sigv4_service;       /* "s3", "es", "lambda", "glue" */
    const char *sigv4_region;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    uint32_t sigv4_flags;            /* ETL_SIGV4_* */
    const char *payload_hash;        /* NULL: hash the body; or "UNSIGNED-PAYLOAD" */
    size_t max_response_bytes;       /* 0: no limit */
} etl_http_request;

typedef struct etl_http_response {
    uint32_t struct_size;
    int32_t status;                  /* HTTP status of the last attempt; 0: none */
    int32_t attempts;
    int64_t retry_after_ms;          /* -1: absent */
    etl_buf body;
    void *host_private;              /* headers; freed by http_response_free */
} etl_http_response;

/* (1.2) Called on the host's thread with the response of http_start. */
typedef void (*etl_http_prepare)(void *arg, const etl_http_response *resp);

/* (1.1) A value inside a JSON text, for control-plane JSON a connector reads
 * (its own cursors, API envelopes such as a search response). Spans come
 * from json_find and json_next, which validate what they return; the bytes
 * are borrowed from the text they were found in. */
typedef enum etl_json_type {
    ETL_JSON_NULL = 0,
    ETL_JSON_BOOL,
    ETL_JSON_NUMBER,
    ETL_JSON_STRING,
    ETL_JSON_ARRAY,
    ETL_JSON_OBJECT
} etl_json_type;

typedef struct etl_json_span {
    const char *ptr;             /* the value's first byte */
    size_t len;                  /* its length, up to its last byte */
    etl_json_type type;
} etl_json_span;

/* ------------------------------------------------------------------------ */
/* Option schema                                                             */
/* ------------------------------------------------------------------------ */

typedef enum etl_option_type {
    ETL_OPT_STRING = 1,
    ETL_OPT_INT,                 /* int64 */
    ETL_OPT_DOUBLE,
    ETL_OPT_BOOL,
    ETL_OPT_DURATION,            /* "30s", "14m30s", "250ms", or a number of ms */
    ETL_OPT_SIZE,                /* "64MB", "512KiB", or a number of bytes */
    ETL_OPT_ENUM,                /* a string among `choices` ("a|b|c") */
    ETL_OPT_LIST,                /* a sequence of scalars */
    ETL_OPT_MAP,                 /* a mapping, read with opt_map_* */
    ETL_OPT_ANY                  /* a scalar or a mapping; the connector checks it */
} etl_option_type;

#define ETL_OPT_REQUIRED 0x1u     /* must be present (default_value is ignored) */
#define ETL_OPT_SECRET 0x2u       /* never printed in logs or errors */

typedef struct etl_option_spec {
    const char *key;
    etl_option_type type;
    const char *default_value;   /* as it would be written in YAML; NULL: none */
    const char *doc;             /* one line */
    uint32_t flags;
    const char *choices;         /* for ETL_OPT_ENUM: "zstd|snappy|none" */
} etl_option_spec;

/* ------------------------------------------------------------------------ */
/* Connectors                                                                */
/* ------------------------------------------------------------------------ */

typedef enum etl_connector_kind {
    ETL_KIND_SOURCE = 1,
    ETL_KIND_TRANSFORM = 2,
    ETL_KIND_SINK = 3,
    ETL_KIND_FORMAT = 4,
    ETL_KIND_STATE_STORE = 5     /* (1.1) where a pipeline's state object lives */
} etl_connector_kind;

/*
 * Source. Required: open, read, close. Optional: checkpoint and restore
 * (without them the source cannot be resumed and the host says so).
 */
typedef struct etl_source_vtable {
    uint32_t struct_size;
    etl_status (*open)(etl_ctx *ctx, const etl_options *opts, void **state);
    /* Append up to max_records records (stop early once max_bytes is
     * reached) to `out`. ETL_OK with zero records is allowed (nothing ready
     * yet); ETL_END when exhausted (records may have been appended too). */
    etl_status (*read)(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes);
    /* Write the cursor, as a JSON value, that resumes right after the last
     * record returned by read(). */
    etl_status (*checkpoint)(void *state, etl_buf *cursor_json);
    /* Called after open() and before the first read(). */
    etl_status (*restore)(void *state, const char *cursor_json, size_t len);
    void (*close)(void *state);
    /* (1.1, optional) True when this instance reads incrementally: a run
     * that reached the end may be run again to pick up what is new since
     * its cursor. Without it (or false), a finished pipeline stays done. */
    bool (*incremental)(void *state);
} etl_source_vtable;

/*
 * Transform. Required: open, process, close. process() takes ownership of
 * `in` and hands back a batch the caller owns (it may be `in` itself).
 */
typedef struct etl_transform_vtable {
    uint32_t struct_size;
    etl_status (*open)(etl_ctx *ctx, const etl_options *opts, void **state);
    etl_status (*process)(void *state, etl_batch *in, etl_batch **out);
    void (*close)(void *state);
} etl_transform_vtable;

/* What a commit is about: output names derive from these, so that a resumed
 * run writes the same data under the same names. */
typedef struct etl_commit_info {
    uint32_t struct_size;
    const char *pipeline;        /* the pipeline's name */
    const char *partition;       /* "0" unless the run is one of several */
    uint64_t sequence;           /* 1, 2, 3 ... per pipeline and partition */
} etl_commit_info;

/*
 * Sink. Required: open, write, commit, close. Optional: abort (the default
 * does nothing). write() fills outcomes[0..num_rows-1]. commit() makes
 * everything written since the previous commit durable and visible under
 * names derived from `info`; it is idempotent for the same info. close()
 * discards what was not committed.
 */
typedef struct etl_sink_vtable {
    uint32_t struct_size;
    etl_status (*open)(etl_ctx *ctx, const etl_options *opts, void **state);
    etl_status (*write)(void *state, const etl_batch *batch, etl_outcome *outcomes);
    etl_status (*commit)(void *state, const etl_commit_info *info);
    void (*abort)(void *state);
    void (*close)(void *state);
} etl_sink_vtable;

/*
 * Format: encodes batches into bytes for a sink, and optionally decodes
 * bytes into records for a source. Sinks and sources reach formats through
 * the host (format_writer_open, format_reader_open), never directly, so a
 * format from any plugin works with any sink or source.
 * Required: writer_open, write, finish, writer_close. Optional: the reader.
 */
typedef struct etl_format_vtable {
    uint32_t struct_size;
    const char *file_extension;  /* "ndjson", "csv", "parquet" */
    etl_status (*writer_open)(etl_ctx *ctx, const etl_options *opts,
                              const etl_byte_sink *out, void **state);
    etl_status (*write)(void *state, const etl_batch *batch);
    /* Bytes written so far, for rolling files by size (optional). */
    int64_t (*bytes_written)(void *state);
    etl_status (*finish)(void *state);          /* trailers, footers */
    void (*writer_close)(void *state);
    etl_status (*reader_open)(etl_ctx *ctx, const etl_options *opts,
                              const etl_byte_source *in, void **state);
    etl_status (*read)(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes);
    void (*reader_close)(void *state);
} etl_format_vtable;

/*
 * (1.1) State store: keeps a pipeline's state object (small JSON) under a
 * key, with compare-and-swap writes and a lease, so that two runs of one
 * pipeline can never both write. All callbacks are required.
 */
typedef struct etl_state_store_vtable {
    uint32_t struct_size;
    etl_status (*open)(etl_ctx *ctx, const etl_options *opts, void **state);
    /* The value under `key` and its version (an opaque token, e.g. an ETag);
     * ETL_END when there is none. */
    etl_status (*get)(void *state, const char *key, etl_buf *value, etl_buf *version);
    /* Writes the value iff the stored version is still `expected_version`
     * (NULL: iff no value exists), else ETL_ERR_CONFLICT. The write is
     * atomic and durable when it returns ETL_OK; new_version receives the
     * token of what was written. */
    etl_status (*put)(void *state, const char *key, const char *value, size_t len,
                      const char *expected_version, etl_buf *new_version);
    etl_status (*remove)(void *state, const char *key);
    /* Takes (or renews, for the same owner) the exclusive right to write
     * `key` for ttl_ms; ETL_ERR_CONFLICT, with the holder named in the
     * error, when another owner holds it. A lease also ends when its
     * holder's process dies, where the store can tell. */
    etl_status (*lease_acquire)(void *state, const char *key, const char *owner, int64_t ttl_ms);
    void (*lease_release)(void *state, const char *key, const char *owner);
    void (*close)(void *state);
} etl_state_store_vtable;

typedef struct etl_connector {
    uint32_t struct_size;
    etl_connector_kind kind;
    const char *name;            /* what a pipeline names in `type:` */
    const char *summary;         /* one line */
    const etl_option_spec *options;     /* terminated by an entry with key NULL */
    uint32_t option_spec_size;   /* sizeof(etl_option_spec) the plugin was built with */
    const void *vtable;          /* etl_source_vtable, ... by kind */
} etl_connector;

typedef struct etl_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major;          /* ETL_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;          /* ETL_ABI_MINOR the plugin was built with */
    uint16_t min_host_minor;     /* oldest host minor that has what it uses */
    const char *name;
    const char *version;
    const char *summary;
    const etl_connector *const *connectors;     /* NULL-terminated */
} etl_plugin_descriptor;

/* ------------------------------------------------------------------------ */
/* Host services                                                             */
/* ------------------------------------------------------------------------ */

#if defined(__GNUC__)
#define ETL_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define ETL_PRINTF(fmt_index, first_arg)
#endif

typedef struct etl_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* -- errors and logging ------------------------------------------- */
    /* Records the error for this instance and returns `status`, so that
     * `return host->set_error(ctx, ETL_ERR_RETRY, 503, "...")` reads well.
     * vendor_code: an HTTP status, a CQL error code, errno, or 0. */
    etl_status (*set_error)(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                            const char *fmt, ...) ETL_PRINTF(4, 5);
    void (*log)(etl_ctx *ctx, etl_log_level level, const char *fmt, ...) ETL_PRINTF(3, 4);

    /* -- memory --------------------------------------------------------- */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    etl_status (*buf_append)(etl_buf *buf, const void *data, size_t len);
    etl_status (*buf_printf)(etl_buf *buf, const char *fmt, ...) ETL_PRINTF(2, 3);
    void (*buf_free)(etl_buf *buf);

    /* -- time budget, cancellation, throttling, metrics --------------- */
    /* Milliseconds left before the host must stop; INT64_MAX without a
     * budget. Derive request timeouts from it. */
    int64_t (*remaining_ms)(etl_ctx *ctx);
    bool (*cancelled)(etl_ctx *ctx);
    /* Waits for a request token and an in-flight slot (throttle.requests_per
     * _second, throttle.max_in_flight). Every acquire is paired with one
     * request_done, which feeds the latency into the host's backoff. */
    etl_status (*request_acquire)(etl_ctx *ctx);
    void (*request_done)(etl_ctx *ctx, int64_t latency_us, etl_status outcome);
    void (*metric_add)(etl_ctx *ctx, const char *name, int64_t delta);
    /* A source that knows how many records it will read says so (for ETA). */
    void (*progress_total)(etl_ctx *ctx, int64_t total_records);
    /* Identity of this run, for deterministic names. */
    const char *(*pipeline_name)(etl_ctx *ctx);

    /* -- options (validated against the connector's schema) ------------ */
    /* Each getter returns the value set in YAML, else the schema default.
     * Scalars: false / NULL when neither exists. */
    const char *(*opt_string)(const etl_options *opts, const char *key);
    bool (*opt_int)(const etl_options *opts, const char *key, int64_t *out);
    bool (*opt_double)(const etl_options *opts, const char *key, double *out);
    bool (*opt_bool)(const etl_options *opts, const char *key, bool *out);
    bool (*opt_duration_ms)(const etl_options *opts, const char *key, int64_t *out);
    bool (*opt_size)(const etl_options *opts, const char *key, int64_t *out);
    bool (*opt_is_set)(const etl_options *opts, const char *key);
    /* Sequences: number of items (0 when absent) and one item as text. */
    size_t (*opt_list_count)(const etl_options *opts, const char *key);
    const char *(*opt_list_item)(const etl_options *opts, const char *key, size_t i);
    /* A mapping value (ETL_OPT_MAP or ETL_OPT_ANY holding a mapping), or a
     * scalar turned into {type: scalar}; NULL when absent. */
    const etl_options *(*opt_map)(const etl_options *opts, const char *key);
    /* Free-form mappings (rename: {a: b}) in file order. */
    size_t (*opt_map_count)(const etl_options *opts);
    const char *(*opt_map_key)(const etl_options *opts, size_t i);
    const char *(*opt_map_value)(const etl_options *opts, size_t i);   /* NULL if not a scalar */
    /* "pipeline.yaml:12:7", to put in error messages about `key`. */
    const char *(*opt_where)(const etl_options *opts, const char *key);

    /* -- building batches (sources, decoders, transforms) -------------- */
    etl_builder *(*builder_new)(etl_ctx *ctx);
    void (*builder_free)(etl_builder *b);
    /* Column handles: find or add `name` under `parent` (ETL_ROOT, or a
     * struct column). New columns are nullable; earlier rows read null. */
    int32_t (*builder_field)(etl_builder *b, int32_t parent, const char *name, size_t name_len);
    /* Fix a column's type before data arrives (from a mapping or schema).
     * For ETL_TYPE_DECIMAL pass precision and scale; else 0, 0. */
    int32_t (*builder_declare)(etl_builder *b, int32_t parent, const char *name,
                               etl_type type, int32_t precision, int32_t scale);
    /* The element column of a list column. */
    int32_t (*builder_list_item)(etl_builder *b, int32_t list_column);
    etl_status (*builder_begin_record)(etl_builder *b);
    etl_status (*builder_end_record)(etl_builder *b);
    /* Drops a record begun but not ended (for example on a parse error). */
    void (*builder_cancel_record)(etl_builder *b);
    /* Values. A value of another type than the column's is ETL_ERR_DATA
     * (with the error set), except that int64 widens to double. */
    etl_status (*append_null)(etl_builder *b, int32_t col);
    etl_status (*append_bool)(etl_builder *b, int32_t col, bool v);
    etl_status (*append_int64)(etl_builder *b, int32_t col, int64_t v);
    etl_status (*append_double)(etl_builder *b, int32_t col, double v);
    etl_status (*append_string)(etl_builder *b, int32_t col, const char *s, size_t len);
    etl_status (*append_binary)(etl_builder *b, int32_t col, const void *p, size_t len);
    etl_status (*append_timestamp_us)(etl_builder *b, int32_t col, int64_t us_since_epoch);
    etl_status (*append_date)(etl_builder *b, int32_t col, int32_t days_since_epoch);
    /* Decimal text ("-12.345"), scaled to the column's declared scale. */
    etl_status (*append_decimal)(etl_builder *b, int32_t col, const char *text, size_t len);
    etl_status (*begin_struct)(etl_builder *b, int32_t col);
    etl_status (*end_struct)(etl_builder *b, int32_t col);
    etl_status (*begin_list)(etl_builder *b, int32_t col);
    etl_status (*end_list)(etl_builder *b, int32_t col);
    int64_t (*builder_rows)(const etl_builder *b);
    int64_t (*builder_bytes)(const etl_builder *b);
    /* Hands the rows built so far over as a batch (zero rows is allowed)
     * and starts the next batch with the same columns. */
    etl_status (*builder_finish)(etl_builder *b, etl_batch **out);

    /* -- JSON on the data path (exact int64, streaming) ---------------- */
    /* Appends one record from a JSON object text. On malformed JSON returns
     * ETL_ERR_DATA with the error set to the byte offset and reason; the
     * partial record is dropped. */
    etl_status (*json_append_record)(etl_builder *b, const char *json, size_t len);
    /* Appends one JSON value (object, array or scalar) as the value of `col`. */
    etl_status (*json_append_value)(etl_builder *b, int32_t col, const char *json, size_t len);
    /* Writes row `row` of `batch` as one JSON object (no newline). */
    etl_status (*json_write_row)(const etl_batch *batch, int64_t row, etl_buf *out);

    /* -- batch operations (transforms) --------------------------------- */
    void (*batch_release)(etl_batch *batch);
    /* Index of a top-level column by name, or -1. */
    int32_t (*batch_column_index)(const etl_batch *batch, const char *name);
    /* New batch whose columns are the given paths ("brand.name" reaches
     * into structs) under new names (names NULL: keep the last path part).
     * Shares buffers with `in`; no copy. */
    etl_status (*batch_select)(etl_ctx *ctx, const etl_batch *in, const char *const *paths,
                               const char *const *names, size_t count, etl_batch **out);
    /* New batch with the rows whose keep[row] is nonzero. */
    etl_status (*batch_filter)(etl_ctx *ctx, const etl_batch *in, const uint8_t *keep,
                               etl_batch **out);
    /* New batch with the columns of `in` followed by the columns of
     * `columns` (same num_rows); a column whose name exists is replaced. */
    etl_status (*batch_add_columns)(etl_ctx *ctx, const etl_batch *in, const etl_batch *columns,
                                    etl_batch **out);
    /* New batch where struct columns become top-level columns named
     * "parent<sep>child", recursively. Lists are kept. */
    etl_status (*batch_flatten)(etl_ctx *ctx, const etl_batch *in, const char *separator,
                                etl_batch **out);

    /* -- formats (any plugin's), for sinks and sources ----------------- */
    /* `format` is a format name ("ndjson") or NULL to take opts' `type`. */
    etl_status (*format_writer_open)(etl_ctx *ctx, const char *format, const etl_options *opts,
                                     const etl_byte_sink *out, etl_format_writer **w);
    etl_status (*format_write)(etl_format_writer *w, const etl_batch *batch);
    int64_t (*format_bytes_written)(etl_format_writer *w);
    etl_status (*format_finish)(etl_format_writer *w);
    void (*format_writer_close)(etl_format_writer *w);
    const char *(*format_extension)(etl_format_writer *w);
    etl_status (*format_reader_open)(etl_ctx *ctx, const char *format, const etl_options *opts,
                                     const etl_byte_source *in, etl_format_reader **r);
    etl_status (*format_read)(etl_format_reader *r, etl_builder *out, int64_t max_records,
                              int64_t max_bytes);
    void (*format_reader_close)(etl_format_reader *r);

    /* -- rejected records ---------------------------------------------- */
    /* Sends one bad input record to the pipeline's rejects file with the
     * reason and returns ETL_OK, or, when the pipeline keeps no rejects
     * file, records the error and returns ETL_ERR_DATA. A NULL reason means
     * the error just recorded on ctx (by json_append_record, say). */
    etl_status (*reject)(etl_ctx *ctx, const char *record, size_t len, const char *where,
                         const char *reason);

    /* -- (1.1) HTTP for network connectors ------------------------------ */
    /* Sends `req`; any HTTP status is ETL_OK (the connector decides what it
     * means). Transport failures (refused, reset, timeout) that outlast the
     * retries are ETL_ERR_RETRY with the error set. Initialise `resp` with
     * {.struct_size = sizeof resp} and free it with http_response_free. */
    etl_status (*http_send)(etl_ctx *ctx, const etl_http_request *req, etl_http_response *resp);
    /* A response header (case-insensitive name), or NULL. */
    const char *(*http_header)(const etl_http_response *resp, const char *name);
    void (*http_response_free)(etl_http_response *resp);
    /* Hex SHA-256 of data into out (65 bytes), for checksums and SigV4. */
    void (*sha256_hex)(const void *data, size_t len, char out[65]);

    /* -- (1.1) reading control-plane JSON (exact int64) ------------------ */
    /* The value at `path` in a JSON text: members separated by '.', array
     * elements by their index ("hits.hits.0._source"; "" is the whole
     * text). ETL_END when absent; ETL_ERR_DATA (error set on ctx, which may
     * be NULL) when the text is not valid JSON up to and through the value. */
    etl_status (*json_find)(etl_ctx *ctx, const char *json, size_t len, const char *path,
                            etl_json_span *out);
    /* The next element of an array, or member of an object (then `key`,
     * which may be NULL, is the member name's span). *position starts at 0.
     * ETL_END after the last. */
    etl_status (*json_next)(const etl_json_span *container, size_t *position, etl_json_span *key,
                            etl_json_span *value);
    /* Scalars: false unless the span holds that kind of value (json_int64:
     * an integer within int64, exactly). json_string appends the unescaped
     * UTF-8 of a string span. */
    bool (*json_int64)(const etl_json_span *value, int64_t *out);
    bool (*json_double)(const etl_json_span *value, double *out);
    bool (*json_bool)(const etl_json_span *value, bool *out);
    etl_status (*json_string)(const etl_json_span *value, etl_buf *out);
    /* Appends `s` as a quoted, escaped JSON string (for writing cursors). */
    etl_status (*json_quote)(etl_buf *out, const char *s, size_t len);

    /* -- (1.1) commits ----------------------------------------------------- */
    /* What the next commit() of this run will be about, known while writing:
     * a sink may name and stream its output (multipart parts) before the
     * commit makes it visible. The strings live as long as the run. */
    etl_status (*next_commit)(etl_ctx *ctx, etl_commit_info *out);

    /* (1.1) Decodes and drops the next `count` records of a format reader
     * (restoring a cursor that counts records into a file or object).
     * *skipped says how many there were; ETL_END when the input ended
     * first. */
    etl_status (*format_skip)(etl_format_reader *r, int64_t count, int64_t *skipped);

    /* -- (1.2) one HTTP request in the background ----------------------- */
    /* http_send on a host thread: http_start returns at once and
     * http_wait blocks until the request is done, returning what http_send
     * would have (and setting the error on ctx). It lets the server work
     * on the next page while the connector decodes the last one. One
     * request per ctx at a time; everything `req` points to (URL, headers,
     * body) must stay valid until http_wait returns. The request runs on a
     * connection of its own and is throttled, retried and budgeted like
     * http_send; the connector may use its ctx meanwhile. A ctx closed with
     * a request outstanding waits for it.
     * `prepare` (may be NULL) runs on that thread once a response is in
     * (http_send's ETL_OK, any status), before http_wait returns it: the
     * connector may parse the body into structures of its own there, off
     * its own thread. It must not call the host, nor touch what the
     * connector's thread uses meanwhile. */
    etl_status (*http_start)(etl_ctx *ctx, const etl_http_request *req, etl_http_prepare prepare,
                             void *prepare_arg);
    etl_status (*http_wait)(etl_ctx *ctx, etl_http_response *resp);

    /* (1.2) json_write_row for rows first .. first+count-1 of a batch, each
     * followed by `separator` (NULL for none; "\n" writes NDJSON). The
     * columns are looked at once for all the rows, which makes it faster
     * than a json_write_row per row. */
    etl_status (*json_write_rows)(const etl_batch *batch, int64_t first, int64_t count,
                                  const char *separator, etl_buf *out);

    /* (1.2) A byte source that decompresses `in`: `codec` is "auto" (or
     * NULL: by in->name's extension, .gz .zst .zstd, else by the first
     * bytes), "none", "gzip" or "zstd". `out` stays valid until
     * decompress_close; corrupt or truncated data is ETL_ERR_IO, set on ctx,
     * naming in->name. Any source of objects (files, S3) reads them alike. */
    etl_status (*decompress_open)(etl_ctx *ctx, const etl_byte_source *in, const char *codec,
                                  etl_byte_source *out, etl_decompressor **d);
    void (*decompress_close)(etl_decompressor *d);
    /* (1.2) The format a file or object name implies, through a .gz, .zst
     * or .zstd suffix: "ndjson" (.ndjson .jsonl .json), "csv", "parquet", or
     * NULL when the name does not tell. */
    const char *(*format_from_name)(const char *name);
    /* (1.2) builder_declare for a column already in hand, such as a list's
     * item (builder_list_item): its type is fixed before data arrives. */
    int32_t (*builder_declare_type)(etl_builder *b, int32_t col, etl_type type,
                                    int32_t precision, int32_t scale);
} etl_host_api;

/* ------------------------------------------------------------------------ */
/* The entry point                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Each plugin exports one symbol, emitted by ETL_PLUGIN_DEFINE. The host
 * calls it once after loading, with its API table and version; the plugin
 * keeps the table pointer (it is valid until the plugin is unloaded) and
 * returns its static descriptor, or NULL to refuse the host.
 *
 * The symbol carries libltdl's "<module>_LTX_" prefix so that plugins can
 * also be preloaded into a static build (for AWS Lambda). `module` is the
 * file name without ".so", with characters other than [A-Za-z0-9] as "_".
 */
typedef const etl_plugin_descriptor *(*etl_plugin_entry_fn)(const etl_host_api *host);

#define ETL_PLUGIN_ENTRY_SYMBOL "etl_plugin_entry"

#define ETL_PLUGIN_DEFINE(module, descriptor, host_api_var)                                   \
    const etl_plugin_descriptor *module##_LTX_etl_plugin_entry(const etl_host_api *etl_host_in); \
    const etl_plugin_descriptor *module##_LTX_etl_plugin_entry(const etl_host_api *etl_host_in)  \
    {                                                                                          \
        if (etl_host_in == NULL || etl_host_in->abi_major != ETL_ABI_MAJOR)                   \
            return NULL;                                                                       \
        host_api_var = etl_host_in;                                                            \
        return &(descriptor);                                                                  \
    }

/* ------------------------------------------------------------------------ */
/* Reading Arrow arrays (inline: plugins link nothing)                       */
/* ------------------------------------------------------------------------ */

static inline bool etl_arrow_is_valid(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *validity = (const uint8_t *)a->buffers[0];
    int64_t j = i + a->offset;
    return validity == NULL || (validity[j >> 3] >> (j & 7)) & 1;
}

static inline int64_t etl_arrow_int64(const struct ArrowArray *a, int64_t i)
{
    return ((const int64_t *)a->buffers[1])[i + a->offset];
}

static inline int32_t etl_arrow_int32(const struct ArrowArray *a, int64_t i)
{
    return ((const int32_t *)a->buffers[1])[i + a->offset];
}

static inline double etl_arrow_double(const struct ArrowArray *a, int64_t i)
{
    return ((const double *)a->buffers[1])[i + a->offset];
}

static inline float etl_arrow_float(const struct ArrowArray *a, int64_t i)
{
    return ((const float *)a->buffers[1])[i + a->offset];
}

static inline bool etl_arrow_bool(const struct ArrowArray *a, int64_t i)
{
    const uint8_t *bits = (const uint8_t *)a->buffers[1];
    int64_t j = i + a->offset;
    return (bits[j >> 3] >> (j & 7)) & 1;
}

/* utf8 ("u") and binary ("z"): pointer and length of value i. */
static inline const char *etl_arrow_bytes(const struct ArrowArray *a, int64_t i, size_t *len)
{
    const int32_t *offsets = (const int32_t *)a->buffers[1];
    const char *data = (const char *)a->buffers[2];
    int64_t j = i + a->offset;
    *len = (size_t)(offsets[j + 1] - offsets[j]);
    return data + offsets[j];
}

/* list ("+l"): the child range [*begin, *end) of value i. */
static inline void etl_arrow_list_range(const struct ArrowArray *a, int64_t i, int64_t *begin,
                                        int64_t *end)
{
    const int32_t *offsets = (const int32_t *)a->buffers[1];
    int64_t j = i + a->offset;
    *begin = offsets[j];
    *end = offsets[j + 1];
}

/* decimal128 ("d:P,S"): the 16-byte little-endian two's complement value. */
static inline void etl_arrow_decimal128(const struct ArrowArray *a, int64_t i, uint64_t *lo,
                                        int64_t *hi)
{
    const uint64_t *words = (const uint64_t *)a->buffers[1];
    int64_t j = i + a->offset;
    *lo = words[2 * j];
    *hi = (int64_t)words[2 * j + 1];
}

static inline bool etl_format_is(const struct ArrowSchema *s, const char *format)
{
    return strcmp(s->format, format) == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* ETL_PLUGIN_H */
