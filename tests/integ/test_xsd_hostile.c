/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: hostile clients over raw sockets (docs/reliability.md 6.3, the
 * socket variants of X2-X21).  Headers announcing 4097 or 0xffffffff
 * bytes, a header and then silence, NUL-less and extra strings, unknown
 * types, requests trickled one byte at a time by many clients at once,
 * interleaved conflicting transactions, RESET_WATCHES inside a
 * transaction (XSA-484), every request on "/local/domain/" (XSA-481), a
 * client that sends and never reads (XSA-326/416), a watch flood
 * towards a client that never reads, too many connections to a domain
 * socket, and RELEASE with a domain client mid-transaction.  After each,
 * the daemon still answers a fresh client.
 */

#include <sys/socket.h>

#include "test_xsd_integ.h"

static struct xi_env env;
static char dom5[128];

static int
setup(void **state)
{
	struct xsd_opts o;

	xsd_opts_init(&o);
	o.o_domain_conns = 4;
	xi_start(&env, &o);
	snprintf(dom5, sizeof(dom5), "%s/domain/5", env.dir);
	return (0);
}

static int
teardown(void **state)
{
	xi_stop(&env);
	return (0);
}

/* One request, its reply's type and payload. */
static int
req(int fd, uint32_t type, uint32_t tx, const void *p, size_t len, char *out)
{
	char scratch[XENSTORE_PAYLOAD_MAX + 1];
	int t;

	xi_send(fd, type, tx, p, len);
	do {
		t = xi_recv(fd, out != NULL ? out : scratch, sizeof(scratch),
		    NULL);
	} while (t == XS_WATCH_EVENT);
	return (t);
}

/* Expect a reply of type want (XS_ERROR: with that errno name). */
static void
expect(int fd, uint32_t type, uint32_t tx, const void *p, size_t len,
    const char *want)
{
	char out[XENSTORE_PAYLOAD_MAX + 1];
	int t = req(fd, type, tx, p, len, out);

	if (strcmp(want, "OK") == 0) {
		assert_int_equal(t, (int)type);
	} else {
		assert_int_equal(t, XS_ERROR);
		assert_string_equal(out, want);
	}
}

#define EXPECT(fd, type, tx, lit, want) \
	expect(fd, type, tx, lit, sizeof(lit) - 1, want)

/* The daemon still serves a new client. */
static void
alive(void)
{
	int fd = xi_connect(env.sock);

	EXPECT(fd, XS_WRITE, 0, "/alive\0yes", "OK");
	EXPECT(fd, XS_READ, 0, "/alive\0", "OK");
	close(fd);
}

static void
introduce5(int priv)
{
	EXPECT(priv, XS_MKDIR, 0, "/local/domain/5\0", "OK");
	EXPECT(priv, XS_SET_PERMS, 0, "/local/domain/5\0n5\0", "OK");
	EXPECT(priv, XS_INTRODUCE, 0,
	    "5\0"
	    "1\0"
	    "1\0",
	    "OK");
}

