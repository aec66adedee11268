/* Pipeline-file loading: positions, ${VAR} substitution, quoting, errors,
 * aliases and robustness against malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "buf.h"
#include "tap_runner.h"
#include "yaml_doc.h"

/* Parses `text` as "t.yaml"; the error text, if any, is left in `err`. */
static ynode *load(const char *text, etl_buf *err)
{
    buf_reset(err);
    return ydoc_load_string(text, strlen(text), "t.yaml", err);
}

/* Expects `text` to fail with exactly `expected`. */
static void expect_error(const char *text, const char *expected)
{
    etl_buf err = {0};
    ynode *root = load(text, &err);
    ck_assert_ptr_null(root);
    ck_assert_str_eq(buf_cstr(&err), expected);
    buf_free(&err);
}

/* Expects `text` to fail with a message containing `part`. */
static void expect_error_part(const char *text, const char *part)
{
    etl_buf err = {0};
    ynode *root = load(text, &err);
    ck_assert_ptr_null(root);
    ck_assert_msg(strstr(buf_cstr(&err), part) != NULL, "error '%s' lacks '%s'", buf_cstr(&err),
                  part);
    buf_free(&err);
}

/* The scalar at `key` of a one-key document "v: <value>". */
static char *value_of(const char *text)
{
    etl_buf err = {0};
    ynode *root = load(text, &err);
    ck_assert_msg(root != NULL, "failed: %s", buf_cstr(&err));
    const ynode *v = ynode_get(root, "v");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->kind, YNODE_SCALAR);
    char *copy = strdup(v->value);
    ynode_free(root);
    buf_free(&err);
    return copy;
}

static void expect_value(const char *text, const char *expected)
{
    char *v = value_of(text);
    ck_assert_str_eq(v, expected);
    free(v);
}

static const char SAMPLE[] =
    "pipeline: products\n"
    "source:\n"
    "  type: file\n"
    "  path: /tmp/x\n"
    "list:\n"
    "  - a\n"
    "  - {b: c}\n";

START_TEST(positions_of_nodes_and_keys)
{
    etl_buf err = {0};
    ynode *root = load(SAMPLE, &err);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(root->kind, YNODE_MAP);
    ck_assert_int_eq(root->count, 3);
    ck_assert_int_eq(root->line, 1);
    ck_assert_int_eq(root->column, 1);
    ck_assert_str_eq(root->keys[0]->value, "pipeline");
    ck_assert_int_eq(root->items[0]->line, 1);
    ck_assert_int_eq(root->items[0]->column, 11);
    const ynode *source = ynode_get(root, "source");
    ck_assert_int_eq(source->kind, YNODE_MAP);
    ck_assert_int_eq(source->line, 3);
    ck_assert_int_eq(source->column, 3);
    ck_assert_str_eq(source->keys[1]->value, "path");
    ck_assert_int_eq(source->keys[1]->line, 4);
    ck_assert_int_eq(source->keys[1]->column, 3);
    char where[64];
    ck_assert_str_eq(ynode_where(ynode_get(source, "path"), where, sizeof where), "t.yaml:4:9");
    const ynode *list = ynode_get(root, "list");
    ck_assert_int_eq(list->kind, YNODE_SEQ);
    ck_assert_int_eq(list->count, 2);
    ck_assert_int_eq(list->items[1]->kind, YNODE_MAP);
    ck_assert_int_eq(list->items[1]->line, 7);
    ck_assert_int_eq(list->items[1]->column, 5);
    ck_assert_str_eq(ynode_get(list->items[1], "b")->value, "c");
    ck_assert_str_eq(ynode_get(list->items[1], "b")->file, "t.yaml");
    ck_assert_ptr_null(ynode_get(root, "missing"));
    ck_assert_ptr_null(ynode_get(list, "a"));
    ck_assert_str_eq(ynode_kind_name(YNODE_SEQ), "sequence");
    ck_assert_str_eq(ynode_kind_name(YNODE_MAP), "mapping");
    ck_assert_str_eq(ynode_kind_name(YNODE_SCALAR), "scalar");
    ynode_free(root);
    buf_free(&err);
}
END_TEST

