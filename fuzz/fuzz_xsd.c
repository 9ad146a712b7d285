/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the XenStore daemon's core, fed by four in-memory
 * connections at once (the privileged socket, domains 1 and 2, and a
 * second connection of domain 1).  The input is a script:
 *
 *   byte 0          quota profile (bit 0: tiny quotas, to reach them)
 *   then ops        op byte: low 2 bits pick the connection, the rest
 *                   the operation:
 *     0 raw         len byte, then that many bytes, as sent
 *     1 message     type, tx, len (2 bytes LE, at most 4096), payload:
 *                   a well-formed frame around fuzz bytes
 *     2 drain       read every queued message and check it
 *     3 nibble      consume a few bytes of the next message
 *     4 reopen      close the connection and open it again
 *
 * Whatever the bytes, the daemon must never send a message over 4096
 * bytes, an error name it does not know, or a malformed event, and the
 * tree must pass xsd_core_check() at the end; ASan/UBSan/LSan catch the
 * rest.  Connections the core drops (RELEASE, overflow, bad framing)
 * are reopened by the next op that picks them.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xu_assert.h"
#include "xsd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The connections a script drives and the domains they act as. */
#define FX_CONNS 4
static const unsigned int fx_domid[FX_CONNS] = { XSD_DOMID_NONE, 1, 2, 1 };

/* Operations of the script (the op byte's bits above the first two). */
enum fx_op {
	FX_RAW = 0,
	FX_MSG = 1,
	FX_DRAIN = 2,
	FX_NIBBLE = 3,
	FX_REOPEN = 4,
	FX_NOPS = 5,
};

/* Per-connection state of the harness. */
struct fx_conn {
	struct xsd_conn *c; /* the core's connection */
	bool midmsg;	    /* part of the head message was consumed */
};

static void
fx_die(const char *what)
{
	fprintf(stderr, "fuzz_xsd: %s\n", what);
	abort();
}

static void
fx_open(struct xsd_core *core, struct fx_conn *fc, unsigned int i)
{
	fc->midmsg = false;
	if (xsd_conn_new_mem(core, fx_domid[i], &fc->c) != 0)
		fx_die("cannot open a connection");
}

/* A connection the core dropped is replaced before use. */
static struct xsd_conn *
fx_get(struct xsd_core *core, struct fx_conn *fc, unsigned int i)
{
	if (xsd_conn_is_closing(fc->c)) {
		xsd_conn_free(fc->c);
		fx_open(core, fc, i);
	}
	return (fc->c);
}

/* Is name one of the errno names of the wire (xs_wire.h)? */
static bool
fx_known_error(const char *name)
{
	size_t i;

	for (i = 0; i < XU_NELEM(xsd_errors); i++)
		if (strcmp(name, xsd_errors[i].errstring) == 0)
			return (true);
	return (false);
}

/* Check one message the daemon sent. */
static void
fx_check(const struct xsd_sockmsg *h, const char *p)
{
	const char *nul;

	if (h->type == XS_ERROR) {
		if (h->len == 0 || p[h->len - 1] != '\0' ||
		    strlen(p) + 1 != h->len || !fx_known_error(p))
			fx_die("bad error reply");
	} else if (h->type == XS_WATCH_EVENT) {
		if (h->req_id != 0 || h->tx_id != 0 || h->len < 2 ||
		    p[h->len - 1] != '\0' ||
		    (nul = memchr(p, '\0', h->len)) == p + h->len - 1 ||
		    memchr(nul + 1, '\0', h->len - (size_t)(nul - p) - 1) !=
			p + h->len - 1)
			fx_die("bad watch event");
	} else if (h->type >= XS_TYPE_COUNT || h->type == 20) {
		fx_die("reply of an impossible type");
	}
}

static void
fx_drain(struct fx_conn *fc)
{
	char buf[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg h;
	const void *p;
	size_t n;

	if (fc->midmsg) {
		n = xsd_conn_output_peek(fc->c, &p);
		xsd_conn_output_consume(fc->c, n);
		fc->midmsg = false;
	}
	while (xsd_conn_output_peek(fc->c, &p) > 0) {
		if (xsd_conn_read(fc->c, &h, sizeof(h)) != sizeof(h))
			fx_die("short header");
		if (h.len > XENSTORE_PAYLOAD_MAX)
			fx_die("message over 4096 bytes");
		if (xsd_conn_read(fc->c, buf, h.len) != h.len)
			fx_die("short payload");
		buf[h.len] = '\0';
		fx_check(&h, buf);
	}
}

/* catalogue: X20 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char msg[XSD_MSG_MAX];
	struct fx_conn fc[FX_CONNS];
	struct xsd_sockmsg h;
	struct xsd_core *core;
	struct xsd_opts o;
	struct xsd_conn *c;
	const void *p;
	size_t i = 1, len, n;
	unsigned int k;

	if (size < 1)
		return (0);
	xsd_opts_init(&o);
	if (data[0] & 1) {
		o.o_nodes = 16;
		o.o_node_size = 256;
		o.o_watches = 4;
		o.o_transactions = 2;
		o.o_perms = 3;
		o.o_path_max = 64;
		o.o_txn_nodes = 16;
		o.o_outstanding = 4;
		/* Domain 1's two connections are charged too. */
		o.o_memory = 2 * sizeof(struct xsd_conn) + 8192;
		o.o_watch_events = 16;
	}
	if (xsd_core_new(&o, &core) != 0)
		fx_die("cannot create the core");
	for (k = 0; k < FX_CONNS; k++)
		fx_open(core, &fc[k], k);
	while (i < size) {
		k = data[i] & 3;
		c = fx_get(core, &fc[k], k);
		switch ((data[i++] >> 2) % FX_NOPS) {
		case FX_RAW:
			if (i >= size)
				break;
			len = data[i++];
			if (len > size - i)
				len = size - i;
			(void)xsd_conn_input(c, data + i, len);
			i += len;
			break;
		case FX_MSG:
			if (size - i < 4) {
				i = size;
				break;
			}
			h.type = data[i];
			h.req_id = (uint32_t)i;
			h.tx_id = data[i + 1];
			len = (size_t)(data[i + 2] | data[i + 3] << 8);
			i += 4;
			if (len > XENSTORE_PAYLOAD_MAX)
				len = XENSTORE_PAYLOAD_MAX;
			if (len > size - i)
				len = size - i;
			h.len = (uint32_t)len;
			memcpy(msg, &h, sizeof(h));
			if (len > 0)
				memcpy(msg + sizeof(h), data + i, len);
			(void)xsd_conn_input(c, msg, sizeof(h) + len);
			i += len;
			break;
		case FX_DRAIN:
			fx_drain(&fc[k]);
			break;
		case FX_NIBBLE:
			if (i >= size)
				break;
			n = xsd_conn_output_peek(c, &p);
			len = data[i++] % 17;
			if (n > 0 && len < n) {
				xsd_conn_output_consume(c, len);
				fc[k].midmsg = len > 0 || fc[k].midmsg;
			}
			break;
		case FX_REOPEN:
			xsd_conn_free(c);
			fx_open(core, &fc[k], k);
			break;
		}
	}
	for (k = 0; k < FX_CONNS; k++)
		if (!xsd_conn_is_closing(fc[k].c))
			fx_drain(&fc[k]);
	if (xsd_core_check(core) != 0)
		fx_die("tree inconsistent");
	xsd_core_free(core);
	return (0);
}
