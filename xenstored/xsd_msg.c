/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One request in, one reply out: decode the payload of every message
 * type of the 4.17 wire protocol (docs/hypervisor.md 1.2), check privilege
 * and the transaction id, run it, and queue the reply (its own type, or
 * XS_ERROR with the errno's name).  Pure: no sockets, no clock.
 *
 * Every argument is validated, never asserted on: strings must be
 * NUL-terminated inside the payload, numbers are strict decimal within
 * range, paths go through xsd_path_canon().  Types a client may not
 * send (unknown, 20, WATCH_EVENT, ERROR) get ENOSYS.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xu_assert.h"
#include "xsd_internal.h"

/* Properties of a request type (4.17's XS_FLAG_*). */
enum xsd_op_flags {
	XSD_OP_PRIV = 1u << 0,	/* privileged connections only */
	XSD_OP_NOTID = 1u << 1, /* tx_id is ignored */
};

/* The request being executed. */
struct xsd_req {
	struct xsd_conn *conn;		     /* who sent it */
	const struct xsd_sockmsg *hdr;	     /* its header */
	const char *data;		     /* its payload (not terminated) */
	size_t len;			     /* bytes of payload */
	struct xsd_txn *txn;		     /* its transaction, or NULL */
	char out[XENSTORE_PAYLOAD_MAX + 64]; /* reply under construction */
};

static const char xsd_ok[] = "OK";

const char *
xsd_errno_name(int err)
{
	size_t i;

	for (i = 0; i < XU_NELEM(xsd_errors); i++)
		if (xsd_errors[i].errnum == err)
			return (xsd_errors[i].errstring);
	return ("EINVAL");
}

/* ---------------------------------------------------------------------
 * Payload helpers
 */

static void
xsd_req_ok(struct xsd_req *r)
{
	xsd_conn_reply(r->conn, r->hdr, xsd_ok, sizeof(xsd_ok));
}

/* NUL bytes in the payload: how many strings it holds. */
static unsigned int
xsd_req_nstrings(const struct xsd_req *r)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < r->len; i++)
		if (r->data[i] == '\0')
			n++;
	return (n);
}

/* Up to max leading NUL-terminated strings; returns how many. */
static unsigned int
xsd_req_strings(const struct xsd_req *r, const char **vec, unsigned int max)
{
	const char *p = r->data, *end = r->data + r->len, *nul;
	unsigned int n = 0;

	while (n < max && p < end &&
	    (nul = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		vec[n++] = p;
		p = nul + 1;
	}
	return (n);
}

/* Exactly n strings and nothing after them. */
static bool
xsd_req_exact(const struct xsd_req *r, const char **vec, unsigned int n)
{
	return (xsd_req_strings(r, vec, n) == n && xsd_req_nstrings(r) == n &&
	    r->data[r->len - 1] == '\0');
}

/* The single argument of a request that must be exactly "arg\0". */
static const char *
xsd_req_onearg(const struct xsd_req *r)
{
	const char *arg;

	return (xsd_req_exact(r, &arg, 1) ? arg : NULL);
}

static int
xsd_req_domid(const char *s, unsigned long max, unsigned int *out)
{
	unsigned long v;
	int rc;

	if ((rc = xsd_parse_ulong(s, max, &v)) != 0)
		return (rc);
	*out = (unsigned int)v;
	return (0);
}

static struct xsd_view
xsd_req_view(const struct xsd_req *r)
{
	return ((struct xsd_view) { r->conn->c_core, r->conn, r->txn });
}

/* ---------------------------------------------------------------------
 * Node requests
 */

/* The node at the request's one path argument, with rights want. */
static int
xsd_req_node(struct xsd_req *r, const char *arg, unsigned int want,
    struct xsd_node **n)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xsd_view v = xsd_req_view(r);
	int len;

	if (arg == NULL)
		return (-EINVAL);
	if ((len = xsd_path_canon(r->conn, arg, path)) < 0)
		return (len);
	return (xsd_tree_get(&v, path, (size_t)len, want, n, NULL));
}

static int
xsd_do_read(struct xsd_req *r)
{
	struct xsd_node *n;
	int rc;

	if ((rc = xsd_req_node(r, xsd_req_onearg(r), XSD_PERM_READ, &n)) != 0)
		return (rc);
	xsd_conn_reply(r->conn, r->hdr, n->n_value, n->n_vlen);
	return (0);
}

