/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Event channels: Xen's 2-level semantics (docs/hypervisor.md 3.1) delivered
 * the way libxenevtchn delivers them on Linux (3.2).
 *
 * Each port lives in machine memory: state, peer, owning handle, and the
 * pending and mask bits.  Each handle owns one eventfd, its pollable fd.
 * A notify sets the peer port's pending bit; only when that bit was clear
 * and the port is not masked does it write the peer handle's eventfd, so
 * notifies coalesce.  plat_evtchn_pending takes one pending unmasked port
 * (round-robin over the handle's ports), masks it and clears its pending
 * bit; it stays masked until plat_evtchn_unmask, which re-signals when a
 * notify arrived meanwhile.  Binding to an interdomain port leaves the
 * new local port pending: the spurious first event of Xen.
 *
 * Allocation, binding and closing are control operations: the machine
 * runs them under hv_lock (first half of this file).  Notify, pending and
 * unmask only touch shared memory and eventfds (second half); the fd of a
 * peer handle is fetched from the machine once and cached per port.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv_internal.h"

void
hv_efd_signal(int fd)
{
	uint64_t one = 1;

	/* A full counter (2^64-2) already means "readable": ignore. */
	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return;
}

/* ---------------------------------------------------------------------
 * Machine side (hv_lock held)
 */

static struct hv_handle *
hv_handle_find(struct hv *hv, uint32_t hid)
{
	size_t i;

	for (i = 0; i < hv->hv_nhandles; i++)
		if (hv->hv_handles[i].hv_id == hid)
			return (&hv->hv_handles[i]);
	return (NULL);
}

static void
hv_handle_remove(struct hv *hv, struct hv_handle *h)
{
	close(h->hv_fd);
	*h = hv->hv_handles[--hv->hv_nhandles];
}

int
hv_m_evtchn_open(struct hv *hv, unsigned int slot, uint32_t gen, int fd,
    uintptr_t owner, uint32_t *hid)
{
	struct hv_handle *nh;
	size_t cap;

	if (!hv_dom_alive(&hv->hv_shm, slot, gen))
		return (-ESRCH);
	if (hv->hv_nhandles == hv->hv_handles_cap) {
		cap = hv->hv_handles_cap == 0 ? 16 : hv->hv_handles_cap * 2;
		nh = realloc(hv->hv_handles, cap * sizeof(*nh));
		if (nh == NULL)
			return (-ENOMEM);
		hv->hv_handles = nh;
		hv->hv_handles_cap = cap;
	}
	nh = &hv->hv_handles[hv->hv_nhandles++];
	nh->hv_id = hv_new_id(&hv->hv_shm);
	nh->hv_slot = slot;
	nh->hv_fd = fd;
	nh->hv_owner = owner;
	*hid = nh->hv_id;
	return (0);
}

/* Is hid a handle of slot opened by owner? */
static struct hv_handle *
hv_handle_check(struct hv *hv, unsigned int slot, uint32_t hid, uintptr_t owner)
{
	struct hv_handle *h = hv_handle_find(hv, hid);

	if (h == NULL || h->hv_slot != slot || h->hv_owner != owner)
		return (NULL);
	return (h);
}

/*
 * Close a port.  An interdomain peer that still points back at it goes
 * back to unbound, accepting a new bind from this domain (Xen's close).
 */
static void
hv_port_close(struct hv *hv, unsigned int slot, uint32_t port)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_port *p = hv_port_at(m, slot, port), *q;
	uint32_t rs, rp;

	if (atomic_load(&p->ec_state) == HV_PORT_INTERDOMAIN) {
		rs = atomic_load(&p->ec_remote_slot);
		rp = atomic_load(&p->ec_remote_port);
		if (rs < HV_MAX_DOMAINS && rp > 0 &&
		    rp < m->hv_geom.hv_nports) {
			q = hv_port_at(m, rs, rp);
			if (atomic_load(&q->ec_state) == HV_PORT_INTERDOMAIN &&
			    atomic_load(&q->ec_remote_slot) == slot &&
			    atomic_load(&q->ec_remote_port) == port) {
				atomic_store(&q->ec_state, HV_PORT_UNBOUND);
				atomic_store(&q->ec_remote_dom,
				    atomic_load(
					&hv_dom_at(m, slot)->dom_domid));
				atomic_store(&q->ec_remote_slot, 0);
				atomic_store(&q->ec_remote_port, 0);
			}
		}
	}
	atomic_store(&p->ec_state, HV_PORT_FREE);
	atomic_store(&p->ec_handle, 0);
	atomic_store(&p->ec_pending, 0);
	atomic_store(&p->ec_masked, 0);
	atomic_store(&p->ec_remote_dom, 0);
	atomic_store(&p->ec_remote_slot, 0);
	atomic_store(&p->ec_remote_port, 0);
}

