/*
 * test_password.c: password_verify against every scheme Postern accepts,
 * password_hash round trips, and that locked, empty and unknown hashes
 * never match.
 */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#endif

#include "server/password.h"

/* Known vectors of "secret", made with libxcrypt. */
#define SHA512_SECRET	"$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/" \
	"rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1"
#define SHA256_SECRET	"$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwys" \
	"W8fXnbybcO4mF4/"
#define MD5_SECRET	"$1$saltsalt$9xy1btjgzLYfb7hivXtC//"

/* Whether this system's crypt(3) computes hash from "secret". */
static bool
crypt_knows(const char *hash)
{
	const char	*r;

	r = crypt("secret", hash);
	return r != NULL && strcmp(r, hash) == 0;
}

/* Runs password_verify with stderr (the log) sent to a temporary file
 * whose text is returned in log (of size loglen). */
static bool
verify_logged(const char *stored, const char *plain, char *log,
    size_t loglen)
{
	FILE	*tmp;
	size_t	 n;
	int	 saved;
	bool	 ok;

	assert_non_null(tmp = tmpfile());
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) != -1);
	ok = password_verify(stored, plain);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	rewind(tmp);
	n = fread(log, 1, loglen - 1, tmp);
	log[n] = '\0';
	fclose(tmp);
	return ok;
}

