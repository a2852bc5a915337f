/*
 * popload.c: the POP3 load generator of the benchmarks (make bench).
 * Drives any POP3 server with poll-multiplexed non-blocking sockets and
 * reports session rates, session-time percentiles and message octets; it
 * is bounded in time and count, stops by itself, and is no part of
 * libpostern nor of make check.  It connects only to the address given.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBUCKET		2304	/* log-linear histogram of microseconds */
#define SUBBUCKETS	64	/* per power of two: at most 1.6% error */
#define RBUF_SMALL	4096	/* login and idle sessions */
#define RBUF_RETR	(256 * 1024)
#define OBUF		512	/* pending commands of one session */
#define MAXPROCS	64
#define MAXUSERS	1000000
#define MAXMESSAGES	10000000	/* in one maildrop */

enum mode { M_LOGIN, M_RETR, M_IDLE, M_COPY, M_FAKE };

/* The command line, read once and never changed afterwards. */
struct opts {
	enum mode	 mode;
	const char	*host, *port, *users, *password, *dir;
	long		 nusers, first;
	int		 clients, pipeline, procs, verbose;
	long		 count;
	double		 duration, timeout;
	char		**list;		/* user names when users is a list */
	char		*listbuf;	/* the strings list points into */
	long		 nlist;
	struct sockaddr_storage	 addr;
	socklen_t	 addrlen;
};

/* What one process measured; summed over processes at the end. */
struct stats {
	uint64_t	 sessions, errors;
	uint64_t	 e_connect, e_eof, e_reply, e_timeout, e_proto;
	uint64_t	 messages, octets, mismatches, held;
	double		 elapsed, login_elapsed;
	uint64_t	 hist[NBUCKET];		/* whole session */
	uint64_t	 shist[NBUCKET];	/* connect to STAT reply */
	char		 first_err[160];
};

enum cstate {
	C_FREE, C_CONNECTING, C_GREETING, C_USER, C_PASS, C_STAT, C_LIST,
	C_RETR, C_HOLD, C_QUIT, C_CLOSING
};

/* The body parser's position within a line of a multi-line reply. */
enum bstate { B_BOL, B_MID, B_DOT, B_DOTCR };

struct conn {
	int		 fd;
	enum cstate	 st;
	long		 slot, user;
	double		 t0, tlast;
	char		*buf;
	size_t		 len, cap;
	char		 out[OBUF];
	size_t		 outlen;
	long		 nmsg, sent, recv;
	off_t		*sizes;
	int		 body;		/* inside a multi-line reply */
	enum bstate	 bst;
	off_t		 boct;
};

/* The state of one client process's run. */
struct run {
	const struct opts *o;
	struct stats	*s;
	struct conn	*c;
	long		 nconn, slot0, nslots, started, quota, active;
	long		 nheld;		/* idle mode: sessions held now */
	double		 start, deadline, hard;
	int		 holding, released;
};

static void	usage(void) __attribute__((noreturn));

/* usage: the synopsis, then exit 2. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: popload [-m login|retr|idle|copy|fake] [-H host] -p port\n"
	    "               [-u users] [-N nusers] [-O first] [-w password]\n"
	    "               [-c clients] [-t seconds] [-n count] [-P depth]\n"
	    "               [-j procs] [-T timeout] [-D dir] [-v]\n");
	exit(2);
}

/* die: prints a message, with errno's text when err is set, and exits. */
static void __attribute__((format(printf, 2, 3), noreturn))
die(int err, const char *fmt, ...)
{
	va_list	 ap;

	fputs("popload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* now: monotonic seconds. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bucket: the histogram index of a duration in microseconds. */
static size_t
bucket(uint64_t us)
{
	unsigned	 k = 0;
	size_t		 i;

	while ((us >> k) >= 2 * SUBBUCKETS)
		k++;
	i = (size_t)k * SUBBUCKETS + (size_t)(us >> k);
	return i < NBUCKET ? i : NBUCKET - 1;
}

/* bucket_value: the middle of a histogram bucket, in microseconds. */
static double
bucket_value(size_t i)
{
	unsigned	 k;
	uint64_t	 m;

	if (i < 2 * SUBBUCKETS)
		return (double)i + 0.5;
	k = (unsigned)(i / SUBBUCKETS) - 1;
	m = i - (size_t)k * SUBBUCKETS;
	return ((double)m + 0.5) * (double)(1ULL << k);
}

/* record: adds one duration in seconds to a histogram. */
static void
record(uint64_t *h, double secs)
{
	h[bucket(secs > 0 ? (uint64_t)(secs * 1e6) : 0)]++;
}

/* percentile: the p-th percentile of a histogram, in milliseconds. */
static double
percentile(const uint64_t *h, double p)
{
	uint64_t	 total = 0, want, seen = 0;
	size_t		 i;

	for (i = 0; i < NBUCKET; i++)
		total += h[i];
	if (total == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < NBUCKET; i++) {
		seen += h[i];
		if (seen >= want)
			return bucket_value(i) / 1000.0;
	}
	return bucket_value(NBUCKET - 1) / 1000.0;
}

/* hmax: the largest duration recorded, in milliseconds. */
static double
hmax(const uint64_t *h)
{
	size_t	 i;

	for (i = NBUCKET; i > 0; i--)
		if (h[i - 1] != 0)
			return bucket_value(i - 1) / 1000.0;
	return 0;
}

/* number: a non-negative integer option, or usage. */
static long
number(const char *s, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		usage();
	return v;
}

/* seconds: a positive decimal option, or usage. */
static double
seconds(const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v > 0) || v > 86400)
		usage();
	return v;
}

