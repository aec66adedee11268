/* Shared by the files of elasticsearch.so. */
#ifndef ES_INTERNAL_H
#define ES_INTERNAL_H

#include <etl/plugin.h>

/* The host's function table, set by the entry point (es_plugin.c). */
extern const etl_host_api *es_host;

extern const etl_source_vtable es_source_vtable;
extern const etl_option_spec es_source_options[];
extern const etl_sink_vtable es_sink_vtable;
extern const etl_option_spec es_sink_options[];

#endif
