/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The statistics socket of an attached device: `xbd attach` listens on
 * DIR/stat/<domid>.<vdev>, and `xbd stat` connects, sends one line
 * ("text" or "json") and reads the device's description until the
 * socket closes.  A protocol of one request per connection keeps both
 * ends trivial and a stuck client harmless (it only holds its own
 * connection, which times out).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "statsock.h"

/* A client gets this long to send its request line. */
#define STATSOCK_TIMEOUT_MS 2000

struct statsock {
	struct xbd_dev *ss_dev; /* the device described */
	int ss_fd;		/* listening socket */
	int ss_pipe[2];		/* stop signal for the thread */
	pthread_t ss_thread;	/* the accept loop */
	char ss_path[108];	/* socket path (sun_path size) */
};

int
statsock_path(const char *dir, uint32_t domid, uint32_t vdev, char *buf,
    size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/stat/%u.%u", dir, domid, vdev);
	return (n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0);
}

static void
statsock_serve(struct statsock *ss, int fd)
{
	char req[16], *out;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t off = 0, len = 64 * 1024;
	ssize_t n;
	int w;

	memset(req, 0, sizeof(req));
	if (poll(&p, 1, STATSOCK_TIMEOUT_MS) <= 0 ||
	    read(fd, req, sizeof(req) - 1) <= 0)
		return;
	if ((out = malloc(len)) == NULL)
		return;
	w = xbd_describe(ss->ss_dev,
	    strncmp(req, "json", 4) == 0 ? XBD_FMT_JSON : XBD_FMT_TEXT, out,
	    len);
	if (w > 0) {
		while (off < (size_t)w) {
			if ((n = write(fd, out + off, (size_t)w - off)) <= 0)
				break;
			off += (size_t)n;
		}
	}
	free(out);
}

static void *
statsock_main(void *arg)
{
	struct statsock *ss = arg;
	struct pollfd p[2];
	int fd;

	p[0].fd = ss->ss_fd;
	p[1].fd = ss->ss_pipe[0];
	for (;;) {
		p[0].events = p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if ((p[0].revents & POLLIN) == 0)
			continue;
		if ((fd = accept4(ss->ss_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		statsock_serve(ss, fd);
		close(fd);
	}
	return (NULL);
}

int
statsock_start(const char *dir, uint32_t domid, uint32_t vdev,
    struct xbd_dev *dev, struct statsock **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct statsock *ss;
	char sdir[4096];
	int rc;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return (-ENOMEM);
	ss->ss_dev = dev;
	ss->ss_fd = ss->ss_pipe[0] = ss->ss_pipe[1] = -1;
	snprintf(sdir, sizeof(sdir), "%s/stat", dir);
	if (mkdir(sdir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	if ((rc = statsock_path(dir, domid, vdev, ss->ss_path,
		 sizeof(ss->ss_path))) != 0)
		goto fail;
	(void)unlink(ss->ss_path);
	memcpy(sa.sun_path, ss->ss_path, strlen(ss->ss_path) + 1);
	if ((ss->ss_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(ss->ss_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ss->ss_fd, 8) != 0 || pipe2(ss->ss_pipe, O_CLOEXEC) != 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&ss->ss_thread, NULL, statsock_main, ss);
	if (rc != 0)
		goto fail;
	*out = ss;
	return (0);
fail:
	if (ss->ss_fd >= 0) {
		close(ss->ss_fd);
		(void)unlink(ss->ss_path);
	}
	if (ss->ss_pipe[0] >= 0) {
		close(ss->ss_pipe[0]);
		close(ss->ss_pipe[1]);
	}
	free(ss);
	return (rc);
}

void
statsock_stop(struct statsock *ss)
{
	char c = 0, *slash;
	ssize_t n;

	if (ss == NULL)
		return;

	/* One byte into an empty pipe cannot fail. */
	n = write(ss->ss_pipe[1], &c, 1);
	(void)n;
	pthread_join(ss->ss_thread, NULL);
	close(ss->ss_fd);
	close(ss->ss_pipe[0]);
	close(ss->ss_pipe[1]);
	(void)unlink(ss->ss_path);
	/* DIR/stat goes with the last socket in it (rmdir fails before). */
	if ((slash = strrchr(ss->ss_path, '/')) != NULL) {
		*slash = '\0';
		(void)rmdir(ss->ss_path);
	}
	free(ss);
}

int
statsock_query(const char *path, bool json, FILE *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	const char *req = json ? "json\n" : "text\n";
	ssize_t n;
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return (-ENAMETOOLONG);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-errno);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		rc = -errno;
		close(fd);
		return (rc);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	if (n < 0)
		rc = -errno;
	close(fd);
	return (rc);
}
