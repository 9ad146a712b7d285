/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core's life cycle, options and log, the domain records (existence,
 * introduction, quotas' counters) and RELEASE, plus the consistency
 * check the fuzzer and CONTROL "check" run: every node's parent exists
 * and lists it, every listed child exists, and the per-domain counters
 * match what the tree and the connections hold.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

/* Xen 4.17's defaults (docs/hypervisor.md 1.8). */
#define XSD_DEF_NODES 1000
#define XSD_DEF_NODE_SIZE 2048
#define XSD_DEF_WATCHES 128
#define XSD_DEF_TRANSACTIONS 10
#define XSD_DEF_PERMS 5
#define XSD_DEF_TXN_NODES 1024
#define XSD_DEF_OUTSTANDING 20
/* 4.17's hard per-domain memory quota: 2.5 MiB. */
#define XSD_DEF_MEMORY (5u << 19)
/*
 * Not 4.17 quotas, but the bounds a socket transport needs: pending
 * events before a client that does not read is dropped (4.17 expires
 * them after 20 s instead), and connections per domain socket (a ring
 * is one connection; a socket can be opened any number of times).
 */
#define XSD_DEF_WATCH_EVENTS 1024
#define XSD_DEF_DOMAIN_CONNS 32

void
xsd_opts_init(struct xsd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_size = sizeof(*o);
	o->o_nodes = XSD_DEF_NODES;
	o->o_node_size = XSD_DEF_NODE_SIZE;
	o->o_watches = XSD_DEF_WATCHES;
	o->o_transactions = XSD_DEF_TRANSACTIONS;
	o->o_perms = XSD_DEF_PERMS;
	o->o_path_max = XENSTORE_REL_PATH_MAX;
	o->o_txn_nodes = XSD_DEF_TXN_NODES;
	o->o_outstanding = XSD_DEF_OUTSTANDING;
	o->o_memory = XSD_DEF_MEMORY;
	o->o_watch_events = XSD_DEF_WATCH_EVENTS;
	o->o_domain_conns = XSD_DEF_DOMAIN_CONNS;
}

int
xsd_opts_copy(const struct xsd_opts *in, struct xsd_opts *out)
{
	xsd_opts_init(out);
	if (in == NULL)
		return (0);
	/* Older callers pass fewer fields: the rest keep their defaults. */
	if (in->o_size < sizeof(in->o_size) || in->o_size > sizeof(*in))
		return (-EINVAL);
	memcpy(out, in, in->o_size);
	out->o_size = sizeof(*out);
	/* Zero would stop a connection for good rather than bound it. */
	if (out->o_outstanding == 0 || out->o_watch_events == 0 ||
	    out->o_domain_conns == 0 || out->o_path_max == 0)
		return (-EINVAL);
	return (0);
}

