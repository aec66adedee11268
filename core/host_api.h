/* The host's function table handed to every plugin. */
#ifndef ETL_CORE_HOST_API_H
#define ETL_CORE_HOST_API_H

#include <etl/plugin.h>

const etl_host_api *host_api(void);

#endif