/* catalogue: X2 X4 X5 */
static void
test_bad_headers(void **state)
{
	uint32_t h[4] = { XS_READ, 0, 0, XENSTORE_PAYLOAD_MAX + 1 };
	int a = xi_connect(env.sock), b = xi_connect(env.sock);
	int c = xi_connect(env.sock), d = xi_connect(env.sock);

	assert_int_equal(send(a, h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	assert_true(xi_closed(a));
	h[3] = 0xffffffffu;
	assert_int_equal(send(b, h, 8, MSG_NOSIGNAL), 8);
	assert_int_equal(send(b, (char *)h + 8, 8, MSG_NOSIGNAL), 8);
	assert_true(xi_closed(b));
	/* Half a header, then silence: harmless; so is a vanished client. */
	assert_int_equal(send(c, h, 7, MSG_NOSIGNAL), 7);
	h[0] = XS_READ;
	h[3] = 100;
	assert_int_equal(send(d, h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	close(d);
	alive();
	close(a);
	close(b);
	close(c);
	/* Strings without NUL, extra strings, unknown types. */
	a = xi_connect(env.sock);
	EXPECT(a, XS_READ, 0, "/alive", "EINVAL");
	EXPECT(a, XS_READ, 0, "/alive\0\0", "EINVAL");
	EXPECT(a, XS_WRITE, 0, "/alive", "EINVAL");
	EXPECT(a, XS_WATCH, 0, "/alive\0tok", "EINVAL");
	EXPECT(a, XS_SET_PERMS, 0, "/alive\0r0", "EINVAL");
	EXPECT(a, XS_INTRODUCE, 0,
	    "9\0"
	    "1\0"
	    "1",
	    "EINVAL");
	EXPECT(a, XS_GET_DOMAIN_PATH, 0, "99999999999\0", "EINVAL");
	EXPECT(a, 20, 0, "/alive\0", "ENOSYS");
	EXPECT(a, XS_WATCH_EVENT, 0, "/alive\0t\0", "ENOSYS");
	EXPECT(a, XS_ERROR, 0, "EINVAL\0", "ENOSYS");
	EXPECT(a, 0xffff, 0, "", "ENOSYS");
	EXPECT(a, 0x80000000u, 0, "", "ENOSYS");
	close(a);
	alive();
}

/* catalogue: X3 */
static void
test_trickle(void **state)
{
	static const char msg[] = "/trickle/x\0v";
	unsigned char buf[16 + sizeof(msg)];
	uint32_t h[4] = { XS_WRITE, 0, 0, sizeof(msg) - 1 };
	char out[64];
	int fds[8], i, k;

	memcpy(buf, h, sizeof(h));
	memcpy(buf + sizeof(h), msg, sizeof(msg) - 1);
	for (i = 0; i < 8; i++)
		fds[i] = xi_connect(env.sock);
	/* Eight clients, one byte each in turn. */
	for (k = 0; k < (int)(sizeof(h) + sizeof(msg) - 1); k++) {
		for (i = 0; i < 8; i++)
			assert_int_equal(send(fds[i], buf + k, 1, MSG_NOSIGNAL),
			    1);
		usleep(200);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(xi_recv(fds[i], out, sizeof(out), NULL),
		    XS_WRITE);
		assert_string_equal(out, "OK");
		close(fds[i]);
	}
	alive();
}

/* catalogue: X6 X15 */
static void
test_transactions(void **state)
{
	int a = xi_connect(env.sock), b = xi_connect(env.sock);
	char out[64];
	uint32_t ta, tb, ta2;

	EXPECT(a, XS_WRITE, 0,
	    "/tx/n\0"
	    "0",
	    "OK");
	assert_int_equal(req(a, XS_TRANSACTION_START, 0, "", 1, out),
	    XS_TRANSACTION_START);
	ta = (uint32_t)strtoul(out, NULL, 10);
	assert_int_equal(req(b, XS_TRANSACTION_START, 0, "", 1, out),
	    XS_TRANSACTION_START);
	tb = (uint32_t)strtoul(out, NULL, 10);
	assert_int_equal(ta, 1);
	assert_int_equal(tb, 1); /* ids are per connection */
	EXPECT(a, XS_READ, ta, "/tx/n\0", "OK");
	EXPECT(b, XS_READ, tb, "/tx/n\0", "OK");
	EXPECT(a, XS_WRITE, ta,
	    "/tx/n\0"
	    "1",
	    "OK");
	EXPECT(b, XS_WRITE, tb,
	    "/tx/n\0"
	    "2",
	    "OK");
	/* Another's id is unknown here; the same id is its own. */
	EXPECT(a, XS_WRITE, 2,
	    "/tx/n\0"
	    "3",
	    "ENOENT");
	EXPECT(b, XS_TRANSACTION_END, tb, "T\0", "OK");
	EXPECT(a, XS_TRANSACTION_END, ta, "T\0", "EAGAIN");
	EXPECT(a, XS_READ, 0, "/tx/n\0", "OK");
	/* XSA-484: RESET_WATCHES inside a transaction. */
	assert_int_equal(req(a, XS_TRANSACTION_START, 0, "", 1, out),
	    XS_TRANSACTION_START);
	ta2 = (uint32_t)strtoul(out, NULL, 10);
	EXPECT(a, XS_WRITE, ta2,
	    "/tx/m\0"
	    "1",
	    "OK");
	EXPECT(a, XS_RESET_WATCHES, ta2, "\0", "OK");
	EXPECT(a, XS_TRANSACTION_END, ta2, "T\0", "ENOENT");
	EXPECT(a, XS_RESET_WATCHES, ta2, "\0", "OK");
	EXPECT(a, XS_READ, 0, "/tx/m\0", "ENOENT");
	/* A client leaving mid-transaction (xenstore-chmod does). */
	assert_int_equal(req(b, XS_TRANSACTION_START, 0, "", 1, out),
	    XS_TRANSACTION_START);
	EXPECT(b, XS_WRITE, 2,
	    "/tx/gone\0"
	    "1",
	    "OK");
	close(b);
	EXPECT(a, XS_RM, 0, "/tx\0", "OK");
	close(a);
	alive();
}

/* catalogue: X9 X20 */
static void
test_local_domain(void **state)
{
	int a = xi_connect(env.sock), d;

	introduce5(a);
	d = xi_connect(dom5);
	/* XSA-481: "/local/domain/" in every request that takes a path. */
	EXPECT(a, XS_READ, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_READ, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_WRITE, 0, "/local/domain/\0v", "EINVAL");
	EXPECT(d, XS_MKDIR, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_RM, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_DIRECTORY, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_DIRECTORY_PART, 0,
	    "/local/domain/\0"
	    "0\0",
	    "EINVAL");
	EXPECT(d, XS_GET_PERMS, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_SET_PERMS, 0, "/local/domain/\0n5\0", "EINVAL");
	EXPECT(d, XS_WATCH, 0, "/local/domain/\0t\0", "EINVAL");
	EXPECT(d, XS_UNWATCH, 0, "/local/domain/\0t\0", "EINVAL");
	EXPECT(d, XS_WRITE, 0, "/local/domain//x\0v", "EINVAL");
	EXPECT(a, XS_RM, 0, "/local/domain/\0", "EINVAL");
	EXPECT(d, XS_READ, 0, "/local/domain/5\0", "OK");
	close(d);
	EXPECT(a, XS_RELEASE, 0, "5\0", "OK");
	close(a);
	alive();
}

/* catalogue: X7 */
static void
test_never_reads(void **state)
{
	static char big[XENSTORE_PAYLOAD_MAX];
	int a = xi_connect(env.sock), d, fl;
	uint32_t h[4] = { XS_READ, 0, 0, 0 };
	unsigned char msg[64];
	size_t len, sent = 0, got = 0;
	ssize_t w;
	char out[XENSTORE_PAYLOAD_MAX + 1];

	introduce5(a);
	/* A 4000-byte value: each reply is big. */
	memcpy(big, "/local/domain/5/v", 18);
	memset(big + 18, 'x', 4000);
	expect(a, XS_WRITE, 0, big, 18 + 4000, "OK");
	d = xi_connect(dom5);
	fl = fcntl(d, F_GETFL);
	assert_int_equal(fcntl(d, F_SETFL, fl | O_NONBLOCK), 0);
	h[3] = 2;
	memcpy(msg, h, sizeof(h));
	memcpy(msg + sizeof(h), "v\0", 2);
	len = sizeof(h) + 2;
	/* Send until the socket pushes back: the daemon stopped reading. */
	for (;;) {
		w = send(d, msg, len, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		assert_int_equal(w, (ssize_t)len);
		sent++;
		assert_true(sent < 1000000);
	}
	/* More than the 20 outstanding went in before the push-back. */
	assert_true(sent > 20);
	/* Meanwhile everyone else is served. */
	alive();
	EXPECT(a, XS_READ, 0, "/local/domain/5/v\0", "OK");
	/* Reading resumes it: every request gets its reply, in order. */
	assert_int_equal(fcntl(d, F_SETFL, fl), 0);
	while (got < sent) {
		assert_int_equal(xi_recv(d, out, sizeof(out), NULL), XS_READ);
		got++;
	}
	close(d);
	EXPECT(a, XS_RELEASE, 0, "5\0", "OK");
	/* The privileged socket is held back too (at 256 replies). */
	fl = fcntl(a, F_GETFL);
	assert_int_equal(fcntl(a, F_SETFL, fl | O_NONBLOCK), 0);
	h[3] = 7;
	memcpy(msg, h, sizeof(h));
	memcpy(msg + sizeof(h), "/alive\0", 7);
	for (sent = 0;;) {
		w = send(a, msg, sizeof(h) + 7, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		assert_int_equal(w, (ssize_t)(sizeof(h) + 7));
		sent++;
		assert_true(sent < 1000000);
	}
	alive();
	assert_int_equal(fcntl(a, F_SETFL, fl), 0);
	for (got = 0; got < sent; got++)
		assert_int_equal(xi_recv(a, out, sizeof(out), NULL), XS_READ);
	close(a);
}

/* catalogue: X14 */
static void
test_watch_flood(void **state)
{
	int a = xi_connect(env.sock), d;
	char tok[32], path[64];
	uint32_t len;
	int i, t, events = 0;

	introduce5(a);
	d = xi_connect(dom5);
	/* 129 watches on its home (the most it may have)... */
	for (i = 0; i < 129; i++) {
		snprintf(tok, sizeof(tok), "%s%c%d", "/local/domain/5", 0, i);
		expect(d, XS_WATCH, 0, tok, 16 + strlen(tok + 16) + 1, "OK");
	}
	/* ...and it never reads while others write there. */
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/n%d", i);
		len = (uint32_t)strlen(path) + 1;
		expect(a, XS_WRITE, 0, path, len, "OK");
	}
	/* 129 x 100 events > 1024 pending: the flooded client is dropped. */
	for (;;) {
		t = xi_recv(d, path, sizeof(path), &len);
		if (t < 0)
			break;
		events++;
	}
	assert_true(events > 0 && events < 129 * 101);
	close(d);
	alive();
	EXPECT(a, XS_RELEASE, 0, "5\0", "OK");
	close(a);
}

/* catalogue: X18 X19 */
static void
test_connections(void **state)
{
	int a = xi_connect(env.sock), d[5], i;

	introduce5(a);
	/* o_domain_conns is 4 here: the fifth is closed at once. */
	for (i = 0; i < 5; i++)
		d[i] = xi_connect(dom5);
	for (i = 0; i < 4; i++)
		EXPECT(d[i], XS_READ, 0, "/local/domain/5\0", "OK");
	assert_true(xi_closed(d[4]));
	close(d[4]);
	/* A domain client mid-transaction when its domain goes. */
	EXPECT(d[0], XS_TRANSACTION_START, 0, "\0", "OK");
	EXPECT(d[0], XS_WATCH, 0, "/local/domain/5\0w\0", "OK");
	EXPECT(a, XS_RELEASE, 0, "5\0", "OK");
	for (i = 0; i < 4; i++) {
		assert_true(xi_closed(d[i]));
		close(d[i]);
	}
	/* Its socket went with it; privileged ops from it never worked. */
	assert_int_not_equal(access(dom5, F_OK), 0);
	EXPECT(a, XS_RELEASE, 0, "5\0", "ENOENT");
	introduce5(a);
	d[0] = xi_connect(dom5);
	EXPECT(d[0], XS_INTRODUCE, 0,
	    "6\0"
	    "1\0"
	    "1\0",
	    "EACCES");
	EXPECT(d[0], XS_RELEASE, 0, "5\0", "EACCES");
	EXPECT(d[0], XS_CONTROL, 0, "print\0x\0", "EACCES");
	EXPECT(d[0], XS_SET_PERMS, 0, "/\0b5\0", "EACCES");
	EXPECT(d[0], XS_RM, 0, "/\0", "EACCES");
	close(d[0]);
	EXPECT(a, XS_RELEASE, 0, "5\0", "OK");
	EXPECT(a, XS_RM, 0, "/alive\0", "OK");
	close(a);
	alive();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_never_reads),
		cmocka_unit_test(test_watch_flood),
		cmocka_unit_test(test_connections),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, setup, teardown));
}
