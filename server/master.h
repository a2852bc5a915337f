/*
 * master.h: the master process.  It binds every listener, runs the
 * pre-login and local worker pools and the auth process, sizes the pools
 * to the load, reloads the configuration on SIGHUP, and on SIGTERM or
 * SIGINT stops them, giving busy sessions shutdown_grace seconds to
 * finish.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include "server/conf.h"
#include "server/worker.h"

/* Binds conf's listeners into l (LISTENERS_MAX).  Returns how many, or -1
 * after logging why one could not be bound. */
int	master_listen(const struct conf *conf, struct listener *l);
/*
 * Runs the worker pools on the bound listeners until told to stop.
 * child_init, when not NULL, runs in each new child first (closing
 * what only the master may hold).  On SIGHUP *conf is replaced by the
 * configuration read again from conf->path, when it is valid, and l by
 * the listeners it names.  Returns the exit status.
 */
int	master_run(struct conf *conf, struct listener *l, int nl,
	    void (*child_init)(void));

#endif
