/*
 * scoreboard.c: the scoreboard, memory shared by the master with every
 * process it forks (scoreboard.h).  The mapping is this process's one
 * piece of global state besides the configuration.  A slot is written
 * only by its owner, read by anyone, and what a slot says is counted and
 * printed, never trusted to pick a process to signal.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "server/scoreboard.h"

#define SB_MAGIC	0x50534231u	/* "PSB1" */
#define SB_VERSION	2

/* Rate-limited log lines: events remembered at once, slots probed for
 * one, and the quiet period after a line. */
#define SB_RATE_SLOTS	512
#define SB_RATE_PROBE	8
#define SB_RATE_SECS	60

struct sb_rate {
	_Atomic uint64_t	 key;		/* 0: free */
	_Atomic int64_t		 last;		/* logged then */
	_Atomic uint32_t	 suppressed;	/* not logged since */
};

struct sb_header {
	uint32_t		 magic;
	uint32_t		 version;
	uint32_t		 slot_size;
	uint32_t		 nworkers;
	uint32_t		 nsessions;
	volatile uint32_t	 generation;
	volatile pid_t		 master;
	volatile pid_t		 authd;
	volatile int32_t	 max_workers;
	volatile int32_t	 max_local;
	volatile int32_t	 max_connections;
	int64_t			 started;
	struct sb_rate		 rate[SB_RATE_SLOTS];
};

static struct sb_header	*hdr;
static struct sb_slot	*slots;		/* the workers', then sessions' */
/* A byte per slot, after them: 1 while it holds a client's connection
 * (a worker busy with one, or a session), written with the slot, so
 * that counting connections reads a few cache lines, not every slot. */
static volatile uint8_t	*live;
static char		 shm_name[32];	/* "" when anonymous */

/* sb_name: the shared memory object of the master pid. */
static int
sb_name(pid_t pid, char *buf, size_t len)
{
	int	 n = snprintf(buf, len, "/posternd.%ld", (long)pid);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* sb_size: the octets of a scoreboard with these slots. */
static size_t
sb_size(int nworkers, int nsessions)
{
	return sizeof(struct sb_header) +
	    (size_t)(nworkers + nsessions) * (sizeof(struct sb_slot) + 1);
}

/* sb_map_shared: the scoreboard as a named shared memory object, mode
 * 0600; NULL (logged) when the system has none to give. */
static void *
sb_map_shared(size_t size)
{
	void	*p;
	int	 fd;

	if (sb_name(getpid(), shm_name, sizeof(shm_name)) == -1)
		return NULL;
	(void)shm_unlink(shm_name);	/* left by a crash, same pid */
	fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    S_IRUSR | S_IWUSR);
	if (fd == -1) {
		log_warn("scoreboard: shm_open %s (postern status will not "
		    "see it)", shm_name);
		shm_name[0] = '\0';
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) == -1 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		log_warn("scoreboard: %s", shm_name);
		close(fd);
		(void)shm_unlink(shm_name);
		shm_name[0] = '\0';
		return NULL;
	}
	close(fd);
	return p;
}

int
sb_create(int nworkers, int nsessions, int max_workers, int max_local,
    int max_connections)
{
	size_t	 size = sb_size(nworkers, nsessions);
	void	*p;

	if ((p = sb_map_shared(size)) == NULL &&
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANON, -1, 0)) == MAP_FAILED) {
		log_warn("scoreboard: mmap of %zu octets", size);
		return -1;
	}
	memset(p, 0, size);
	hdr = p;
	slots = (struct sb_slot *)(hdr + 1);
	live = (volatile uint8_t *)(slots + nworkers + nsessions);
	hdr->magic = SB_MAGIC;
	hdr->version = SB_VERSION;
	hdr->slot_size = sizeof(struct sb_slot);
	hdr->nworkers = (uint32_t)nworkers;
	hdr->nsessions = (uint32_t)nsessions;
	hdr->started = time(NULL);
	sb_set_master(getpid(), 0, 1, max_workers, max_local, max_connections);
	return 0;
}

void
sb_destroy(void)
{
	if (shm_name[0] != '\0')
		(void)shm_unlink(shm_name);
	shm_name[0] = '\0';
}

void
sb_set_master(pid_t master, pid_t authd, unsigned generation,
    int max_workers, int max_local, int max_connections)
{
	if (hdr == NULL)
		return;
	hdr->master = master;
	hdr->authd = authd;
	hdr->generation = generation;
	hdr->max_workers = max_workers;
	hdr->max_local = max_local;
	hdr->max_connections = max_connections;
}

