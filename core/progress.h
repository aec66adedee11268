/* The progress line on a terminal and the one-line summary at the end. */
#ifndef ETL_CORE_PROGRESS_H
#define ETL_CORE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct progress {
    bool live;                   /* redraw a line on stderr (a terminal, not --quiet) */
    int64_t start_us;
    int64_t last_draw_us;
    int64_t total_records;       /* -1 unknown */
    bool drawn;
} progress;

void progress_start(progress *p, bool live);
void progress_set_total(progress *p, int64_t total);
/* Redraws at most four times a second. */
void progress_update(progress *p, int64_t records, int64_t bytes, bool force);
void progress_clear(void);
double progress_elapsed_s(const progress *p);
/* "1.2 MB", "3.4 GB". */
void format_bytes(char *out, size_t len, double bytes);
/* "1:02:03" or "02:03". */
void format_duration(char *out, size_t len, double seconds);

#endif
