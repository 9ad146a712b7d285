/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals of the simulated hypervisor, shared by its files and by
 * nothing else.
 *
 * The machine is one memfd ("machine memory") that every process of the
 * simulation maps: a header with the domain table, the pin matrix and the
 * id counter, then one equal-sized region per domain slot holding that
 * domain's event-channel ports, its v1 grant table, the active entries
 * Xen keeps privately for each grant, and the owners of the grant-ref
 * and arena chunks leased by the domain's views.  Each domain also has an
 * arena memfd: its grantable memory, mapped whole by every mapper.
 *
 * Who may do what:
 *  - control operations (domains, port allocation, binding, handles)
 *    run in struct hv, serialized by hv_lock; in multi-process mode the
 *    daemon runs them on behalf of a domain process (hv_rpc.c);
 *  - the data path (grant entries, active entries, pending and mask bits)
 *    is done by the acting domain's view directly on shared memory, with
 *    atomics and the small per-active-entry lock, as Xen does it on the
 *    guest's behalf.
 *
 * Stale operations: a domain that dies bumps its slot generation first.
 * Every data-path operation checks the generations of the slots it works
 * on while holding the active entry's lock, so cleanup can reset a table
 * after looking at (and waiting for) the entries whose lock is held.
 */

#ifndef XBD_HV_INTERNAL_H
#define XBD_HV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../common/xu_assert.h"
#include "../plat_freecb.h"
#include "hv.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
    "shared-memory atomics must be lock-free (address-free)");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "the grant entry's flags are the low half of its first word");
_Static_assert(offsetof(struct grant_entry_v1, flags) == 0 &&
	offsetof(struct grant_entry_v1, domid) == 2 &&
	offsetof(struct grant_entry_v1, frame) == 4 &&
	sizeof(struct grant_entry_v1) == 8,
    "grant_entry_v1 layout (docs/hypervisor.md 2.1)");

/* "XBHV": the machine memfd and the hv.sock messages start with it. */
#define HV_MAGIC 0x56484258u
/* Bumped when the machine layout or the wire format changes. */
#define HV_VERSION 1u
/* Room for a domain name, NUL included (libxl names are short). */
#define HV_NAME_MAX 64
/*
 * Grant refs a view leases from its domain at a time: small enough that a
 * tiny test table still has several chunks, large enough that leasing is
 * rare (a blkfront ring of 32 requests x 11 segments needs six).
 */
#define HV_REF_CHUNK 64u
/* Arena pages a view leases at a time (64 KiB). */
#define HV_ARENA_CHUNK 16u
/* Retries of the flags+domid compare-exchange before "entry unstable". */
#define HV_GNT_RETRIES 16
/* Most of one pin kind per active entry (the counters are 16 bits). */
#define HV_PIN_MAX 0xffffu
/* Largest tables the options accept (keep the machine memfd sane). */
#define HV_MAX_GRANT_ENTRIES (1u << 20)
#define HV_MAX_EVTCHN_PORTS (1u << 17)
#define HV_MAX_ARENA_PAGES (1u << 22)
/* Defaults: Xen's 64 grant frames, libxl's 1023 ports, 64 MiB arena. */
#define HV_DEF_GRANT_ENTRIES 32768u
#define HV_DEF_EVTCHN_PORTS 1024u
#define HV_DEF_ARENA_PAGES 16384u

/* State of a domain slot. */
enum hv_dom_state {
	HV_DOM_FREE = 0,  /* unused */
	HV_DOM_ALIVE = 1, /* running: grants mappable, ports usable */
	HV_DOM_DYING = 2, /* being destroyed: nothing new succeeds */
};

/* State of an event-channel port (Xen's numbering). */
enum hv_port_state {
	HV_PORT_FREE = 0,
	HV_PORT_UNBOUND = 1,	 /* waits for ec_remote_dom to bind */
	HV_PORT_INTERDOMAIN = 2, /* connected to ec_remote_slot/port */
};

/* One entry of the domain table (machine memory). */
struct hv_shm_dom {
	_Atomic uint32_t dom_state;    /* enum hv_dom_state */
	_Atomic uint32_t dom_gen;      /* bumped when the domain dies */
	_Atomic uint32_t dom_domid;    /* the domain id while not FREE */
	_Atomic uint32_t dom_gnt_hwm;  /* refs below this were ever granted */
	_Atomic uint32_t dom_port_hwm; /* ports below this were ever used */
	uint32_t dom_pad;	       /* keeps dom_name 8-aligned */
	char dom_name[HV_NAME_MAX];    /* name given at creation */
};

