/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon's core, shared by its files and reachable by tests and the
 * fuzzer: the node tree, domains, connections with their input and
 * output buffers, watches and transactions.  Nothing here touches a
 * socket: a connection is fed bytes (xsd_conn_input) and yields bytes
 * (xsd_conn_output_peek/consume), so several in-memory connections can
 * drive one core.  xsd_server.c puts sockets around it.
 *
 * Semantics follow Xen 4.17's C xenstored as described in
 * docs/hypervisor.md section 1 (the reference); where a socket transport
 * needs more (several connections per domain) the choice is documented
 * at the definition.  The core is single-threaded: one thread at a time.
 */

#ifndef XBD_XSD_INTERNAL_H
#define XBD_XSD_INTERNAL_H

#include <bsd/sys/queue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/xen_shim.h"
#include "xsd.h"

/* ---------------------------------------------------------------------
 * Tunables and protocol constants
 */

/* The wire header: four u32 (type, req_id, tx_id, len). */
#define XSD_HDR_LEN ((size_t)sizeof(struct xsd_sockmsg))
/* The longest message either side may send. */
#define XSD_MSG_MAX (XSD_HDR_LEN + XENSTORE_PAYLOAD_MAX)
/*
 * Input buffered per connection: two whole messages, so that one read()
 * can complete a request and start the next without the buffer ever
 * growing; a stalled connection keeps at most this much.
 */
#define XSD_INBUF (2 * XSD_MSG_MAX)
/*
 * A privileged client has no outstanding-request quota in 4.17, but the
 * daemon must not buffer replies without bound for a socket that never
 * reads: past this many unread replies we stop reading it too.  Far
 * above what any real client pipelines (libxenstore has one request in
 * flight per handle).
 */
#define XSD_PRIV_OUTSTANDING 256
/*
 * Pending watch events for a privileged connection before it is dropped
 * (unprivileged ones use o_watch_events).  Generous, since the toolstack
 * legitimately watches everything, yet a bound (~270 MiB worst case).
 */
#define XSD_PRIV_WATCH_EVENTS 65536
/*
 * 4.17 charges the entry-size quota on the stored record: a 24-byte
 * header (u64 generation, u32 num_perms, datalen, childlen, padded), 8
 * bytes per permission, then the value and the NUL-separated child names.
 */
#define XSD_REC_HDR 24
#define XSD_REC_PERM 8
/*
 * What the memory quota charges a global node beyond its bytes: the
 * allocator's header and rounding (about 16 bytes) on each of its five
 * allocations (struct, path, perms, value, child names).
 */
#define XSD_NODE_SLOP (5 * 16)
/* "No generation": the node did not exist when a transaction looked. */
#define XSD_NO_GEN UINT64_MAX
/* Domain ids a domain may have: below Xen's reserved ids (DOMID_SELF...). */
#define XSD_DOMID_LIMIT ((unsigned int)DOMID_FIRST_RESERVED)
/* No domain (SET_TARGET unset). */
#define XSD_DOMID_NONE UINT32_MAX
/* Buckets of the domain table: domains are few (one per guest). */
#define XSD_DOM_BUCKETS 64
/* "/local/domain/4294967295" plus NUL: the longest home path. */
#define XSD_HOME_MAX 32
/* The special watch names of 4.17 (no /domid suffix form). */
#define XSD_INTRODUCE "@introduceDomain"
#define XSD_RELEASE "@releaseDomain"

/* ---------------------------------------------------------------------
 * Permissions
 */

/* Bits of one permission entry (the values of libxenstore's XS_PERM_*). */
enum xsd_perm_bits {
	XSD_PERM_NONE = 0,
	XSD_PERM_READ = 1u << 0,
	XSD_PERM_WRITE = 1u << 1,
	XSD_PERM_OWNER = 1u << 3,  /* computed, never stored */
	XSD_PERM_IGNORE = 1u << 4, /* stored: the domain does not exist */
};

