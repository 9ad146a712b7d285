/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd attach: a frontend domain of a running `xbd hv` machine, or of
 * real Xen (--platform xen: the domain the process runs in).  It
 * attaches a vbd, prints the attach banner, optionally runs a verified
 * workload, and then holds the disk until SIGINT or SIGTERM, answering
 * `xbd stat` on DIR/stat/<N>.<vdev> when it has a DIR.
 */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_opt.h"
#include "common/xu_assert.h"
#include "platform/plat.h"
#include "statsock.h"
#include "xenbus/xbus.h"
#include "xwl.h"

/* Bytes the discard test discards (at this offset too). */
#define CMD_ATTACH_DISCARD_LEN (1u << 20)

/* --domid not given. */
#define CMD_ATTACH_UNSET UINT32_MAX

/* Room for the text form of every parameter and counter of a device. */
#define CMD_ATTACH_STATS_LEN 65536

static const char attach_usage[] =
    "usage: xbd attach --dir DIR --domid N [options] [VBD]\n"
    "       xbd attach --platform xen [options] [VBD]\n"
    "\n"
    "Join the simulated machine on DIR (`xbd hv --dir DIR`) as frontend\n"
    "domain N, or use real Xen as the domain this runs in, attach VBD\n"
    "(default xvda; a name, a number or a device directory), print what\n"
    "was negotiated, and hold the disk until SIGINT or SIGTERM.\n"
    "A VBD not there yet is waited for up to 3 seconds.\n"
    "`xbd stat --dir DIR --domid N VBD` shows its parameters and\n"
    "counters meanwhile (simulated machine only).\n"
    "\n"
    "options:\n"
    "      --platform NAME   sim (default) or xen\n"
    "      --dir DIR         the machine's directory (sim: required)\n"
    "      --domid N         the frontend domain (sim: required;\n"
    "                        0..32751)\n"
    "      --workload SEC    run a verified random read/write workload\n"
    "                        for SEC seconds (0.001..86400) after\n"
    "                        attaching\n"
    "      --bs SIZE         its block size (512..16M, a multiple of\n"
    "                        512; default 4K)\n"
    "      --stats           print the counters after the workload\n"
    "      --discard         then discard a region, and write and read\n"
    "                        it back (fails when discard is not offered)\n"
    "      --once            detach after the workload instead of holding\n"
    "      --ring-pages N    most ring pages (1, 2, 4 ... 32)\n"
    "      --queues N        rings (multi-queue, 1..16)\n"
    "      --no-indirect     no indirect segments\n"
    "      --no-persistent   no persistent grants\n"
    "      --bounce          bounce all data\n"
    "      --recover-timeout SECONDS\n"
    "                        how long a backend that went away may take\n"
    "                        to come back before I/O fails (0..86400;\n"
    "                        default 30)\n"
    "  -h, --help            this text\n";

static volatile sig_atomic_t attach_stop;

static void
attach_signal(int sig)
{
	attach_stop = sig;
}

/* What the library told us about the backend (attach_event). */
struct attach_watch {
	const char *aw_vbd;	  /* the vbd, for messages */
	uint32_t aw_backend;	  /* its backend domain */
	uint32_t aw_recover_s;	  /* --recover-timeout */
	volatile bool aw_lost;	  /* the backend went away ... */
	volatile bool aw_gave_up; /* ... and did not come back in time */
};

/*
 * On the library's event thread: say what is being waited for while a
 * lost backend has its time to come back, so that a user does not just
 * see a workload stall.
 */
static void
attach_event(struct xbd_dev *dev, enum xbd_event ev, void *arg)
{
	struct attach_watch *aw = arg;

	if (ev == XBD_EV_LOST) {
		aw->aw_lost = true;
		fprintf(stderr,
		    "%s: backend domain %u is gone; waiting up to %u s for "
		    "it to come back\n",
		    aw->aw_vbd, aw->aw_backend, aw->aw_recover_s);
	} else if (ev == XBD_EV_CONNECTED && aw->aw_lost) {
		aw->aw_lost = false;
		fprintf(stderr, "%s: backend domain %u is back\n", aw->aw_vbd,
		    aw->aw_backend);
	} else if (ev == XBD_EV_ERROR && aw->aw_lost) {
		aw->aw_gave_up = true;
	}
}