/* split_users: a comma-separated user list into o->list. */
static void
split_users(struct opts *o)
{
	char	*copy, *p, *w;

	if ((copy = strdup(o->users)) == NULL)
		die(errno, "strdup");
	o->listbuf = copy;
	o->nlist = 0;
	for (p = copy; (w = strsep(&p, ",")) != NULL; ) {
		if (*w == '\0')
			continue;
		o->list = reallocarray(o->list, (size_t)o->nlist + 1,
		    sizeof(*o->list));
		if (o->list == NULL)
			die(errno, "reallocarray");
		o->list[o->nlist++] = w;
	}
	if (o->nlist == 0)
		usage();
}

/* check_pattern: the user pattern has exactly one %d-like conversion. */
static void
check_pattern(const char *pat)
{
	const char	*p = strchr(pat, '%');

	if (p == NULL || strchr(p + 1, '%') != NULL)
		die(0, "user pattern needs exactly one %%d: %s", pat);
	p++;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != 'd')
		die(0, "user pattern needs exactly one %%d: %s", pat);
}

/* resolve: the numeric server address into o->addr. */
static void
resolve(struct opts *o)
{
	struct addrinfo	 hints, *ai;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(o->host, o->port, &hints, &ai)) != 0)
		die(0, "%s port %s: %s", o->host, o->port, gai_strerror(rc));
	memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
	o->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
}

/* parse: the command line into o. */
static void
parse(int argc, char **argv, struct opts *o)
{
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->mode = M_LOGIN;
	o->host = "127.0.0.1";
	o->users = "bench%04d";
	o->password = "secret";
	o->nusers = 1;
	o->clients = 1;
	o->pipeline = 1;
	o->procs = 1;
	o->timeout = 30;
	while ((ch = getopt(argc, argv, "m:H:p:u:N:O:w:c:t:n:P:j:T:D:v")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "login") == 0)
				o->mode = M_LOGIN;
			else if (strcmp(optarg, "retr") == 0)
				o->mode = M_RETR;
			else if (strcmp(optarg, "idle") == 0)
				o->mode = M_IDLE;
			else if (strcmp(optarg, "copy") == 0)
				o->mode = M_COPY;
			else if (strcmp(optarg, "fake") == 0)
				o->mode = M_FAKE;
			else
				usage();
			break;
		case 'H': o->host = optarg; break;
		case 'p': o->port = optarg; break;
		case 'u': o->users = optarg; break;
		case 'N': o->nusers = number(optarg, MAXUSERS); break;
		case 'O': o->first = number(optarg, INT_MAX); break;
		case 'w': o->password = optarg; break;
		case 'c': o->clients = (int)number(optarg, 100000); break;
		case 't': o->duration = seconds(optarg); break;
		case 'n': o->count = number(optarg, LONG_MAX / 2); break;
		case 'P': o->pipeline = (int)number(optarg, 1000); break;
		case 'j': o->procs = (int)number(optarg, MAXPROCS); break;
		case 'T': o->timeout = seconds(optarg); break;
		case 'D': o->dir = optarg; break;
		case 'v': o->verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || o->clients < 1 || o->pipeline < 1 ||
	    o->procs < 1 || o->nusers < 1)
		usage();
	if (o->mode != M_COPY && o->port == NULL)
		usage();
	if (o->mode == M_COPY && o->dir == NULL)
		usage();
	/* Bounded whatever is asked: ten seconds when neither is given,
	 * a minute when only a count is. */
	if (o->duration == 0)
		o->duration = o->count > 0 ? 60 : 10;
	if (strchr(o->users, '%') != NULL)
		check_pattern(o->users);
	else
		split_users(o);
	if (o->mode == M_IDLE || o->mode == M_FAKE || o->mode == M_COPY)
		o->procs = 1;
	if (o->procs > o->clients)
		o->procs = o->clients;
	if (o->port != NULL)
		resolve(o);
}