void
xsd_log(const struct xsd_core *core, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (core->x_opts.o_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	core->x_opts.o_log(core->x_opts.o_log_arg, line);
}

/* ---------------------------------------------------------------------
 * Domains
 */

struct xsd_domain *
xsd_dom_find(const struct xsd_core *core, unsigned int domid)
{
	struct xsd_domain *d;

	LIST_FOREACH(d, &core->x_dom[domid % XSD_DOM_BUCKETS], d_link)
		if (d->d_domid == domid)
			return (d);
	return (NULL);
}

struct xsd_domain *
xsd_dom_get(struct xsd_core *core, unsigned int domid)
{
	struct xsd_domain *d;

	if ((d = xsd_dom_find(core, domid)) != NULL)
		return (d);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->d_domid = domid;
	d->d_target = XSD_DOMID_NONE;
	LIST_INSERT_HEAD(&core->x_dom[domid % XSD_DOM_BUCKETS], d, d_link);
	return (d);
}

int
xsd_dom_make_exist(struct xsd_core *core, unsigned int domid)
{
	struct xsd_domain *d;

	if (domid >= XSD_DOMID_LIMIT)
		return (-EINVAL);
	if ((d = xsd_dom_get(core, domid)) == NULL)
		return (-ENOMEM);
	if (!d->d_exists) {
		d->d_exists = true;
		/* A generation of its own: later than any node before it. */
		d->d_since = ++core->x_gen;
	}
	return (0);
}

bool
xsd_dom_valid(const struct xsd_core *core, unsigned int domid, uint64_t gen)
{
	const struct xsd_domain *d = xsd_dom_find(core, domid);

	return (d != NULL && d->d_exists && d->d_since <= gen);
}

void
xsd_dom_nodes_add(struct xsd_core *core, unsigned int domid, long n)
{
	struct xsd_domain *d = xsd_dom_get(core, domid);

	if (d != NULL)
		d->d_nodes += n;
}

int
xsd_dom_charge(struct xsd_conn *c, size_t bytes)
{
	struct xsd_domain *d = xsd_dom_get(c->c_core, c->c_domid);

	if (d == NULL || d->d_mem + bytes > c->c_core->x_opts.o_memory)
		return (-ENOMEM);
	d->d_mem += bytes;
	return (0);
}

void
xsd_dom_uncharge(struct xsd_conn *c, size_t bytes)
{
	xsd_dom_mem_add(c->c_core, c->c_domid, bytes, true);
}

void
xsd_dom_mem_add(struct xsd_core *core, unsigned int domid, size_t bytes,
    bool sub)
{
	struct xsd_domain *d =
	    sub ? xsd_dom_find(core, domid) : xsd_dom_get(core, domid);

	/* No record (out of memory) means nothing was charged either. */
	if (d == NULL)
		return;
	if (!sub)
		d->d_mem += bytes;
	else
		d->d_mem -= bytes < d->d_mem ? bytes : d->d_mem;
}

bool
xsd_dom_over(const struct xsd_conn *c, size_t bytes)
{
	const struct xsd_domain *d = xsd_dom_find(c->c_core, c->c_domid);

	return (d != NULL && d->d_mem + bytes > c->c_core->x_opts.o_memory);
}

/* By path length: ancestors before their descendants. */
static int
xsd_pathlen_cmp(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return (la < lb ? -1 : la > lb);
}

/* Void perm entries naming domid (but the owner's). */
static void
xsd_perms_forget(struct xsd_perm *p, unsigned int n, unsigned int domid)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (p[i].domid == domid)
			p[i].bits |= XSD_PERM_IGNORE;
}

/*
 * Delete the global nodes domid owns, with their subtrees and events
 * (XSA-419), and void its entries in other nodes' perms (XSA-322).  The
 * walk is over the hash table, never recursive (XSA-418).
 */
static void
xsd_dom_forget_nodes(struct xsd_core *core, unsigned int domid)
{
	struct xsd_hent *e;
	struct xsd_node *n;
	char **owned = NULL, **grown;
	size_t count = 0, cap = 0, i;

	for (e = xsd_htab_next(&core->x_nodes, NULL); e != NULL;
	     e = xsd_htab_next(&core->x_nodes, e)) {
		n = XSD_CONTAINER(e, struct xsd_node, n_hent);
		xsd_perms_forget(n->n_perms, n->n_nperms, domid);
		if (n->n_perms[0].domid != domid)
			continue;
		if (n->n_pathlen == 1) {
			/* "/" cannot go: the toolstack gave it away. */
			n->n_perms[0].domid = 0;
			xsd_dom_nodes_add(core, domid, -1);
			xsd_dom_nodes_add(core, 0, 1);
			xsd_node_account(core, n);
			continue;
		}
		grown = xsd_grow(owned, &cap, count + 1, sizeof(*owned));
		if (grown != NULL)
			owned = grown;
		if (grown == NULL ||
		    (owned[count] = strdup(n->n_path)) == NULL) {
			xsd_log(core, "release of %u: out of memory", domid);
			break;
		}
		count++;
	}
	if (count > 1)
		qsort(owned, count, sizeof(*owned), xsd_pathlen_cmp);
	for (i = 0; i < count; i++) {
		n = xsd_tree_find(core, owned[i], strlen(owned[i]));
		if (n != NULL && n->n_perms[0].domid == domid &&
		    xsd_tree_rm_global(core, n) != 0)
			xsd_log(core, "release of %u: cannot delete %s", domid,
			    owned[i]);
		free(owned[i]);
	}
	free(owned);
}