/* One permission entry: entry 0 of a list is owner + default access. */
struct xsd_perm {
	unsigned int domid; /* domain the entry is about */
	unsigned int bits;  /* enum xsd_perm_bits */
};

/* ---------------------------------------------------------------------
 * Hash table: string keys, intrusive entries, chained buckets
 */

struct xsd_hent {
	struct xsd_hent *he_next; /* next in the bucket */
	const char *he_key;	  /* the key, owned by the container */
	size_t he_keylen;	  /* strlen(he_key) */
	uint32_t he_hash;	  /* hash of the key */
};

struct xsd_htab {
	struct xsd_hent **ht_bucket; /* ht_size chains */
	size_t ht_size;		     /* a power of two */
	size_t ht_count;	     /* entries */
};

#define XSD_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

int xsd_htab_init(struct xsd_htab *ht);
void xsd_htab_fini(struct xsd_htab *ht);
struct xsd_hent *xsd_htab_find(const struct xsd_htab *ht, const char *key,
    size_t len);
/* Insert e (its key set, not present yet).  Never fails: it only may
 * not grow the table when memory is short. */
void xsd_htab_insert(struct xsd_htab *ht, struct xsd_hent *e);
void xsd_htab_remove(struct xsd_htab *ht, struct xsd_hent *e);
/* Iterate: first call with prev NULL.  No insert/remove meanwhile. */
struct xsd_hent *xsd_htab_next(const struct xsd_htab *ht,
    const struct xsd_hent *prev);
/*
 * Grow arr (*cap elements of esz bytes) to hold at least n: the array,
 * perhaps moved, or NULL when memory is short (arr is then unchanged).
 */
void *xsd_grow(void *arr, size_t *cap, size_t n, size_t esz);

/* ---------------------------------------------------------------------
 * Nodes
 *
 * The store is flat like 4.17's TDB: absolute path -> record.  A record
 * holds its value, permissions, generation and its children's names in
 * creation order (what DIRECTORY returns).  Every node's parent exists
 * and lists it; xsd_core_check() verifies exactly that.  Transactions
 * hold private copies of the same struct.
 */
struct xsd_node {
	struct xsd_hent n_hent;	  /* in the core's table (key n_path) */
	char *n_path;		  /* canonical absolute path */
	size_t n_pathlen;	  /* strlen(n_path) */
	uint64_t n_gen;		  /* generation of the last change */
	struct xsd_perm *n_perms; /* entry 0 = owner and default */
	unsigned int n_nperms;	  /* >= 1 */
	char *n_value;		  /* value bytes (no NUL), may be NULL */
	size_t n_vlen;		  /* bytes of n_value */
	char *n_kids;		  /* child names, each NUL-terminated */
	size_t n_kidlen;	  /* bytes of n_kids */
	size_t n_mem;		  /* bytes charged for it (global only) */
	unsigned int n_memdom;	  /* the domain n_mem is charged to */
};

/* ---------------------------------------------------------------------
 * Domains
 *
 * A domain record exists for every domid the daemon has heard of.  In
 * 4.17 a perm entry counts only if the hypervisor knows the domain; the
 * simulation has no hypervisor to ask, so the toolstack's word stands
 * for it: a domid "exists" once a privileged connection names it
 * (SET_PERMS, INTRODUCE) or one of its connections is opened, until
 * RELEASE.  Entries naming domains that do not exist are stored with
 * XSD_PERM_IGNORE (XSA-322/417).
 */
struct xsd_domain {
	LIST_ENTRY(xsd_domain) d_link; /* in its bucket of the core */
	unsigned int d_domid;	       /* the domain id */
	bool d_exists;		       /* its perm entries count */
	bool d_introduced;	       /* INTRODUCE'd, not released */
	uint64_t d_since;	       /* generation it came to exist at */
	unsigned long d_gfn;	       /* INTRODUCE's ring frame (unused) */
	unsigned int d_evtchn;	       /* INTRODUCE's port (unused) */
	unsigned int d_target;	       /* SET_TARGET domid or NONE */
	long d_nodes;		       /* nodes it owns in the global tree */
	unsigned int d_watches;	       /* watches of its connections */
	size_t d_mem;		       /* bytes charged: see xsd_dom_charge */
	long d_chk_nodes;	       /* scratch of xsd_core_check() */
	long d_chk_watches;	       /* scratch of xsd_core_check() */
	size_t d_chk_mem;	       /* scratch of xsd_core_check() */
};