/* Close every port of slot bound through handle hid. */
static void
hv_ports_close_handle(struct hv *hv, unsigned int slot, uint32_t hid)
{
	const struct hv_shm *m = &hv->hv_shm;
	uint32_t p, hwm;

	hwm = XU_MIN(atomic_load(&hv_dom_at(m, slot)->dom_port_hwm),
	    m->hv_geom.hv_nports);
	for (p = 1; p < hwm; p++)
		if (hv_port_used(m, slot, p) &&
		    atomic_load(&hv_port_at(m, slot, p)->ec_handle) == hid)
			hv_port_close(hv, slot, p);
}

int
hv_m_evtchn_close(struct hv *hv, unsigned int slot, uint32_t hid,
    uintptr_t owner)
{
	struct hv_handle *h = hv_handle_check(hv, slot, hid, owner);

	if (h == NULL)
		return (-EBADF);
	hv_ports_close_handle(hv, slot, hid);
	hv_handle_remove(hv, h);
	return (0);
}

/* The lowest free port (Xen allocates from 1 up), or 0. */
static uint32_t
hv_port_alloc(struct hv *hv, unsigned int slot)
{
	const struct hv_shm *m = &hv->hv_shm;
	uint32_t p;

	for (p = 1; p < m->hv_geom.hv_nports; p++)
		if (!hv_port_used(m, slot, p)) {
			hv_hwm_raise(&hv_dom_at(m, slot)->dom_port_hwm, p + 1);
			return (p);
		}
	return (0);
}

int
hv_m_bind_unbound(struct hv *hv, unsigned int slot, uint32_t gen, uint32_t hid,
    uintptr_t owner, uint32_t remote, evtchn_port_t *port)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_port *p;
	unsigned int rslot;
	uint32_t rgen, n;

	if (!hv_dom_alive(m, slot, gen))
		return (-ESRCH);
	if (hv_handle_check(hv, slot, hid, owner) == NULL)
		return (-EBADF);
	if (remote == DOMID_SELF)
		remote = atomic_load(&hv_dom_at(m, slot)->dom_domid);
	if (hv_dom_find(m, remote, &rslot, &rgen) != 0)
		return (-ESRCH);
	if ((n = hv_port_alloc(hv, slot)) == 0)
		return (-ENOSPC);
	p = hv_port_at(m, slot, n);
	atomic_store(&p->ec_pending, 0);
	atomic_store(&p->ec_masked, 0);
	atomic_store(&p->ec_remote_dom, remote);
	atomic_store(&p->ec_remote_slot, 0);
	atomic_store(&p->ec_remote_port, 0);
	atomic_store(&p->ec_handle, hid);
	atomic_store(&p->ec_state, HV_PORT_UNBOUND);
	*port = n;
	return (0);
}

