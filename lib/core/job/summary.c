/* SPDX-License-Identifier: BSD-3-Clause */
/* The run's summary for people ("key: value" lines) and for programs (one
 * JSON object), both generated from the counter list. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "gcdl/outfile.h"
#include "gcdl/summary.h"
#include "seterr.h"

uint32_t
gcdl_crc32_floats(const float *v, uint64_t count)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const uint8_t *p = (const uint8_t *)v;
	uint64_t left = count * sizeof(float);

	while (v != NULL && left > 0) {
		uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;

		c = crc32(c, p, step);
		p += step;
		left -= step;
	}
	return (uint32_t)c;
}

void
gcdl_summary_total(struct gcdl_summary *s)
{
	memset(&s->total, 0, sizeof(s->total));
	for (uint32_t i = 0; i < s->nnodes; i++) {
		gcdl_counters_sum_drops(&s->nodes[i].c);
		gcdl_counters_accumulate(&s->total, &s->nodes[i].c);
	}
	gcdl_counters_sum_drops(&s->total);
}

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

int
gcdl_summary_assess(struct gcdl_summary *s)
{
	uint64_t late = 0, accepted = 0, stragglers = 0, skipped = 0;
	uint32_t aggs = 0;
	double late_share, unplanned_share;

	if (s == NULL)
		return 0;
	s->warning[0] = '\0';
	for (uint32_t i = 0; i < s->nnodes; i++) {
		const uint64_t *v = s->nodes[i].c.v;

		if (strcmp(s->nodes[i].role, "aggregator") == 0) {
			late += v[GCDL_CTR_LATE];
			accepted += v[GCDL_CTR_UPLINK_ACCEPTED];
			stragglers += v[GCDL_CTR_STRAGGLERS];
			aggs++;
		} else if (strcmp(s->nodes[i].role, "worker") == 0) {
			skipped += v[GCDL_CTR_SKIPPED];
		}
	}
	if (aggs == 0 || s->rounds == 0 || s->workers == 0)
		return 0;
	/* each aggregator counts its own straggler-rounds (sharded: K of them);
	 * the workers of another process (multi-host), and so the stragglers
	 * they were told to be, are not in this summary: late frames only */
	late_share = ratio((double)late, (double)(late + accepted));
	unplanned_share = strcmp(s->role, "local") != 0
				  ? 0.0
				  : ratio((double)stragglers / aggs - (double)skipped,
					  (double)s->workers * s->rounds);
	if (late_share < GCDL_SUMMARY_LATE_SHARE && unplanned_share < GCDL_SUMMARY_UNPLANNED_SHARE)
		return 0;
	snprintf(s->warning, sizeof(s->warning),
		 "rounds closed without frames that came too late: %.0f%% of the gradient frames "
		 "late (%" PRIu64 "), %.0f%% of the worker-rounds stragglers beyond those injected; "
		 "the model learnt from fewer workers than planned. The deadline is too short for "
		 "this machine now (busy cores?): try deadline.mode = adaptive, a longer "
		 "deadline.fixed_us, or fewer busy-polling lcores per core",
		 100.0 * late_share, late, 100.0 * (unplanned_share > 0 ? unplanned_share : 0.0));
	return 1;
}

/* A counter that a reader looks for even when it is 0. */
static int
always_shown(int c)
{
	switch (c) {
	case GCDL_CTR_DROPS:
	case GCDL_CTR_UPLINK_ACCEPTED:
	case GCDL_CTR_STRAGGLERS:
	case GCDL_CTR_LATE:
	case GCDL_CTR_DUPLICATES:
		return 1;
	default:
		return 0;
	}
}

