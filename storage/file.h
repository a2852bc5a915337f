/*
 * file.h: writing a buffer whole to a descriptor, the loop that the
 * delivery, the index, the spool and the others would each write again.
 */
#ifndef POSTERN_FILE_H
#define POSTERN_FILE_H

#include <stddef.h>

/*
 * Writes the len octets at buf to fd, through interruptions (EINTR) and
 * partial writes.  Returns 0, or -1 with errno (EIO for a write that took
 * nothing); *done_r, if not NULL, gets the octets written either way.
 * The caller logs.
 */
int	file_write_all(int fd, const void *buf, size_t len, size_t *done_r);

#endif
