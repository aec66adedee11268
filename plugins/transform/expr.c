/* The expression language of filter and derive: tokenizer, Pratt parser,
 * per-batch binding (column resolution, type checking) and row evaluation. */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define MAX_NESTING 200          /* parentheses, unary operators, calls */

/* ======================================================================== */
/* Column paths                                                             */
/* ======================================================================== */

static int child_named(const struct ArrowSchema *s, const char *name, size_t len)
{
    for (int64_t k = 0; k < s->n_children; k++) {
        const char *n = s->children[k]->name;
        if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0)
            return (int)k;
    }
    return -1;
}

/* Resolves `path` under struct `s`, trying the whole remaining text as one
 * name first, then each dot as a step into a struct child. */
static bool find_under(const struct ArrowSchema *s, const struct ArrowArray *a,
                       const char *path, size_t len, int depth, expr_path *out)
{
    if (depth >= EXPR_MAX_DEPTH)
        return false;
    int k = child_named(s, path, len);
    if (k >= 0) {
        out->depth = depth + 1;
        out->schema = s->children[k];
        out->arrays[depth] = a ? a->children[k] : NULL;
        return true;
    }
    for (size_t cut = 1; cut < len; cut++) {
        if (path[cut] != '.')
            continue;
        k = child_named(s, path, cut);
        if (k < 0 || strcmp(s->children[k]->format, "+s") != 0)
            continue;
        out->arrays[depth] = a ? a->children[k] : NULL;
        if (find_under(s->children[k], a ? a->children[k] : NULL, path + cut + 1, len - cut - 1,
                       depth + 1, out))
            return true;
    }
    return false;
}

bool expr_find_path(const struct ArrowSchema *schema, const struct ArrowArray *array,
                    const char *path, expr_path *out)
{
    memset(out, 0, sizeof *out);
    return schema != NULL && path != NULL && path[0] != '\0' &&
           find_under(schema, array, path, strlen(path), 0, out);
}

bool expr_path_valid(const expr_path *p, int64_t row, int64_t *leaf_index)
{
    int64_t idx = row;
    for (int d = 0; d < p->depth; d++) {
        const struct ArrowArray *a = p->arrays[d];
        if (!etl_arrow_is_valid(a, idx))
            return false;
        if (d + 1 < p->depth)
            idx += a->offset;    /* children are indexed from the parent's offset */
    }
    *leaf_index = idx;
    return true;
}

typedef struct text_out {
    char *buf;
    size_t cap, len;
    bool full;
} text_out;

