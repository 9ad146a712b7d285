/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the xenstored wire protocol on in-memory connections.
 * Framing (a 4096-byte payload accepted, len 4097 or 0xffffffff drops
 * that client only), reassembly from single bytes and split headers,
 * req_id/tx_id echoed, ENOSYS for types a client may not send (20,
 * 23..26, WATCH_EVENT, ERROR, 0xffff), EACCES for privileged types from
 * a domain, and the domain messages: INTRODUCE, RELEASE, RESUME,
 * GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, SET_TARGET, CONTROL.
 */

#include <errno.h>

#include "common/xu_assert.h"
#include "test_xsd.h"

static struct xt_env env;

static int
setup(void **state)
{
	xt_env_init(&env, NULL);
	return (0);
}

static int
teardown(void **state)
{
	xt_env_fini(&env);
	return (0);
}

/* Feed raw bytes one call at a time of n bytes. */
static void
feed(struct xsd_conn *c, const void *p, size_t len, size_t n)
{
	const unsigned char *b = p;
	size_t off, k;

	for (off = 0; off < len; off += k) {
		k = len - off < n ? len - off : n;
		assert_int_equal(xsd_conn_input(c, b + off, k), (ssize_t)k);
	}
}

/* Header + payload of a request in buf; returns its length. */
static size_t
mkmsg(void *buf, uint32_t type, uint32_t req_id, uint32_t tx, const void *p,
    uint32_t len)
{
	struct xsd_sockmsg h = { type, req_id, tx, len };

	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy((char *)buf + sizeof(h), p, len);
	return (sizeof(h) + len);
}

/* catalogue: X2 X11 X19 */
static void
test_framing(void **state)
{
	unsigned char buf[XSD_MSG_MAX + 16];
	char pv[XENSTORE_PAYLOAD_MAX];
	struct xsd_conn *bad = xt_dom(&env, 0), *bad2 = xt_dom(&env, 7);
	struct xsd_sockmsg h = { XS_WRITE, 0, 0, XENSTORE_PAYLOAD_MAX + 1 };
	struct xt_msg m;
	size_t len;

	xt_watch(env.priv, "@releaseDomain", "rel");
	/* Exactly 4096 bytes of payload: fine. */
	memset(pv, 'x', sizeof(pv));
	memcpy(pv, "/big", 5);
	xt_expect(env.priv, XS_WRITE, 0, pv, sizeof(pv), "OK");
	xt_req(env.priv, XS_READ, 0, XT_S("/big\0"), &m);
	assert_int_equal(m.hdr.len, XENSTORE_PAYLOAD_MAX - 5);
	/* 4097 announced: that client is dropped, at the header already. */
	assert_int_equal(xsd_conn_input(bad, &h, sizeof(h)), sizeof(h));
	assert_true(xsd_conn_is_closing(bad));
	assert_int_equal(xsd_conn_input(bad, "x", 1), -EPIPE);
	/* 0xffffffff, trickled: the same once the header is complete. */
	h.len = 0xffffffffu;
	feed(bad2, &h, sizeof(h) - 1, 1);
	assert_false(xsd_conn_is_closing(bad2));
	feed(bad2, (char *)&h + sizeof(h) - 1, 1, 1);
	assert_true(xsd_conn_is_closing(bad2));
	/* Nobody else noticed; no domain died of it (XSA-325). */
	assert_false(xt_pending(env.priv));
	xt_read(env.priv, 0, "/tool", "");
	/* A zero-length payload is a valid frame (and a bad READ). */
	len = mkmsg(buf, XS_READ, 9, 0, NULL, 0);
	feed(env.priv, buf, len, len);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_int_equal(m.hdr.req_id, 9);
	assert_string_equal(m.data, "EINVAL");
	xt_op(env.priv, XS_RM, 0, "/big", "OK");
	xt_expect(env.priv, XS_RESET_WATCHES, 0, XT_S("\0"), "OK");
	xsd_conn_free(bad);
	xsd_conn_free(bad2);
}

/* catalogue: X3 */
static void
test_reassembly(void **state)
{
	unsigned char buf[3 * 64];
	struct xt_msg m;
	size_t len, n;

	/* One byte at a time. */
	len = mkmsg(buf, XS_WRITE, 1, 0, XT_S("/r\0trickled"));
	feed(env.priv, buf, len, 1);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_int_equal(m.hdr.req_id, 1);
	/* Header split, payload split (libxenstore's two writes and more). */
	len = mkmsg(buf, XS_READ, 2, 0, XT_S("/r\0"));
	feed(env.priv, buf, 7, 7);
	feed(env.priv, buf + 7, 9, 9);
	assert_false(xt_pending(env.priv));
	feed(env.priv, buf + 16, 2, 2);
	assert_false(xt_pending(env.priv));
	feed(env.priv, buf + 18, 1, 1);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 2);
	assert_string_equal(m.data, "trickled");
	/* Three requests in one chunk, then one and a half. */
	n = mkmsg(buf, XS_READ, 3, 0, XT_S("/r\0"));
	n += mkmsg(buf + n, XS_READ, 4, 0, XT_S("/nope\0"));
	n += mkmsg(buf + n, XS_DIRECTORY, 5, 0, XT_S("/\0"));
	feed(env.priv, buf, n, n);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 3);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 4);
	assert_int_equal(m.hdr.type, XS_ERROR);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 5);
	assert_int_equal(m.hdr.type, XS_DIRECTORY);
	n = mkmsg(buf, XS_READ, 6, 0, XT_S("/r\0"));
	n += mkmsg(buf + n, XS_READ, 7, 0, XT_S("/r\0"));
	feed(env.priv, buf, n - 5, n - 5);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 6);
	assert_false(xt_pending(env.priv));
	feed(env.priv, buf + n - 5, 5, 5);
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.req_id, 7);
	xt_op(env.priv, XS_RM, 0, "/r", "OK");
}