/*
 * Why the workload had errors, in words.  The device's own state says
 * whether a lost backend never came back: the events may still be on
 * their way when the failed I/O has already ended the workload.
 */
static void
attach_why_errors(struct xbd_dev *dev, const struct attach_watch *aw,
    const struct xwl_result *wr)
{
	struct xbd_stats st;
	struct xbd_info now;
	bool lost;

	xbd_get_info(dev, &now);
	xbd_get_stats(dev, &st, sizeof(st));
	/* Lost at least once, and in error rather than connected again. */
	lost = st.xst_recoveries != 0 && now.xi_state == 3;
	if (attach_stop != 0 && (lost || aw->aw_lost))
		fprintf(stderr,
		    "xbd attach: %s: interrupted while waiting for backend "
		    "domain %u to come back\n",
		    aw->aw_vbd, aw->aw_backend);
	else if (lost || aw->aw_gave_up)
		fprintf(stderr,
		    "xbd attach: %s: backend domain %u did not come back "
		    "within %u s\n",
		    aw->aw_vbd, aw->aw_backend, aw->aw_recover_s);
	else if (wr->r_errors != 0)
		fprintf(stderr, "xbd attach: %s: I/O errors, the first: %s\n",
		    aw->aw_vbd, strerror(-wr->r_first_error));
}

/*
 * Discard a region and check the device still stores data there (what
 * a discarded block reads back as is unspecified, so only the status and
 * the rewrite are checked).
 */
static int
attach_discard(struct xbd_dev *dev, const struct xbd_info *info)
{
	uint64_t len = CMD_ATTACH_DISCARD_LEN, i;
	unsigned char *buf;
	int rc;

	if ((info->xi_features & XBD_FEAT_DISCARD) == 0) {
		fprintf(stderr, "xbd attach: the backend offers no discard\n");
		return (-EOPNOTSUPP);
	}
	if (info->xi_size < 2 * len || (buf = malloc(len)) == NULL)
		return (-ENOMEM);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 13 + 1);
	if ((rc = xbd_write(dev, buf, len, len)) != 0 ||
	    (rc = xbd_discard(dev, len, len, false)) != 0 ||
	    (rc = xbd_flush(dev)) != 0 ||
	    (rc = xbd_write(dev, buf, len, len)) != 0) {
		fprintf(stderr, "xbd attach: discard test: %s\n",
		    strerror(-rc));
		free(buf);
		return (rc);
	}
	memset(buf, 0, len);
	if ((rc = xbd_read(dev, buf, len, len)) == 0)
		for (i = 0; i < len && rc == 0; i++)
			if (buf[i] != (unsigned char)(i * 13 + 1))
				rc = -EIO;
	free(buf);
	printf("discard: %s\n", rc == 0 ? "ok" : strerror(-rc));
	return (rc);
}

void
cmd_attach_error(const char *who, const struct xbd_plat *xp, const char *vbd,
    int rc)
{
	const char *why = xbd_plat_why(xp);

	if (why[0] != '\0')
		fprintf(stderr, "%s: %s\n", who, why);
	else
		fprintf(stderr, "%s: attaching %s: %s%s\n", who, vbd,
		    strerror(-rc),
		    rc == -ENOENT ? " (no such vbd: did 'xbd serve --image' "
				    "create it for this domain?)" :
				    "");
}

/*
 * The verified workload of --workload.  SIGINT or SIGTERM ends it early
 * (what was done is printed) and fails the command.
 */
