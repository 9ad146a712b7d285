/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The node store and the operations that change it: WRITE, MKDIR, RM and
 * SET_PERMS, with 4.17's rules for permissions (ENOENT vs EACCES when
 * creating), inherited permissions on implicit creation, quotas,
 * generation counts and watch events.  Every operation works through a
 * view, so the same code runs on the global tree and inside a
 * transaction (whose private copies xsd_txn.c keeps).
 *
 * Operations are all-or-nothing: they look everything up, check every
 * quota and allocate everything before linking anything, so an error
 * never leaves half a change behind (XSA-414/415/421).  Subtree walks
 * use an explicit stack, never recursion (XSA-418).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xu_assert.h"
#include "xsd_internal.h"

/* ---------------------------------------------------------------------
 * Nodes
 */

size_t
xsd_node_size(const struct xsd_node *n)
{
	return (XSD_REC_HDR + (size_t)n->n_nperms * XSD_REC_PERM + n->n_vlen +
	    n->n_kidlen);
}

struct xsd_node *
xsd_node_new(const char *path, size_t len)
{
	struct xsd_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	if ((n->n_path = malloc(len + 1)) == NULL) {
		free(n);
		return (NULL);
	}
	memcpy(n->n_path, path, len);
	n->n_path[len] = '\0';
	n->n_pathlen = len;
	n->n_hent.he_key = n->n_path;
	n->n_hent.he_keylen = len;
	return (n);
}

void
xsd_node_free(struct xsd_node *n)
{
	if (n == NULL)
		return;
	free(n->n_path);
	free(n->n_perms);
	free(n->n_value);
	free(n->n_kids);
	free(n);
}

/* Copy len bytes into a new buffer (NULL for none); false on ENOMEM. */
static bool
xsd_memdup(const char *src, size_t len, char **out)
{
	*out = NULL;
	if (len == 0)
		return (true);
	if ((*out = malloc(len)) == NULL)
		return (false);
	memcpy(*out, src, len);
	return (true);
}

struct xsd_node *
xsd_node_dup(const struct xsd_node *n)
{
	struct xsd_node *d;

	if ((d = xsd_node_new(n->n_path, n->n_pathlen)) == NULL)
		return (NULL);
	d->n_gen = n->n_gen;
	d->n_nperms = n->n_nperms;
	d->n_vlen = n->n_vlen;
	d->n_kidlen = n->n_kidlen;
	if ((d->n_perms = xsd_perms_dup(n->n_perms, n->n_nperms)) == NULL ||
	    !xsd_memdup(n->n_value, n->n_vlen, &d->n_value) ||
	    !xsd_memdup(n->n_kids, n->n_kidlen, &d->n_kids)) {
		xsd_node_free(d);
		return (NULL);
	}
	return (d);
}

size_t
xsd_node_mem(const struct xsd_node *n)
{
	return (sizeof(*n) + n->n_pathlen + xsd_node_size(n) + XSD_NODE_SLOP);
}

void
xsd_node_account(struct xsd_core *core, struct xsd_node *n)
{
	xsd_node_unaccount(core, n);
	n->n_mem = xsd_node_mem(n);
	n->n_memdom = n->n_perms[0].domid;
	xsd_dom_mem_add(core, n->n_memdom, n->n_mem, false);
}

void
xsd_node_unaccount(struct xsd_core *core, struct xsd_node *n)
{
	if (n->n_mem > 0)
		xsd_dom_mem_add(core, n->n_memdom, n->n_mem, true);
	n->n_mem = 0;
}

/* Append a child name (NUL-terminated in the list).  0 or -ENOMEM. */
static int
xsd_kids_add(struct xsd_node *n, const char *name, size_t len)
{
	char *k;

	if ((k = realloc(n->n_kids, n->n_kidlen + len + 1)) == NULL)
		return (-ENOMEM);
	memcpy(k + n->n_kidlen, name, len);
	k[n->n_kidlen + len] = '\0';
	n->n_kids = k;
	n->n_kidlen += len + 1;
	return (0);
}

