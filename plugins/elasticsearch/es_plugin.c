/* elasticsearch.so: the elasticsearch source (and the _bulk sink). */
#include "es_internal.h"

const etl_host_api *es_host;

/* Connection options, shared by the source and the sink. */
#define ES_CONNECTION_OPTIONS                                                                     \
    {.key = "url", .type = ETL_OPT_STRING, .default_value = "http://127.0.0.1:9200",             \
     .doc = "cluster URL, scheme://host:port[/prefix] (credentials in it become Basic auth)"},   \
        {.key = "username", .type = ETL_OPT_STRING, .doc = "Basic auth user"},                    \
        {.key = "password", .type = ETL_OPT_STRING, .doc = "Basic auth password",                 \
         .flags = ETL_OPT_SECRET},                                                                \
        {.key = "api_key", .type = ETL_OPT_STRING,                                                \
         .doc = "API key: id:key, or the base64 'encoded' value", .flags = ETL_OPT_SECRET},       \
        {.key = "bearer_token", .type = ETL_OPT_STRING, .doc = "OAuth2/JWT bearer token",        \
         .flags = ETL_OPT_SECRET},                                                                \
        {.key = "ca_file", .type = ETL_OPT_STRING,                                                \
         .doc = "PEM file of the CA that signed the cluster's certificate (TLS is verified)"},    \
        {.key = "aws_region", .type = ETL_OPT_STRING,                                             \
         .doc = "sign requests with SigV4 for Amazon OpenSearch Service (AWS_* env credentials)"}, \
        {.key = "aws_service", .type = ETL_OPT_ENUM, .default_value = "es",                      \
         .doc = "SigV4 service: es (managed domains) or aoss (serverless)", .choices = "es|aoss"}, \
        {.key = "request_timeout", .type = ETL_OPT_DURATION,                                      \
         .doc = "timeout of one request (default: from the time budget, at most 60s)"}

const etl_option_spec es_source_options[] = {
    {.key = "index", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "index, alias or pattern to read (products, logs-*)"},
    ES_CONNECTION_OPTIONS,
    {.key = "query", .type = ETL_OPT_STRING,
     .doc = "query DSL as JSON text, passed through ('{\"term\": {\"active\": true}}')"},
    {.key = "source_includes", .type = ETL_OPT_LIST, .doc = "_source fields to keep (globs)"},
    {.key = "source_excludes", .type = ETL_OPT_LIST, .doc = "_source fields to drop (globs)"},
    {.key = "tiebreaker", .type = ETL_OPT_STRING,
     .doc = "field unique per document: makes the cursor survive PIT expiry and new runs"},
    {.key = "incremental", .type = ETL_OPT_MAP,
     .doc = "{field: updated_at, lag: 30s}: read what changed since the last run (needs tiebreaker)"},
    {.key = "slice_id", .type = ETL_OPT_INT, .doc = "this reader's slice of a sliced PIT (0-based)"},
    {.key = "slice_max", .type = ETL_OPT_INT, .doc = "number of slices (2-1024)"},
    {.key = "pit_id", .type = ETL_OPT_STRING,
     .doc = "an open PIT to read (shared by the slices of one snapshot); never closed"},
    {.key = "search_api", .type = ETL_OPT_ENUM, .default_value = "auto",
     .doc = "pit (point in time + search_after), scroll, or auto (pit, else scroll)",
     .choices = "auto|pit|scroll"},
    {.key = "keep_alive", .type = ETL_OPT_DURATION, .default_value = "5m",
     .doc = "how long the PIT or scroll lives between requests"},
    {.key = "array_fields", .type = ETL_OPT_LIST,
     .doc = "mapped fields that hold arrays: read as lists (ES mappings do not say)"},
    {.key = "unmapped", .type = ETL_OPT_ENUM, .default_value = "evolve",
     .doc = "fields in _source but not in the mapping: evolve (new columns) or drop",
     .choices = "evolve|drop"},
    {.key = "id_field", .type = ETL_OPT_STRING,
     .doc = "column that receives each document's _id (none by default)"},
    {.key = "count", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "ask _count first, for progress and ETA"},
    {.key = "prefetch", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "ask for the next page while this one is decoded (one request in flight still)"},
    {.key = NULL},
};

const etl_option_spec es_sink_options[] = {
    {.key = "index", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED, .doc = "index to write"},
    ES_CONNECTION_OPTIONS,
    {.key = "id_field", .type = ETL_OPT_STRING,
     .doc = "column holding each document's _id (default: a hash of the record: idempotent)"},
    {.key = "action", .type = ETL_OPT_ENUM, .default_value = "create",
     .doc = "create (409: already written, skipped) or index (overwrite)",
     .choices = "create|index"},
    {.key = "bulk_bytes", .type = ETL_OPT_SIZE, .default_value = "5MB",
     .doc = "largest _bulk request body"},
    {.key = "refresh", .type = ETL_OPT_BOOL, .default_value = "false",
     .doc = "refresh the index at each commit (visible to searches right away)"},
    {.key = NULL},
};

static const etl_connector es_source_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "elasticsearch",
    .summary = "reads an index with a point in time and search_after (sliced, incremental, "
               "resumable)",
    .options = es_source_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &es_source_vtable,
};

static const etl_connector es_sink_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SINK,
    .name = "elasticsearch",
    .summary = "writes documents with _bulk create and deterministic ids (409: already written)",
    .options = es_sink_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &es_sink_vtable,
};

static const etl_connector *const es_connectors[] = {&es_source_connector, &es_sink_connector,
                                                     NULL};

static const etl_plugin_descriptor es_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 1,         /* http_send */
    .name = "elasticsearch",
    .version = PACKAGE_VERSION,
    .summary = "Elasticsearch and OpenSearch: PIT/search_after source, _bulk sink",
    .connectors = es_connectors,
};

ETL_PLUGIN_DEFINE(elasticsearch, es_descriptor, es_host)
