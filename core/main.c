/* The etl command: run, validate, plugins. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "exit_status.h"
#include "lambda_runtime.h"
#include "log.h"
#include "pipeline.h"
#include "runner.h"
#include "strutil.h"
#include "throttle.h"

static const char usage_text[] =
    "Usage: etl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Moves data from sources (files, Elasticsearch, ...) through transforms into sinks\n"
    "(files, S3, ...), as a pipeline described in a YAML file.\n"
    "\n"
    "Commands:\n"
    "  run FILE              run the pipeline in FILE\n"
    "  validate FILE         check FILE (YAML, plugins, options) without running it\n"
    "  plugins               list plugins: path, version, ABI, connectors\n"
    "  plugins --describe NAME\n"
    "                        the options of a plugin or connector, with types and defaults\n"
    "  state show FILE       print the pipeline's state (cursor, checkpoints, counters)\n"
    "  state reset FILE      forget the state: the next run starts from the beginning\n"
    "  state rewind FILE [--to SEQ | --steps N]\n"
    "                        go back to an earlier checkpoint (default: one step)\n"
    "  lambda                the AWS Lambda custom runtime (bootstrap): serves invocations\n"
    "                        from AWS_LAMBDA_RUNTIME_API, one pipeline slice each\n"
    "                        (docs/lambda.md)\n"
    "\n"
    "Options:\n"
    "  -q, --quiet           print errors only (no progress, no summary)\n"
    "      --time-budget D   stop cleanly before D (30s, 14m30s) has passed, checkpoint, and\n"
    "                        exit 75 with a continuation token on stdout\n"
    "      --until-done      with a budget: run slice after slice until the source is done\n"
    "      --log-format F    text (default) or json (one JSON object per line)\n"
    "  -v, --verbose         print debug messages\n"
    "      --plugin-path DIRS\n"
    "                        search these directories (colon-separated) for plugins first\n"
    "  -h, --help            show this help\n"
    "  -V, --version         show the version\n"
    "\n"
    "Plugins are searched in --plugin-path, the pipeline's plugin_path, ETL_PLUGIN_PATH,\n"
    "then the installed plugin directory.\n"
    "\n"
    "Exit status:\n"
    "  0  success                     5  malformed input record (no rejects file)\n"
    "  1  failure while running       6  I/O error (unreadable input, full disk)\n"
    "  2  bad command line            7  a retryable error outlasted the retries\n"
    "  3  invalid pipeline file       8  credentials refused\n"
    "  4  plugin missing or refused   9  not supported\n"
    " 10  state corrupt, foreign or leased by another run\n"
    " 75  suspended by the time budget: run again to resume\n"
    "130  interrupted\n"
    "\n"
    "Documentation: docs/ in the source tree (cli.md, pipelines.md, plugin-abi.md).\n";

static void on_signal(int signo)
{
    (void)signo;
    run_interrupted = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct global_options {
    bool quiet;
    bool verbose;
    bool until_done;
    log_format format;
    const char *plugin_path;
    int64_t budget_ms;
    long long rewind_to;
    long long rewind_steps;
    int64_t started_us;
} global_options;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "etl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'etl --help'.\n");
    return EXIT_USAGE;
}

static int load_pipeline(const char *path, const global_options *g, pipeline **out)
{
    etl_buf errors = {0};
    int status = EXIT_OK;
    *out = pipeline_load(path, g->plugin_path, &errors, &status);
    if (*out == NULL) {
        /* Each line already says file:line:col. */
        const char *text = buf_cstr(&errors);
        while (*text) {
            const char *nl = strchr(text, '\n');
            size_t len = nl ? (size_t)(nl - text) : strlen(text);
            log_msg(ETL_LOG_ERROR, "etl", "%.*s", (int)len, text);
            text += len + (nl ? 1 : 0);
        }
    }
    buf_free(&errors);
    return status;
}

static int command_validate(const char *path, const global_options *g)
{
    pipeline *p = NULL;
    int status = load_pipeline(path, g, &p);
    if (p == NULL)
        return status;
    if (!g->quiet) {
        printf("%s: OK: pipeline '%s', source %s, %zu transform%s, sink %s\n", path, p->name,
               p->source.connector->name, p->transform_count, p->transform_count == 1 ? "" : "s",
               p->sink.connector->name);
    }
    pipeline_free(p);
    return EXIT_OK;
}

static void print_token(const pipeline *p, const run_result *result)
{
    etl_buf token = {0};
    run_result_token(p, result, &token);
    printf("%s\n", buf_cstr(&token));
    fflush(stdout);
    buf_free(&token);
}

