/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: Xen's libxenstore (4.17) against the daemon served in
 * this process.  xs_open through XENSTORED_PATH; read, write, mkdir,
 * directory, rm; watches with the library's reader thread; transactions,
 * one forced to conflict so that xs_transaction_end fails with EAGAIN;
 * permissions; xs_introduce_domain, then a handle opened on
 * DIR/domain/<n> acting as that domain (EACCES on another domain's node,
 * relative paths under its home, the tools working there too), and
 * xs_release_domain removing its socket and its nodes and firing
 * @releaseDomain; CONTROL through xs_control_command.
 */

#include <xenstore.h>

#include "test_xsd_integ.h"

static struct xi_env env;
static struct xs_handle *h;

static int
setup(void **state)
{
	xi_start(&env, NULL);
	h = xs_open(0);
	assert_non_null(h);
	return (0);
}

static int
teardown(void **state)
{
	xs_close(h);
	xi_stop(&env);
	return (0);
}

static void
expect_read(struct xs_handle *x, xs_transaction_t t, const char *path,
    const char *want)
{
	unsigned int len;
	char *v = xs_read(x, t, path, &len);

	assert_non_null(v);
	assert_int_equal(len, strlen(want));
	assert_string_equal(v, want);
	free(v);
}

static void
expect_errno(bool ok, int err)
{
	assert_false(ok);
	assert_int_equal(errno, err);
}

static void
test_basic(void **state)
{
	unsigned int num, len;
	char **names, *v;

	assert_true(xs_write(h, XBT_NULL, "/b/x", "hello", 5));
	expect_read(h, XBT_NULL, "/b/x", "hello");
	/* Bytes, with a NUL inside; the library adds a terminator. */
	assert_true(xs_write(h, XBT_NULL, "/b/bin", "a\0b", 3));
	v = xs_read(h, XBT_NULL, "/b/bin", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "a\0b", 4);
	free(v);
	assert_true(xs_mkdir(h, XBT_NULL, "/b/dir"));
	assert_true(xs_mkdir(h, XBT_NULL, "/b/dir"));
	names = xs_directory(h, XBT_NULL, "/b", &num);
	assert_non_null(names);
	assert_int_equal(num, 3);
	assert_string_equal(names[0], "x");
	assert_string_equal(names[1], "bin");
	assert_string_equal(names[2], "dir");
	free(names);
	expect_errno(xs_read(h, XBT_NULL, "/b/nope", &len) != NULL, ENOENT);
	expect_errno(xs_write(h, XBT_NULL, "/b//x", "1", 1), EINVAL);
	assert_true(xs_rm(h, XBT_NULL, "/b"));
	expect_errno(xs_directory(h, XBT_NULL, "/b", &num) != NULL, ENOENT);
	/* Relative: the privileged socket's home is dom0's. */
	assert_true(xs_write(h, XBT_NULL, "name", "Domain-0", 8));
	expect_read(h, XBT_NULL, "/local/domain/0/name", "Domain-0");
}

static void
test_watch(void **state)
{
	struct xs_handle *h2 = xs_open(0);
	unsigned int num;
	char **ev;

	assert_non_null(h2);
	assert_true(xs_watch(h, "/w", "tk"));
	ev = xs_read_watch(h, &num); /* the initial event */
	assert_non_null(ev);
	assert_int_equal(num, 2);
	assert_string_equal(ev[XS_WATCH_PATH], "/w");
	assert_string_equal(ev[XS_WATCH_TOKEN], "tk");
	free(ev);
	assert_true(xs_write(h2, XBT_NULL, "/w/x", "1", 1));
	ev = xs_read_watch(h, &num);
	assert_non_null(ev);
	assert_string_equal(ev[XS_WATCH_PATH], "/w/x");
	assert_string_equal(ev[XS_WATCH_TOKEN], "tk");
	free(ev);
	/* Replies and events interleave on one handle with a watch. */
	assert_true(xs_write(h, XBT_NULL, "/w/y", "1", 1));
	expect_read(h, XBT_NULL, "/w/y", "1");
	ev = xs_read_watch(h, &num);
	assert_string_equal(ev[XS_WATCH_PATH], "/w/y");
	free(ev);
	assert_true(xs_unwatch(h, "/w", "tk"));
	expect_errno(xs_unwatch(h, "/w", "tk"), ENOENT);
	assert_true(xs_rm(h2, XBT_NULL, "/w"));
	xs_close(h2);
}

static void
test_transactions(void **state)
{
	struct xs_handle *h2 = xs_open(0);
	xs_transaction_t t;

	assert_non_null(h2);
	assert_true(xs_write(h, XBT_NULL, "/c/x", "1", 1));
	/* Committed. */
	t = xs_transaction_start(h);
	assert_int_not_equal(t, XBT_NULL);
	assert_true(xs_write(h, t, "/c/y", "1", 1));
	expect_read(h, t, "/c/y", "1");
	expect_errno(xs_read(h2, XBT_NULL, "/c/y", NULL) != NULL, ENOENT);
	assert_true(xs_transaction_end(h, t, false));
	expect_read(h2, XBT_NULL, "/c/y", "1");
	/* Forced conflict: EAGAIN, nothing applied. */
	t = xs_transaction_start(h);
	expect_read(h, t, "/c/x", "1");
	assert_true(xs_write(h2, XBT_NULL, "/c/x", "2", 1));
	assert_true(xs_write(h, t, "/c/z", "1", 1));
	expect_errno(xs_transaction_end(h, t, false), EAGAIN);
	expect_errno(xs_read(h, XBT_NULL, "/c/z", NULL) != NULL, ENOENT);
	/* Retried, as the tools do: it goes through. */
	t = xs_transaction_start(h);
	expect_read(h, t, "/c/x", "2");
	assert_true(xs_write(h, t, "/c/z", "1", 1));
	assert_true(xs_transaction_end(h, t, false));
	/* Aborted. */
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/c"));
	assert_true(xs_transaction_end(h, t, true));
	expect_read(h, XBT_NULL, "/c/z", "1");
	assert_true(xs_rm(h, XBT_NULL, "/c"));
	xs_close(h2);
}

