/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the xenstored integration tests share: a daemon served in this
 * process from a fresh temporary directory, Xen's real xenstore-* tools
 * run with posix_spawn (XENSTORED_PATH set, output captured, a
 * deadline), and raw unix-socket clients for speaking bytes directly.
 */

#ifndef XBD_TESTS_TEST_XSD_INTEG_H
#define XBD_TESTS_TEST_XSD_INTEG_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xen_shim.h"
#include "xsd.h"
#include "xt.h"

extern char **environ;

/* Milliseconds a tool or a reply may take before the test gives up. */
#define XI_DEADLINE_MS 10000

/* The daemon under test and where it lives. */
struct xi_env {
	char dir[64];		   /* the temporary directory */
	char sock[96];		   /* DIR/socket */
	struct xsd_server *server; /* serving on its own thread */
};

static inline void
xi_start(struct xi_env *e, const struct xsd_opts *o)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/xsd-test-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/socket", e->dir);
	assert_int_equal(xsd_server_start(e->dir, o, &e->server), 0);
	assert_int_equal(setenv("XENSTORED_PATH", e->sock, 1), 0);
}

/* Stop the daemon: every socket file must be gone with it. */
static inline void
xi_stop(struct xi_env *e)
{
	struct stat st;

	xsd_server_stop(e->server);
	assert_int_not_equal(stat(e->sock, &st), 0);
	assert_int_equal(rmdir(e->dir), 0); /* empty: nothing left behind */
}

static inline long
xi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A tool started with its stdout (and stderr) on a pipe. */
struct xi_proc {
	pid_t pid; /* the child */
	int out;   /* read end of its stdout+stderr */
};

static inline void
xi_spawn(struct xi_proc *p, const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], 2), 0);
	assert_int_equal(posix_spawnp(&p->pid, argv[0], &fa, NULL,
			     (char *const *)argv, environ),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	p->out = fds[0];
}

/* Read one line of output (without its newline); false at EOF. */
static inline bool
xi_line(struct xi_proc *p, char *buf, size_t cap)
{
	struct pollfd pfd = { p->out, POLLIN, 0 };
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap) {
		if (poll(&pfd, 1, XI_DEADLINE_MS) != 1)
			fail_msg("no output from the tool in time");
		if ((r = read(p->out, buf + n, 1)) <= 0)
			break;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (n > 0 || r > 0);
}

/* Wait for the tool (killing it past the deadline); its exit status. */
static inline int
xi_wait(struct xi_proc *p, char *out, size_t cap)
{
	struct pollfd pfd = { p->out, POLLIN, 0 };
	long end = xi_now_ms() + XI_DEADLINE_MS;
	char scratch[256];
	size_t n = 0;
	ssize_t r;
	int st;

	if (out == NULL) {
		out = scratch;
		cap = sizeof(scratch);
	}
	for (;;) {
		if (poll(&pfd, 1, (int)(end - xi_now_ms())) != 1) {
			kill(p->pid, SIGKILL);
			fail_msg("tool did not finish in time");
		}
		/* Past cap, keep reading (and dropping) so the tool ends. */
		r = read(p->out, n + 1 < cap ? out + n : scratch,
		    n + 1 < cap ? cap - 1 - n : sizeof(scratch));
		if (r <= 0)
			break;
		if (n + 1 < cap)
			n += (size_t)r;
	}
	out[n] = '\0';
	close(p->out);
	assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
	assert_true(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

/* Run a tool to the end: its exit status, its output in out. */
static inline int
xi_run(const char *const argv[], char *out, size_t cap)
{
	struct xi_proc p;

	xi_spawn(&p, argv);
	return (xi_wait(&p, out, cap));
}

/* A raw client of a daemon socket (blocking unless told otherwise). */
static inline int
xi_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return (fd);
}

static inline void
xi_send(int fd, uint32_t type, uint32_t tx, const void *p, size_t len)
{
	struct {
		uint32_t type, req_id, tx_id, len;
	} h = { type, 0, tx, (uint32_t)len };

	assert_int_equal(send(fd, &h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	if (len > 0)
		assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Read exactly len bytes within the deadline: 1, 0 on EOF or error, -1
 * when nothing came in time.  It never fails the test, so that threads
 * may use it.
 */
static inline int
xi_read_some(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t n = 0;
	ssize_t r;

	while (n < len) {
		if (poll(&pfd, 1, XI_DEADLINE_MS) != 1)
			return (-1);
		r = read(fd, (char *)buf + n, len - n);
		if (r <= 0)
			return (0);
		n += (size_t)r;
	}
	return (1);
}

/* Read exactly len bytes within the deadline; false on EOF or error. */
static inline bool
xi_read_full(int fd, void *buf, size_t len)
{
	int r = xi_read_some(fd, buf, len);

	if (r < 0)
		fail_msg("no reply in time");
	return (r > 0);
}

/* Read one message: its type (or -1 at EOF), payload NUL-terminated. */
static inline int
xi_recv(int fd, char *buf, size_t cap, uint32_t *len)
{
	uint32_t h[4];

	if (!xi_read_full(fd, h, sizeof(h)))
		return (-1);
	assert_true(h[3] < cap);
	if (!xi_read_full(fd, buf, h[3]))
		return (-1);
	buf[h[3]] = '\0';
	if (len != NULL)
		*len = h[3];
	return ((int)h[0]);
}

/* Is the peer gone (EOF or reset) within the deadline? */
static inline bool
xi_closed(int fd)
{
	char buf[4096];
	long end = xi_now_ms() + XI_DEADLINE_MS;
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t r;

	while (xi_now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - xi_now_ms())) != 1)
			return (false);
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return (true);
		if (r < 0)
			return (false);
	}
	return (false);
}

#endif /* XBD_TESTS_TEST_XSD_INTEG_H */