int
hv_m_bind_interdomain(struct hv *hv, unsigned int slot, uint32_t gen,
    uint32_t hid, uintptr_t owner, uint32_t remote, evtchn_port_t rport,
    evtchn_port_t *port)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_port *p, *q;
	unsigned int rslot;
	uint32_t rgen, n, self;

	if (!hv_dom_alive(m, slot, gen))
		return (-ESRCH);
	if (hv_handle_check(hv, slot, hid, owner) == NULL)
		return (-EBADF);
	self = atomic_load(&hv_dom_at(m, slot)->dom_domid);
	if (remote == DOMID_SELF)
		remote = self;
	if (hv_dom_find(m, remote, &rslot, &rgen) != 0)
		return (-ESRCH);
	if (rport == 0 || rport >= m->hv_geom.hv_nports)
		return (-EINVAL);
	q = hv_port_at(m, rslot, rport);
	if (atomic_load(&q->ec_state) != HV_PORT_UNBOUND ||
	    atomic_load(&q->ec_remote_dom) != self)
		return (-EINVAL);
	if ((n = hv_port_alloc(hv, slot)) == 0)
		return (-ENOSPC);
	p = hv_port_at(m, slot, n);
	atomic_store(&p->ec_masked, 0);
	atomic_store(&p->ec_remote_dom, remote);
	atomic_store(&p->ec_remote_slot, rslot);
	atomic_store(&p->ec_remote_port, rport);
	atomic_store(&p->ec_handle, hid);
	/* Xen sets the new port pending: events lost while unbound. */
	atomic_store(&p->ec_pending, 1);
	atomic_store(&p->ec_state, HV_PORT_INTERDOMAIN);
	atomic_store(&q->ec_remote_dom, self);
	atomic_store(&q->ec_remote_slot, slot);
	atomic_store(&q->ec_remote_port, n);
	atomic_store(&q->ec_state, HV_PORT_INTERDOMAIN);
	*port = n;
	return (0);
}

int
hv_m_unbind(struct hv *hv, unsigned int slot, uint32_t gen, uint32_t hid,
    uintptr_t owner, evtchn_port_t port)
{
	const struct hv_shm *m = &hv->hv_shm;
	struct hv_port *p;

	if (!hv_dom_alive(m, slot, gen))
		return (-ESRCH);
	if (hv_handle_check(hv, slot, hid, owner) == NULL)
		return (-EBADF);
	if (port == 0 || port >= m->hv_geom.hv_nports)
		return (-ENOTCONN);
	p = hv_port_at(m, slot, port);
	if (atomic_load(&p->ec_state) == HV_PORT_FREE ||
	    atomic_load(&p->ec_handle) != hid)
		return (-ENOTCONN);
	hv_port_close(hv, slot, port);
	return (0);
}