static int
attach_workload(struct xbd_dev *dev, const struct xbd_info *info, uint32_t bs,
    double seconds, bool stats, const struct attach_watch *aw)
{
	struct xwl_cfg wc;
	struct xwl_result wr;
	char *text;
	int rc;

	memset(&wc, 0, sizeof(wc));
	wc.c_span = info->xi_size < (64ull << 20) ? info->xi_size : 64ull << 20;
	wc.c_span -= wc.c_span % bs;
	if (wc.c_span == 0) {
		fprintf(stderr, "xbd attach: --bs %u is larger than the disk\n",
		    bs);
		return (-EINVAL);
	}
	wc.c_bs = bs;
	wc.c_qd = 16;
	wc.c_random = true;
	wc.c_read_pct = (info->xi_features & XBD_FEAT_READONLY) ? 100 : 50;
	wc.c_runtime = seconds;
	wc.c_flush_every = 64;
	wc.c_verify = XWL_VERIFY_WRITTEN;
	wc.c_zero_copy = true;
	wc.c_seed = (unsigned int)getpid();
	wc.c_stop = &attach_stop;
	if ((rc = xwl_run(dev, &wc, &wr)) != 0)
		return (rc);
	printf("workload: %ju I/Os, %.0f IOPS, %ju blocks verified, "
	       "%ju bad, %ju errors%s\n",
	    (uintmax_t)wr.r_ios, (double)wr.r_ios / wr.r_seconds,
	    (uintmax_t)wr.r_verified, (uintmax_t)wr.r_bad,
	    (uintmax_t)wr.r_errors, attach_stop != 0 ? " (interrupted)" : "");
	if (stats && (text = malloc(CMD_ATTACH_STATS_LEN)) != NULL) {
		if (xbd_describe(dev, XBD_FMT_TEXT, text,
			CMD_ATTACH_STATS_LEN) > 0)
			fputs(text, stdout);
		free(text);
	}
	attach_why_errors(dev, aw, &wr);
	if (wr.r_bad != 0 || wr.r_errors != 0 || attach_stop != 0)
		return (-EIO);
	return (0);
}

/* The command line, parsed. */
struct attach_args {
	const char *aa_dir;   /* the machine's directory (sim) */
	const char *aa_vbd;   /* the vbd to attach */
	bool aa_xen;	      /* --platform xen */
	uint32_t aa_domid;    /* our domain (sim) */
	bool aa_has_domid;    /* --domid was given */
	double aa_workload;   /* seconds of workload, 0 for none */
	uint32_t aa_bs;	      /* its block size */
	bool aa_once;	      /* detach after the workload */
	bool aa_stats;	      /* print the counters after it */
	bool aa_discard;      /* run the discard test */
	uint32_t aa_recover;  /* --recover-timeout seconds, or UINT32_MAX */
	struct xbd_opts aa_o; /* frontend options */
};

enum attach_opt {
	AO_DIR = 256,
	AO_DOMID,
	AO_WL,
	AO_ONCE,
	AO_RING,
	AO_QUEUES,
	AO_NOIND,
	AO_NOPERS,
	AO_BOUNCE,
	AO_PLATFORM,
	AO_BS,
	AO_STATS,
	AO_DISCARD,
	AO_RECOVER
};

