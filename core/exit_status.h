/* The exit statuses of the etl command (documented in docs/cli.md). */
#ifndef ETL_CORE_EXIT_STATUS_H
#define ETL_CORE_EXIT_STATUS_H

enum etl_exit_status {
    EXIT_OK = 0,                 /* the run finished; everything was written */
    EXIT_FAILURE_RUNTIME = 1,    /* a permanent failure while running */
    EXIT_USAGE = 2,              /* bad command line */
    EXIT_CONFIG = 3,             /* pipeline file: malformed YAML, unknown key, bad value, unknown connector */
    EXIT_PLUGIN = 4,             /* a plugin is missing or was refused (ABI mismatch, missing callback) */
    EXIT_DATA = 5,               /* a malformed input record and no rejects file */
    EXIT_IO = 6,                 /* local I/O: unreadable input, full disk, permission */
    EXIT_RETRIES_EXHAUSTED = 7,  /* a retryable failure persisted past the retry limit */
    EXIT_AUTH = 8,               /* credentials refused */
    EXIT_UNSUPPORTED = 9,        /* the pipeline asks for something not implemented */
    EXIT_STATE = 10,             /* state is corrupt, foreign, or leased by another run */
    EXIT_SUSPENDED = 75,         /* stopped by the time budget; resume to continue (EX_TEMPFAIL) */
    EXIT_INTERRUPTED = 130       /* SIGINT or SIGTERM; nothing half-written is left visible */
};

#endif
