/* An index mapping (GET /{index}/_mapping) as column types.
 *
 *   long, unsigned_long*         int64      (* inferred: values may pass 2^63)
 *   integer, short, byte,
 *   token_count                  int32
 *   double, float, half_float,
 *   scaled_float                 double
 *   boolean                      bool
 *   keyword, text, wildcard,
 *   match_only_text,
 *   constant_keyword, ip,
 *   version, binary              string
 *   date, date_nanos             timestamp (microseconds; date_nanos loses its
 *                                last 3 digits); formats other than ISO 8601 and
 *                                epoch_millis/epoch_second: string
 *   object (properties)          struct
 *   nested                       list of struct
 *   anything else                inferred from the values (geo_point, flattened,
 *                                ranges, dense_vector, join ...)
 *
 * Elasticsearch has no array type: any field may hold several values. Fields
 * named in array_fields become lists of their type (the element type is
 * inferred); a field that holds an array without being named there makes
 * its record fail with a message naming array_fields.
 *
 * Pure parsing plus one function that declares the columns through the
 * host's builder. */
#ifndef ES_MAPPING_H
#define ES_MAPPING_H

#include <etl/plugin.h>

#include "es_json.h"

typedef enum es_date_kind {
    ES_DATE_NONE = 0,
    ES_DATE_TEXT,                /* ISO 8601 text only */
    ES_DATE_MILLIS,              /* ISO 8601 text, or numbers in epoch milliseconds */
    ES_DATE_SECONDS              /* ISO 8601 text, or numbers in epoch seconds */
} es_date_kind;

typedef struct es_field {
    char *name;
    char es_type[32];            /* as in the mapping; "object" for properties without type */
    etl_type type;               /* ETL_TYPE_NULL: left to inference */
    bool list;                   /* nested, or named in array_fields */
    es_date_kind date;
    struct es_field *children;
    size_t count;
} es_field;

typedef struct es_mapping {
    es_field root;               /* the index's top-level fields are root.children */
    bool has_numeric_dates;      /* some date field accepts epoch numbers */
    char **epoch_names;          /* names of those fields, for a quick search */
    size_t epoch_count;
} es_mapping;

/* The etl type of an Elasticsearch field type (no format). */
etl_type es_mapping_type(const char *es_type);
/* How a date field's `format` is read; ES_DATE_NONE for formats that are
 * neither ISO 8601 nor epoch numbers (the field is then a string). */
es_date_kind es_date_format_kind(const char *format);

/* Parses a _mapping reply. Several indices (a pattern, an alias) merge;
 * a field with different types in two indices is left to inference.
 * False with `error` filled on a reply that is not a mapping. */
bool es_mapping_parse(const char *json, size_t len, es_mapping *m, char *error, size_t cap);
void es_mapping_free(es_mapping *m);

/* The field at a dotted path ("brand.name"), or NULL. */
const es_field *es_mapping_find(const es_mapping *m, const char *path);
/* Marks the field at `path` as a list; false when it is not mapped. */
bool es_mapping_mark_list(es_mapping *m, const char *path);

/* Removes the fields that _source filtering (includes, excludes: dotted
 * paths with '*' wildcards, as Elasticsearch applies them) leaves out, so
 * that they do not become columns of nulls. */
void es_mapping_filter(es_mapping *m, const char *const *includes, size_t ninc,
                       const char *const *excludes, size_t nexc);

/* The dotted paths of every mapped leaf, as a JSON array (for _source
 * includes that drop unmapped fields). */
void es_mapping_leaf_paths(const es_mapping *m, es_str *json_array);

/* Declares the columns on a builder. Returns ETL_OK or the builder's
 * failure status (its error is set). */
etl_status es_mapping_declare(const es_mapping *m, const etl_host_api *host, etl_builder *b);

/* Rewrites the numbers held by date fields (epoch millis or seconds) of one
 * _source document into ISO 8601 text, so that the builder reads them as
 * timestamps. Returns false when the document needs no change (out is
 * untouched), true when `out` holds the rewritten document. Callers skip
 * it for documents that name no epoch date field before a number
 * (ej_take_value_watching finds them while the document is skipped). */
bool es_mapping_fix_dates(const es_mapping *m, ej_span doc, es_str *out);
/* Whether `name` (not NUL-terminated) is the name of a date field that
 * accepts epoch numbers. */
bool es_mapping_is_epoch_name(const es_mapping *m, const char *name, size_t len);

#endif
