#include "progress.h"

#include <stdio.h>

#include "throttle.h"

static bool line_on_screen;

void progress_clear(void)
{
    if (line_on_screen) {
        fputs("\r\033[K", stderr);
        line_on_screen = false;
    }
}

void progress_start(progress *p, bool live)
{
    p->live = live;
    p->start_us = monotonic_us();
    p->last_draw_us = 0;
    p->total_records = -1;
    p->drawn = false;
}

void progress_set_total(progress *p, int64_t total) { p->total_records = total; }

double progress_elapsed_s(const progress *p)
{
    return (double)(monotonic_us() - p->start_us) / 1e6;
}

void format_bytes(char *out, size_t len, double bytes)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    int unit = 0;
    while (bytes >= 1000 && unit < 4) {
        bytes /= 1000;
        unit++;
    }
    snprintf(out, len, unit ? "%.1f %s" : "%.0f %s", bytes, units[unit]);
}

void format_duration(char *out, size_t len, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(out, len, "%02ld:%02ld", s / 60, s % 60);
}

void progress_update(progress *p, int64_t records, int64_t bytes, bool force)
{
    if (!p->live)
        return;
    int64_t now = monotonic_us();
    if (!force && now - p->last_draw_us < 250000)
        return;
    p->last_draw_us = now;
    double elapsed = (double)(now - p->start_us) / 1e6;
    double rate = elapsed > 0 ? (double)records / elapsed : 0;
    char size[32], took[32], eta[48] = "";
    format_bytes(size, sizeof size, (double)bytes);
    format_duration(took, sizeof took, elapsed);
    if (p->total_records > 0 && rate > 0 && records <= p->total_records) {
        char left[32];
        format_duration(left, sizeof left, (double)(p->total_records - records) / rate);
        snprintf(eta, sizeof eta, "  %.0f%%  ETA %s",
                 100.0 * (double)records / (double)p->total_records, left);
    }
    fprintf(stderr, "\r\033[K%lld records  %.0f rec/s  %s  %s%s", (long long)records, rate, size,
            took, eta);
    fflush(stderr);
    line_on_screen = true;
    p->drawn = true;
}
