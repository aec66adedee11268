/* Helpers every file of the S3 plugin shares, and the host table. Kept
 * apart from the descriptor so that the unit test links the pure code. */
#include "s3_internal.h"

const etl_host_api *s3_host;

char *s3_strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *copy = s3_host->alloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

char *s3_strdup(const char *s) { return s ? s3_strndup(s, strlen(s)) : NULL; }