/* The header of the machine memfd. */
struct hv_shm_hdr {
	uint32_t hv_magic;	     /* HV_MAGIC */
	uint32_t hv_version;	     /* HV_VERSION */
	uint32_t hv_grant_entries;   /* v1 entries per domain */
	uint32_t hv_evtchn_ports;    /* ports per domain, port 0 never valid */
	uint32_t hv_arena_pages;     /* arena pages per domain */
	uint32_t hv_pad;	     /* alignment */
	uint64_t hv_size;	     /* bytes of the memfd */
	_Atomic uint32_t hv_next_id; /* view/handle ids */
	struct hv_shm_dom hv_dom[HV_MAX_DOMAINS]; /* the domain table */
	/*
	 * hv_pins[g][m]: pins domain slot m holds on slot g's grants, plus
	 * pins being taken right now; cleanup of a dead m only scans the
	 * tables of slots where it is non-zero.
	 */
	_Atomic uint32_t hv_pins[HV_MAX_DOMAINS][HV_MAX_DOMAINS];
};

/* An event-channel port (machine memory, per domain slot). */
struct hv_port {
	_Atomic uint32_t ec_state;	 /* enum hv_port_state */
	_Atomic uint32_t ec_remote_dom;	 /* UNBOUND: who may bind; else peer */
	_Atomic uint32_t ec_remote_slot; /* INTERDOMAIN: peer's slot */
	_Atomic uint32_t ec_remote_port; /* INTERDOMAIN: peer's port */
	_Atomic uint32_t ec_handle;	 /* id of the handle it is bound to */
	_Atomic uint32_t ec_pending;	 /* Xen's 2-level pending bit */
	_Atomic uint32_t ec_masked;	 /* Xen's 2-level mask bit */
	uint32_t ec_pad;		 /* 32 bytes */
};

/*
 * What Xen keeps privately for a grant entry ("active entry"): who pins
 * it, how often, and the frame latched at the first pin.
 */
struct hv_active {
	_Atomic uint32_t ge_lock; /* 0, or the pid of the holder */
	_Atomic uint32_t ge_pin;  /* read pins | write pins << 16 */
	uint32_t ge_mslot;	  /* slot of the pinning domain */
	uint32_t ge_frame;	  /* frame latched at the first pin */
};

/* Where things are inside the machine memfd (derived from the header). */
struct hv_geom {
	uint32_t hv_nents;	  /* grant entries per domain */
	uint32_t hv_nports;	  /* ports per domain */
	uint32_t hv_npages;	  /* arena pages per domain */
	uint32_t hv_ref_chunks;	  /* lease chunks of grant refs */
	uint32_t hv_arena_chunks; /* lease chunks of arena pages */
	size_t hv_slot_off;	  /* first domain region */
	size_t hv_slot_size;	  /* bytes per domain region */
	size_t hv_off_ports;	  /* in a region: struct hv_port[] */
	size_t hv_off_gnt;	  /* struct grant_entry_v1[] */
	size_t hv_off_act;	  /* struct hv_active[] */
	size_t hv_off_refown;	  /* _Atomic uint32_t[hv_ref_chunks] */
	size_t hv_off_arenaown;	  /* _Atomic uint32_t[hv_arena_chunks] */
	size_t hv_size;		  /* whole memfd */
};

/* One process's mapping of the machine memfd. */
struct hv_shm {
	struct hv_shm_hdr *hv_hdr; /* the mapping */
	struct hv_geom hv_geom;	   /* validated layout */
};

/* Who is acting in a data-path operation. */
struct hv_actor {
	const struct hv_shm *hv_shm; /* the machine */
	unsigned int hv_slot;	     /* the acting domain's slot */
	uint32_t hv_gen;	     /* its generation when the view opened */
	uint32_t hv_domid;	     /* its domain id */
	uint32_t hv_pid;	     /* lock owner tag (cached getpid) */
};

/* ---------------------------------------------------------------------
 * hv_shared.c: layout, mapping, domain table, entry locks
 */

