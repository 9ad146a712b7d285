/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the XenBus layer against the XenStore daemon.  The vbd the
 * toolstack steps create must have libxl's layout (docs/hypervisor.md
 * section 4.3): the same keys and values, the backend directory owned by
 * the backend and readable by the guest, the frontend directory the other
 * way round, the /libxl record private to dom0.  Removal follows libxl:
 * online = 0 and Closing first, then everything deleted once the backend
 * is Closed (or after the timeout).  Also: strict reads, states, errors,
 * and the one transaction helper (xbus_txn) all components use.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "platform/sim/hv.h"
#include "xenbus/xbus.h"
#include "xt.h"

#define FE "/local/domain/5/device/vbd/51728"
#define BE "/local/domain/3/backend/vbd/5/51728"
#define LX "/libxl/5/device/vbd/51728"

struct fix {
	struct hv *hv;
	struct plat *d3, *d5;
	struct xs_handle *priv;
	struct xbus_vbd vbd;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct hv_opts o;

	hv_opts_init(&o);
	assert_int_equal(hv_create(&o, &f->hv), 0);
	assert_int_equal(hv_domain_create(f->hv, 3, "driver", &f->d3), 0);
	assert_int_equal(hv_domain_create(f->hv, 5, "guest", &f->d5), 0);
	assert_non_null(f->priv = hv_xs_open_priv(f->hv));
	f->vbd.v_frontend_id = 5;
	f->vbd.v_backend_id = 3;
	f->vbd.v_vdev = 51728;
	f->vbd.v_kind = "vbd";
	f->vbd.v_params = "/srv/disk.img";
	f->vbd.v_script = "/etc/xen/scripts/block";
	f->vbd.v_readonly = true;
	f->vbd.v_discard = true;
	f->vbd.v_protocol = "x86_64-abi";
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	xs_close(f->priv);
	plat_close(f->d3);
	plat_close(f->d5);
	hv_destroy(f->hv);
	free(f);
	return (0);
}

static void
expect(struct xs_handle *xs, const char *dir, const char *node,
    const char *want)
{
	char *v = NULL;

	assert_int_equal(xbus_read(xs, XBT_NULL, dir, node, &v), 0);
	assert_string_equal(v, want);
	free(v);
}

/* Perms of path as "n3,r5" (owner letter+id, then the others). */
static void
expect_perms(struct xs_handle *xs, const char *path, const char *want)
{
	static const char letter[] = { 'n', 'r', 'w', 'b' };
	struct xs_permissions *p;
	char got[64] = "";
	unsigned int n, i;
	size_t len;

	assert_non_null(p = xs_get_permissions(xs, XBT_NULL, path, &n));
	for (i = 0; i < n; i++) {
		len = strlen(got);
		snprintf(got + len, sizeof(got) - len, "%s%c%u",
		    i > 0 ? "," : "", letter[p[i].perms & 3], p[i].id);
	}
	free(p);
	assert_string_equal(got, want);
}

/* The children of dir, sorted and joined by spaces, must be want. */
static void
expect_keys(struct xs_handle *xs, const char *dir, const char *want)
{
	char **ents, got[1024] = "", *tmp;
	unsigned int n, i, j;
	size_t len;

	assert_non_null(ents = xs_directory(xs, XBT_NULL, dir, &n));
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(ents[j - 1], ents[j]) > 0; j--) {
			tmp = ents[j];
			ents[j] = ents[j - 1];
			ents[j - 1] = tmp;
		}
	for (i = 0; i < n; i++) {
		len = strlen(got);
		snprintf(got + len, sizeof(got) - len, "%s%s", i > 0 ? " " : "",
		    ents[i]);
	}
	free(ents);
	assert_string_equal(got, want);
}

