/* Connectors built into the host (today: the file state store), as a
 * descriptor the registry takes like any plugin's. */
#ifndef ETL_CORE_STATE_STORE_FILE_H
#define ETL_CORE_STATE_STORE_FILE_H

#include <etl/plugin.h>

const etl_plugin_descriptor *builtin_plugin_descriptor(void);

#endif