/* user_name: the name of user number i. */
static void
user_name(const struct opts *o, long i, char *buf, size_t len)
{
	int	 n;

	if (o->list != NULL) {
		n = snprintf(buf, len, "%s", o->list[i % o->nlist]);
	} else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		n = snprintf(buf, len, o->users, (int)(o->first + i));
#pragma GCC diagnostic pop
	}
	if (n < 0 || (size_t)n >= len)
		die(0, "user name too long");
}

/* nusers: how many distinct users there are. */
static long
nusers(const struct opts *o)
{
	return o->list != NULL ? o->nlist : o->nusers;
}

/* fail: ends a session as an error of the given kind. */
static void
fail(struct run *r, struct conn *c, uint64_t *kind, const char *what)
{
	*kind += 1;
	r->s->errors++;
	if (c->st == C_HOLD)
		r->nheld--;
	if (r->s->first_err[0] == '\0' || r->o->verbose) {
		snprintf(r->s->first_err, sizeof(r->s->first_err), "%s", what);
		if (r->o->verbose)
			fprintf(stderr, "popload: session %ld: %s\n", c->slot,
			    what);
	}
	close(c->fd);
	c->fd = -1;
	c->st = C_FREE;
	r->active--;
}

/* finish: ends a session that went well. */
static void
finish(struct run *r, struct conn *c)
{
	double	 t = now();

	close(c->fd);
	c->fd = -1;
	c->st = C_FREE;
	r->active--;
	r->s->sessions++;
	record(r->s->hist, t - c->t0);
}

/* queue: appends a command line to the session's output. */
static void
queue(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, sizeof(c->out) - c->outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->out) - c->outlen)
		die(0, "command buffer overflow");
	c->outlen += (size_t)n;
}

/* flush_out: writes what it can of the pending commands; -1 on error. */
static int
flush_out(struct conn *c)
{
	ssize_t	 n;

	while (c->outlen > 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return 0;
}

/* start_session: opens a connection for the next user of a slot. */
static void
start_session(struct run *r, struct conn *c)
{
	const struct opts *o = r->o;
	long	 nu = nusers(o);
	int	 fd, on = 1, fl;

	/* Slot i takes users i, i+C, i+2C...: no two concurrent sessions
	 * share a maildrop when there are at least C users. */
	if (c->user < 0 || nu < r->nslots || c->user + r->nslots >= nu)
		c->user = c->slot % nu;
	else
		c->user += r->nslots;
	r->started++;
	r->active++;
	c->t0 = c->tlast = now();
	c->len = c->outlen = 0;
	c->body = 0;
	c->nmsg = c->sent = c->recv = 0;
	free(c->sizes);
	c->sizes = NULL;
	if ((fd = socket(o->addr.ss_family, SOCK_STREAM, 0)) == -1)
		die(errno, "socket");
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		die(errno, "fcntl");
	c->st = C_CONNECTING;
	if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) == 0)
		c->st = C_GREETING;
	else if (errno != EINPROGRESS) {
		char	 e[96];

		snprintf(e, sizeof(e), "connect: %s", strerror(errno));
		fail(r, c, &r->s->e_connect, e);
	}
}

/* send_retrs: keeps up to the pipeline depth of RETR commands out. */
static void
send_retrs(struct run *r, struct conn *c)
{
	while (c->sent < c->nmsg && c->sent - c->recv < r->o->pipeline &&
	    sizeof(c->out) - c->outlen > 32)
		queue(c, "RETR %ld\r\n", ++c->sent);
}

/* field: the decimal number at *sp, skipping blanks first; moves *sp
 * past it.  -1 when there is none. */
static long long
field(const char **sp)
{
	const char	*p = *sp;
	char		*end;
	long long	 v;

	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (errno != 0)
		return -1;
	*sp = end;
	return v;
}