static int
xsd_do_directory(struct xsd_req *r)
{
	struct xsd_node *n;
	int rc;

	if ((rc = xsd_req_node(r, xsd_req_onearg(r), XSD_PERM_READ, &n)) != 0)
		return (rc);
	xsd_conn_reply(r->conn, r->hdr, n->n_kids, n->n_kidlen);
	return (0);
}

static int
xsd_do_directory_part(struct xsd_req *r)
{
	const char *vec[2];
	struct xsd_node *n;
	unsigned long off;
	size_t genlen, take = 0, l;
	int rc;

	if (!xsd_req_exact(r, vec, 2) ||
	    xsd_parse_ulong(vec[1], ULONG_MAX, &off) != 0)
		return (-EINVAL);
	if ((rc = xsd_req_node(r, vec[0], XSD_PERM_READ, &n)) != 0)
		return (rc);
	/* The generation lets the client restart if the list changes. */
	genlen =
	    (size_t)snprintf(r->out, sizeof(r->out), "%" PRIu64, n->n_gen) + 1;
	if (off >= n->n_kidlen) {
		r->out[genlen] = '\0';
		xsd_conn_reply(r->conn, r->hdr, r->out, genlen + 1);
		return (0);
	}
	/* Whole names that fit, and the closing empty name at the end. */
	while (off + take < n->n_kidlen) {
		l = strlen(n->n_kids + off + take) + 1;
		if (genlen + take + l >= XENSTORE_PAYLOAD_MAX)
			break;
		take += l;
	}
	memcpy(r->out + genlen, n->n_kids + off, take);
	if (off + take == n->n_kidlen)
		r->out[genlen + take++] = '\0';
	xsd_conn_reply(r->conn, r->hdr, r->out, genlen + take);
	return (0);
}

static int
xsd_do_get_perms(struct xsd_req *r)
{
	struct xsd_node *n;
	size_t len;
	int rc;

	if ((rc = xsd_req_node(r, xsd_req_onearg(r), XSD_PERM_READ, &n)) != 0)
		return (rc);
	len = xsd_perms_format(n->n_perms, n->n_nperms, r->out, sizeof(r->out));
	if (len == 0)
		return (-E2BIG);
	xsd_conn_reply(r->conn, r->hdr, r->out, len);
	return (0);
}

static int
xsd_do_write(struct xsd_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xsd_view v = xsd_req_view(r);
	const char *nul;
	size_t off;
	int len, rc;

	/* "path\0" then the value: raw bytes, no terminator. */
	if ((nul = memchr(r->data, '\0', r->len)) == NULL)
		return (-EINVAL);
	if ((len = xsd_path_canon(r->conn, r->data, path)) < 0)
		return (len);
	off = (size_t)(nul - r->data) + 1;
	rc = xsd_tree_write(&v, path, (size_t)len, r->data + off, r->len - off);
	if (rc != 0)
		return (rc);
	xsd_req_ok(r);
	return (0);
}

/* MKDIR and RM: one path argument. */
static int
xsd_do_path_op(struct xsd_req *r,
    int (*op)(const struct xsd_view *, const char *, size_t))
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xsd_view v = xsd_req_view(r);
	const char *arg = xsd_req_onearg(r);
	int len, rc;

	if (arg == NULL)
		return (-EINVAL);
	if ((len = xsd_path_canon(r->conn, arg, path)) < 0)
		return (len);
	if ((rc = op(&v, path, (size_t)len)) != 0)
		return (rc);
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_mkdir(struct xsd_req *r)
{
	return (xsd_do_path_op(r, xsd_tree_mkdir));
}

static int
xsd_do_rm(struct xsd_req *r)
{
	return (xsd_do_path_op(r, xsd_tree_rm));
}

/*
 * Mark entries naming domains that do not exist (XSA-322/417).  A
 * privileged caller speaks for the toolstack, which in the simulation is
 * the hypervisor: the domains it names exist from then on.
 */
static int
xsd_perms_resolve(struct xsd_conn *c, struct xsd_perm *p, unsigned int n)
{
	const struct xsd_domain *d;
	unsigned int i;
	int rc;

	for (i = 0; i < n; i++) {
		d = xsd_dom_find(c->c_core, p[i].domid);
		if (d != NULL && d->d_exists)
			continue;
		if (c->c_priv && p[i].domid < XSD_DOMID_LIMIT) {
			rc = xsd_dom_make_exist(c->c_core, p[i].domid);
			if (rc != 0)
				return (rc);
			continue;
		}
		p[i].bits |= XSD_PERM_IGNORE;
	}
	/* The owner must exist. */
	return ((p[0].bits & XSD_PERM_IGNORE) ? -ENOENT : 0);
}

