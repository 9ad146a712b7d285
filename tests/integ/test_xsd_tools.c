/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: Xen's own xenstore-* tools (Debian's xenstore-utils
 * 4.17) against the daemon served in this process, found through
 * XENSTORED_PATH: xenstore-write then xenstore-ls (exact output, with
 * and without -p), -read (absolute, relative, missing), -list (a
 * directory too big for one reply, so the library falls back to
 * DIRECTORY_PART), -rm, -exists, -chmod, and -watch -n 2 firing for
 * another client's write.  Skipped when the tools are not installed.
 */

#include "test_xsd_integ.h"

static struct xi_env env;

static int
setup(void **state)
{
	if (access("/usr/bin/xenstore-ls", X_OK) != 0) {
		fprintf(stderr, "xenstore-utils missing: skipped\n");
		exit(XT_SKIP);
	}
	xi_start(&env, NULL);
	return (0);
}

static int
teardown(void **state)
{
	xi_stop(&env);
	return (0);
}

/* Run argv, expect status st and, if want is not NULL, that output. */
static void
run(int st, const char *want, const char *const argv[])
{
	char out[65536];

	assert_int_equal(xi_run(argv, out, sizeof(out)), st);
	if (want != NULL)
		assert_string_equal(out, want);
}

#define RUN(st, want, ...) \
	run(st, want, (const char *const[]) { __VA_ARGS__, NULL })

static void
test_write_ls(void **state)
{
	/* The initial tree of C xenstored. */
	RUN(0, "tool = \"\"\n xenstored = \"\"\n", "xenstore-ls");
	RUN(0, "xenstored = \"\"\n", "xenstore-ls", "/tool");
	RUN(0, "", "xenstore-write", "/local/domain/0/name", "Domain-0",
	    "/vm/a/b", "hello", "/vm/a/c", "with \"quotes\"");
	RUN(0,
	    "tool = \"\"\n"
	    " xenstored = \"\"\n"
	    "local = \"\"\n"
	    " domain = \"\"\n"
	    "  0 = \"\"\n"
	    "   name = \"Domain-0\"\n"
	    "vm = \"\"\n"
	    " a = \"\"\n"
	    "  b = \"hello\"\n"
	    "  c = \"with \"quotes\"\"\n",
	    "xenstore-ls");
	RUN(0,
	    "/vm/a = \"\"\n"
	    "/vm/a/b = \"hello\"\n"
	    "/vm/a/c = \"with \"quotes\"\"\n",
	    "xenstore-ls", "-f", "/vm");
	RUN(0, "", "xenstore-chmod", "/vm/a", "n0", "r5");
	RUN(0,
	    "a = \"\" . . . . . . . . . . . . . . . . . . . . . . . . . . . "
	    " (n0,r5)\n"
	    " b = \"hello\" . . . . . . . . . . . . . . . . . . . . . . . . "
	    " (n0)\n"
	    " c = \"with \"quotes\"\" . . . . . . . . . . . . . . . . . . . . "
	    " (n0)\n",
	    "xenstore-ls", "-p", "/vm");
	RUN(0, "", "xenstore-rm", "/vm");
}

static void
test_read(void **state)
{
	RUN(0, "", "xenstore-write", "/r/x", "1", "/r/y", "two words");
	RUN(0, "1\n", "xenstore-read", "/r/x");
	RUN(0, "1\ntwo words\n", "xenstore-read", "/r/x", "/r/y");
	RUN(0, "Domain-0\n", "xenstore-read", "name");
	RUN(1, "xenstore-read: couldn't read path /r/nope\n", "xenstore-read",
	    "/r/nope");
	RUN(1, "xenstore-read: couldn't read path /r//x\n", "xenstore-read",
	    "/r//x");
	RUN(0, "", "xenstore-rm", "/r");
}

static void
test_list_rm_exists(void **state)
{
	static const char *argv[2 + 2 * 300 + 1];
	char names[300][32], out[65536], *p;
	int i, n;

	/* 300 children in one transaction: 5100 bytes of names. */
	argv[0] = "xenstore-write";
	for (i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "/big/child-%010d", i);
		argv[1 + 2 * i] = names[i];
		argv[2 + 2 * i] = "v";
	}
	argv[1 + 2 * 300] = NULL;
	assert_int_equal(xi_run(argv, out, sizeof(out)), 0);
	/* DIRECTORY says E2BIG; the library reads it in DIRECTORY_PARTs. */
	argv[0] = "xenstore-list";
	argv[1] = "/big";
	argv[2] = NULL;
	assert_int_equal(xi_run(argv, out, sizeof(out)), 0);
	for (i = 0, p = out; i < 300; i++) {
		n = snprintf(names[i], sizeof(names[i]), "child-%010d\n", i);
		assert_memory_equal(p, names[i], (size_t)n);
		p += n;
	}
	assert_string_equal(p, "");
	RUN(0, "", "xenstore-exists", "/big/child-0000000007");
	RUN(0, "", "xenstore-rm", "/big/child-0000000007");
	RUN(1, NULL, "xenstore-exists", "/big/child-0000000007");
	RUN(0, "", "xenstore-exists", "/big");
	RUN(0, "", "xenstore-rm", "/big");
	RUN(1, NULL, "xenstore-exists", "/big");
	RUN(1, NULL, "xenstore-list", "/big");
	RUN(0, "tool\nlocal\n", "xenstore-list", "/");
	/* rm of a missing node whose parent exists: fine. */
	RUN(0, "", "xenstore-rm", "/tool/nope");
	RUN(1, "xenstore-rm: could not remove path /nope/x\n", "xenstore-rm",
	    "/nope/x");
}

static void
test_watch(void **state)
{
	static const char *const watch[] = { "xenstore-watch", "-n", "2", "/wt",
		NULL };
	struct xi_proc p;
	char line[256];

	xi_spawn(&p, watch);
	/* The first line is the initial event: the watch is in place. */
	assert_true(xi_line(&p, line, sizeof(line)));
	assert_string_equal(line, "/wt");
	RUN(0, "", "xenstore-write", "/other", "1");
	RUN(0, "", "xenstore-write", "/wt/x", "1");
	assert_true(xi_line(&p, line, sizeof(line)));
	assert_string_equal(line, "/wt/x");
	assert_int_equal(xi_wait(&p, NULL, 0), 0);
	RUN(0, "", "xenstore-rm", "/wt");
	RUN(0, "", "xenstore-rm", "/other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_ls),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_list_rm_exists),
		cmocka_unit_test(test_watch),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
