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
/* Hook so the progress line can be cleared before a log line is printed. */
void log_set_before_print(void (*hook)(void));

#endif
