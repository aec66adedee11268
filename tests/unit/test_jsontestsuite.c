/* Runs the tokenizer over every file of JSONTestSuite's test_parsing folder
 * ($ETL_SHARED_DATA/json-test-suite/test_parsing): y_ files must be
 * accepted, n_ files rejected with a position, and i_ files decided as
 * docs/json.md says. Plain TAP, one test point per file. */
#include "json_tokenizer.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The documented decision for each implementation-defined case. */
typedef struct i_case {
    const char *file;
    bool accepted;
} i_case;

static const i_case i_cases[] = {
    /* Numbers: underflow goes to 0 (or a denormal); overflow past the
     * largest double is rejected; integers beyond int64 are big numbers. */
    {"i_number_double_huge_neg_exp.json", true},
    {"i_number_huge_exp.json", false},
    {"i_number_neg_int_huge_exp.json", false},
    {"i_number_pos_double_huge_exp.json", false},
    {"i_number_real_neg_overflow.json", false},
    {"i_number_real_pos_overflow.json", false},
    {"i_number_real_underflow.json", true},
    {"i_number_too_big_neg_int.json", true},
    {"i_number_too_big_pos_int.json", true},
    {"i_number_very_big_negative_int.json", true},
    /* Lone surrogate escapes are replaced with U+FFFD. */
    {"i_object_key_lone_2nd_surrogate.json", true},
    {"i_string_1st_surrogate_but_2nd_missing.json", true},
    {"i_string_1st_valid_surrogate_2nd_invalid.json", true},
    {"i_string_incomplete_surrogate_and_escape_valid.json", true},
    {"i_string_incomplete_surrogate_pair.json", true},
    {"i_string_incomplete_surrogates_escape_valid.json", true},
    {"i_string_invalid_lonely_surrogate.json", true},
    {"i_string_invalid_surrogate.json", true},
    {"i_string_inverted_surrogates_U+1D11E.json", true},
    {"i_string_lone_second_surrogate.json", true},
    /* Raw bytes that are not UTF-8 are rejected. */
    {"i_string_UTF-8_invalid_sequence.json", false},
    {"i_string_UTF8_surrogate_U+D800.json", false},
    {"i_string_invalid_utf-8.json", false},
    {"i_string_iso_latin_1.json", false},
    {"i_string_lone_utf8_continuation_byte.json", false},
    {"i_string_not_in_unicode_range.json", false},
    {"i_string_overlong_sequence_2_bytes.json", false},
    {"i_string_overlong_sequence_6_bytes.json", false},
    {"i_string_overlong_sequence_6_bytes_null.json", false},
    {"i_string_truncated-utf-8.json", false},
    /* Only UTF-8 input; a UTF-8 byte order mark is skipped. */
    {"i_string_UTF-16LE_with_BOM.json", false},
    {"i_string_utf16BE_no_BOM.json", false},
    {"i_string_utf16LE_no_BOM.json", false},
    {"i_structure_UTF-8_BOM_empty_object.json", true},
    /* Below the default depth limit of 512. */
    {"i_structure_500_nested_arrays.json", true},
};

static int tap_count;
static int tap_failed;

static void tap_result(bool ok, const char *name, const char *detail)
{
    tap_count++;
    if (!ok)
        tap_failed++;
    printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", tap_count, name, detail[0] ? ": " : "",
           detail);
}

static char *read_whole_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, used = 0;
    char *data = malloc(cap);
    size_t n;
    while (data != NULL && (n = fread(data + used, 1, cap - used, f)) > 0) {
        used += n;
        if (used == cap) {
            char *bigger = realloc(data, cap *= 2);
            if (bigger == NULL)
                free(data);
            data = bigger;
        }
    }
    fclose(f);
    *len = used;
    return data;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .json file name in `dir`, sorted; NULL when the folder is absent. */
static char **list_json_files(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    size_t cap = 512;
    char **names = malloc(cap * sizeof *names);
    *count = 0;
    struct dirent *e;
    while (names != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (*count == cap) {
            char **bigger = realloc(names, (cap *= 2) * sizeof *names);
            if (bigger == NULL)
                break;
            names = bigger;
        }
        names[(*count)++] = strdup(e->d_name);
    }
    closedir(d);
    if (names != NULL)
        qsort(names, *count, sizeof *names, compare_names);
    return names;
}

static const i_case *find_i_case(const char *name)
{
    for (size_t k = 0; k < sizeof i_cases / sizeof i_cases[0]; k++)
        if (strcmp(i_cases[k].file, name) == 0)
            return &i_cases[k];
    return NULL;
}

/* An error must say where: an offset inside the text (or at its end), a
 * line and column from 1, and a reason. */
static bool error_has_position(const jt_error *err, size_t len)
{
    return err->kind != JT_ERR_NONE && err->offset <= len && err->line >= 1 &&
           err->column >= 1 && err->reason[0] != '\0';
}

static void check_file(const char *dir, const char *name, int counts[3])
{
    char path[8192], detail[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    char *text = read_whole_file(path, &len);
    if (text == NULL) {
        tap_result(false, name, "cannot read the file");
        return;
    }
    jt_error err = {0};
    bool accepted = jt_validate(text, len, JT_DEFAULT_MAX_DEPTH, &err);
    detail[0] = '\0';
    if (!accepted)
        snprintf(detail, sizeof detail, "rejected at byte %zu (line %d, column %d): %s",
                 err.offset, err.line, err.column, err.reason);
    if (name[0] == 'y') {
        counts[0]++;
        tap_result(accepted, name, accepted ? "accepted" : detail);
    } else if (name[0] == 'n') {
        counts[1]++;
        tap_result(!accepted && error_has_position(&err, len), name,
                   accepted ? "accepted but must be rejected" : detail);
    } else {
        counts[2]++;
        const i_case *want = find_i_case(name);
        if (want == NULL)
            tap_result(false, name, "no documented decision for this file (docs/json.md)");
        else if (want->accepted != accepted)
            tap_result(false, name, want->accepted ? "documented as accepted" : "documented as rejected");
        else
            tap_result(accepted || error_has_position(&err, len), name,
                       accepted ? "accepted as documented" : detail);
    }
    free(text);
}

int main(void)
{
    const char *shared = getenv("ETL_SHARED_DATA");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/json-test-suite/test_parsing", shared ? shared : "");
    size_t count = 0;
    char **names = shared ? list_json_files(dir, &count) : NULL;
    if (names == NULL || count == 0) {
        printf("1..1\nok 1 # SKIP JSONTestSuite not found in %s (set ETL_SHARED_DATA)\n",
               shared ? dir : "$ETL_SHARED_DATA");
        free(names);
        return 0;
    }
    printf("1..%zu\n", count);
    int counts[3] = {0, 0, 0};
    for (size_t k = 0; k < count; k++) {
        check_file(dir, names[k], counts);
        free(names[k]);
    }
    free(names);
    printf("# checked %d of the suite's files: %d y_ (accept), %d n_ (reject), %d i_ (as documented)\n",
           tap_count, counts[0], counts[1], counts[2]);
    printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
    return tap_failed == 0 ? 0 : 1;
}