/* SET_PERMS on @introduceDomain or @releaseDomain. */
static int
xsd_set_special_perms(struct xsd_conn *c, const char *name,
    const struct xsd_perm *p, unsigned int n)
{
	struct xsd_core *core = c->c_core;
	struct xsd_perm *np;
	unsigned int want = XSD_PERM_WRITE | XSD_PERM_OWNER, have;
	int i;

	if (!xsd_path_is_special(name))
		return (-EINVAL);
	i = strcmp(name, XSD_INTRODUCE) == 0 ? 0 : 1;
	have = xsd_perm_for(c, core->x_sperms[i], core->x_nsperms[i]);
	if ((have & want) != want)
		return (-EACCES);
	if ((np = xsd_perms_dup(p, n)) == NULL)
		return (-ENOMEM);
	free(core->x_sperms[i]);
	core->x_sperms[i] = np;
	core->x_nsperms[i] = n;
	return (0);
}

static int
xsd_do_set_perms(struct xsd_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xsd_view v = xsd_req_view(r);
	struct xsd_conn *c = r->conn;
	struct xsd_perm *p;
	unsigned int n = xsd_req_nstrings(r);
	int len, rc;

	/* The path, then at least one permission. */
	if (n < 2)
		return (-EINVAL);
	n--;
	if ((p = calloc(n, sizeof(*p))) == NULL)
		return (-ENOMEM);
	if ((rc = xsd_perms_parse(r->data + strlen(r->data) + 1, n, p)) != 0)
		goto out;
	rc = -ENOSPC;
	if (!c->c_priv && n > c->c_core->x_opts.o_perms)
		goto out;
	if ((rc = xsd_perms_resolve(c, p, n)) != 0)
		goto out;
	if (r->data[0] == '@') {
		rc = xsd_set_special_perms(c, r->data, p, n);
		goto out;
	}
	if ((len = xsd_path_canon(c, r->data, path)) < 0) {
		rc = len;
		goto out;
	}
	rc = xsd_tree_set_perms(&v, path, (size_t)len, p, n);
out:
	free(p);
	if (rc == 0)
		xsd_req_ok(r);
	return (rc);
}

/* ---------------------------------------------------------------------
 * Watches and transactions
 */

/* The path of WATCH/UNWATCH: canonical, or an @name kept as it is. */
static int
xsd_watch_path(struct xsd_req *r, const char *arg, char *path, size_t *rel)
{
	size_t len = strlen(arg);
	int rc;

	*rel = 0;
	if (arg[0] == '@') {
		if (len > XENSTORE_REL_PATH_MAX)
			return (-EINVAL);
		memcpy(path, arg, len + 1);
		return (0);
	}
	if ((rc = xsd_path_canon(r->conn, arg, path)) < 0)
		return (rc);
	if (arg[0] != '/')
		*rel = r->conn->c_homelen + 1;
	return (0);
}

static int
xsd_do_watch(struct xsd_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *vec[2];
	struct xsd_watch *w;
	size_t rel;
	int rc;

	/* Exactly path and token: 4.17 refuses a third (depth) string. */
	if (!xsd_req_exact(r, vec, 2))
		return (-EINVAL);
	if ((rc = xsd_watch_path(r, vec[0], path, &rel)) != 0)
		return (rc);
	if ((rc = xsd_watch_add(r->conn, path, vec[1], rel, &w)) != 0)
		return (rc);
	xsd_req_ok(r);
	/* Fired once up front, after the OK, whatever the permissions. */
	xsd_watch_event(r->conn, w, w->w_path);
	return (0);
}