static void
test_permissions(void **state)
{
	struct xs_permissions set[2] = { { 0, XS_PERM_NONE },
		{ 5, XS_PERM_READ } };
	struct xs_permissions *got;
	unsigned int num;

	assert_true(xs_write(h, XBT_NULL, "/p", "", 0));
	assert_true(xs_set_permissions(h, XBT_NULL, "/p", set, 2));
	got = xs_get_permissions(h, XBT_NULL, "/p", &num);
	assert_non_null(got);
	assert_int_equal(num, 2);
	assert_int_equal(got[0].id, 0);
	assert_int_equal(got[0].perms, XS_PERM_NONE);
	assert_int_equal(got[1].id, 5);
	assert_int_equal(got[1].perms, XS_PERM_READ);
	free(got);
	set[0].id = 40000; /* no such domain can own it */
	expect_errno(xs_set_permissions(h, XBT_NULL, "/p", set, 2), ENOENT);
	assert_true(xs_rm(h, XBT_NULL, "/p"));
}

static void
test_domains(void **state)
{
	struct xs_permissions own[1] = { { 0, XS_PERM_NONE } };
	struct xs_handle *d5;
	char path[128], out[256], *s;
	unsigned int num;
	struct stat st;
	char **ev;

	assert_true(xs_watch(h, "@releaseDomain", "rel"));
	free(xs_read_watch(h, &num));
	/* The toolstack's part: homes, owned by their domains. */
	own[0].id = 5;
	assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/5"));
	assert_true(xs_set_permissions(h, XBT_NULL, "/local/domain/5", own, 1));
	own[0].id = 7;
	assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/7"));
	assert_true(xs_set_permissions(h, XBT_NULL, "/local/domain/7", own, 1));
	assert_false(xs_is_domain_introduced(h, 5));
	assert_true(xs_introduce_domain(h, 5, 0x1234, 7));
	assert_true(xs_is_domain_introduced(h, 5));
	snprintf(path, sizeof(path), "%s/domain/5", env.dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* A handle on DIR/domain/5 acts as domain 5. */
	assert_int_equal(setenv("XENSTORED_PATH", path, 1), 0);
	d5 = xs_open(0);
	assert_non_null(d5);
	expect_errno(xs_write(d5, XBT_NULL, "/local/domain/7/x", "1", 1),
	    EACCES);
	expect_errno(xs_read(d5, XBT_NULL, "/local/domain/0/name", NULL) !=
		NULL,
	    EACCES);
	assert_true(xs_write(d5, XBT_NULL, "name", "guest", 5));
	expect_read(h, XBT_NULL, "/local/domain/5/name", "guest");
	expect_read(d5, XBT_NULL, "/local/domain/5/name", "guest");
	s = xs_get_domain_path(d5, 5);
	assert_string_equal(s, "/local/domain/5");
	free(s);
	expect_errno(xs_is_domain_introduced(d5, 5), EACCES);
	expect_errno(xs_introduce_domain(d5, 6, 1, 1), EACCES);
	/* Xen's tools work on the domain socket too. */
	assert_int_equal(
	    xi_run((const char *const[]) { "xenstore-read", "name", NULL }, out,
		sizeof(out)),
	    0);
	assert_string_equal(out, "guest\n");
	assert_int_equal(xi_run((const char *const[]) { "xenstore-write",
				    "/local/domain/7/x", "1", NULL },
			     out, sizeof(out)),
	    1);
	assert_int_equal(setenv("XENSTORED_PATH", env.sock, 1), 0);
	/* Release: socket gone, nodes gone, @releaseDomain fired. */
	assert_true(xs_release_domain(h, 5));
	ev = xs_read_watch(h, &num);
	assert_string_equal(ev[XS_WATCH_PATH], "@releaseDomain");
	assert_string_equal(ev[XS_WATCH_TOKEN], "rel");
	free(ev);
	assert_int_not_equal(stat(path, &st), 0);
	expect_errno(xs_read(h, XBT_NULL, "/local/domain/5", NULL) != NULL,
	    ENOENT);
	expect_read(h, XBT_NULL, "/local/domain/7", "");
	assert_false(xs_is_domain_introduced(h, 5));
	expect_errno(xs_release_domain(h, 5), ENOENT);
	/* The released domain's handle is cut off. */
	assert_null(xs_read(d5, XBT_NULL, "name", NULL));
	xs_close(d5);
	assert_true(xs_unwatch(h, "@releaseDomain", "rel"));
	assert_true(xs_rm(h, XBT_NULL, "/local/domain/7"));
}

static void
test_control(void **state)
{
	char *s;

	s = xs_control_command(h, "help", NULL, 0);
	assert_non_null(s);
	assert_non_null(strstr(s, "print"));
	free(s);
	s = xs_control_command(h, "print", "from the test", 14);
	assert_non_null(s);
	assert_string_equal(s, "OK");
	free(s);
	s = xs_control_command(h, "check", NULL, 0);
	assert_string_equal(s, "OK");
	free(s);
	assert_null(xs_control_command(h, "live-update", NULL, 0));
	assert_int_equal(errno, EINVAL);
	/* Left introduced: stopping the daemon removes its socket too. */
	assert_true(xs_introduce_domain(h, 9, 1, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_control),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
