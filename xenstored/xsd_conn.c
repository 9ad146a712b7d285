/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connections as byte streams: requests are reassembled from whatever
 * pieces arrive (libxenstore writes header and payload separately, a
 * hostile client may trickle one byte at a time), run in order, and
 * their replies and watch events queue as ready-made messages.
 *
 * Memory per connection is bounded.  Input: at most two messages; a
 * header announcing more than XENSTORE_PAYLOAD_MAX drops the connection,
 * as 4.17 does.  Replies: with o_outstanding unread (XSA-326/416) the
 * connection stops taking requests until the client reads.  Events:
 * past o_watch_events pending the connection is dropped, since other
 * clients' writes would otherwise grow its queue without end.
 *
 * A domain's connections and their queued output are charged to its
 * memory quota too, since a domain has up to o_domain_conns connections,
 * each holding a thousand events of up to 4 KiB.  An event over the quota
 * drops the connection, like one over o_watch_events.  A reply is
 * never lost (the client would lose its place), so it is charged
 * without a check; instead a connection with an unread reply takes no
 * more requests while its domain is over the quota.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

int
xsd_conn_new(struct xsd_core *core, unsigned int domid, bool priv,
    struct xsd_conn **out)
{
	struct xsd_conn *c;

	if (!priv && domid >= XSD_DOMID_LIMIT)
		return (-EINVAL);
	if (xsd_dom_get(core, priv ? 0 : domid) == NULL)
		return (-ENOMEM);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (-ENOMEM);
	c->c_core = core;
	c->c_domid = priv ? 0 : domid;
	/* dom0 itself is privileged, whichever socket it comes through. */
	c->c_priv = priv || domid == 0;
	/*
	 * Its input buffer makes a connection 8 KiB: charged, but without
	 * a check (o_domain_conns bounds them), so that a domain at its
	 * quota can still connect and delete nodes.
	 */
	if (!c->c_priv)
		xsd_dom_mem_add(core, domid, sizeof(*c), false);
	c->c_homelen = (size_t)snprintf(c->c_home, sizeof(c->c_home),
	    "/local/domain/%u", c->c_domid);
	TAILQ_INIT(&c->c_out);
	TAILQ_INIT(&c->c_watches);
	TAILQ_INIT(&c->c_txns);
	c->c_next_txid = 1;
	TAILQ_INSERT_TAIL(&core->x_conns, c, c_link);
	*out = c;
	return (0);
}

int
xsd_conn_new_mem(struct xsd_core *core, unsigned int domid,
    struct xsd_conn **out)
{
	int rc;

	if (domid == XSD_DOMID_NONE)
		return (xsd_conn_new(core, 0, true, out));
	if ((rc = xsd_dom_make_exist(core, domid)) != 0)
		return (rc);
	return (xsd_conn_new(core, domid, false, out));
}

size_t
xsd_out_mem(const struct xsd_out *m)
{
	return (sizeof(*m) + m->m_len);
}

/* Unlink a queued message and free it with its charge. */
static void
xsd_out_free(struct xsd_conn *c, struct xsd_out *m)
{
	TAILQ_REMOVE(&c->c_out, m, m_link);
	if (!c->c_priv)
		xsd_dom_uncharge(c, xsd_out_mem(m));
	free(m);
}

static void
xsd_conn_drop_output(struct xsd_conn *c)
{
	struct xsd_out *m;

	while ((m = TAILQ_FIRST(&c->c_out)) != NULL)
		xsd_out_free(c, m);
	c->c_outoff = 0;
	c->c_nreplies = c->c_nevents = 0;
}

/* Release what a dropped connection held: watches, transactions, output. */
static void
xsd_conn_reap(struct xsd_conn *c)
{
	xsd_watch_remove_all(c);
	xsd_txn_abort_all(c);
	xsd_conn_drop_output(c);
	c->c_inlen = 0;
	c->c_reaped = true;
}

void
xsd_core_reap(struct xsd_core *core)
{
	struct xsd_conn *c;

	TAILQ_FOREACH(c, &core->x_conns, c_link)
		if (c->c_closing && !c->c_reaped)
			xsd_conn_reap(c);
}