void
xsd_dom_release(struct xsd_core *core, unsigned int domid)
{
	struct xsd_domain *d = xsd_dom_get(core, domid), *o;
	struct xsd_conn *c;
	unsigned int i, b;

	if (d == NULL)
		return;
	/* Its connections go first: they hear nothing of their own end. */
	TAILQ_FOREACH(c, &core->x_conns, c_link)
		if (!c->c_priv && c->c_domid == domid)
			xsd_conn_close(c, "domain released");
	if (d->d_introduced && core->x_hooks != NULL &&
	    core->x_hooks->h_release != NULL)
		core->x_hooks->h_release(core->x_hooks_arg, domid);
	xsd_dom_forget_nodes(core, domid);
	for (i = 0; i < 2; i++) {
		xsd_perms_forget(core->x_sperms[i], core->x_nsperms[i], domid);
		if (core->x_sperms[i][0].domid == domid)
			core->x_sperms[i][0] = (struct xsd_perm) { 0, 0 };
	}
	for (b = 0; b < XSD_DOM_BUCKETS; b++)
		LIST_FOREACH(o, &core->x_dom[b], d_link)
			if (o->d_target == domid)
				o->d_target = XSD_DOMID_NONE;
	d->d_exists = d->d_introduced = false;
	d->d_target = XSD_DOMID_NONE;
	d->d_gfn = 0;
	d->d_evtchn = 0;
	xsd_log(core, "domain %u released", domid);
	xsd_watch_deliver(core, XSD_RELEASE, true, NULL, 0, NULL, 0);
}

/* ---------------------------------------------------------------------
 * Life cycle
 */

int
xsd_core_new(const struct xsd_opts *o, struct xsd_core **out)
{
	static const struct xsd_perm n0 = { 0, XSD_PERM_NONE };
	struct xsd_core *core;
	struct xsd_domain *d0;
	int rc, i;

	if ((core = calloc(1, sizeof(*core))) == NULL)
		return (-ENOMEM);
	TAILQ_INIT(&core->x_conns);
	for (i = 0; i < XSD_DOM_BUCKETS; i++)
		LIST_INIT(&core->x_dom[i]);
	if ((rc = xsd_opts_copy(o, &core->x_opts)) != 0) {
		free(core);
		return (rc);
	}
	if ((rc = xsd_htab_init(&core->x_nodes)) != 0) {
		free(core);
		return (rc);
	}
	rc = -ENOMEM;
	/* dom0 exists from the start (it runs the toolstack). */
	if ((d0 = xsd_dom_get(core, 0)) == NULL)
		goto fail;
	d0->d_exists = true;
	for (i = 0; i < 2; i++) {
		if ((core->x_sperms[i] = xsd_perms_dup(&n0, 1)) == NULL)
			goto fail;
		core->x_nsperms[i] = 1;
	}
	if ((rc = xsd_tree_init(core)) != 0)
		goto fail;
	*out = core;
	return (0);
fail:
	xsd_core_free(core);
	return (rc);
}

void
xsd_core_set_hooks(struct xsd_core *core, const struct xsd_hooks *h, void *arg)
{
	core->x_hooks = h;
	core->x_hooks_arg = arg;
}

void
xsd_core_free(struct xsd_core *core)
{
	struct xsd_domain *d;
	struct xsd_conn *c;
	int i;

	if (core == NULL)
		return;
	while ((c = TAILQ_FIRST(&core->x_conns)) != NULL)
		xsd_conn_free(c);
	if (core->x_nodes.ht_bucket != NULL)
		xsd_tree_fini(core);
	for (i = 0; i < XSD_DOM_BUCKETS; i++) {
		while ((d = LIST_FIRST(&core->x_dom[i])) != NULL) {
			LIST_REMOVE(d, d_link);
			free(d);
		}
	}
	free(core->x_sperms[0]);
	free(core->x_sperms[1]);
	free(core);
}

/* ---------------------------------------------------------------------
 * Consistency check
 */

