/*
 * fuzz_conf.c: libFuzzer harness for the configuration reader: each input
 * is a whole postern.conf for conf_load().  A file it accepts must hold
 * only settings within the bounds conf.c promises, print, and free.  It
 * never starts a server.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fuzz/common.h"
#include "protocols/protocol.h"
#include "server/conf.h"
#include "server/limits.h"

/* The file conf_load() reads, and conf_print()'s copy of it. */
static char	 file[PATH_MAX];
static char	 printed[PATH_MAX];

/* LLVMFuzzerInitialize: the temporary directory of the two files. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init("fuzz_conf");
	const char	*dir = fuzz_tempdir("conf");

	fuzz_path(file, sizeof(file), dir, "postern.conf");
	fuzz_path(printed, sizeof(printed), dir, "printed.conf");
	return 0;
}

/* check_conf: the bounds of postern.conf(5) on an accepted file. */
static void
check_conf(const struct conf *c)
{
	int	 i;

	FUZZ_CHECK(c->workers >= 1 && c->workers <= WORKERS_MAX);
	FUZZ_CHECK(c->login_timeout >= 1 && c->login_timeout <= TIMEOUT_MAX);
	FUZZ_CHECK(c->idle_timeout >= IDLE_TIMEOUT_MIN &&
	    c->idle_timeout <= TIMEOUT_MAX);
	FUZZ_CHECK(c->max_line >= LINE_MIN && c->max_line <= LINE_MAX_BOUND);
	FUZZ_CHECK(c->max_bad_commands >= 1);
	FUZZ_CHECK(c->auth_fail_delay >= 0 &&
	    c->auth_fail_delay <= AUTH_FAIL_DELAY_MAX);
	FUZZ_CHECK(c->plaintext_auth == PLAINTEXT_NEVER ||
	    c->plaintext_auth == PLAINTEXT_LOOPBACK ||
	    c->plaintext_auth == PLAINTEXT_ALWAYS);
	FUZZ_CHECK(c->path != NULL && strcmp(c->path, file) == 0);
	FUZZ_CHECK(c->pidfile != NULL && (c->pidfile[0] == '\0' ||
	    c->pidfile[0] == '/'));
	FUZZ_CHECK(c->passwd_file != NULL && c->passwd_file[0] == '/');
	FUZZ_CHECK(c->hostname != NULL && c->hostname[0] != '\0');
	FUZZ_CHECK(c->maildir != NULL);
	FUZZ_CHECK(c->nlisteners >= 1 && c->nlisteners <= LISTENERS_MAX);
	for (i = 0; i < c->nlisteners; i++) {
		FUZZ_CHECK(c->listeners[i].protocol != NULL);
		FUZZ_CHECK(protocol_find(c->listeners[i].protocol) != NULL);
		FUZZ_CHECK(c->listeners[i].address != NULL);
		FUZZ_CHECK(c->listeners[i].port >= 0 &&
		    c->listeners[i].port <= 65535);
	}
}

/* print: conf_print()'s text of c into buf (NUL-terminated, at most
 * size - 1 octets) without its first line, the file's name. */
static void
print(const struct conf *c, char *buf, size_t size)
{
	FILE	*fp;
	size_t	 n;
	char	*nl;

	FUZZ_CHECK((fp = fopen(printed, "w+")) != NULL);
	conf_print(c, fp);
	FUZZ_CHECK(fflush(fp) == 0 && fseek(fp, 0, SEEK_SET) == 0);
	n = fread(buf, 1, size - 1, fp);
	FUZZ_CHECK(!ferror(fp) && feof(fp));
	FUZZ_CHECK(fclose(fp) == 0);
	buf[n] = '\0';
	FUZZ_CHECK(buf[0] == '#' && (nl = strchr(buf, '\n')) != NULL);
	memmove(buf, nl + 1, strlen(nl + 1) + 1);
}

/* check_reload: conf_print() writes "postern.conf syntax": the text it
 * writes loads again, to settings it prints the same way. */
static void
check_reload(const struct conf *c)
{
	static char	 once[1 << 20], twice[1 << 20];
	struct conf	 r;

	print(c, once, sizeof(once));
	/* print() left the text in the file: read it back. */
	FUZZ_CHECK(conf_load(printed, &r) == 0);
	print(&r, twice, sizeof(twice));
	conf_free(&r);
	if (strcmp(once, twice) != 0)
		fprintf(stderr, "printed:\n%s\nreprinted:\n%s\n", once, twice);
	FUZZ_CHECK(strcmp(once, twice) == 0);
}

/* LLVMFuzzerTestOneInput: one input as a whole postern.conf. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 c;

	fuzz_write_file(file, data, size);
	if (conf_load(file, &c) != 0) {
		/* A refused file leaves nothing allocated. */
		FUZZ_CHECK(c.path == NULL && c.listeners == NULL);
		return 0;
	}
	check_conf(&c);
	check_reload(&c);
	conf_free(&c);
	return 0;
}