void
xsd_conn_free(struct xsd_conn *c)
{
	if (c == NULL)
		return;
	if (!c->c_reaped)
		xsd_conn_reap(c);
	TAILQ_REMOVE(&c->c_core->x_conns, c, c_link);
	if (!c->c_priv)
		xsd_dom_uncharge(c, sizeof(*c));
	free(c);
}

bool
xsd_conn_is_closing(const struct xsd_conn *c)
{
	return (c->c_closing);
}

void
xsd_conn_close(struct xsd_conn *c, const char *why)
{
	if (c->c_closing)
		return;
	/*
	 * Only a flag: this may run while the core walks this connection's
	 * watches; xsd_core_reap() releases them at the next safe point.
	 */
	c->c_closing = true;
	if (c->c_priv)
		xsd_log(c->c_core, "privileged connection dropped: %s", why);
	else
		xsd_log(c->c_core, "connection of domain %u dropped: %s",
		    c->c_domid, why);
}

/* ---------------------------------------------------------------------
 * Output
 */

static void
xsd_conn_queue(struct xsd_conn *c, enum xsd_out_kind kind, uint32_t type,
    uint32_t req_id, uint32_t tx_id, const void *payload, size_t len)
{
	struct xsd_sockmsg hdr;
	struct xsd_out *m;

	if (c->c_closing)
		return;
	if ((m = malloc(sizeof(*m) + XSD_HDR_LEN + len)) == NULL) {
		/* A lost reply would desynchronise the client: drop it. */
		xsd_conn_close(c, "out of memory");
		return;
	}
	hdr.type = type;
	hdr.req_id = req_id;
	hdr.tx_id = tx_id;
	hdr.len = (uint32_t)len;
	m->m_kind = kind;
	m->m_len = XSD_HDR_LEN + len;
	if (!c->c_priv && kind == XSD_OUT_EVENT &&
	    xsd_dom_charge(c, xsd_out_mem(m)) != 0) {
		free(m);
		xsd_conn_close(c, "watch events over the memory quota");
		return;
	}
	if (!c->c_priv && kind == XSD_OUT_REPLY)
		xsd_dom_mem_add(c->c_core, c->c_domid, xsd_out_mem(m), false);
	memcpy(m->m_buf, &hdr, XSD_HDR_LEN);
	if (len > 0)
		memcpy(m->m_buf + XSD_HDR_LEN, payload, len);
	TAILQ_INSERT_TAIL(&c->c_out, m, m_link);
	if (kind == XSD_OUT_REPLY)
		c->c_nreplies++;
	else
		c->c_nevents++;
	c->c_core->x_outseq++;
}

void
xsd_conn_reply(struct xsd_conn *c, const struct xsd_sockmsg *req,
    const void *payload, size_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX) {
		xsd_conn_error(c, req, E2BIG);
		return;
	}
	xsd_conn_queue(c, XSD_OUT_REPLY, req->type, req->req_id, req->tx_id,
	    payload, len);
}

void
xsd_conn_error(struct xsd_conn *c, const struct xsd_sockmsg *req, int err)
{
	const char *name = xsd_errno_name(err);

	xsd_conn_queue(c, XSD_OUT_REPLY, XS_ERROR, req->req_id, req->tx_id,
	    name, strlen(name) + 1);
}

void
xsd_conn_event(struct xsd_conn *c, const char *path, size_t plen,
    const char *token, size_t tlen, bool dedup)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	struct xsd_out *m;
	size_t len = plen + 1 + tlen + 1;
	unsigned int limit;

	if (c->c_closing)
		return;
	/*
	 * A long token on a watch fires events longer than the protocol
	 * allows for deep children: drop those events (XSA-324).
	 */
	if (len > XENSTORE_PAYLOAD_MAX) {
		xsd_log(c->c_core, "event for %s dropped: too long", path);
		return;
	}
	memcpy(buf, path, plen);
	buf[plen] = '\0';
	memcpy(buf + plen + 1, token, tlen);
	buf[plen + 1 + tlen] = '\0';
	if (dedup) {
		TAILQ_FOREACH(m, &c->c_out, m_link) {
			if (m->m_kind == XSD_OUT_EVENT &&
			    m->m_len == XSD_HDR_LEN + len &&
			    (m != TAILQ_FIRST(&c->c_out) || c->c_outoff == 0) &&
			    memcmp(m->m_buf + XSD_HDR_LEN, buf, len) == 0)
				return;
		}
	}
	limit = c->c_priv ? XSD_PRIV_WATCH_EVENTS :
			    c->c_core->x_opts.o_watch_events;
	if (c->c_nevents >= limit) {
		xsd_conn_close(c, "too many watch events pending");
		return;
	}
	xsd_conn_queue(c, XSD_OUT_EVENT, XS_WATCH_EVENT, 0, 0, buf, len);
}

