/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A scripted blkif frontend for the backend's tests.  It runs on the
 * simulated platform (domain 1, the backend being domain 0) and does the
 * frontend half of the XenBus handshake and of the ring by hand, so that
 * a test decides every byte: it writes slots itself (native or x86_32
 * layout), chooses segment layouts and grant references, and can lie in
 * XenStore or in the ring (producer index, garbage requests, grants that
 * do not exist).  It deliberately does not use lib/ring: a hostile peer
 * does not follow the rules the wrapper enforces.
 *
 * The machine part starts a simulated hypervisor with its XenStore
 * daemon, the two domains and an xbb backend, and creates vbds the way
 * libxl does.
 */

#ifndef XBD_TESTS_XBBT_FRONT_H
#define XBD_TESTS_XBBT_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "back/xbb.h"
#include "common/xen_shim.h"
#include "platform/sim/hv.h"
#include "ring/xring.h"
#include "xenbus/xbus.h"

/* The two domains. */
#define XBBT_BE 0u
#define XBBT_FE 1u
/* Default wait for a state or a response. */
#define XBBT_TIMEOUT_MS 10000
/* Most segments one scripted request may carry (the protocol's). */
#define XBBT_MAX_SEGS 4096

/* ---------------------------------------------------------------------
 * The machine
 */
struct xbbt_machine {
	struct hv *m_hv;		 /* the simulated machine */
	struct plat *m_be;		 /* domain 0: the backend's view */
	struct plat *m_fe;		 /* domain 1: the frontend's view */
	struct xs_handle *m_xs;		 /* privileged: the toolstack */
	struct xbb *m_xbb;		 /* the backend, while started */
	char m_tmp[256];		 /* scratch directory for images */
	const char *m_log_match;	 /* backend log lines to count ... */
	_Atomic unsigned int m_log_hits; /* ... and how many there were */
};

/* Exit 77 unless io_uring works here (call first in main). */
void xbbt_require_uring(void);

int xbbt_machine_start(struct xbbt_machine *m);
void xbbt_machine_stop(struct xbbt_machine *m);
/* o may be NULL for defaults. */
int xbbt_backend_start(struct xbbt_machine *m, const struct xbb_opts *o);
void xbbt_backend_stop(struct xbbt_machine *m);

/* A sparse image file of size bytes in the scratch directory. */
void xbbt_image(struct xbbt_machine *m, const char *name, uint64_t size,
    char *path, size_t len);

/* What the image file holds at off (the backend's writes, as stored). */
void xbbt_file_read(const char *path, uint64_t off, void *buf, size_t len);

/* n bytes of a pseudo-random pattern, the same for the same seed. */
void xbbt_pattern(uint8_t *b, size_t n, uint64_t seed);

/* What xbbt_vbd_add creates. */
struct xbbt_vbd {
	uint32_t v_vdev;      /* virtual-device number */
	const char *v_params; /* image path */
	bool v_readonly;      /* mode r */
	bool v_nodiscard;     /* discard-enable 0 */
	bool v_cdrom;	      /* device-type cdrom */
};
int xbbt_vbd_add(struct xbbt_machine *m, const struct xbbt_vbd *v);
/* Force-remove the directories (libxl's forced removal). */
void xbbt_vbd_destroy(struct xbbt_machine *m, uint32_t vdev);
/* The backend directory of a vbd. */
void xbbt_bedir(uint32_t vdev, char *buf, size_t len);
/* Wait until the backend's state is st (or any state when st < 0). */
int xbbt_wait_be(struct xbbt_machine *m, uint32_t vdev, enum xenbus_state st,
    unsigned int timeout_ms);
/* The backend's device stats (asserts success). */
void xbbt_stats(struct xbbt_machine *m, uint32_t vdev, struct xbb_stats *st);

/* ---------------------------------------------------------------------
 * The frontend
 */

/* A XenStore node the frontend writes after its normal ones. */
struct xbbt_node {
	const char *n_name;  /* relative to the frontend directory */
	const char *n_value; /* NULL: remove it */
};

