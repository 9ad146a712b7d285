/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Multi-process mode: the machine daemon's side of DIR/hv.sock
 * (hv_serve) and a domain process's side (plat_sim_connect and the
 * control operations of its view).
 *
 * The protocol is small and synchronous: one fixed-size message each
 * way, file descriptors in SCM_RIGHTS.  A connection first says HELLO
 * (domain id, name, attach) and receives the machine memfd and its
 * domain's arena memfd; afterwards it asks for event-channel work and
 * for the fds it needs to reach other domains (a peer handle's eventfd,
 * a granter's arena), each fetched once and cached by the caller.  Data
 * never crosses the socket.
 *
 * A connection is one view.  When it closes (plat_close, exit, SIGKILL)
 * the daemon closes its event-channel handles and destroys the domain
 * the connection created, with hv_domain_destroy semantics; a view that
 * attached to an existing domain only gives back its leases.
 *
 * What this is not: a security boundary between domain processes.  Each
 * of them maps the machine memory and may fetch any arena; the rules of
 * Xen are enforced for code that goes through plat.h (which is what a
 * guest's kernel would do), and hostile peers are simulated by tests
 * that write grant entries and rings directly.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv_internal.h"

/* Wait for the rest of a message before dropping a connection. */
#define HV_RPC_TIMEOUT_MS 2000
/* How often hv_serve looks at its stop flag. */
#define HV_SERVE_TICK_MS 100
/* Most file descriptors one message carries (HELLO's reply: two). */
#define HV_RPC_MAX_FDS 2

enum hv_msg_type {
	HV_MSG_HELLO = 1,	     /* domid, attach, name -> slot, gen, id */
	HV_MSG_EVTCHN_OPEN = 2,	     /* + eventfd -> handle id */
	HV_MSG_EVTCHN_CLOSE = 3,     /* handle id */
	HV_MSG_BIND_UNBOUND = 4,     /* handle id, remote -> port */
	HV_MSG_BIND_INTERDOMAIN = 5, /* handle id, remote, port -> port */
	HV_MSG_UNBIND = 6,	     /* handle id, port */
	HV_MSG_GET_HANDLE_FD = 7,    /* handle id -> eventfd */
	HV_MSG_GET_ARENA = 8,	     /* slot, gen -> arena memfd */
};

/* One request or reply on hv.sock (host byte order, never leaves host). */
struct hv_msg {
	uint32_t hm_magic;	   /* HV_MAGIC */
	uint16_t hm_version;	   /* HV_VERSION */
	uint16_t hm_type;	   /* enum hv_msg_type, echoed in the reply */
	int32_t hm_status;	   /* reply: 0 or -errno */
	uint32_t hm_arg[5];	   /* arguments or results, per type */
	char hm_name[HV_NAME_MAX]; /* HELLO: the domain name */
};

_Static_assert(sizeof(struct hv_msg) == 96, "hv.sock message is 96 bytes");
_Static_assert(offsetof(struct hv_msg, hm_arg) == 12 &&
	offsetof(struct hv_msg, hm_name) == 32,
    "hv.sock message layout");

/* ---------------------------------------------------------------------
 * Transport
 */

static int
hv_msg_send(int sock, const struct hv_msg *m, const int *fds, unsigned int nfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HV_RPC_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)m,
		.iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (nfd > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfd);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfd);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (-errno);
	return (n == (ssize_t)sizeof(*m) ? 0 : -EPROTO);
}

/*
 * Receive one whole message and up to maxfd descriptors (extra ones are
 * closed).  *nfd is how many arrived.  -ECONNRESET on a clean EOF.
 */
