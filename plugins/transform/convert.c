/* Scalar conversions shared by cast and the expression language. */
#include "convert.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define US_PER_SECOND INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SECOND)

/* ---- reading Arrow cells ---------------------------------------------- */

cv_type cv_column_type(const char *format)
{
    if (format == NULL)
        return CV_UNSUPPORTED;
    if (strcmp(format, "n") == 0)
        return CV_NULL;
    if (strcmp(format, "b") == 0)
        return CV_BOOL;
    if (strchr("csil", format[0]) && format[1] == '\0')
        return CV_INT;
    if (strchr("CSI", format[0]) && format[1] == '\0')
        return CV_INT;
    if ((format[0] == 'f' || format[0] == 'g') && format[1] == '\0')
        return CV_DOUBLE;
    if ((format[0] == 'u' || format[0] == 'z') && format[1] == '\0')
        return CV_STRING;
    if (strncmp(format, "ts", 2) == 0 && strchr("smun", format[2]) && format[2] != '\0' &&
        format[3] == ':')
        return CV_TIMESTAMP;
    if (strcmp(format, "tdD") == 0 || strcmp(format, "tdm") == 0)
        return CV_DATE;
    if (strncmp(format, "d:", 2) == 0) {
        /* "d:P,S" or "d:P,S,128"; other bit widths are not read. */
        const char *comma = strchr(format, ',');
        const char *bits = comma ? strchr(comma + 1, ',') : NULL;
        if (comma != NULL && (bits == NULL || strcmp(bits, ",128") == 0))
            return CV_DECIMAL;
    }
    return CV_UNSUPPORTED;
}

const char *cv_type_name(cv_type t)
{
    switch (t) {
    case CV_NULL: return "null";
    case CV_BOOL: return "bool";
    case CV_INT: return "int64";
    case CV_DOUBLE: return "double";
    case CV_STRING: return "string";
    case CV_TIMESTAMP: return "timestamp";
    case CV_DATE: return "date";
    case CV_DECIMAL: return "decimal";
    case CV_UNSUPPORTED: break;
    }
    return "nested";
}

static int64_t read_signed(const char *format, const struct ArrowArray *a, int64_t idx)
{
    int64_t j = idx + a->offset;
    switch (format[0]) {
    case 'c': return ((const int8_t *)a->buffers[1])[j];
    case 'C': return ((const uint8_t *)a->buffers[1])[j];
    case 's': return ((const int16_t *)a->buffers[1])[j];
    case 'S': return ((const uint16_t *)a->buffers[1])[j];
    case 'i': return ((const int32_t *)a->buffers[1])[j];
    case 'I': return ((const uint32_t *)a->buffers[1])[j];
    default: return ((const int64_t *)a->buffers[1])[j];
    }
}

static int64_t timestamp_to_us(char unit, int64_t v)
{
    switch (unit) {
    case 's': return v > INT64_MAX / US_PER_SECOND || v < INT64_MIN / US_PER_SECOND
                         ? (v > 0 ? INT64_MAX : INT64_MIN) : v * US_PER_SECOND;
    case 'm': return v > INT64_MAX / 1000 || v < INT64_MIN / 1000
                         ? (v > 0 ? INT64_MAX : INT64_MIN) : v * 1000;
    case 'n': return cv_floor_div(v, 1000);
    default: return v;
    }
}

/* Decimal scale from "d:P,S[,bits]". */
static int decimal_scale(const char *format)
{
    const char *comma = strchr(format, ',');
    return comma ? atoi(comma + 1) : 0;
}

static size_t decimal128_text(uint64_t lo, int64_t hi, int scale, char *out)
{
    bool negative = hi < 0;
    if (negative) {              /* two's complement negate */
        lo = ~lo + 1;
        hi = (int64_t)(~(uint64_t)hi + (lo == 0 ? 1 : 0));
    }
    uint64_t words[4] = {lo & 0xffffffffu, lo >> 32, (uint64_t)hi & 0xffffffffu,
                         (uint64_t)hi >> 32};
    char digits[48];
    size_t n = 0;
    do {                         /* long division by 10 on 32-bit limbs */
        uint64_t rem = 0;
        bool nonzero = false;
        for (int k = 3; k >= 0; k--) {
            uint64_t cur = (rem << 32) | words[k];
            words[k] = cur / 10;
            rem = cur % 10;
            nonzero = nonzero || words[k] != 0;
        }
        digits[n++] = (char)('0' + rem);
        if (!nonzero)
            break;
    } while (n < sizeof digits);
    while ((int)n <= scale)
        digits[n++] = '0';
    size_t len = 0;
    if (negative)
        out[len++] = '-';
    for (size_t k = n; k-- > 0;) {
        out[len++] = digits[k];
        if (scale > 0 && k == (size_t)scale)
            out[len++] = '.';
    }
    out[len] = '\0';
    return len;
}