/* after_stat: what a session does once STAT has answered. */
static void
after_stat(struct run *r, struct conn *c, const char *line)
{
	const char	*p = line + 3;	/* after "+OK" */
	long long	 n;

	record(r->s->shist, now() - c->t0);
	switch (r->o->mode) {
	case M_RETR:
		if ((n = field(&p)) < 0 || n > MAXMESSAGES) {
			fail(r, c, &r->s->e_proto, "bad STAT reply");
			return;
		}
		c->nmsg = n;
		c->sizes = calloc((size_t)n + 1, sizeof(*c->sizes));
		if (c->sizes == NULL)
			die(errno, "calloc");
		queue(c, "LIST\r\n");
		c->st = C_LIST;
		c->body = 0;
		break;
	case M_IDLE:
		c->st = C_HOLD;
		r->s->held++;
		r->nheld++;
		break;
	default:
		queue(c, "QUIT\r\n");
		c->st = C_QUIT;
	}
}

/* list_line: one line of the LIST reply. */
static void
list_line(struct run *r, struct conn *c, const char *line)
{
	long long	 i, sz;

	if (strcmp(line, ".") == 0) {
		c->body = 0;
		if (c->nmsg == 0) {
			queue(c, "QUIT\r\n");
			c->st = C_QUIT;
		} else {
			c->st = C_RETR;
			send_retrs(r, c);
		}
		return;
	}
	if ((i = field(&line)) >= 1 && i <= c->nmsg &&
	    (sz = field(&line)) >= 0)
		c->sizes[i] = (off_t)sz;
}

/* status_line: handles one reply line outside a message body. */
static void
status_line(struct run *r, struct conn *c, char *line)
{
	char	 name[256], e[200];
	int	 ok = strncmp(line, "+OK", 3) == 0;

	if (c->st == C_LIST && c->body) {
		list_line(r, c, line);
		return;
	}
	if (!ok) {
		snprintf(e, sizeof(e), "state %d: %.150s", (int)c->st, line);
		fail(r, c, &r->s->e_reply, e);
		return;
	}
	switch (c->st) {
	case C_GREETING:
		user_name(r->o, c->user, name, sizeof(name));
		queue(c, "USER %s\r\n", name);
		c->st = C_USER;
		break;
	case C_USER:
		queue(c, "PASS %s\r\n", r->o->password);
		c->st = C_PASS;
		break;
	case C_PASS:
		queue(c, "STAT\r\n");
		c->st = C_STAT;
		break;
	case C_STAT:
		after_stat(r, c, line);
		break;
	case C_LIST:
		c->body = 1;
		break;
	case C_RETR:
		c->body = 1;
		c->bst = B_BOL;
		c->boct = 0;
		break;
	case C_QUIT:
		c->st = C_CLOSING;
		break;
	default:
		fail(r, c, &r->s->e_proto, "unexpected reply");
	}
}

/* message_done: a RETR reply has ended. */
static void
message_done(struct run *r, struct conn *c)
{
	c->body = 0;
	c->recv++;
	r->s->messages++;
	r->s->octets += (uint64_t)c->boct;
	if (c->sizes[c->recv] != c->boct) {
		r->s->mismatches++;
		if (r->o->verbose)
			fprintf(stderr, "popload: message %ld: LIST says "
			    "%lld, RETR sent %lld octets\n", c->recv,
			    (long long)c->sizes[c->recv], (long long)c->boct);
	}
	if (c->recv == c->nmsg) {
		queue(c, "QUIT\r\n");
		c->st = C_QUIT;
	} else
		send_retrs(r, c);
}

/*
 * body: consumes message text from p to e, counting its octets without
 * the dot-stuffing; returns where the body ended, or e.
 */
static const char *
body(struct run *r, struct conn *c, const char *p, const char *e)
{
	const char	*q;

	while (p < e) {
		switch (c->bst) {
		case B_BOL:
			if (*p == '.') {
				c->bst = B_DOT;
				p++;
				continue;
			}
			c->bst = B_MID;
			break;
		case B_DOT:
			if (*p == '\r') {
				c->bst = B_DOTCR;
				p++;
				continue;
			}
			if (*p == '\n') {	/* a bare ".\n" ends it too */
				message_done(r, c);
				return p + 1;
			}
			c->bst = B_MID;		/* the dot was stuffing */
			break;
		case B_DOTCR:
			if (*p == '\n') {
				message_done(r, c);
				return p + 1;
			}
			c->boct += 1;		/* ".\r" and more: the CR */
			c->bst = B_MID;
			break;
		case B_MID:
			if ((q = memchr(p, '\n', (size_t)(e - p))) == NULL) {
				c->boct += e - p;
				return e;
			}
			c->boct += q + 1 - p;
			p = q + 1;
			c->bst = B_BOL;
			break;
		}
	}
	return e;
}

