/*
 * authfile.h: the small credential files of logins, apop_secrets and
 * rpop_trust_file: opened only when their owner and mode make them safe
 * to trust, and read a line at a time with a bounded buffer.  Only auth.c
 * uses it (in the auth process, once privileges are separated).
 */
#ifndef POSTERN_AUTHFILE_H
#define POSTERN_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Opens the file a setting names for reading.  It must be a regular file
 * (not a symbolic link) owned by root or by the user we run as, writable
 * by no one else, and with secret set, readable by no one else either
 * (mode 0600 or 0400).  Returns the stream, or NULL after logging
 * "setting path: reason" (errno set; EPERM for an unsafe owner or mode).
 */
FILE	*authfile_open(const char *setting, const char *path, bool secret);

/*
 * Reads the next line that is neither blank nor a comment (first
 * non-blank character '#') into buf, without its LF or CRLF.  Lines
 * that do not fit in buflen - 1 octets and lines holding a NUL are
 * skipped and logged with *lineno, which counts the lines read; a last
 * line without LF counts.  Returns 1 for a line, 0 at the end of the
 * file, -1 on a read error (logged).
 */
int	 authfile_line(FILE *fp, const char *path, char *buf, size_t buflen,
	    unsigned *lineno);

/* Wipes buf and closes fp. */
void	 authfile_close(FILE *fp, char *buf, size_t buflen);

#endif
