/* SPDX-License-Identifier: BSD-3-Clause */
/* The end of a round, once for every program: totals, evaluation, metrics
 * row, progress, checkpoint. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "gcdl/metrics.h"
#include "gcdl/round_end.h"
#include "clock.h"
#include "seterr.h"

int
gcdl_round_end_init(struct gcdl_round_end *re, struct gcdl_job *job, struct gcdl_engine *e,
		    struct gcdl_counters *c, const struct gcdl_round_end_opts *o,
		    const struct gcdl_checkpoint *resume)
{
	if (re == NULL || job == NULL || e == NULL || c == NULL)
		return -EINVAL;
	memset(re, 0, sizeof(*re));
	re->job = job;
	re->e = e;
	re->c = c;
	if (o != NULL)
		re->o = *o;
	if (re->o.progress_s <= 0)
		re->o.progress_s = 1.0;
	re->loss = NAN;
	re->acc = NAN;
	if (resume != NULL) {
		re->first_round = resume->round;
		for (int k = 0; k < GCDL_CTR__COUNT; k++)
			if (gcdl_counter_flags(k) & GCDL_CTR_F_RESUME)
				gcdl_counter_add(c, (enum gcdl_counter)k,
						 resume->totals[k] - gcdl_counter_get(c, k));
	}
	re->rounds_done = re->first_round;
	gcdl_round_end_start(re);
	return 0;
}

void
gcdl_round_end_start(struct gcdl_round_end *re)
{
	re->t0_s = gcdl_clock_now_s();
	re->report_s = re->t0_s;
	re->report_round = re->rounds_done;
	re->report_frames = gcdl_counter_get(re->c, GCDL_CTR_UPLINK_ACCEPTED);
	re->report_wire = gcdl_counter_get(re->c, GCDL_CTR_UPLINK_WIRE_BYTES);
}

int
gcdl_round_end_eval(struct gcdl_round_end *re, const float *w)
{
	uint64_t t0 = gcdl_clock_thread_ns();
	struct gcdl_engine *e = re->e;
	int rc;

	if (w == NULL)
		w = gcdl_engine_model(e);
	rc = gcdl_engine_eval(e, w, &re->job->train, &re->loss, NULL);
	if (rc == 0)
		rc = gcdl_engine_eval(e, w, &re->job->test, NULL, &re->acc);
	gcdl_counter_add(re->c, GCDL_CTR_CPU_EVAL_NS, gcdl_clock_thread_ns() - t0);
	re->evaluated = rc == 0;
	/* an external model is evaluated by its trainer: no figures, no error */
	return rc == -ENOTSUP ? 0 : rc;
}

static void
progress(struct gcdl_round_end *re, uint32_t stragglers, int last)
{
	const struct gcdl_round_end_opts *o = &re->o;
	double now = gcdl_clock_now_s(), dt = now - re->report_s, run = now - re->t0_s;
	uint32_t total = re->job->prof.rounds, done = re->rounds_done;
	uint64_t frames = gcdl_counter_get(re->c, GCDL_CTR_UPLINK_ACCEPTED);
	uint64_t wire = gcdl_counter_get(re->c, GCDL_CTR_UPLINK_WIRE_BYTES);
	double every = o->progress_tty ? o->progress_s / 5 : o->progress_s;
	double rps = run > 0 ? (done - re->first_round) / run : 0.0;
	char la[64] = "loss - acc -";

	if (o->progress == NULL)
		return;
	if (!last && dt < every && !(done - re->report_round >= 10 && dt >= every / 4))
		return;
	if (re->evaluated)
		snprintf(la, sizeof(la), "loss %.4f acc %.4f", re->loss, re->acc);
	/* trailing blanks on a terminal wipe the rest of a longer previous line */
	fprintf(o->progress, "%s%sround %u/%u %s %.1f rounds/s %.0f frames/s %.6f Gbit/s "
		"stragglers %u late %" PRIu64 " ETA %.0f s%s", o->progress_tty ? "\r" : "",
		o->who ? o->who : "", done, total, la, rps,
		dt > 0 ? (double)(frames - re->report_frames) / dt : 0.0,
		dt > 0 ? 8.0 * (double)(wire - re->report_wire) / dt / 1e9 : 0.0, stragglers,
		gcdl_counter_get(re->c, GCDL_CTR_LATE),
		rps > 0 && !last ? (total - done) / rps : 0.0,
		!o->progress_tty || last ? "\n" : "    ");
	fflush(o->progress);
	re->report_s = now;
	re->report_round = done;
	re->report_frames = frames;
	re->report_wire = wire;
}