static int
hv_msg_recv(int sock, struct hv_msg *m, int *fds, unsigned int maxfd,
    unsigned int *nfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	size_t got = 0;
	unsigned int i, k;
	ssize_t n;
	int fd;

	*nfd = 0;
	while (got < sizeof(*m)) {
		iov.iov_base = (char *)m + got;
		iov.iov_len = sizeof(*m) - got;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			for (i = 0; i < *nfd; i++)
				close(fds[i]);
			*nfd = 0;
			return (n == 0 ? -ECONNRESET : -errno);
		}
		for (c = CMSG_FIRSTHDR(&mh); c != NULL;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int));
			for (i = 0; i < k; i++) {
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				    sizeof(int));
				if (*nfd < maxfd)
					fds[(*nfd)++] = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
	if (m->hm_magic != HV_MAGIC || m->hm_version != HV_VERSION) {
		for (i = 0; i < *nfd; i++)
			close(fds[i]);
		*nfd = 0;
		return (-EPROTO);
	}
	return (0);
}

static void
hv_msg_init(struct hv_msg *m, enum hv_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->hm_magic = HV_MAGIC;
	m->hm_version = HV_VERSION;
	m->hm_type = (uint16_t)type;
}

static int
hv_sock_path(const char *dir, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/hv.sock", dir);
	return (n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0);
}

/* ---------------------------------------------------------------------
 * The daemon
 */

/* One domain process's connection (one view). */
struct hv_conn {
	int hv_fd;		 /* the socket */
	int hv_hello;		 /* HELLO done */
	unsigned int hv_slot;	 /* its domain's slot */
	uint32_t hv_gen;	 /* ... and generation */
	uint32_t hv_view_id;	 /* its view id (lease owner tag) */
	int hv_created;		 /* it created the domain: destroy at close */
	pid_t hv_pid;		 /* the process (SO_PEERCRED), 0: unknown */
	uint32_t hv_domid;	 /* its domain, once HELLO is done */
	struct hv_conn *hv_next; /* list link */
};

/*
 * DIR/procs/<domid>.<pid> exists while that process is a domain of the
 * machine, so that `xbd list` can say who holds each end of a vbd.  The
 * daemon keeps it (not the process) so that it goes even on SIGKILL.
 */
static void
hv_conn_mark(struct hv *hv, const struct hv_conn *c, bool add)
{
	char path[PATH_MAX];
	int fd;

	if (c->hv_pid <= 0 ||
	    snprintf(path, sizeof(path), "%s/procs/%u.%d", hv->hv_dir,
		c->hv_domid, (int)c->hv_pid) >= (int)sizeof(path))
		return;
	if (!add) {
		(void)unlink(path);
		*strrchr(path, '/') = '\0';
		(void)rmdir(path); /* fails while others are listed */
		return;
	}
	*strrchr(path, '/') = '\0';
	(void)mkdir(path, 0755);
	path[strlen(path)] = '/';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		close(fd);
}

/*
 * HELLO: the connection becomes a process of domain hm_arg[0], creating
 * the domain unless it exists (which hm_arg[1] == 0 refuses).  The reply
 * carries the machine's fd and the domain's arena.
 */
static int
hv_serve_hello(struct hv *hv, struct hv_conn *c, const struct hv_msg *rq,
    struct hv_msg *rp, int *out, unsigned int *nout)
{
	char name[HV_NAME_MAX];
	uint32_t domid, gen;
	unsigned int slot;
	int error, fd;

