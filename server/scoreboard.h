/*
 * scoreboard.h: what every process of posternd is doing, in memory the
 * master shares with all of them before it forks.  One slot per worker
 * (written by that worker, its pid and end by the master) and one per
 * session process (written by the auth process).  The master sizes its
 * pools from it, workers and the auth process count connections in it
 * for the limits, and `postern status` prints it.  Workers are not
 * trusted: what they write is only ever counted and printed, never used
 * to choose a process to signal.
 */
#ifndef POSTERN_SCOREBOARD_H
#define POSTERN_SCOREBOARD_H

#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "server/limits.h"

enum sb_kind {
	SB_WORKER = 1,		/* a sandboxed pre-login worker */
	SB_LOCAL,		/* an unsandboxed local (LMTP) worker */
	SB_SESSION,		/* a session process, after a login */
};

enum sb_state {
	SB_EMPTY,
	SB_STARTING,		/* forked, not yet waiting */
	SB_IDLE,		/* waiting for a connection */
	SB_BUSY,		/* serving a connection */
	SB_RELAY,		/* relaying a TLS session to its process */
	SB_LIVE,		/* a session process */
};

/* An address as the limits group it: IPv4 (IPv4-mapped IPv6 too) as
 * ::ffff:a.b.c.d, IPv6 by its /64. */
struct sb_addr {
	unsigned char	 b[16];
	bool		 set;		/* false: a UNIX socket, unknown */
};

struct sb_slot {
	volatile pid_t	 pid;		/* 0: empty */
	volatile uint8_t state;		/* enum sb_state */
	uint8_t		 kind;		/* enum sb_kind */
	uint8_t		 tls;
	uint8_t		 pad;
	uint32_t	 generation;	/* of the configuration */
	int64_t		 since;		/* the connection's start */
	struct sb_addr	 addr;
	char		 proto[16];
	char		 rip[64];
	char		 user[USER_MAX + 1];
};

/*
 * In the master, before anything forks: maps the scoreboard for nworkers
 * worker slots and nsessions session slots.  It is a POSIX shared memory
 * object named "/posternd.PID" with mode 0600, which `postern status`
 * opens, or anonymous memory when that cannot be made (logged; status
 * then cannot see it).  Returns 0, or -1 after logging why.
 */
int	sb_create(int nworkers, int nsessions, int max_workers,
	    int max_local, int max_connections);
/* In the master at exit: removes the shared memory object's name. */
void	sb_destroy(void);
/* The header's figures, for `postern status`: the pids of the master
 * and the auth process, the configuration's generation and limits. */
void	sb_set_master(pid_t master, pid_t authd, unsigned generation,
	    int max_workers, int max_local, int max_connections);

/* Slots: worker slots 0 to sb_workers() - 1, session slots 0 to
 * sb_sessions() - 1.  NULL out of range or before sb_create(). */
struct sb_slot *sb_worker(int i);
struct sb_slot *sb_session(int i);
int	sb_workers(void);
int	sb_sessions(void);

/* In the master: a worker's slot before its fork, its pid after, and
 * the slot of one reaped. */
void	sb_worker_start(int i, enum sb_kind kind, unsigned gen);
void	sb_worker_pid(int i, pid_t pid);
void	sb_worker_clear(int i);

/* In a worker, on its own slot i: a connection from rip (address a)
 * over proto starts; it moved to a TLS relay for user; it ended. */
void	sb_busy(int i, const char *proto, const char *rip,
	    const struct sb_addr *a, bool tls, time_t since);
void	sb_relay(int i, const char *user);
void	sb_idle(int i);

/* In the auth process: takes a slot for a session process about to be
 * forked, returning it or -1 when every slot is taken; the process's
 * pid once forked; and forgets it. */
int	sb_session_add(const char *proto, const char *user, const char *rip,
	    bool tls, time_t since);
void	sb_session_pid(int i, pid_t pid);
void	sb_session_clear(int i);
/* The session slot of a process, or -1. */
int	sb_session_find(pid_t pid);

/* Connections open now: busy workers and session processes (a TLS
 * relay counts once, as its session); of them, those from a; and the
 * session processes of user. */
int	sb_connections(void);
int	sb_connections_from(const struct sb_addr *a);
int	sb_sessions_of(const char *user);

/* The grouping key of a numeric address; unset for anything else. */
void	sb_addr_of(const char *rip, struct sb_addr *a);

/*
 * Rate-limits a log line: whether the event what about key (len octets;
 * an address, a user name, or none) should be logged now, that is, when
 * it was not logged in the last 60 seconds.  When it should,
 * *suppressed_r gets how many were not logged since.  Shared by every
 * process, in the scoreboard.
 */
bool	sb_log_now(const char *what, const void *key, size_t len,
	    unsigned *suppressed_r);
/* The end of such a line: "; N more since the last such line", or ""
 * when none was suppressed. */
void	sb_log_tail(unsigned suppressed, char *buf, size_t size);

/* Writes the scoreboard to the log, a line per process (SIGUSR1). */
void	sb_log(void);
/*
 * For `postern status`: opens the scoreboard of the posternd whose
 * master is pid, read-only, and prints it to fp.  Returns 0, or -1 with
 * errno set (ENOENT: no such scoreboard; EACCES: not root; EINVAL: not a
 * scoreboard of this version).
 */
int	sb_show(pid_t pid, FILE *fp);

#endif