/* ---------------------------------------------------------------------
 * Connections
 */

/* What an output message is: replies count against back-pressure. */
enum xsd_out_kind {
	XSD_OUT_REPLY = 0,
	XSD_OUT_EVENT = 1,
};

/* One message queued for the client: header and payload, ready to go. */
struct xsd_out {
	TAILQ_ENTRY(xsd_out) m_link; /* on the connection's c_out */
	enum xsd_out_kind m_kind;    /* reply or watch event */
	size_t m_len;		     /* bytes in m_buf */
	unsigned char m_buf[];	     /* header then payload */
};

/* A registered watch. */
struct xsd_watch {
	TAILQ_ENTRY(xsd_watch) w_link; /* on the connection's c_watches */
	char *w_path;		       /* canonical path or @name */
	char *w_token;		       /* echoed in events */
	size_t w_rel;		       /* bytes cut from event paths */
	size_t w_mem;		       /* bytes charged to the domain */
};

/* A node a transaction accessed (first access records the generation). */
struct xsd_trec {
	struct xsd_hent r_hent;	      /* in t_recs, key r_path */
	TAILQ_ENTRY(xsd_trec) r_link; /* on t_order, first-access order */
	char *r_path;		      /* absolute path */
	uint64_t r_gen;		      /* global gen then, or XSD_NO_GEN */
	struct xsd_node *r_node;      /* private copy; NULL: absent/deleted */
	bool r_modified;	      /* commit writes it back */
	unsigned int r_events;	      /* events queued: 1 subtree, 2 exact */
};

/* A watch event a transaction fires if it commits. */
struct xsd_tevent {
	TAILQ_ENTRY(xsd_tevent) e_link; /* on t_events */
	bool e_exact;			/* only watches on exactly e_path */
	struct xsd_perm *e_perms;	/* the node's perms at the change */
	unsigned int e_nperms;		/* entries in e_perms */
	struct xsd_perm *e_old;		/* perms before a SET_PERMS */
	unsigned int e_nold;		/* entries in e_old (0: none) */
	char e_path[];			/* the changed node */
};

/* A transaction: 4.17's lazy optimistic model (docs/hypervisor.md 1.7). */
struct xsd_txn {
	TAILQ_ENTRY(xsd_txn) t_link;	   /* on the connection's c_txns */
	uint32_t t_id;			   /* per-connection id, never 0 */
	struct xsd_htab t_recs;		   /* path -> struct xsd_trec */
	TAILQ_HEAD(, xsd_trec) t_order;	   /* the same, in access order */
	unsigned int t_nrecs;		   /* nodes touched */
	long t_delta;			   /* nodes the conn's domain gains */
	bool t_failed;			   /* commit answers ENOMEM */
	TAILQ_HEAD(, xsd_tevent) t_events; /* fired on commit */
	size_t t_mem;			   /* bytes charged to the domain */
};

/*
 * A client connection.  Identity (domid, privilege) is fixed at creation
 * from the transport.  A connection is "closing" once the core decided
 * to drop it (RELEASE, protocol violation, event overflow): it takes no
 * more input or output, and its watches and transactions go at the next
 * reap.  Its owner (the server, a test, the fuzzer) frees it.
 */