size_t
xsd_conn_output_peek(const struct xsd_conn *c, const void **p)
{
	const struct xsd_out *m = TAILQ_FIRST(&c->c_out);

	if (m == NULL || c->c_closing)
		return (0);
	*p = m->m_buf + c->c_outoff;
	return (m->m_len - c->c_outoff);
}

/* ---------------------------------------------------------------------
 * Input
 */

/*
 * Too many unread replies, or any while the domain is over its memory
 * quota: take no more requests (back-pressure).
 */
static bool
xsd_conn_stalled(const struct xsd_conn *c)
{
	unsigned int limit =
	    c->c_priv ? XSD_PRIV_OUTSTANDING : c->c_core->x_opts.o_outstanding;

	return (c->c_nreplies >= limit ||
	    (!c->c_priv && c->c_nreplies > 0 && xsd_dom_over(c, 0)));
}

/* Run every complete request buffered, unless stalled. */
static void
xsd_conn_process(struct xsd_conn *c)
{
	struct xsd_sockmsg hdr;
	size_t off = 0;

	while (!c->c_closing && c->c_inlen - off >= XSD_HDR_LEN) {
		memcpy(&hdr, c->c_in + off, XSD_HDR_LEN);
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			xsd_conn_close(c, "payload longer than 4096 bytes");
			break;
		}
		if (c->c_inlen - off < XSD_HDR_LEN + hdr.len ||
		    xsd_conn_stalled(c))
			break;
		xsd_msg_execute(c, &hdr,
		    (const char *)c->c_in + off + XSD_HDR_LEN);
		off += XSD_HDR_LEN + hdr.len;
		xsd_core_reap(c->c_core);
	}
	if (c->c_closing) {
		c->c_inlen = 0;
	} else if (off > 0) {
		memmove(c->c_in, c->c_in + off, c->c_inlen - off);
		c->c_inlen -= off;
	}
}

void
xsd_conn_output_consume(struct xsd_conn *c, size_t n)
{
	struct xsd_out *m;
	size_t k;

	while (n > 0 && (m = TAILQ_FIRST(&c->c_out)) != NULL) {
		k = m->m_len - c->c_outoff;
		if (k > n)
			k = n;
		c->c_outoff += k;
		n -= k;
		if (c->c_outoff < m->m_len)
			break;
		if (m->m_kind == XSD_OUT_REPLY)
			c->c_nreplies--;
		else
			c->c_nevents--;
		xsd_out_free(c, m);
		c->c_outoff = 0;
	}
	/* Reading may have lifted back-pressure: run what waited. */
	if (!c->c_closing && c->c_inlen > 0)
		xsd_conn_process(c);
	xsd_core_reap(c->c_core);
}

size_t
xsd_conn_read(struct xsd_conn *c, void *buf, size_t cap)
{
	const void *p;
	size_t got = 0, n;

	while (got < cap && (n = xsd_conn_output_peek(c, &p)) > 0) {
		if (n > cap - got)
			n = cap - got;
		memcpy((char *)buf + got, p, n);
		got += n;
		xsd_conn_output_consume(c, n);
	}
	return (got);
}

size_t
xsd_conn_input_room(const struct xsd_conn *c)
{
	if (c->c_closing || xsd_conn_stalled(c))
		return (0);
	return (XSD_INBUF - c->c_inlen);
}

ssize_t
xsd_conn_input(struct xsd_conn *c, const void *buf, size_t len)
{
	size_t n;

	if (c->c_closing)
		return (-EPIPE);
	n = XSD_INBUF - c->c_inlen;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(c->c_in + c->c_inlen, buf, n);
	c->c_inlen += n;
	xsd_conn_process(c);
	return ((ssize_t)n);
}
