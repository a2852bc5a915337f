/*
 * log.h: the one place Postern writes its log.  In the foreground lines go
 * to stderr with a time stamp; otherwise to syslog, facility mail.
 * Login, failure and logout lines have fixed formats (see posternd(8)) so
 * that fail2ban and log parsers can rely on them.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b)	__attribute__((format(printf, a, b)))

/* Starts logging as ident; foreground != 0 logs to stderr. */
void	log_init(const char *ident, int foreground);
/* Shows debug lines too. */
void	log_verbose(int on);

void	log_info(const char *fmt, ...) LOG_FMT(1, 2);
void	log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
/* As log_warnx, followed by ": " and strerror(errno). */
void	log_warn(const char *fmt, ...) LOG_FMT(1, 2);
void	log_debug(const char *fmt, ...) LOG_FMT(1, 2);
/* Logs and exits 1. */
void	fatalx(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));
void	fatal(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));

#endif