/* One node: its parent lists it, its children exist, sizes add up. */
static int
xsd_check_node(struct xsd_core *core, const struct xsd_node *n)
{
	char cpath[XENSTORE_ABS_PATH_MAX + 1];
	const struct xsd_node *p;
	size_t plen, off, l, nstart, clen;

	if (n->n_nperms == 0 || n->n_pathlen != strlen(n->n_path) ||
	    (n->n_kidlen > 0 && n->n_kids[n->n_kidlen - 1] != '\0')) {
		xsd_log(core, "check: %s: bad record", n->n_path);
		return (-EIO);
	}
	if (n->n_pathlen > 1) {
		plen = xsd_path_parent_len(n->n_path, n->n_pathlen);
		nstart = plen == 1 ? 1 : plen + 1;
		p = xsd_tree_find(core, n->n_path, plen);
		if (p == NULL ||
		    xsd_kids_find(p, n->n_path + nstart,
			n->n_pathlen - nstart) < 0) {
			xsd_log(core, "check: %s: orphan", n->n_path);
			return (-EIO);
		}
	}
	for (off = 0; off < n->n_kidlen; off += l + 1) {
		l = strlen(n->n_kids + off);
		clen = xsd_path_child(n->n_path, n->n_pathlen, n->n_kids + off,
		    l, cpath);
		if (clen == 0 || l == 0) {
			xsd_log(core, "check: %s: bad child name", n->n_path);
			return (-EIO);
		}
		if (xsd_tree_find(core, cpath, clen) == NULL) {
			xsd_log(core, "check: %s: child %s missing", n->n_path,
			    n->n_kids + off);
			return (-EIO);
		}
	}
	return (0);
}

/* Add up what c's domain is charged for on c's account. */
static void
xsd_check_conn_mem(const struct xsd_conn *c, struct xsd_domain *d)
{
	const struct xsd_watch *w;
	const struct xsd_txn *t;
	const struct xsd_out *m;

	if (c->c_priv)
		return;
	d->d_chk_mem += sizeof(*c);
	TAILQ_FOREACH(w, &c->c_watches, w_link)
		d->d_chk_mem += w->w_mem;
	TAILQ_FOREACH(t, &c->c_txns, t_link)
		d->d_chk_mem += t->t_mem;
	TAILQ_FOREACH(m, &c->c_out, m_link)
		d->d_chk_mem += xsd_out_mem(m);
}

int
xsd_core_check(struct xsd_core *core)
{
	struct xsd_domain *d;
	struct xsd_conn *c;
	struct xsd_watch *w;
	struct xsd_hent *e;
	struct xsd_node *n;
	int rc, b;

	if (xsd_tree_find(core, "/", 1) == NULL)
		return (-EIO);
	for (b = 0; b < XSD_DOM_BUCKETS; b++)
		LIST_FOREACH(d, &core->x_dom[b], d_link) {
			d->d_chk_nodes = d->d_chk_watches = 0;
			d->d_chk_mem = 0;
		}
	for (e = xsd_htab_next(&core->x_nodes, NULL); e != NULL;
	     e = xsd_htab_next(&core->x_nodes, e)) {
		n = XSD_CONTAINER(e, struct xsd_node, n_hent);
		if ((rc = xsd_check_node(core, n)) != 0)
			return (rc);
		if ((d = xsd_dom_find(core, n->n_perms[0].domid)) == NULL) {
			xsd_log(core, "check: %s: owner unknown", n->n_path);
			return (-EIO);
		}
		d->d_chk_nodes++;
		if (n->n_memdom != d->d_domid || n->n_mem != xsd_node_mem(n)) {
			xsd_log(core, "check: %s: charged %zu to %u", n->n_path,
			    n->n_mem, n->n_memdom);
			return (-EIO);
		}
		d->d_chk_mem += n->n_mem;
	}
	TAILQ_FOREACH(c, &core->x_conns, c_link) {
		if ((d = xsd_dom_find(core, c->c_domid)) == NULL)
			return (-EIO);
		TAILQ_FOREACH(w, &c->c_watches, w_link)
			d->d_chk_watches++;
		xsd_check_conn_mem(c, d);
	}
	for (b = 0; b < XSD_DOM_BUCKETS; b++) {
		LIST_FOREACH(d, &core->x_dom[b], d_link) {
			if (d->d_chk_nodes == d->d_nodes &&
			    d->d_chk_watches == (long)d->d_watches &&
			    d->d_chk_mem == d->d_mem)
				continue;
			xsd_log(core,
			    "check: domain %u: %ld nodes (counted %ld), "
			    "%u watches (counted %ld), memory %zu (counted "
			    "%zu)",
			    d->d_domid, d->d_nodes, d->d_chk_nodes,
			    d->d_watches, d->d_chk_watches, d->d_mem,
			    d->d_chk_mem);
			return (-EIO);
		}
	}
	return (0);
}
