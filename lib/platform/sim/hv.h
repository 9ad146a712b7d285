/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The simulated hypervisor: the embedded default platform.  A struct hv
 * is one simulated machine: a XenStore daemon (xenstored/) on a directory,
 * a table of domains, and for each domain a v1 grant table, an
 * event-channel table and a memory arena, all in shared memory (memfd) so
 * that domains can be threads of one process or separate processes.
 *
 * In-process mode: hv_create() then hv_domain_create() for each domain;
 * every struct plat it returns is that domain's view (lib/platform/plat.h)
 * and may be used from any thread.
 *
 * Multi-process mode: `xbd hv --dir DIR` runs hv_create() + hv_serve(),
 * which listens on DIR/hv.sock; a domain process calls plat_sim_connect()
 * and receives the memfds and eventfds it needs over that socket
 * (SCM_RIGHTS).  Control operations (binding ports, looking up a peer's
 * arena) go through the daemon; data never does: notifications, grant
 * entries and data pages are shared memory and eventfds.  When a domain
 * process dies (its socket closes) the daemon destroys the domain: its
 * mappings are released, its ports closed (peers return to unbound), its
 * XenStore connection released.
 *
 * XenStore: each domain's libxenstore handle connects to its own socket
 * (DIR/socket for domain 0, DIR/domain/<id> for the others), which is how
 * the daemon knows who is asking.  libxenstore only reads XENSTORED_PATH
 * when a handle is opened, so plat_xs_open() sets it for that one call
 * under a process-wide lock; see plat_sim.c for why that is safe.
 */

#ifndef XBD_HV_H
#define XBD_HV_H

#include <stddef.h>
#include <stdint.h>

#include "../plat.h"

struct hv;
struct xs_handle;

/* Most domains one simulated machine holds. */
#define HV_MAX_DOMAINS 64

/* Machine parameters; hv_opts_init() gives the defaults. */
struct hv_opts {
	size_t o_size;		  /* sizeof(struct hv_opts) */
	const char *o_dir;	  /* XenStore/daemon directory; NULL:
				     a private temporary one */
	uint32_t o_grant_entries; /* v1 grant entries per domain */
	uint32_t o_evtchn_ports;  /* event-channel ports per domain */
	uint32_t o_arena_pages;	  /* grantable pages per domain */
	int o_xenstored;	  /* 1: run our XenStore daemon on o_dir
				     (default); 0: one is already there */
};

void hv_opts_init(struct hv_opts *o);

/*
 * Start a simulated machine in this process.
 * \return 0, or -errno (socket directory, memfd, XenStore daemon).
 */
int hv_create(const struct hv_opts *o, struct hv **out);

/*
 * Stop it: destroys every remaining domain, stops the XenStore daemon,
 * removes a private temporary directory.
 */
void hv_destroy(struct hv *hv);

/* The directory of the XenStore daemon and of hv.sock. */
const char *hv_dir(const struct hv *hv);

/*
 * Create domain domid (0 is the privileged toolstack domain) as the
 * toolstack would: the /local/domain/<id> skeleton in XenStore with
 * libxl's permissions, then XS_INTRODUCE for domids other than 0.
 * \return 0 and that domain's platform view, -EEXIST, -ENOSPC (table
 *         full), -EINVAL (domid >= DOMID_FIRST_RESERVED).
 * \note plat_close() on the view does not destroy the domain.
 */
int hv_domain_create(struct hv *hv, uint32_t domid, const char *name,
    struct plat **out);

/*
 * Destroy a domain as if it died: its mappings and copies are dropped
 * (granters may end access again), its ports close (peers return to
 * unbound), its grants stop being mappable, XS_RELEASE removes its
 * XenStore connection and nodes.  Views of it fail with -ESRCH afterwards.
 */
int hv_domain_destroy(struct hv *hv, uint32_t domid);

/* Domains currently alive (for leak checks in tests). */
unsigned int hv_domain_count(struct hv *hv);

/*
 * Resource counts of a domain for leak checks: grant entries that are
 * granted (flags != 0), ports in use, pages of other domains it maps.
 */
struct hv_dom_usage {
	uint32_t du_grants;
	uint32_t du_ports;
	uint32_t du_mapped;
};
int hv_domain_usage(struct hv *hv, uint32_t domid, struct hv_dom_usage *u);

/*
 * The same counts seen from a domain's view p (in-process or a domain
 * process of a multi-process machine): any live domain, not only p's.
 * \return 0, -ESRCH (no such domain), -EINVAL (p is not a sim view).
 */
int plat_sim_usage(struct plat *p, uint32_t domid, struct hv_dom_usage *u);

/* A privileged (toolstack) libxenstore handle; NULL and errno on error. */
struct xs_handle *hv_xs_open_priv(struct hv *hv);

/*
 * A libxenstore handle on the daemon listening at path (a machine's
 * DIR/socket, or a domain's DIR/domain/N), safe while other threads open
 * theirs (see plat_sim.c).  NULL and errno on failure.
 */
struct xs_handle *hv_xs_open_path(const char *path);

/*
 * Serve domain processes on DIR/hv.sock until stop becomes non-zero
 * (checked at least every 100 ms; a signal handler may set it).
 */
int hv_serve(struct hv *hv, volatile int *stop);

/*
 * From a domain process: connect to the machine served on dir and create
 * domain domid there (or attach to it if attach is non-zero and it
 * exists).  The view lives until plat_close(); closing it, or the process
 * dying, destroys a domain this call created.
 */
int plat_sim_connect(const char *dir, uint32_t domid, const char *name,
    int attach, struct plat **out);

/*
 * Is an `xbd hv` daemon serving dir?  \return 0, or the errno of the
 * connection (-ECONNREFUSED: it died; -ENOENT: it never ran there).
 */
int plat_sim_alive(const char *dir);

/*
 * Called once, on a thread of the view, when the `xbd hv` daemon of a
 * view made by plat_sim_connect is gone (killed, or exited): dir is the
 * machine's directory.  Nothing of the machine works any more; a
 * process usually reports it and exits.
 */
typedef void plat_sim_lost_fn(const char *dir, void *arg);

/*
 * Register fn for p (replacing any before; NULL: none).  Called at once
 * when the daemon is already gone.  No effect on other platforms or on
 * in-process views.
 */
void plat_sim_on_lost(struct plat *p, plat_sim_lost_fn *fn, void *arg);

/* `xbd hv --dir DIR`: the multi-process machine daemon. */
int hv_cmd_main(int argc, char **argv);

#endif /* XBD_HV_H */