ssize_t
xsd_kids_find(const struct xsd_node *n, const char *name, size_t len)
{
	size_t off, l;

	for (off = 0; off < n->n_kidlen; off += l + 1) {
		l = strnlen(n->n_kids + off, n->n_kidlen - off);
		if (l == len && memcmp(n->n_kids + off, name, len) == 0)
			return ((ssize_t)off);
	}
	return (-1);
}

static void
xsd_kids_del(struct xsd_node *n, const char *name, size_t len)
{
	ssize_t off = xsd_kids_find(n, name, len);

	if (off < 0)
		return;
	memmove(n->n_kids + off, n->n_kids + (size_t)off + len + 1,
	    n->n_kidlen - (size_t)off - len - 1);
	n->n_kidlen -= len + 1;
}

struct xsd_node *
xsd_tree_find(const struct xsd_core *core, const char *path, size_t len)
{
	struct xsd_hent *e;

	e = xsd_htab_find(&core->x_nodes, path, len);
	return (e != NULL ? XSD_CONTAINER(e, struct xsd_node, n_hent) : NULL);
}

/* A global node of the initial tree, owned by dom0 with perms n0. */
static int
xsd_tree_add_initial(struct xsd_core *core, const char *path, const char *kid)
{
	static const struct xsd_perm n0 = { 0, XSD_PERM_NONE };
	struct xsd_node *n;

	if ((n = xsd_node_new(path, strlen(path))) == NULL)
		return (-ENOMEM);
	if ((n->n_perms = xsd_perms_dup(&n0, 1)) == NULL ||
	    (kid != NULL && xsd_kids_add(n, kid, strlen(kid)) != 0)) {
		xsd_node_free(n);
		return (-ENOMEM);
	}
	n->n_nperms = 1;
	n->n_gen = ++core->x_gen;
	xsd_htab_insert(&core->x_nodes, &n->n_hent);
	xsd_dom_nodes_add(core, 0, 1);
	xsd_node_account(core, n);
	return (0);
}

int
xsd_tree_init(struct xsd_core *core)
{
	int rc;

	if ((rc = xsd_tree_add_initial(core, "/", "tool")) != 0 ||
	    (rc = xsd_tree_add_initial(core, "/tool", "xenstored")) != 0 ||
	    (rc = xsd_tree_add_initial(core, "/tool/xenstored", NULL)) != 0)
		return (rc);
	return (0);
}

void
xsd_tree_fini(struct xsd_core *core)
{
	struct xsd_hent *e, *next;

	for (e = xsd_htab_next(&core->x_nodes, NULL); e != NULL; e = next) {
		next = xsd_htab_next(&core->x_nodes, e);
		xsd_node_free(XSD_CONTAINER(e, struct xsd_node, n_hent));
	}
	xsd_htab_fini(&core->x_nodes);
}

/* ---------------------------------------------------------------------
 * Views: the global tree, or a transaction's picture of it
 */

int
xsd_view_lookup(const struct xsd_view *v, const char *path, size_t len,
    struct xsd_node **out)
{
	struct xsd_trec *r;
	int rc;

	if (v->txn == NULL) {
		*out = xsd_tree_find(v->core, path, len);
		return (*out != NULL ? 0 : -ENOENT);
	}
	if ((r = xsd_txn_rec(v->txn, path, len)) == NULL &&
	    (rc = xsd_txn_access(v->conn, v->txn, path, len, &r)) != 0)
		return (rc);
	*out = r->r_node;
	return (*out != NULL ? 0 : -ENOENT);
}

/*
 * Bytes the caller's domain is about to hold more (the memory quota).
 * A transaction's private copies are charged here; growth of the global
 * tree is only checked, since xsd_node_account() charges each changed
 * node to its owner once it changed.
 */