void cv_read(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t idx,
             cv_type type, char *scratch, cv_value *out)
{
    out->type = type;
    out->is_null = false;
    switch (type) {
    case CV_BOOL:
        out->u.b = etl_arrow_bool(a, idx);
        break;
    case CV_INT:
        out->u.i = read_signed(s->format, a, idx);
        break;
    case CV_DOUBLE:
        out->u.d = s->format[0] == 'f' ? (double)etl_arrow_float(a, idx) : etl_arrow_double(a, idx);
        break;
    case CV_STRING:
        out->u.s.p = etl_arrow_bytes(a, idx, &out->u.s.len);
        break;
    case CV_TIMESTAMP:
        out->u.i = timestamp_to_us(s->format[2], etl_arrow_int64(a, idx));
        break;
    case CV_DATE:
        out->u.date = s->format[2] == 'D' ? etl_arrow_int32(a, idx)
                                          : (int32_t)cv_floor_div(etl_arrow_int64(a, idx),
                                                                  INT64_C(86400000));
        break;
    case CV_DECIMAL: {
        uint64_t lo;
        int64_t hi;
        etl_arrow_decimal128(a, idx, &lo, &hi);
        out->u.s.len = decimal128_text(lo, hi, decimal_scale(s->format), scratch);
        out->u.s.p = scratch;
        break;
    }
    case CV_NULL:
    case CV_UNSUPPORTED:
        out->type = CV_NULL;
        out->is_null = true;
        break;
    }
}

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ------------ */

int64_t cv_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t cv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cv_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Exactly n decimal digits at s[*pos]. */
static bool take_digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return false;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return true;
}

static bool take_char(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos < len && s[*pos] == c) {
        (*pos)++;
        return true;
    }
    return false;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static bool parse_date_part(const char *s, size_t len, size_t *pos, int64_t *days)
{
    int y, m, d;
    if (!take_digits(s, len, pos, 4, &y) || !take_char(s, len, pos, '-') ||
        !take_digits(s, len, pos, 2, &m) || !take_char(s, len, pos, '-') ||
        !take_digits(s, len, pos, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)m))
        return false;
    *days = cv_days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* Fraction of a second, 1 to 9 digits, as microseconds (truncated). */
static bool parse_fraction(const char *s, size_t len, size_t *pos, int64_t *us)
{
    int64_t v = 0;
    int n = 0;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (n < 6)
            v = v * 10 + (s[*pos] - '0');
        n++;
        (*pos)++;
    }
    if (n == 0 || n > 9)
        return false;
    for (int k = n; k < 6; k++)
        v *= 10;
    *us = v;
    return true;
}

/* "Z", "+HH:MM", "+HHMM", "+HH" or nothing, as seconds east of UTC. */
static bool parse_zone(const char *s, size_t len, size_t *pos, int64_t *seconds)
{
    *seconds = 0;
    if (*pos == len)
        return true;
    if (s[*pos] == 'Z' || s[*pos] == 'z') {
        (*pos)++;
        return true;
    }
    if (s[*pos] != '+' && s[*pos] != '-')
        return false;
    int sign = s[(*pos)++] == '-' ? -1 : 1;
    int h, m = 0;
    if (!take_digits(s, len, pos, 2, &h))
        return false;
    if (*pos < len) {
        take_char(s, len, pos, ':');
        if (!take_digits(s, len, pos, 2, &m))
            return false;
    }
    if (h > 23 || m > 59)
        return false;
    *seconds = sign * (h * 3600 + m * 60);
    return true;
}

bool cv_parse_timestamp(const char *s, size_t len, int64_t *us)
{
    trim(&s, &len);
    size_t pos = 0;
    int64_t days;
    if (!parse_date_part(s, len, &pos, &days))
        return false;
    if (pos == len) {
        *us = days * US_PER_DAY;
        return true;
    }
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')
        return false;
    pos++;
    int h, mi, sec = 0;
    int64_t frac = 0, zone;
    if (!take_digits(s, len, &pos, 2, &h) || !take_char(s, len, &pos, ':') ||
        !take_digits(s, len, &pos, 2, &mi))
        return false;
    if (take_char(s, len, &pos, ':')) {
        if (!take_digits(s, len, &pos, 2, &sec))
            return false;
        if ((take_char(s, len, &pos, '.') || take_char(s, len, &pos, ',')) &&
            !parse_fraction(s, len, &pos, &frac))
            return false;
    }
    if (h > 23 || mi > 59 || sec > 59 || !parse_zone(s, len, &pos, &zone) || pos != len)
        return false;
    int64_t seconds = days * 86400 + h * 3600 + mi * 60 + sec - zone;
    *us = seconds * US_PER_SECOND + frac;
    return true;
}