static void
test_vbd_layout(void **state)
{
	struct fix *f = *state;
	char fe[256], be[256];

	assert_int_equal(
	    xbus_vbd_paths(&f->vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	assert_string_equal(fe, FE);
	assert_string_equal(be, BE);
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);

	expect(f->priv, BE, "frontend", FE);
	expect(f->priv, BE, "params", "/srv/disk.img");
	expect(f->priv, BE, "script", "/etc/xen/scripts/block");
	expect(f->priv, BE, "frontend-id", "5");
	expect(f->priv, BE, "online", "1");
	expect(f->priv, BE, "removable", "0");
	expect(f->priv, BE, "bootable", "1");
	expect(f->priv, BE, "state", "1");
	expect(f->priv, BE, "dev", "xvdb");
	expect(f->priv, BE, "type", "phy");
	expect(f->priv, BE, "mode", "r");
	expect(f->priv, BE, "device-type", "disk");
	expect(f->priv, BE, "discard-enable", "1");
	expect(f->priv, BE, "specification", "xen");
	expect(f->priv, FE, "backend", BE);
	expect(f->priv, FE, "backend-id", "3");
	expect(f->priv, FE, "state", "1");
	expect(f->priv, FE, "virtual-device", "51728");
	expect(f->priv, FE, "device-type", "disk");
	expect(f->priv, FE, "trusted", "1");
	expect(f->priv, FE, "protocol", "x86_64-abi");
	expect(f->priv, LX, "frontend", FE);
	expect(f->priv, LX, "backend", BE);
	expect(f->priv, LX, "params", "/srv/disk.img");
	expect(f->priv, LX, "mode", "r");
	expect(f->priv, LX, "dev", "xvdb");
	expect(f->priv, LX, "state", "1");

	/* Exactly libxl's keys, nothing more, nothing less. */
	expect_keys(f->priv, BE,
	    "bootable dev device-type discard-enable frontend frontend-id "
	    "mode online params removable script specification state type");
	expect_keys(f->priv, FE,
	    "backend backend-id device-type protocol state trusted "
	    "virtual-device");
	expect_keys(f->priv, LX,
	    "backend bootable dev device-type discard-enable frontend "
	    "frontend-id mode online params removable script specification "
	    "state type");

	/* libxl's permissions: each side owns its directory. */
	expect_perms(f->priv, BE, "n3,r5");
	expect_perms(f->priv, BE "/state", "n3,r5");
	expect_perms(f->priv, FE, "n5,r3");
	expect_perms(f->priv, FE "/state", "n5,r3");
	expect_perms(f->priv, LX, "n0");

	/* And so each domain can do exactly what it must. */
	{
		struct xs_handle *x3 = plat_xs_open(f->d3);
		struct xs_handle *x5 = plat_xs_open(f->d5);
		char *v = NULL;

		assert_non_null(x3);
		assert_non_null(x5);
		assert_int_equal(xbus_write_state(x3, BE, XenbusStateInitWait),
		    0);
		assert_int_equal(
		    xbus_write_state(x5, FE, XenbusStateInitialised), 0);
		assert_int_equal(xbus_read_state(x5, BE), XenbusStateInitWait);
		assert_int_equal(xbus_read_state(x3, FE),
		    XenbusStateInitialised);
		/* Neither may write the other's directory. */
		assert_int_equal(xbus_write(x5, XBT_NULL, BE, "sectors", "1"),
		    -EACCES);
		assert_int_equal(xbus_write(x3, XBT_NULL, FE, "ring-ref", "8"),
		    -EACCES);
		/* The toolstack's record is dom0's alone. */
		assert_int_equal(xbus_read(x5, XBT_NULL, LX, "backend", &v),
		    -EACCES);
		xs_close(x3);
		xs_close(x5);
	}
}

/* A fake backend that follows libxl's removal: Closing, then Closed. */
static void *
closer(void *arg)
{
	struct fix *f = arg;
	struct xs_handle *x3 = plat_xs_open(f->d3);
	int i;

	for (i = 0; i < 500; i++) {
		if (xbus_read_state(x3, BE) == XenbusStateClosing) {
			usleep(20000);
			(void)xbus_write_state(x3, BE, XenbusStateClosed);
			break;
		}
		usleep(2000);
	}
	xs_close(x3);
	return (NULL);
}

static void
test_vbd_remove(void **state)
{
	struct fix *f = *state;
	pthread_t th;
	char *v = NULL;

	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_int_equal(pthread_create(&th, NULL, closer, f), 0);
	assert_int_equal(xbus_vbd_remove(f->priv, &f->vbd, 5000, false), 0);
	pthread_join(th, NULL);
	assert_int_equal(xbus_read(f->priv, XBT_NULL, BE, "state", &v),
	    -ENOENT);
	assert_int_equal(xbus_read(f->priv, XBT_NULL, FE, "state", &v),
	    -ENOENT);
	assert_int_equal(xbus_read(f->priv, XBT_NULL, LX, "backend", &v),
	    -ENOENT);

	/* Nobody answers: the directories go anyway, after the wait. */
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_int_equal(xbus_vbd_remove(f->priv, &f->vbd, 100, false),
	    -ETIMEDOUT);
	expect(f->priv, "/local/domain/3", "name", "driver");
	assert_int_equal(xbus_read(f->priv, XBT_NULL, BE, "online", &v),
	    -ENOENT);
	/* Forced: no wait at all. */
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_int_equal(xbus_vbd_remove(f->priv, &f->vbd, 0, true), 0);
	assert_int_equal(xbus_read(f->priv, XBT_NULL, FE, "state", &v),
	    -ENOENT);
}

/*
 * The block script's step: once the backend is in InitWait, the device's
 * number (block devices only), its path and hotplug-status=connected.
 */
static void
test_vbd_hotplug(void **state)
{
	struct fix *f = *state;
	struct xs_handle *x3;
	char *v = NULL;

	f->vbd.v_params = "/dev/null";
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	/* No backend yet: the step waits, then reports the failure. */
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 50), -ETIMEDOUT);
	expect(f->priv, BE, "hotplug-status", "error");
	assert_int_equal(xbus_read(f->priv, XBT_NULL, BE, "hotplug-error", &v),
	    0);
	assert_non_null(strstr(v, "InitWait"));
	free(v);

	/* The backend announces InitWait: the step succeeds. */
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_non_null(x3 = plat_xs_open(f->d3));
	assert_int_equal(xbus_write_state(x3, BE, XenbusStateInitWait), 0);
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 5000), 0);
	expect(f->priv, BE, "hotplug-status", "connected");
	expect(f->priv, BE, "physical-device-path", "/dev/null");
	/* /dev/null is a character device: no device number. */
	assert_int_equal(
	    xbus_read(f->priv, XBT_NULL, BE, "physical-device", &v), -ENOENT);
	/* The backend may read what the toolstack wrote for it. */
	expect(x3, BE, "hotplug-status", "connected");

	/* A target that does not exist: the script's error report. */
	f->vbd.v_params = "/nonexistent/disk.img";
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_int_equal(xbus_write_state(x3, BE, XenbusStateInitWait), 0);
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 5000), -ENOENT);
	expect(f->priv, BE, "hotplug-status", "error");
	assert_int_equal(xbus_read(f->priv, XBT_NULL, BE, "hotplug-error", &v),
	    0);
	assert_non_null(strstr(v, "/nonexistent/disk.img"));
	free(v);

	/*
	 * A backend that gives up (Closing, its error node) ends the wait
	 * at once, with the errno it reported, not a timeout.
	 */
	f->vbd.v_params = "/dev/null";
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	xbus_dev_fatal(x3, BE, -EISDIR, "opening params");
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 60000), -EISDIR);
	expect(f->priv, BE, "hotplug-status", "error");

	/* qdisk opens its target itself: no step, nothing written. */
	f->vbd.v_kind = "qdisk";
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 0), 0);
	xs_close(x3);
}