static int command_run(const char *path, const global_options *g)
{
    pipeline *p = NULL;
    int status = load_pipeline(path, g, &p);
    if (p == NULL)
        return status;
    if ((g->budget_ms > 0 || g->until_done) && !p->checkpointing) {
        /* A budget needs somewhere to resume from: checkpoints with the
         * defaults (docs/checkpoints.md). */
        p->checkpointing = true;
        const etl_source_vtable *svt = p->source.connector->vtable;
        if (svt->checkpoint == NULL || svt->restore == NULL) {
            log_msg(ETL_LOG_ERROR, "etl",
                    "source '%s' cannot be resumed, so it cannot run with a time budget "
                    "(not supported)",
                    p->source.connector->name);
            pipeline_free(p);
            return EXIT_UNSUPPORTED;
        }
    }
    install_signal_handlers();
    run_options options = {.quiet = g->quiet,
                           .progress_on_terminal = isatty(STDERR_FILENO) &&
                                                   g->format == LOG_FORMAT_TEXT,
                           .budget_ms = g->budget_ms,
                           .started_us = g->started_us};
    run_result result;
    status = run_pipeline(p, &options, &result);
    while (status == EXIT_SUSPENDED && g->until_done && !run_interrupted) {
        print_token(p, &result);
        options.started_us = 0; /* each slice gets a whole budget */
        status = run_pipeline(p, &options, &result);
    }
    /* Every run under a budget says where it stands, so a driver (a shell
     * loop, Step Functions) can read "done" from the last one too. */
    bool budgeted = g->budget_ms > 0 || p->budget_ms > 0 || g->until_done;
    if (status == EXIT_SUSPENDED || (budgeted && status == EXIT_OK))
        print_token(p, &result);
    pipeline_free(p);
    return status;
}

static int command_state(const char *action, const char *path, const global_options *g)
{
    pipeline *p = NULL;
    int status = load_pipeline(path, g, &p);
    if (p == NULL)
        return status;
    status = cli_state(p, action, g->rewind_to, g->rewind_steps);
    pipeline_free(p);
    return status;
}

int main(int argc, char **argv)
{
    enum { OPT_LOG_FORMAT = 256, OPT_PLUGIN_PATH, OPT_DESCRIBE, OPT_BUDGET, OPT_UNTIL_DONE,
           OPT_TO, OPT_STEPS };
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
        {"describe", required_argument, NULL, OPT_DESCRIBE},
        {"time-budget", required_argument, NULL, OPT_BUDGET},
        {"until-done", no_argument, NULL, OPT_UNTIL_DONE},
        {"to", required_argument, NULL, OPT_TO},
        {"steps", required_argument, NULL, OPT_STEPS},
        {NULL, 0, NULL, 0},
    };
    global_options g = {.format = LOG_FORMAT_TEXT, .rewind_to = -1, .rewind_steps = 1,
                        .started_us = monotonic_us()};
    const char *describe_name = NULL;
    int c;
    /* Options may come before or after the command (etl run x.yaml -q). */
    while ((c = getopt_long(argc, argv, "hVqv", long_options, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        case 'V':
            printf("etl %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, ETL_ABI_MAJOR, ETL_ABI_MINOR);
            return EXIT_OK;
        case 'q': g.quiet = true; break;
        case 'v': g.verbose = true; break;
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "json") == 0)
                g.format = LOG_FORMAT_JSON;
            else if (strcmp(optarg, "text") == 0)
                g.format = LOG_FORMAT_TEXT;
            else
                return usage_error("--log-format takes 'text' or 'json', not '%s'", optarg);
            break;
        case OPT_PLUGIN_PATH: g.plugin_path = optarg; break;
        case OPT_DESCRIBE: describe_name = optarg; break;
        case OPT_BUDGET:
            if (!parse_duration_ms(optarg, &g.budget_ms) || g.budget_ms <= 0)
                return usage_error("--time-budget takes a duration such as 30s or 14m30s, not '%s'",
                                   optarg);
            break;
        case OPT_UNTIL_DONE: g.until_done = true; break;
        case OPT_TO:
        case OPT_STEPS: {
            int64_t n;
            if (!parse_int64(optarg, &n) || n < 0)
                return usage_error("--to and --steps take a whole number, not '%s'", optarg);
            if (c == OPT_TO)
                g.rewind_to = n;
            else
                g.rewind_steps = n;
            break;
        }
        default: fputs("Try 'etl --help'.\n", stderr); return EXIT_USAGE;
        }
    }
    log_configure(g.format, g.verbose ? ETL_LOG_DEBUG : ETL_LOG_INFO, g.quiet);
    if (optind >= argc)
        return usage_error("%s", "no command given (run, validate, plugins)");
    const char *command = argv[optind];
    int rest = argc - optind;
    char **args = argv + optind;
    if (strcmp(command, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (describe_name && strcmp(command, "plugins") != 0)
        return usage_error("%s", "--describe goes with the plugins command");
    if (strcmp(command, "plugins") == 0) {
        if (rest != 1)
            return usage_error("unexpected argument '%s' (etl plugins [--describe NAME])",
                               args[1]);
        return cli_plugins(g.plugin_path, describe_name);
    }
    if (strcmp(command, "run") == 0 || strcmp(command, "validate") == 0) {
        if (rest != 2)
            return usage_error("'%s' takes one pipeline file", command);
        if (command[0] == 'r')
            return command_run(args[1], &g);
        return command_validate(args[1], &g);
    }
    if (strcmp(command, "state") == 0) {
        if (rest != 3)
            return usage_error("%s", "usage: etl state show|reset|rewind FILE");
        return command_state(args[1], args[2], &g);
    }
    if (strcmp(command, "lambda") == 0) {
        if (rest != 1)
            return usage_error("unexpected argument '%s' (etl lambda takes none: the events "
                               "name the pipeline)",
                               args[1]);
        lambda_options lambda = {.plugin_path = g.plugin_path, .quiet = g.quiet};
        return lambda_main(&lambda);
    }
    return usage_error("unknown command '%s' (run, validate, plugins, state, lambda)", command);
}
