/*
 * fuzz_passwd.c: libFuzzer harness for the passwd-file parser: each input
 * is one line for passwd_parse_line(), and also a whole file for
 * passwd_lookup().  It checks what the header promises of an entry; it
 * must never check a password (that is password.c's harness's job).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/common.h"
#include "server/auth.h"
#include "server/passwd.h"

/* The file passwd_lookup() reads. */
static char	 file[PATH_MAX];

/* LLVMFuzzerInitialize: the temporary passwd-file's path. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init("fuzz_passwd");
	fuzz_path(file, sizeof(file), fuzz_tempdir("passwd"), "passwd");
	return 0;
}

/* check_entry: what passwd.h says of a parsed entry. */
static void
check_entry(const struct passwd_entry *e)
{
	FUZZ_CHECK(memchr(e->user, '\0', sizeof(e->user)) != NULL);
	FUZZ_CHECK(memchr(e->hash, '\0', sizeof(e->hash)) != NULL);
	FUZZ_CHECK(memchr(e->home, '\0', sizeof(e->home)) != NULL);
	FUZZ_CHECK(auth_valid_user(e->user));
	FUZZ_CHECK(strchr(e->user, ':') == NULL);
	FUZZ_CHECK(strchr(e->hash, ':') == NULL);
	FUZZ_CHECK(e->uid >= -1 && e->gid >= -1);
	FUZZ_CHECK(e->home[0] == '\0' || e->home[0] == '/');
}

/* line: the input as passwd_parse_line() sees a line. */
static void
line(const uint8_t *data, size_t size)
{
	struct passwd_entry	 e;
	const char		*why;
	char			*s;
	int			 r;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	r = passwd_parse_line(s, &e, &why);
	FUZZ_CHECK(r >= -1 && r <= 1);
	FUZZ_CHECK((r == -1) == (why != NULL));
	if (r == 1) {
		check_entry(&e);
		/* The user name is the line's first field, whole. */
		FUZZ_CHECK(strncmp(s, e.user, strlen(e.user)) == 0);
		FUZZ_CHECK(s[strlen(e.user)] == ':');
	}
	free(s);
}

/* lookup: the input as a whole passwd-file, searched for the user of its
 * first entry and for a user it cannot hold. */
static void
lookup(const uint8_t *data, size_t size)
{
	struct passwd_entry	 e;
	char			 user[USER_MAX + 1];
	size_t			 n;
	int			 r;

	fuzz_write_file(file, data, size);
	for (n = 0; n < size && n < USER_MAX && data[n] != ':' &&
	    data[n] != '\n' && data[n] != '\0'; n++)
		user[n] = (char)data[n];
	user[n] = '\0';
	r = passwd_lookup(file, user, &e);
	FUZZ_CHECK(r == 0 || r == 1);
	if (r == 1) {
		check_entry(&e);
		FUZZ_CHECK(strcmp(e.user, user) == 0);
	}
	FUZZ_CHECK(passwd_lookup(file, "no:such:user", &e) == 0);
}

/* LLVMFuzzerTestOneInput: the input as a line, then as a file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	line(data, size);
	lookup(data, size);
	return 0;
}
