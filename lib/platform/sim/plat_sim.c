/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "sim" platform: the struct plat_ops table both modes share, the
 * life of a view (one domain's struct plat), the in-process control
 * operations, and opening libxenstore handles as a given domain.
 *
 * XENSTORED_PATH.  libxenstore picks its daemon from the XENSTORED_PATH
 * environment variable, and only inside xs_open().  A view opens its
 * handle by setting the variable to its domain's socket for the duration
 * of xs_open(0) and restoring it afterwards, under hv_env_lock (the one
 * mutable file-scope object of this library).  Other threads may call
 * getenv() meanwhile (libxenstore itself does, in their xs_open() calls
 * made outside this file); glibc's setenv() of a variable that already
 * exists only swaps one pointer in the environment array and never frees
 * the old string, so such a getenv() sees the old or the new value.  What
 * must not happen is the array itself being reallocated under a reader,
 * which setenv() of a *new* variable does.  So the first machine or view
 * of the process sets XENSTORED_PATH once (to libxenstore's own default,
 * if it was unset): every later setenv() replaces in place.  Code that
 * calls xs_open() itself while views open handles may briefly see a
 * domain's socket; in this project every XenStore handle of a simulated
 * domain is opened through plat_xs_open() or hv_xs_open_priv().
 *
 * Free callbacks (plat_gnt_request_free_callback): when enough refs are
 * already free at request time the callback runs at once, on the calling
 * thread, without platform locks, as FreeBSD's check_free_callbacks does;
 * otherwise on the thread whose plat_gnt_release made enough free.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenstore.h>
#include <xenstore_lib.h>

#include "hv_internal.h"

/* Serializes every change of XENSTORED_PATH (see the header comment). */
static pthread_mutex_t hv_env_lock = PTHREAD_MUTEX_INITIALIZER;

void
hv_env_init(void)
{
	const char *def;

	pthread_mutex_lock(&hv_env_lock);
	if (getenv("XENSTORED_PATH") == NULL) {
		def = xs_daemon_socket();
		(void)setenv("XENSTORED_PATH",
		    def != NULL ? def : "/var/run/xenstored/socket", 0);
	}
	pthread_mutex_unlock(&hv_env_lock);
}

struct xs_handle *
hv_xs_open_path(const char *path)
{
	struct xs_handle *xs;
	const char *cur;
	char *saved = NULL;
	int error;

	pthread_mutex_lock(&hv_env_lock);
	if ((cur = getenv("XENSTORED_PATH")) != NULL &&
	    (saved = strdup(cur)) == NULL) {
		pthread_mutex_unlock(&hv_env_lock);
		errno = ENOMEM;
		return (NULL);
	}
	if (setenv("XENSTORED_PATH", path, 1) != 0) {
		error = errno;
		pthread_mutex_unlock(&hv_env_lock);
		free(saved);
		errno = error;
		return (NULL);
	}
	xs = xs_open(0);
	error = errno;
	if (saved != NULL)
		(void)setenv("XENSTORED_PATH", saved, 1);
	pthread_mutex_unlock(&hv_env_lock);
	free(saved);
	errno = error;
	return (xs);
}

struct xs_handle *
hv_xs_open_priv(struct hv *hv)
{
	char path[PATH_MAX];

	if (hv_xs_path(hv->hv_dir, 0, path, sizeof(path)) != 0) {
		errno = ENAMETOOLONG;
		return (NULL);
	}
	return (hv_xs_open_path(path));
}

/* ---------------------------------------------------------------------
 * Control operations of an in-process view: the machine, under its lock
 */

static struct hv *
hv_local(struct hv_view *v)
{
	return (v->hv_machine);
}

static int
hv_local_evtchn_open(struct hv_view *v, int fd, uint32_t *hid)
{
	struct hv *hv = hv_local(v);
	int dfd, error;

	/* The machine keeps its own copy for notifiers (hv_m_handle_fd). */
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return (-errno);
	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_evtchn_open(hv, v->hv_act.hv_slot, v->hv_act.hv_gen, dfd,
	    0, hid);
	pthread_mutex_unlock(&hv->hv_lock);
	if (error != 0)
		close(dfd);
	return (error);
}

static int
hv_local_evtchn_close(struct hv_view *v, uint32_t hid)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_evtchn_close(hv, v->hv_act.hv_slot, hid, 0);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static int
hv_local_bind_unbound(struct hv_view *v, uint32_t hid, uint32_t remote,
    evtchn_port_t *port)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_bind_unbound(hv, v->hv_act.hv_slot, v->hv_act.hv_gen, hid,
	    0, remote, port);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static int
hv_local_bind_interdomain(struct hv_view *v, uint32_t hid, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_bind_interdomain(hv, v->hv_act.hv_slot, v->hv_act.hv_gen,
	    hid, 0, remote, rport, port);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static int
hv_local_unbind(struct hv_view *v, uint32_t hid, evtchn_port_t port)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error =
	    hv_m_unbind(hv, v->hv_act.hv_slot, v->hv_act.hv_gen, hid, 0, port);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static int
hv_local_handle_fd(struct hv_view *v, uint32_t hid, int *fd)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_handle_fd(hv, hid, fd);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static int
hv_local_arena_fd(struct hv_view *v, unsigned int slot, uint32_t gen, int *fd)
{
	struct hv *hv = hv_local(v);
	int error;

	pthread_mutex_lock(&hv->hv_lock);
	error = hv_m_arena_fd(hv, slot, gen, fd);
	pthread_mutex_unlock(&hv->hv_lock);
	return (error);
}

static void
hv_local_close(struct hv_view *v)
{
	hv_put(hv_local(v));
}

static const struct hv_ctl_ops hv_local_ctl = {
	.co_evtchn_open = hv_local_evtchn_open,
	.co_evtchn_close = hv_local_evtchn_close,
	.co_bind_unbound = hv_local_bind_unbound,
	.co_bind_interdomain = hv_local_bind_interdomain,
	.co_unbind = hv_local_unbind,
	.co_handle_fd = hv_local_handle_fd,
	.co_arena_fd = hv_local_arena_fd,
	.co_close = hv_local_close,
};

/* ---------------------------------------------------------------------
 * Views
 */

/* A blank view: locks ready, nothing owned yet. */
struct hv_view *
hv_view_alloc(void)
{
	struct hv_view *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return (NULL);
	v->hv_arena_fd = -1;
	pthread_mutex_init(&v->hv_mem_lock, NULL);
	pthread_mutex_init(&v->hv_ref_lock, NULL);
	pthread_mutex_init(&v->hv_map_lock, NULL);
	return (v);
}

/*
 * Finish a view whose hv_ctl, hv_shm, hv_act, hv_id and hv_dir are set;
 * arena_fd (its own arena) is consumed.  On failure the caller frees the
 * view with hv_view_free().
 */
int
hv_view_open(struct hv_view *v, int arena_fd)
{
	size_t bytes = (size_t)v->hv_shm.hv_geom.hv_npages * XBD_PAGE_SIZE;
	int error;

	v->hv_plat.pl_ops = &hv_plat_ops;
	v->hv_plat.pl_domid = v->hv_act.hv_domid;
	v->hv_act.hv_shm = &v->hv_shm;
	v->hv_arena_fd = arena_fd;
	if ((error = hv_mem_init(v)) != 0)
		return (error);
	v->hv_arena =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, arena_fd, 0);
	if (v->hv_arena == MAP_FAILED) {
		v->hv_arena = NULL;
		return (-ENOMEM);
	}
	return (0);
}

void
hv_view_free(struct hv_view *v)
{
	hv_gnt_view_fini(v);
	hv_mem_fini(v);
	if (v->hv_arena != NULL)
		munmap(v->hv_arena,
		    (size_t)v->hv_shm.hv_geom.hv_npages * XBD_PAGE_SIZE);
	if (v->hv_arena_fd >= 0)
		close(v->hv_arena_fd);
	if (v->hv_ctl != NULL)
		v->hv_ctl->co_close(v);
	pthread_mutex_destroy(&v->hv_mem_lock);
	pthread_mutex_destroy(&v->hv_ref_lock);
	pthread_mutex_destroy(&v->hv_map_lock);
	free(v->hv_dir);
	free(v);
}

int
hv_view_new_local(struct hv *hv, unsigned int slot, uint32_t gen,
    struct plat **out)
{
	struct hv_view *v;
	int fd, error;

	if ((v = hv_view_alloc()) == NULL)
		return (-ENOMEM);
	atomic_fetch_add(&hv->hv_refs, 1);
	v->hv_machine = hv;
	v->hv_ctl = &hv_local_ctl;
	v->hv_shm = hv->hv_shm;
	v->hv_act.hv_slot = slot;
	v->hv_act.hv_gen = gen;
	v->hv_act.hv_domid =
	    atomic_load(&hv_dom_at(&hv->hv_shm, slot)->dom_domid);
	v->hv_act.hv_pid = hv->hv_pid;
	v->hv_id = hv_new_id(&hv->hv_shm);
	if ((v->hv_dir = strdup(hv->hv_dir)) == NULL) {
		error = -ENOMEM;
		goto fail;
	}
	if ((error = hv_local_arena_fd(v, slot, gen, &fd)) != 0)
		goto fail;
	if ((error = hv_view_open(v, fd)) != 0)
		goto fail;
	*out = &v->hv_plat;
	return (0);

fail:
	hv_view_free(v);
	return (error);
}

/* ---------------------------------------------------------------------
 * The plat_ops entries that are not grants or event channels
 */

static void
hv_plat_close(struct plat *p)
{
	hv_view_free(hv_view_of(p));
}

static struct xs_handle *
hv_plat_xs_open(struct plat *p)
{
	struct hv_view *v = hv_view_of(p);
	char path[PATH_MAX];
	int rc;

	if (!hv_view_alive(v)) {
		errno = ESRCH;
		return (NULL);
	}
	rc = hv_xs_path(v->hv_dir, v->hv_act.hv_domid, path, sizeof(path));
	if (rc != 0) {
		errno = ENAMETOOLONG;
		return (NULL);
	}
	return (hv_xs_open_path(path));
}

static void
hv_plat_stats(struct plat *p, struct plat_stats *st)
{
	struct hv_view *v = hv_view_of(p);
	const struct hv_stats *s = &v->hv_st;

	memset(st, 0, sizeof(*st));
	st->ps_notify = atomic_load(&s->hv_notify);
	st->ps_notify_skip = atomic_load(&s->hv_notify_skip);
	st->ps_events = atomic_load(&s->hv_events);
	st->ps_grants = atomic_load(&s->hv_grants);
	st->ps_grant_ends = atomic_load(&s->hv_grant_ends);
	st->ps_grant_busy = atomic_load(&s->hv_grant_busy);
	st->ps_maps = atomic_load(&s->hv_maps);
	st->ps_unmaps = atomic_load(&s->hv_unmaps);
	st->ps_map_errors = atomic_load(&s->hv_map_errors);
	st->ps_copy_segs = atomic_load(&s->hv_copy_segs);
	st->ps_copy_bytes = atomic_load(&s->hv_copy_bytes);
	hv_ref_counts(v, &st->ps_refs_in_use, &st->ps_refs_total);
}

int
plat_sim_usage(struct plat *p, uint32_t domid, struct hv_dom_usage *u)
{
	if (p == NULL || p->pl_ops != &hv_plat_ops)
		return (-EINVAL);
	return (hv_shm_usage(&hv_view_of(p)->hv_shm, domid, u));
}

const struct plat_ops hv_plat_ops = {
	.po_name = "sim",
	.po_caps = PLAT_CAP_GNT_PER_PAGE | PLAT_CAP_GNT_READONLY |
	    PLAT_CAP_GNT_MAP | PLAT_CAP_GNT_COPY,
	.po_close = hv_plat_close,
	.po_xs_open = hv_plat_xs_open,
	.po_mem_alloc = hv_mem_alloc,
	.po_mem_free = hv_mem_free,
	.po_gnt_reserve = hv_gnt_reserve,
	.po_gnt_release = hv_gnt_release,
	.po_gnt_request_free_callback = hv_gnt_request_free_callback,
	.po_gnt_cancel_free_callback = hv_gnt_cancel_free_callback,
	.po_gnt_grant = hv_gnt_grant,
	.po_gnt_end = hv_gnt_end,
	.po_map = hv_gnt_map,
	.po_unmap = hv_gnt_unmap,
	.po_map_batch = hv_gnt_map_batch,
	.po_unmap_batch = hv_gnt_unmap_batch,
	.po_copy = hv_gnt_copy,
	.po_evtchn_open = hv_evtchn_open,
	.po_evtchn_close = hv_evtchn_close,
	.po_evtchn_fd = hv_evtchn_fd,
	.po_evtchn_bind_unbound = hv_evtchn_bind_unbound,
	.po_evtchn_bind_interdomain = hv_evtchn_bind_interdomain,
	.po_evtchn_notify = hv_evtchn_notify,
	.po_evtchn_pending = hv_evtchn_pending,
	.po_evtchn_unmask = hv_evtchn_unmask,
	.po_evtchn_unbind = hv_evtchn_unbind,
	.po_stats = hv_plat_stats,
};
