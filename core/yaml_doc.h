/* A YAML document as a small tree that remembers where every node came
 * from (file:line:column), with ${VAR} and ${VAR:-default} substituted in
 * scalars. Built with libyaml's event parser. */
#ifndef ETL_CORE_YAML_DOC_H
#define ETL_CORE_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <etl/plugin.h>

typedef enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ } ynode_kind;

typedef struct ynode {
    ynode_kind kind;
    char *value;                 /* scalars, after substitution */
    bool quoted;                 /* written with quotes: always a string */
    const char *file;            /* shared, owned by the root */
    int line;                    /* 1-based */
    int column;                  /* 1-based */
    size_t count;                /* items of a sequence, pairs of a mapping */
    struct ynode **items;        /* sequence items, or mapping values */
    struct ynode **keys;         /* mapping keys (scalars) */
    char *file_owned;            /* set on the root only */
} ynode;

/* Parse a file or a string. On failure returns NULL and appends
 * "file:line:col: message" to err. */
ynode *ydoc_load_file(const char *path, etl_buf *err);
ynode *ydoc_load_string(const char *text, size_t len, const char *origin, etl_buf *err);
void ynode_free(ynode *node);

/* The value under `key` in a mapping, or NULL. */
const ynode *ynode_get(const ynode *map, const char *key);
/* "file:line:col" of a node, into buf. */
const char *ynode_where(const ynode *node, char *buf, size_t len);
const char *ynode_kind_name(ynode_kind kind);

#endif
