/*
 * master.h: the master process.  It binds every listener, pre-forks the
 * workers, replaces any that dies, and on SIGTERM or SIGINT stops them,
 * giving busy ones shutdown_grace seconds to finish.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include "server/conf.h"
#include "server/worker.h"

/* Binds conf's listeners into l (LISTENERS_MAX).  Returns how many, or -1
 * after logging why one could not be bound. */
int	master_listen(const struct conf *conf, struct listener *l);
/*
 * Runs the worker pool on the bound listeners until told to stop.
 * child_init, when not NULL, runs in each new worker first (closing
 * what only the master may hold).  Returns the exit status.
 */
int	master_run(const struct conf *conf, struct listener *l, int nl,
	    void (*child_init)(void));

#endif
