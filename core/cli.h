/* Subcommands of the etl command line. */
#ifndef ETL_CORE_CLI_H
#define ETL_CORE_CLI_H

/* etl plugins [--describe NAME]: `plugin_path` (may be NULL) is searched
 * first; `describe_name` NULL lists every plugin. */
int cli_plugins(const char *plugin_path, const char *describe_name);

#include "pipeline.h"

/* etl state show|reset|rewind FILE [--to SEQ | --steps N] */
int cli_state(const pipeline *p, const char *action, long long to_sequence, long long steps);

#endif
