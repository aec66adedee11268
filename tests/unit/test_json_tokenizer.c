/* Unit tests of the streaming JSON tokenizer (core/json_tokenizer.c). */
#include "json_tokenizer.h"
#include "tap_runner.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Appends str/len with bytes outside printable ASCII as \xNN. */
static void trace_bytes(char *out, size_t cap, const char *s, size_t len)
{
    size_t used = strlen(out);
    for (size_t k = 0; k < len && used + 5 < cap; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0x20 && c < 0x7f)
            out[used++] = (char)c;
        else
            used += (size_t)snprintf(out + used, cap - used, "\\x%02X", c);
    }
    out[used] = '\0';
}

/* Tokenizes `json` (copied into an exact-size heap block, so that ASan sees
 * any read past its end) and writes the tokens as text:
 * { } [ ] k:key s:string i:123 b:bignum d:1.5 T F N, or E@offset:line:col. */
static const char *trace_n(const char *json, size_t len)
{
    static char out[8192];
    out[0] = '\0';
    char *copy = malloc(len ? len : 1);
    memcpy(copy, json, len);
    jt_tokenizer t;
    jt_init(&t);
    jt_reset(&t, copy, len);
    jt_token tok;
    while ((tok = jt_next(&t)) != JT_END) {
        char item[64] = "";
        size_t used = strlen(out);
        if (used)
            strncat(out, " ", sizeof out - used - 1);
        switch (tok) {
        case JT_OBJECT_BEGIN: strcat(out, "{"); break;
        case JT_OBJECT_END: strcat(out, "}"); break;
        case JT_ARRAY_BEGIN: strcat(out, "["); break;
        case JT_ARRAY_END: strcat(out, "]"); break;
        case JT_KEY: strcat(out, "k:"); trace_bytes(out, sizeof out, t.str, t.len); break;
        case JT_STRING: strcat(out, "s:"); trace_bytes(out, sizeof out, t.str, t.len); break;
        case JT_BIG_NUMBER: strcat(out, "b:"); trace_bytes(out, sizeof out, t.str, t.len); break;
        case JT_INT: snprintf(item, sizeof item, "i:%lld", (long long)t.i); break;
        case JT_DOUBLE: snprintf(item, sizeof item, "d:%.17g", t.d); break;
        case JT_TRUE: strcat(out, "T"); break;
        case JT_FALSE: strcat(out, "F"); break;
        case JT_NULL: strcat(out, "N"); break;
        default:
            snprintf(item, sizeof item, "E@%zu:%d:%d", t.error.offset, t.error.line,
                     t.error.column);
            break;
        }
        strcat(out, item);
        if (tok == JT_ERROR)
            break;
    }
    jt_free(&t);
    free(copy);
    return out;
}

static const char *trace(const char *json)
{
    return trace_n(json, strlen(json));
}

/* The single token of a scalar document, with its value left in *t. */
static jt_token scalar(jt_tokenizer *t, const char *json)
{
    jt_reset(t, json, strlen(json));
    jt_token tok = jt_next(t);
    if (tok != JT_ERROR && jt_next(t) != JT_END)
        return JT_ERROR;
    return tok;
}

static jt_error error_of(const char *json, size_t len, int max_depth)
{
    jt_error err = {0};
    ck_assert(!jt_validate(json, len, max_depth, &err));
    return err;
}

static char *nested(int depth, const char *open, const char *close)
{
    char *s = malloc((size_t)depth * 2 + 1);
    for (int k = 0; k < depth; k++) {
        s[k] = open[0];
        s[depth + k] = close[0];
    }
    s[depth * 2] = '\0';
    return s;
}

/* ------------------------------------------------------------------------ */
/* Structure                                                                 */
/* ------------------------------------------------------------------------ */

START_TEST(tokens_of_a_document)
{
    ck_assert_str_eq(trace("{\"a\": [1, -2.5, \"x\", true, false, null], \"b\": {}}"),
                     "{ k:a [ i:1 d:-2.5 s:x T F N ] k:b { } }");
    ck_assert_str_eq(trace(" \t\r\n[ ]\n"), "[ ]");
    ck_assert_str_eq(trace("{}"), "{ }");
    ck_assert_str_eq(trace("[[], {}, [[]], {\"e\": []}]"), "[ [ ] { } [ [ ] ] { k:e [ ] } ]");
}
END_TEST