static void text_put(text_out *t, const char *s, size_t n)
{
    if (t->full)
        return;
    if (t->len + n + 4 >= t->cap) {
        memcpy(t->buf + t->len, "...", 4);
        t->full = true;
        return;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void list_under(const struct ArrowSchema *s, char *prefix, size_t prefix_len,
                       size_t prefix_cap, text_out *t)
{
    for (int64_t k = 0; k < s->n_children; k++) {
        const struct ArrowSchema *c = s->children[k];
        const char *name = c->name ? c->name : "";
        size_t n = strlen(name);
        if (prefix_len + n + 2 >= prefix_cap)
            continue;
        size_t len = prefix_len;
        if (len > 0)
            prefix[len++] = '.';
        memcpy(prefix + len, name, n + 1);
        len += n;
        if (strcmp(c->format, "+s") == 0 && c->n_children > 0) {
            list_under(c, prefix, len, prefix_cap, t);
        } else {
            if (t->len > 0)
                text_put(t, ", ", 2);
            text_put(t, prefix, len);
        }
    }
}

void expr_list_columns(const struct ArrowSchema *schema, char *buf, size_t cap)
{
    if (cap < 8)
        return;
    text_out t = {buf, cap, 0, false};
    char prefix[512];
    buf[0] = '\0';
    if (schema != NULL)
        list_under(schema, prefix, 0, sizeof prefix, &t);
    if (t.len == 0 && !t.full)
        snprintf(buf, cap, "(none)");
}

/* ======================================================================== */
/* Tokens                                                                   */
/* ======================================================================== */

typedef enum tok_kind {
    T_END, T_NUMBER, T_STRING, T_IDENT, T_QIDENT, T_LPAREN, T_RPAREN, T_COMMA,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_AND, T_OR, T_NOT, T_IS, T_NULL, T_TRUE, T_FALSE,
    T_ERROR
} tok_kind;

typedef struct token {
    tok_kind kind;
    size_t start, len;           /* byte range in the text */
} token;

typedef struct lexer {
    const char *text;
    size_t len, pos;
    token tok;                   /* the current token */
    expr_error *err;
    bool failed;
    int nesting;
} lexer;

static bool fail_at(lexer *lx, size_t byte_pos, const char *fmt, ...) ETL_PRINTF(3, 4);

static bool fail_at(lexer *lx, size_t byte_pos, const char *fmt, ...)
{
    if (lx->failed)
        return false;
    lx->failed = true;
    lx->err->column = byte_pos + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err->message, sizeof lx->err->message, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static tok_kind keyword(const char *s, size_t len)
{
    static const struct {
        const char *word;
        tok_kind kind;
    } words[] = {{"and", T_AND},   {"or", T_OR},     {"not", T_NOT},    {"is", T_IS},
                 {"null", T_NULL}, {"true", T_TRUE}, {"false", T_FALSE}};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strlen(words[k].word) == len && strncasecmp(s, words[k].word, len) == 0)
            return words[k].kind;
    return T_IDENT;
}

static size_t scan_number(const char *s, size_t len, size_t p)
{
    while (p < len && isdigit((unsigned char)s[p]))
        p++;
    if (p + 1 < len && s[p] == '.' && isdigit((unsigned char)s[p + 1])) {
        p++;
        while (p < len && isdigit((unsigned char)s[p]))
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        size_t q = p + 1;
        if (q < len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q < len && isdigit((unsigned char)s[q])) {
            p = q;
            while (p < len && isdigit((unsigned char)s[p]))
                p++;
        }
    }
    return p;
}

/* A dotted identifier: name(.name)*, where parts after a dot may start with
 * a digit ("tags.0" style names). */
static size_t scan_ident(const char *s, size_t len, size_t p)
{
    while (p < len && is_ident_char(s[p]))
        p++;
    while (p + 1 < len && s[p] == '.' && is_ident_char(s[p + 1])) {
        p++;
        while (p < len && is_ident_char(s[p]))
            p++;
    }
    return p;
}

static size_t scan_quoted(lexer *lx, size_t p, char quote)
{
    for (p++; p < lx->len; p++) {
        if (lx->text[p] == '\\' && p + 1 < lx->len)
            p++;
        else if (lx->text[p] == quote)
            return p + 1;
    }
    fail_at(lx, lx->tok.start, "unterminated %s (add the closing %c)",
            quote == '`' ? "quoted column name" : "string", quote);
    return lx->len;
}

static tok_kind scan_operator(lexer *lx, size_t p, size_t *end)
{
    const char *s = lx->text + p;
    char next = p + 1 < lx->len ? s[1] : '\0';
    *end = p + 1;
    switch (s[0]) {
    case '(': return T_LPAREN;
    case ')': return T_RPAREN;
    case ',': return T_COMMA;
    case '+': return T_PLUS;
    case '-': return T_MINUS;
    case '*': return T_STAR;
    case '/': return T_SLASH;
    case '%': return T_PERCENT;
    case '<':
        if (next == '=' || next == '>')
            *end = p + 2;
        return next == '=' ? T_LE : next == '>' ? T_NE : T_LT;
    case '>':
        if (next == '=')
            *end = p + 2;
        return next == '=' ? T_GE : T_GT;
    case '=':
        if (next == '=') {
            *end = p + 2;
            return T_EQ;
        }
        fail_at(lx, p, "'=' is not an operator: write == to compare");
        return T_ERROR;
    case '!':
        if (next == '=') {
            *end = p + 2;
            return T_NE;
        }
        fail_at(lx, p, "'!' is not an operator: write 'not' to negate, != to compare");
        return T_ERROR;
    case '&':
    case '|':
        fail_at(lx, p, "'%c' is not an operator: write '%s'", s[0], s[0] == '&' ? "and" : "or");
        return T_ERROR;
    default:
        if ((unsigned char)s[0] < 0x20 || (unsigned char)s[0] >= 0x7f)
            fail_at(lx, p, "unexpected byte 0x%02x", (unsigned char)s[0]);
        else
            fail_at(lx, p, "unexpected character '%c'", s[0]);
        return T_ERROR;
    }
}

static void next_token(lexer *lx)
{
    while (lx->pos < lx->len && isspace((unsigned char)lx->text[lx->pos]))
        lx->pos++;
    size_t p = lx->pos, end;
    lx->tok.start = p;
    if (p >= lx->len) {
        lx->tok.kind = T_END;
        lx->tok.len = 0;
        return;
    }
    char c = lx->text[p];
    if (isdigit((unsigned char)c)) {
        end = scan_number(lx->text, lx->len, p);
        lx->tok.kind = T_NUMBER;
        if (end < lx->len && is_ident_char(lx->text[end]))
            fail_at(lx, p, "malformed number");
    } else if (is_ident_start(c)) {
        end = scan_ident(lx->text, lx->len, p);
        lx->tok.kind = keyword(lx->text + p, end - p);
    } else if (c == '\'' || c == '"') {
        end = scan_quoted(lx, p, c);
        lx->tok.kind = T_STRING;
    } else if (c == '`') {
        end = scan_quoted(lx, p, '`');
        lx->tok.kind = T_QIDENT;
    } else {
        lx->tok.kind = scan_operator(lx, p, &end);
    }
    if (lx->failed)
        lx->tok.kind = T_ERROR;
    lx->tok.len = end - p;
    lx->pos = end;
}

static const char *describe_token(const lexer *lx, char *buf, size_t cap)
{
    if (lx->tok.kind == T_END)
        return "the end of the expression";
    int n = lx->tok.len > 40 ? 40 : (int)lx->tok.len;
    snprintf(buf, cap, "'%.*s'%s", n, lx->text + lx->tok.start, lx->tok.len > 40 ? "..." : "");
    return buf;
}

/* ======================================================================== */
/* Syntax tree                                                              */
/* ======================================================================== */

typedef enum node_kind { N_LITERAL, N_COLUMN, N_UNARY, N_BINARY, N_IS_NULL, N_CALL } node_kind;

typedef enum fn_id {
    FN_DATE, FN_YEAR, FN_MONTH, FN_DAY, FN_LOWER, FN_UPPER, FN_CONCAT, FN_COALESCE, FN_LENGTH
} fn_id;

static const struct {
    const char *name;
    fn_id id;
    size_t min_args, max_args;
} functions[] = {
    {"date", FN_DATE, 1, 1},     {"year", FN_YEAR, 1, 1},       {"month", FN_MONTH, 1, 1},
    {"day", FN_DAY, 1, 1},       {"lower", FN_LOWER, 1, 1},     {"upper", FN_UPPER, 1, 1},
    {"concat", FN_CONCAT, 1, 64}, {"coalesce", FN_COALESCE, 1, 64}, {"length", FN_LENGTH, 1, 1},
};
#define FUNCTION_NAMES "date, year, month, day, lower, upper, concat, coalesce, length"

/* How a comparison or arithmetic node evaluates, decided at bind time. */
typedef enum mode { M_NULL, M_INT, M_DOUBLE, M_STRING, M_BOOL, M_TIME } mode;

typedef struct node {
    node_kind kind;
    tok_kind op;                 /* N_UNARY, N_BINARY; N_IS_NULL: T_IS or T_NOT */
    fn_id fn;
    size_t pos;                  /* 1-based column in the text */
    struct node **args;
    size_t nargs;
    cv_value lit;                /* N_LITERAL */
    char *text;                  /* column path or string literal (owned) */
    /* bound per batch */
    cv_type type;
    mode mode;
    expr_path path;
    cv_type column_type;
    char scratch[CV_DECIMAL_TEXT_MAX];
    cv_value *argv;              /* N_CALL: room for the argument values */
    char *text_bufs;             /* N_CALL concat: CV_TEXT_MAX per argument */
} node;

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    char data[];
} arena_chunk;

struct expr {
    char *text;
    node *root;
    arena_chunk *chunks, *current;
    int64_t overflows;
    bool out_of_memory;
};

static void node_free(node *n)
{
    if (n == NULL)
        return;
    for (size_t k = 0; k < n->nargs; k++)
        node_free(n->args[k]);
    free(n->args);
    free(n->text);
    free(n->argv);
    free(n->text_bufs);
    free(n);
}

static node *node_new(lexer *lx, node_kind kind, size_t byte_pos)
{
    node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        fail_at(lx, byte_pos, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->pos = byte_pos + 1;
    return n;
}

static bool node_add_arg(lexer *lx, node *n, node *arg)
{
    node **grown = realloc(n->args, (n->nargs + 1) * sizeof *grown);
    if (grown == NULL) {
        node_free(arg);
        return fail_at(lx, lx->tok.start, "out of memory");
    }
    n->args = grown;
    n->args[n->nargs++] = arg;
    return true;
}

/* ======================================================================== */
/* Parser (Pratt): binding powers                                           */
/* ======================================================================== */

enum { BP_OR = 1, BP_AND = 2, BP_NOT = 3, BP_COMPARE = 4, BP_SUM = 5, BP_PRODUCT = 6, BP_UNARY = 7 };

static int infix_power(tok_kind k)
{
    switch (k) {
    case T_OR: return BP_OR;
    case T_AND: return BP_AND;
    case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE: case T_IS:
        return BP_COMPARE;
    case T_PLUS: case T_MINUS: return BP_SUM;
    case T_STAR: case T_SLASH: case T_PERCENT: return BP_PRODUCT;
    default: return 0;
    }
}

static node *parse_expr(lexer *lx, int min_power);

static char *unescape_string(lexer *lx, size_t *out_len)
{
    const char *s = lx->text + lx->tok.start + 1;
    size_t len = lx->tok.len - 2;
    char *out = malloc(len + 1);
    if (out == NULL) {
        fail_at(lx, lx->tok.start, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        if (c == '\\' && k + 1 < len) {
            c = s[++k];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static node *parse_number(lexer *lx, bool negative, size_t start)
{
    char buf[128];
    size_t len = lx->tok.len;
    if (len + 2 > sizeof buf) {
        fail_at(lx, lx->tok.start, "number too long");
        return NULL;
    }
    size_t n = 0;
    if (negative)
        buf[n++] = '-';
    memcpy(buf + n, lx->text + lx->tok.start, len);
    buf[n + len] = '\0';
    node *lit = node_new(lx, N_LITERAL, start);
    if (lit == NULL)
        return NULL;
    cv_value text = {.type = CV_STRING, .u.s = {buf, n + len}};
    const char *why;
    if (strpbrk(buf, ".eE") == NULL) {
        lit->lit.type = CV_INT;
        if (!cv_to_int(&text, &lit->lit.u.i, &why)) {
            node_free(lit);
            fail_at(lx, start, "integer %s is out of the range of int64 "
                    "(-9223372036854775808 to 9223372036854775807)", buf);
            return NULL;
        }
    } else {
        lit->lit.type = CV_DOUBLE;
        if (!cv_to_double(&text, &lit->lit.u.d, &why)) {
            node_free(lit);
            fail_at(lx, start, "number %s is %s", buf, why);
            return NULL;
        }
    }
    next_token(lx);
    return lit;
}

static int find_function(const char *name, size_t len)
{
    for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++)
        if (strlen(functions[k].name) == len && strncasecmp(functions[k].name, name, len) == 0)
            return (int)k;
    return -1;
}

static node *parse_call(lexer *lx)
{
    token name = lx->tok;
    int f = find_function(lx->text + name.start, name.len);
    if (f < 0) {
        fail_at(lx, name.start, "unknown function '%.*s' (functions: " FUNCTION_NAMES ")",
                (int)name.len, lx->text + name.start);
        return NULL;
    }
    node *call = node_new(lx, N_CALL, name.start);
    if (call == NULL)
        return NULL;
    call->fn = functions[f].id;
    next_token(lx);              /* the name */
    next_token(lx);              /* ( */
    while (lx->tok.kind != T_RPAREN && !lx->failed) {
        if (call->nargs > 0) {
            char what[64];
            if (lx->tok.kind != T_COMMA) {
                fail_at(lx, lx->tok.start, "expected ',' or ')' in the arguments of %s() but found %s",
                        functions[f].name, describe_token(lx, what, sizeof what));
                break;
            }
            next_token(lx);
        }
        node *arg = parse_expr(lx, 0);
        if (arg == NULL || !node_add_arg(lx, call, arg))
            break;
    }
    if (!lx->failed && functions[f].max_args == 1 && call->nargs != 1)
        fail_at(lx, name.start, "%s() takes 1 argument, got %zu", functions[f].name, call->nargs);
    else if (!lx->failed && call->nargs < functions[f].min_args)
        fail_at(lx, name.start, "%s() takes at least %zu argument, got none", functions[f].name,
                functions[f].min_args);
    else if (!lx->failed && call->nargs > functions[f].max_args)
        fail_at(lx, name.start, "%s() takes at most %zu arguments, got %zu", functions[f].name,
                functions[f].max_args, call->nargs);
    if (lx->failed) {
        node_free(call);
        return NULL;
    }
    next_token(lx);              /* ) */
    return call;
}

static node *parse_column(lexer *lx, bool quoted)
{
    node *col = node_new(lx, N_COLUMN, lx->tok.start);
    if (col == NULL)
        return NULL;
    if (quoted) {
        size_t len;
        col->text = unescape_string(lx, &len);
    } else {
        col->text = strndup(lx->text + lx->tok.start, lx->tok.len);
    }
    if (col->text == NULL) {
        fail_at(lx, lx->tok.start, "out of memory");
        node_free(col);
        return NULL;
    }
    if (quoted && col->text[0] == '\0') {
        fail_at(lx, lx->tok.start, "empty column name");
        node_free(col);
        return NULL;
    }
    next_token(lx);
    return col;
}

static node *parse_unary(lexer *lx, tok_kind op, int power)
{
    node *n = node_new(lx, N_UNARY, lx->tok.start);
    if (n == NULL)
        return NULL;
    n->op = op;
    next_token(lx);
    node *operand = parse_expr(lx, power);
    if (operand == NULL || !node_add_arg(lx, n, operand)) {
        node_free(n);
        return NULL;
    }
    return n;
}

static node *parse_literal(lexer *lx)
{
    node *lit = node_new(lx, N_LITERAL, lx->tok.start);
    if (lit == NULL)
        return NULL;
    switch (lx->tok.kind) {
    case T_STRING:
        lit->lit.type = CV_STRING;
        lit->text = unescape_string(lx, &lit->lit.u.s.len);
        lit->lit.u.s.p = lit->text;
        if (lit->text == NULL) {
            node_free(lit);
            return NULL;
        }
        break;
    case T_TRUE:
    case T_FALSE:
        lit->lit.type = CV_BOOL;
        lit->lit.u.b = lx->tok.kind == T_TRUE;
        break;
    default:
        lit->lit.type = CV_NULL;
        lit->lit.is_null = true;
        break;
    }
    next_token(lx);
    return lit;
}

static node *parse_group(lexer *lx)
{
    size_t open = lx->tok.start;
    next_token(lx);
    node *inner = parse_expr(lx, 0);
    if (inner == NULL)
        return NULL;
    if (lx->tok.kind != T_RPAREN) {
        char what[64];
        fail_at(lx, lx->tok.start, "expected ')' to close the '(' at column %zu but found %s",
                open + 1, describe_token(lx, what, sizeof what));
        node_free(inner);
        return NULL;
    }
    next_token(lx);
    return inner;
}

static node *parse_prefix(lexer *lx)
{
    char what[64];
    switch (lx->tok.kind) {
    case T_NUMBER:
        return parse_number(lx, false, lx->tok.start);
    case T_STRING: case T_TRUE: case T_FALSE: case T_NULL:
        return parse_literal(lx);
    case T_IDENT: {
        size_t p = lx->pos;
        while (p < lx->len && isspace((unsigned char)lx->text[p]))
            p++;
        if (p < lx->len && lx->text[p] == '(')
            return parse_call(lx);
        return parse_column(lx, false);
    }
    case T_QIDENT:
        return parse_column(lx, true);
    case T_LPAREN:
        return parse_group(lx);
    case T_NOT:
        return parse_unary(lx, T_NOT, BP_NOT);
    case T_MINUS: {
        size_t start = lx->tok.start;
        next_token(lx);
        if (lx->tok.kind == T_NUMBER)    /* so that -9223372036854775808 fits */
            return parse_number(lx, true, start);
        node *n = node_new(lx, N_UNARY, start);
        node *operand = n ? parse_expr(lx, BP_UNARY) : NULL;
        if (operand == NULL || !node_add_arg(lx, n, operand)) {
            node_free(n);
            return NULL;
        }
        n->op = T_MINUS;
        return n;
    }
    case T_PLUS:
        next_token(lx);
        return parse_expr(lx, BP_UNARY);
    case T_ERROR:
        return NULL;
    default:
        fail_at(lx, lx->tok.start,
                "expected a value (a column, a number, a 'string', a function call or '(') "
                "but found %s", describe_token(lx, what, sizeof what));
        return NULL;
    }
}

static node *parse_is_null(lexer *lx, node *left)
{
    node *n = node_new(lx, N_IS_NULL, lx->tok.start);
    if (n == NULL || !node_add_arg(lx, n, left)) {
        if (n == NULL)
            node_free(left);
        node_free(n);
        return NULL;
    }
    n->op = T_IS;
    next_token(lx);
    if (lx->tok.kind == T_NOT) {
        n->op = T_NOT;
        next_token(lx);
    }
    if (lx->tok.kind != T_NULL) {
        char what[64];
        fail_at(lx, lx->tok.start, "expected 'null' after 'is%s' but found %s",
                n->op == T_NOT ? " not" : "", describe_token(lx, what, sizeof what));
        node_free(n);
        return NULL;
    }
    next_token(lx);
    return n;
}

static node *parse_expr(lexer *lx, int min_power)
{
    if (++lx->nesting > MAX_NESTING) {
        fail_at(lx, lx->tok.start, "expression nested too deeply (more than %d levels)", MAX_NESTING);
        return NULL;
    }
    node *left = parse_prefix(lx);
    while (left != NULL && !lx->failed) {
        int power = infix_power(lx->tok.kind);
        if (power == 0 || power <= min_power)
            break;
        if (lx->tok.kind == T_IS) {
            left = parse_is_null(lx, left);
            continue;
        }
        node *bin = node_new(lx, N_BINARY, lx->tok.start);
        if (bin == NULL || !node_add_arg(lx, bin, left)) {
            if (bin == NULL)
                node_free(left);
            node_free(bin);
            return NULL;
        }
        bin->op = lx->tok.kind;
        next_token(lx);
        node *right = parse_expr(lx, power);
        if (right == NULL || !node_add_arg(lx, bin, right)) {
            node_free(bin);
            return NULL;
        }
        left = bin;
    }
    lx->nesting--;
    if (lx->failed) {
        node_free(left);
        return NULL;
    }
    return left;
}

expr *expr_compile(const char *text, expr_error *err)
{
    memset(err, 0, sizeof *err);
    lexer lx = {.text = text ? text : "", .len = text ? strlen(text) : 0, .err = err};
    next_token(&lx);
    if (lx.tok.kind == T_END) {
        fail_at(&lx, 0, "the expression is empty");
        return NULL;
    }
    node *root = lx.failed ? NULL : parse_expr(&lx, 0);
    if (root != NULL && lx.tok.kind != T_END) {
        char what[64];
        fail_at(&lx, lx.tok.start, "expected an operator or the end of the expression but found %s",
                describe_token(&lx, what, sizeof what));
        node_free(root);
        return NULL;
    }
    if (root == NULL)
        return NULL;
    expr *e = calloc(1, sizeof *e);
    if (e == NULL || (e->text = strdup(lx.text)) == NULL) {
        free(e);
        node_free(root);
        fail_at(&lx, 0, "out of memory");
        return NULL;
    }
    e->root = root;
    return e;
}

void expr_free(expr *e)
{
    if (e == NULL)
        return;
    node_free(e->root);
    for (arena_chunk *c = e->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(e->text);
    free(e);
}

int64_t expr_overflow_count(const expr *e)
{
    return e->overflows;
}

cv_type expr_result_type(const expr *e)
{
    return e->root->type;
}

/* ======================================================================== */
/* Binding: column resolution and types                                     */
/* ======================================================================== */

typedef struct binder {
    const struct ArrowSchema *schema;
    const struct ArrowArray *array;
    expr_error *err;
} binder;

static bool bind_fail(binder *b, const node *n, const char *fmt, ...) ETL_PRINTF(3, 4);

static bool bind_fail(binder *b, const node *n, const char *fmt, ...)
{
    b->err->column = n->pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_numeric(cv_type t)
{
    return t == CV_INT || t == CV_DOUBLE || t == CV_NULL;
}

static bool is_temporal(cv_type t)
{
    return t == CV_TIMESTAMP || t == CV_DATE;
}

static const char *op_text(tok_kind op)
{
    switch (op) {
    case T_PLUS: return "+";
    case T_MINUS: return "-";
    case T_STAR: return "*";
    case T_SLASH: return "/";
    case T_PERCENT: return "%";
    case T_EQ: return "==";
    case T_NE: return "!=";
    case T_LT: return "<";
    case T_LE: return "<=";
    case T_GT: return ">";
    case T_GE: return ">=";
    case T_AND: return "and";
    case T_OR: return "or";
    case T_NOT: return "not";
    default: return "?";
    }
}

static bool bind_node(binder *b, node *n);

static bool bind_column(binder *b, node *n)
{
    if (!expr_find_path(b->schema, b->array, n->text, &n->path)) {
        char columns[600];
        expr_list_columns(b->schema, columns, sizeof columns);
        return bind_fail(b, n, "unknown column '%s' (columns: %s)", n->text, columns);
    }
    n->column_type = cv_column_type(n->path.schema->format);
    if (n->column_type == CV_UNSUPPORTED)
        return bind_fail(b, n, "column '%s' is not a scalar (format '%s'): reach into a struct "
                         "with a dotted path such as %s.field",
                         n->text, n->path.schema->format, n->text);
    /* Decimals are compared and computed as doubles. */
    n->type = n->column_type == CV_DECIMAL ? CV_DOUBLE : n->column_type;
    return true;
}

static bool bind_unary(binder *b, node *n)
{
    cv_type t = n->args[0]->type;
    if (n->op == T_NOT) {
        if (t != CV_BOOL && t != CV_NULL)
            return bind_fail(b, n, "'not' needs a boolean, got %s", cv_type_name(t));
        n->type = CV_BOOL;
        return true;
    }
    if (!is_numeric(t))
        return bind_fail(b, n, "'-' needs a number, got %s", cv_type_name(t));
    n->type = t == CV_NULL ? CV_INT : t;
    return true;
}

static bool bind_comparison(binder *b, node *n, cv_type l, cv_type r)
{
    n->type = CV_BOOL;
    if (l == CV_NULL || r == CV_NULL)
        n->mode = M_NULL;
    else if (is_numeric(l) && is_numeric(r))
        n->mode = l == CV_INT && r == CV_INT ? M_INT : M_DOUBLE;
    else if (l == CV_STRING && r == CV_STRING)
        n->mode = M_STRING;
    else if (l == CV_BOOL && r == CV_BOOL)
        n->mode = M_BOOL;
    else if ((is_temporal(l) || l == CV_STRING) && (is_temporal(r) || r == CV_STRING))
        n->mode = M_TIME;
    else
        return bind_fail(b, n, "cannot compare %s with %s using %s; convert one side first "
                         "(transform cast)", cv_type_name(l), cv_type_name(r), op_text(n->op));
    return true;
}

static bool bind_binary(binder *b, node *n)
{
    cv_type l = n->args[0]->type, r = n->args[1]->type;
    switch (n->op) {
    case T_AND:
    case T_OR:
        if ((l != CV_BOOL && l != CV_NULL) || (r != CV_BOOL && r != CV_NULL))
            return bind_fail(b, n, "'%s' needs booleans, got %s and %s", op_text(n->op),
                             cv_type_name(l), cv_type_name(r));
        n->type = CV_BOOL;
        return true;
    case T_PLUS: case T_MINUS: case T_STAR: case T_SLASH: case T_PERCENT:
        if (!is_numeric(l) || !is_numeric(r))
            return bind_fail(b, n, "'%s' needs numbers, got %s and %s%s", op_text(n->op),
                             cv_type_name(l), cv_type_name(r),
                             l == CV_STRING && r == CV_STRING ? " (use concat() to join strings)" : "");
        if (n->op == T_SLASH)
            n->type = CV_DOUBLE;
        else
            n->type = l == CV_DOUBLE || r == CV_DOUBLE ? CV_DOUBLE : CV_INT;
        n->mode = l == CV_NULL || r == CV_NULL ? M_NULL : n->type == CV_INT ? M_INT : M_DOUBLE;
        return true;
    default:
        return bind_comparison(b, n, l, r);
    }
}

static bool bind_coalesce(binder *b, node *n)
{
    cv_type t = CV_NULL;
    for (size_t k = 0; k < n->nargs; k++) {
        cv_type a = n->args[k]->type;
        if (a == CV_NULL || a == t)
            continue;
        if (t == CV_NULL)
            t = a;
        else if (is_numeric(t) && is_numeric(a))
            t = CV_DOUBLE;
        else
            return bind_fail(b, n->args[k], "coalesce() arguments must have one type: %s and %s "
                             "differ", cv_type_name(t), cv_type_name(a));
    }
    n->type = t;
    return true;
}

static bool bind_call(binder *b, node *n)
{
    if (n->argv == NULL && (n->argv = calloc(n->nargs, sizeof *n->argv)) == NULL)
        return bind_fail(b, n, "out of memory");
    cv_type a = n->args[0]->type;
    switch (n->fn) {
    case FN_DATE: case FN_YEAR: case FN_MONTH: case FN_DAY:
        if (!is_temporal(a) && a != CV_STRING && a != CV_NULL)
            return bind_fail(b, n, "%s() needs a timestamp, a date or an ISO 8601 string, got %s",
                             n->fn == FN_DATE ? "date" : n->fn == FN_YEAR ? "year"
                             : n->fn == FN_MONTH ? "month" : "day", cv_type_name(a));
        n->type = n->fn == FN_DATE ? CV_STRING : CV_INT;
        return true;
    case FN_LOWER: case FN_UPPER: case FN_LENGTH:
        if (a != CV_STRING && a != CV_NULL)
            return bind_fail(b, n, "%s() needs a string, got %s",
                             n->fn == FN_LOWER ? "lower" : n->fn == FN_UPPER ? "upper" : "length",
                             cv_type_name(a));
        n->type = n->fn == FN_LENGTH ? CV_INT : CV_STRING;
        return true;
    case FN_CONCAT:
        if (n->text_bufs == NULL && (n->text_bufs = malloc(n->nargs * CV_TEXT_MAX)) == NULL)
            return bind_fail(b, n, "out of memory");
        n->type = CV_STRING;
        return true;
    case FN_COALESCE:
        return bind_coalesce(b, n);
    }
    return false;
}

static bool bind_node(binder *b, node *n)
{
    for (size_t k = 0; k < n->nargs; k++)
        if (!bind_node(b, n->args[k]))
            return false;
    switch (n->kind) {
    case N_LITERAL:
        n->type = n->lit.type;
        return true;
    case N_COLUMN:
        return bind_column(b, n);
    case N_UNARY:
        return bind_unary(b, n);
    case N_BINARY:
        return bind_binary(b, n);
    case N_IS_NULL:
        n->type = CV_BOOL;
        return true;
    case N_CALL:
        return bind_call(b, n);
    }
    return false;
}

bool expr_bind(expr *e, const struct ArrowSchema *schema, const struct ArrowArray *array,
               expr_error *err)
{
    memset(err, 0, sizeof *err);
    binder b = {schema, array, err};
    return bind_node(&b, e->root);
}

/* ======================================================================== */
/* Evaluation                                                               */
/* ======================================================================== */

/* Arena for strings made while evaluating one row: chunks never move, so
 * pointers stay valid; rewinding keeps the chunks for the next row. */
static char *arena_alloc(expr *e, size_t n)
{
    for (arena_chunk *c = e->current; c != NULL; c = c->next) {
        if (c->cap - c->used >= n) {
            e->current = c;
            c->used += n;
            return c->data + c->used - n;
        }
    }
    size_t cap = n > 4096 ? n : 4096;
    arena_chunk *c = malloc(sizeof *c + cap);
    if (c == NULL) {
        e->out_of_memory = true;
        return NULL;
    }
    c->cap = cap;
    c->used = n;
    c->next = NULL;
    arena_chunk **tail = &e->chunks;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = c;
    e->current = c;
    return c->data;
}

static void arena_rewind(expr *e)
{
    for (arena_chunk *c = e->chunks; c != NULL; c = c->next)
        c->used = 0;
    e->current = e->chunks;
}

static void set_null(cv_value *out, cv_type type)
{
    out->type = type;
    out->is_null = true;
}

static void eval_node(expr *e, node *n, int64_t row, cv_value *out);

static void eval_column(node *n, int64_t row, cv_value *out)
{
    int64_t idx;
    if (n->column_type == CV_NULL || !expr_path_valid(&n->path, row, &idx)) {
        set_null(out, n->type);
        return;
    }
    const struct ArrowArray *leaf = n->path.arrays[n->path.depth - 1];
    cv_read(n->path.schema, leaf, idx, n->column_type, n->scratch, out);
    if (n->column_type == CV_DECIMAL) {
        const char *why;
        double d = 0;
        cv_to_double(out, &d, &why);
        out->type = CV_DOUBLE;
        out->u.d = d;
    }
}

static double as_double(const cv_value *v)
{
    return v->type == CV_INT ? (double)v->u.i : v->u.d;
}

static void eval_int_arithmetic(expr *e, tok_kind op, int64_t a, int64_t c, cv_value *out)
{
    int64_t r = 0;
    bool overflow = false;
    switch (op) {
    case T_PLUS: overflow = __builtin_add_overflow(a, c, &r); break;
    case T_MINUS: overflow = __builtin_sub_overflow(a, c, &r); break;
    case T_STAR: overflow = __builtin_mul_overflow(a, c, &r); break;
    default:                     /* % */
        if (c == 0) {
            set_null(out, CV_INT);
            return;
        }
        r = c == -1 ? 0 : a % c;
        break;
    }
    if (overflow) {
        e->overflows++;
        set_null(out, CV_INT);
        return;
    }
    out->type = CV_INT;
    out->is_null = false;
    out->u.i = r;
}

static void eval_arithmetic(expr *e, node *n, const cv_value *l, const cv_value *r, cv_value *out)
{
    if (l->is_null || r->is_null || n->mode == M_NULL) {
        set_null(out, n->type);
        return;
    }
    if (n->type == CV_INT) {
        eval_int_arithmetic(e, n->op, l->u.i, r->u.i, out);
        return;
    }
    double a = as_double(l), c = as_double(r), v;
    switch (n->op) {
    case T_PLUS: v = a + c; break;
    case T_MINUS: v = a - c; break;
    case T_STAR: v = a * c; break;
    case T_SLASH: v = a / c; break;
    default: v = fmod(a, c); break;
    }
    if (c == 0 && (n->op == T_SLASH || n->op == T_PERCENT)) {
        set_null(out, CV_DOUBLE);
        return;
    }
    if (!isfinite(v)) {
        set_null(out, CV_DOUBLE);
        return;
    }
    out->type = CV_DOUBLE;
    out->is_null = false;
    out->u.d = v;
}

static int compare_strings(const cv_value *a, const cv_value *b)
{
    size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
    if (c != 0)
        return c;
    return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
}

#define THREE_WAY(a, b) ((a) < (b) ? -1 : (a) > (b))

/* -1, 0 or 1; *unknown when a side cannot be compared (unparsable time). */
static int compare_values(mode m, const cv_value *l, const cv_value *r, bool *unknown)
{
    const char *why;
    int64_t a, b;
    switch (m) {
    case M_INT: return THREE_WAY(l->u.i, r->u.i);
    case M_DOUBLE: return THREE_WAY(as_double(l), as_double(r));
    case M_STRING: return compare_strings(l, r);
    case M_BOOL: return THREE_WAY(l->u.b, r->u.b);
    case M_TIME:
        if (!cv_to_timestamp(l, &a, &why) || !cv_to_timestamp(r, &b, &why)) {
            *unknown = true;
            return 0;
        }
        return THREE_WAY(a, b);
    default:
        *unknown = true;
        return 0;
    }
}

static void eval_comparison(node *n, const cv_value *l, const cv_value *r, cv_value *out)
{
    bool unknown = l->is_null || r->is_null;
    int c = unknown ? 0 : compare_values(n->mode, l, r, &unknown);
    if (unknown) {
        set_null(out, CV_BOOL);
        return;
    }
    bool v;
    switch (n->op) {
    case T_EQ: v = c == 0; break;
    case T_NE: v = c != 0; break;
    case T_LT: v = c < 0; break;
    case T_LE: v = c <= 0; break;
    case T_GT: v = c > 0; break;
    default: v = c >= 0; break;
    }
    out->type = CV_BOOL;
    out->is_null = false;
    out->u.b = v;
}

/* SQL three-valued logic: false and null = false, true or null = true. */
static void eval_logic(expr *e, node *n, int64_t row, cv_value *out)
{
    bool is_and = n->op == T_AND;
    cv_value l, r;
    eval_node(e, n->args[0], row, &l);
    out->type = CV_BOOL;
    out->is_null = false;
    if (!l.is_null && l.u.b != is_and) {
        out->u.b = l.u.b;
        return;
    }
    eval_node(e, n->args[1], row, &r);
    if (!r.is_null && r.u.b != is_and) {
        out->u.b = r.u.b;
        return;
    }
    if (l.is_null || r.is_null) {
        out->is_null = true;
        return;
    }
    out->u.b = is_and;
}

static void eval_binary(expr *e, node *n, int64_t row, cv_value *out)
{
    if (n->op == T_AND || n->op == T_OR) {
        eval_logic(e, n, row, out);
        return;
    }
    cv_value l, r;
    eval_node(e, n->args[0], row, &l);
    eval_node(e, n->args[1], row, &r);
    if (infix_power(n->op) == BP_COMPARE)
        eval_comparison(n, &l, &r, out);
    else
        eval_arithmetic(e, n, &l, &r, out);
}

static void eval_unary(expr *e, node *n, int64_t row, cv_value *out)
{
    eval_node(e, n->args[0], row, out);
    if (out->is_null) {
        set_null(out, n->type);
        return;
    }
    if (n->op == T_NOT)
        out->u.b = !out->u.b;
    else if (out->type == CV_DOUBLE)
        out->u.d = -out->u.d;
    else if (out->u.i == INT64_MIN) {
        e->overflows++;
        set_null(out, CV_INT);
    } else
        out->u.i = -out->u.i;
}

static bool value_days(const cv_value *v, int64_t *days)
{
    const char *why;
    int32_t d;
    if (v->is_null || !cv_to_date(v, &d, &why))
        return false;
    *days = d;
    return true;
}

static void make_string(expr *e, const char *p, size_t len, bool upper, bool lower, cv_value *out)
{
    char *s = arena_alloc(e, len ? len : 1);
    if (s == NULL) {
        set_null(out, CV_STRING);
        return;
    }
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)p[k];
        s[k] = (char)(upper && c < 0x80 ? toupper(c) : lower && c < 0x80 ? tolower(c) : c);
    }
    out->type = CV_STRING;
    out->is_null = false;
    out->u.s.p = s;
    out->u.s.len = len;
}

static void eval_calendar(expr *e, node *n, const cv_value *a, cv_value *out)
{
    int64_t days, y;
    unsigned m, d;
    if (!value_days(a, &days)) {
        set_null(out, n->type);
        return;
    }
    if (n->fn == FN_DATE) {
        char text[CV_TEXT_MAX];
        size_t len = cv_format_date(days, text);
        make_string(e, text, len, false, false, out);
        return;
    }
    cv_civil_from_days(days, &y, &m, &d);
    out->type = CV_INT;
    out->is_null = false;
    out->u.i = n->fn == FN_YEAR ? y : n->fn == FN_MONTH ? (int64_t)m : (int64_t)d;
}

static void eval_concat(expr *e, node *n, int64_t row, cv_value *out)
{
    size_t total = 0;
    const char *parts[64];       /* the parser allows at most 64 arguments */
    size_t lens[64];
    size_t count = n->nargs;
    for (size_t k = 0; k < count; k++) {
        cv_value *v = &n->argv[k];
        eval_node(e, n->args[k], row, v);
        if (v->is_null) {        /* nulls are skipped, as in PostgreSQL's concat() */
            lens[k] = 0;
            parts[k] = "";
            continue;
        }
        cv_to_text(v, n->text_bufs + k * CV_TEXT_MAX, &parts[k], &lens[k]);
        total += lens[k];
    }
    char *s = arena_alloc(e, total ? total : 1);
    if (s == NULL) {
        set_null(out, CV_STRING);
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < count; k++) {
        if (lens[k] > 0)
            memcpy(s + at, parts[k], lens[k]);
        at += lens[k];
    }
    out->type = CV_STRING;
    out->is_null = false;
    out->u.s.p = s;
    out->u.s.len = total;
}

static void eval_coalesce(expr *e, node *n, int64_t row, cv_value *out)
{
    for (size_t k = 0; k < n->nargs; k++) {
        eval_node(e, n->args[k], row, out);
        if (!out->is_null) {
            if (n->type == CV_DOUBLE && out->type == CV_INT) {
                out->u.d = (double)out->u.i;
                out->type = CV_DOUBLE;
            }
            return;
        }
    }
    set_null(out, n->type);
}

static size_t utf8_length(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t k = 0; k < len; k++)
        n += ((unsigned char)p[k] & 0xC0) != 0x80;
    return n;
}

static void eval_call(expr *e, node *n, int64_t row, cv_value *out)
{
    if (n->fn == FN_CONCAT) {
        eval_concat(e, n, row, out);
        return;
    }
    if (n->fn == FN_COALESCE) {
        eval_coalesce(e, n, row, out);
        return;
    }
    cv_value a;
    eval_node(e, n->args[0], row, &a);
    if (a.is_null) {
        set_null(out, n->type);
        return;
    }
    switch (n->fn) {
    case FN_LOWER:
    case FN_UPPER:
        make_string(e, a.u.s.p, a.u.s.len, n->fn == FN_UPPER, n->fn == FN_LOWER, out);
        return;
    case FN_LENGTH:
        out->type = CV_INT;
        out->is_null = false;
        out->u.i = (int64_t)utf8_length(a.u.s.p, a.u.s.len);
        return;
    default:
        eval_calendar(e, n, &a, out);
        return;
    }
}

static void eval_node(expr *e, node *n, int64_t row, cv_value *out)
{
    switch (n->kind) {
    case N_LITERAL:
        *out = n->lit;
        return;
    case N_COLUMN:
        eval_column(n, row, out);
        return;
    case N_UNARY:
        eval_unary(e, n, row, out);
        return;
    case N_BINARY:
        eval_binary(e, n, row, out);
        return;
    case N_IS_NULL: {
        cv_value v;
        eval_node(e, n->args[0], row, &v);
        out->type = CV_BOOL;
        out->is_null = false;
        out->u.b = n->op == T_IS ? v.is_null : !v.is_null;
        return;
    }
    case N_CALL:
        eval_call(e, n, row, out);
        return;
    }
}

bool expr_eval(expr *e, int64_t row, cv_value *out)
{
    arena_rewind(e);
    eval_node(e, e->root, row, out);
    return !e->out_of_memory;
}