START_TEST(substitution_of_set_variables)
{
    setenv("ETL_T_SET", "abc", 1);
    setenv("ETL_T_EMPTY", "", 1);
    unsetenv("ETL_T_UNSET");
    expect_value("v: x${ETL_T_SET}y\n", "xabcy");
    expect_value("v: ${ETL_T_SET}${ETL_T_SET}\n", "abcabc");
    expect_value("v: \"${ETL_T_SET}\"\n", "abc");
    expect_value("v: '${ETL_T_SET}'\n", "abc");
    expect_value("v: ${ETL_T_SET:-other}\n", "abc");
    expect_value("v: a${ETL_T_EMPTY}b\n", "ab");
}
END_TEST

START_TEST(substitution_of_defaults)
{
    unsetenv("ETL_T_UNSET");
    setenv("ETL_T_SET", "abc", 1);
    setenv("ETL_T_EMPTY", "", 1);
    expect_value("v: ${ETL_T_UNSET:-http://127.0.0.1:9200}\n", "http://127.0.0.1:9200");
    expect_value("v: ${ETL_T_UNSET:-}\n", "");
    expect_value("v: \"[${ETL_T_UNSET:-}]\"\n", "[]");
    /* As in the shell, :- also replaces a set but empty value. */
    expect_value("v: ${ETL_T_EMPTY:-fallback}\n", "fallback");
    /* The default is literal text up to the matching brace. */
    expect_value("v: \"${ETL_T_UNSET:-${ETL_T_SET}}\"\n", "${ETL_T_SET}");
    expect_value("v: \"${ETL_T_UNSET:-a b:c}\"\n", "a b:c");
}
END_TEST

START_TEST(dollar_escapes)
{
    expect_value("v: cost $$5\n", "cost $5");
    expect_value("v: $$${ETL_T_UNSET:-x}\n", "$x");
    expect_value("v: \"$$$$\"\n", "$$");
    /* A lone $ is an ordinary character. */
    expect_value("v: $HOME and $\n", "$HOME and $");
}
END_TEST

START_TEST(unset_variable_without_default)
{
    unsetenv("ETL_T_BUCKET");
    expect_error("sink:\n  url: s3://${ETL_T_BUCKET}/x\n",
                 "t.yaml:2:8: environment variable ETL_T_BUCKET is not set (write "
                 "${ETL_T_BUCKET:-default} to give a default)");
}
END_TEST

START_TEST(bad_references)
{
    expect_error("v: ${ETL_T_SET\n",
                 "t.yaml:1:4: unterminated ${ in '${ETL_T_SET' (close it with }, or write $$ "
                 "for a literal $)");
    expect_error_part("v: \"abc ${X:-{}\"\n", "t.yaml:1:4: unterminated ${");
    expect_error_part("v: ${1ABC}\n", "t.yaml:1:4: bad variable reference '${1ABC}'");
    expect_error_part("v: ${}\n", "bad variable reference '${}'");
    expect_error_part("v: ${A-b}\n", "bad variable reference '${A-b}'");
    expect_error_part("v: ${A:b}\n", "bad variable reference");
}
END_TEST

START_TEST(keys_are_not_substituted)
{
    etl_buf err = {0};
    ynode *root = load("${ETL_T_UNSET}: 1\n", &err);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(root->keys[0]->value, "${ETL_T_UNSET}");
    ynode_free(root);
    buf_free(&err);
}
END_TEST