int hv_geom_init(struct hv_geom *g, uint32_t nents, uint32_t nports,
    uint32_t npages);
int hv_shm_create(const struct hv_geom *g, int *fd, struct hv_shm *m);
int hv_shm_attach(int fd, struct hv_shm *m);
void hv_shm_detach(struct hv_shm *m);

static inline struct hv_shm_dom *
hv_dom_at(const struct hv_shm *m, unsigned int slot)
{
	return (&m->hv_hdr->hv_dom[slot]);
}

static inline char *
hv_region(const struct hv_shm *m, unsigned int slot)
{
	return ((char *)m->hv_hdr + m->hv_geom.hv_slot_off +
	    (size_t)slot * m->hv_geom.hv_slot_size);
}

static inline struct hv_port *
hv_port_at(const struct hv_shm *m, unsigned int slot, uint32_t port)
{
	return (
	    (struct hv_port *)(hv_region(m, slot) + m->hv_geom.hv_off_ports) +
	    port);
}

/* Whether port of slot's domain is in use (not HV_PORT_FREE). */
static inline bool
hv_port_used(const struct hv_shm *m, unsigned int slot, uint32_t port)
{
	return (
	    atomic_load(&hv_port_at(m, slot, port)->ec_state) != HV_PORT_FREE);
}

static inline struct grant_entry_v1 *
hv_gent_at(const struct hv_shm *m, unsigned int slot, uint32_t ref)
{
	return ((struct grant_entry_v1 *)(hv_region(m, slot) +
		    m->hv_geom.hv_off_gnt) +
	    ref);
}

static inline struct hv_active *
hv_act_at(const struct hv_shm *m, unsigned int slot, uint32_t ref)
{
	return (
	    (struct hv_active *)(hv_region(m, slot) + m->hv_geom.hv_off_act) +
	    ref);
}

static inline _Atomic uint32_t *
hv_refown_at(const struct hv_shm *m, unsigned int slot, uint32_t chunk)
{
	return ((_Atomic uint32_t *)(hv_region(m, slot) +
		    m->hv_geom.hv_off_refown) +
	    chunk);
}

static inline _Atomic uint32_t *
hv_arenaown_at(const struct hv_shm *m, unsigned int slot, uint32_t chunk)
{
	return ((_Atomic uint32_t *)(hv_region(m, slot) +
		    m->hv_geom.hv_off_arenaown) +
	    chunk);
}

/* Is the slot alive in generation gen? */
static inline bool
hv_dom_alive(const struct hv_shm *m, unsigned int slot, uint32_t gen)
{
	const struct hv_shm_dom *d = hv_dom_at(m, slot);

	return (atomic_load(&d->dom_gen) == gen &&
	    atomic_load(&d->dom_state) == HV_DOM_ALIVE);
}

/* The slot of live domain domid and its generation, or -ESRCH. */
int hv_dom_find(const struct hv_shm *m, uint32_t domid, unsigned int *slot,
    uint32_t *gen);
/* Raise a high-water mark to at least v. */
void hv_hwm_raise(_Atomic uint32_t *hwm, uint32_t v);
/* A fresh, never reused id for a view or an event-channel handle. */
uint32_t hv_new_id(const struct hv_shm *m);

/* The 32-bit flags+domid word of a grant entry, for compare-exchange. */
static inline uint32_t *
hv_gent_word(struct grant_entry_v1 *ge)
{
	return ((uint32_t *)(void *)ge);
}

void hv_act_lock(struct hv_active *a, uint32_t pid);
void hv_act_unlock(struct hv_active *a);

/* ---------------------------------------------------------------------
 * The machine (struct hv): control operations, hv_lock held
 */

/* One event-channel handle the machine knows (for notifiers' fds). */
struct hv_handle {
	uint32_t hv_id;	      /* global handle id */
	unsigned int hv_slot; /* domain slot of the handle */
	int hv_fd;	      /* the handle's eventfd (our own copy) */
	uintptr_t hv_owner;   /* daemon: the connection; 0 in-process */
};

struct xsd_server;