static int
xsd_view_charge(const struct xsd_view *v, size_t bytes)
{
	int rc;

	if (v->conn == NULL || v->conn->c_priv || bytes == 0)
		return (0);
	if (v->txn == NULL)
		return (xsd_dom_over(v->conn, bytes) ? -ENOMEM : 0);
	if ((rc = xsd_dom_charge(v->conn, bytes)) != 0)
		return (rc);
	v->txn->t_mem += bytes;
	return (0);
}

/* The record of a node the view changed. */
static struct xsd_trec *
xsd_view_rec(const struct xsd_view *v, const struct xsd_node *n)
{
	struct xsd_trec *r = xsd_txn_rec(v->txn, n->n_path, n->n_pathlen);

	XU_ASSERT(r != NULL, ("no record for %s", n->n_path));
	r->r_modified = true;
	return (r);
}

/* n (already in the view) changed: new generation, commit writes it. */
static void
xsd_view_touch(const struct xsd_view *v, struct xsd_node *n)
{
	n->n_gen = ++v->core->x_gen;
	if (v->txn != NULL)
		(void)xsd_view_rec(v, n);
	else
		xsd_node_account(v->core, n);
}

/* Count n's ownership (dir +1 when it appears, -1 when it goes). */
static void
xsd_view_own(const struct xsd_view *v, unsigned int owner, long dir)
{
	if (v->txn == NULL)
		xsd_dom_nodes_add(v->core, owner, dir);
	else if (owner == v->conn->c_domid)
		v->txn->t_delta += dir;
}

/* Link a new node into the view (its lookup recorded it as absent). */
static void
xsd_view_insert(const struct xsd_view *v, struct xsd_node *n)
{
	struct xsd_trec *r;

	n->n_gen = ++v->core->x_gen;
	if (v->txn == NULL) {
		xsd_htab_insert(&v->core->x_nodes, &n->n_hent);
		xsd_node_account(v->core, n);
	} else {
		r = xsd_view_rec(v, n);
		XU_ASSERT(r->r_node == NULL, ("%s exists", n->n_path));
		r->r_node = n;
	}
	xsd_view_own(v, n->n_perms[0].domid, 1);
}

/* Unlink and free a node of the view. */
static void
xsd_view_remove(const struct xsd_view *v, struct xsd_node *n)
{
	xsd_view_own(v, n->n_perms[0].domid, -1);
	if (v->txn == NULL) {
		xsd_htab_remove(&v->core->x_nodes, &n->n_hent);
		xsd_node_unaccount(v->core, n);
	} else
		xsd_view_rec(v, n)->r_node = NULL;
	xsd_node_free(n);
}

/* ---------------------------------------------------------------------
 * Permission-checked access
 */

int
xsd_tree_get(const struct xsd_view *v, const char *path, size_t len,
    unsigned int want, struct xsd_node **out, struct xsd_node **anc)
{
	struct xsd_node *n;
	unsigned int have;
	int rc;

	rc = xsd_view_lookup(v, path, len, &n);
	if (rc == 0) {
		have = xsd_perm_for(v->conn, n->n_perms, n->n_nperms);
		if ((have & want) != want)
			return (-EACCES);
		*out = n;
		return (0);
	}
	if (rc != -ENOENT)
		return (rc);
	/*
	 * Missing: say ENOENT only to a caller the nearest existing
	 * ancestor grants the right to, so that existence does not leak.
	 */
	do {
		len = xsd_path_parent_len(path, len);
		rc = xsd_view_lookup(v, path, len, &n);
		if (rc != 0 && rc != -ENOENT)
			return (rc);
	} while (rc != 0 && len > 1);
	if (rc != 0)
		return (-EACCES); /* no root: cannot happen, "/" is kept */
	if ((xsd_perm_for(v->conn, n->n_perms, n->n_nperms) & want) == 0)
		return (-EACCES);
	if (anc != NULL)
		*anc = n;
	return (-ENOENT);
}

/* ---------------------------------------------------------------------
 * Creation
 */

