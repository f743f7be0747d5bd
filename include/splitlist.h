/* splitlist.h: pgpool's regular expression lists of the read/write split */
#ifndef PGXR_SPLITLIST_H
#define PGXR_SPLITLIST_H

#include <stdbool.h>
#include <stddef.h>

/* a redirect preference's node: a node id, or one of these */
#define SPLITLIST_STANDBY (-1)	/* one of the standbys, by weight */
#define SPLITLIST_PRIMARY (-2)	/* the primary */

int splitlist_check(const char *list, char sep, char *err, size_t errlen);
int splitlist_redirect_check(const char *list, int max_node, char *err, size_t errlen);
int splitlist_relations_check(const char *list, char *err, size_t errlen);
void splitlist_update(const char *write_functions, const char *read_only_functions,
		      const char *primary_queries, const char *app_redirects, const char *db_redirects,
		      const char *relations);
const char *splitlist_related(const char *name, bool fn, int *pos);
bool splitlist_redirect(const char *app, const char *database, int *node, double *ratio);
int splitlist_function(const char *schema, const char *name);
bool splitlist_primary_query(const char *sql);
void splitlist_free(void);

#endif
