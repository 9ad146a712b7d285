/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Event channels of the "xen" platform: libxenevtchn on
 * /dev/xen/evtchn, whose semantics plat.h copies (one fd per handle, a
 * fired port stays masked until unmasked).  The one difference: the
 * library's fd blocks in read(), and plat_evtchn_pending must not, so
 * the fd is switched to non-blocking when the handle is opened.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "px_internal.h"

static struct px_evtchn *
px_evtchn_of(struct plat_evtchn *h)
{
	return ((struct px_evtchn *)h);
}

int
px_evtchn_open(struct plat *p, struct plat_evtchn **out)
{
	struct px_evtchn *e;
	int fd, fl, error;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (-ENOMEM);
	e->pe_base.pe_plat = p;
	if ((e->pe_xce = xenevtchn_open(NULL, 0)) == NULL) {
		error = errno == ENOENT ? -ENODEV : -errno;
		free(e);
		return (error);
	}
	fd = xenevtchn_fd(e->pe_xce);
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		error = -errno;
		xenevtchn_close(e->pe_xce);
		free(e);
		return (error);
	}
	*out = &e->pe_base;
	return (0);
}

void
px_evtchn_close(struct plat_evtchn *h)
{
	struct px_evtchn *e = px_evtchn_of(h);

	/* Closing the device unbinds every port bound through it. */
	xenevtchn_close(e->pe_xce);
	free(e);
}

int
px_evtchn_fd(struct plat_evtchn *h)
{
	return (xenevtchn_fd(px_evtchn_of(h)->pe_xce));
}

int
px_evtchn_bind_unbound(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t *port)
{
	xenevtchn_port_or_error_t r;

	r = xenevtchn_bind_unbound_port(px_evtchn_of(h)->pe_xce, remote);
	if (r < 0)
		return (-errno);
	*port = (evtchn_port_t)r;
	return (0);
}

int
px_evtchn_bind_interdomain(struct plat_evtchn *h, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port)
{
	xenevtchn_port_or_error_t r;

	r = xenevtchn_bind_interdomain(px_evtchn_of(h)->pe_xce, remote, rport);
	if (r < 0)
		return (-errno);
	*port = (evtchn_port_t)r;
	return (0);
}

int
px_evtchn_notify(struct plat_evtchn *h, evtchn_port_t port)
{
	struct px *x = px_of(h->pe_plat);

	if (xenevtchn_notify(px_evtchn_of(h)->pe_xce, port) != 0)
		return (errno == EINVAL ? -ENOTCONN : -errno);
	atomic_fetch_add(&x->px_st.st_notify, 1);
	return (0);
}

int
px_evtchn_pending(struct plat_evtchn *h, evtchn_port_t *port)
{
	struct px *x = px_of(h->pe_plat);
	xenevtchn_port_or_error_t r;

	if ((r = xenevtchn_pending(px_evtchn_of(h)->pe_xce)) < 0)
		return (errno == EWOULDBLOCK ? -EAGAIN : -errno);
	atomic_fetch_add(&x->px_st.st_events, 1);
	*port = (evtchn_port_t)r;
	return (0);
}

int
px_evtchn_unmask(struct plat_evtchn *h, evtchn_port_t port)
{
	if (xenevtchn_unmask(px_evtchn_of(h)->pe_xce, port) != 0)
		return (-errno);
	return (0);
}

int
px_evtchn_unbind(struct plat_evtchn *h, evtchn_port_t port)
{
	if (xenevtchn_unbind(px_evtchn_of(h)->pe_xce, port) != 0)
		return (-errno);
	return (0);
}
