/* catalog.h: the primary's catalog as the read/write split needs it: functions that may write, unlogged tables */
#ifndef PGXR_CATALOG_H
#define PGXR_CATALOG_H

#include <stdbool.h>

void catalog_poll(void);
void catalog_changed(const char *database);
bool catalog_function_writes(const char *database, const char *schema, const char *name);
bool catalog_table_unlogged(const char *database, const char *schema, const char *name);
void catalog_stop(void);

#endif /* PGXR_CATALOG_H */
