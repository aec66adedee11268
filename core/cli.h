/* Subcommands of the etl command line. */
#ifndef ETL_CORE_CLI_H
#define ETL_CORE_CLI_H

/* etl plugins [--describe NAME]: `plugin_path` (may be NULL) is searched
 * first; `describe_name` NULL lists every plugin. */
int cli_plugins(const char *plugin_path, const char *describe_name);

#endif