struct xbbt_fopts {
	unsigned int fo_pages;		  /* ring pages per queue (default 1) */
	bool fo_num_ring_pages;		  /* the deprecated num-ring-pages */
	unsigned int fo_queues;		  /* rings (default 1) */
	bool fo_x86_32;			  /* 32-bit slots and protocol */
	const char *fo_protocol;	  /* NULL: from fo_x86_32; "": none */
	bool fo_persistent;		  /* feature-persistent = 1 */
	bool fo_straight_connected;	  /* skip Initialised (Mirage) */
	const struct xbbt_node *fo_nodes; /* overrides */
	unsigned int fo_nnodes;		  /* entries in fo_nodes */
	unsigned int fo_data_pages;	  /* data pages (default 2048) */
};

/* One ring as the frontend drives it, by hand. */
struct xbbt_ring {
	uint8_t *r_sring;		     /* the shared pages */
	unsigned int r_npages;		     /* pages */
	unsigned int r_slots;		     /* slots */
	size_t r_slot;			     /* slot size (112 or 108) */
	grant_ref_t r_refs[XRING_MAX_PAGES]; /* ring pages' refs */
	struct plat_evtchn *r_evh;	     /* our channel handle */
	evtchn_port_t r_port;		     /* our unbound port */
	uint32_t r_req_prod;		     /* requests written */
	uint32_t r_req_pushed;		     /* requests published */
	uint32_t r_rsp_cons;		     /* responses taken */
	uint64_t r_notifies;		     /* notifications we sent */
};

struct xbbt_front {
	struct xbbt_machine *f_m;		  /* the machine */
	struct plat *f_p;			  /* domain 1 */
	struct xs_handle *f_xs;			  /* XenStore as domain 1 */
	uint32_t f_vdev;			  /* the vbd */
	char f_dir[128];			  /* our directory */
	char f_bedir[128];			  /* the backend's */
	struct xbbt_fopts f_o;			  /* options */
	struct xbbt_ring f_rings[XBB_MAX_QUEUES]; /* rings */
	unsigned int f_nrings;			  /* rings in use */
	/* What the backend published. */
	uint64_t f_sectors;
	uint32_t f_sector_size;
	uint32_t f_phys_size;
	uint32_t f_info;
	uint32_t f_max_indirect;
	uint32_t f_max_order;
	uint32_t f_max_queues;
	uint32_t f_discard_gran;
	bool f_flush, f_barrier, f_discard, f_secure, f_be_persistent;
	/* Data pages. */
	uint8_t *f_data;       /* f_npages granted-able pages */
	unsigned int f_npages; /* pages */
	uint32_t *f_free;      /* free page stack (LIFO, as the spec asks
				  persistent frontends to reuse grants) */
	unsigned int f_nfree;  /* pages on it */
	grant_ref_t *f_pref;   /* persistent mode: each page's ref or 0 */
	uint64_t f_next_id;    /* request ids */
	uint64_t f_seed;       /* layout randomness */
};

/* Set up rings and pages (nothing published yet). */
int xbbt_front_open(struct xbbt_front *f, struct xbbt_machine *m, uint32_t vdev,
    const struct xbbt_fopts *o);
/*
 * Publish the transport and wait for the backend.
 * \return 0 (both Connected), -EPROTO (the backend went Closing: see its
 *         `error` node), -ETIMEDOUT.
 */
int xbbt_front_connect(struct xbbt_front *f);
/* Write the transport nodes (rings, channels, protocol, features). */
int xbbt_publish(struct xbbt_front *f);
/* Closing, wait for the backend, Closed; rings and grants released. */
void xbbt_front_close(struct xbbt_front *f);
/* Write our state. */
void xbbt_front_state(struct xbbt_front *f, enum xenbus_state st);
/* Re-read `sectors` (after a resize). */
uint64_t xbbt_front_sectors(struct xbbt_front *f);

/* Layout flags for xbbt_rw_start. */
enum xbbt_flags {
	XBBT_SUB = 1u << 0,	 /* random sub-page segments */
	XBBT_INDIRECT = 1u << 1, /* always indirect */
	XBBT_DIRECT = 1u << 2,	 /* never indirect */
};