struct sb_slot *
sb_worker(int i)
{
	if (hdr == NULL || i < 0 || (uint32_t)i >= hdr->nworkers)
		return NULL;
	return &slots[i];
}

struct sb_slot *
sb_session(int i)
{
	if (hdr == NULL || i < 0 || (uint32_t)i >= hdr->nsessions)
		return NULL;
	return &slots[hdr->nworkers + (uint32_t)i];
}

int
sb_workers(void)
{
	return hdr != NULL ? (int)hdr->nworkers : 0;
}

int
sb_sessions(void)
{
	return hdr != NULL ? (int)hdr->nsessions : 0;
}

/* set_live: whether slot sl holds a client's connection. */
static void
set_live(const struct sb_slot *sl, bool on)
{
	live[sl - slots] = on;
}

/* clear_slot: an empty slot; its pid goes last. */
static void
clear_slot(struct sb_slot *sl)
{
	set_live(sl, false);
	sl->state = SB_EMPTY;
	memset((char *)sl + sizeof(sl->pid), 0,
	    sizeof(*sl) - sizeof(sl->pid));
	sl->pid = 0;
}

void
sb_worker_start(int i, enum sb_kind kind, unsigned gen)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl == NULL)
		return;
	clear_slot(sl);
	sl->kind = (uint8_t)kind;
	sl->generation = gen;
	sl->state = SB_STARTING;
}

void
sb_worker_pid(int i, pid_t pid)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl != NULL)
		sl->pid = pid;
}

void
sb_worker_clear(int i)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl != NULL)
		clear_slot(sl);
}

void
sb_busy(int i, const char *proto, const char *rip, const struct sb_addr *a,
    bool tls, time_t since)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl == NULL)
		return;
	strlcpy(sl->proto, proto, sizeof(sl->proto));
	strlcpy(sl->rip, rip, sizeof(sl->rip));
	sl->user[0] = '\0';
	sl->addr = *a;
	sl->tls = tls;
	sl->since = since;
	sl->state = SB_BUSY;
	set_live(sl, true);
}

void
sb_relay(int i, const char *user)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl == NULL)
		return;
	strlcpy(sl->user, user, sizeof(sl->user));
	set_live(sl, false);	/* its session's slot counts it */
	sl->state = SB_RELAY;
}

void
sb_idle(int i)
{
	struct sb_slot	*sl = sb_worker(i);

	if (sl == NULL)
		return;
	set_live(sl, false);
	sl->state = SB_IDLE;
	sl->proto[0] = sl->rip[0] = sl->user[0] = '\0';
	memset(&sl->addr, 0, sizeof(sl->addr));
	sl->tls = 0;
	sl->since = 0;
}

int
sb_session_add(const char *proto, const char *user, const char *rip,
    bool tls, time_t since)
{
	static int	 hint;
	struct sb_slot	*sl;
	int		 i, idx, n = sb_sessions();

	for (i = 0; i < n; i++) {
		idx = (hint + i) % n;
		sl = sb_session(idx);
		if (sl->pid != 0)
			continue;
		clear_slot(sl);
		sl->kind = SB_SESSION;
		strlcpy(sl->proto, proto, sizeof(sl->proto));
		strlcpy(sl->user, user, sizeof(sl->user));
		strlcpy(sl->rip, rip, sizeof(sl->rip));
		sb_addr_of(rip, &sl->addr);
		sl->tls = tls;
		sl->since = since;
		sl->generation = hdr->generation;
		sl->state = SB_LIVE;
		sl->pid = -1;	/* taken; the fork gives the pid */
		set_live(sl, true);
		hint = (idx + 1) % n;
		return idx;
	}
	return -1;
}

void
sb_session_pid(int i, pid_t pid)
{
	struct sb_slot	*sl = sb_session(i);

	if (sl != NULL)
		sl->pid = pid;
}

int
sb_session_find(pid_t pid)
{
	int	 i;

	for (i = 0; pid > 0 && i < sb_sessions(); i++)
		if (live[sb_workers() + i] && sb_session(i)->pid == pid)
			return i;
	return -1;
}

void
sb_session_clear(int i)
{
	struct sb_slot	*sl = sb_session(i);

	if (sl != NULL)
		clear_slot(sl);
}

int
sb_connections(void)
{
	int	 i, n = 0, all = sb_workers() + sb_sessions();

	for (i = 0; i < all; i++)
		n += live[i];
	return n;
}