static void
print_rates(const struct gcdl_counters *t, uint32_t rounds, FILE *out)
{
	const uint64_t *v = t->v;
	double s = t->fig[GCDL_FIG_WALL_S];

	fprintf(out, "rounds/s: %.1f\n", ratio(rounds, s));
	fprintf(out, "frames/s: %.0f received, %.0f sent\n", ratio((double)v[GCDL_CTR_RX_FRAMES], s),
		ratio((double)v[GCDL_CTR_TX_FRAMES], s));
	fprintf(out, "uplink payload Gbit/s: %.6f\n",
		ratio((double)v[GCDL_CTR_UPLINK_PAYLOAD_BYTES] * 8, s) / 1e9);
	if (v[GCDL_CTR_CPU_ENCODE_NS] > 0) {
		double enc = v[GCDL_CTR_CPU_ENCODE_NS] / 1e9, tx = v[GCDL_CTR_CPU_TX_NS] / 1e9;

		fprintf(out, "cpu encode: %.3f ms for %" PRIu64 " coords (%.4g coords/s), tx %.3f ms; "
			"quantize+send %.4g coords/s\n", enc * 1e3, v[GCDL_CTR_ENCODE_COORDS],
			ratio((double)v[GCDL_CTR_ENCODE_COORDS], enc), tx * 1e3,
			ratio((double)v[GCDL_CTR_ENCODE_COORDS], enc + tx));
	}
	if (v[GCDL_CTR_CPU_INGEST_NS] > 0) {
		double ing = v[GCDL_CTR_CPU_INGEST_NS] / 1e9;

		fprintf(out, "cpu ingest: %.3f ms for %" PRIu64 " frames (%.4g frames/s, %.4g Gbit/s "
			"payload, %.4g coords/s)\n", ing * 1e3, v[GCDL_CTR_UPLINK_ACCEPTED],
			ratio((double)v[GCDL_CTR_UPLINK_ACCEPTED], ing),
			ratio((double)v[GCDL_CTR_UPLINK_PAYLOAD_BYTES] * 8, ing) / 1e9,
			ratio((double)v[GCDL_CTR_INGEST_COORDS], ing));
	}
	if (v[GCDL_CTR_CPU_DECODE_NS] > 0) {
		double dec = v[GCDL_CTR_CPU_DECODE_NS] / 1e9;

		fprintf(out, "cpu decode: %.3f ms for %" PRIu64 " coords accumulated (%.4g coords/s)\n",
			dec * 1e3, v[GCDL_CTR_DECODE_COORDS],
			ratio((double)v[GCDL_CTR_DECODE_COORDS], dec));
	}
}