/* One request in flight. */
struct xbbt_io {
	uint64_t io_id;			       /* request id */
	uint8_t io_op;			       /* wire operation */
	uint64_t io_sector;		       /* first sector */
	uint32_t io_nsect;		       /* sectors */
	uint32_t io_nseg;		       /* segments */
	uint32_t io_nind;		       /* indirect pages */
	struct blkif_request_segment *io_segs; /* io_nseg */
	uint32_t *io_page;		       /* page of each segment */
	grant_ref_t *io_ref;		       /* reserved ref per segment */
	uint32_t io_ipage[8];		       /* indirect pages */
	grant_ref_t io_iref[8];		       /* their refs */
};

/*
 * Build a request of nsect sectors and put it in ring q (not pushed).
 * op is READ, WRITE, FLUSH_DISKCACHE or WRITE_BARRIER (with data);
 * wbuf holds the data of a write.
 */
int xbbt_rw_start(struct xbbt_front *f, unsigned int q, struct xbbt_io **out,
    uint8_t op, uint64_t sector, uint32_t nsect, const void *wbuf,
    unsigned int flags);
/* End the grants (asserting the backend let go), copy read data. */
void xbbt_rw_end(struct xbbt_front *f, struct xbbt_io *io, void *rbuf);
/* Synchronous read/write: the response status. */
int xbbt_rw(struct xbbt_front *f, unsigned int q, uint8_t op, uint64_t sector,
    uint32_t nsect, void *buf, unsigned int flags);
/* A request without data (flush, barrier, any op): the status. */
int xbbt_nodata(struct xbbt_front *f, unsigned int q, uint8_t op);
int xbbt_discard(struct xbbt_front *f, unsigned int q, uint64_t sector,
    uint64_t nsect, uint8_t flag);

/* Put a native request in ring q, in the ring's ABI (not pushed). */
void xbbt_put(struct xbbt_front *f, unsigned int q, const void *req,
    size_t len);
/* Put raw slot bytes (len <= slot size), as they are. */
void xbbt_put_raw(struct xbbt_front *f, unsigned int q, const void *bytes,
    size_t len);
/* The slot a request index lands in (for hostile tests). */
uint8_t *xbbt_slot(struct xbbt_front *f, unsigned int q, uint32_t idx);
/* Publish and notify when the backend asked. */
void xbbt_push(struct xbbt_front *f, unsigned int q);
/* Set req_prod to any value and notify (hostile). */
void xbbt_set_req_prod(struct xbbt_front *f, unsigned int q, uint32_t prod);
/* Notify without publishing anything. */
void xbbt_kick(struct xbbt_front *f, unsigned int q);
/*
 * Write a response into the slot of ring index idx, field by field as a
 * backend does (the slot's other bytes stay): what a backend that died
 * afterwards left there.  Nothing is published.
 */
void xbbt_put_rsp(struct xbbt_front *f, unsigned int q, uint32_t idx,
    uint64_t id, uint8_t op, int16_t status);
/* Publish responses up to prod, as a backend's push (no notification). */
void xbbt_set_rsp_prod(struct xbbt_front *f, unsigned int q, uint32_t prod);
/* Take the next response; -ETIMEDOUT when none came. */
int xbbt_wait(struct xbbt_front *f, unsigned int q, struct blkif_response *rsp,
    unsigned int timeout_ms);
/* Responses published and not taken (no waiting). */
unsigned int xbbt_ready(struct xbbt_front *f, unsigned int q);

/* A data page of ours, granted to the backend (hostile tests). */
uint8_t *xbbt_page(struct xbbt_front *f, uint32_t page);
grant_ref_t xbbt_grant(struct xbbt_front *f, uint32_t page, bool readonly);
void xbbt_ungrant(struct xbbt_front *f, grant_ref_t ref);

/* xorshift64: the tests' one source of randomness. */
uint64_t xbbt_rand(uint64_t *s);

#endif /* XBD_TESTS_XBBT_FRONT_H */