struct hv {
	pthread_mutex_t hv_lock;  /* serializes control operations */
	_Atomic unsigned hv_refs; /* hv_destroy + one per in-process view */
	int hv_dead;		  /* hv_destroy ran */
	struct hv_opts hv_opts;	  /* the parameters (o_dir -> hv_dir) */
	char *hv_dir;		  /* XenStore/daemon directory */
	int hv_tmpdir;		  /* hv_dir was created by us: remove */
	int hv_mfd;		  /* machine memfd */
	struct hv_shm hv_shm;	  /* our mapping of it */
	uint32_t hv_pid;	  /* lock tag of this process */
	int hv_arena_fd[HV_MAX_DOMAINS]; /* per slot, -1 when FREE */
	struct hv_handle *hv_handles;	 /* open event-channel handles */
	size_t hv_nhandles;		 /* entries used */
	size_t hv_handles_cap;		 /* entries allocated */
	struct xsd_server *hv_xsd;	 /* our XenStore daemon, or NULL */
	struct xs_handle *hv_xs;	 /* privileged handle for skeletons */
};

/* hv_dom.c */
int hv_m_domain_create(struct hv *hv, uint32_t domid, const char *name,
    unsigned int *slot, uint32_t *gen);
int hv_m_domain_destroy(struct hv *hv, unsigned int slot);
int hv_m_arena_fd(struct hv *hv, unsigned int slot, uint32_t gen, int *fd);
void hv_m_release_leases(struct hv *hv, unsigned int slot, uint32_t gen,
    uint32_t view_id);
void hv_put(struct hv *hv);
int hv_shm_usage(const struct hv_shm *m, uint32_t domid,
    struct hv_dom_usage *u);
int hv_xs_path(const char *dir, uint32_t domid, char *buf, size_t len);

/* hv_evtchn.c (machine side) */
int hv_m_evtchn_open(struct hv *hv, unsigned int slot, uint32_t gen, int fd,
    uintptr_t owner, uint32_t *hid);
int hv_m_evtchn_close(struct hv *hv, unsigned int slot, uint32_t hid,
    uintptr_t owner);
int hv_m_bind_unbound(struct hv *hv, unsigned int slot, uint32_t gen,
    uint32_t hid, uintptr_t owner, uint32_t remote, evtchn_port_t *port);
int hv_m_bind_interdomain(struct hv *hv, unsigned int slot, uint32_t gen,
    uint32_t hid, uintptr_t owner, uint32_t remote, evtchn_port_t rport,
    evtchn_port_t *port);
int hv_m_unbind(struct hv *hv, unsigned int slot, uint32_t gen, uint32_t hid,
    uintptr_t owner, evtchn_port_t port);
int hv_m_handle_fd(struct hv *hv, uint32_t hid, int *fd);
void hv_m_close_ports(struct hv *hv, unsigned int slot);
void hv_m_close_owner(struct hv *hv, uintptr_t owner);

/* hv_gnt.c (machine side) */
void hv_m_drop_pins_of(struct hv *hv, unsigned int dead);
void hv_m_reset_grants(struct hv *hv, unsigned int slot);

/* ---------------------------------------------------------------------
 * A domain's view (struct plat): plat_sim.c, hv_gnt.c, hv_evtchn.c,
 * hv_mem.c
 */

struct hv_view;

/*
 * Control operations of a view: straight into struct hv in-process,
 * through hv.sock in multi-process mode (hv_rpc.c).
 */
struct hv_ctl_ops {
	int (*co_evtchn_open)(struct hv_view *, int, uint32_t *);
	int (*co_evtchn_close)(struct hv_view *, uint32_t);
	int (*co_bind_unbound)(struct hv_view *, uint32_t, uint32_t,
	    evtchn_port_t *);
	int (*co_bind_interdomain)(struct hv_view *, uint32_t, uint32_t,
	    evtchn_port_t, evtchn_port_t *);
	int (*co_unbind)(struct hv_view *, uint32_t, evtchn_port_t);
	int (*co_handle_fd)(struct hv_view *, uint32_t, int *);
	int (*co_arena_fd)(struct hv_view *, unsigned int, uint32_t, int *);
	void (*co_close)(struct hv_view *);
};

/* A granter's arena as mapped by one view. */
struct hv_gmap {
	unsigned int ge_slot;	 /* granter slot */
	uint32_t ge_gen;	 /* granter generation */
	int ge_fd;		 /* its arena memfd (for contiguous maps) */
	char *ge_rw;		 /* whole arena, read-write */
	char *ge_ro;		 /* whole arena, read-only */
	unsigned long ge_refs;	 /* batch-mapped pages not yet unmapped */
	struct hv_gmap *ge_next; /* retired list link */
};

