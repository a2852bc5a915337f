/*
 * password.h: password hashes.  Stored forms are crypt(3) hashes
 * (yescrypt $y$, SHA-512 $6$, bcrypt $2b$...) optionally behind one of
 * Dovecot's scheme prefixes: {CRYPT}, {SHA512-CRYPT}, {BLF-CRYPT},
 * {SHA256-CRYPT}, and {PLAIN} (cleartext: for tests and benchmarks only).
 * Comparisons are constant time, but for a {PLAIN} password's length.
 */
#ifndef POSTERN_PASSWORD_H
#define POSTERN_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Whether plain matches stored.  An unknown scheme never matches. */
bool	password_verify(const char *stored, const char *plain);
/* Spends about the time password_verify would on a default hash, so that
 * an unknown user costs what a wrong password costs. */
void	password_waste(const char *plain);
/* Writes a new hash of plain (yescrypt where crypt supports it, else
 * SHA-512) into out.  Returns 0, or -1 (errno). */
int	password_hash(const char *plain, char *out, size_t outlen);

#endif
