/* Finds, loads and checks plugins (libltdl), and looks connectors up by
 * kind and name. */
#ifndef ETL_CORE_PLUGIN_LOADER_H
#define ETL_CORE_PLUGIN_LOADER_H

#include <etl/plugin.h>

typedef struct loaded_plugin {
    char *path;                          /* the file it came from */
    void *handle;                        /* lt_dlhandle */
    const etl_plugin_descriptor *desc;
} loaded_plugin;

typedef struct plugin_registry plugin_registry;

plugin_registry *registry_new(void);
void registry_free(plugin_registry *reg);

/* Loads one plugin file. On refusal returns ETL_ERR_PERMANENT and writes
 * the reason (ABI mismatch, missing callback, dlerror ...) to err. */
etl_status registry_load_file(plugin_registry *reg, const char *path, char *err, size_t err_len);

/* Checks and registers a descriptor that is already in memory (a plugin
 * linked into the binary, or a test's descriptor); `origin` names it in
 * messages. Same rules and messages as registry_load_file. */
etl_status registry_add_descriptor(plugin_registry *reg, const char *origin,
                                   const etl_plugin_descriptor *desc, char *err, size_t err_len);

/* Loads every plugin in each directory (first one wins for a plugin name).
 * Paths tried and why each failed are appended to `report` (may be NULL). */
etl_status registry_load_dirs(plugin_registry *reg, const char *const *dirs, size_t n_dirs,
                              etl_buf *report);

/* The default search path: ETL_PLUGIN_PATH (colon-separated), then the
 * build tree's plugins/.libs when this binary runs from the build tree,
 * then the installed plugin directory. Returns a NULL-terminated array
 * (free with registry_free_search_path). `extra` (may be NULL) goes first:
 * the pipeline's plugin_path. */
char **registry_search_path(const char *extra);
void registry_free_search_path(char **dirs);

size_t registry_count(const plugin_registry *reg);
const loaded_plugin *registry_at(const plugin_registry *reg, size_t i);

/* The connector of `kind` named `name`, or NULL. */
const etl_connector *registry_find(const plugin_registry *reg, etl_connector_kind kind,
                                   const char *name, const loaded_plugin **owner);

/* Names of all connectors of `kind`, for "did you mean" and listings;
 * NULL-terminated, free the array (not the strings) with free(). */
const char **registry_connector_names(const plugin_registry *reg, etl_connector_kind kind);

const char *connector_kind_name(etl_connector_kind kind);

#endif