/* A contiguous mapping made by plat_map. */
struct hv_cmap {
	char *ge_addr;		 /* start of the mapping */
	uint32_t ge_count;	 /* pages */
	unsigned int ge_slot;	 /* granter slot */
	uint32_t ge_gen;	 /* granter generation */
	bool ge_write;		 /* mapped writable */
	struct hv_cmap *ge_next; /* list link */
	grant_ref_t ge_refs[];	 /* the pinned refs */
};

/*
 * One batch mapping (Xen's maptrack entry): the handle given to the
 * caller is its index + 1, so an unmap of a handle that is not (or no
 * longer) mapped is recognised and ignored instead of dropping somebody
 * else's pin (XSA-218).
 */
struct hv_track {
	uint32_t ge_ref;  /* the ref pinned */
	uint32_t ge_gen;  /* granter generation */
	uint8_t ge_slot;  /* granter slot */
	uint8_t ge_write; /* a write pin */
	uint8_t ge_used;  /* in use (else on the free list) */
	uint32_t ge_next; /* free list: next index + 1, 0 ends */
};

/* Counters behind plat_stats (updated from any thread, relaxed). */
struct hv_stats {
	_Atomic uint64_t hv_notify;	 /* notifies that signalled the peer */
	_Atomic uint64_t hv_notify_skip; /* notifies that found it pending */
	_Atomic uint64_t hv_events;	 /* ports taken by pending */
	_Atomic uint64_t hv_grants;	 /* pages granted */
	_Atomic uint64_t hv_grant_ends;	 /* grants ended */
	_Atomic uint64_t hv_grant_busy;	 /* ends refused: still mapped */
	_Atomic uint64_t hv_maps;	 /* foreign pages mapped */
	_Atomic uint64_t hv_unmaps;	 /* foreign pages unmapped */
	_Atomic uint64_t hv_map_errors;	 /* map elements that failed */
	_Atomic uint64_t hv_copy_segs;	 /* grant-copy segments */
	_Atomic uint64_t hv_copy_bytes;	 /* bytes grant-copied */
};

/* Per-ref state of a view's grant-ref budget. */
enum hv_ref_state {
	HV_REF_NOTMINE = 0,  /* not in a chunk this view leased */
	HV_REF_FREE = 1,     /* on the free list */
	HV_REF_RESERVED = 2, /* handed out by plat_gnt_reserve */
	HV_REF_STUCK = 3,    /* leased while still granted: never used */
};

struct hv_view {
	struct plat hv_plat;		 /* embedded first (plat.h) */
	const struct hv_ctl_ops *hv_ctl; /* in-process or hv.sock */
	struct hv *hv_machine;		 /* in-process: the machine */
	struct hv_rpc *hv_rpc;		 /* multi-process: the connection */
	struct hv_watch *hv_watch;	 /* multi-process: its watcher */
	struct hv_shm hv_shm;		 /* the machine memory */
	struct hv_actor hv_act;		 /* who we are on the data path */
	uint32_t hv_id;			 /* view id: owner tag of leases */
	char *hv_dir;			 /* XenStore directory */
	struct hv_stats hv_st;		 /* counters */

	/* Own arena (hv_mem.c), under hv_mem_lock. */
	pthread_mutex_t hv_mem_lock; /* arena allocator */
	char *hv_arena;		     /* own arena, read-write */
	int hv_arena_fd;	     /* own arena memfd */
	uint64_t *hv_page_used;	     /* bit per page: allocated by us */
	uint8_t *hv_achunk_mine;     /* byte per chunk: leased by us */

	/* Grant-ref budget (hv_mem.c), under hv_ref_lock. */
	pthread_mutex_t hv_ref_lock;	/* budget and callbacks */
	uint8_t *hv_ref_state;		/* enum hv_ref_state per ref */
	grant_ref_t *hv_ref_free;	/* free stack */
	uint32_t hv_ref_nfree;		/* entries on it */
	uint32_t hv_ref_nleased;	/* usable refs in leased chunks */
	struct plat_freecb *hv_freecbs; /* pending free callbacks */

