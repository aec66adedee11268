#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"

static log_format current_format = LOG_FORMAT_TEXT;
static etl_log_level current_min_level = ETL_LOG_INFO;
static bool current_quiet = false;
static void (*before_print)(void);
/* Lines from the reader thread and the pipeline thread never interleave. */
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static log_capture_fn capture;
static etl_log_level capture_level;
static void *capture_arg;

void log_set_capture(log_capture_fn hook, etl_log_level min_level, void *arg)
{
    capture = hook;
    capture_level = min_level;
    capture_arg = arg;
}

void log_configure(log_format format, etl_log_level min_level, bool quiet)
{
    current_format = format;
    current_min_level = min_level;
    current_quiet = quiet;
}

log_format log_current_format(void) { return current_format; }
bool log_is_quiet(void) { return current_quiet; }
void log_set_before_print(void (*hook)(void)) { before_print = hook; }

static const char *level_name(etl_log_level level)
{
    switch (level) {
    case ETL_LOG_DEBUG: return "debug";
    case ETL_LOG_INFO: return "info";
    case ETL_LOG_WARN: return "warning";
    case ETL_LOG_ERROR: return "error";
    }
    return "info";
}

static void append_json_string(etl_buf *out, const char *s)
{
    buf_append_char(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf_append_char(out, '\\');
            buf_append_char(out, (char)c);
        } else if (c < 0x20) {
            buf_printf(out, "\\u%04x", c);
        } else {
            buf_append_char(out, (char)c);
        }
    }
    buf_append_char(out, '"');
}

void log_msgv(etl_log_level level, const char *source, const char *fmt, va_list ap)
{
    bool captured = capture && level >= capture_level;
    /* --quiet keeps errors: a failing run must always say why. */
    if (!captured && (level < current_min_level || (current_quiet && level < ETL_LOG_ERROR)))
        return;
    etl_buf message = {0};
    buf_vprintf(&message, fmt, ap);
    pthread_mutex_lock(&print_lock);
    if (captured)
        capture(level, source, buf_cstr(&message), capture_arg);
    pthread_mutex_unlock(&print_lock);
    if (level < current_min_level || (current_quiet && level < ETL_LOG_ERROR)) {
        buf_free(&message);
        return;
    }
    etl_buf line = {0};
    if (current_format == LOG_FORMAT_JSON) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        buf_printf(&line, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, now.tv_nsec / 1000000, level_name(level));
        if (source) {
            buf_append_str(&line, ",\"source\":");
            append_json_string(&line, source);
        }
        buf_append_str(&line, ",\"message\":");
        append_json_string(&line, buf_cstr(&message));
        buf_append_str(&line, "}\n");
    } else {
        buf_append_str(&line, "etl: ");
        if (source && strcmp(source, "etl") != 0)
            buf_printf(&line, "%s: ", source);
        if (level != ETL_LOG_INFO)
            buf_printf(&line, "%s: ", level_name(level));
        buf_printf(&line, "%s\n", buf_cstr(&message));
    }
    pthread_mutex_lock(&print_lock);
    if (before_print)
        before_print();
    fputs(buf_cstr(&line), stderr);
    fflush(stderr);
    pthread_mutex_unlock(&print_lock);
    buf_free(&line);
    buf_free(&message);
}

void log_msg(etl_log_level level, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(level, source, fmt, ap);
    va_end(ap);
}