/* consume: handles the bytes read so far; keeps a partial line. */
static void
consume(struct run *r, struct conn *c)
{
	char	*p = c->buf, *e = c->buf + c->len, *nl;

	while (p < e && c->st != C_FREE) {
		if (c->st == C_RETR && c->body) {
			p = (char *)body(r, c, p, e);
			continue;
		}
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			break;
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		status_line(r, c, p);
		p = nl + 1;
	}
	if (c->st == C_FREE)
		return;
	if (p == c->buf && c->len == c->cap) {
		fail(r, c, &r->s->e_proto, "reply line too long");
		return;
	}
	memmove(c->buf, p, (size_t)(e - p));
	c->len = (size_t)(e - p);
}

/* readable: reads what the server sent and acts on it. */
static void
readable(struct run *r, struct conn *c)
{
	ssize_t	 n;
	char	 e[96];

	n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		snprintf(e, sizeof(e), "recv: %s", strerror(errno));
		fail(r, c, &r->s->e_eof, e);
		return;
	}
	c->tlast = now();
	if (n == 0) {
		if (c->st == C_CLOSING)
			finish(r, c);
		else {
			snprintf(e, sizeof(e), "server closed in state %d",
			    (int)c->st);
			fail(r, c, &r->s->e_eof, e);
		}
		return;
	}
	c->len += (size_t)n;
	consume(r, c);
}

/* connected: a non-blocking connect has finished. */
static void
connected(struct run *r, struct conn *c)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);
	char		 e[96];

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		snprintf(e, sizeof(e), "connect: %s", strerror(err));
		fail(r, c, &r->s->e_connect, e);
		return;
	}
	c->st = C_GREETING;
}

/* may_start: whether new sessions may still begin. */
static int
may_start(const struct run *r, double t)
{
	if (r->o->mode == M_IDLE)
		return r->started < r->quota;
	if (r->quota > 0 && r->started >= r->quota)
		return 0;
	return t < r->deadline;
}

/* print_ready: idle mode: every session is open or has failed. */
static void
print_ready(struct run *r)
{
	r->s->login_elapsed = now() - r->start;
	printf("ready open=%" PRIu64 " errors=%" PRIu64 " login_p50_ms=%.3f "
	    "login_p99_ms=%.3f elapsed=%.3f\n", r->s->held, r->s->errors,
	    percentile(r->s->shist, 50), percentile(r->s->shist, 99),
	    r->s->login_elapsed);
	fflush(stdout);
	r->holding = 1;
}

/* release: idle mode: sends QUIT to every held session. */
static void
release(struct run *r)
{
	long	 i;

	r->released = 1;
	for (i = 0; i < r->nconn; i++)
		if (r->c[i].st == C_HOLD) {
			queue(&r->c[i], "QUIT\r\n");
			r->c[i].st = C_QUIT;
			r->c[i].tlast = now();
			r->nheld--;
		}
}

/* check_stdin: idle mode: end of input from the driver releases all. */
static void
check_stdin(struct run *r)
{
	char	 b[256];
	ssize_t	 n = read(STDIN_FILENO, b, sizeof(b));

	if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
		release(r);
}

/* expire: fails sessions that waited too long, or all past the limit. */
static void
expire(struct run *r, double t)
{
	long	 i;

	for (i = 0; i < r->nconn; i++) {
		struct conn *c = &r->c[i];

		if (c->st == C_FREE || c->st == C_HOLD)
			continue;
		if (t - c->tlast > r->o->timeout || t > r->hard)
			fail(r, c, &r->s->e_timeout, "timeout");
	}
	if (t > r->hard)
		for (i = 0; i < r->nconn; i++)
			if (r->c[i].st == C_HOLD)
				fail(r, &r->c[i], &r->s->e_timeout,
				    "timeout while held");
}

