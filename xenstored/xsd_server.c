/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon around the core: unix sockets, one epoll loop on a thread
 * of its own.  DIR/socket is the privileged socket; XS_INTRODUCE makes
 * DIR/domain/<domid> whose connections act as that domain, XS_RELEASE
 * removes it.  Everything the core decides (drop a client, stop reading
 * it under back-pressure, write its output) is applied here after each
 * batch of events, so the core never sees a file descriptor.
 *
 * Sockets are non-blocking and level-triggered; writes use MSG_NOSIGNAL
 * so a client that vanished costs its connection, never the process.
 */

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xsd_internal.h"

/* Events one epoll_wait() returns at most. */
#define XSD_EPOLL_BATCH 64
/* Reads from one client per wake-up, so one cannot starve the others. */
#define XSD_READS_PER_WAKE 16
/* Pending connections per listening socket. */
#define XSD_BACKLOG 64

/* What an epoll event's pointer leads to (the first member of both). */
enum xsd_pollkind {
	XSD_POLL_LISTENER = 1,
	XSD_POLL_CLIENT = 2,
};

/* A listening socket: the privileged one or a domain's. */
struct xsd_listener {
	enum xsd_pollkind l_kind;	 /* XSD_POLL_LISTENER */
	LIST_ENTRY(xsd_listener) l_link; /* on sv_listeners */
	int l_fd;			 /* the socket, -1 once closed */
	bool l_priv;			 /* DIR/socket */
	unsigned int l_domid;		 /* the domain of DIR/domain/<id> */
	bool l_dead;			 /* released: freed at the sweep */
	bool l_paused;			 /* out of fds: not accepting */
	char l_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	/* its file, unlinked at the end */
};

/* An accepted client socket and its core connection. */
struct xsd_client {
	enum xsd_pollkind cl_kind;	/* XSD_POLL_CLIENT */
	LIST_ENTRY(xsd_client) cl_link; /* on sv_clients */
	int cl_fd;			/* the socket */
	struct xsd_conn *cl_conn;	/* its state in the core */
	uint32_t cl_mask;		/* epoll events registered */
	bool cl_dead;			/* EOF or socket error */
};

struct xsd_server {
	struct xsd_core *sv_core;		/* everything but sockets */
	struct xsd_hooks sv_hooks;		/* introduce/release */
	int sv_epfd;				/* the epoll instance */
	int sv_stopfd;				/* eventfd: stop the loop */
	pthread_t sv_thread;			/* the loop */
	bool sv_running;			/* sv_thread exists */
	bool sv_made_domdir;			/* we created DIR/domain */
	char sv_dir[PATH_MAX];			/* DIR */
	LIST_HEAD(, xsd_listener) sv_listeners; /* listening sockets */
	LIST_HEAD(, xsd_client) sv_clients;	/* connected clients */
};

/* ---------------------------------------------------------------------
 * Sockets
 */

/* mkdir -p: every missing directory of path, mode 0755. */
static int
xsd_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	struct stat st;
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(tmp))
		return (-ENAMETOOLONG);
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return (-errno);
		tmp[i] = path[i];
	}
	if (stat(path, &st) != 0)
		return (-errno);
	return (S_ISDIR(st.st_mode) ? 0 : -ENOTDIR);
}

/* Is a daemon answering on the socket at sa? */
static bool
xsd_socket_alive(const struct sockaddr_un *sa)
{
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (false);
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	/* A full backlog (EAGAIN) still means someone listens. */
	rc = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return (rc);
}

