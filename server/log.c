/*
 * log.c: writes Postern's log to stderr (foreground) or syslog (facility
 * mail).  Owns no policy: callers choose the words, log.h lists the
 * formats that must stay fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

static int	 to_stderr = 1;
static int	 verbose;
static const char *log_ident = "postern";

void
log_init(const char *ident, int foreground)
{
	log_ident = ident;
	to_stderr = foreground;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_verbose(int on)
{
	verbose = on;
}

/* vlog: one line at priority pri, with strerror(err) appended if err. */
static void vlog(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vlog(int pri, int err, const char *fmt, va_list ap)
{
	char	 msg[2048];
	char	 stamp[32];
	time_t	 now;
	struct tm tm;

	if (pri == LOG_DEBUG && !verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	if (!to_stderr) {
		syslog(pri, "%s", msg);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s %s[%ld]: %s\n", stamp, log_ident, (long)getpid(),
	    msg);
}

#define LOGFN(name, pri, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	int	 saved = errno;				\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	vlog(pri, (with_errno) ? saved : 0, fmt, ap);	\
	va_end(ap);					\
	errno = saved;					\
}

LOGFN(log_info, LOG_INFO, 0)
LOGFN(log_warnx, LOG_WARNING, 0)
LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_debug, LOG_DEBUG, 0)

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}