START_TEST(quoted_flags)
{
    etl_buf err = {0};
    ynode *root = load("a: \"123\"\nb: '123'\nc: 123\nd: |\n  text\ne: !!str 5\nf: >\n  folded\n",
                       &err);
    ck_assert_ptr_nonnull(root);
    ck_assert(ynode_get(root, "a")->quoted);
    ck_assert(ynode_get(root, "b")->quoted);
    ck_assert(!ynode_get(root, "c")->quoted);
    ck_assert(ynode_get(root, "d")->quoted);
    ck_assert(ynode_get(root, "e")->quoted);
    ck_assert(ynode_get(root, "f")->quoted);
    ck_assert_str_eq(ynode_get(root, "a")->value, "123");
    ck_assert_str_eq(ynode_get(root, "c")->value, "123");
    ck_assert_str_eq(ynode_get(root, "d")->value, "text\n");
    ynode_free(root);
    buf_free(&err);
}
END_TEST

START_TEST(duplicate_keys)
{
    expect_error("a: 1\nb: 2\na: 3\n",
                 "t.yaml:3:1: duplicate key 'a' (first defined at t.yaml:1:1; remove one)");
    expect_error("s:\n  x: 1\n  y: 2\n  x: 3\n",
                 "t.yaml:4:3: duplicate key 'x' (first defined at t.yaml:2:3; remove one)");
    expect_error_part("m: {k: 1, k: 2}\n", "t.yaml:1:11: duplicate key 'k'");
    /* A large mapping reports the earliest repeat in file order. */
    etl_buf text = {0};
    for (int i = 0; i < 100; i++)
        buf_printf(&text, "k%d: %d\n", i, i);
    buf_printf(&text, "k7: again\nk3: again\n");
    expect_error(buf_cstr(&text),
                 "t.yaml:101:1: duplicate key 'k7' (first defined at t.yaml:8:1; remove one)");
    buf_free(&text);
}
END_TEST

START_TEST(non_scalar_keys)
{
    expect_error("? [a, b]\n: 1\n", "t.yaml:1:3: a key must be a plain name, not a sequence");
    expect_error("{{a: 1}: 2}\n", "t.yaml:1:2: a key must be a plain name, not a mapping");
}
END_TEST

START_TEST(malformed_yaml)
{
    expect_error("a: [1, 2\nb: 3\n",
                 "t.yaml:2:2: did not find expected ',' or ']' while parsing a flow sequence "
                 "started at line 1, column 4");
    expect_error("a: 1\n b: 2\n",
                 "t.yaml:2:3: mapping values are not allowed in this context");
    expect_error_part("a: \"open\n", "t.yaml:2:1: found unexpected end of stream while "
                                     "scanning a quoted scalar");
    expect_error_part("a:\n\tb: 1\n", "t.yaml:2:1: found character that cannot start any token");
    expect_error_part("a:\n\tb: 1\n", "(tabs are not allowed for indentation: use spaces)");
    expect_error_part("a: \xff\xfe\n", "t.yaml:1:4: invalid leading UTF-8 octet");
    expect_error_part("a: \"x\\0y\"\n", "t.yaml:1:4: a NUL character");
    expect_error_part("- a\nb: 1\n", "t.yaml:2:1:");
}
END_TEST

START_TEST(empty_documents)
{
    expect_error("", "t.yaml: empty pipeline file");
    expect_error("# only a comment\n\n", "t.yaml: empty pipeline file");
    expect_error("---\n", "t.yaml: empty pipeline file");
    etl_buf err = {0};
    ck_assert_ptr_null(ydoc_load_string(NULL, 0, NULL, &err));
    ck_assert_str_eq(buf_cstr(&err), "<string>: empty pipeline file");
    buf_free(&err);
}
END_TEST

START_TEST(multiple_documents)
{
    expect_error("a: 1\n---\nb: 2\n",
                 "t.yaml:2:1: a second YAML document: a pipeline file holds one document "
                 "(remove the '---' and what follows, or put it in its own file)");
    /* An explicit document end alone is fine. */
    etl_buf err = {0};
    ynode *root = load("---\na: 1\n...\n", &err);
    ck_assert_ptr_nonnull(root);
    ynode_free(root);
    buf_free(&err);
}
END_TEST

