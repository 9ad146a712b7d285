/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the xenstored unit tests share: a core with in-memory
 * connections (a privileged one and domains), and helpers that send one
 * request and read back the messages it produced, checking replies by
 * type and payload.  Payload literals are written with XT_S("a\0b") so
 * that embedded NULs count.
 */

#ifndef XBD_TESTS_TEST_XSD_H
#define XBD_TESTS_TEST_XSD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"
#include "xt.h"

/* A payload literal and its length (without the literal's own NUL). */
#define XT_S(s) (s), (sizeof(s) - 1)

/* One message read back from a connection. */
struct xt_msg {
	struct xsd_sockmsg hdr;		     /* its header */
	char data[XENSTORE_PAYLOAD_MAX + 1]; /* payload, NUL added */
};

/* A core with defaults and a privileged connection. */
struct xt_env {
	struct xsd_core *core; /* the daemon */
	struct xsd_conn *priv; /* the privileged socket */
};

static inline void
xt_env_init(struct xt_env *e, const struct xsd_opts *o)
{
	assert_int_equal(xsd_core_new(o, &e->core), 0);
	assert_int_equal(xsd_conn_new_mem(e->core, XSD_DOMID_NONE, &e->priv),
	    0);
}

static inline struct xsd_conn *
xt_dom(struct xt_env *e, unsigned int domid)
{
	struct xsd_conn *c;

	assert_int_equal(xsd_conn_new_mem(e->core, domid, &c), 0);
	return (c);
}

/* Check the invariants, then free everything (LSan sees any leak). */
static inline void
xt_env_fini(struct xt_env *e)
{
	assert_int_equal(xsd_core_check(e->core), 0);
	xsd_core_free(e->core);
}

static inline void
xt_send_raw(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx,
    const void *p, size_t len)
{
	unsigned char buf[XSD_MSG_MAX];
	struct xsd_sockmsg h = { type, req_id, tx, (uint32_t)len };

	assert_true(len <= XENSTORE_PAYLOAD_MAX);
	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy(buf + sizeof(h), p, len);
	assert_int_equal(xsd_conn_input(c, buf, sizeof(h) + len),
	    (ssize_t)(sizeof(h) + len));
}

static inline void
xt_send(struct xsd_conn *c, uint32_t type, uint32_t tx, const void *p,
    size_t len)
{
	xt_send_raw(c, type, 0, tx, p, len);
}

/* Is a whole message waiting? */
static inline bool
xt_pending(const struct xsd_conn *c)
{
	return (!TAILQ_EMPTY(&c->c_out) && !c->c_closing);
}

/* Read the next message; fails the test if there is none. */
static inline void
xt_recv(struct xsd_conn *c, struct xt_msg *m)
{
	assert_true(xt_pending(c));
	assert_int_equal(xsd_conn_read(c, &m->hdr, sizeof(m->hdr)),
	    sizeof(m->hdr));
	assert_true(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
	assert_int_equal(xsd_conn_read(c, m->data, m->hdr.len), m->hdr.len);
	m->data[m->hdr.len] = '\0';
}

/* Drop every queued message (events nobody checks). */
static inline void
xt_drain(struct xsd_conn *c)
{
	struct xt_msg m;

	while (xt_pending(c))
		xt_recv(c, &m);
}

/* Send a request and read its reply, skipping watch events before it. */
static inline void
xt_req(struct xsd_conn *c, uint32_t type, uint32_t tx, const void *p,
    size_t len, struct xt_msg *m)
{
	xt_send(c, type, tx, p, len);
	do {
		xt_recv(c, m);
	} while (m->hdr.type == XS_WATCH_EVENT);
	assert_true(m->hdr.type == type || m->hdr.type == XS_ERROR);
	assert_int_equal(m->hdr.tx_id, tx);
}

/* Expect an error reply named err ("ENOENT"), or "OK" for success. */
static inline void
xt_expect(struct xsd_conn *c, uint32_t type, uint32_t tx, const void *p,
    size_t len, const char *want)
{
	struct xt_msg m;

	xt_req(c, type, tx, p, len, &m);
	if (strcmp(want, "OK") == 0) {
		if (m.hdr.type == XS_ERROR)
			fail_msg("type %u: %s, wanted OK", type, m.data);
		assert_int_equal(m.hdr.type, type);
		assert_int_equal(m.hdr.len, 3);
		assert_string_equal(m.data, "OK");
	} else {
		if (m.hdr.type != XS_ERROR)
			fail_msg("type %u: success, wanted %s", type, want);
		assert_int_equal(m.hdr.len, strlen(want) + 1);
		assert_string_equal(m.data, want);
	}
}

/* "path\0value" (value without NUL) into buf; returns its length. */
static inline size_t
xt_pv(char *buf, size_t cap, const char *path, const void *val, size_t vlen)
{
	size_t plen = strlen(path);

	assert_true(plen + 1 + vlen <= cap);
	memcpy(buf, path, plen + 1);
	if (vlen > 0)
		memcpy(buf + plen + 1, val, vlen);
	return (plen + 1 + vlen);
}

static inline void
xt_write(struct xsd_conn *c, uint32_t tx, const char *path, const char *val,
    const char *want)
{
	char buf[XENSTORE_PAYLOAD_MAX];

	xt_expect(c, XS_WRITE, tx, buf,
	    xt_pv(buf, sizeof(buf), path, val, strlen(val)), want);
}

/* A request with one string argument (its NUL included). */
static inline void
xt_op(struct xsd_conn *c, uint32_t type, uint32_t tx, const char *arg,
    const char *want)
{
	xt_expect(c, type, tx, arg, strlen(arg) + 1, want);
}

/* READ path and compare with value (NULL: expect the error want). */
static inline void
xt_read(struct xsd_conn *c, uint32_t tx, const char *path, const char *value)
{
	struct xt_msg m;

	xt_req(c, XS_READ, tx, path, strlen(path) + 1, &m);
	if (m.hdr.type == XS_ERROR)
		fail_msg("read %s: %s", path, m.data);
	assert_int_equal(m.hdr.len, strlen(value));
	assert_memory_equal(m.data, value, m.hdr.len);
}

static inline void
xt_read_err(struct xsd_conn *c, uint32_t tx, const char *path, const char *err)
{
	xt_op(c, XS_READ, tx, path, err);
}

/* SET_PERMS path to the list perms (XT_S("n5\0r0"): NUL-separated). */
static inline void
xt_chmod(struct xsd_conn *c, uint32_t tx, const char *path, const char *perms,
    size_t plen, const char *want)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t len;

	len = xt_pv(buf, sizeof(buf) - 1, path, perms, plen);
	buf[len++] = '\0'; /* each entry is NUL-terminated */
	xt_expect(c, XS_SET_PERMS, tx, buf, len, want);
}