/* A block device gets its number as major:minor in hex. */
static void
test_vbd_hotplug_blockdev(void **state)
{
	static const char *const cands[] = { "/dev/loop0", "/dev/vda",
		"/dev/sda", "/dev/ram0" };
	struct fix *f = *state;
	struct xs_handle *x3;
	struct stat st;
	char want[32];
	size_t i;

	for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (stat(cands[i], &st) == 0 && S_ISBLK(st.st_mode))
			break;
	if (i == sizeof(cands) / sizeof(cands[0]))
		skip();
	f->vbd.v_params = cands[i];
	snprintf(want, sizeof(want), "%x:%x", major(st.st_rdev),
	    minor(st.st_rdev));
	assert_int_equal(xbus_vbd_add(f->priv, &f->vbd), 0);
	assert_non_null(x3 = plat_xs_open(f->d3));
	assert_int_equal(xbus_write_state(x3, BE, XenbusStateInitWait), 0);
	assert_int_equal(xbus_vbd_hotplug(f->priv, &f->vbd, 5000), 0);
	expect(f->priv, BE, "physical-device", want);
	expect(f->priv, BE, "hotplug-status", "connected");
	xs_close(x3);
}

static void
test_reads_and_errors(void **state)
{
	struct fix *f = *state;
	uint64_t v;
	bool b;
	char *s = NULL;

	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "n", "42"), 0);
	assert_int_equal(xbus_read_u64(f->priv, XBT_NULL, "/t", "n", 100, &v),
	    0);
	assert_int_equal(v, 42);
	assert_int_equal(xbus_read_u64(f->priv, XBT_NULL, "/t", "n", 41, &v),
	    -ERANGE);
	assert_int_equal(xbus_read_u64(f->priv, XBT_NULL, "/t", "none", 9, &v),
	    -ENOENT);
	assert_int_equal(
	    xbus_read_u64_def(f->priv, XBT_NULL, "/t", "none", 9, 7, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "n", "4 2"), 0);
	assert_int_equal(
	    xbus_read_u64_def(f->priv, XBT_NULL, "/t", "n", 99, 7, &v),
	    -EINVAL);
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "b", "1"), 0);
	assert_int_equal(
	    xbus_read_bool_def(f->priv, XBT_NULL, "/t", "b", false, &b), 0);
	assert_true(b);
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "b", "2"), 0);
	assert_int_equal(
	    xbus_read_bool_def(f->priv, XBT_NULL, "/t", "b", false, &b),
	    -EINVAL);
	assert_int_equal(
	    xbus_printf(f->priv, XBT_NULL, "/t", "p", "%d-%s", 7, "x"), 0);
	expect(f->priv, "/t", "p", "7-x");

	/* States: garbage reads as Unknown. */
	assert_int_equal(xbus_write_state(f->priv, "/t", XenbusStateClosing),
	    0);
	assert_int_equal(xbus_read_state(f->priv, "/t"), XenbusStateClosing);
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "state", "9"), 0);
	assert_int_equal(xbus_read_state(f->priv, "/t"), XenbusStateUnknown);
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/t", "state", "x"), 0);
	assert_int_equal(xbus_read_state(f->priv, "/t"), XenbusStateUnknown);
	assert_int_equal(xbus_read_state(f->priv, "/nowhere"),
	    XenbusStateUnknown);

	/* xenbus_dev_fatal: the error node, then Closing. */
	xbus_dev_fatal(f->priv, "/t", -EPROTO, "bad %s", "ring");
	expect(f->priv, "/t", "error", "71 bad ring");
	assert_int_equal(xbus_read_state(f->priv, "/t"), XenbusStateClosing);
	assert_int_equal(xbus_rm(f->priv, XBT_NULL, "/t", NULL), 0);
	assert_int_equal(xbus_rm(f->priv, XBT_NULL, "/t", NULL), 0);
	assert_int_equal(xbus_read(f->priv, XBT_NULL, "/t", "p", &s), -ENOENT);
}

