/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: what a vbd's `params` names (lib/back/xbb_target.c): a
 * path, QEMU's rbd: string with its options, the two NBD URI forms;
 * every malformed string refused with a message naming it and the
 * fault; a kind this build lacks refused as "built without"; and
 * xbb_params_check's one-line errors for targets that cannot be
 * reached (a missing ceph.conf, a missing NBD socket).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xbb_internal.h"
#include "xt.h"

static struct xbb_target t;
static char msg[512];

static int
parse(const char *s)
{
	return (xbb_target_parse(s, &t, msg, sizeof(msg)));
}

/* s is refused with rc and a message naming s and containing what. */
static void
refused(const char *s, int rc, const char *what)
{
	assert_int_equal(parse(s), rc);
	if (strstr(msg, what) == NULL || strstr(msg, s) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, msg, what);
}

static void
test_path(void **state)
{
	assert_int_equal(parse("/var/lib/xen/disk.img"), 0);
	assert_int_equal(t.tg_kind, XBB_KIND_PATH);
	/* A file name with a colon is still a file. */
	assert_int_equal(parse("disk:1.img"), 0);
	assert_int_equal(t.tg_kind, XBB_KIND_PATH);
	assert_false(xbb_params_remote("disk:1.img"));
	assert_true(xbb_params_remote("rbd:a/b"));
	assert_true(xbb_params_remote("nbd://h/"));
	assert_true(xbb_params_remote("nbds://h/"));
	refused("", -EINVAL, "empty");
}

static void
test_too_long(void **state)
{
	char *s = malloc(XBB_TARGET_MAX + 10);

	assert_non_null(s);
	memset(s, 'a', XBB_TARGET_MAX + 9);
	s[XBB_TARGET_MAX + 9] = '\0';
	assert_int_equal(parse(s), -ENAMETOOLONG);
	free(s);
}

static void
test_rbd(void **state)
{
	if (xbb_store_rbd == NULL) {
		refused("rbd:xbd/disk", -ENOTSUP,
		    "xbd was built without RBD support");
		return;
	}
	assert_int_equal(parse("rbd:xbd/disk"), 0);
	assert_int_equal(t.tg_kind, XBB_KIND_RBD);
	assert_string_equal(t.tg_pool, "xbd");
	assert_string_equal(t.tg_image, "disk");
	assert_null(t.tg_snap);
	assert_null(t.tg_conf);
	assert_null(t.tg_id);
	assert_int_equal(
	    parse("rbd:xbd/disk@monday:conf=/etc/ceph/c.conf:id=xen"), 0);
	assert_string_equal(t.tg_image, "disk");
	assert_string_equal(t.tg_snap, "monday");
	assert_string_equal(t.tg_conf, "/etc/ceph/c.conf");
	assert_string_equal(t.tg_id, "xen");
	refused("rbd:", -EINVAL, "expected rbd:POOL/IMAGE");
	refused("rbd:xbd", -EINVAL, "expected rbd:POOL/IMAGE");
	refused("rbd:/disk", -EINVAL, "expected rbd:POOL/IMAGE");
	refused("rbd:xbd/", -EINVAL, "expected rbd:POOL/IMAGE");
	refused("rbd:xbd/ns/disk", -EINVAL, "expected rbd:POOL/IMAGE");
	refused("rbd:xbd/disk@", -EINVAL, "empty image or snapshot");
	refused("rbd:xbd/@snap", -EINVAL, "empty image or snapshot");
	refused("rbd:xbd/disk:user=x", -EINVAL, "unknown option 'user'");
	refused("rbd:xbd/disk:conf", -EINVAL, "not key=value");
	refused("rbd:xbd/disk:conf=", -EINVAL, "not key=value");
	refused("rbd:xbd/disk:=x", -EINVAL, "not key=value");
	refused("rbd:xbd/di\\:sk", -EINVAL, "escaped");
}

static void
test_nbd(void **state)
{
	if (xbb_store_nbd == NULL) {
		refused("nbd://host/", -ENOTSUP,
		    "xbd was built without NBD support");
		return;
	}
	assert_int_equal(parse("nbd://host/"), 0);
	assert_int_equal(t.tg_kind, XBB_KIND_NBD);
	assert_int_equal(parse("nbd://host"), 0);
	assert_int_equal(parse("nbd://10.0.0.1:10809/disk"), 0);
	assert_int_equal(parse("nbd://[::1]:10809/disk"), 0);
	assert_int_equal(parse("nbd+unix:///disk?socket=/run/nbd.sock"), 0);
	assert_int_equal(parse("nbd+unix:///?socket=/run/nbd.sock"), 0);
	refused("nbd:///disk", -EINVAL, "expected nbd://HOST");
	refused("nbd://:10809/", -EINVAL, "expected nbd://HOST");
	refused("nbd://host:0/", -EINVAL, "port '0'");
	refused("nbd://host:99999/", -EINVAL, "port '99999'");
	refused("nbd://host:ab/", -EINVAL, "port 'ab'");
	refused("nbd://host/x?socket=/s", -EINVAL, "only for nbd+unix");
	refused("nbd+unix:///disk", -EINVAL, "no ?socket=PATH");
	refused("nbd+unix://host/?socket=/s", -EINVAL, "expected nbd+unix");
	refused("nbds://host/", -EINVAL, "only nbd:// and nbd+unix://");
}

/* A monitor nobody listens at: refused after the timeout, not 300 s. */
static void
unreachable_mon(void)
{
	char conf[] = "/tmp/xbb-target-XXXXXX", params[128];
	const char text[] = "[global]\nmon_host = 127.0.0.1:1\n"
			    "auth_client_required = none\n";
	struct timespec t0, t1;
	int fd, rc;

	assert_true((fd = mkstemp(conf)) >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	snprintf(params, sizeof(params), "rbd:xbd/disk:conf=%s", conf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = xbb_params_check(params, false, 2, msg, sizeof(msg));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unlink(conf);
	assert_true(rc < 0);
	assert_non_null(strstr(msg, params));
	assert_non_null(strstr(msg, "cannot join the cluster"));
	assert_true(t1.tv_sec - t0.tv_sec < 20);
}

/* Targets that cannot be reached: one line naming them, and why. */
static void
test_check_unreachable(void **state)
{
	int rc;

	if (xbb_store_nbd != NULL) {
		rc = xbb_params_check("nbd+unix:///?socket=/nonexistent/s",
		    false, 2, msg, sizeof(msg));
		assert_true(rc < 0);
		assert_non_null(
		    strstr(msg, "nbd+unix:///?socket=/nonexistent"));
		assert_non_null(strstr(msg, "No such file or directory"));
		assert_null(strchr(msg, '\n'));
	}
	if (xbb_store_rbd != NULL) {
		rc =
		    xbb_params_check("rbd:xbd/disk:conf=/nonexistent/ceph.conf",
			false, 2, msg, sizeof(msg));
		assert_true(rc < 0);
		assert_non_null(strstr(msg, "rbd:xbd/disk"));
		assert_non_null(strstr(msg, "/nonexistent/ceph.conf"));
		assert_null(strchr(msg, '\n'));
		unreachable_mon();
	}
	/* Paths keep xbb_image_check's words. */
	rc = xbb_params_check("/nonexistent/disk.img", true, 2, msg,
	    sizeof(msg));
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(msg,
	    "/nonexistent/disk.img: No such file or directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_rbd),
		cmocka_unit_test(test_nbd),
		cmocka_unit_test(test_check_unreachable),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
