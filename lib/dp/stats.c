/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-lcore counters summed into the run's result, and the summary. */
#include <inttypes.h>
#include <stdio.h>

#include "dp_internal.h"

void
gcdl_dp_stats_collect(struct gcdl_dp *dp, struct gcdl_dp_result *res)
{
	const struct dp_stats *a = &dp->agg->st, *c = &dp->ctl_st;

	res->up_tx_frames = 0;
	res->up_tx_bytes = 0;
	res->down_rx_frames = 0;
	res->down_rx_bytes = 0;
	res->down_duplicates = 0;
	res->skipped = 0;
	res->alloc_failures = 0;
	res->fault_dropped = 0;
	res->fault_duplicated = 0;
	res->fault_reordered = 0;
	res->fault_corrupted = 0;
	res->fault_delayed = 0;
	for (int r = 0; r < GCDL_DROP__COUNT; r++) {
		res->drops[r] = DP_STAT_GET(a, drops[r]);
		res->down_drops[r] = 0;
	}
	for (uint32_t i = 0; i < dp->nwl; i++) {
		const struct dp_stats *w = &dp->wl[i]->st;

		res->up_tx_frames += DP_STAT_GET(w, tx_frames);
		res->up_tx_bytes += DP_STAT_GET(w, tx_bytes);
		res->down_rx_frames += DP_STAT_GET(w, rx_frames);
		res->down_rx_bytes += DP_STAT_GET(w, rx_bytes);
		res->down_duplicates += DP_STAT_GET(w, duplicates);
		res->skipped += DP_STAT_GET(w, skipped);
		res->alloc_failures += DP_STAT_GET(w, alloc_fail);
		res->fault_dropped += DP_STAT_GET(w, fault_dropped);
		res->fault_duplicated += DP_STAT_GET(w, fault_duplicated);
		res->fault_reordered += DP_STAT_GET(w, fault_reordered);
		res->fault_corrupted += DP_STAT_GET(w, fault_corrupted);
		res->fault_delayed += DP_STAT_GET(w, fault_delayed);
		for (int r = 0; r < GCDL_DROP__COUNT; r++)
			res->down_drops[r] += DP_STAT_GET(w, drops[r]);
	}
	res->encode_ns = 0;
	res->encode_coords = 0;
	res->tx_ns = 0;
	for (uint32_t i = 0; i < dp->nwl; i++) {
		const struct dp_stats *w = &dp->wl[i]->st;

		res->encode_ns += DP_STAT_GET(w, encode_ns);
		res->encode_coords += DP_STAT_GET(w, encode_coords);
		res->tx_ns += DP_STAT_GET(w, tx_ns);
	}
	res->ingest_ns = DP_STAT_GET(a, ingest_ns);
	res->ingest_coords = DP_STAT_GET(a, ingest_coords);
	res->up_rx_frames = DP_STAT_GET(a, rx_frames);
	res->up_rx_bytes = DP_STAT_GET(a, rx_bytes);
	res->up_accepted = DP_STAT_GET(a, accepted);
	res->down_tx_frames = DP_STAT_GET(a, tx_frames);
	res->down_tx_bytes = DP_STAT_GET(a, tx_bytes);
	res->duplicates = DP_STAT_GET(a, duplicates);
	res->late = DP_STAT_GET(a, late);
	res->alloc_failures += DP_STAT_GET(a, alloc_fail) + DP_STAT_GET(c, alloc_fail);
	res->tx_full = DP_STAT_GET(a, tx_full);
	for (uint32_t i = 0; i < dp->nwl; i++)
		res->tx_full += DP_STAT_GET(&dp->wl[i]->st, tx_full);
	res->garbage_sent = DP_STAT_GET(c, tx_frames);
	res->hostile_sent = DP_STAT_GET(c, hostile_sent);
}