struct xsd_conn {
	TAILQ_ENTRY(xsd_conn) c_link;	   /* on the core's x_conns */
	struct xsd_core *c_core;	   /* the core serving it */
	unsigned int c_domid;		   /* acts as this domain */
	bool c_priv;			   /* socket or dom0: no checks */
	bool c_closing;			   /* dropped by the core */
	bool c_reaped;			   /* watches/txns already released */
	char c_home[XSD_HOME_MAX];	   /* implicit path of relatives */
	size_t c_homelen;		   /* strlen(c_home) */
	unsigned char c_in[XSD_INBUF];	   /* request bytes not yet run */
	size_t c_inlen;			   /* bytes in c_in */
	TAILQ_HEAD(, xsd_out) c_out;	   /* queued replies and events */
	size_t c_outoff;		   /* bytes of the head already sent */
	unsigned int c_nreplies;	   /* replies in c_out */
	unsigned int c_nevents;		   /* events in c_out */
	TAILQ_HEAD(, xsd_watch) c_watches; /* registered watches */
	TAILQ_HEAD(, xsd_txn) c_txns;	   /* open transactions */
	unsigned int c_ntxns;		   /* entries of c_txns */
	uint32_t c_next_txid;		   /* next transaction id to try */
};

/* Hooks the server gives the core to follow domains' sockets. */
struct xsd_hooks {
	/* A domain was introduced: serve its socket.  0 or -errno. */
	int (*h_introduce)(void *arg, unsigned int domid);
	/* A domain was released: its socket goes. */
	void (*h_release)(void *arg, unsigned int domid);
};

/* The whole daemon state. */
struct xsd_core {
	struct xsd_opts x_opts;	 /* quotas and log hook */
	struct xsd_htab x_nodes; /* path -> struct xsd_node */
	uint64_t x_gen;		 /* last generation handed out */
	LIST_HEAD(, xsd_domain) x_dom[XSD_DOM_BUCKETS]; /* by domid */
	TAILQ_HEAD(, xsd_conn) x_conns;			/* every connection */
	struct xsd_perm *x_sperms[2];	 /* @introduce/@release */
	unsigned int x_nsperms[2];	 /* entries of x_sperms */
	const struct xsd_hooks *x_hooks; /* NULL: no sockets */
	void *x_hooks_arg;		 /* passed to x_hooks */
	uint64_t x_outseq;		 /* bumped per queued message */
};

/*
 * What a request works on: the global tree, or a transaction over it,
 * on behalf of one connection.
 */
struct xsd_view {
	struct xsd_core *core; /* the daemon */
	struct xsd_conn *conn; /* the caller; NULL: the daemon itself */
	struct xsd_txn *txn;   /* NULL: the global tree (always if !conn) */
};

/* ---------------------------------------------------------------------
 * xsd_core.c: life cycle, logging, domains, consistency check
 */

int xsd_core_new(const struct xsd_opts *o, struct xsd_core **out);
/* Frees every node, domain and connection still open. */
void xsd_core_free(struct xsd_core *core);
void xsd_core_set_hooks(struct xsd_core *core, const struct xsd_hooks *h,
    void *arg);