/* poll_once: one round of poll over the sessions; returns 0 or -1. */
static int
poll_once(struct run *r, struct pollfd *pfd, long *map)
{
	long	 i, n = 0;
	int	 ms, rc;
	double	 t = now(), wait;

	for (i = 0; i < r->nconn; i++) {
		struct conn *c = &r->c[i];

		if (c->st == C_FREE)
			continue;
		if (c->st == C_RETR)
			send_retrs(r, c);
		if (c->outlen > 0 && flush_out(c) == -1) {
			fail(r, c, &r->s->e_eof, "send failed");
			continue;
		}
		pfd[n].fd = c->fd;
		if (c->st == C_CONNECTING)
			pfd[n].events = POLLOUT;
		else
			pfd[n].events = POLLIN | (c->outlen > 0 ? POLLOUT : 0);
		map[n++] = i;
	}
	if (r->holding && !r->released) {
		pfd[n].fd = STDIN_FILENO;
		pfd[n].events = POLLIN;
		map[n++] = -1;
	}
	wait = (may_start(r, t) ? r->deadline : r->hard) - t;
	if (r->holding && !r->released)
		wait = r->deadline - t;
	ms = wait > 0.1 ? 100 : (wait > 0 ? (int)(wait * 1000) + 1 : 0);
	if ((rc = poll(pfd, (nfds_t)n, ms)) == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n && rc > 0; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (map[i] == -1) {
			check_stdin(r);
			continue;
		}
		if (r->c[map[i]].st == C_CONNECTING)
			connected(r, &r->c[map[i]]);
		else if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			readable(r, &r->c[map[i]]);
		else if ((pfd[i].revents & POLLOUT) &&
		    flush_out(&r->c[map[i]]) == -1)
			fail(r, &r->c[map[i]], &r->s->e_eof, "send failed");
	}
	return 0;
}

/* run_clients: one client process's sessions, until done or bounded. */
static void
run_clients(const struct opts *o, struct stats *s, long slot0, long nslots,
    long mine, long total_slots, long quota)
{
	struct run	 r;
	struct pollfd	*pfd;
	long		*map, i;
	double		 t;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.s = s;
	r.nconn = mine;
	r.slot0 = slot0;
	r.nslots = total_slots;
	r.quota = quota;
	r.start = now();
	r.deadline = r.start + o->duration;
	r.hard = r.deadline + o->timeout;
	if (o->mode == M_IDLE)		/* opening is bounded by -T */
		r.hard = r.start + o->duration + o->timeout;
	if ((r.c = calloc((size_t)mine, sizeof(*r.c))) == NULL ||
	    (pfd = calloc((size_t)mine + 1, sizeof(*pfd))) == NULL ||
	    (map = calloc((size_t)mine + 1, sizeof(*map))) == NULL)
		die(errno, "calloc");
	for (i = 0; i < mine; i++) {
		r.c[i].fd = -1;
		r.c[i].slot = slot0 + i;
		r.c[i].user = -1;
		r.c[i].cap = o->mode == M_RETR ? RBUF_RETR : RBUF_SMALL;
		if ((r.c[i].buf = malloc(r.c[i].cap)) == NULL)
			die(errno, "malloc");
	}
	for (;;) {
		t = now();
		for (i = 0; i < mine && may_start(&r, t) &&
		    !(r.holding && r.released); i++)
			if (r.c[i].st == C_FREE && (o->mode != M_IDLE ||
			    r.active - r.nheld < o->clients))
				start_session(&r, &r.c[i]);
		if (o->mode == M_IDLE && !r.holding && r.active == r.nheld &&
		    !may_start(&r, t))
			print_ready(&r);
		if (r.holding && !r.released && t >= r.deadline)
			release(&r);
		if (r.active == 0 && !may_start(&r, t))
			break;
		if (poll_once(&r, pfd, map) == -1)
			die(errno, "poll");
		expire(&r, now());
	}
	s->elapsed = now() - r.start;
	if (o->mode == M_IDLE && !r.holding)
		print_ready(&r);
	for (i = 0; i < mine; i++) {
		free(r.c[i].buf);
		free(r.c[i].sizes);
	}
	free(r.c);
	free(pfd);
	free(map);
}

/* run_idle: idle mode: sessions are opened -c at a time, -n in all. */
static void
run_idle(const struct opts *o, struct stats *s)
{
	long	 n = o->count > 0 ? o->count : o->clients;

	/* One connection slot per session; -c bounds the logins in
	 * flight, counted by run.active against held sessions. */
	run_clients(o, s, 0, n, n, n, n);
}

/* merge: adds b's figures to a. */
static void
merge(struct stats *a, const struct stats *b)
{
	size_t	 i;

	a->sessions += b->sessions;
	a->errors += b->errors;
	a->e_connect += b->e_connect;
	a->e_eof += b->e_eof;
	a->e_reply += b->e_reply;
	a->e_timeout += b->e_timeout;
	a->e_proto += b->e_proto;
	a->messages += b->messages;
	a->octets += b->octets;
	a->mismatches += b->mismatches;
	a->held += b->held;
	if (b->elapsed > a->elapsed)
		a->elapsed = b->elapsed;
	for (i = 0; i < NBUCKET; i++) {
		a->hist[i] += b->hist[i];
		a->shist[i] += b->shist[i];
	}
	if (a->first_err[0] == '\0')
		memcpy(a->first_err, b->first_err, sizeof(a->first_err));
}