int
hv_m_handle_fd(struct hv *hv, uint32_t hid, int *fd)
{
	struct hv_handle *h = hv_handle_find(hv, hid);

	if (h == NULL)
		return (-EBADF);
	if ((*fd = fcntl(h->hv_fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return (-errno);
	return (0);
}

void
hv_m_close_ports(struct hv *hv, unsigned int slot)
{
	const struct hv_shm *m = &hv->hv_shm;
	uint32_t p, hwm;
	size_t i;

	hwm = XU_MIN(atomic_load(&hv_dom_at(m, slot)->dom_port_hwm),
	    m->hv_geom.hv_nports);
	for (p = 1; p < hwm; p++)
		if (hv_port_used(m, slot, p))
			hv_port_close(hv, slot, p);
	atomic_store(&hv_dom_at(m, slot)->dom_port_hwm, 0);
	for (i = 0; i < hv->hv_nhandles;)
		if (hv->hv_handles[i].hv_slot == slot)
			hv_handle_remove(hv, &hv->hv_handles[i]);
		else
			i++;
}

void
hv_m_close_owner(struct hv *hv, uintptr_t owner)
{
	struct hv_handle *h;
	size_t i;

	for (i = 0; i < hv->hv_nhandles;) {
		h = &hv->hv_handles[i];
		if (h->hv_owner != owner) {
			i++;
			continue;
		}
		hv_ports_close_handle(hv, h->hv_slot, h->hv_id);
		hv_handle_remove(hv, h);
	}
}

/* ---------------------------------------------------------------------
 * View side: the handles of struct plat_evtchn
 */

/* A port bound through a handle, as the handle remembers it. */
struct hv_ecport {
	evtchn_port_t ec_port; /* the local port */
	uint32_t ec_peer_hid;  /* the handle ec_peer_fd signals */
	int ec_peer_fd;	       /* peer handle's eventfd, -1 until used */
};

struct hv_evtchn {
	struct plat_evtchn ec_plat; /* embedded first (plat.h) */
	struct hv_view *ec_view;    /* the domain it belongs to */
	uint32_t ec_id;		    /* global handle id (never reused) */
	int ec_fd;		    /* our eventfd: the pollable fd */
	pthread_mutex_t ec_lock;    /* ec_ports and the peer fds */
	struct hv_ecport *ec_ports; /* ports bound through us */
	unsigned int ec_nports;	    /* entries used */
	unsigned int ec_cap;	    /* entries allocated */
	unsigned int ec_rr;	    /* round-robin cursor of pending */
};

static struct hv_evtchn *
hv_evtchn_of(struct plat_evtchn *h)
{
	return ((struct hv_evtchn *)(void *)h);
}

static struct hv_port *
hv_evtchn_port(struct hv_evtchn *e, evtchn_port_t port)
{
	struct hv_view *v = e->ec_view;

	return (hv_port_at(&v->hv_shm, v->hv_act.hv_slot, port));
}

static struct hv_ecport *
hv_ecport_find(struct hv_evtchn *e, evtchn_port_t port)
{
	unsigned int i;

	for (i = 0; i < e->ec_nports; i++)
		if (e->ec_ports[i].ec_port == port)
			return (&e->ec_ports[i]);
	return (NULL);
}

int
hv_evtchn_open(struct plat *p, struct plat_evtchn **out)
{
	struct hv_view *v = hv_view_of(p);
	struct hv_evtchn *e;
	int error;

	if (!hv_view_alive(v))
		return (-ESRCH);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (-ENOMEM);
	e->ec_plat.pe_plat = p;
	e->ec_view = v;
	if ((e->ec_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		error = -errno;
		goto fail_free;
	}
	if ((error = v->hv_ctl->co_evtchn_open(v, e->ec_fd, &e->ec_id)) != 0)
		goto fail_fd;
	pthread_mutex_init(&e->ec_lock, NULL);
	*out = &e->ec_plat;
	return (0);

fail_fd:
	close(e->ec_fd);
fail_free:
	free(e);
	return (error);
}

void
hv_evtchn_close(struct plat_evtchn *h)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_view *v = e->ec_view;
	unsigned int i;

	/* The machine closes every port of the handle with it. */
	(void)v->hv_ctl->co_evtchn_close(v, e->ec_id);
	for (i = 0; i < e->ec_nports; i++)
		if (e->ec_ports[i].ec_peer_fd >= 0)
			close(e->ec_ports[i].ec_peer_fd);
	free(e->ec_ports);
	close(e->ec_fd);
	pthread_mutex_destroy(&e->ec_lock);
	free(e);
}

int
hv_evtchn_fd(struct plat_evtchn *h)
{
	return (hv_evtchn_of(h)->ec_fd);
}

/*
 * Remember a freshly bound port; if it is already pending (a bind to an
 * interdomain port, or a notify racing with us), make the fd readable:
 * the poller may have drained it before the port was on our list.
 * ec_lock held.
 */
static int
hv_ecport_add(struct hv_evtchn *e, evtchn_port_t port)
{
	struct hv_ecport *np;
	struct hv_port *p;
	unsigned int cap;

	if (e->ec_nports == e->ec_cap) {
		cap = e->ec_cap == 0 ? 4 : e->ec_cap * 2;
		np = realloc(e->ec_ports, cap * sizeof(*np));
		if (np == NULL)
			return (-ENOMEM);
		e->ec_ports = np;
		e->ec_cap = cap;
	}
	np = &e->ec_ports[e->ec_nports++];
	np->ec_port = port;
	np->ec_peer_hid = 0;
	np->ec_peer_fd = -1;
	p = hv_evtchn_port(e, port);
	if (atomic_load(&p->ec_pending) != 0 && atomic_load(&p->ec_masked) == 0)
		hv_efd_signal(e->ec_fd);
	return (0);
}

int
hv_evtchn_bind_unbound(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t *port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_view *v = e->ec_view;
	evtchn_port_t n;
	int error;

	pthread_mutex_lock(&e->ec_lock);
	error = v->hv_ctl->co_bind_unbound(v, e->ec_id, remote, &n);
	if (error == 0 && (error = hv_ecport_add(e, n)) != 0)
		(void)v->hv_ctl->co_unbind(v, e->ec_id, n);
	pthread_mutex_unlock(&e->ec_lock);
	if (error == 0)
		*port = n;
	return (error);
}

int
hv_evtchn_bind_interdomain(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_view *v = e->ec_view;
	evtchn_port_t n;
	int error;

	pthread_mutex_lock(&e->ec_lock);
	error = v->hv_ctl->co_bind_interdomain(v, e->ec_id, remote, rport, &n);
	if (error == 0 && (error = hv_ecport_add(e, n)) != 0)
		(void)v->hv_ctl->co_unbind(v, e->ec_id, n);
	pthread_mutex_unlock(&e->ec_lock);
	if (error == 0)
		*port = n;
	return (error);
}

int
hv_evtchn_unbind(struct plat_evtchn *h, evtchn_port_t port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_view *v = e->ec_view;
	struct hv_ecport *ep;
	int error;

	pthread_mutex_lock(&e->ec_lock);
	if ((ep = hv_ecport_find(e, port)) == NULL) {
		pthread_mutex_unlock(&e->ec_lock);
		return (-ENOTCONN);
	}
	error = v->hv_ctl->co_unbind(v, e->ec_id, port);
	/* Forget it even if the domain died and the machine said so. */
	if (ep->ec_peer_fd >= 0)
		close(ep->ec_peer_fd);
	*ep = e->ec_ports[--e->ec_nports];
	pthread_mutex_unlock(&e->ec_lock);
	return (error == -ESRCH ? 0 : error);
}

int
hv_evtchn_notify(struct plat_evtchn *h, evtchn_port_t port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_view *v = e->ec_view;
	const struct hv_shm *m = &v->hv_shm;
	struct hv_ecport *ep;
	struct hv_port *p, *q;
	uint32_t state, rs, rp, qh;
	int fd, error = 0;

	if (!hv_view_alive(v))
		return (-ESRCH);
	pthread_mutex_lock(&e->ec_lock);
	if ((ep = hv_ecport_find(e, port)) == NULL) {
		error = -ENOTCONN;
		goto out;
	}
	p = hv_evtchn_port(e, port);
	state = atomic_load(&p->ec_state);
	if (state == HV_PORT_FREE || atomic_load(&p->ec_handle) != e->ec_id) {
		error = -ENOTCONN; /* closed under us (domain died) */
		goto out;
	}
	if (state != HV_PORT_INTERDOMAIN)
		goto out; /* Xen drops a send on an unbound port */
	rs = atomic_load(&p->ec_remote_slot);
	rp = atomic_load(&p->ec_remote_port);
	if (rs >= HV_MAX_DOMAINS || rp == 0 || rp >= m->hv_geom.hv_nports)
		goto out;
	q = hv_port_at(m, rs, rp);
	if (atomic_load(&q->ec_state) != HV_PORT_INTERDOMAIN ||
	    atomic_load(&q->ec_remote_slot) != v->hv_act.hv_slot ||
	    atomic_load(&q->ec_remote_port) != port)
		goto out; /* the peer went away: dropped */
	if (atomic_exchange(&q->ec_pending, 1) != 0 ||
	    atomic_load(&q->ec_masked) != 0) {
		atomic_fetch_add_explicit(&v->hv_st.hv_notify_skip, 1,
		    memory_order_relaxed);
		goto out;
	}
	qh = atomic_load(&q->ec_handle);
	if (ep->ec_peer_fd < 0 || ep->ec_peer_hid != qh) {
		if (ep->ec_peer_fd >= 0)
			close(ep->ec_peer_fd);
		ep->ec_peer_fd = -1;
		if (v->hv_ctl->co_handle_fd(v, qh, &fd) != 0)
			goto out; /* the handle closed: nobody to wake */
		ep->ec_peer_fd = fd;
		ep->ec_peer_hid = qh;
	}
	hv_efd_signal(ep->ec_peer_fd);
	atomic_fetch_add_explicit(&v->hv_st.hv_notify, 1, memory_order_relaxed);
out:
	pthread_mutex_unlock(&e->ec_lock);
	return (error);
}

/* Is port fired (ours, pending, not masked)? */
static bool
hv_port_fired(struct hv_evtchn *e, evtchn_port_t port)
{
	struct hv_port *p = hv_evtchn_port(e, port);

	return (atomic_load(&p->ec_handle) == e->ec_id &&
	    atomic_load(&p->ec_pending) != 0 &&
	    atomic_load(&p->ec_masked) == 0);
}

int
hv_evtchn_pending(struct plat_evtchn *h, evtchn_port_t *port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_port *p;
	unsigned int k, i, n;
	uint64_t cnt;

	if (!hv_view_alive(e->ec_view))
		return (-ESRCH);
	pthread_mutex_lock(&e->ec_lock);
	/* Drain first: a notify after this point re-signals the fd. */
	if (read(e->ec_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing was signalled; look anyway. */
	}
	n = e->ec_nports;
	for (k = 0; k < n; k++) {
		i = (e->ec_rr + k) % n;
		if (hv_port_fired(e, e->ec_ports[i].ec_port))
			break;
	}
	if (k == n) {
		pthread_mutex_unlock(&e->ec_lock);
		return (-EAGAIN);
	}
	*port = e->ec_ports[i].ec_port;
	p = hv_evtchn_port(e, *port);
	/* Mask, then clear: a notify in between sees the mask. */
	atomic_store(&p->ec_masked, 1);
	atomic_store(&p->ec_pending, 0);
	e->ec_rr = i + 1;
	for (k = 1; k < n; k++)
		if (hv_port_fired(e, e->ec_ports[(i + k) % n].ec_port)) {
			hv_efd_signal(e->ec_fd); /* keep poll readable */
			break;
		}
	pthread_mutex_unlock(&e->ec_lock);
	atomic_fetch_add_explicit(&e->ec_view->hv_st.hv_events, 1,
	    memory_order_relaxed);
	return (0);
}

int
hv_evtchn_unmask(struct plat_evtchn *h, evtchn_port_t port)
{
	struct hv_evtchn *e = hv_evtchn_of(h);
	struct hv_port *p;

	if (!hv_view_alive(e->ec_view))
		return (-ESRCH);
	pthread_mutex_lock(&e->ec_lock);
	if (hv_ecport_find(e, port) == NULL) {
		pthread_mutex_unlock(&e->ec_lock);
		return (-ENOTCONN);
	}
	p = hv_evtchn_port(e, port);
	if (atomic_load(&p->ec_handle) == e->ec_id) {
		atomic_store(&p->ec_masked, 0);
		/* Xen's unmask: a port that fired meanwhile raises now. */
		if (atomic_load(&p->ec_pending) != 0)
			hv_efd_signal(e->ec_fd);
	}
	pthread_mutex_unlock(&e->ec_lock);
	return (0);
}