static void
test_echo(void **state)
{
	struct xt_msg m;
	uint32_t t = xt_txn(env.priv);

	xt_send_raw(env.priv, XS_READ, 0xdeadbeef, t, XT_S("/tool\0"));
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_READ);
	assert_int_equal(m.hdr.req_id, 0xdeadbeef);
	assert_int_equal(m.hdr.tx_id, t);
	assert_int_equal(m.hdr.len, 0);
	xt_send_raw(env.priv, XS_READ, 77, t, XT_S("/nope\0"));
	xt_recv(env.priv, &m);
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_int_equal(m.hdr.req_id, 77);
	assert_int_equal(m.hdr.tx_id, t);
	assert_int_equal(m.hdr.len, 7);
	assert_memory_equal(m.data, "ENOENT\0", 7);
	xt_op(env.priv, XS_TRANSACTION_END, t, "F", "OK");
}

/* catalogue: X4 */
static void
test_enosys(void **state)
{
	static const uint32_t types[] = { 20, 23, 24, 25, 26, 27, 100,
		XS_WATCH_EVENT, XS_ERROR, XS_INVALID, 0xffffffffu };
	struct xsd_conn *d5 = xt_dom(&env, 5);
	struct xt_msg m;
	size_t i;

	for (i = 0; i < XU_NELEM(types); i++) {
		xt_expect(env.priv, types[i], 0, XT_S("/tool\0"), "ENOSYS");
		xt_expect(d5, types[i], 0, XT_S("x\0"), "ENOSYS");
	}
	/* Privileged types from a domain: EACCES, before any parsing. */
	xt_expect(d5, XS_CONTROL, 0, XT_S("help\0"), "EACCES");
	xt_expect(d5, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1\0"),
	    "EACCES");
	xt_expect(d5, XS_RELEASE, 0, XT_S("6\0"), "EACCES");
	xt_expect(d5, XS_RESUME, 0, XT_S("6\0"), "EACCES");
	xt_expect(d5, XS_SET_TARGET, 0,
	    XT_S("6\0"
		 "5\0"),
	    "EACCES");
	xt_expect(d5, XS_IS_DOMAIN_INTRODUCED, 0, XT_S("6\0"), "EACCES");
	xt_expect(d5, XS_CONTROL, 0, NULL, 0, "EACCES");
	/* Not privileged. */
	xt_req(d5, XS_GET_DOMAIN_PATH, 0, XT_S("6\0"), &m);
	assert_int_equal(m.hdr.type, XS_GET_DOMAIN_PATH);
	xsd_conn_free(d5);
}