/* Length of the path component starting after the '/' at p[i]. */
static size_t
xsd_comp_len(const char *p, size_t len, size_t i)
{
	size_t j = i + 1;

	while (j < len && p[j] != '/')
		j++;
	return (j - i - 1);
}

/*
 * Create path with value val, and every missing level between it and
 * anc, its nearest existing ancestor.  New levels copy anc's perms; an
 * unprivileged creator becomes their owner.  Returns the leaf in *out.
 */
static int
xsd_tree_create(const struct xsd_view *v, const char *path, size_t len,
    struct xsd_node *anc, const char *val, size_t vlen, struct xsd_node **out)
{
	struct xsd_conn *c = v->conn;
	const struct xsd_opts *o = &v->core->x_opts;
	struct xsd_node **lev = NULL;
	size_t start, i, pos, clen, nlev = 0, base, bytes = 0, sz;
	struct xsd_domain *d;
	long owned;
	int rc = -ENOMEM;

	/* p[start] is the '/' before the first new component. */
	start = anc->n_pathlen == 1 ? 0 : anc->n_pathlen;
	for (i = start; i < len; i++)
		if (path[i] == '/')
			nlev++;
	XU_ASSERT(nlev > 0, ("nothing to create for %s", path));
	base = XSD_REC_HDR + (size_t)anc->n_nperms * XSD_REC_PERM;
	if (!c->c_priv) {
		d = xsd_dom_find(v->core, c->c_domid);
		owned = (d != NULL ? d->d_nodes : 0) +
		    (v->txn != NULL ? v->txn->t_delta : 0);
		if (owned + (long)nlev > (long)o->o_nodes)
			return (-ENOSPC);
		/* The ancestor's record grows by the first new name. */
		clen = xsd_comp_len(path, len, start);
		if (xsd_node_size(anc) + clen + 1 > o->o_node_size)
			return (-ENOSPC);
		for (pos = start; pos < len; pos += clen + 1) {
			clen = xsd_comp_len(path, len, pos);
			sz = pos + 1 + clen < len ?
			    base + xsd_comp_len(path, len, pos + 1 + clen) + 1 :
			    base + vlen;
			if (sz > o->o_node_size)
				return (-ENOSPC);
			bytes += sizeof(struct xsd_node) + pos + 1 + clen + sz +
			    XSD_NODE_SLOP;
		}
		bytes += xsd_comp_len(path, len, start) + 1;
	}
	if ((lev = calloc(nlev, sizeof(*lev))) == NULL)
		return (-ENOMEM);
	for (i = 0, pos = start; i < nlev; i++, pos += clen + 1) {
		clen = xsd_comp_len(path, len, pos);
		if ((lev[i] = xsd_node_new(path, pos + 1 + clen)) == NULL ||
		    (lev[i]->n_perms =
			    xsd_perms_dup(anc->n_perms, anc->n_nperms)) == NULL)
			goto fail;
		lev[i]->n_nperms = anc->n_nperms;
		if (!c->c_priv)
			lev[i]->n_perms[0].domid = c->c_domid;
		if (i + 1 < nlev) {
			if (xsd_kids_add(lev[i], path + pos + 1 + clen + 1,
				xsd_comp_len(path, len, pos + 1 + clen)) != 0)
				goto fail;
		} else if (!xsd_memdup(val, vlen, &lev[i]->n_value)) {
			goto fail;
		} else {
			lev[i]->n_vlen = vlen;
		}
	}
	if ((rc = xsd_view_charge(v, bytes)) != 0)
		goto fail;
	if (xsd_kids_add(anc, path + start + 1,
		xsd_comp_len(path, len, start)) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Nothing can fail from here on. */
	xsd_view_touch(v, anc);
	for (i = 0; i < nlev; i++)
		xsd_view_insert(v, lev[i]);
	*out = lev[nlev - 1];
	free(lev);
	return (0);
fail:
	for (i = 0; i < nlev; i++)
		xsd_node_free(lev[i]);
	free(lev);
	return (rc);
}

/* ---------------------------------------------------------------------
 * Operations
 */

int
xsd_tree_write(const struct xsd_view *v, const char *path, size_t len,
    const char *val, size_t vlen)
{
	struct xsd_node *n, *anc;
	char *nv;
	int rc;

	rc = xsd_tree_get(v, path, len, XSD_PERM_WRITE, &n, &anc);
	if (rc == -ENOENT) {
		rc = xsd_tree_create(v, path, len, anc, val, vlen, &n);
		if (rc != 0)
			return (rc);
	} else if (rc != 0) {
		return (rc);
	} else {
		if (!v->conn->c_priv &&
		    xsd_node_size(n) - n->n_vlen + vlen >
			v->core->x_opts.o_node_size)
			return (-ENOSPC);
		if (vlen > n->n_vlen &&
		    (rc = xsd_view_charge(v, vlen - n->n_vlen)) != 0)
			return (rc);
		if (!xsd_memdup(val, vlen, &nv))
			return (-ENOMEM);
		free(n->n_value);
		n->n_value = nv;
		n->n_vlen = vlen;
		xsd_view_touch(v, n);
	}
	/* One event for the written node; created parents fire none. */
	xsd_watch_fire(v, n->n_path, false, n, NULL, 0);
	return (0);
}

int
xsd_tree_mkdir(const struct xsd_view *v, const char *path, size_t len)
{
	struct xsd_node *n, *anc;
	int rc;

	rc = xsd_tree_get(v, path, len, XSD_PERM_WRITE, &n, &anc);
	if (rc != -ENOENT)
		return (rc); /* an existing node is fine and fires nothing */
	if ((rc = xsd_tree_create(v, path, len, anc, NULL, 0, &n)) != 0)
		return (rc);
	xsd_watch_fire(v, n->n_path, false, n, NULL, 0);
	return (0);
}

/* One level of the explicit stack of a subtree walk. */
struct xsd_walk {
	struct xsd_node *node; /* the node being walked */
	size_t off;	       /* next child name in node->n_kids */
};

/*
 * The subtree at root in post order (children before parents, root
 * last), walked with a heap stack so that depth costs no C stack.
 */
static int
xsd_subtree(const struct xsd_view *v, struct xsd_node *root,
    struct xsd_node ***listp, size_t *countp)
{
	char cpath[XENSTORE_ABS_PATH_MAX + 1];
	struct xsd_walk *stack = NULL, *top;
	struct xsd_node **list = NULL, *child;
	size_t depth = 0, scap = 0, count = 0, lcap = 0, nlen, clen;
	const char *name;
	void *grown;
	int rc = -ENOMEM;

