/* Diagnostics on stderr, as text for people or JSON lines for machines. */
#ifndef ETL_CORE_LOG_H
#define ETL_CORE_LOG_H

#include <etl/plugin.h>

typedef enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format;

void log_configure(log_format format, etl_log_level min_level, bool quiet);
log_format log_current_format(void);
bool log_is_quiet(void);
/* `source` names who speaks ("etl", "source file"); may be NULL. */
void log_msg(etl_log_level level, const char *source, const char *fmt, ...) ETL_PRINTF(3, 4);
void log_msgv(etl_log_level level, const char *source, const char *fmt, va_list ap);
/* Called with every message at or above `min_level` (printed or not), so
 * a caller can keep the last error's text (etl lambda puts it in the
 * invocation's errorMessage). NULL removes the hook. */
typedef void (*log_capture_fn)(etl_log_level level, const char *source, const char *message,
                               void *arg);
void log_set_capture(log_capture_fn hook, etl_log_level min_level, void *arg);

/* Hook so the progress line can be cleared before a log line is printed. */
void log_set_before_print(void (*hook)(void));

#endif