static int
xsd_do_unwatch(struct xsd_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *vec[2];
	size_t rel;
	int rc;

	if (!xsd_req_exact(r, vec, 2))
		return (-EINVAL);
	if ((rc = xsd_watch_path(r, vec[0], path, &rel)) != 0)
		return (rc);
	if ((rc = xsd_watch_remove(r->conn, path, vec[1])) != 0)
		return (rc);
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_transaction_start(struct xsd_req *r)
{
	struct xsd_txn *t;
	int rc, len;

	if (r->txn != NULL)
		return (-EBUSY); /* no nesting */
	if ((rc = xsd_txn_start(r->conn, &t)) != 0)
		return (rc);
	len = snprintf(r->out, sizeof(r->out), "%" PRIu32, t->t_id);
	xsd_conn_reply(r->conn, r->hdr, r->out, (size_t)len + 1);
	return (0);
}

static int
xsd_do_transaction_end(struct xsd_req *r)
{
	const char *arg = xsd_req_onearg(r);
	int rc;

	if (arg == NULL || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
		return (-EINVAL);
	if (r->txn == NULL)
		return (-ENOENT);
	rc = xsd_txn_end(r->conn, r->txn, arg[0] == 'T');
	r->txn = NULL;
	if (rc != 0)
		return (rc);
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_reset_watches(struct xsd_req *r)
{
	/*
	 * Watches and transactions go, even when sent with a transaction's
	 * id (XSA-484): the request ignores tx_id, so nothing refers to a
	 * transaction it frees.
	 */
	xsd_watch_remove_all(r->conn);
	xsd_txn_abort_all(r->conn);
	xsd_req_ok(r);
	return (0);
}

/* ---------------------------------------------------------------------
 * Domains
 */

static int
xsd_do_introduce(struct xsd_req *r)
{
	struct xsd_core *core = r->conn->c_core;
	const char *vec[3];
	struct xsd_domain *d;
	unsigned long gfn, port;
	unsigned int domid;
	int rc;

	if (xsd_req_strings(r, vec, 3) < 3 ||
	    xsd_req_domid(vec[0], XSD_DOMID_LIMIT - 1, &domid) != 0 ||
	    xsd_parse_ulong(vec[1], ULONG_MAX, &gfn) != 0 ||
	    xsd_parse_ulong(vec[2], INT_MAX, &port) != 0 || port == 0)
		return (-EINVAL);
	if ((d = xsd_dom_get(core, domid)) == NULL)
		return (-ENOMEM);
	if (!d->d_introduced) {
		if (core->x_hooks != NULL &&
		    core->x_hooks->h_introduce != NULL &&
		    (rc = core->x_hooks->h_introduce(core->x_hooks_arg,
			 domid)) != 0)
			return (rc);
		if ((rc = xsd_dom_make_exist(core, domid)) != 0)
			return (rc);
		d->d_introduced = true;
		if (domid != 0)
			xsd_watch_deliver(core, XSD_INTRODUCE, true, NULL, 0,
			    NULL, 0);
	}
	/* Introducing again only records the new ring and port. */
	d->d_gfn = gfn;
	d->d_evtchn = (unsigned int)port;
	xsd_req_ok(r);
	return (0);
}

/* The one domid argument of RELEASE/RESUME: introduced, not dom0. */
static int
xsd_req_introduced(const struct xsd_req *r, unsigned int *domid)
{
	const struct xsd_domain *d;
	const char *arg = xsd_req_onearg(r);

	if (arg == NULL || xsd_req_domid(arg, UINT_MAX, domid) != 0 ||
	    *domid == 0)
		return (-EINVAL);
	d = xsd_dom_find(r->conn->c_core, *domid);
	return (d != NULL && d->d_introduced ? 0 : -ENOENT);
}

static int
xsd_do_release(struct xsd_req *r)
{
	unsigned int domid;
	int rc;

	if ((rc = xsd_req_introduced(r, &domid)) != 0)
		return (rc);
	xsd_dom_release(r->conn->c_core, domid);
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_resume(struct xsd_req *r)
{
	unsigned int domid;
	int rc;

	/* No shutdown state to clear: simulated domains do not crash. */
	if ((rc = xsd_req_introduced(r, &domid)) != 0)
		return (rc);
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_get_domain_path(struct xsd_req *r)
{
	const char *arg = xsd_req_onearg(r);
	unsigned int domid;
	int len;

	if (arg == NULL || xsd_req_domid(arg, UINT_MAX, &domid) != 0)
		return (-EINVAL);
	len = snprintf(r->out, sizeof(r->out), "/local/domain/%u", domid);
	xsd_conn_reply(r->conn, r->hdr, r->out, (size_t)len + 1);
	return (0);
}

static int
xsd_do_is_domain_introduced(struct xsd_req *r)
{
	const struct xsd_domain *d;
	const char *arg = xsd_req_onearg(r);
	unsigned int domid;
	bool yes;

	if (arg == NULL || xsd_req_domid(arg, UINT_MAX, &domid) != 0)
		return (-EINVAL);
	d = xsd_dom_find(r->conn->c_core, domid);
	yes = domid == DOMID_SELF || (d != NULL && d->d_introduced);
	xsd_conn_reply(r->conn, r->hdr, yes ? "T" : "F", 2);
	return (0);
}

static int
xsd_do_set_target(struct xsd_req *r)
{
	struct xsd_core *core = r->conn->c_core;
	struct xsd_domain *d, *t;
	const char *vec[2];
	unsigned int domid, tdomid;

	if (xsd_req_strings(r, vec, 2) < 2 ||
	    xsd_req_domid(vec[0], UINT_MAX, &domid) != 0 ||
	    xsd_req_domid(vec[1], UINT_MAX, &tdomid) != 0)
		return (-EINVAL);
	d = xsd_dom_find(core, domid);
	t = xsd_dom_find(core, tdomid);
	if (d == NULL || !d->d_introduced || t == NULL || !t->d_introduced)
		return (-ENOENT);
	d->d_target = tdomid;
	xsd_req_ok(r);
	return (0);
}

static int
xsd_do_control(struct xsd_req *r)
{
	const char **argv;
	unsigned int argc = xsd_req_nstrings(r);
	int len;

	if (argc == 0)
		return (-EINVAL);
	if ((argv = calloc(argc, sizeof(*argv))) == NULL)
		return (-ENOMEM);
	argc = xsd_req_strings(r, argv, argc);
	len = xsd_control(r->conn, argc, argv, r->out, sizeof(r->out));
	free(argv);
	if (len < 0)
		return (len);
	xsd_conn_reply(r->conn, r->hdr, r->out, (size_t)len);
	return (0);
}

/* ---------------------------------------------------------------------
 * Dispatch
 */

static const struct xsd_op {
	int (*fn)(struct xsd_req *); /* NULL: clients may not send it */
	unsigned int flags;	     /* enum xsd_op_flags */
} xsd_ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { xsd_do_control, XSD_OP_PRIV },
	[XS_DIRECTORY] = { xsd_do_directory, 0 },
	[XS_READ] = { xsd_do_read, 0 },
	[XS_GET_PERMS] = { xsd_do_get_perms, 0 },
	[XS_WATCH] = { xsd_do_watch, XSD_OP_NOTID },
	[XS_UNWATCH] = { xsd_do_unwatch, XSD_OP_NOTID },
	[XS_TRANSACTION_START] = { xsd_do_transaction_start, 0 },
	[XS_TRANSACTION_END] = { xsd_do_transaction_end, 0 },
	[XS_INTRODUCE] = { xsd_do_introduce, XSD_OP_PRIV | XSD_OP_NOTID },
	[XS_RELEASE] = { xsd_do_release, XSD_OP_PRIV | XSD_OP_NOTID },
	[XS_GET_DOMAIN_PATH] = { xsd_do_get_domain_path, XSD_OP_NOTID },
	[XS_WRITE] = { xsd_do_write, 0 },
	[XS_MKDIR] = { xsd_do_mkdir, 0 },
	[XS_RM] = { xsd_do_rm, 0 },
	[XS_SET_PERMS] = { xsd_do_set_perms, 0 },
	[XS_IS_DOMAIN_INTRODUCED] = { xsd_do_is_domain_introduced,
	    XSD_OP_PRIV | XSD_OP_NOTID },
	[XS_RESUME] = { xsd_do_resume, XSD_OP_PRIV | XSD_OP_NOTID },
	[XS_SET_TARGET] = { xsd_do_set_target, XSD_OP_PRIV | XSD_OP_NOTID },
	[XS_RESET_WATCHES] = { xsd_do_reset_watches, XSD_OP_NOTID },
	[XS_DIRECTORY_PART] = { xsd_do_directory_part, 0 },
};

void
xsd_msg_execute(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
    const char *payload)
{
	const struct xsd_op *op;
	struct xsd_req *r;
	int rc;

	if (hdr->type >= XS_TYPE_COUNT || xsd_ops[hdr->type].fn == NULL) {
		xsd_conn_error(c, hdr, ENOSYS);
		return;
	}
	op = &xsd_ops[hdr->type];
	if ((op->flags & XSD_OP_PRIV) && !c->c_priv) {
		xsd_conn_error(c, hdr, EACCES);
		return;
	}
	/* Heap, not stack: the reply buffer is a page and walks may nest. */
	if ((r = malloc(sizeof(*r))) == NULL) {
		xsd_conn_error(c, hdr, ENOMEM);
		return;
	}
	r->conn = c;
	r->hdr = hdr;
	r->data = payload;
	r->len = hdr->len;
	r->txn = NULL;
	if (!(op->flags & XSD_OP_NOTID) && hdr->tx_id != 0 &&
	    (r->txn = xsd_txn_find(c, hdr->tx_id)) == NULL) {
		xsd_conn_error(c, hdr, ENOENT);
		free(r);
		return;
	}
	if ((rc = op->fn(r)) != 0)
		xsd_conn_error(c, hdr, -rc);
	free(r);
}
