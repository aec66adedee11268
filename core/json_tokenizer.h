/* A streaming (pull) JSON tokenizer over one buffer, with full RFC 8259
 * validation. The data path uses it for record JSON: integers stay exact
 * int64, and nothing is allocated per token or per document once the
 * tokenizer's scratch space has grown to the longest escaped string seen.
 * Decisions (numbers, lone surrogates, BOM, limits) are in docs/json.md.
 *
 *     jt_tokenizer t;
 *     jt_init(&t);
 *     jt_reset(&t, text, len);
 *     for (jt_token tok; (tok = jt_next(&t)) > JT_END;)
 *         ... t.str / t.len, t.i, t.d hold the token's value ...
 *     if (tok == JT_ERROR) jt_format_error(&t, msg, sizeof msg);
 *     jt_free(&t);
 */
#ifndef ETL_CORE_JSON_TOKENIZER_H
#define ETL_CORE_JSON_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JT_DEFAULT_MAX_DEPTH 512
/* Escaped strings up to this size are unescaped without touching the heap. */
#define JT_INLINE_SCRATCH 1024

typedef enum jt_token {
    JT_ERROR = -1,               /* see t.error; every later call returns JT_ERROR too */
    JT_END = 0,                  /* the document ended (only whitespace followed it) */
    JT_OBJECT_BEGIN,
    JT_OBJECT_END,
    JT_ARRAY_BEGIN,
    JT_ARRAY_END,
    JT_KEY,                      /* str/len: the member name, unescaped UTF-8 */
    JT_STRING,                   /* str/len: unescaped UTF-8 (may contain NUL bytes) */
    JT_INT,                      /* i: an integer lexeme that fits int64 */
    JT_BIG_NUMBER,               /* str/len: the lexeme of an integer beyond int64;
                                    d: its nearest double */
    JT_DOUBLE,                   /* d: a lexeme with a fraction or an exponent */
    JT_TRUE,
    JT_FALSE,
    JT_NULL
} jt_token;

typedef enum jt_error_kind {
    JT_ERR_NONE = 0,
    JT_ERR_SYNTAX,               /* malformed JSON (including invalid UTF-8) */
    JT_ERR_DEPTH,                /* nesting deeper than max_depth */
    JT_ERR_RANGE,                /* a number beyond the range of a double */
    JT_ERR_NOMEM                 /* scratch space could not grow */
} jt_error_kind;

typedef struct jt_error {
    jt_error_kind kind;
    size_t offset;               /* bytes from the start of the text, from 0 */
    int line;                    /* from 1 */
    int column;                  /* from 1, in characters (UTF-8 code points) */
    char reason[160];            /* "expected ',' or '}' after object member" */
} jt_error;

typedef struct jt_tokenizer {
    /* The value of the last token. str points into the input, or into the
     * tokenizer's scratch space when the string had escapes: either way it
     * stays valid until the next jt_next() or jt_reset(). */
    const char *str;
    size_t len;
    int64_t i;
    double d;
    jt_error error;
    int max_depth;               /* set with jt_set_max_depth() */

    /* private */
    const char *begin;
    const char *token;           /* where the last token starts */
    const char *p;
    const char *end;
    int state;
    int depth;
    uint8_t *stack;              /* 1 per open object, 0 per open array */
    size_t stack_cap;
    char *scratch;
    size_t scratch_cap;
    uint8_t inline_stack[JT_DEFAULT_MAX_DEPTH];
    char inline_scratch[JT_INLINE_SCRATCH];
} jt_tokenizer;

void jt_init(jt_tokenizer *t);
/* Frees what the tokenizer allocated (only past the inline sizes). */
void jt_free(jt_tokenizer *t);
/* Limit on open objects and arrays (at least 1). Takes effect at jt_reset. */
void jt_set_max_depth(jt_tokenizer *t, int max_depth);
/* Starts tokenizing a new document. A leading UTF-8 BOM is skipped. The text
 * is borrowed until the next jt_reset(); it need not be NUL-terminated. */
void jt_reset(jt_tokenizer *t, const char *json, size_t len);
jt_token jt_next(jt_tokenizer *t);
/* Current nesting depth (open objects and arrays). */
static inline int jt_depth(const jt_tokenizer *t)
{
    return t->depth;
}
/* "byte 17 (line 2, column 5): expected ':' after object key". Returns the
 * length snprintf would have written. */
int jt_format_error(const jt_tokenizer *t, char *buf, size_t cap);

/* Turns the last token into an error (for a caller that wanted another
 * kind of value there, like an object for a record): the tokenizer then
 * reports `reason` at that token's position, and returns JT_ERROR. */
jt_token jt_reject_token(jt_tokenizer *t, const char *reason);

/* Length (2 to 4) of the well-formed UTF-8 sequence of a non-ASCII byte at
 * p; 0 when malformed (overlong, surrogate, past U+10FFFF, stray byte), -1
 * when `end` comes first. */
int jt_utf8_sequence_length(const char *p, const char *end);

/* Checks that `json` is exactly one valid JSON text. On failure fills *err
 * (when not NULL). */
bool jt_validate(const char *json, size_t len, int max_depth, jt_error *err);

#endif