/* How many times needle occurs in s. */
static int
count(const char *s, const char *needle)
{
	int	 n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Seconds that password_verify(stored, plain) or password_waste takes. */
static double
seconds(const char *stored, const char *plain)
{
	struct timespec	 a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (stored != NULL)
		(void)password_verify(stored, plain);
	else
		password_waste(plain);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
test_hash_roundtrip(void **state)
{
	char	 h1[512], h2[512], pref[600];

	assert_int_equal(password_hash("correct horse", h1, sizeof(h1)), 0);
	assert_int_equal(h1[0], '$');
#ifdef HAVE_CRYPT_GENSALT_RN
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, pref, sizeof(pref)) != NULL)
		assert_memory_equal(h1, "$y$", 3);
#endif
	assert_true(password_verify(h1, "correct horse"));
	assert_false(password_verify(h1, "correct horsf"));
	assert_false(password_verify(h1, "correct hors"));
	assert_false(password_verify(h1, "correct horse "));
	assert_false(password_verify(h1, ""));

	/* The salt is random: the same password hashes differently. */
	assert_int_equal(password_hash("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2);
	assert_true(password_verify(h2, "correct horse"));

	/* Behind {CRYPT}, in any case. */
	assert_true((size_t)snprintf(pref, sizeof(pref), "{CRYPT}%s", h1) <
	    sizeof(pref));
	assert_true(password_verify(pref, "correct horse"));
	assert_false(password_verify(pref, "wrong"));
	assert_true((size_t)snprintf(pref, sizeof(pref), "{crypt}%s", h1) <
	    sizeof(pref));
	assert_true(password_verify(pref, "correct horse"));
}

static void
test_hash_too_small(void **state)
{
	char	 h[16];

	errno = 0;
	assert_int_equal(password_hash("pw", h, sizeof(h)), -1);
	assert_int_not_equal(errno, 0);
}

static void
test_sha512(void **state)
{
	if (!crypt_knows(SHA512_SECRET))
		skip();
	assert_true(password_verify(SHA512_SECRET, "secret"));
	assert_true(password_verify("{SHA512-CRYPT}" SHA512_SECRET, "secret"));
	assert_true(password_verify("{sha512-crypt}" SHA512_SECRET, "secret"));
	assert_true(password_verify("{Sha512-Crypt}" SHA512_SECRET, "secret"));
	assert_true(password_verify("{CRYPT}" SHA512_SECRET, "secret"));
	assert_false(password_verify("{SHA512-CRYPT}" SHA512_SECRET, "Secret"));
	assert_false(password_verify("{SHA512-CRYPT}" SHA512_SECRET, ""));
	/* A damaged hash does not match. */
	assert_false(password_verify("{SHA512-CRYPT}" SHA512_SECRET "x",
	    "secret"));
}

static void
test_sha256_md5(void **state)
{
	if (!crypt_knows(SHA256_SECRET) || !crypt_knows(MD5_SECRET))
		skip();
	assert_true(password_verify("{SHA256-CRYPT}" SHA256_SECRET, "secret"));
	assert_false(password_verify("{SHA256-CRYPT}" SHA256_SECRET, "secreT"));
	assert_true(password_verify("{MD5-CRYPT}" MD5_SECRET, "secret"));
	assert_true(password_verify("{md5-crypt}" MD5_SECRET, "secret"));
	assert_false(password_verify("{MD5-CRYPT}" MD5_SECRET, "secrets"));
}

static void
test_bcrypt(void **state)
{
#ifdef HAVE_CRYPT_GENSALT_RN
	char		 salt[CRYPT_GENSALT_OUTPUT_SIZE], stored[256];
	const char	*h;

	/* The lowest cost (4) keeps the test fast. */
	if (crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) == NULL)
		skip();
	h = crypt("hunter2", salt);
	if (h == NULL || h[0] == '*')
		skip();
	assert_memory_equal(h, "$2b$04$", 7);
	assert_true((size_t)snprintf(stored, sizeof(stored), "{BLF-CRYPT}%s",
	    h) < sizeof(stored));
	assert_true(password_verify(stored, "hunter2"));
	assert_false(password_verify(stored, "hunter3"));
	assert_false(password_verify(stored, "hunter"));
	stored[1] = 'b';	/* {bLF-CRYPT} */
	assert_true(password_verify(stored, "hunter2"));
#else
	skip();
#endif
}

static void
test_plain(void **state)
{
	assert_true(password_verify("{PLAIN}secret", "secret"));
	assert_true(password_verify("{plain}secret", "secret"));
	assert_true(password_verify("{PlAiN}secret", "secret"));
	assert_false(password_verify("{PLAIN}secret", "Secret"));
	assert_false(password_verify("{PLAIN}secret", "secre"));
	assert_false(password_verify("{PLAIN}secret", "secrett"));
	assert_false(password_verify("{PLAIN}secret", ""));
	/* Only the first {...} is the scheme; the rest is the password. */
	assert_true(password_verify("{PLAIN}{PLAIN}x", "{PLAIN}x"));
	assert_true(password_verify("{PLAIN}a:b*!", "a:b*!"));
	/* Without the prefix the same text is a crypt hash, not cleartext. */
	assert_false(password_verify("secret", "secret"));
}

static void
test_unknown_scheme(void **state)
{
	char	 log[4096];

	assert_false(verify_logged("{FOO}x", "x", log, sizeof(log)));
	assert_int_equal(count(log, "unknown scheme {FOO}"), 1);
	assert_false(verify_logged("{FOO}x", "{FOO}x", log, sizeof(log)));
	assert_false(verify_logged("{}x", "x", log, sizeof(log)));
	assert_int_equal(count(log, "unknown scheme {}"), 1);
	assert_false(verify_logged("{PLAINX}x", "x", log, sizeof(log)));
	assert_int_equal(count(log, "unknown scheme {PLAINX}"), 1);
	assert_false(verify_logged("{PLAI}x", "x", log, sizeof(log)));
	/* A known scheme logs nothing. */
	assert_true(verify_logged("{PLAIN}x", "x", log, sizeof(log)));
	assert_string_equal(log, "");
}

static void
test_empty_and_locked(void **state)
{
	char	 locked[256];

	assert_false(password_verify("", ""));
	assert_false(password_verify("", "x"));
	assert_false(password_verify("{PLAIN}", ""));
	assert_false(password_verify("{CRYPT}", ""));
	assert_false(password_verify("{SHA512-CRYPT}", ""));
	assert_false(password_verify("*", "*"));
	assert_false(password_verify("*", ""));
	assert_false(password_verify("!", "!"));
	assert_false(password_verify("!", ""));
	assert_false(password_verify("{CRYPT}*", "*"));
	assert_false(password_verify("{CRYPT}!", "!"));
	assert_false(password_verify("*LK*", "*LK*"));

	/* A real hash locked shadow(5)-style with '!' or '*' in front. */
	assert_int_equal(password_hash("pw", locked + 1, sizeof(locked) - 1),
	    0);
	assert_true(password_verify(locked + 1, "pw"));
	locked[0] = '!';
	assert_false(password_verify(locked, "pw"));
	locked[0] = '*';
	assert_false(password_verify(locked, "pw"));
}

static void
test_long_password(void **state)
{
	char	 h[512], log[4096], *pw;
	size_t	 len = 1024;

	assert_non_null(pw = malloc(len + 1));
	memset(pw, 'p', len);
	pw[len] = '\0';
	/* libxcrypt takes at most 511 octets; other crypt(3)s may take
	 * more.  Either way the hash is refused or it verifies. */
	errno = 0;
	if (password_hash(pw, h, sizeof(h)) == 0)
		assert_true(password_verify(h, pw));
	else
		assert_int_equal(errno, ERANGE);

	/* A password crypt(3) refuses is wrong, and logs nothing: the
	 * client chose it. */
	assert_int_equal(password_hash("short", h, sizeof(h)), 0);
	assert_false(verify_logged(h, pw, log, sizeof(log)));
	assert_string_equal(log, "");
	assert_true(password_verify(h, "short"));
	/* A {PLAIN} password has no such limit. */
	assert_true((size_t)snprintf(h, sizeof(h), "{PLAIN}%.400s", pw) <
	    sizeof(h));
	pw[400] = '\0';
	assert_true(password_verify(h, pw));
	free(pw);
}

static void
test_waste_costs(void **state)
{
	char	 h[512];
	double	 v, w;

	/* password_waste must cost about what a real check costs; allow
	 * for noise: at least a fifth of it. */
	assert_int_equal(password_hash("pw", h, sizeof(h)), 0);
	v = seconds(h, "wrong");
	w = seconds(NULL, "wrong");
	if (w < v / 5)
		fail_msg("waste %.6fs, verify %.6fs", w, v);
	/* A locked account costs the same. */
	w = seconds("!", "wrong");
	if (w < v / 5)
		fail_msg("locked %.6fs, verify %.6fs", w, v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_hash_too_small),
		cmocka_unit_test(test_sha512),
		cmocka_unit_test(test_sha256_md5),
		cmocka_unit_test(test_bcrypt),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_empty_and_locked),
		cmocka_unit_test(test_long_password),
		cmocka_unit_test(test_waste_costs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