	/* Foreign mappings (hv_gnt.c), under hv_map_lock. */
	pthread_mutex_t hv_map_lock;		  /* the two lists */
	struct hv_gmap *hv_gmaps[HV_MAX_DOMAINS]; /* current per slot */
	struct hv_gmap *hv_retired;		  /* stale, still in use */
	struct hv_cmap *hv_cmaps;		  /* contiguous mappings */
	struct hv_track *hv_track;		  /* batch mappings */
	uint32_t hv_track_cap;			  /* entries allocated */
	uint32_t hv_track_free;			  /* free list head + 1 */
};

static inline struct hv_view *
hv_view_of(struct plat *p)
{
	return ((struct hv_view *)(void *)p);
}

/* Is the view's own domain still alive? */
static inline bool
hv_view_alive(const struct hv_view *v)
{
	return (hv_dom_alive(&v->hv_shm, v->hv_act.hv_slot, v->hv_act.hv_gen));
}

/* plat_sim.c */
struct hv_view *hv_view_alloc(void);
int hv_view_open(struct hv_view *v, int arena_fd);
void hv_view_free(struct hv_view *v);
int hv_view_new_local(struct hv *hv, unsigned int slot, uint32_t gen,
    struct plat **out);
void hv_env_init(void);
extern const struct plat_ops hv_plat_ops;

/* hv_mem.c */
int hv_mem_init(struct hv_view *v);
void hv_mem_fini(struct hv_view *v);
int hv_mem_alloc(struct plat *p, uint32_t peer, size_t npages, void **addr);
void hv_mem_free(struct plat *p, void *addr, size_t npages);
int hv_gnt_reserve(struct plat *p, unsigned int n, grant_ref_t *refs);
void hv_gnt_release(struct plat *p, unsigned int n, const grant_ref_t *refs);
int hv_gnt_request_free_callback(struct plat *p, unsigned int n,
    plat_gnt_free_fn *fn, void *arg);
void hv_gnt_cancel_free_callback(struct plat *p, void *arg);
bool hv_ref_is_reserved(struct hv_view *v, grant_ref_t ref);
void hv_ref_counts(struct hv_view *v, uint64_t *in_use, uint64_t *total);

/* hv_gnt.c */
int hv_gnt_grant(struct plat *p, grant_ref_t ref, uint32_t peer, void *page,
    bool readonly, grant_ref_t *wire);
int hv_gnt_end(struct plat *p, grant_ref_t ref);
int hv_gnt_map(struct plat *p, uint32_t dom, uint32_t count,
    const grant_ref_t *refs, bool writable, void **addr);
int hv_gnt_unmap(struct plat *p, void *addr, uint32_t count);
int hv_gnt_map_batch(struct plat *p, uint32_t dom, uint32_t count,
    bool writable, struct plat_map_seg *segs);
void hv_gnt_unmap_batch(struct plat *p, uint32_t count,
    struct plat_map_seg *segs);
int hv_gnt_copy(struct plat *p, uint32_t dom, uint32_t count,
    struct plat_copy_seg *segs);
void hv_gnt_view_fini(struct hv_view *v);
int hv_gnt_end_quiet(struct hv_view *v, grant_ref_t ref);

/* hv_evtchn.c (view side) */
int hv_evtchn_open(struct plat *p, struct plat_evtchn **out);
void hv_evtchn_close(struct plat_evtchn *h);
int hv_evtchn_fd(struct plat_evtchn *h);
int hv_evtchn_bind_unbound(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t *port);
int hv_evtchn_bind_interdomain(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port);
int hv_evtchn_notify(struct plat_evtchn *h, evtchn_port_t port);
int hv_evtchn_pending(struct plat_evtchn *h, evtchn_port_t *port);
int hv_evtchn_unmask(struct plat_evtchn *h, evtchn_port_t port);
int hv_evtchn_unbind(struct plat_evtchn *h, evtchn_port_t port);

/* hv_rpc.c (client side) */
void hv_rpc_close(struct hv_rpc *r);

/* hv_watch.c: a thread that notices the daemon's end of sock close. */
struct hv_watch;
int hv_watch_start(int sock, const char *dir, struct hv_watch **out);
void hv_watch_stop(struct hv_watch *w);

/* Signal an eventfd once (write 1); errors are ignored on purpose. */
void hv_efd_signal(int fd);

#endif /* XBD_HV_INTERNAL_H */
