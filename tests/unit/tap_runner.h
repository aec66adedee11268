/* Runs a Check suite with TAP output on stdout, so that automake's TAP
 * driver counts each test case. */
#ifndef ETL_TESTS_TAP_RUNNER_H
#define ETL_TESTS_TAP_RUNNER_H

#include <check.h>
#include <stdlib.h>

static inline int run_suite_as_tap(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_set_tap(runner, "-");
    srunner_run_all(runner, CK_SILENT);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