/* Listen on a unix socket at path; a stale socket file is replaced. */
static int
xsd_listen_at(const char *path, int *fdp)
{
	struct sockaddr_un sa;
	struct stat st;
	size_t len = strlen(path);
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (len >= sizeof(sa.sun_path))
		return (-ENAMETOOLONG);
	memcpy(sa.sun_path, path, len + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return (-EEXIST);
		if (xsd_socket_alive(&sa))
			return (-EADDRINUSE);
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (-errno);
	/* Mode 0600, as C xenstored makes its socket. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, XSD_BACKLOG) != 0) {
		rc = -errno;
		close(fd);
		(void)unlink(path);
		return (rc);
	}
	*fdp = fd;
	return (0);
}

static int
xsd_server_listen(struct xsd_server *s, const char *path, bool priv,
    unsigned int domid)
{
	struct epoll_event ev;
	struct xsd_listener *l;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (-ENOMEM);
	l->l_kind = XSD_POLL_LISTENER;
	l->l_priv = priv;
	l->l_domid = domid;
	l->l_fd = -1;
	if (strlen(path) >= sizeof(l->l_path)) {
		free(l);
		return (-ENAMETOOLONG);
	}
	memcpy(l->l_path, path, strlen(path) + 1);
	if ((rc = xsd_listen_at(path, &l->l_fd)) != 0) {
		free(l);
		return (rc);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	if (epoll_ctl(s->sv_epfd, EPOLL_CTL_ADD, l->l_fd, &ev) != 0) {
		rc = -errno;
		close(l->l_fd);
		(void)unlink(l->l_path);
		free(l);
		return (rc);
	}
	LIST_INSERT_HEAD(&s->sv_listeners, l, l_link);
	return (0);
}

/* Close a listener's socket and remove its file (freed later). */
static void
xsd_listener_close(struct xsd_server *s, struct xsd_listener *l)
{
	if (l->l_fd >= 0) {
		(void)epoll_ctl(s->sv_epfd, EPOLL_CTL_DEL, l->l_fd, NULL);
		close(l->l_fd);
		(void)unlink(l->l_path);
		l->l_fd = -1;
	}
	l->l_dead = true;
}

/* ---------------------------------------------------------------------
 * Hooks: the core introduces and releases domains
 */

static int
xsd_server_introduce(void *arg, unsigned int domid)
{
	struct xsd_server *s = arg;
	char path[PATH_MAX];
	struct stat st;
	int n, rc;

	n = snprintf(path, sizeof(path), "%s/domain", s->sv_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return (-ENAMETOOLONG);
	if (!s->sv_made_domdir && stat(path, &st) != 0) {
		if ((rc = xsd_mkdirs(path)) != 0)
			return (rc);
		s->sv_made_domdir = true;
	}
	n = snprintf(path, sizeof(path), "%s/domain/%u", s->sv_dir, domid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return (-ENAMETOOLONG);
	if ((rc = xsd_server_listen(s, path, false, domid)) != 0)
		xsd_log(s->sv_core, "cannot serve %s: %s", path, strerror(-rc));
	return (rc);
}

static void
xsd_server_release(void *arg, unsigned int domid)
{
	struct xsd_server *s = arg;
	struct xsd_listener *l;

	LIST_FOREACH(l, &s->sv_listeners, l_link)
		if (!l->l_priv && l->l_domid == domid && !l->l_dead)
			xsd_listener_close(s, l);
}

/* ---------------------------------------------------------------------
 * Clients
 */

static unsigned int
xsd_server_nclients(const struct xsd_server *s, unsigned int domid)
{
	const struct xsd_client *cl;
	unsigned int n = 0;

	LIST_FOREACH(cl, &s->sv_clients, cl_link)
		if (!cl->cl_conn->c_priv && cl->cl_conn->c_domid == domid)
			n++;
	return (n);
}

static void
xsd_listener_pause(struct xsd_server *s, struct xsd_listener *l, bool pause)
{
	struct epoll_event ev;

	if (l->l_dead || l->l_paused == pause)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = pause ? 0 : EPOLLIN;
	ev.data.ptr = l;
	if (epoll_ctl(s->sv_epfd, EPOLL_CTL_MOD, l->l_fd, &ev) == 0)
		l->l_paused = pause;
}

static void
xsd_server_accept(struct xsd_server *s, struct xsd_listener *l)
{
	struct epoll_event ev;
	struct xsd_client *cl;
	int fd;

	for (;;) {
		fd = accept4(l->l_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Retried when a client goes away. */
				xsd_log(s->sv_core, "accept: %s",
				    strerror(errno));
				xsd_listener_pause(s, l, true);
			}
			return;
		}
		if (!l->l_priv &&
		    xsd_server_nclients(s, l->l_domid) >=
			s->sv_core->x_opts.o_domain_conns) {
			xsd_log(s->sv_core, "domain %u: too many connections",
			    l->l_domid);
			close(fd);
			continue;
		}
		if ((cl = calloc(1, sizeof(*cl))) == NULL)
			goto fail;
		cl->cl_kind = XSD_POLL_CLIENT;
		cl->cl_fd = fd;
		if (xsd_conn_new(s->sv_core, l->l_domid, l->l_priv,
			&cl->cl_conn) != 0)
			goto fail;
		memset(&ev, 0, sizeof(ev));
		ev.events = cl->cl_mask = EPOLLIN;
		ev.data.ptr = cl;
		if (epoll_ctl(s->sv_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			xsd_conn_free(cl->cl_conn);
			goto fail;
		}
		LIST_INSERT_HEAD(&s->sv_clients, cl, cl_link);
		continue;
	fail:
		free(cl);
		close(fd);
		return;
	}
}

static void
xsd_listener_event(struct xsd_server *s, struct xsd_listener *l)
{
	/* Released earlier in this batch: closed, freed at the sweep. */
	if (!l->l_dead)
		xsd_server_accept(s, l);
}

static void
xsd_client_read(struct xsd_client *cl)
{
	unsigned char buf[XSD_INBUF];
	size_t room;
	ssize_t n;
	int i;

	for (i = 0; i < XSD_READS_PER_WAKE; i++) {
		if ((room = xsd_conn_input_room(cl->cl_conn)) == 0)
			return;
		n = recv(cl->cl_fd, buf,
		    room < sizeof(buf) ? room : sizeof(buf), 0);
		if (n == 0) {
			cl->cl_dead = true;
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cl->cl_dead = true;
			return;
		}
		(void)xsd_conn_input(cl->cl_conn, buf, (size_t)n);
		if (xsd_conn_is_closing(cl->cl_conn))
			return;
	}
}

static void
xsd_client_flush(struct xsd_client *cl)
{
	const void *p;
	size_t n;
	ssize_t w;

	while ((n = xsd_conn_output_peek(cl->cl_conn, &p)) > 0) {
		w = send(cl->cl_fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cl->cl_dead = true;
			return;
		}
		xsd_conn_output_consume(cl->cl_conn, (size_t)w);
	}
}

static void
xsd_client_free(struct xsd_server *s, struct xsd_client *cl)
{
	struct xsd_listener *l;

	LIST_REMOVE(cl, cl_link);
	(void)epoll_ctl(s->sv_epfd, EPOLL_CTL_DEL, cl->cl_fd, NULL);
	close(cl->cl_fd);
	xsd_conn_free(cl->cl_conn);
	free(cl);
	/* A descriptor is free again. */
	LIST_FOREACH(l, &s->sv_listeners, l_link)
		xsd_listener_pause(s, l, false);
}

/*
 * Apply what the core decided: write output, drop closed clients, and
 * register interest in reading (not while back-pressure stalls the
 * client) and writing (while output waits).  Repeat while doing so
 * queued more output somewhere (a client reading its replies resumes
 * its requests, whose events go to others).
 */
static void
xsd_server_sweep(struct xsd_server *s)
{
	struct xsd_listener *l, *ltmp;
	struct xsd_client *cl, *tmp;
	struct epoll_event ev;
	const void *p;
	uint64_t seq;
	uint32_t mask;

	do {
		seq = s->sv_core->x_outseq;
		LIST_FOREACH_SAFE(cl, &s->sv_clients, cl_link, tmp) {
			if (!cl->cl_dead && !xsd_conn_is_closing(cl->cl_conn))
				xsd_client_flush(cl);
			if (cl->cl_dead || xsd_conn_is_closing(cl->cl_conn)) {
				xsd_client_free(s, cl);
				continue;
			}
			mask = 0;
			if (xsd_conn_input_room(cl->cl_conn) > 0)
				mask |= EPOLLIN;
			if (xsd_conn_output_peek(cl->cl_conn, &p) > 0)
				mask |= EPOLLOUT;
			if (mask == cl->cl_mask)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.events = mask;
			ev.data.ptr = cl;
			if (epoll_ctl(s->sv_epfd, EPOLL_CTL_MOD, cl->cl_fd,
				&ev) == 0)
				cl->cl_mask = mask;
		}
	} while (seq != s->sv_core->x_outseq);
	LIST_FOREACH_SAFE(l, &s->sv_listeners, l_link, ltmp) {
		if (l->l_dead) {
			LIST_REMOVE(l, l_link);
			free(l);
		}
	}
}

static void
xsd_client_event(struct xsd_client *cl, uint32_t events)
{
	if (cl->cl_dead || xsd_conn_is_closing(cl->cl_conn))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* A hang-up while stalled cannot be read past: drop it. */
		if ((events & (EPOLLHUP | EPOLLERR)) &&
		    xsd_conn_input_room(cl->cl_conn) == 0)
			cl->cl_dead = true;
		else
			xsd_client_read(cl);
	}
	if ((events & EPOLLOUT) && !cl->cl_dead)
		xsd_client_flush(cl);
}

static void *
xsd_server_main(void *arg)
{
	struct epoll_event evs[XSD_EPOLL_BATCH];
	struct xsd_server *s = arg;
	enum xsd_pollkind *kind;
	bool stop = false;
	int n, i;

	while (!stop) {
		n = epoll_wait(s->sv_epfd, evs, XSD_EPOLL_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xsd_log(s->sv_core, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if ((kind = evs[i].data.ptr) == NULL)
				stop = true;
			else if (*kind == XSD_POLL_LISTENER)
				xsd_listener_event(s,
				    (struct xsd_listener *)(void *)kind);
			else
				xsd_client_event(
				    (struct xsd_client *)(void *)kind,
				    evs[i].events);
		}
		xsd_server_sweep(s);
	}
	return (NULL);
}

/* ---------------------------------------------------------------------
 * Start and stop
 */

static void
xsd_server_free(struct xsd_server *s)
{
	struct xsd_listener *l;
	struct xsd_client *cl;
	char path[PATH_MAX];

	while ((cl = LIST_FIRST(&s->sv_clients)) != NULL)
		xsd_client_free(s, cl);
	while ((l = LIST_FIRST(&s->sv_listeners)) != NULL) {
		xsd_listener_close(s, l);
		LIST_REMOVE(l, l_link);
		free(l);
	}
	if (s->sv_made_domdir &&
	    snprintf(path, sizeof(path), "%s/domain", s->sv_dir) > 0)
		(void)rmdir(path); /* only if nothing else is in it */
	if (s->sv_stopfd >= 0)
		close(s->sv_stopfd);
	if (s->sv_epfd >= 0)
		close(s->sv_epfd);
	xsd_core_free(s->sv_core);
	free(s);
}

int
xsd_server_start(const char *dir, const struct xsd_opts *o,
    struct xsd_server **out)
{
	struct xsd_server *s;
	struct epoll_event ev;
	char path[PATH_MAX];
	int rc, n;

	if (dir == NULL || out == NULL)
		return (-EINVAL);
	if (strlen(dir) >= sizeof(s->sv_dir))
		return (-ENAMETOOLONG);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (-ENOMEM);
	s->sv_epfd = s->sv_stopfd = -1;
	LIST_INIT(&s->sv_listeners);
	LIST_INIT(&s->sv_clients);
	memcpy(s->sv_dir, dir, strlen(dir) + 1);
	if ((rc = xsd_core_new(o, &s->sv_core)) != 0) {
		free(s);
		return (rc);
	}
	s->sv_hooks.h_introduce = xsd_server_introduce;
	s->sv_hooks.h_release = xsd_server_release;
	xsd_core_set_hooks(s->sv_core, &s->sv_hooks, s);
	if ((rc = xsd_mkdirs(dir)) != 0)
		goto fail;
	if ((s->sv_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sv_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(s->sv_epfd, EPOLL_CTL_ADD, s->sv_stopfd, &ev) != 0) {
		rc = -errno;
		goto fail;
	}
	n = snprintf(path, sizeof(path), "%s/socket", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if ((rc = xsd_server_listen(s, path, true, 0)) != 0)
		goto fail;
	rc = pthread_create(&s->sv_thread, NULL, xsd_server_main, s);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	s->sv_running = true;
	xsd_log(s->sv_core, "serving %s", path);
	*out = s;
	return (0);
fail:
	xsd_server_free(s);
	return (rc);
}

void
xsd_server_stop(struct xsd_server *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (s->sv_running) {
		while (write(s->sv_stopfd, &one, sizeof(one)) < 0 &&
		    errno == EINTR)
			;
		pthread_join(s->sv_thread, NULL);
	}
	xsd_server_free(s);
}