/* What test_txn's transaction body does, and what it saw. */
struct txn_probe {
	struct xs_handle *other; /* a second connection, to conflict */
	int calls;		 /* times the body ran */
	int conflicts;		 /* the first this many attempts conflict */
	int fail;		 /* the body's error, 0 for none */
};

/*
 * Read and write /txn/n in the transaction; on a conflicting attempt,
 * another connection writes the node before the commit.
 */
static int
txn_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct txn_probe *p = arg;
	char *v;
	int rc;

	p->calls++;
	if ((rc = xbus_read(xs, t, "/txn", "n", &v)) != 0)
		return (rc);
	free(v);
	if ((rc = xbus_printf(xs, t, "/txn", "n", "%d", p->calls)) != 0)
		return (rc);
	if (p->calls <= p->conflicts)
		assert_int_equal(
		    xbus_write(p->other, XBT_NULL, "/txn", "n", "other"), 0);
	return (p->fail);
}

/* xbus_txn: committed once, retried on conflicts, aborted on errors. */
static void
test_txn(void **state)
{
	struct fix *f = *state;
	struct txn_probe p = { 0 };

	assert_non_null(p.other = hv_xs_open_priv(f->hv));
	assert_int_equal(xbus_write(f->priv, XBT_NULL, "/txn", "n", "0"), 0);

	/* Two conflicts: the body runs three times, the third commits. */
	p.conflicts = 2;
	assert_int_equal(xbus_txn(f->priv, txn_body, &p), 0);
	assert_int_equal(p.calls, 3);
	expect(f->priv, "/txn", "n", "3");

	/* The body's error aborts: nothing it wrote is kept. */
	p.calls = 0;
	p.conflicts = 0;
	p.fail = -EPERM;
	assert_int_equal(xbus_txn(f->priv, txn_body, &p), -EPERM);
	assert_int_equal(p.calls, 1);
	expect(f->priv, "/txn", "n", "3");

	/* Conflicts every time: -EAGAIN after XBUS_TXN_RETRIES attempts. */
	p.calls = 0;
	p.conflicts = XBUS_TXN_RETRIES + 1;
	p.fail = 0;
	assert_int_equal(xbus_txn(f->priv, txn_body, &p), -EAGAIN);
	assert_int_equal(p.calls, XBUS_TXN_RETRIES);
	expect(f->priv, "/txn", "n", "other");
	xs_close(p.other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vbd_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vbd_remove, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vbd_hotplug, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vbd_hotplug_blockdev,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_and_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
