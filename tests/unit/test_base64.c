/*
 * test_base64.c: RFC 4648 test vectors both ways, and every way a base64
 * string can be malformed: length, alphabet, each padding error, pad
 * bits, and results that do not fit.
 */
#include "tests/unit/unit.h"

#include <string.h>

#include "server/base64.h"

/* RFC 4648 section 10. */
static const struct vec {
	const char	*plain, *b64;
} vecs[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_encode_vectors(void **state)
{
	char	 out[64];
	size_t	 i;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		assert_int_equal(base64_encode(vecs[i].plain,
		    strlen(vecs[i].plain), out, sizeof(out)),
		    strlen(vecs[i].b64));
		assert_string_equal(out, vecs[i].b64);
	}
	/* Every octet value, and the two non-alphanumeric characters. */
	assert_int_equal(base64_encode("\xfb\xff\0", 3, out, sizeof(out)), 4);
	assert_string_equal(out, "+/8A");
	assert_int_equal(base64_encode("Username:", 9, out, sizeof(out)), 12);
	assert_string_equal(out, "VXNlcm5hbWU6");
}

static void
test_encode_room(void **state)
{
	char	 out[9];

	/* "foob" needs 8 characters and the NUL. */
	assert_int_equal(BASE64_ENCODED_SIZE(4), 9);
	assert_int_equal(base64_encode("foob", 4, out, 9), 8);
	assert_int_equal(base64_encode("foob", 4, out, 8), BASE64_TOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(base64_encode("", 0, out, 1), 0);
	assert_int_equal(base64_encode("", 0, out, 0), BASE64_TOOLONG);
}

static void
test_decode_vectors(void **state)
{
	char	 out[64];
	size_t	 i;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		assert_int_equal(base64_decode(vecs[i].b64,
		    strlen(vecs[i].b64), out, sizeof(out)),
		    strlen(vecs[i].plain));
		assert_string_equal(out, vecs[i].plain);
	}
	/* NULs inside the result are kept. */
	assert_int_equal(base64_decode("AGFsaWNlAHB3", 12, out, sizeof(out)),
	    9);
	assert_memory_equal(out, "\0alice\0pw", 9);
	assert_int_equal(base64_decode("+/8A", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\0", 3);
}

/* bad: asserts that s is refused as invalid and out left zeroed. */
static void
bad(const char *s)
{
	char	 out[32];

	memset(out, 'x', sizeof(out));
	if (base64_decode(s, strlen(s), out, sizeof(out)) != BASE64_INVALID)
		fail_msg("\"%s\" was accepted", s);
	assert_int_equal(out[0], 0);
}

static void
test_decode_length(void **state)
{
	bad("Z");
	bad("Zg");
	bad("Zg=");
	bad("Zm9vY");
	bad("Zm9vYmFy=");
	bad("=");
}

static void
test_decode_alphabet(void **state)
{
	bad("Zm9v!mFy");
	bad("Zm9 vmFy");	/* no white space */
	bad("Zm9v\nmFy");
	bad("Zm9v-_Fy");	/* the URL alphabet is not base64 */
	bad("Zm9\x80YmFy");
	/* A NUL is not skipped: the length counts. */
	assert_int_equal(base64_decode("Zm\0v", 4, (char[8]){0}, 8),
	    BASE64_INVALID);
}

static void
test_decode_padding(void **state)
{
	bad("====");		/* nothing but padding */
	bad("Z===");		/* three pads */
	bad("Zg=g");		/* '=' before data */
	bad("Z=g=");
	bad("=Zm9");		/* '=' first */
	bad("Zg==Zm9v");	/* padding before the last quantum */
	bad("Zm8=Zm9v");
	bad("Zm9v====");	/* a whole quantum of padding */
	bad("Zm9vZ===");
	bad("Zg==\n");		/* anything after the padding */
}

static void
test_decode_pad_bits(void **state)
{
	char	 out[8];

	/* "Zg==" is "f"; "Zh==" has non-zero bits where padding is. */
	bad("Zh==");
	bad("Zm9=");
	bad("Zm+=");
	assert_int_equal(base64_decode("Zg==", 4, out, sizeof(out)), 1);
	assert_int_equal(base64_decode("Zm8=", 4, out, sizeof(out)), 2);
}

static void
test_decode_room(void **state)
{
	char	 out[6];

	/* "foobar" is 6 octets: fits exactly, without the NUL. */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 6), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5),
	    BASE64_TOOLONG);
	assert_int_equal(out[0], 0);
	assert_int_equal(base64_decode("Zg==", 4, out, 0), BASE64_TOOLONG);
	assert_int_equal(base64_decode("", 0, out, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),
		cmocka_unit_test(test_encode_room),
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_decode_length),
		cmocka_unit_test(test_decode_alphabet),
		cmocka_unit_test(test_decode_padding),
		cmocka_unit_test(test_decode_pad_bits),
		cmocka_unit_test(test_decode_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