/* Validate options (o_size, zero quotas) into a full copy. */
int xsd_opts_copy(const struct xsd_opts *in, struct xsd_opts *out);
void xsd_log(const struct xsd_core *core, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Release watches and transactions of connections the core dropped. */
void xsd_core_reap(struct xsd_core *core);
/* Verify the tree's invariants; 0 or -EIO (logged). */
int xsd_core_check(struct xsd_core *core);

struct xsd_domain *xsd_dom_find(const struct xsd_core *core,
    unsigned int domid);
/* The record, created (not existing) if missing; NULL on ENOMEM. */
struct xsd_domain *xsd_dom_get(struct xsd_core *core, unsigned int domid);
/* Make domid exist (stamped now).  -EINVAL for reserved ids, -ENOMEM. */
int xsd_dom_make_exist(struct xsd_core *core, unsigned int domid);
/* Does domid count in perms, for a node last changed at gen? */
bool xsd_dom_valid(const struct xsd_core *core, unsigned int domid,
    uint64_t gen);
/* Adjust the count of nodes owned by domid. */
void xsd_dom_nodes_add(struct xsd_core *core, unsigned int domid, long n);
/*
 * The memory quota (o_memory) bounds everything a domain makes the
 * daemon hold, as 4.17's hard memory quota does (XSA-326): the global
 * nodes it owns, its transactions' copies and queued events, its
 * watches, its connections and the replies and events queued for them.
 * Charge bytes to the caller's domain: -ENOMEM over o_memory.
 */
int xsd_dom_charge(struct xsd_conn *c, size_t bytes);
void xsd_dom_uncharge(struct xsd_conn *c, size_t bytes);
/* Charge (or with sub, uncharge) domid without a check. */
void xsd_dom_mem_add(struct xsd_core *core, unsigned int domid, size_t bytes,
    bool sub);
/* Would bytes more take the caller's domain over o_memory? */
bool xsd_dom_over(const struct xsd_conn *c, size_t bytes);
/* RELEASE: drop connections and nodes, fire @releaseDomain. */
void xsd_dom_release(struct xsd_core *core, unsigned int domid);

/* ---------------------------------------------------------------------
 * xsd_path.c: path syntax and canonical form
 */

/*
 * Canonicalise a path a client sent (relative ones live under its home)
 * and apply 4.17's rules: starts with '/', no trailing '/', no "//",
 * characters [A-Za-z0-9-/_@], at most XENSTORE_ABS_PATH_MAX bytes, a
 * relative path at most XENSTORE_REL_PATH_MAX, and for unprivileged
 * callers at most o_path_max bytes below a /local/domain/<id>/ prefix.
 * \param out  at least XENSTORE_ABS_PATH_MAX + 1 bytes
 * \return the length of *out, or -EINVAL.
 */
int xsd_path_canon(const struct xsd_conn *c, const char *in, char *out);
/*
 * parent/name into out (XENSTORE_ABS_PATH_MAX + 1 bytes): its length, or
 * 0 when that would be longer than a path may be.
 */
size_t xsd_path_child(const char *parent, size_t plen, const char *name,
    size_t nlen, char *out);
/* Is p the path a or below it? */
bool xsd_path_within(const char *p, const char *a, size_t alen);
/* Length of the parent's path ("/" for top-level nodes); p is not "/". */
size_t xsd_path_parent_len(const char *p, size_t len);
/* Is name one of the two special watch names? */
bool xsd_path_is_special(const char *name);
/* Strict decimal: digits only, no sign/space, value <= max. 0 / -EINVAL */
int xsd_parse_ulong(const char *s, unsigned long max, unsigned long *out);

/* ---------------------------------------------------------------------
 * xsd_perm.c: permission strings and access checks
 */

/* Parse n NUL-terminated strings at s ("r5" ...).  0 or -EINVAL. */
int xsd_perms_parse(const char *s, unsigned int n, struct xsd_perm *out);
/* Format as NUL-terminated strings; returns bytes (0 if cap too small). */
size_t xsd_perms_format(const struct xsd_perm *p, unsigned int n, char *buf,
    size_t cap);
/* Rights (READ|WRITE|OWNER) the connection holds under a perm list. */
unsigned int xsd_perm_for(const struct xsd_conn *c, const struct xsd_perm *p,
    unsigned int n);
struct xsd_perm *xsd_perms_dup(const struct xsd_perm *p, unsigned int n);

/* ---------------------------------------------------------------------
 * xsd_tree.c: nodes through a view, and the modifying operations
 */

/* Offset of name (len bytes) in n's child list, or -1. */
ssize_t xsd_kids_find(const struct xsd_node *n, const char *name, size_t len);
/* Bytes 4.17 would store for the node (the entry-size quota). */
size_t xsd_node_size(const struct xsd_node *n);
/* Bytes a global node costs its owner's memory quota. */
size_t xsd_node_mem(const struct xsd_node *n);
/* Charge a global node's current size to its current owner. */
void xsd_node_account(struct xsd_core *core, struct xsd_node *n);
/* Take back what the node was charged (before it leaves the tree). */
void xsd_node_unaccount(struct xsd_core *core, struct xsd_node *n);
struct xsd_node *xsd_node_new(const char *path, size_t len);
struct xsd_node *xsd_node_dup(const struct xsd_node *n);
void xsd_node_free(struct xsd_node *n);
/* The global node at path, or NULL. */
struct xsd_node *xsd_tree_find(const struct xsd_core *core, const char *path,
    size_t len);
/* Build "/", "/tool", "/tool/xenstored" (perms n0). */
int xsd_tree_init(struct xsd_core *core);
void xsd_tree_fini(struct xsd_core *core);
/*
 * The node at path as the view sees it (recording the access in a
 * transaction).  0, -ENOENT, or -ENOSPC/-ENOMEM (transaction quota; the
 * transaction is failed).
 */
int xsd_view_lookup(const struct xsd_view *v, const char *path, size_t len,
    struct xsd_node **out);
/*
 * The node if the caller holds all of want, else -EACCES; when missing,
 * -ENOENT if the nearest existing ancestor grants some of want and
 * -EACCES otherwise (4.17's errno_from_parents).  *anc gets that
 * ancestor when -ENOENT is returned (anc may be NULL).
 */
int xsd_tree_get(const struct xsd_view *v, const char *path, size_t len,
    unsigned int want, struct xsd_node **out, struct xsd_node **anc);
int xsd_tree_write(const struct xsd_view *v, const char *path, size_t len,
    const char *val, size_t vlen);
int xsd_tree_mkdir(const struct xsd_view *v, const char *path, size_t len);
int xsd_tree_rm(const struct xsd_view *v, const char *path, size_t len);
int xsd_tree_set_perms(const struct xsd_view *v, const char *path, size_t len,
    const struct xsd_perm *p, unsigned int n);
/* Remove the subtree at a global node, firing events; for RELEASE. */
int xsd_tree_rm_global(struct xsd_core *core, struct xsd_node *n);

/* ---------------------------------------------------------------------
 * xsd_txn.c: transactions
 */

struct xsd_txn *xsd_txn_find(const struct xsd_conn *c, uint32_t id);
/* Open one; 0, -ENOSPC (quota) or -ENOMEM. */
int xsd_txn_start(struct xsd_conn *c, struct xsd_txn **out);
/* Commit (fires events) or abort; frees the transaction either way.
 * 0, -EAGAIN (conflict), -ENOMEM (failed), -ENOSPC (node quota). */
int xsd_txn_end(struct xsd_conn *c, struct xsd_txn *t, bool commit);
void xsd_txn_abort_all(struct xsd_conn *c);
/* The record of path in t, or NULL. */
struct xsd_trec *xsd_txn_rec(const struct xsd_txn *t, const char *path,
    size_t len);
/* Record a first access; the global node (or NULL) is copied. */
int xsd_txn_access(struct xsd_conn *c, struct xsd_txn *t, const char *path,
    size_t len, struct xsd_trec **out);
/*
 * Queue an event of c's transaction t to fire on commit.  -ENOMEM
 * (memory or quota) fails the transaction.
 */
int xsd_txn_add_event(struct xsd_conn *c, struct xsd_txn *t, const char *path,
    bool exact, const struct xsd_node *n, const struct xsd_perm *old,
    unsigned int nold);

/* ---------------------------------------------------------------------
 * xsd_watch.c: watches and events
 */

/* WATCH: 0, -EEXIST, -E2BIG (quota), -ENOMEM. */
int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token,
    size_t rel, struct xsd_watch **out);