bool cv_parse_date(const char *s, size_t len, int32_t *days)
{
    int64_t us;
    if (!cv_parse_timestamp(s, len, &us))
        return false;
    int64_t d = cv_floor_div(us, US_PER_DAY);
    if (d < INT32_MIN || d > INT32_MAX)
        return false;
    *days = (int32_t)d;
    return true;
}

/* ---- text forms ------------------------------------------------------- */

size_t cv_format_date(int64_t days, char *out)
{
    int64_t y;
    unsigned m, d;
    cv_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, CV_TEXT_MAX, y >= 0 && y <= 9999 ? "%04lld-%02u-%02u" : "%+05lld-%02u-%02u",
                     (long long)y, m, d);
    return (size_t)n;
}

size_t cv_format_timestamp(int64_t us, char *out)
{
    int64_t days = cv_floor_div(us, US_PER_DAY);
    int64_t rest = us - days * US_PER_DAY;
    size_t n = cv_format_date(days, out);
    int64_t secs = rest / US_PER_SECOND, micros = rest % US_PER_SECOND;
    n += (size_t)snprintf(out + n, CV_TEXT_MAX - n, "T%02d:%02d:%02d", (int)(secs / 3600),
                          (int)(secs / 60 % 60), (int)(secs % 60));
    if (micros != 0 && micros % 1000 == 0)
        n += (size_t)snprintf(out + n, CV_TEXT_MAX - n, ".%03d", (int)(micros / 1000));
    else if (micros != 0)
        n += (size_t)snprintf(out + n, CV_TEXT_MAX - n, ".%06d", (int)micros);
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

/* Lays out the shortest round-trip digits the way JavaScript (and so most
 * JSON writers) does: plain notation for exponents in [-7, 21), else "1e+21". */
size_t cv_format_double(double v, char *out)
{
    if (!isfinite(v))
        return (size_t)snprintf(out, CV_TEXT_MAX, "%s",
                                isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
    if (v == 0)
        return (size_t)snprintf(out, CV_TEXT_MAX, "0");
    char sci[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(sci, sizeof sci, "%.*e", precision - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    char digits[24];
    size_t k = 0, o = 0;
    const char *p = sci + (sci[0] == '-');
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = atoi(p + 1) + 1;     /* v = 0.digits x 10^n */
    if (v < 0)
        out[o++] = '-';
    if ((int)k <= n && n <= 21) {
        memcpy(out + o, digits, k);
        o += k;
        for (int z = (int)k; z < n; z++)
            out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, digits, (size_t)n);
        o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, digits + n, k - (size_t)n);
        o += k - (size_t)n;
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -n; z++)
            out[o++] = '0';
        memcpy(out + o, digits, k);
        o += k;
    } else {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, k - 1);
            o += k - 1;
        }
        o += (size_t)snprintf(out + o, CV_TEXT_MAX - o, "e%c%d", n - 1 < 0 ? '-' : '+',
                              abs(n - 1));
    }
    out[o] = '\0';
    return o;
}

size_t cv_format_int(int64_t v, char *out)
{
    return (size_t)snprintf(out, CV_TEXT_MAX, "%lld", (long long)v);
}

/* ---- conversions ------------------------------------------------------ */

