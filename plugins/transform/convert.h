/* Scalar values read from Arrow columns, and the conversions between them
 * that cast and the expression language share: ISO 8601 dates and
 * timestamps, exact number text, decimal text. No host services are used,
 * so this file is unit-testable on its own. */
#ifndef TX_CONVERT_H
#define TX_CONVERT_H

#include <etl/plugin.h>

typedef enum cv_type {
    CV_NULL = 0,         /* type unknown ("n" column, null literal) */
    CV_BOOL,
    CV_INT,              /* int64 */
    CV_DOUBLE,
    CV_STRING,           /* utf8 or binary bytes */
    CV_TIMESTAMP,        /* microseconds since 1970-01-01T00:00:00Z */
    CV_DATE,             /* days since 1970-01-01 */
    CV_DECIMAL,          /* exact decimal text in s.p/s.len */
    CV_UNSUPPORTED       /* struct, list, map ...: not a scalar */
} cv_type;

typedef struct cv_value {
    cv_type type;
    bool is_null;
    union {
        bool b;
        int64_t i;       /* CV_INT, CV_TIMESTAMP */
        double d;
        int32_t date;
        struct {
            const char *p;
            size_t len;
        } s;             /* CV_STRING, CV_DECIMAL */
    } u;
} cv_value;

/* Room for any decimal128 as text: sign, 39 digits, point, NUL. */
#define CV_DECIMAL_TEXT_MAX 48
/* Room for any value of a fixed-width type as text. */
#define CV_TEXT_MAX 64

/* The scalar type an Arrow format string maps to. */
cv_type cv_column_type(const char *format);
const char *cv_type_name(cv_type t);

/* Reads element `idx` of `a` (the index already includes the offsets of
 * enclosing structs; a's own offset is applied here). Decimal text is
 * written to `scratch` (CV_DECIMAL_TEXT_MAX bytes). Validity is the
 * caller's business: this reads the slot as-is. */
void cv_read(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t idx,
             cv_type type, char *scratch, cv_value *out);

/* ---- calendar ---------------------------------------------------------- */
int64_t cv_days_from_civil(int64_t y, unsigned m, unsigned d);
void cv_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
int64_t cv_floor_div(int64_t a, int64_t b);

/* "YYYY-MM-DD", optionally followed by [T or space]HH:MM[:SS[.frac]] and a
 * zone (Z, +HH:MM, +HHMM, +HH). No zone means UTC. */
bool cv_parse_timestamp(const char *s, size_t len, int64_t *us);
/* A date, or a timestamp whose UTC day is taken. */
bool cv_parse_date(const char *s, size_t len, int32_t *days);

/* Text forms; return the length written (buffers of CV_TEXT_MAX bytes). */
size_t cv_format_date(int64_t days, char *out);
/* "2024-05-01T10:20:30Z", with ".mmm" or ".uuuuuu" only when the fraction
 * is not zero (as the host's JSON writer prints timestamps). */
size_t cv_format_timestamp(int64_t us, char *out);
/* The shortest text that reads back as the same double ("0.1", "1e+20"). */
size_t cv_format_double(double v, char *out);
size_t cv_format_int(int64_t v, char *out);

/* ---- conversions (false: not representable; *why says why) ----------- */
bool cv_to_int(const cv_value *v, int64_t *out, const char **why);
bool cv_to_double(const cv_value *v, double *out, const char **why);
bool cv_to_bool(const cv_value *v, bool *out, const char **why);
bool cv_to_timestamp(const cv_value *v, int64_t *out, const char **why);
bool cv_to_date(const cv_value *v, int32_t *out, const char **why);
/* Text of any scalar; points either into the value or into `buf`
 * (CV_TEXT_MAX bytes). */
void cv_to_text(const cv_value *v, char *buf, const char **p, size_t *len);
/* Decimal text with at most `scale` fraction digits (rounded half away
 * from zero) and at most precision - scale integer digits, into `out`
 * (CV_DECIMAL_TEXT_MAX bytes). */
bool cv_to_decimal(const cv_value *v, int precision, int scale, char *out, size_t *out_len,
                   const char **why);

#endif