/* catalogue: X17 X18 */
static void
test_domains(void **state)
{
	struct xsd_conn *d6, *d7;
	struct xt_msg m;

	xt_req(env.priv, XS_GET_DOMAIN_PATH, 0, XT_S("5\0"), &m);
	assert_int_equal(m.hdr.len, 16);
	assert_memory_equal(m.data, "/local/domain/5\0", 16);
	xt_req(env.priv, XS_GET_DOMAIN_PATH, 0, XT_S("4294967295\0"), &m);
	assert_string_equal(m.data, "/local/domain/4294967295");
	xt_expect(env.priv, XS_GET_DOMAIN_PATH, 0, XT_S("x\0"), "EINVAL");
	xt_expect(env.priv, XS_GET_DOMAIN_PATH, 0, XT_S("4294967296\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_GET_DOMAIN_PATH, 0, XT_S("5"), "EINVAL");
	/* IS_DOMAIN_INTRODUCED: T/F, DOMID_SELF is T. */
	xt_req(env.priv, XS_IS_DOMAIN_INTRODUCED, 0, XT_S("6\0"), &m);
	assert_int_equal(m.hdr.len, 2);
	assert_memory_equal(m.data, "F\0", 2);
	xt_req(env.priv, XS_IS_DOMAIN_INTRODUCED, 0, XT_S("32752\0"), &m);
	assert_memory_equal(m.data, "T\0", 2);
	xt_expect(env.priv, XS_IS_DOMAIN_INTRODUCED, 0, XT_S("-1\0"), "EINVAL");
	/* INTRODUCE: domid|gfn|evtchn, validated. */
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "0\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "x\0"
		 "1\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("32752\0"
		 "1\0"
		 "1\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "2147483648\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "1\0"
		 "1"),
	    "EINVAL");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("6\0"
		 "18446744073709551615\0"
		 "2147483647\0"),
	    "OK");
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("7\0"
		 "1\0"
		 "1\0extra\0"),
	    "OK");
	xt_req(env.priv, XS_IS_DOMAIN_INTRODUCED, 0, XT_S("6\0"), &m);
	assert_memory_equal(m.data, "T\0", 2);
	/* RESUME and RELEASE: dom0 EINVAL, unknown ENOENT. */
	xt_expect(env.priv, XS_RESUME, 0, XT_S("6\0"), "OK");
	xt_expect(env.priv, XS_RESUME, 0, XT_S("8\0"), "ENOENT");
	xt_expect(env.priv, XS_RESUME, 0, XT_S("0\0"), "EINVAL");
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("0\0"), "EINVAL");
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("abc\0"), "EINVAL");
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("8\0"), "ENOENT");
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("6"), "EINVAL");
	/* SET_TARGET: 6 acts with 7's rights over 7's nodes. */
	d6 = xt_dom(&env, 6);
	d7 = xt_dom(&env, 7);
	xt_op(env.priv, XS_MKDIR, 0, "/local/domain/7", "OK");
	xt_chmod(env.priv, 0, "/local/domain/7", XT_S("n7"), "OK");
	xt_write(d7, 0, "dm", "1", "OK");
	xt_read_err(d6, 0, "/local/domain/7/dm", "EACCES");
	xt_expect(env.priv, XS_SET_TARGET, 0,
	    XT_S("6\0"
		 "8\0"),
	    "ENOENT");
	xt_expect(env.priv, XS_SET_TARGET, 0,
	    XT_S("8\0"
		 "7\0"),
	    "ENOENT");
	xt_expect(env.priv, XS_SET_TARGET, 0, XT_S("6\0"), "EINVAL");
	xt_expect(env.priv, XS_SET_TARGET, 0,
	    XT_S("6\0"
		 "7\0"),
	    "OK");
	xt_read(d6, 0, "/local/domain/7/dm", "1");
	xt_write(d6, 0, "/local/domain/7/dm", "2", "OK");
	/* The target's release ends it. */
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("7\0"), "OK");
	assert_true(xsd_conn_is_closing(d7));
	xt_read_err(d6, 0, "/local/domain/7/dm", "EACCES");
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("6\0"), "OK");
	xsd_conn_free(d6);
	xsd_conn_free(d7);
	xt_op(env.priv, XS_RM, 0, "/local", "OK");
}

/* catalogue: X17 */
static void
test_control(void **state)
{
	struct xt_msg m;

	xt_req(env.priv, XS_CONTROL, 0, XT_S("help\0"), &m);
	assert_int_equal(m.hdr.type, XS_CONTROL);
	assert_non_null(strstr(m.data, "quota"));
	assert_int_equal(m.data[m.hdr.len - 1], '\0');
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("print\0hello\0"), "OK");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("check\0"), "OK");
	xt_req(env.priv, XS_DEBUG, 0, XT_S("quota\0"), &m);
	assert_non_null(strstr(m.data, "nodes"));
	assert_non_null(strstr(m.data, "1000"));
	xt_expect(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0set\0nodes\0"
		 "5\0"),
	    "OK");
	assert_int_equal(env.core->x_opts.o_nodes, 5);
	xt_expect(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0set\0memory\0"
		 "9\0"),
	    "OK");
	assert_int_equal(env.core->x_opts.o_memory, 9);
	xt_expect(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0set\0nodes\0"
		 "0\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0set\0bogus\0"
		 "1\0"),
	    "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("quota\0set\0nodes\0"),
	    "EINVAL");
	xt_req(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0"
		 "0\0"),
	    &m);
	assert_non_null(strstr(m.data, "Domain 0: nodes 3"));
	xt_expect(env.priv, XS_INTRODUCE, 0,
	    XT_S("8\0"
		 "4660\0"
		 "9\0"),
	    "OK");
	xt_req(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0"
		 "8\0"),
	    &m);
	assert_non_null(
	    strstr(m.data, "introduced: gfn 4660, event channel 9"));
	xt_expect(env.priv, XS_RELEASE, 0, XT_S("8\0"), "OK");
	xt_expect(env.priv, XS_CONTROL, 0,
	    XT_S("quota\0"
		 "99\0"),
	    "ENOENT");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("log\0on\0"), "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("bogus\0"), "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("print\0"), "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0, NULL, 0, "EINVAL");
	xt_expect(env.priv, XS_CONTROL, 0, XT_S("help"), "EINVAL");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_reassembly),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_enosys),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_control),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