/* UNWATCH: 0 or -ENOENT. */
int xsd_watch_remove(struct xsd_conn *c, const char *path, const char *token);
void xsd_watch_remove_all(struct xsd_conn *c);
/* Queue the event of one watch for the path (no permission check). */
void xsd_watch_event(struct xsd_conn *c, const struct xsd_watch *w,
    const char *path);
/*
 * A node changed: in a transaction queue the event, else deliver it to
 * every connection with a matching watch that may see it (XSA-115).
 * perms: the node's perms (NULL if none); old: perms before SET_PERMS.
 */
void xsd_watch_fire(const struct xsd_view *v, const char *path, bool exact,
    const struct xsd_node *n, const struct xsd_perm *old, unsigned int nold);
/* Deliver now (used by commit and for the special events). */
void xsd_watch_deliver(struct xsd_core *core, const char *path, bool exact,
    const struct xsd_perm *perms, unsigned int nperms,
    const struct xsd_perm *old, unsigned int nold);

/* ---------------------------------------------------------------------
 * xsd_conn.c: connections, reassembly and output queue
 */

/* A connection of domid (priv: the privileged socket, domid ignored). */
int xsd_conn_new(struct xsd_core *core, unsigned int domid, bool priv,
    struct xsd_conn **out);
/*
 * An in-memory connection for tests and the fuzzer: domid acts as that
 * (unprivileged unless 0) domain; XSD_DOMID_NONE is the privileged
 * socket.  Its domain is made to exist.
 */
