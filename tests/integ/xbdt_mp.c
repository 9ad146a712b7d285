/* SPDX-License-Identifier: BSD-2-Clause */
/* A machine of separate processes for frontend tests; see xbdt_mp.h. */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "platform/sim/hv.h"
#include "xbdt_mp.h"
#include "xenbus/xbus.h"
#include "xt.h"

/* A program that dies with us, whatever kills us. */
pid_t
xbdt_mp_spawn(char *const argv[], int *out)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (out != NULL)
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out != NULL && dup2(p[1], STDOUT_FILENO) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (out != NULL) {
		close(p[1]);
		*out = p[0];
	}
	return (pid);
}

static void
xbdt_reap(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

void
xbdt_mp_serve(struct xbdt_mp *m)
{
	char *argv[] = { (char *)m->mp_xbd, "serve", "--dir", m->mp_mdir,
		"--domid", "1", "--name", "storage", "--image", m->mp_img,
		"--frontend", "2", "--vdev", "xvda", "--quiet", NULL };
	char sock[400];
	struct xs_handle *xs;
	int i, st;

	m->mp_serve = xbdt_mp_spawn(argv, NULL);
	snprintf(sock, sizeof(sock), "%s/socket", m->mp_mdir);
	assert_non_null(xs = hv_xs_open_path(sock));
	/* The vbd exists once the backend reached InitWait or further. */
	for (i = 0; i < 1000; i++) {
		st = xbus_read_state(xs, "/local/domain/1/backend/vbd/2/51712");
		if (st >= XenbusStateInitWait && st <= XenbusStateConnected)
			break;
		usleep(5000);
	}
	xs_close(xs);
	if (i == 1000)
		fail_msg("the backend did not start");
}

void
xbdt_mp_kill_serve(struct xbdt_mp *m, int sig)
{
	xbdt_reap(m->mp_serve, sig);
	m->mp_serve = 0;
}

void
xbdt_mp_machine(struct xbdt_mp *m, const char *xbd, uint64_t bytes)
{
	char *argv[] = { (char *)xbd, "hv", "--dir", m->mp_mdir, NULL };
	struct stat st;
	char sock[400];
	int fd, i;

	memset(m, 0, sizeof(*m));
	m->mp_xbd = xbd;
	setenv("XBD_QUIET", "1", 0);
	snprintf(m->mp_dir, sizeof(m->mp_dir), "%s/xbdr.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(m->mp_dir));
	snprintf(m->mp_mdir, sizeof(m->mp_mdir), "%s/m", m->mp_dir);
	snprintf(m->mp_img, sizeof(m->mp_img), "%s/disk.img", m->mp_dir);
	assert_true((fd = open(m->mp_img, O_RDWR | O_CREAT, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
	m->mp_hv = xbdt_mp_spawn(argv, NULL);
	snprintf(sock, sizeof(sock), "%s/hv.sock", m->mp_mdir);
	for (i = 0; i < 500 && stat(sock, &st) != 0; i++)
		usleep(10000);
	assert_int_equal(stat(sock, &st), 0);
}

void
xbdt_mp_up(struct xbdt_mp *m, const char *xbd, uint64_t bytes)
{
	xbdt_mp_machine(m, xbd, bytes);
	xbdt_mp_serve(m);
}

void
xbdt_mp_down(struct xbdt_mp *m)
{
	char cmd[400];

	xbdt_reap(m->mp_serve, SIGINT);
	xbdt_reap(m->mp_hv, SIGINT);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->mp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", m->mp_dir);
}