START_TEST(top_level_scalars)
{
    ck_assert_str_eq(trace("null"), "N");
    ck_assert_str_eq(trace(" true "), "T");
    ck_assert_str_eq(trace("false"), "F");
    ck_assert_str_eq(trace("\"s\""), "s:s");
    ck_assert_str_eq(trace("42"), "i:42");
}
END_TEST

START_TEST(end_and_error_are_sticky)
{
    jt_tokenizer t;
    jt_init(&t);
    jt_reset(&t, "[1]", 3);
    ck_assert_int_eq(jt_next(&t), JT_ARRAY_BEGIN);
    ck_assert_int_eq(jt_depth(&t), 1);
    ck_assert_int_eq(jt_next(&t), JT_INT);
    ck_assert_int_eq(jt_next(&t), JT_ARRAY_END);
    ck_assert_int_eq(jt_next(&t), JT_END);
    ck_assert_int_eq(jt_next(&t), JT_END);
    jt_reset(&t, "[1 2]", 5);
    ck_assert_int_eq(jt_next(&t), JT_ARRAY_BEGIN);
    ck_assert_int_eq(jt_next(&t), JT_INT);
    ck_assert_int_eq(jt_next(&t), JT_ERROR);
    ck_assert_int_eq(jt_next(&t), JT_ERROR);
    /* The same tokenizer works again after a reset. */
    jt_reset(&t, "{}", 2);
    ck_assert_int_eq(jt_next(&t), JT_OBJECT_BEGIN);
    ck_assert_int_eq(jt_next(&t), JT_OBJECT_END);
    ck_assert_int_eq(jt_next(&t), JT_END);
    jt_free(&t);
}
END_TEST

START_TEST(trailing_garbage_is_rejected)
{
    ck_assert_str_eq(trace("{} x"), "{ } E@3:1:4");
    ck_assert_str_eq(trace("1 2"), "i:1 E@2:1:3");
    ck_assert_str_eq(trace("[]]"), "[ ] E@2:1:3");
    ck_assert_str_eq(trace("nullx"), "N E@4:1:5");
    jt_error err = error_of("{} x", 4, 512);
    ck_assert_str_eq(err.reason, "unexpected data after the JSON value: 'x'");
}
END_TEST

START_TEST(syntax_errors_say_what_and_where)
{
    jt_error err = error_of("{\"a\": 1 \"b\": 2}", 15, 512);
    ck_assert_str_eq(err.reason, "expected ',' or '}' after object member, found '\"'");
    ck_assert_uint_eq(err.offset, 8);
    err = error_of("{\"a\" 1}", 7, 512);
    ck_assert_str_eq(err.reason, "expected ':' after object key, found '1'");
    err = error_of("[1,]", 4, 512);
    ck_assert_uint_eq(err.offset, 3);
    ck_assert_ptr_nonnull(strstr(err.reason, "expected a value"));
    err = error_of("{\"a\":1,}", 8, 512);
    ck_assert_str_eq(err.reason, "expected a string key after ',', found '}'");
    err = error_of("{1:2}", 5, 512);
    ck_assert_str_eq(err.reason, "expected a string key or '}' after '{', found '1'");
    err = error_of("[1 2]", 5, 512);
    ck_assert_str_eq(err.reason, "expected ',' or ']' after array element, found '2'");
    err = error_of("", 0, 512);
    ck_assert_str_eq(err.reason, "unexpected end of the input: expected a value");
    err = error_of("[tru]", 5, 512);
    ck_assert_str_eq(err.reason, "invalid literal: expected 'true'");
}
END_TEST

