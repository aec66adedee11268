/* Connector options: a YAML mapping validated against a connector's option
 * schema, read through the opt_* entries of etl_host_api. */
#ifndef ETL_CORE_OPTIONS_H
#define ETL_CORE_OPTIONS_H

#include <etl/plugin.h>
#include "yaml_doc.h"

/* Validates `node` (a mapping, may be NULL for "no options") against the
 * schema. Unknown keys, wrong types, missing required keys: returns NULL
 * and appends one "file:line:col: message" line per problem to `errors`.
 * `skip_keys` (NULL-terminated, may be NULL) are keys the host consumes
 * itself (type, ...), which are not validated; a "*" among them lets every
 * key the schema does not know through (a connector's own options handed to
 * a format). The node is copied: the caller keeps ownership of its tree.
 * Messages in `errors` are separated by newlines, with none at the end. */
etl_options *options_from_node(const etl_connector *connector, const ynode *node,
                               const char *const *skip_keys, etl_buf *errors);

/* Convenience for tests and the conformance suite: parses `yaml_text` (a
 * mapping) and validates it. */
etl_options *options_from_string(const etl_connector *connector, const char *yaml_text,
                                 const char *origin, etl_buf *errors);

void options_free(etl_options *opts);

/* The option getters of etl_host_api. */
const char *options_string(const etl_options *o, const char *key);
bool options_int(const etl_options *o, const char *key, int64_t *out);
bool options_double(const etl_options *o, const char *key, double *out);
bool options_bool(const etl_options *o, const char *key, bool *out);
bool options_duration_ms(const etl_options *o, const char *key, int64_t *out);
bool options_size(const etl_options *o, const char *key, int64_t *out);
bool options_is_set(const etl_options *o, const char *key);
size_t options_list_count(const etl_options *o, const char *key);
const char *options_list_item(const etl_options *o, const char *key, size_t i);
const etl_options *options_map(const etl_options *o, const char *key);
size_t options_map_count(const etl_options *o);
const char *options_map_key(const etl_options *o, size_t i);
const char *options_map_value(const etl_options *o, size_t i);
const char *options_where(const etl_options *o, const char *key);
/* The mapping node behind the options (NULL for none). */
const ynode *options_node(const etl_options *o);

#endif