void
gcdl_summary_print(const struct gcdl_summary *s, FILE *out)
{
	const struct gcdl_counters *t;

	if (s == NULL || out == NULL)
		return;
	t = &s->total;
	fprintf(out, "== %s summary ==\n", s->program ? s->program : "gcdl");
	if (strcmp(s->role, "local") == 0 || strcmp(s->role, "sim") == 0)
		fprintf(out, "role: %s (%u nodes)\n", s->role, s->nnodes);
	else
		fprintf(out, "role: %s %u\n", s->role, s->id);
	fprintf(out, "topology: %s, method %s, %u workers, %u aggregators\n",
		s->topology ? s->topology : "", s->method ? s->method : "", s->workers,
		s->aggregators);
	fprintf(out, "rounds: %u of %u%s\n", s->rounds, s->rounds_planned,
		s->stopped ? " (stopped by signal)" : "");
	if (s->first_round > 0)
		fprintf(out, "resumed at round: %u\n", s->first_round);
	if (s->evaluated) {
		fprintf(out, "train_loss: %.6f\n", s->train_loss);
		fprintf(out, "test_accuracy: %.4f\n", s->test_accuracy);
	} else {
		fprintf(out, "train_loss: n/a (not evaluated by this process)\n");
		fprintf(out, "test_accuracy: n/a (not evaluated by this process)\n");
	}
	if (s->have_crc)
		fprintf(out, "model_crc: %08" PRIx32 "\n", s->model_crc);
	if (s->replicas_checked > 0)
		fprintf(out, "replicas: %u of %u bit-identical\n", s->replicas_identical,
			s->replicas_checked);
	if (s->warning[0] != '\0')
		fprintf(out, "WARNING: %s\n", s->warning);
	for (int f = 0; f < GCDL_FIG__COUNT; f++) {
		const char *unit;
		const char *desc = gcdl_figure_desc(f, &unit);

		if (t->fig[f] != 0 || f == GCDL_FIG_WALL_S)
			fprintf(out, "%s: %.3f %s (%s)\n", gcdl_figure_name(f), t->fig[f], unit, desc);
	}
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		if (t->v[c] != 0 || always_shown(c))
			fprintf(out, "%s: %" PRIu64 " (%s)\n", gcdl_counter_name(c), t->v[c],
				gcdl_counter_desc(c));
	print_rates(t, s->rounds - s->first_round, out);
	for (uint32_t i = 0; i < s->nnodes; i++) {
		const struct gcdl_node_summary *n = &s->nodes[i];

		for (uint32_t k = 0; k < n->nworkers; k++) {
			const struct gcdl_worker_row *w = &n->workers[k];

			fprintf(out, "%s %u: worker %u: joins %u resyncs %u refused %u accepted %" PRIu64
				" accepted_since_join %" PRIu64 " late %" PRIu64 " duplicates %" PRIu64
				" rejected %" PRIu64 " joined_round %u last_round %u\n", n->role, n->id,
				k, w->joins, w->resyncs, w->refused, w->accepted,
				w->accepted_since_join, w->late, w->duplicates, w->rejected,
				w->joined_round, w->last_round);
		}
		for (uint32_t j = 0; j < n->nquant_lcores; j++) {
			const struct gcdl_quant_lcore_summary *l = &n->quant_lcores[j];

			fprintf(out, "%s %u: quantizing lcore %d (chunks [%u, %u)): %" PRIu64 " coords "
				"framed in %" PRIu64 " rounds, cpu %.3f ms\n", n->role, n->id, l->lcore,
				l->chunk_first, l->chunk_first + l->chunk_count, l->coords, l->rounds,
				l->cpu_ns / 1e6);
		}
		for (uint32_t j = 0; j < n->nagg_lcores; j++) {
			const struct gcdl_agg_lcore_summary *l = &n->agg_lcores[j];

			if (l->lcore < 0) {
				fprintf(out, "%s %u: aggregation on its lcore: %" PRIu64 " coords "
					"accumulated, %" PRIu64 " of them when a round closed; %" PRIu64
					" chunks closed as they completed\n", n->role, n->id, l->coords,
					l->coords_at_close, l->chunks_closed_early);
				continue;
			}
			fprintf(out, "%s %u: aggregation lcore %d (part %u, chunks [%u, %u)): %"
				PRIu64 " coords accumulated, %" PRIu64 " when a round closed; cpu "
				"accumulate %.3f ms, close %.3f ms for %" PRIu64 " rounds\n", n->role,
				n->id, l->lcore, l->part, l->chunk_first,
				l->chunk_first + l->chunk_count, l->coords,
				l->coords_at_close, l->cpu_accumulate_ns / 1e6, l->cpu_close_ns / 1e6,
				l->closes);
		}
	}
	if (s->cpu_s > 0)
		fprintf(out, "cpu_s: %.3f (CPU seconds of the whole process, every thread)\n", s->cpu_s);
	for (uint32_t i = 0; i < s->nthreads; i++)
		fprintf(out, "thread %s (%d): %.3f s CPU\n", s->threads[i].name, s->threads[i].tid,
			s->threads[i].cpu_s);
	if (s->error != NULL && s->error[0] != '\0')
		fprintf(out, "error: %s\n", s->error);
}

/* JSON text: quotes, backslashes and control bytes escaped. */
static void
json_str(FILE *out, const char *v)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* A double, or null when it is not finite (JSON has no NaN). */
static void
json_num(FILE *out, double v)
{
	if (isfinite(v))
		fprintf(out, "%.17g", v);
	else
		fputs("null", out);
}