int xsd_conn_new_mem(struct xsd_core *core, unsigned int domid,
    struct xsd_conn **out);
/* Free a connection (not from inside the core's processing). */
void xsd_conn_free(struct xsd_conn *c);
/*
 * Feed bytes the client sent; complete requests run at once unless the
 * connection is stalled by back-pressure.
 * \return bytes taken (may be fewer than len: the buffer is full while
 *         stalled), or -EPIPE when the connection is closing.
 */
ssize_t xsd_conn_input(struct xsd_conn *c, const void *buf, size_t len);
/* Bytes xsd_conn_input would take now (0 while stalled or closing). */
size_t xsd_conn_input_room(const struct xsd_conn *c);
/* The next bytes to send (the rest of the head message); 0 if none. */
size_t xsd_conn_output_peek(const struct xsd_conn *c, const void **p);
/* n bytes were sent; may resume stalled input. */
void xsd_conn_output_consume(struct xsd_conn *c, size_t n);
/* Bytes a queued message costs its domain's memory quota. */
size_t xsd_out_mem(const struct xsd_out *m);
/* Copy out up to cap bytes of output (peek + consume). */
size_t xsd_conn_read(struct xsd_conn *c, void *buf, size_t cap);
bool xsd_conn_is_closing(const struct xsd_conn *c);
/* Drop the connection (reason: a static string for the log). */
void xsd_conn_close(struct xsd_conn *c, const char *why);
/* Queue a reply to req (E2BIG instead if the payload is too long). */
void xsd_conn_reply(struct xsd_conn *c, const struct xsd_sockmsg *req,
    const void *payload, size_t len);
/* Queue an XS_ERROR reply with the errno's name. */
void xsd_conn_error(struct xsd_conn *c, const struct xsd_sockmsg *req, int err);
/*
 * Queue a watch event, unless it is too long (XSA-324) or, with dedup,
 * the same event is still pending.  Drops the connection past its
 * pending-event bound.
 */
void xsd_conn_event(struct xsd_conn *c, const char *path, size_t plen,
    const char *token, size_t tlen, bool dedup);

/* ---------------------------------------------------------------------
 * xsd_msg.c / xsd_control.c: executing requests
 */

/* Run one complete request; queues exactly one reply (and any events). */
void xsd_msg_execute(struct xsd_conn *c, const struct xsd_sockmsg *hdr,
    const char *payload);
/* The errno's name as the wire carries it (EINVAL for unknown ones). */
const char *xsd_errno_name(int err);
/*
 * CONTROL: argv holds argc NUL-terminated strings.  Writes a reply
 * payload (text + NUL or "OK") into out; returns its length or -errno.
 */
int xsd_control(struct xsd_conn *c, unsigned int argc, const char **argv,
    char *out, size_t cap);

#endif /* XBD_XSD_INTERNAL_H */