	if ((stack = xsd_grow(stack, &scap, 1, sizeof(*stack))) == NULL)
		goto out;
	stack[depth++] = (struct xsd_walk) { root, 0 };
	while (depth > 0) {
		top = &stack[depth - 1];
		if (top->off >= top->node->n_kidlen) {
			if ((grown = xsd_grow(list, &lcap, count + 1,
				 sizeof(*list))) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			list = grown;
			list[count++] = top->node;
			depth--;
			continue;
		}
		name = top->node->n_kids + top->off;
		nlen = strlen(name);
		top->off += nlen + 1;
		clen = xsd_path_child(top->node->n_path, top->node->n_pathlen,
		    name, nlen, cpath);
		if (clen == 0)
			continue; /* cannot be stored; xsd_core_check says */
		rc = xsd_view_lookup(v, cpath, clen, &child);
		if (rc == -ENOENT)
			continue;
		if (rc != 0)
			goto out;
		if ((grown = xsd_grow(stack, &scap, depth + 1,
			 sizeof(*stack))) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		stack = grown;
		stack[depth++] = (struct xsd_walk) { child, 0 };
	}
	rc = 0;
out:
	free(stack);
	if (rc != 0) {
		free(list);
		list = NULL;
		count = 0;
	}
	*listp = list;
	*countp = count;
	return (rc);
}

/* Remove root (not "/") and its subtree from the view, firing events. */
static int
xsd_tree_rm_subtree(const struct xsd_view *v, struct xsd_node *root)
{
	struct xsd_node **list, *parent;
	size_t count, i, plen;
	int rc;

	plen = xsd_path_parent_len(root->n_path, root->n_pathlen);
	if ((rc = xsd_view_lookup(v, root->n_path, plen, &parent)) != 0)
		return (rc == -ENOENT ? -EINVAL : rc);
	if ((rc = xsd_subtree(v, root, &list, &count)) != 0)
		return (rc);
	/*
	 * Events first, while every node and its parent can still be read
	 * for the permission filter: the root matches watches on itself
	 * and its ancestors, each descendant only watches on exactly it.
	 */
	xsd_watch_fire(v, root->n_path, false, root, NULL, 0);
	for (i = 0; i + 1 < count; i++)
		xsd_watch_fire(v, list[i]->n_path, true, list[i], NULL, 0);
	xsd_kids_del(parent, root->n_path + (plen == 1 ? 1 : plen + 1),
	    root->n_pathlen - (plen == 1 ? 1 : plen + 1));
	xsd_view_touch(v, parent);
	for (i = 0; i < count; i++)
		xsd_view_remove(v, list[i]);
	free(list);
	return (0);
}

int
xsd_tree_rm(const struct xsd_view *v, const char *path, size_t len)
{
	struct xsd_node *n;
	int rc;

	rc = xsd_tree_get(v, path, len, XSD_PERM_WRITE, &n, NULL);
	if (rc == -ENOENT) {
		/* Already gone is fine, if the parent is there. */
		rc = xsd_view_lookup(v, path, xsd_path_parent_len(path, len),
		    &n);
		return (rc);
	}
	if (rc != 0)
		return (rc);
	if (len == 1)
		return (-EINVAL); /* "/" stays */
	return (xsd_tree_rm_subtree(v, n));
}

int
xsd_tree_rm_global(struct xsd_core *core, struct xsd_node *n)
{
	struct xsd_view v = { core, NULL, NULL };

	return (xsd_tree_rm_subtree(&v, n));
}

int
xsd_tree_set_perms(const struct xsd_view *v, const char *path, size_t len,
    const struct xsd_perm *p, unsigned int np)
{
	struct xsd_node *n;
	struct xsd_perm *newp, *old;
	unsigned int nold;
	int rc;

	rc = xsd_tree_get(v, path, len, XSD_PERM_WRITE | XSD_PERM_OWNER, &n,
	    NULL);
	if (rc != 0)
		return (rc);
	if (!v->conn->c_priv) {
		/* Giving nodes away would escape the quota (XSA-352). */
		if (p[0].domid != n->n_perms[0].domid)
			return (-EPERM);
		if (XSD_REC_HDR + (size_t)np * XSD_REC_PERM + n->n_vlen +
			n->n_kidlen >
		    v->core->x_opts.o_node_size)
			return (-ENOSPC);
	}
	if (np > n->n_nperms &&
	    (rc = xsd_view_charge(v, (np - n->n_nperms) * sizeof(*p))) != 0)
		return (rc);
	if ((newp = xsd_perms_dup(p, np)) == NULL)
		return (-ENOMEM);
	old = n->n_perms;
	nold = n->n_nperms;
	if (old[0].domid != newp[0].domid) {
		xsd_view_own(v, old[0].domid, -1);
		xsd_view_own(v, newp[0].domid, 1);
	}
	n->n_perms = newp;
	n->n_nperms = np;
	xsd_view_touch(v, n);
	/* Watchers who could read it under the old perms hear too. */
	xsd_watch_fire(v, n->n_path, false, n, old, nold);
	free(old);
	return (0);
}
