/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The poll loop of one lcore: it polls its nodes in turn until every one is
 * done, and backs off when none found work, so that idle lcores sharing a
 * core with busy ones give it up: spin, then yield, then sleep briefly; but
 * never past the earliest timer a node asked for, and without sleeping at
 * all within NODE_DEADLINE_SPIN_US of it (the wake-up of a sleeping thread
 * can be late by milliseconds on a busy VM).
 */
#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>

#include <rte_pause.h>

#include "node_internal.h"

int
gcdl_node_run(struct gcdl_node **nodes, uint32_t count, const int *quit)
{
	struct gcdl_loop lp = { 0 };
	uint64_t hz = rte_get_tsc_hz();
	uint64_t spin = (uint64_t)NODE_DEADLINE_SPIN_US * hz / 1000000;
	uint32_t idle = 0;

	if (nodes == NULL || count == 0)
		return -EINVAL;
	/* sleep precisely when idle */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	for (;;) {
		uint64_t now;
		int work = 0, all_done = 1;

		if (quit != NULL && __atomic_load_n(quit, __ATOMIC_ACQUIRE))
			return 0;
		lp.top = rte_rdtsc();
		lp.wake = UINT64_MAX;
		for (uint32_t i = 0; i < count; i++) {
			int rc;

			if (gcdl_node_done(nodes[i]))
				continue;
			rc = gcdl_node_poll(nodes[i], &lp);
			if (rc < 0)
				return rc;
			work += rc;
			if (!gcdl_node_done(nodes[i]))
				all_done = 0;
		}
		if (all_done)
			return 0;
		lp.prev_work = work > 0;
		lp.prev_slept = 0;
		if (work > 0) {
			idle = 0;
			continue;
		}
		now = rte_rdtsc();
		if (lp.wake <= now + spin) {
			rte_pause(); /* a timer is near: see NODE_DEADLINE_SPIN_US */
			lp.prev_wake = now;
			continue;
		}
		lp.prev_slept = 1;
		if (idle < NODE_IDLE_SPIN) {
			rte_pause();
			lp.prev_wake = now;
		} else if (idle < NODE_IDLE_YIELD) {
			sched_yield();
			lp.prev_wake = now;
		} else {
			/* the longer the lull, the longer the nap (each one costs two
			 * context switches): 20 us, doubling every 64 naps, to 160 */
			uint32_t dbl = (idle - NODE_IDLE_YIELD) / 64;
			uint64_t us = (uint64_t)NODE_IDLE_SLEEP_US << (dbl < 3 ? dbl : 3);

			if (lp.wake - now < hz && (lp.wake - now) * 1000000 / hz < us)
				us = (lp.wake - now) * 1000000 / hz;
			lp.prev_wake = now + us * hz / 1000000;
			rte_delay_us_sleep((unsigned int)us);
		}
		idle++;
	}
}

int
node_helper_loop(struct gcdl_node *n, uint32_t i, const int *quit, int *exited,
		 int (*work)(struct gcdl_node *n, uint32_t i))
{
	uint32_t idle = 0;

	for (;;) {
		if (work(n, i)) {
			idle = 0;
			continue;
		}
		/* stop only when idle: a job it saw is finished first */
		if ((quit != NULL && __atomic_load_n(quit, __ATOMIC_ACQUIRE)) ||
		    __atomic_load_n(&n->helpers_stop, __ATOMIC_ACQUIRE)) {
			if (exited != NULL)
				__atomic_store_n(exited, 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (idle < NODE_IDLE_SPIN)
			rte_pause();
		else if (idle < NODE_IDLE_YIELD)
			sched_yield();
		else
			rte_delay_us_sleep(NODE_IDLE_SLEEP_US);
		idle++;
	}
}