static bool parse_int_text(const char *s, size_t len, int64_t *out)
{
    trim(&s, &len);
    size_t pos = 0;
    bool negative = false;
    if (pos < len && (s[pos] == '+' || s[pos] == '-'))
        negative = s[pos++] == '-';
    if (pos == len)
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; pos < len; pos++) {
        if (s[pos] < '0' || s[pos] > '9')
            return false;
        unsigned digit = (unsigned)(s[pos] - '0');
        if (v > (limit - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* strtod on a counted string: the whole text (spaces aside) must be used. */
static bool parse_double_text(const char *s, size_t len, double *out, const char **why)
{
    char buf[512];
    trim(&s, &len);
    if (len == 0 || len >= sizeof buf) {
        *why = "not a number";
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || !isfinite(v) || buf[0] == 'n' || buf[0] == 'N' || buf[0] == 'i' ||
        buf[0] == 'I') {
        *why = "not a number";
        return false;
    }
    if (errno == ERANGE && v != 0) {
        *why = "out of the range of a double";
        return false;
    }
    *out = v;
    return true;
}

bool cv_to_int(const cv_value *v, int64_t *out, const char **why)
{
    switch (v->type) {
    case CV_BOOL: *out = v->u.b; return true;
    case CV_INT:
    case CV_TIMESTAMP: *out = v->u.i; return true;
    case CV_DATE: *out = v->u.date; return true;
    case CV_DOUBLE:
        if (!isfinite(v->u.d) || v->u.d != trunc(v->u.d)) {
            *why = "has a fraction";
            return false;
        }
        if (v->u.d < -9223372036854775808.0 || v->u.d >= 9223372036854775808.0) {
            *why = "out of the range of an int64";
            return false;
        }
        *out = (int64_t)v->u.d;
        return true;
    case CV_DECIMAL: {
        const char *dot = memchr(v->u.s.p, '.', v->u.s.len);
        size_t int_len = dot ? (size_t)(dot - v->u.s.p) : v->u.s.len;
        for (size_t k = int_len + 1; dot && k < v->u.s.len; k++)
            if (v->u.s.p[k] != '0') {
                *why = "has a fraction";
                return false;
            }
        if (parse_int_text(v->u.s.p, int_len, out))
            return true;
        *why = "out of the range of an int64";
        return false;
    }
    case CV_STRING:
        if (parse_int_text(v->u.s.p, v->u.s.len, out))
            return true;
        *why = "not an int64";
        return false;
    default:
        *why = "not a number";
        return false;
    }
}

bool cv_to_double(const cv_value *v, double *out, const char **why)
{
    switch (v->type) {
    case CV_BOOL: *out = v->u.b; return true;
    case CV_INT: *out = (double)v->u.i; return true;
    case CV_DOUBLE: *out = v->u.d; return true;
    case CV_STRING:
    case CV_DECIMAL: return parse_double_text(v->u.s.p, v->u.s.len, out, why);
    default:
        *why = "not a number";
        return false;
    }
}

static bool text_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

bool cv_to_bool(const cv_value *v, bool *out, const char **why)
{
    switch (v->type) {
    case CV_BOOL: *out = v->u.b; return true;
    case CV_INT: *out = v->u.i != 0; return true;
    case CV_DOUBLE: *out = v->u.d != 0; return true;
    case CV_STRING: {
        const char *s = v->u.s.p;
        size_t len = v->u.s.len;
        trim(&s, &len);
        static const char *const yes[] = {"true", "t", "yes", "y", "1"};
        static const char *const no[] = {"false", "f", "no", "n", "0"};
        for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++) {
            if (text_is(s, len, yes[k]) || text_is(s, len, no[k])) {
                *out = text_is(s, len, yes[k]);
                return true;
            }
        }
        *why = "not a boolean (true/false/yes/no/1/0)";
        return false;
    }
    default:
        *why = "not a boolean";
        return false;
    }
}

bool cv_to_timestamp(const cv_value *v, int64_t *out, const char **why)
{
    switch (v->type) {
    case CV_TIMESTAMP: *out = v->u.i; return true;
    case CV_DATE: *out = v->u.date * US_PER_DAY; return true;
    case CV_STRING:
        if (cv_parse_timestamp(v->u.s.p, v->u.s.len, out))
            return true;
        *why = "not an ISO 8601 timestamp (YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|+HH:MM])";
        return false;
    default:
        *why = "not a timestamp (numbers have no unit: cannot be cast to timestamp)";
        return false;
    }
}

bool cv_to_date(const cv_value *v, int32_t *out, const char **why)
{
    switch (v->type) {
    case CV_DATE: *out = v->u.date; return true;
    case CV_TIMESTAMP: *out = (int32_t)cv_floor_div(v->u.i, US_PER_DAY); return true;
    case CV_STRING:
        if (cv_parse_date(v->u.s.p, v->u.s.len, out))
            return true;
        *why = "not an ISO 8601 date (YYYY-MM-DD)";
        return false;
    default:
        *why = "not a date";
        return false;
    }
}

void cv_to_text(const cv_value *v, char *buf, const char **p, size_t *len)
{
    *p = buf;
    switch (v->type) {
    case CV_BOOL:
        *p = v->u.b ? "true" : "false";
        *len = v->u.b ? 4 : 5;
        return;
    case CV_INT: *len = cv_format_int(v->u.i, buf); return;
    case CV_DOUBLE: *len = cv_format_double(v->u.d, buf); return;
    case CV_TIMESTAMP: *len = cv_format_timestamp(v->u.i, buf); return;
    case CV_DATE: *len = cv_format_date(v->u.date, buf); return;
    case CV_STRING:
    case CV_DECIMAL:
        *p = v->u.s.p;
        *len = v->u.s.len;
        return;
    default:
        *p = "";
        *len = 0;
        return;
    }
}

/* Adds one unit in the last place of a digit string; true on carry out. */
static bool increment_digits(char *digits, size_t n)
{
    for (size_t k = n; k-- > 0;) {
        if (digits[k] != '9') {
            digits[k]++;
            return false;
        }
        digits[k] = '0';
    }
    return true;
}

/* Splits "[+-]ddd[.ddd]" into sign, integer digits (no leading zeros) and
 * fraction digits. */
static bool split_decimal(const char *s, size_t len, bool *negative, const char **int_p,
                          size_t *int_len, const char **frac_p, size_t *frac_len)
{
    trim(&s, &len);
    size_t pos = 0;
    *negative = false;
    if (pos < len && (s[pos] == '+' || s[pos] == '-'))
        *negative = s[pos++] == '-';
    size_t start = pos;
    while (pos < len && s[pos] >= '0' && s[pos] <= '9')
        pos++;
    size_t int_end = pos;
    *frac_p = s + pos;
    *frac_len = 0;
    if (pos < len && s[pos] == '.') {
        *frac_p = s + ++pos;
        while (pos < len && s[pos] >= '0' && s[pos] <= '9')
            pos++;
        *frac_len = (size_t)(s + pos - *frac_p);
    }
    if (pos != len || (int_end == start && *frac_len == 0))
        return false;
    while (start < int_end && s[start] == '0')
        start++;
    *int_p = s + start;
    *int_len = int_end - start;
    return true;
}

bool cv_to_decimal(const cv_value *v, int precision, int scale, char *out, size_t *out_len,
                   const char **why)
{
    char text[512];
    const char *p;
    size_t len;
    if (v->type == CV_DOUBLE) {
        if (!isfinite(v->u.d)) {
            *why = "not a finite number";
            return false;
        }
        len = (size_t)snprintf(text, sizeof text, "%.*f", scale, v->u.d);
        if (len >= sizeof text) {
            *why = "too many digits for the decimal's precision";
            return false;
        }
        p = text;
    } else if (v->type == CV_INT || v->type == CV_STRING || v->type == CV_DECIMAL) {
        cv_to_text(v, text, &p, &len);
    } else {
        *why = "not a number";
        return false;
    }
    bool negative;
    const char *int_p, *frac_p;
    size_t int_len, frac_len;
    if (!split_decimal(p, len, &negative, &int_p, &int_len, &frac_p, &frac_len)) {
        *why = "not a decimal number";
        return false;
    }
    size_t max_int = (size_t)(precision - scale);
    if (int_len > max_int) {
        *why = "too many digits for the decimal's precision";
        return false;
    }
    /* digits = integer part then exactly `scale` fraction digits. */
    char digits[CV_DECIMAL_TEXT_MAX];
    size_t n = 0;
    digits[n++] = '0';           /* room for a carry */
    memcpy(digits + n, int_p, int_len);
    n += int_len;
    for (int k = 0; k < scale; k++)
        digits[n++] = (size_t)k < frac_len ? frac_p[k] : '0';
    if (frac_len > (size_t)scale && frac_p[scale] >= '5')
        increment_digits(digits, n);
    size_t first = 0;
    while (first + (size_t)scale + 1 < n && digits[first] == '0')
        first++;
    if (n - first - (size_t)scale > (max_int > 0 ? max_int : 1) ||
        (max_int == 0 && digits[first] != '0')) {
        *why = "too many digits for the decimal's precision";
        return false;
    }
    bool zero = true;
    for (size_t k = first; k < n; k++)
        zero = zero && digits[k] == '0';
    size_t o = 0;
    if (negative && !zero)
        out[o++] = '-';
    for (size_t k = first; k < n; k++) {
        if (scale > 0 && k == n - (size_t)scale)
            out[o++] = '.';
        out[o++] = digits[k];
    }
    out[o] = '\0';
    *out_len = o;
    return true;
}
