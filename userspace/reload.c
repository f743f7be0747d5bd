/* reload.c: a reload applies what can change online; a bad file changes nothing and says where */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evloop.h"
#include "ha.h"
#include "log.h"
#include "proxy.h"
#include "reload.h"
#include "router.h"

/*
 * Reads live's file again.  On errors nothing changes and msg has them
 * (file:line and what was expected); otherwise what can change online
 * (health and replication checks, weights, thresholds, flags, commands)
 * takes effect, and msg names what needs a restart.  Returns 0, or
 * -EINVAL for a bad file.
 */
int reload_config(struct pgxr_config *live, char *msg, size_t len)
{
	struct pgxr_config *fresh = malloc(sizeof(*fresh));
	char restart[1024], problems[4096];
	int ret, n;

	if (!fresh) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	log_capture(problems, sizeof(problems));
	ret = config_load(live->path, fresh);
	/* pool_hba.conf and pool_passwd are read again too; a bad one keeps all as it was */
	if (!ret)
		ret = proxy_auth_load(fresh);
	/* the backends the file adds or moves must be reachable as the running ones are */
	if (!ret)
		ret = router_check_segment(fresh, live);
	log_capture(NULL, 0);
	if (ret) {
		snprintf(msg, len, "configuration file \"%s\" not reloaded, nothing changed:\n%s",
			 live->path, problems);
		log_error("configuration file \"%s\" not reloaded: it has errors", live->path);
		free(fresh);
		return -EINVAL;
	}
	n = config_reload(live, fresh, restart, sizeof(restart));
	free(fresh);
	if (n < 0) {
		snprintf(msg, len, "could not reload: %s", strerror(-n));
		return n;
	}
	ha_reloaded();
	/* weights and thresholds reach the proxy's workers at the end of this batch, not a tick later */
	evloop_wake_at(0);
	if (n) {
		log_warning("configuration reloaded; these need a restart of pgxrd to take effect: %s",
			    restart);
		snprintf(msg, len, "configuration reloaded from \"%s\"\nthese need a restart of pgxrd to take effect: %s\n%s",
			 live->path, restart, problems);
	} else {
		snprintf(msg, len, "configuration reloaded from \"%s\"\n%s", live->path, problems);
	}
	event_add(-1, "configuration reloaded%s%s", n ? "; needs a restart: " : "", n ? restart : "");
	return 0;
}