	if (c->hv_hello)
		return (-EISCONN);
	domid = rq->hm_arg[0];
	memcpy(name, rq->hm_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (hv_dom_find(&hv->hv_shm, domid, &slot, &gen) == 0) {
		if (rq->hm_arg[1] == 0)
			return (-EEXIST);
	} else {
		error = hv_m_domain_create(hv, domid, name, &slot, &gen);
		if (error != 0)
			return (error);
		c->hv_created = 1;
	}
	if ((error = hv_m_arena_fd(hv, slot, gen, &fd)) != 0) {
		if (c->hv_created)
			(void)hv_m_domain_destroy(hv, slot);
		c->hv_created = 0;
		return (error);
	}
	c->hv_hello = 1;
	c->hv_domid = domid;
	hv_conn_mark(hv, c, true);
	c->hv_slot = slot;
	c->hv_gen = gen;
	c->hv_view_id = hv_new_id(&hv->hv_shm);
	rp->hm_arg[0] = slot;
	rp->hm_arg[1] = gen;
	rp->hm_arg[2] = c->hv_view_id;
	rp->hm_arg[3] = (uint32_t)c->hv_created;
	out[0] = hv->hv_mfd;
	out[1] = fd;
	*nout = 2;
	return (0);
}

/* Handle one request; fill the reply and the fds it carries. */
static void
hv_serve_msg(struct hv *hv, struct hv_conn *c, const struct hv_msg *rq,
    int *fds, unsigned int nfd, struct hv_msg *rp, int *out, unsigned int *nout)
{
	uintptr_t owner = (uintptr_t)c;
	evtchn_port_t port = 0;
	uint32_t hid = 0;
	int error = 0, fd;

	hv_msg_init(rp, (enum hv_msg_type)rq->hm_type);
	*nout = 0;
	if (!c->hv_hello && rq->hm_type != HV_MSG_HELLO) {
		rp->hm_status = -EPROTO;
		return;
	}
	switch (rq->hm_type) {
	case HV_MSG_HELLO:
		error = hv_serve_hello(hv, c, rq, rp, out, nout);
		break;
	case HV_MSG_EVTCHN_OPEN:
		if (nfd != 1) {
			error = -EBADF;
			break;
		}
		error = hv_m_evtchn_open(hv, c->hv_slot, c->hv_gen, fds[0],
		    owner, &hid);
		if (error == 0)
			fds[0] = -1; /* the machine keeps it */
		rp->hm_arg[0] = hid;
		break;
	case HV_MSG_EVTCHN_CLOSE:
		error = hv_m_evtchn_close(hv, c->hv_slot, rq->hm_arg[0], owner);
		break;
	case HV_MSG_BIND_UNBOUND:
		error = hv_m_bind_unbound(hv, c->hv_slot, c->hv_gen,
		    rq->hm_arg[0], owner, rq->hm_arg[1], &port);
		rp->hm_arg[0] = port;
		break;
	case HV_MSG_BIND_INTERDOMAIN:
		error = hv_m_bind_interdomain(hv, c->hv_slot, c->hv_gen,
		    rq->hm_arg[0], owner, rq->hm_arg[1], rq->hm_arg[2], &port);
		rp->hm_arg[0] = port;
		break;
	case HV_MSG_UNBIND:
		error = hv_m_unbind(hv, c->hv_slot, c->hv_gen, rq->hm_arg[0],
		    owner, rq->hm_arg[1]);
		break;
	case HV_MSG_GET_HANDLE_FD:
		if ((error = hv_m_handle_fd(hv, rq->hm_arg[0], &fd)) == 0) {
			out[0] = fd;
			*nout = 1;
		}
		break;
	case HV_MSG_GET_ARENA:
		if (rq->hm_arg[0] >= HV_MAX_DOMAINS) {
			error = -ESRCH;
			break;
		}
		error = hv_m_arena_fd(hv, rq->hm_arg[0], rq->hm_arg[1], &fd);
		if (error == 0) {
			out[0] = fd;
			*nout = 1;
		}
		break;
	default:
		error = -ENOSYS;
		break;
	}
	rp->hm_status = error;
}

/* Serve one request of c.  Non-zero: drop the connection. */
static int
hv_serve_one(struct hv *hv, struct hv_conn *c)
{
	struct hv_msg rq, rp;
	int fds[HV_RPC_MAX_FDS], out[HV_RPC_MAX_FDS];
	unsigned int nfd, nout, i;
	int error;

	error = hv_msg_recv(c->hv_fd, &rq, fds, HV_RPC_MAX_FDS, &nfd);
	if (error != 0)
		return (error);
	pthread_mutex_lock(&hv->hv_lock);
	hv_serve_msg(hv, c, &rq, fds, nfd, &rp, out, &nout);
	pthread_mutex_unlock(&hv->hv_lock);
	for (i = 0; i < nfd; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	error = hv_msg_send(c->hv_fd, &rp, out, nout);
	/* Descriptors we dup'ed for the reply; never the machine memfd. */
	for (i = 0; i < nout; i++)
		if (out[i] != hv->hv_mfd)
			close(out[i]);
	return (error);
}

/* The process behind c is gone: clean up after it. */
static void
hv_conn_close(struct hv *hv, struct hv_conn *c)
{
	pthread_mutex_lock(&hv->hv_lock);
	hv_m_close_owner(hv, (uintptr_t)c);
	if (c->hv_hello) {
		hv_conn_mark(hv, c, false);
		if (c->hv_created) {
			if (hv_dom_alive(&hv->hv_shm, c->hv_slot, c->hv_gen))
				(void)hv_m_domain_destroy(hv, c->hv_slot);
		} else
			hv_m_release_leases(hv, c->hv_slot, c->hv_gen,
			    c->hv_view_id);
	}
	pthread_mutex_unlock(&hv->hv_lock);
	close(c->hv_fd);
	free(c);
}

static int
hv_listen(const char *dir, int *out)
{
	struct sockaddr_un sa;
	int s, error;

	if ((error = hv_sock_path(dir, &sa)) != 0)
		return (error);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-errno);
	/* Somebody serving already?  Otherwise the file is stale. */
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(s);
		return (-EADDRINUSE);
	}
	(void)unlink(sa.sun_path);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(s, 64) != 0) {
		error = -errno;
		close(s);
		return (error);
	}
	*out = s;
	return (0);
}