/* GET_PERMS into a comparable string: entries joined by ','. */
static inline void
xt_perms(struct xsd_conn *c, const char *path, const char *want)
{
	struct xt_msg m;
	uint32_t i;

	xt_req(c, XS_GET_PERMS, 0, path, strlen(path) + 1, &m);
	if (m.hdr.type == XS_ERROR)
		fail_msg("get_perms %s: %s", path, m.data);
	assert_true(m.hdr.len > 0 && m.data[m.hdr.len - 1] == '\0');
	for (i = 0; i + 1 < m.hdr.len; i++)
		if (m.data[i] == '\0')
			m.data[i] = ',';
	assert_string_equal(m.data, want);
}

/* DIRECTORY into a comparable string: names joined by ','. */
static inline void
xt_dir(struct xsd_conn *c, uint32_t tx, const char *path, const char *want)
{
	struct xt_msg m;
	uint32_t i;

	xt_req(c, XS_DIRECTORY, tx, path, strlen(path) + 1, &m);
	if (m.hdr.type == XS_ERROR)
		fail_msg("directory %s: %s", path, m.data);
	for (i = 0; i + 1 < m.hdr.len; i++)
		if (m.data[i] == '\0')
			m.data[i] = ',';
	if (m.hdr.len > 0)
		m.data[m.hdr.len - 1] = '\0';
	assert_string_equal(m.data, want);
}

/* TRANSACTION_START: the new id. */
static inline uint32_t
xt_txn(struct xsd_conn *c)
{
	struct xt_msg m;

	xt_req(c, XS_TRANSACTION_START, 0, XT_S("\0"), &m);
	if (m.hdr.type == XS_ERROR)
		fail_msg("transaction_start: %s", m.data);
	return ((uint32_t)strtoul(m.data, NULL, 10));
}

/* WATCH path token, consuming the OK and the initial event. */
static inline void
xt_watch(struct xsd_conn *c, const char *path, const char *token)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	struct xt_msg m;
	size_t len;

	len = xt_pv(buf, sizeof(buf), path, token, strlen(token) + 1);
	xt_expect(c, XS_WATCH, 0, buf, len, "OK");
	xt_recv(c, &m);
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_int_equal(m.hdr.len, len);
	assert_memory_equal(m.data, buf, len);
}

/* Expect the next message to be the event (path, token). */
static inline void
xt_event(struct xsd_conn *c, const char *path, const char *token)
{
	struct xt_msg m;
	size_t plen = strlen(path);

	xt_recv(c, &m);
	if (m.hdr.type != XS_WATCH_EVENT)
		fail_msg("wanted event %s, got type %u", path, m.hdr.type);
	assert_int_equal(m.hdr.req_id, 0);
	assert_int_equal(m.hdr.tx_id, 0);
	assert_string_equal(m.data, path);
	assert_string_equal(m.data + plen + 1, token);
	assert_int_equal(m.hdr.len, plen + 1 + strlen(token) + 1);
}

/*
 * What domid's memory quota is charged beyond its global nodes and
 * connections (their watches, transactions and queued output): 0 once
 * they are gone.
 */
static inline size_t
xt_mem_beyond_nodes(const struct xsd_core *core, unsigned int domid)
{
	const struct xsd_hent *e;
	const struct xsd_node *n;
	const struct xsd_conn *c;
	size_t nodes = 0;

	TAILQ_FOREACH(c, &core->x_conns, c_link)
		if (!c->c_priv && c->c_domid == domid)
			nodes += sizeof(*c);
	for (e = xsd_htab_next(&core->x_nodes, NULL); e != NULL;
	     e = xsd_htab_next(&core->x_nodes, e)) {
		n = XSD_CONTAINER(e, struct xsd_node, n_hent);
		if (n->n_memdom == domid)
			nodes += n->n_mem;
	}
	return (xsd_dom_find(core, domid)->d_mem - nodes);
}

#endif /* XBD_TESTS_TEST_XSD_H */
