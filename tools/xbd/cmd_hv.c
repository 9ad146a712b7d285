/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd hv: the simulated hypervisor and XenStore daemon of the
 * multi-process mode (lib/platform/sim/hv_cmd.c does the work).
 */

#include "cmd.h"
#include "platform/sim/hv.h"

int
cmd_hv(int argc, char **argv)
{
	return (hv_cmd_main(argc, argv));
}