int
sb_connections_from(const struct sb_addr *a)
{
	int	 i, n = 0, all = sb_workers() + sb_sessions();

	if (!a->set)
		return 0;
	for (i = 0; i < all; i++)
		if (live[i] && slots[i].addr.set &&
		    memcmp(slots[i].addr.b, a->b, sizeof(a->b)) == 0)
			n++;
	return n;
}

int
sb_sessions_of(const char *user)
{
	struct sb_slot	*sl;
	int		 i, n = 0;

	for (i = 0; i < sb_sessions(); i++) {
		sl = sb_session(i);
		if (live[sb_workers() + i] &&
		    strncmp(sl->user, user, sizeof(sl->user)) == 0)
			n++;
	}
	return n;
}

void
sb_addr_of(const char *rip, struct sb_addr *a)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 host[64];

	memset(a, 0, sizeof(*a));
	strlcpy(host, rip, sizeof(host));
	host[strcspn(host, "%")] = '\0';	/* a link-local scope */
	if (inet_pton(AF_INET, host, &a4) == 1) {
		a->b[10] = a->b[11] = 0xff;
		memcpy(a->b + 12, &a4, 4);
		a->set = true;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		/* An IPv4 address stands alone; IPv6 ones go by /64, the
		 * least a site is given (RFC 6177). */
		memcpy(a->b, &a6, IN6_IS_ADDR_V4MAPPED(&a6) ? 16 : 8);
		a->set = true;
	}
}

/* fnv: FNV-1a over len octets, on from h. */
static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len-- > 0) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
sb_log_tail(unsigned suppressed, char *buf, size_t size)
{
	if (suppressed > 0)
		snprintf(buf, size, "; %u more since the last such line",
		    suppressed);
	else if (size > 0)
		buf[0] = '\0';
}

bool
sb_log_now(const char *what, const void *key, size_t len,
    unsigned *suppressed_r)
{
	struct sb_rate	*r, *victim = NULL;
	uint64_t	 h, k;
	int64_t		 now = time(NULL), last, oldest = INT64_MAX;
	int		 i;

	*suppressed_r = 0;
	if (hdr == NULL)
		return true;
	h = fnv(fnv(0xcbf29ce484222325ULL, what, strlen(what) + 1), key, len);
	if (h == 0)
		h = 1;
	for (i = 0; i < SB_RATE_PROBE; i++) {
		r = &hdr->rate[(h + (uint64_t)i) % SB_RATE_SLOTS];
		k = atomic_load(&r->key);
		last = atomic_load(&r->last);
		if (k == h) {
			if (now - last >= SB_RATE_SECS &&
			    atomic_compare_exchange_strong(&r->last, &last,
			    now)) {
				*suppressed_r = atomic_exchange(&r->suppressed,
				    0);
				return true;
			}
			atomic_fetch_add(&r->suppressed, 1);
			return false;
		}
		if (k == 0 || last < oldest) {
			victim = r;
			oldest = k == 0 ? INT64_MIN : last;
		}
	}
	/* New, or forgotten: the oldest of the probed entries makes way. */
	atomic_store(&victim->key, h);
	atomic_store(&victim->last, now);
	atomic_store(&victim->suppressed, 0);
	return true;
}

/* printable: a copy of a field of at most max octets, NUL-terminated,
 * with anything but printable ASCII as '?'. */
static void
printable(const char *in, size_t max, char *out, size_t outlen)
{
	size_t	 i;

	for (i = 0; i < max && i + 1 < outlen && in[i] != '\0'; i++)
		out[i] = (in[i] < 0x20 || in[i] > 0x7e) ? '?' : in[i];
	out[i] = '\0';
}