void
gcdl_dp_print_summary(const struct gcdl_dp_result *r, FILE *out)
{
	double s = r->wall_s > 0 ? r->wall_s : 0;
	uint64_t drops = 0, down_drops = 0;

	for (int i = 1; i < GCDL_DROP__COUNT; i++) {
		drops += r->drops[i];
		down_drops += r->down_drops[i];
	}
	fprintf(out, "== gcdl summary ==\n");
	fprintf(out, "rounds: %u of %u%s\n", r->rounds, r->rounds_planned,
		r->stopped ? " (stopped by signal)" : "");
	fprintf(out, "train_loss: %.6f\n", r->train_loss);
	fprintf(out, "test_accuracy: %.4f\n", r->test_accuracy);
	fprintf(out, "uplink sent: %" PRIu64 " frames, %" PRIu64 " bytes\n", r->up_tx_frames,
		r->up_tx_bytes);
	fprintf(out, "uplink received: %" PRIu64 " frames, %" PRIu64 " bytes (accepted %" PRIu64
		", payload %" PRIu64 " bytes, on the wire %" PRIu64 " bytes)\n",
		r->up_rx_frames, r->up_rx_bytes, r->up_accepted, r->up_payload_bytes,
		r->up_wire_bytes);
	fprintf(out, "downlink sent: %" PRIu64 " frames, %" PRIu64 " bytes\n", r->down_tx_frames,
		r->down_tx_bytes);
	fprintf(out, "downlink received: %" PRIu64 " frames, %" PRIu64 " bytes\n",
		r->down_rx_frames, r->down_rx_bytes);
	fprintf(out, "garbage injected: %" PRIu64 "\n", r->garbage_sent);
	fprintf(out, "hostile injected: %" PRIu64 "\n", r->hostile_sent);
	fprintf(out, "drops: %" PRIu64 "\n", drops);
	for (int i = 1; i < GCDL_DROP__COUNT; i++)
		if (r->drops[i] > 0)
			fprintf(out, "drop %s: %" PRIu64 "\n", gcdl_frame_drop_name(i), r->drops[i]);
	fprintf(out, "downlink drops: %" PRIu64 "\n", down_drops);
	for (int i = 1; i < GCDL_DROP__COUNT; i++)
		if (r->down_drops[i] > 0)
			fprintf(out, "downlink drop %s: %" PRIu64 "\n", gcdl_frame_drop_name(i),
				r->down_drops[i]);
	fprintf(out, "duplicates: %" PRIu64 " (downlink %" PRIu64 ")\n", r->duplicates,
		r->down_duplicates);
	fprintf(out, "stragglers: %" PRIu64 " worker-rounds (%" PRIu64
		" injected Bernoulli skips)\n", r->stragglers, r->skipped);
	fprintf(out, "late frames: %" PRIu64 "\n", r->late);
	fprintf(out, "faults injected: %" PRIu64 " dropped, %" PRIu64 " duplicated, %" PRIu64
		" reordered, %" PRIu64 " corrupted, %" PRIu64 " delayed\n", r->fault_dropped,
		r->fault_duplicated, r->fault_reordered, r->fault_corrupted, r->fault_delayed);
	fprintf(out, "rounds closed: %u complete, %u by deadline\n", r->closed_complete,
		r->closed_deadline);
	fprintf(out, "checkpoints: %u written, resumed at round %u\n", r->checkpoints,
		r->first_round);
	fprintf(out, "deadline: last %.0f us, longest round %.0f us, max overshoot %.1f us\n",
		r->last_deadline_us, r->max_round_us, r->max_overshoot_us);
	fprintf(out, "late closes: %u rounds closed more than %.0f us past their deadline, %u of "
		"them only because the lcore was not running; max overshoot while it ran "
		"%.1f us\n", r->closed_late, GCDL_DP_CLOSE_SLACK_US, r->closed_late_not_running,
		r->max_overshoot_running_us);
	fprintf(out, "resources: %" PRIu64 " mbuf allocation failures, %" PRIu64
		" TX ring full (all retried)\n", r->alloc_failures, r->tx_full);
	if (r->encode_ns > 0) {
		double enc = r->encode_ns / 1e9, tx = r->tx_ns / 1e9;

		fprintf(out, "worker lcores cpu: encode %.3f ms for %" PRIu64
			" coords (%.4g coords/s), tx %.3f ms; quantize+send %.4g coords/s\n",
			enc * 1e3, r->encode_coords, r->encode_coords / enc, tx * 1e3,
			r->encode_coords / (enc + tx));
	}
	if (r->ingest_ns > 0) {
		double ing = r->ingest_ns / 1e9;

		fprintf(out, "aggregator lcore cpu: ingest %.3f ms for %" PRIu64
			" frames (%.4g frames/s, %.4g Gbit/s payload, %.4g coords/s)\n",
			ing * 1e3, r->up_accepted, r->up_accepted / ing,
			r->up_payload_bytes * 8.0 / ing / 1e9, r->ingest_coords / ing);
	}
	if (r->decode_ns > 0) {
		double dec = r->decode_ns / 1e9;

		fprintf(out, "control thread cpu: decode %.3f ms for %" PRIu64
			" coords accumulated (%.4g coords/s)\n",
			dec * 1e3, r->decode_coords, r->decode_coords / dec);
	}
	if (r->alloc_failures > 0)
		fprintf(out, "mbuf allocation failures: %" PRIu64 "\n", r->alloc_failures);
	if (r->replicas_checked > 0)
		fprintf(out, "replicas: %u of %u bit-identical to the aggregator's model\n",
			r->replicas_identical, r->replicas_checked);
	else
		fprintf(out, "replicas: not compared (the run did not complete)\n");
	fprintf(out, "time: %.3f s\n", r->wall_s);
	fprintf(out, "rounds/s: %.1f\n", s > 0 ? r->rounds / s : 0.0);
	fprintf(out, "frames/s: %.0f uplink, %.0f downlink\n",
		s > 0 ? (double)r->up_rx_frames / s : 0.0,
		s > 0 ? (double)r->down_tx_frames / s : 0.0);
	fprintf(out, "uplink payload Gbit/s: %.6f\n",
		s > 0 ? (double)r->up_payload_bytes * 8 / s / 1e9 : 0.0);
}
