/* Tokenizer vs cJSON_Parse on NDJSON of e-commerce product documents.
 *
 *   json_tokenizer_bench [megabytes] [runs]
 *
 * Generates the documents in memory from a fixed seed (about 1 KB each:
 * nested objects, arrays of objects, int64 ids, prices, strings with some
 * escapes and non-ASCII text), then times, in turn and in the same process,
 * the tokenizer (every token of every line) and cJSON_ParseWithLength +
 * cJSON_Delete (every line), `runs` times each, and prints the medians and
 * their ratio. Built by bench/json_tokenizer.sh. */
#include "json_tokenizer.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)n + 1;
        t->data = realloc(t->data, t->cap);
        if (t->data == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int pick(int n)
{
    return (int)(rng() % (uint64_t)n);
}

static const char *const words[] = {
    "ultra", "light", "steel", "cotton", "organic", "wireless", "compact", "pro",
    "classic", "smart", "eco", "vintage", "premium", "outdoor", "kids", "travel",
    "café", "größe", "naïve", "日本", "fast", "blue", "silent", "heavy-duty",
};
static const char *const colors[] = {"red", "blue", "green", "black", "white", "grey"};
static const char *const sizes[] = {"XS", "S", "M", "L", "XL"};
static const char *const countries[] = {"DE", "FR", "US", "JP", "IT", "ES", "SE"};

static void add_words(text *t, int n)
{
    for (int k = 0; k < n; k++)
        add(t, "%s%s", k ? " " : "", words[pick(24)]);
}

static void add_price(text *t)
{
    add(t, "%d.%02d", 1 + pick(2000), pick(100));
}

static void add_product(text *t, int64_t id)
{
    add(t, "{\"id\":%lld,\"sku\":\"SKU-%08d\",\"name\":\"", (long long)(id * 7919 + 4000000000LL),
        pick(100000000));
    add_words(t, 3);
    add(t, "\",\"description\":\"The \\\"");
    add_words(t, 2);
    add(t, "\\\" edition.\\nMade with ");
    add_words(t, 6);
    add(t, " \\u2013 ships in %d days.\",\"price\":", 1 + pick(9));
    add_price(t);
    add(t, ",\"currency\":\"EUR\",\"in_stock\":%s,\"stock\":%d,\"rating\":%d.%d,\"reviews\":%d,",
        pick(5) ? "true" : "false", pick(5000), pick(5), pick(10), pick(20000));
    add(t, "\"tags\":[");
    int ntags = 2 + pick(4);
    for (int k = 0; k < ntags; k++)
        add(t, "%s\"%s\"", k ? "," : "", words[pick(24)]);
    add(t, "],\"brand\":{\"id\":%d,\"name\":\"", pick(5000));
    add_words(t, 2);
    add(t, "\",\"country\":\"%s\"},\"categories\":[", countries[pick(7)]);
    int ncat = 1 + pick(3);
    for (int k = 0; k < ncat; k++)
        add(t, "%s{\"id\":%d,\"name\":\"%s\",\"path\":\"/%s/%s\"}", k ? "," : "", pick(900),
            words[pick(24)], words[pick(24)], words[pick(24)]);
    add(t, "],\"variants\":[");
    int nvar = 1 + pick(3);
    for (int k = 0; k < nvar; k++) {
        add(t, "%s{\"sku\":\"SKU-%08d-%d\",\"color\":\"%s\",\"size\":\"%s\",\"price\":", k ? "," : "",
            pick(100000000), k, colors[pick(6)], sizes[pick(5)]);
        add_price(t);
        add(t, ",\"stock\":%d,\"weight_kg\":%d.%03d,\"dimensions\":{\"w\":%d,\"h\":%d,\"d\":%d}}",
            pick(500), pick(20), pick(1000), 1 + pick(100), 1 + pick(100), 1 + pick(100));
    }
    add(t, "],\"seller\":{\"id\":%lld,\"name\":\"", (long long)(rng() >> 1));
    add_words(t, 2);
    add(t, " GmbH\",\"rating\":%d.%d},\"discount\":%s,\"created_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\","
           "\"updated_at\":\"2024-12-%02dT10:%02d:00.123Z\",\"active\":true}\n",
        pick(5), pick(10), pick(3) ? "null" : "0.15", 1 + pick(12), 1 + pick(28), pick(24),
        pick(60), pick(60), 1 + pick(28), pick(60));
}

/* ------------------------------------------------------------------------ */
/* Timing                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct line {
    const char *p;
    size_t len;
} line;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t run_tokenizer(const line *lines, size_t n)
{
    jt_tokenizer t;
    jt_init(&t);
    uint64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        jt_reset(&t, lines[k].p, lines[k].len);
        jt_token tok;
        while ((tok = jt_next(&t)) > JT_END)
            sum += (uint64_t)tok + (tok == JT_INT ? (uint64_t)t.i : 0) +
                   (tok == JT_STRING || tok == JT_KEY ? t.len : 0);
        if (tok == JT_ERROR) {
            char msg[256];
            jt_format_error(&t, msg, sizeof msg);
            fprintf(stderr, "line %zu: %s\n", k + 1, msg);
            exit(1);
        }
    }
    jt_free(&t);
    return sum;
}

static uint64_t run_cjson(const line *lines, size_t n)
{
    uint64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        cJSON *doc = cJSON_ParseWithLength(lines[k].p, lines[k].len);
        if (doc == NULL) {
            fprintf(stderr, "cJSON failed on line %zu\n", k + 1);
            exit(1);
        }
        sum += (uint64_t)cJSON_GetArraySize(doc);
        cJSON_Delete(doc);
    }
    return sum;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    size_t megabytes = argc > 1 ? (size_t)atol(argv[1]) : 100;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100)
        runs = 5;
    text data = {malloc(1 << 20), 0, 1 << 20};
    int64_t docs = 0;
    while (data.len < megabytes << 20)
        add_product(&data, ++docs);

    line *lines = malloc((size_t)docs * sizeof *lines);
    size_t n = 0;
    for (const char *p = data.data, *end = data.data + data.len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lines[n].p = p;
        lines[n].len = (size_t)(nl - p);
        n++;
        p = nl + 1;
    }
    printf("data: %zu documents, %.1f MB, %.0f bytes per document\n", n, data.len / 1048576.0,
           (double)data.len / (double)n);

    double tok_times[100], cjson_times[100];
    uint64_t check = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        check += run_tokenizer(lines, n);
        double t1 = now();
        check += run_cjson(lines, n);
        double t2 = now();
        tok_times[r] = t1 - t0;
        cjson_times[r] = t2 - t1;
        printf("run %d: tokenizer %.3f s, cJSON %.3f s\n", r + 1, tok_times[r], cjson_times[r]);
    }
    double tok = median(tok_times, runs), cj = median(cjson_times, runs);
    double mb = data.len / 1048576.0;
    printf("tokenizer median: %.3f s (%.0f MB/s, %.0f docs/s)\n", tok, mb / tok, (double)n / tok);
    printf("cJSON_Parse median: %.3f s (%.0f MB/s, %.0f docs/s)\n", cj, mb / cj, (double)n / cj);
    printf("tokenizer/cJSON speed ratio: %.1fx\n", cj / tok);
    printf("(checksum %llu)\n", (unsigned long long)check);
    free(lines);
    free(data.data);
    return 0;
}
