/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A domain process notices its machine die.  The data path never talks
 * to `xbd hv`: rings, grants and event channels live in shared memory
 * that stays mapped after the daemon is gone, so a frontend or backend
 * would carry on as if nothing happened, and fail later in confusing
 * ways (EBADF from a control call, I/O that is never answered).  The
 * daemon holds the other end of every view's hv.sock connection until it
 * exits, so a thread per view polls that socket for the hang-up alone
 * (POLLRDHUP, no POLLIN: replies stay for the caller) and reports it
 * once through the callback the process registered.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv_internal.h"

/* The watcher of one view's connection. */
struct hv_watch {
	pthread_t hw_thread;	 /* polls the socket */
	int hw_sock;		 /* the connection (the view's) */
	int hw_stop;		 /* eventfd: the view is closing */
	const char *hw_dir;	 /* the machine's directory (the view's) */
	pthread_mutex_t hw_lock; /* hw_fn, hw_arg, hw_lost */
	plat_sim_lost_fn *hw_fn; /* called once when the daemon is gone */
	void *hw_arg;		 /* its argument */
	bool hw_lost;		 /* the daemon is gone */
};

static void
hv_watch_report(struct hv_watch *w)
{
	plat_sim_lost_fn *fn;
	void *arg;

	pthread_mutex_lock(&w->hw_lock);
	w->hw_lost = true;
	fn = w->hw_fn;
	arg = w->hw_arg;
	pthread_mutex_unlock(&w->hw_lock);
	if (fn != NULL)
		fn(w->hw_dir, arg);
}

static void *
hv_watch_main(void *arg)
{
	struct hv_watch *w = arg;
	struct pollfd pfd[2] = {
		{ .fd = w->hw_sock, .events = POLLRDHUP },
		{ .fd = w->hw_stop, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return (NULL);
		}
		if (pfd[1].revents != 0)
			return (NULL);
		if ((pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
			hv_watch_report(w);
			return (NULL);
		}
	}
}

int
hv_watch_start(int sock, const char *dir, struct hv_watch **out)
{
	struct hv_watch *w;
	int error;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (-ENOMEM);
	w->hw_sock = sock;
	w->hw_dir = dir;
	pthread_mutex_init(&w->hw_lock, NULL);
	if ((w->hw_stop = eventfd(0, EFD_CLOEXEC)) < 0) {
		error = -errno;
		goto fail;
	}
	error = -pthread_create(&w->hw_thread, NULL, hv_watch_main, w);
	if (error != 0) {
		close(w->hw_stop);
		goto fail;
	}
	*out = w;
	return (0);
fail:
	pthread_mutex_destroy(&w->hw_lock);
	free(w);
	return (error);
}

void
hv_watch_stop(struct hv_watch *w)
{
	uint64_t one = 1;

	if (w == NULL)
		return;
	if (write(w->hw_stop, &one, sizeof(one)) != sizeof(one)) {
		/* A fresh eventfd cannot be saturated: join regardless. */
	}
	pthread_join(w->hw_thread, NULL);
	close(w->hw_stop);
	pthread_mutex_destroy(&w->hw_lock);
	free(w);
}

void
plat_sim_on_lost(struct plat *p, plat_sim_lost_fn *fn, void *arg)
{
	struct hv_watch *w;
	bool lost;

	if (p == NULL || strcmp(plat_name(p), "sim") != 0)
		return;
	/* In-process views have none: the machine dies with us. */
	if ((w = ((struct hv_view *)p)->hv_watch) == NULL)
		return;
	pthread_mutex_lock(&w->hw_lock);
	w->hw_fn = fn;
	w->hw_arg = arg;
	lost = w->hw_lost;
	pthread_mutex_unlock(&w->hw_lock);
	/* Gone before anyone asked: said now, once. */
	if (lost && fn != NULL)
		fn(w->hw_dir, arg);
}