static const struct option attach_longopts[] = {
	{ "dir", required_argument, NULL, AO_DIR },
	{ "domid", required_argument, NULL, AO_DOMID },
	{ "workload", required_argument, NULL, AO_WL },
	{ "once", no_argument, NULL, AO_ONCE },
	{ "ring-pages", required_argument, NULL, AO_RING },
	{ "queues", required_argument, NULL, AO_QUEUES },
	{ "no-indirect", no_argument, NULL, AO_NOIND },
	{ "no-persistent", no_argument, NULL, AO_NOPERS },
	{ "bounce", no_argument, NULL, AO_BOUNCE },
	{ "platform", required_argument, NULL, AO_PLATFORM },
	{ "bs", required_argument, NULL, AO_BS },
	{ "stats", no_argument, NULL, AO_STATS },
	{ "discard", no_argument, NULL, AO_DISCARD },
	{ "recover-timeout", required_argument, NULL, AO_RECOVER },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The options that are not a plain value: 1 for --help, or -EINVAL. */
static int
attach_special(int c, const char *prog, struct attach_args *a)
{
	if (c == AO_PLATFORM)
		return (cmd_opt_platform(prog, optarg, &a->aa_xen));
	if (c == AO_BOUNCE) {
		a->aa_o.o_bounce = 1;
		return (0);
	}
	fputs(attach_usage, c == 'h' ? stdout : stderr);
	return (c == 'h' ? 1 : -EINVAL);
}

static int
attach_parse(int argc, char **argv, struct attach_args *a)
{
	struct xbd_opts *o = &a->aa_o;
	const struct cmd_opt_dest dest[] = {
		{ AO_DIR, NULL, CMD_OPT_STR, &a->aa_dir },
		{ AO_DOMID, "domid", CMD_OPT_U32, &a->aa_domid },
		{ AO_WL, "workload", CMD_OPT_SECS, &a->aa_workload },
		{ AO_ONCE, NULL, CMD_OPT_TRUE, &a->aa_once },
		{ AO_RING, "ring-pages", CMD_OPT_U32, &o->o_max_ring_pages },
		{ AO_QUEUES, "queues", CMD_OPT_U32, &o->o_max_queues },
		{ AO_NOIND, NULL, CMD_OPT_FALSE, &o->o_enable_indirect },
		{ AO_NOPERS, NULL, CMD_OPT_FALSE, &o->o_persistent },
		{ AO_BS, "bs", CMD_OPT_U32, &a->aa_bs },
		{ AO_STATS, NULL, CMD_OPT_TRUE, &a->aa_stats },
		{ AO_DISCARD, NULL, CMD_OPT_TRUE, &a->aa_discard },
		{ AO_RECOVER, "recover-timeout", CMD_OPT_U32, &a->aa_recover },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->aa_vbd = "xvda";
	a->aa_bs = 4096;
	a->aa_domid = a->aa_recover = CMD_ATTACH_UNSET;
	xbd_opts_init(o);
	while (
	    (c = getopt_long(argc, argv, "h", attach_longopts, NULL)) != -1) {
		rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c, optarg);
		if (rc == 1)
			rc = attach_special(c, argv[0], a);
		if (rc != 0)
			return (rc);
	}
	a->aa_has_domid = a->aa_domid != CMD_ATTACH_UNSET;
	if (a->aa_recover != CMD_ATTACH_UNSET)
		o->o_recovery_timeout_ms = a->aa_recover * 1000;
	if (optind < argc)
		a->aa_vbd = argv[optind++];
	if (optind < argc ||
	    (!a->aa_xen && (a->aa_dir == NULL || !a->aa_has_domid)) ||
	    (a->aa_xen && (a->aa_dir != NULL || a->aa_has_domid))) {
		fprintf(stderr,
		    "xbd attach: --dir and --domid are required with the "
		    "simulator, not with xen, and one VBD at most\n%s",
		    attach_usage);
		return (-EINVAL);
	}
	return (0);
}

/*
 * SIGINT and SIGTERM are for the main thread alone: the threads of the
 * library and of the statistics socket inherit the mask blocking them
 * set here (the previous one goes to *mask).  A handler run on one of
 * them would set attach_stop while the main thread went on waiting.
 * Until the main thread unblocks them either signal still ends the
 * process, once those threads exist.
 */
static void
attach_signals(sigset_t *stopsigs, sigset_t *mask)
{
	struct sigaction sa;

	/*
	 * SIGINT and SIGTERM are for the main thread alone: the threads of
	 * the library and of the statistics socket inherit this mask.  A
	 * handler run on one of them would set attach_stop while the main
	 * thread went on waiting.
	 */
	sigemptyset(stopsigs);
	sigaddset(stopsigs, SIGINT);
	sigaddset(stopsigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, stopsigs, mask);
	/* Also while a workload runs: it stops, and we detach. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = attach_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Open the platform: real Xen, or join the simulated machine. */
static int
attach_open(const struct attach_args *a, struct xbd_plat **xp)
{
	int rc;

	if (a->aa_xen)
		return (cmd_open_xen("xbd attach", xp));
	rc = xbd_plat_open_sim(a->aa_dir, a->aa_domid, true, xp);
	if (rc != 0) {
		fprintf(stderr,
		    "xbd attach: joining the machine at %s as domain %u: %s",
		    a->aa_dir, a->aa_domid, strerror(-rc));
		/* Only a missing socket means there is no machine. */
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			fprintf(stderr, " (is 'xbd hv --dir %s' running?)",
			    a->aa_dir);
		fputc('\n', stderr);
		return (rc);
	}
	xbd_plat_on_lost(*xp, cmd_hv_lost, "xbd attach");
	return (0);
}

/*
 * Attach the vbd, print the banner and, on the simulated machine, start
 * answering `xbd stat`.
 */
static int
attach_start(struct attach_args *a, struct xbd_plat *xp,
    struct attach_watch *aw, struct xbd_dev **dev, struct xbd_info *info,
    struct statsock **ss)
{
	char line[1024];
	int rc;

	a->aa_o.o_vbd_wait_ms = XBD_TOOL_VBD_WAIT_MS;
	a->aa_o.o_holder = "xbd attach";
	a->aa_o.o_event = attach_event;
	a->aa_o.o_event_arg = aw;
	aw->aw_vbd = a->aa_vbd;
	aw->aw_recover_s = a->aa_o.o_recovery_timeout_ms / 1000;
	if ((rc = xbd_attach(xp, a->aa_vbd, &a->aa_o, dev)) != 0) {
		cmd_attach_error("xbd attach", xp, a->aa_vbd, rc);
		return (rc);
	}
	xbd_get_info(*dev, info);
	aw->aw_backend = info->xi_backend_id;
	if (xbd_describe(*dev, XBD_FMT_LINE, line, sizeof(line)) > 0)
		printf("%s: %s\n", info->xi_name, line);
	if (!a->aa_xen &&
	    (rc = statsock_start(a->aa_dir, a->aa_domid, info->xi_vdevice, *dev,
		 ss)) != 0)
		fprintf(stderr, "xbd attach: no statistics socket: %s\n",
		    strerror(-rc));
	return (0);
}

/* The workload and the discard test, as asked: 0 or the failure. */
static int
attach_run(const struct attach_args *a, struct xbd_dev *dev,
    const struct xbd_info *info, const struct attach_watch *aw)
{
	int rc;

	if (a->aa_workload > 0 &&
	    (rc = attach_workload(dev, info, a->aa_bs, a->aa_workload,
		 a->aa_stats, aw)) != 0)
		return (rc);
	if (a->aa_discard && (rc = attach_discard(dev, info)) != 0)
		return (rc);
	return (0);
}

int
cmd_attach(int argc, char **argv)
{
	struct statsock *ss = NULL;
	struct xbd_plat *xp = NULL;
	struct xbd_dev *dev = NULL;
	struct attach_args a;
	struct xbd_info info;
	struct attach_watch aw = { 0 };
	sigset_t stopsigs, mask;
	int rc, exit_code = CMD_EXIT_FAIL;

	if ((rc = attach_parse(argc, argv, &a)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* We print the banner ourselves. */
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);
	attach_signals(&stopsigs, &mask);
	if (attach_open(&a, &xp) != 0)
		return (CMD_EXIT_FAIL);
	if (attach_start(&a, xp, &aw, &dev, &info, &ss) != 0)
		goto out;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	if (attach_run(&a, dev, &info, &aw) != 0)
		goto out;
	exit_code = CMD_EXIT_OK;
	if (!a.aa_once && attach_stop == 0) {
		/* Blocked between the test and the wait: none is missed. */
		pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);
		printf("%s: attached; SIGINT or SIGTERM detaches\n",
		    info.xi_name);
		while (attach_stop == 0)
			sigsuspend(&mask);
	}
out:
	statsock_stop(ss);
	if (dev != NULL) {
		xbd_detach(dev);
		printf("%s: detached\n", info.xi_name);
	}
	xbd_plat_close(xp);
	return (exit_code);
}