START_TEST(errors_are_appended_one_per_line)
{
    etl_buf err = {0};
    buf_append_str(&err, "earlier problem");
    ck_assert_ptr_null(ydoc_load_string("", 0, "x.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err), "earlier problem\nx.yaml: empty pipeline file");
    buf_free(&err);
}
END_TEST

START_TEST(files)
{
    etl_buf err = {0};
    ck_assert_ptr_null(ydoc_load_file("/nonexistent/dir/p.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err), "/nonexistent/dir/p.yaml: No such file or directory");
    buf_reset(&err);
    ck_assert_ptr_null(ydoc_load_file("/", &err));
    ck_assert_str_eq(buf_cstr(&err), "/: Is a directory");

    char path[] = "/tmp/etl-test-yaml-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, SAMPLE, strlen(SAMPLE)), (ssize_t)strlen(SAMPLE));
    close(fd);
    buf_reset(&err);
    ynode *root = ydoc_load_file(path, &err);
    ck_assert_msg(root != NULL, "%s", buf_cstr(&err));
    char where[256], expected[256];
    snprintf(expected, sizeof expected, "%s:4:9", path);
    ck_assert_str_eq(ynode_where(ynode_get(ynode_get(root, "source"), "path"), where, sizeof where),
                     expected);
    ynode_free(root);

    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    buf_reset(&err);
    ck_assert_ptr_null(ydoc_load_file(path, &err));
    snprintf(expected, sizeof expected, "%s: empty pipeline file", path);
    ck_assert_str_eq(buf_cstr(&err), expected);
    unlink(path);
    buf_free(&err);
}
END_TEST

START_TEST(aliases_are_deep_copies)
{
    etl_buf err = {0};
    ynode *root = load("base: &b {x: 1, y: [a, b]}\nname: &n hello\nother: *b\nagain: *n\n", &err);
    ck_assert_msg(root != NULL, "%s", buf_cstr(&err));
    const ynode *base = ynode_get(root, "base");
    const ynode *other = ynode_get(root, "other");
    ck_assert_ptr_ne(base, other);
    ck_assert_int_eq(other->kind, YNODE_MAP);
    ck_assert_str_eq(ynode_get(other, "x")->value, "1");
    ck_assert_int_eq(ynode_get(other, "y")->count, 2);
    ck_assert_str_eq(ynode_get(other, "y")->items[1]->value, "b");
    ck_assert_ptr_ne(ynode_get(other, "y"), ynode_get(base, "y"));
    /* Positions stay those of the anchored text. */
    ck_assert_int_eq(other->line, 1);
    ck_assert_int_eq(other->column, 7);       /* libyaml starts a node at its anchor */
    ck_assert_str_eq(ynode_get(root, "again")->value, "hello");
    ynode_free(root);
    buf_free(&err);

    expect_error("a: *nowhere\n",
                 "t.yaml:1:4: alias *nowhere refers to no anchor defined before it (define "
                 "&nowhere first; a node cannot contain itself)");
    expect_error_part("a: &a [*a]\n", "t.yaml:1:8: alias *a refers to no anchor");
}
END_TEST

START_TEST(alias_bombs_fail)
{
    etl_buf text = {0};
    buf_append_str(&text, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        buf_printf(&text, "a%d: &a%d [", i, i);
        for (int j = 0; j < 10; j++)
            buf_printf(&text, "%s*a%d", j ? ", " : "", i - 1);
        buf_append_str(&text, "]\n");
    }
    expect_error_part(buf_cstr(&text), "nodes (are aliases expanding without bound?)");
    buf_free(&text);
}
END_TEST

START_TEST(deep_nesting)
{
    etl_buf text = {0};
    buf_append_str(&text, "v: ");
    for (int i = 0; i < 150; i++)
        buf_append_char(&text, '[');
    buf_append_char(&text, '1');
    for (int i = 0; i < 150; i++)
        buf_append_char(&text, ']');
    etl_buf err = {0};
    ynode *root = load(buf_cstr(&text), &err);
    ck_assert_msg(root != NULL, "%s", buf_cstr(&err));
    const ynode *n = ynode_get(root, "v");
    int depth = 0;
    while (n->kind == YNODE_SEQ) {
        n = n->items[0];
        depth++;
    }
    ck_assert_int_eq(depth, 150);
    ck_assert_str_eq(n->value, "1");
    ynode_free(root);

    buf_reset(&text);
    for (int i = 0; i < 100000; i++)
        buf_append_str(&text, "{a: ");
    expect_error_part(buf_cstr(&text), "nesting deeper than 200 levels");
    buf_reset(&text);
    for (int i = 0; i < 5000; i++)
        buf_printf(&text, "%*sk:\n", i, "");
    ck_assert_ptr_null(load(buf_cstr(&text), &err));
    ck_assert_ptr_nonnull(strstr(buf_cstr(&err), "nesting deeper than 200 levels"));
    buf_free(&text);
    buf_free(&err);
}
END_TEST

static const char RICH[] =
    "pipeline: p  # comment\n"
    "source: &src\n"
    "  type: file\n"
    "  url: \"${ETL_T_UNSET:-http://h:1}\"\n"
    "  list: [a, 'b', \"c\\n\"]\n"
    "  flow: {k: v, n: [1, 2]}\n"
    "  block: |\n"
    "    line one\n"
    "    line two\n"
    "copy: *src\n"
    "cost: $$5\n"
    "? complex\n"
    ": value\n";

START_TEST(truncations_never_crash)
{
    etl_buf err = {0};
    size_t len = strlen(RICH);
    ynode *full = ydoc_load_string(RICH, len, "t.yaml", &err);
    ck_assert_msg(full != NULL, "%s", buf_cstr(&err));
    ynode_free(full);
    for (size_t cut = 0; cut < len; cut++) {
        buf_reset(&err);
        ynode *root = ydoc_load_string(RICH, cut, "t.yaml", &err);
        /* Every failure says something; successes are freed cleanly. */
        if (root == NULL)
            ck_assert_msg(err.len > 0, "no message at cut %zu", cut);
        ynode_free(root);
    }
    buf_free(&err);
}
END_TEST

START_TEST(garbage_never_crashes)
{
    etl_buf err = {0};
    unsigned state = 12345;
    static const char alphabet[] = "{}[]:,-?&*!|>'\"%@`#\t\n $\\ab1";
    char text[256];
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(round % 200);
        for (size_t i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u;
            unsigned r = state >> 16;
            text[i] = round % 2 ? (char)(r & 0xff) : alphabet[r % (sizeof alphabet - 1)];
        }
        buf_reset(&err);
        ynode *root = ydoc_load_string(text, len, "g.yaml", &err);
        if (root == NULL)
            ck_assert_msg(err.len > 0, "no message in round %d", round);
        ynode_free(root);
    }
    /* Also with no error buffer at all. */
    ck_assert_ptr_null(ydoc_load_string("a: [", 4, "g.yaml", NULL));
    buf_free(&err);
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml_doc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, positions_of_nodes_and_keys);
    tcase_add_test(tc, substitution_of_set_variables);
    tcase_add_test(tc, substitution_of_defaults);
    tcase_add_test(tc, dollar_escapes);
    tcase_add_test(tc, unset_variable_without_default);
    tcase_add_test(tc, bad_references);
    tcase_add_test(tc, keys_are_not_substituted);
    tcase_add_test(tc, quoted_flags);
    tcase_add_test(tc, duplicate_keys);
    tcase_add_test(tc, non_scalar_keys);
    tcase_add_test(tc, malformed_yaml);
    tcase_add_test(tc, empty_documents);
    tcase_add_test(tc, multiple_documents);
    tcase_add_test(tc, errors_are_appended_one_per_line);
    tcase_add_test(tc, files);
    tcase_add_test(tc, aliases_are_deep_copies);
    tcase_add_test(tc, alias_bombs_fail);
    tcase_add_test(tc, deep_nesting);
    tcase_add_test(tc, truncations_never_crash);
    tcase_add_test(tc, garbage_never_crashes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_as_tap(yaml_suite());
}