/* age: seconds since a time as "H:MM:SS", with days before. */
static void
age(int64_t since, time_t now, char *buf, size_t len)
{
	int64_t	 s = since > 0 && now > since ? now - since : 0;

	if (since <= 0)
		buf[0] = '\0';
	else if (s >= 86400)
		snprintf(buf, len, "%lldd%02lld:%02lld:%02lld",
		    (long long)(s / 86400), (long long)(s / 3600 % 24),
		    (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(s / 3600),
		    (long long)(s / 60 % 60), (long long)(s % 60));
}

/* kind_name, state_name: the words status prints. */
static const char *
kind_name(unsigned k)
{
	return k == SB_WORKER ? "worker" : k == SB_LOCAL ? "local" :
	    k == SB_SESSION ? "session" : "?";
}

static const char *
state_name(unsigned s)
{
	static const char *const names[] = { "empty", "starting", "idle",
	    "busy", "relay", "session" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* slot_line: one slot as a line of status, without a newline. */
static void
slot_line(const struct sb_slot *sl, time_t now, char *buf, size_t len)
{
	char	 proto[sizeof(sl->proto)], rip[sizeof(sl->rip)];
	char	 user[sizeof(sl->user)], since[32];

	printable(sl->proto, sizeof(sl->proto), proto, sizeof(proto));
	printable(sl->rip, sizeof(sl->rip), rip, sizeof(rip));
	printable(sl->user, sizeof(sl->user), user, sizeof(user));
	age(sl->since, now, since, sizeof(since));
	snprintf(buf, len, "%-7ld %-7s %-8s %-5s %-4s %10s  %-39s %s",
	    (long)sl->pid, kind_name(sl->kind), state_name(sl->state),
	    proto[0] != '\0' ? proto : "-", sl->tls ? "tls" : "-",
	    since[0] != '\0' ? since : "-", rip[0] != '\0' ? rip : "-",
	    user[0] != '\0' ? user : "-");
}

/* tally: the summary lines, through out (log or print). */
static void
tally(const struct sb_header *h, const struct sb_slot *sl, time_t now,
    void (*out)(void *, const char *), void *arg)
{
	char		 line[512], up[32];
	int		 i, busy[3] = { 0 }, idle[3] = { 0 };
	uint32_t	 all = h->nworkers + h->nsessions;

	for (i = 0; (uint32_t)i < all; i++) {
		if (sl[i].pid == 0 || sl[i].kind < SB_WORKER ||
		    sl[i].kind > SB_SESSION)
			continue;
		if (sl[i].state == SB_IDLE || sl[i].state == SB_STARTING)
			idle[sl[i].kind - 1]++;
		else
			busy[sl[i].kind - 1]++;
	}
	age(h->started, now, up, sizeof(up));
	if (h->authd > 0)
		snprintf(line, sizeof(line), "posternd %ld, up %s, "
		    "configuration generation %u, auth process %ld",
		    (long)h->master, up, (unsigned)h->generation,
		    (long)h->authd);
	else
		snprintf(line, sizeof(line), "posternd %ld, up %s, "
		    "configuration generation %u, no privilege separation",
		    (long)h->master, up, (unsigned)h->generation);
	out(arg, line);
	snprintf(line, sizeof(line), "workers: %d busy, %d idle (at most "
	    "%d); local workers: %d busy, %d idle (at most %d); sessions: %d; "
	    "connections: at most %d", busy[0], idle[0], (int)h->max_workers,
	    busy[1], idle[1], (int)h->max_local, busy[2],
	    (int)h->max_connections);
	out(arg, line);
	snprintf(line, sizeof(line), "%-7s %-7s %-8s %-5s %-4s %10s  %-39s %s",
	    "PID", "KIND", "STATE", "PROTO", "TLS", "AGE", "ADDRESS", "USER");
	out(arg, line);
	for (i = 0; (uint32_t)i < all; i++) {
		if (sl[i].pid == 0)
			continue;
		slot_line(&sl[i], now, line, sizeof(line));
		out(arg, line);
	}
}

/* to_log, to_file: tally()'s outputs. */
static void
to_log(void *arg, const char *line)
{
	log_info("scoreboard: %s", line);
}

static void
to_file(void *arg, const char *line)
{
	fprintf(arg, "%s\n", line);
}

void
sb_log(void)
{
	if (hdr != NULL)
		tally(hdr, slots, time(NULL), to_log, NULL);
}

int
sb_show(pid_t pid, FILE *fp)
{
	const struct sb_header *h;
	struct stat	 st;
	char		 name[32];
	void		*p;
	int		 fd;

	if (sb_name(pid, name, sizeof(name)) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 ||
	    (size_t)st.st_size < sizeof(struct sb_header)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	h = p;
	if (h->magic != SB_MAGIC || h->version != SB_VERSION ||
	    h->slot_size != sizeof(struct sb_slot) ||
	    h->nworkers > INT_MAX / 2 || h->nsessions > INT_MAX / 2 ||
	    sb_size((int)h->nworkers, (int)h->nsessions) >
	    (size_t)st.st_size) {
		munmap(p, (size_t)st.st_size);
		errno = EINVAL;
		return -1;
	}
	tally(h, (const struct sb_slot *)(h + 1), time(NULL), to_file, fp);
	munmap(p, (size_t)st.st_size);
	return 0;
}
