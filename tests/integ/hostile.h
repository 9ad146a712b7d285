/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A scripted, hostile block backend for the frontend's tests.  It does
 * the backend half of the XenBus handshake with whatever values a test
 * wants published (garbage included), maps the frontend's ring, serves
 * requests from an in-memory disk, and lets a test hook replace the
 * answer to any request with a lie: wrong ids, duplicates, bad statuses,
 * producer indices that run ahead or backwards, grants kept mapped.
 */

#ifndef XBD_TESTS_HOSTILE_H
#define XBD_TESTS_HOSTILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/plat.h"
#include "ring/xring.h"
#include "xenbus/xbus.h"

struct hostile;

/*
 * Called for every request taken off the ring.  Return 0 to have it
 * served normally, 1 when the hook answered (or dropped) it itself.
 */
typedef int hostile_hook_fn(struct hostile *h, const union xring_req *req);

/* One published node: NULL value = not written. */
struct hostile_node {
	const char *n_name;
	const char *n_value;
};

struct hostile {
	/* Set by the test before hostile_start. */
	struct plat *h_plat;		 /* the backend domain */
	uint32_t h_fe_id;		 /* frontend domain */
	uint32_t h_vdev;		 /* virtual-device */
	uint64_t h_disk_size;		 /* bytes of the in-memory disk */
	struct hostile_node h_nodes[24]; /* extra/overriding nodes, NULL-
					    terminated by n_name */
	bool h_skip_initwait;		 /* go Connected without InitWait */
	bool h_no_notify;		 /* never send an event */
	hostile_hook_fn *h_hook;	 /* request hook (NULL: honest) */
	void *h_arg;			 /* for the hook */

	/* Filled by hostile_start and the serving thread. */
	struct xs_handle *h_xs;		     /* backend's XenStore handle */
	struct xs_handle *h_priv;	     /* toolstack handle */
	char h_fe[256];			     /* frontend directory */
	char h_be[256];			     /* backend directory */
	uint8_t *h_disk;		     /* the disk */
	void *h_sring;			     /* mapped ring */
	uint32_t h_npages;		     /* its pages */
	struct xring_back h_ring;	     /* our view of it */
	struct plat_evtchn *h_ev;	     /* event channel handle */
	evtchn_port_t h_port;		     /* our port */
	bool h_connected;		     /* handshake done */
	pthread_t h_thread;		     /* the serving thread */
	pthread_mutex_t h_lock;		     /* protects h_stop and counters */
	bool h_stop;			     /* thread must exit */
	bool h_pause;			     /* thread must leave the ring
						alone (someone else drives
						it) */
	bool h_paused;			     /* ... and it does */
	uint64_t h_requests;		     /* requests taken */
	int h_held;			     /* pages kept mapped by a hook */
	struct plat_map_seg h_held_segs[16]; /* ... which ones */
};

/* Create the vbd (toolstack) and start the backend thread. */
int hostile_start(struct hostile *h, void *priv_xs);
/* Stop the thread, unmap everything, remove the vbd. */
void hostile_stop(struct hostile *h);

/* Serve one request honestly (the default when the hook returns 0). */
void hostile_serve(struct hostile *h, const union xring_req *req);
/* Put a response with arbitrary contents and publish it, notifying. */
void hostile_respond(struct hostile *h, uint64_t id, uint8_t op,
    int16_t status);
/* Move the published response producer by delta (a lie) and notify. */
void hostile_bump_rsp(struct hostile *h, int delta);
/* Publish queued responses and notify. */
void hostile_push(struct hostile *h);
/* Map a request's first data page writable and keep it mapped. */
int hostile_hold_grant(struct hostile *h, const union xring_req *req);
/* The shared ring, for hooks that scribble on the indices. */
struct blkif_sring *hostile_sring(struct hostile *h);
/*
 * Stop (true) or restart (false) the thread's work on the ring and wait
 * until it complies; meanwhile the caller may drive h_ring itself.
 */
void hostile_pause(struct hostile *h, bool pause);
/* Write a backend node now. */
void hostile_write(struct hostile *h, const char *node, const char *val);

#endif /* XBD_TESTS_HOSTILE_H */