int
hv_serve(struct hv *hv, volatile int *stop)
{
	struct timeval tv = { .tv_sec = HV_RPC_TIMEOUT_MS / 1000,
		.tv_usec = (HV_RPC_TIMEOUT_MS % 1000) * 1000 };
	struct hv_conn *conns = NULL, *c, **pp;
	struct pollfd *pfd = NULL, *np;
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	size_t n, cap = 0, i;
	int ls = -1, fd, error;

	if ((error = hv_listen(hv->hv_dir, &ls)) != 0)
		return (error);
	while (!*stop) {
		for (n = 1, c = conns; c != NULL; c = c->hv_next)
			n++;
		if (n > cap) {
			if ((np = realloc(pfd, n * 2 * sizeof(*np))) == NULL) {
				error = -ENOMEM;
				break;
			}
			pfd = np;
			cap = n * 2;
		}
		pfd[0].fd = ls;
		pfd[0].events = POLLIN;
		for (i = 1, c = conns; c != NULL; c = c->hv_next, i++) {
			pfd[i].fd = c->hv_fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, n, HV_SERVE_TICK_MS) < 0) {
			if (errno == EINTR)
				continue;
			error = -errno;
			break;
		}
		/* Serve the connections first: the list is what pfd shows. */
		i = 1;
		for (pp = &conns; (c = *pp) != NULL; i++) {
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ==
				0 ||
			    hv_serve_one(hv, c) == 0) {
				pp = &c->hv_next;
				continue;
			}
			*pp = c->hv_next;
			hv_conn_close(hv, c);
		}
		if ((pfd[0].revents & POLLIN) == 0)
			continue;
		if ((fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		/* A process stuck mid-message must not stop the machine. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->hv_fd = fd;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			c->hv_pid = cred.pid;
		c->hv_next = conns;
		conns = c;
	}
	while ((c = conns) != NULL) {
		conns = c->hv_next;
		hv_conn_close(hv, c);
	}
	free(pfd);
	close(ls);
	if (hv_sock_path(hv->hv_dir, &sa) == 0)
		(void)unlink(sa.sun_path);
	return (error);
}

/* ---------------------------------------------------------------------
 * A domain process
 */

/* The connection of a view (one socket, one request at a time). */
struct hv_rpc {
	int hv_fd;		 /* socket to the daemon */
	pthread_mutex_t hv_lock; /* one request in flight */
};

static int
hv_rpc_call(struct hv_rpc *r, struct hv_msg *m, int fd_in, int *fds,
    unsigned int maxfd)
{
	enum hv_msg_type type = (enum hv_msg_type)m->hm_type;
	unsigned int nfd = 0, i;
	int error;

	pthread_mutex_lock(&r->hv_lock);
	error = hv_msg_send(r->hv_fd, m, &fd_in, fd_in >= 0 ? 1 : 0);
	if (error == 0)
		error = hv_msg_recv(r->hv_fd, m, fds, maxfd, &nfd);
	pthread_mutex_unlock(&r->hv_lock);
	if (error == 0 && m->hm_type != type)
		error = -EPROTO;
	if (error == 0)
		error = m->hm_status > 0 ? -EPROTO : m->hm_status;
	if (error == 0 && nfd != maxfd)
		error = -EPROTO;
	if (error != 0)
		for (i = 0; i < nfd; i++)
			close(fds[i]);
	return (error);
}

void
hv_rpc_close(struct hv_rpc *r)
{
	if (r == NULL)
		return;
	close(r->hv_fd);
	pthread_mutex_destroy(&r->hv_lock);
	free(r);
}

static int
hv_rpc_evtchn_open(struct hv_view *v, int fd, uint32_t *hid)
{
	struct hv_msg m;
	int error;

	hv_msg_init(&m, HV_MSG_EVTCHN_OPEN);
	if ((error = hv_rpc_call(v->hv_rpc, &m, fd, NULL, 0)) == 0)
		*hid = m.hm_arg[0];
	return (error);
}

static int
hv_rpc_evtchn_close(struct hv_view *v, uint32_t hid)
{
	struct hv_msg m;

	hv_msg_init(&m, HV_MSG_EVTCHN_CLOSE);
	m.hm_arg[0] = hid;
	return (hv_rpc_call(v->hv_rpc, &m, -1, NULL, 0));
}

static int
hv_rpc_bind_unbound(struct hv_view *v, uint32_t hid, uint32_t remote,
    evtchn_port_t *port)
{
	struct hv_msg m;
	int error;

	hv_msg_init(&m, HV_MSG_BIND_UNBOUND);
	m.hm_arg[0] = hid;
	m.hm_arg[1] = remote;
	if ((error = hv_rpc_call(v->hv_rpc, &m, -1, NULL, 0)) == 0)
		*port = m.hm_arg[0];
	return (error);
}

static int
hv_rpc_bind_interdomain(struct hv_view *v, uint32_t hid, uint32_t remote,
    evtchn_port_t rport, evtchn_port_t *port)
{
	struct hv_msg m;
	int error;

	hv_msg_init(&m, HV_MSG_BIND_INTERDOMAIN);
	m.hm_arg[0] = hid;
	m.hm_arg[1] = remote;
	m.hm_arg[2] = rport;
	if ((error = hv_rpc_call(v->hv_rpc, &m, -1, NULL, 0)) == 0)
		*port = m.hm_arg[0];
	return (error);
}

static int
hv_rpc_unbind(struct hv_view *v, uint32_t hid, evtchn_port_t port)
{
	struct hv_msg m;

	hv_msg_init(&m, HV_MSG_UNBIND);
	m.hm_arg[0] = hid;
	m.hm_arg[1] = port;
	return (hv_rpc_call(v->hv_rpc, &m, -1, NULL, 0));
}

static int
hv_rpc_handle_fd(struct hv_view *v, uint32_t hid, int *fd)
{
	struct hv_msg m;

	hv_msg_init(&m, HV_MSG_GET_HANDLE_FD);
	m.hm_arg[0] = hid;
	return (hv_rpc_call(v->hv_rpc, &m, -1, fd, 1));
}

static int
hv_rpc_arena_fd(struct hv_view *v, unsigned int slot, uint32_t gen, int *fd)
{
	struct hv_msg m;

	hv_msg_init(&m, HV_MSG_GET_ARENA);
	m.hm_arg[0] = slot;
	m.hm_arg[1] = gen;
	return (hv_rpc_call(v->hv_rpc, &m, -1, fd, 1));
}

/*
 * Close the connection and wait until the daemon has cleaned up behind
 * us (it closes its end last), so that a domain destroyed by plat_close
 * is gone when plat_close returns.
 */
static void
hv_rpc_view_close(struct hv_view *v)
{
	struct pollfd pfd;
	char buf[sizeof(struct hv_msg)];
	long waited = 0;

	/* Our own close is not the daemon going away. */
	hv_watch_stop(v->hv_watch);
	v->hv_watch = NULL;
	if (v->hv_rpc != NULL && shutdown(v->hv_rpc->hv_fd, SHUT_WR) == 0) {
		pfd.fd = v->hv_rpc->hv_fd;
		pfd.events = POLLIN;
		while (waited < HV_RPC_TIMEOUT_MS &&
		    poll(&pfd, 1, HV_SERVE_TICK_MS) >= 0) {
			if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
				waited += HV_SERVE_TICK_MS;
				continue;
			}
			if (read(pfd.fd, buf, sizeof(buf)) <= 0)
				break;
		}
	}
	hv_rpc_close(v->hv_rpc);
	v->hv_rpc = NULL;
	hv_shm_detach(&v->hv_shm);
}

static const struct hv_ctl_ops hv_rpc_ctl = {
	.co_evtchn_open = hv_rpc_evtchn_open,
	.co_evtchn_close = hv_rpc_evtchn_close,
	.co_bind_unbound = hv_rpc_bind_unbound,
	.co_bind_interdomain = hv_rpc_bind_interdomain,
	.co_unbind = hv_rpc_unbind,
	.co_handle_fd = hv_rpc_handle_fd,
	.co_arena_fd = hv_rpc_arena_fd,
	.co_close = hv_rpc_view_close,
};

static int
hv_rpc_connect(const char *dir, struct hv_rpc **out)
{
	struct sockaddr_un sa;
	struct hv_rpc *r;
	int error;

	if ((error = hv_sock_path(dir, &sa)) != 0)
		return (error);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (-ENOMEM);
	if ((r->hv_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		error = -errno;
		free(r);
		return (error);
	}
	if (connect(r->hv_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		error = -errno;
		close(r->hv_fd);
		free(r);
		return (error);
	}
	pthread_mutex_init(&r->hv_lock, NULL);
	*out = r;
	return (0);
}

int
plat_sim_alive(const char *dir)
{
	struct hv_rpc *r;
	int error;

	/* The daemon drops a connection that closes before HELLO. */
	if ((error = hv_rpc_connect(dir, &r)) != 0)
		return (error);
	hv_rpc_close(r);
	return (0);
}

int
plat_sim_connect(const char *dir, uint32_t domid, const char *name, int attach,
    struct plat **out)
{
	struct hv_view *v;
	struct hv_msg m;
	int fds[2], error;

	if (dir == NULL || domid >= DOMID_FIRST_RESERVED)
		return (-EINVAL);
	hv_env_init();
	if ((v = hv_view_alloc()) == NULL)
		return (-ENOMEM);
	if ((v->hv_dir = strdup(dir)) == NULL) {
		error = -ENOMEM;
		goto fail;
	}
	if ((error = hv_rpc_connect(dir, &v->hv_rpc)) != 0)
		goto fail;
	v->hv_ctl = &hv_rpc_ctl;
	hv_msg_init(&m, HV_MSG_HELLO);
	m.hm_arg[0] = domid;
	m.hm_arg[1] = attach != 0;
	if (name != NULL)
		snprintf(m.hm_name, sizeof(m.hm_name), "%s", name);
	if ((error = hv_rpc_call(v->hv_rpc, &m, -1, fds, 2)) != 0)
		goto fail;
	error = hv_shm_attach(fds[0], &v->hv_shm);
	close(fds[0]);
	if (error != 0 || m.hm_arg[0] >= HV_MAX_DOMAINS) {
		close(fds[1]);
		error = error != 0 ? error : -EPROTO;
		goto fail;
	}
	v->hv_act.hv_slot = m.hm_arg[0];
	v->hv_act.hv_gen = m.hm_arg[1];
	v->hv_act.hv_domid = domid;
	v->hv_act.hv_pid = (uint32_t)getpid();
	v->hv_id = m.hm_arg[2];
	if ((error = hv_view_open(v, fds[1])) != 0 ||
	    (error = hv_watch_start(v->hv_rpc->hv_fd, v->hv_dir,
		 &v->hv_watch)) != 0)
		goto fail;
	*out = &v->hv_plat;
	return (0);

fail:
	hv_view_free(v);
	return (error);
}
