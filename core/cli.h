/* Subcommands of the etl command line. */
#ifndef ETL_CORE_CLI_H
#define ETL_CORE_CLI_H

/* etl plugins [--describe NAME] [--plugin-path DIRS] */
int cli_plugins(int argc, char **argv);

#endif
