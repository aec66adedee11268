/* Reading Parquet footers and schemas (for the crawler and for tests). */
#ifndef PQ_PARQUET_READER_H
#define PQ_PARQUET_READER_H

#include "parquet_metadata.h"

/* The footer of a whole file held in memory: checks both magics and the
 * footer length, then decodes FileMetaData. false with a reason in err. */
bool pq_read_footer(const uint8_t *file, size_t len, pq_file_meta *m, char *err,
                    size_t err_size);

/* Length of the footer from the file's last 8 bytes (to read only the tail
 * of a remote object); -1 when they are not "<len>PAR1". */
int64_t pq_footer_length(const uint8_t tail[8]);

/* The schema as JSON, one object per top-level column:
 * [{"name":"id","type":"int64","nullable":true}, {"name":"tags","type":"list",
 *   "element":{...}}, {"name":"brand","type":"struct","fields":[...]}]
 * Types: bool, int32, int64, float, double, string, binary, timestamp_ms,
 * timestamp_us, timestamp_ns, date, decimal(P,S), fixed[N], int96, struct,
 * list, map. */
bool pq_schema_json(const pq_file_meta *m, pq_buf *out, char *err, size_t err_size);

#endif