/* 1, 0, else unknown: true, false, null */
static const char *
json_tri(int v)
{
	return v == 1 ? "true" : v == 0 ? "false" : "null";
}

static void
json_counters(FILE *out, const struct gcdl_counters *c)
{
	fputs("\"counters\":{", out);
	for (int i = 0; i < GCDL_CTR__COUNT; i++)
		fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", gcdl_counter_name(i), c->v[i]);
	fputs("},\"figures\":{", out);
	for (int f = 0; f < GCDL_FIG__COUNT; f++) {
		fprintf(out, "%s\"%s\":", f ? "," : "", gcdl_figure_name(f));
		json_num(out, c->fig[f]);
	}
	fputc('}', out);
}

static void
json_eval(FILE *out, int evaluated, double loss, double acc)
{
	fprintf(out, "\"evaluated\":%s,\"train_loss\":", evaluated ? "true" : "false");
	json_num(out, evaluated ? loss : NAN);
	fputs(",\"test_accuracy\":", out);
	json_num(out, evaluated ? acc : NAN);
}

static void
json_node(FILE *out, const struct gcdl_node_summary *n)
{
	fputs("{\"role\":", out);
	json_str(out, n->role);
	fprintf(out, ",\"id\":%u,\"rounds\":%u,", n->id, n->rounds);
	json_eval(out, n->evaluated, n->train_loss, n->test_accuracy);
	fprintf(out, ",\"model_crc\":\"%08" PRIx32 "\",\"crc_first\":%u,\"crc_count\":%u,"
		"\"in_sync\":%s,", n->model_crc, n->crc_first, n->crc_count,
		n->in_sync ? "true" : "false");
	json_counters(out, &n->c);
	fputs(",\"ports\":[", out);
	for (uint16_t i = 0; i < n->nports && i < GCDL_SUMMARY_MAX_PORTS; i++) {
		fprintf(out, "%s{\"id\":%u,\"name\":", i ? "," : "", n->ports[i].id);
		json_str(out, n->ports[i].name);
		fputs(",\"mac\":", out);
		json_str(out, n->ports[i].mac);
		fprintf(out, ",\"mtu\":%d,\"promiscuous\":%s,\"allmulticast\":%s}",
			(int)n->ports[i].mtu, json_tri(n->ports[i].promiscuous),
			json_tri(n->ports[i].allmulticast));
	}
	fputs("],\"agg_lcores\":[", out);
	for (uint32_t j = 0; j < n->nagg_lcores; j++) {
		const struct gcdl_agg_lcore_summary *l = &n->agg_lcores[j];

		fprintf(out, "%s{\"part\":%u,\"lcore\":%d,\"chunk_first\":%u,\"chunk_count\":%u,"
			"\"coords\":%" PRIu64 ",\"coords_at_close\":%" PRIu64 ",\"chunks_closed_early\":%"
			PRIu64 ",\"cpu_accumulate_ns\":%" PRIu64 ",\"cpu_close_ns\":%" PRIu64
			",\"closes\":%" PRIu64 "}", j ? "," : "", l->part, l->lcore, l->chunk_first,
			l->chunk_count, l->coords, l->coords_at_close, l->chunks_closed_early,
			l->cpu_accumulate_ns, l->cpu_close_ns, l->closes);
	}
	fputs("],\"quant_lcores\":[", out);
	for (uint32_t j = 0; j < n->nquant_lcores; j++) {
		const struct gcdl_quant_lcore_summary *l = &n->quant_lcores[j];

		fprintf(out, "%s{\"lcore\":%d,\"chunk_first\":%u,\"chunk_count\":%u,\"coords\":%"
			PRIu64 ",\"cpu_ns\":%" PRIu64 ",\"rounds\":%" PRIu64 "}", j ? "," : "",
			l->lcore, l->chunk_first, l->chunk_count, l->coords, l->cpu_ns, l->rounds);
	}
	fputs("],\"workers\":[", out);
	for (uint32_t k = 0; k < n->nworkers; k++) {
		const struct gcdl_worker_row *w = &n->workers[k];

		fprintf(out, "%s{\"worker\":%u,\"joins\":%u,\"resyncs\":%u,\"refused\":%u,"
			"\"accepted\":%" PRIu64 ",\"accepted_since_join\":%" PRIu64 ",\"late\":%"
			PRIu64 ",\"duplicates\":%" PRIu64 ",\"rejected\":%" PRIu64
			",\"joined_round\":%u,\"last_round\":%u}", k ? "," : "", k, w->joins,
			w->resyncs, w->refused, w->accepted, w->accepted_since_join, w->late,
			w->duplicates, w->rejected, w->joined_round, w->last_round);
	}
	fputs("]}", out);
}

