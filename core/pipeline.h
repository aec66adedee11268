/* A pipeline file turned into a plan: which connector runs at each stage,
 * with validated options, and the run's batch, throttle and retry settings. */
#ifndef ETL_CORE_PIPELINE_H
#define ETL_CORE_PIPELINE_H

#include <etl/plugin.h>

#include "plugin_loader.h"
#include "yaml_doc.h"

typedef struct stage {
    const etl_connector *connector;
    const loaded_plugin *plugin;
    etl_options *options;
    char label[96];              /* "source file", "transform select#1" */
} stage;

typedef struct pipeline {
    char *name;
    char *path;
    ynode *doc;
    plugin_registry *registry;
    stage source;
    stage *transforms;
    size_t transform_count;
    stage sink;
    int64_t batch_records;
    int64_t batch_bytes;
    int64_t batch_prefetch;      /* batches read ahead on a reader thread (0: none) */
    double requests_per_second;
    double records_per_second;
    int64_t max_in_flight;
    bool throttle_adaptive;      /* the closed loop (AIMD) may lower the request rate */
    int64_t retry_max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    char *rejects_path;
    /* checkpoint: (a budget implies checkpoints with the defaults) */
    bool checkpointing;
    int64_t checkpoint_every_records;   /* 0: not by records */
    int64_t checkpoint_every_bytes;
    int64_t checkpoint_every_ms;
    stage state_store;
    char state_key[256];         /* "<pipeline>/<partition>" */
    int64_t budget_ms;           /* 0: none (the command line may set one) */
} pipeline;

/* Loads and validates a pipeline file: YAML, plugins, connectors, options.
 * On failure returns NULL, appends one line per problem to `errors` and sets
 * *exit_status (EXIT_CONFIG, EXIT_PLUGIN, EXIT_IO, EXIT_UNSUPPORTED).
 * `plugin_path` (may be NULL) is searched before everything else. */
pipeline *pipeline_load(const char *path, const char *plugin_path, etl_buf *errors,
                        int *exit_status);
void pipeline_free(pipeline *p);

#endif