/* readall: reads exactly len bytes from fd; 0 or -1. */
static int
readall(int fd, void *buf, size_t len)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* writeall: writes all of buf to fd; 0 or -1. */
static int
writeall(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* run_forked: -j processes, each with its share of clients and count. */
static void
run_forked(const struct opts *o, struct stats *total)
{
	int		 fds[MAXPROCS], p[2], i, status;
	pid_t		 pids[MAXPROCS];
	long		 slot = 0, mine, quota;
	struct stats	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		die(errno, "calloc");
	for (i = 0; i < o->procs; i++) {
		mine = o->clients / o->procs + (i < o->clients % o->procs);
		quota = o->count / o->procs + (i < o->count % o->procs);
		if (o->count > 0 && quota == 0)
			quota = -1;	/* nothing for this one */
		if (pipe(p) == -1)
			die(errno, "pipe");
		if ((pids[i] = fork()) == -1)
			die(errno, "fork");
		if (pids[i] == 0) {
			close(p[0]);
			if (quota >= 0)
				run_clients(o, s, slot, o->clients, mine,
				    o->clients, quota);
			if (writeall(p[1], s, sizeof(*s)) == -1)
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		fds[i] = p[0];
		slot += mine;
	}
	for (i = 0; i < o->procs; i++) {
		memset(s, 0, sizeof(*s));
		if (readall(fds[i], s, sizeof(*s)) == -1)
			die(0, "client process %d sent no figures", i);
		close(fds[i]);
		merge(total, s);
	}
	for (i = 0; i < o->procs; i++)
		waitpid(pids[i], &status, 0);
	free(s);
}

/* report: prints the figures as one key=value line, errors on stderr. */
static void
report(const struct opts *o, const struct stats *s)
{
	static const char *const names[] = {
		"login", "retr", "idle", "copy", "fake"
	};
	double	 el = s->elapsed > 0 ? s->elapsed : 1e-9;

	printf("mode=%s procs=%d clients=%d sessions=%" PRIu64
	    " errors=%" PRIu64 " elapsed=%.3f rate=%.1f p50_ms=%.3f"
	    " p99_ms=%.3f max_ms=%.3f stat_p50_ms=%.3f stat_p99_ms=%.3f"
	    " messages=%" PRIu64 " octets=%" PRIu64 " mbps=%.1f"
	    " mismatches=%" PRIu64 " held=%" PRIu64 "\n",
	    names[o->mode], o->procs, o->clients, s->sessions, s->errors,
	    s->elapsed, (double)s->sessions / el, percentile(s->hist, 50),
	    percentile(s->hist, 99), hmax(s->hist), percentile(s->shist, 50),
	    percentile(s->shist, 99), s->messages, s->octets,
	    (double)s->octets / 1e6 / el, s->mismatches, s->held);
	if (s->errors > 0)
		fprintf(stderr, "popload: errors: connect=%" PRIu64
		    " closed=%" PRIu64 " err_reply=%" PRIu64 " timeout=%"
		    PRIu64 " protocol=%" PRIu64 "; first: %s\n", s->e_connect,
		    s->e_eof, s->e_reply, s->e_timeout, s->e_proto,
		    s->first_err);
	if (s->mismatches > 0)
		fprintf(stderr, "popload: %" PRIu64 " messages whose RETR "
		    "octets differ from their LIST size\n", s->mismatches);
}

/* copy_send: the sending side of copy mode: every file of dir to fd. */
static void
copy_send(const char *dir, int fd)
{
	DIR		*d;
	struct dirent	*de;
	static char	 buf[65536];
	ssize_t		 n;
	int		 f, dfd;

	if ((d = opendir(dir)) == NULL)
		die(errno, "%s", dir);
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((f = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1)
			continue;
		while ((n = read(f, buf, sizeof(buf))) > 0)
			if (writeall(fd, buf, (size_t)n) == -1)
				die(errno, "copy: write");
		close(f);
	}
	closedir(d);
}

/*
 * run_copy: the physical reference: a child reads every file of -D and
 * writes it to a loopback TCP socket; this process reads it all.
 */
static void
run_copy(const struct opts *o, struct stats *s)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 l, fd, status;
	pid_t			 pid;
	ssize_t			 n;
	double			 t0;
	static char		 buf[RBUF_RETR];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		die(errno, "copy: listen");
	t0 = now();
	if ((pid = fork()) == -1)
		die(errno, "fork");
	if (pid == 0) {
		close(l);
		alarm((unsigned)(o->duration + o->timeout));
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			die(errno, "copy: connect");
		copy_send(o->dir, fd);
		_exit(0);
	}
	if ((fd = accept(l, NULL, NULL)) == -1)
		die(errno, "copy: accept");
	close(l);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die(errno, "copy: read");
		s->octets += (uint64_t)n;
	}
	s->elapsed = now() - t0;
	s->sessions = 1;
	close(fd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die(0, "copy: the sending process failed");
}

/* fake_line: the fake server's answer to one command line. */
static int
fake_line(int fd, const char *line)
{
	const char	*ok = "+OK\r\n", *bye = "+OK bye\r\n";

	if (strncasecmp(line, "QUIT", 4) == 0) {
		send(fd, bye, strlen(bye), MSG_NOSIGNAL);
		return -1;
	}
	if (strncasecmp(line, "STAT", 4) == 0)
		ok = "+OK 0 0\r\n";
	send(fd, ok, strlen(ok), MSG_NOSIGNAL);
	return 0;
}

/* fake_read: reads a fake-server connection; -1 when it should close. */
static int
fake_read(int fd, char *buf, size_t *len)
{
	ssize_t	 n;
	char	*p, *nl;

	n = recv(fd, buf + *len, RBUF_SMALL - *len, 0);
	if (n <= 0)
		return n == -1 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
	*len += (size_t)n;
	p = buf;
	while ((nl = memchr(p, '\n', (size_t)(buf + *len - p))) != NULL) {
		*nl = '\0';
		if (fake_line(fd, p) == -1)
			return -1;
		p = nl + 1;
	}
	*len = (size_t)(buf + *len - p);
	memmove(buf, p, *len);
	return *len == RBUF_SMALL ? -1 : 0;
}

/*
 * run_fake: a trivial POP3 responder that answers +OK to everything, to
 * measure what popload itself can drive.  Stops after -t seconds.
 */
static void
run_fake(const struct opts *o, struct stats *s)
{
	struct pollfd	*pfd;
	char		(*buf)[RBUF_SMALL];
	size_t		*len;
	long		 n = 1, i, max = 4096;
	int		 l, fd, on = 1;
	double		 end = now() + o->duration;
	const char	*hello = "+OK fake POP3 ready\r\n";

	if ((l = socket(o->addr.ss_family, SOCK_STREAM, 0)) == -1)
		die(errno, "socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(l, (struct sockaddr *)&o->addr, o->addrlen) == -1 ||
	    listen(l, 1024) == -1 || fcntl(l, F_SETFL, O_NONBLOCK) == -1)
		die(errno, "fake: listen");
	pfd = calloc((size_t)max, sizeof(*pfd));
	buf = calloc((size_t)max, sizeof(*buf));
	len = calloc((size_t)max, sizeof(*len));
	if (pfd == NULL || buf == NULL || len == NULL)
		die(errno, "calloc");
	pfd[0].fd = l;
	pfd[0].events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (now() < end) {
		if (poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (i = n - 1; i >= 1; i--) {
			if (pfd[i].revents == 0 || fake_read(pfd[i].fd, buf[i],
			    &len[i]) == 0)
				continue;
			close(pfd[i].fd);
			if (i != n - 1) {
				pfd[i] = pfd[n - 1];
				memcpy(buf[i], buf[n - 1], len[n - 1]);
				len[i] = len[n - 1];
			}
			n--;
		}
		while ((pfd[0].revents & POLLIN) && n < max &&
		    (fd = accept(l, NULL, NULL)) != -1) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			send(fd, hello, strlen(hello), MSG_NOSIGNAL);
			pfd[n].fd = fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			len[n++] = 0;
			s->sessions++;
		}
	}
	s->elapsed = o->duration;
	free(pfd);
	free(buf);
	free(len);
	close(l);
}

int
main(int argc, char **argv)
{
	struct opts	 o;
	struct stats	*s;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		die(errno, "calloc");
	switch (o.mode) {
	case M_COPY:
		run_copy(&o, s);
		break;
	case M_FAKE:
		run_fake(&o, s);
		break;
	case M_IDLE:
		run_idle(&o, s);
		break;
	default:
		if (o.procs == 1)
			run_clients(&o, s, 0, o.clients, o.clients,
			    o.clients, o.count);
		else
			run_forked(&o, s);
	}
	report(&o, s);
	free(s);
	free(o.list);
	free(o.listbuf);
	return 0;
}