int
gcdl_summary_write_json(const struct gcdl_summary *s, FILE *out)
{
	if (s == NULL || out == NULL)
		return -EINVAL;
	fprintf(out, "{\"version\":%d,\"program\":", GCDL_SUMMARY_VERSION);
	json_str(out, s->program ? s->program : "gcdl");
	fputs(",\"role\":", out);
	json_str(out, s->role);
	fprintf(out, ",\"id\":%u,\"topology\":", s->id);
	json_str(out, s->topology);
	fputs(",\"method\":", out);
	json_str(out, s->method);
	fputs(",\"profile\":", out);
	json_str(out, s->profile);
	fprintf(out, ",\"workers\":%u,\"aggregators\":%u,\"rounds\":%u,\"rounds_planned\":%u,"
		"\"first_round\":%u,\"stopped\":%s,", s->workers, s->aggregators, s->rounds,
		s->rounds_planned, s->first_round, s->stopped ? "true" : "false");
	json_eval(out, s->evaluated, s->train_loss, s->test_accuracy);
	fputs(",\"model_crc\":", out);
	if (s->have_crc)
		fprintf(out, "\"%08" PRIx32 "\"", s->model_crc);
	else
		fputs("null", out);
	fprintf(out, ",\"replicas_checked\":%u,\"replicas_identical\":%u,\"status\":%d,"
		"\"error\":", s->replicas_checked, s->replicas_identical, s->status);
	json_str(out, s->error);
	fputs(",\"warning\":", out);
	json_str(out, s->warning);
	fputc(',', out);
	json_counters(out, &s->total);
	fputs(",\"nodes\":[", out);
	for (uint32_t i = 0; i < s->nnodes; i++) {
		if (i > 0)
			fputc(',', out);
		json_node(out, &s->nodes[i]);
	}
	fprintf(out, "],\"cpu_s\":");
	json_num(out, s->cpu_s);
	fputs(",\"threads\":[", out);
	for (uint32_t i = 0; i < s->nthreads; i++) {
		fprintf(out, "%s{\"tid\":%d,\"name\":", i ? "," : "", s->threads[i].tid);
		json_str(out, s->threads[i].name);
		fputs(",\"cpu_s\":", out);
		json_num(out, s->threads[i].cpu_s);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return ferror(out) ? -EIO : 0;
}

int
gcdl_summary_save_json(const struct gcdl_summary *s, const char *path, char *err, size_t errlen)
{
	struct gcdl_outfile o;
	FILE *f;
	int rc;

	if (s == NULL || path == NULL) {
		gcdl_seterr(err, errlen, "summary: no file given");
		return -EINVAL;
	}
	rc = gcdl_outfile_begin(&o, path);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	f = fopen(o.tmp, "w");
	if (f == NULL) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s", o.tmp, strerror(-rc));
		return rc;
	}
	rc = gcdl_summary_write_json(s, f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -EIO;
	if (fclose(f) != 0)
		rc = -EIO;
	if (rc == 0)
		rc = gcdl_outfile_commit(&o);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s: write failed: %s", path, strerror(-rc));
		gcdl_outfile_abort(&o);
	}
	return rc;
}