START_TEST(error_lines_and_columns)
{
    const char *doc = "{\n  \"a\": 1,\n  \"é\": x\n}";
    jt_error err = error_of(doc, strlen(doc), 512);
    ck_assert_int_eq(err.line, 3);
    /* Columns count characters: "é" is two bytes but one column. */
    ck_assert_int_eq(err.column, 8);
    ck_assert_uint_eq(err.offset, (size_t)(strchr(doc, 'x') - doc));

    jt_tokenizer t;
    jt_init(&t);
    jt_reset(&t, doc, strlen(doc));
    while (jt_next(&t) > JT_END)
        ;
    char msg[256];
    jt_format_error(&t, msg, sizeof msg);
    ck_assert_str_eq(msg, "byte 20 (line 3, column 8): expected a value (object, array, string, "
                          "number, true, false or null), found 'x'");
    ck_assert_int_eq(t.error.kind, JT_ERR_SYNTAX);
    jt_free(&t);
}
END_TEST

START_TEST(byte_order_mark)
{
    ck_assert_str_eq(trace("\xEF\xBB\xBF{}"), "{ }");
    ck_assert_str_eq(trace("\xEF\xBB\xBF"), "E@3:1:2");
    ck_assert_str_eq(trace("\xEF\xBB{}"), "E@0:1:1");
    ck_assert_str_eq(trace("[\xEF\xBB\xBF]"), "[ E@1:1:2");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Depth                                                                     */
/* ------------------------------------------------------------------------ */

START_TEST(nesting_at_the_limit_is_accepted)
{
    char *doc = nested(JT_DEFAULT_MAX_DEPTH, "[", "]");
    ck_assert(jt_validate(doc, strlen(doc), JT_DEFAULT_MAX_DEPTH, NULL));
    free(doc);
}
END_TEST

START_TEST(nesting_past_the_limit_is_rejected)
{
    char *doc = nested(JT_DEFAULT_MAX_DEPTH + 1, "[", "]");
    jt_error err = error_of(doc, strlen(doc), JT_DEFAULT_MAX_DEPTH);
    ck_assert_int_eq(err.kind, JT_ERR_DEPTH);
    ck_assert_uint_eq(err.offset, JT_DEFAULT_MAX_DEPTH);
    ck_assert_str_eq(err.reason, "nesting deeper than 512 levels of objects and arrays");
    free(doc);
}
END_TEST

START_TEST(depth_limit_is_configurable)
{
    ck_assert(jt_validate("{\"a\":[{}]}", 10, 3, NULL));
    jt_error err = error_of("{\"a\":[{\"b\":[]}]}", 16, 3);
    ck_assert_int_eq(err.kind, JT_ERR_DEPTH);
    ck_assert_uint_eq(err.offset, 11);
    /* Deeper than the inline stack: the stack moves to the heap. */
    char *doc = nested(3000, "[", "]");
    ck_assert(jt_validate(doc, strlen(doc), 3000, NULL));
    ck_assert(!jt_validate(doc, strlen(doc), 2999, NULL));
    free(doc);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

START_TEST(simple_escapes)
{
    ck_assert_str_eq(trace("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""),
                     "s:a\"b\\c/d\\x08e\\x0Cf\\x0Ag\\x0Dh\\x09i");
    ck_assert_str_eq(trace("\"\\x\""), "E@1:1:2");
    ck_assert_str_eq(trace("\"\\"), "E@2:1:3");
}
END_TEST

START_TEST(unicode_escapes)
{
    ck_assert_str_eq(trace("\"\\u0041\\u00e9\\u20AC\""), "s:A\\xC3\\xA9\\xE2\\x82\\xAC");
    ck_assert_str_eq(trace("\"\\u0000\""), "s:\\x00");
    ck_assert_str_eq(trace("\"\\u12\""), "E@1:1:2");
    ck_assert_str_eq(trace("\"\\u12G4\""), "E@1:1:2");
    ck_assert_str_eq(trace("{\"k\\u00e9y\": 1}"), "{ k:k\\xC3\\xA9y i:1 }");
}
END_TEST

START_TEST(surrogate_pairs)
{
    ck_assert_str_eq(trace("\"\\uD83D\\uDE00\""), "s:\\xF0\\x9F\\x98\\x80");
    ck_assert_str_eq(trace("\"\\ud834\\udd1e\""), "s:\\xF0\\x9D\\x84\\x9E");
    ck_assert_str_eq(trace("\"\\uDBFF\\uDFFF\""), "s:\\xF4\\x8F\\xBF\\xBF");
}
END_TEST

START_TEST(lone_surrogates_become_replacement_characters)
{
    ck_assert_str_eq(trace("\"\\uD800\""), "s:\\xEF\\xBF\\xBD");
    ck_assert_str_eq(trace("\"\\uDC00x\""), "s:\\xEF\\xBF\\xBDx");
    ck_assert_str_eq(trace("\"\\uD800\\n\""), "s:\\xEF\\xBF\\xBD\\x0A");
    ck_assert_str_eq(trace("\"\\uD800\\u0041\""), "s:\\xEF\\xBF\\xBDA");
    /* Inverted halves: two replacement characters. */
    ck_assert_str_eq(trace("\"\\uDD1E\\uD834\""), "s:\\xEF\\xBF\\xBD\\xEF\\xBF\\xBD");
    ck_assert_str_eq(trace("\"\\uD800\\uD800\\uDC00\""), "s:\\xEF\\xBF\\xBD\\xF0\\x90\\x80\\x80");
}
END_TEST

START_TEST(strings_without_escapes_point_into_the_input)
{
    const char *doc = "[\"plain\", \"esc\\n\"]";
    jt_tokenizer t;
    jt_init(&t);
    jt_reset(&t, doc, strlen(doc));
    ck_assert_int_eq(jt_next(&t), JT_ARRAY_BEGIN);
    ck_assert_int_eq(jt_next(&t), JT_STRING);
    ck_assert_ptr_eq(t.str, doc + 2);
    ck_assert_uint_eq(t.len, 5);
    ck_assert_int_eq(jt_next(&t), JT_STRING);
    ck_assert_ptr_eq(t.str, t.inline_scratch);
    ck_assert_uint_eq(t.len, 4);
    ck_assert_int_eq(memcmp(t.str, "esc\n", 4), 0);
    jt_free(&t);
}
END_TEST

START_TEST(long_escaped_strings)
{
    size_t n = 100000;
    char *doc = malloc(n * 2 + 3);
    doc[0] = '"';
    for (size_t k = 0; k < n; k++)
        memcpy(doc + 1 + 2 * k, k % 2 ? "\\t" : "ab", 2);
    doc[1 + 2 * n] = '"';
    jt_tokenizer t;
    jt_init(&t);
    for (int round = 0; round < 2; round++) {
        jt_reset(&t, doc, n * 2 + 2);
        ck_assert_int_eq(jt_next(&t), JT_STRING);
        ck_assert_uint_eq(t.len, n / 2 * 3);
        ck_assert_int_eq(memcmp(t.str, "ab\tab\t", 6), 0);
        ck_assert_int_eq(t.str[t.len - 1], '\t');
        ck_assert_int_eq(jt_next(&t), JT_END);
    }
    jt_free(&t);
    free(doc);
}
END_TEST

START_TEST(control_characters_are_rejected)
{
    ck_assert_str_eq(trace("\"a\tb\""), "E@2:1:3");
    ck_assert_str_eq(trace("\"a\\n\nb\""), "E@4:1:5");
    ck_assert_str_eq(trace_n("\"a\0\"", 4), "E@2:1:3");
    /* DEL is not a control character for JSON. */
    ck_assert_str_eq(trace("\"\x7f\""), "s:\\x7F");
    jt_error err = error_of("\"\x01\"", 3, 512);
    ck_assert_str_eq(err.reason, "control character U+0001 in a string must be escaped");
}
END_TEST

START_TEST(utf8_is_validated)
{
    ck_assert_str_eq(trace("\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\""),
                     "s:h\\xC3\\xA9llo \\xE2\\x82\\xAC \\xF0\\x9F\\x98\\x80");
    ck_assert_str_eq(trace("\"\xC0\x80\""), "E@1:1:2");          /* overlong NUL */
    ck_assert_str_eq(trace("\"\xC1\xBF\""), "E@1:1:2");          /* overlong */
    ck_assert_str_eq(trace("\"\xE0\x80\x80\""), "E@1:1:2");      /* overlong 3 bytes */
    ck_assert_str_eq(trace("\"\xF0\x80\x80\x80\""), "E@1:1:2");  /* overlong 4 bytes */
    ck_assert_str_eq(trace("\"\xED\xA0\x80\""), "E@1:1:2");      /* surrogate D800 */
    ck_assert_str_eq(trace("\"\xED\xBF\xBF\""), "E@1:1:2");      /* surrogate DFFF */
    ck_assert_str_eq(trace("\"\xF4\x90\x80\x80\""), "E@1:1:2");  /* past U+10FFFF */
    ck_assert_str_eq(trace("\"\xF5\x80\x80\x80\""), "E@1:1:2");
    ck_assert_str_eq(trace("\"\x80\""), "E@1:1:2");              /* lone continuation */
    ck_assert_str_eq(trace("\"\xFF\""), "E@1:1:2");
    ck_assert_str_eq(trace("\"\xE2\x82\""), "E@1:1:2");          /* cut short */
    ck_assert_str_eq(trace("\"ab\\n\xE2\x28\xA1\""), "E@5:1:6"); /* after an escape */
    ck_assert_str_eq(trace("\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\""), "s:\\xEF\\xBF\\xBF\\xF4\\x8F\\xBF\\xBF");
    jt_error err = error_of("[\"\xC3\x28\"]", 5, 512);
    ck_assert_str_eq(err.reason, "invalid UTF-8 in a string (byte 0xC3)");
}
END_TEST

START_TEST(unterminated_strings)
{
    jt_error err = error_of("[\"abc", 5, 512);
    ck_assert_uint_eq(err.offset, 5);
    ck_assert_str_eq(err.reason, "unexpected end of the input inside a string (missing closing '\"')");
    ck_assert_str_eq(trace("\"ab\xE2\x82"), "E@5:1:5");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */
/* ------------------------------------------------------------------------ */

START_TEST(int64_bounds)
{
    jt_tokenizer t;
    jt_init(&t);
    ck_assert_int_eq(scalar(&t, "9223372036854775807"), JT_INT);
    ck_assert(t.i == INT64_MAX);
    ck_assert_int_eq(scalar(&t, "-9223372036854775808"), JT_INT);
    ck_assert(t.i == INT64_MIN);
    ck_assert_int_eq(scalar(&t, "9223372036854775808"), JT_BIG_NUMBER);
    ck_assert_uint_eq(t.len, 19);
    ck_assert_int_eq(memcmp(t.str, "9223372036854775808", 19), 0);
    ck_assert(t.d == 9223372036854775808.0);
    ck_assert_int_eq(scalar(&t, "-9223372036854775809"), JT_BIG_NUMBER);
    ck_assert_int_eq(memcmp(t.str, "-9223372036854775809", 20), 0);
    ck_assert(t.d == -9223372036854775808.0);
    ck_assert_int_eq(scalar(&t, "18446744073709551616"), JT_BIG_NUMBER);
    ck_assert(t.d == 18446744073709551616.0);
    ck_assert_int_eq(scalar(&t, "123456789012345678901234567890"), JT_BIG_NUMBER);
    ck_assert(t.d == 1.2345678901234568e29);
    ck_assert_int_eq(scalar(&t, "9007199254740993"), JT_INT);
    ck_assert(t.i == INT64_C(9007199254740993));
    ck_assert_int_eq(scalar(&t, "-1"), JT_INT);
    ck_assert(t.i == -1);
    ck_assert_int_eq(scalar(&t, "0"), JT_INT);
    ck_assert(t.i == 0);
    jt_free(&t);
}
END_TEST

START_TEST(negative_zero)
{
    jt_tokenizer t;
    jt_init(&t);
    ck_assert_int_eq(scalar(&t, "-0"), JT_INT);
    ck_assert(t.i == 0);
    ck_assert_int_eq(scalar(&t, "-0.0"), JT_DOUBLE);
    ck_assert(t.d == 0.0 && signbit(t.d));
    ck_assert_int_eq(scalar(&t, "-0e5"), JT_DOUBLE);
    ck_assert(t.d == 0.0 && signbit(t.d));
    ck_assert_int_eq(scalar(&t, "0.0"), JT_DOUBLE);
    ck_assert(t.d == 0.0 && !signbit(t.d));
    jt_free(&t);
}
END_TEST

START_TEST(large_and_tiny_doubles)
{
    jt_tokenizer t;
    jt_init(&t);
    ck_assert_int_eq(scalar(&t, "1.7976931348623157e308"), JT_DOUBLE);
    ck_assert(t.d == DBL_MAX);
    ck_assert_int_eq(scalar(&t, "-1e308"), JT_DOUBLE);
    ck_assert(t.d == -1e308);
    ck_assert_int_eq(scalar(&t, "2.2250738585072014e-308"), JT_DOUBLE);
    ck_assert(t.d == DBL_MIN);
    ck_assert_int_eq(scalar(&t, "4.9406564584124654e-324"), JT_DOUBLE);
    ck_assert(t.d == 4.9406564584124654e-324 && t.d > 0);
    ck_assert_int_eq(scalar(&t, "1e-400"), JT_DOUBLE);
    ck_assert(t.d == 0.0 && !signbit(t.d));
    ck_assert_int_eq(scalar(&t, "-1e-400"), JT_DOUBLE);
    ck_assert(t.d == 0.0 && signbit(t.d));
    ck_assert_int_eq(scalar(&t, "123.456e-789"), JT_DOUBLE);
    ck_assert(t.d == 0.0);
    ck_assert_int_eq(scalar(&t, "0e99999999999"), JT_DOUBLE);
    ck_assert(t.d == 0.0);
    jt_free(&t);
}
END_TEST

START_TEST(doubles_beyond_range_are_rejected)
{
    const char *cases[] = {"1e400", "-1e400", "1.8e308", "1e309", "1.5e+9999",
                           "123123e100000", "0.4e0066999999999999999999999999999"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        jt_error err = error_of(cases[k], strlen(cases[k]), 512);
        ck_assert_int_eq(err.kind, JT_ERR_RANGE);
        ck_assert_uint_eq(err.offset, 0);
        ck_assert_ptr_nonnull(strstr(err.reason, "beyond the range of a double"));
    }
    /* An integer with more digits than any double can hold. */
    char big[400];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    jt_error err = error_of(big, strlen(big), 512);
    ck_assert_int_eq(err.kind, JT_ERR_RANGE);
    ck_assert_str_eq(err.reason, "number 9999999999999999999999999999999999999999... is beyond "
                                 "the range of a double");
}
END_TEST

START_TEST(doubles_are_correctly_rounded)
{
    jt_tokenizer t;
    jt_init(&t);
    const char *cases[] = {"0.1", "0.30000000000000004", "3.141592653589793", "1e23",
                           "8.98846567431158e307", "2.2250738585072011e-308", "5e-324",
                           "9007199254740993.0", "0.000001234567890123456789",
                           "1.00000000000000011102230246251565404236316680908203125",
                           "7.0e-10", "1234567890123456789.5e-3"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ck_assert_int_eq(scalar(&t, cases[k]), JT_DOUBLE);
        ck_assert_msg(t.d == strtod(cases[k], NULL), "%s", cases[k]);
    }
    /* Random doubles survive a %.17g round trip bit for bit. */
    srand(12345);
    for (int k = 0; k < 20000; k++) {
        uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        char text[64];
        snprintf(text, sizeof text, "%.17e", v);
        ck_assert_int_eq(scalar(&t, text), JT_DOUBLE);
        ck_assert_msg(memcmp(&t.d, &v, sizeof v) == 0, "%s", text);
        snprintf(text, sizeof text, "%.6g", v);
        jt_token tok = scalar(&t, text);
        ck_assert(tok == JT_DOUBLE || tok == JT_INT);
        if (tok == JT_DOUBLE)
            ck_assert_msg(t.d == strtod(text, NULL), "%s", text);
    }
    jt_free(&t);
}
END_TEST

START_TEST(malformed_numbers)
{
    const char *cases[] = {"01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.e5", "-a",
                           "Infinity", "NaN", "-Infinity", "1.5.5", "--1", "0.e1", "00"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        jt_error err;
        ck_assert_msg(!jt_validate(cases[k], strlen(cases[k]), 512, &err), "%s", cases[k]);
        ck_assert_int_eq(err.kind, JT_ERR_SYNTAX);
    }
    jt_error err = error_of("[01]", 4, 512);
    ck_assert_str_eq(err.reason, "invalid number: leading zeros are not allowed");
    err = error_of("[1.]", 4, 512);
    ck_assert_str_eq(err.reason, "invalid number: expected a digit after '.', found ']'");
    ck_assert_uint_eq(err.offset, 3);
    err = error_of("1e", 2, 512);
    ck_assert_str_eq(err.reason, "invalid number: expected a digit in the exponent, found the end of the input");
}
END_TEST

START_TEST(number_token_kinds)
{
    ck_assert_str_eq(trace("[1, 1.0, 1e2, 1E-2, -5, 10000000000000000000000]"),
                     "[ i:1 d:1 d:100 d:0.01 i:-5 b:10000000000000000000000 ]");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Robustness                                                                */
/* ------------------------------------------------------------------------ */

static const char sample[] =
    "{\"id\": 9223372036854775807, \"name\": \"Caf\\u00e9 \\\"Noir\\\"\", \"price\": 12.5,\n"
    " \"tags\": [\"a\", \"\xC3\xA9t\xC3\xA9\", \"\\uD83D\\uDE00\"], \"stock\": null,\n"
    " \"dims\": {\"w\": -0.0, \"h\": 1e-3, \"ok\": true, \"no\": false}, \"e\": [], \"o\": {}}";

START_TEST(sample_document_is_valid)
{
    ck_assert(jt_validate(sample, strlen(sample), 512, NULL));
}
END_TEST

START_TEST(every_truncation_is_an_error)
{
    size_t len = strlen(sample);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, sample, cut);
        jt_error err = {0};
        ck_assert_msg(!jt_validate(copy, cut, 512, &err), "prefix of %zu bytes accepted", cut);
        ck_assert(err.offset <= cut);
        ck_assert(err.line >= 1 && err.column >= 1);
        free(copy);
    }
}
END_TEST

START_TEST(mutated_documents_never_crash)
{
    size_t len = strlen(sample);
    srand(7);
    char *copy = malloc(len);
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, sample, len);
        int changes = 1 + rand() % 4;
        for (int k = 0; k < changes; k++)
            copy[rand() % len] = (char)(rand() % 256);
        size_t cut = (size_t)rand() % (len + 1);
        jt_error err = {0};
        if (!jt_validate(copy, cut, 512, &err))
            ck_assert(err.offset <= cut && err.reason[0] != '\0');
    }
    free(copy);
}
END_TEST

static Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("json_tokenizer");
    TCase *tc = tcase_create("structure");
    tcase_add_test(tc, tokens_of_a_document);
    tcase_add_test(tc, top_level_scalars);
    tcase_add_test(tc, end_and_error_are_sticky);
    tcase_add_test(tc, trailing_garbage_is_rejected);
    tcase_add_test(tc, syntax_errors_say_what_and_where);
    tcase_add_test(tc, error_lines_and_columns);
    tcase_add_test(tc, byte_order_mark);
    tcase_add_test(tc, nesting_at_the_limit_is_accepted);
    tcase_add_test(tc, nesting_past_the_limit_is_rejected);
    tcase_add_test(tc, depth_limit_is_configurable);
    suite_add_tcase(s, tc);

    tc = tcase_create("strings");
    tcase_add_test(tc, simple_escapes);
    tcase_add_test(tc, unicode_escapes);
    tcase_add_test(tc, surrogate_pairs);
    tcase_add_test(tc, lone_surrogates_become_replacement_characters);
    tcase_add_test(tc, strings_without_escapes_point_into_the_input);
    tcase_add_test(tc, long_escaped_strings);
    tcase_add_test(tc, control_characters_are_rejected);
    tcase_add_test(tc, utf8_is_validated);
    tcase_add_test(tc, unterminated_strings);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, int64_bounds);
    tcase_add_test(tc, negative_zero);
    tcase_add_test(tc, large_and_tiny_doubles);
    tcase_add_test(tc, doubles_beyond_range_are_rejected);
    tcase_add_test(tc, doubles_are_correctly_rounded);
    tcase_add_test(tc, malformed_numbers);
    tcase_add_test(tc, number_token_kinds);
    suite_add_tcase(s, tc);

    tc = tcase_create("robustness");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sample_document_is_valid);
    tcase_add_test(tc, every_truncation_is_an_error);
    tcase_add_test(tc, mutated_documents_never_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_as_tap(tokenizer_suite());
}