static int
checkpoint(struct gcdl_round_end *re, uint32_t rounds, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &re->job->prof;
	struct gcdl_checkpoint ck;
	char why[384];
	int rc;

	rc = gcdl_checkpoint_describe(&ck, p, re->e, rounds);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "checkpoint after round %u: %s", rounds, strerror(-rc));
		return rc;
	}
	for (int k = 0; k < GCDL_CTR__COUNT; k++)
		if (gcdl_counter_flags(k) & GCDL_CTR_F_RESUME)
			ck.totals[k] = gcdl_counter_get(re->c, k);
	rc = gcdl_checkpoint_save(p->checkpoint_path, &ck, why, sizeof(why));
	gcdl_checkpoint_free(&ck);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "checkpoint after round %u: %.300s", rounds, why);
		return rc;
	}
	gcdl_counter_add(re->c, GCDL_CTR_CHECKPOINTS, 1);
	return 0;
}

int
gcdl_round_end_close(struct gcdl_round_end *re, uint32_t round,
		     const struct gcdl_round_info *info, double wall_ms, int last, char *err,
		     size_t errlen)
{
	const struct gcdl_profile *p;
	struct gcdl_metrics_row row = { 0 };
	int eval, rc;

	if (re == NULL || info == NULL)
		return -EINVAL;
	p = &re->job->prof;
	gcdl_counter_add(re->c, GCDL_CTR_UPLINK_PAYLOAD_BYTES, info->payload_bytes);
	gcdl_counter_add(re->c, GCDL_CTR_UPLINK_WIRE_BYTES, info->wire_bytes);
	gcdl_counter_add(re->c, GCDL_CTR_DOWNLINK_WIRE_BYTES, info->downlink_bytes);
	gcdl_counter_add(re->c, GCDL_CTR_STRAGGLERS, info->stragglers);
	re->rounds_done = round + 1;
	eval = re->o.evaluate && (gcdl_job_eval_due(p, round) || last);
	if (eval) {
		rc = gcdl_round_end_eval(re, NULL);
		if (rc != 0) {
			gcdl_seterr(err, errlen, "evaluation after round %u: %s", round + 1,
				    strerror(-rc));
			return rc;
		}
	}
	row.round = round + 1;
	row.method = gcdl_method_name(p->method);
	row.evaluated = eval;
	row.train_loss = re->loss;
	row.test_accuracy = re->acc;
	row.uplink_bits = 8 * gcdl_counter_get(re->c, GCDL_CTR_UPLINK_WIRE_BYTES);
	row.downlink_bits = 8 * (gcdl_counter_get(re->c, GCDL_CTR_DOWNLINK_WIRE_BYTES) +
				 gcdl_counter_get(re->c, GCDL_CTR_DOWNLINK_REPAIR_BYTES));
	row.stragglers = info->stragglers;
	row.wall_ms = wall_ms;
	if (re->o.metrics != NULL && gcdl_metrics_write(re->o.metrics, &row) != 0) {
		gcdl_seterr(err, errlen, "metrics: write failed after round %u", round + 1);
		return -EIO;
	}
	progress(re, info->stragglers, last);
	if (re->o.checkpoint && p->checkpoint_every > 0 && (round + 1) % p->checkpoint_every == 0 &&
	    !last)
		return checkpoint(re, round + 1, err, errlen);
	return 0;
}
