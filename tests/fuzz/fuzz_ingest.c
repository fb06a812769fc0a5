/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the aggregator's per-frame path in the pure core:
 * gcdl_frame_decode() against the engine's limits, gcdl_engine_ingest(),
 * then gcdl_engine_close_round() (decode and optimizer step), as the data
 * plane's aggregator lcore and control thread drive them.
 *
 * Input: byte 0 picks the method (onebit_gc, sgc, signsgd_mv); then frames,
 * each as a 2-byte little-endian length followed by that many bytes; a length
 * with bit 15 set means "seal it" (rewrite the CRC) so that the fuzzer gets
 * past the CRC. Every input starts from the same engine state (round 0, the
 * initial model), so a crash replays from its file alone.
 *
 * Oracles: decode and ingest return only their documented values; a frame
 * ingested once is a duplicate the second time; every accepted frame's
 * scales and floats are finite (scales >= 0); the round's frame count is the
 * number accepted; the update and the model stay finite.
 *
 * Built by scripts/test.sh with clang -fsanitize=fuzzer,address,undefined;
 * tests/fuzz/replay.c runs the committed corpus and regressions without
 * libFuzzer (meson test, suite unit).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/engine.h"
#include "gcdl/frame.h"
#include "gcdl/job.h"
#include "gcdl/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_METHODS 3
#define FUZZ_JOB_ID 7

struct fuzz_engine {
	struct gcdl_job job;
	float *w0, *m0, *u;
	uint32_t dim;
	struct gcdl_frame_limits lim;
};

static struct fuzz_engine fe[FUZZ_METHODS];

/* A small job: 4 workers, d = 2, Gaussian mixture, 16 features x 3 classes
 * (51 coordinates); mtu 128 and scale_block 8 give several chunks. */
void gcdl_fuzz_ingest_profile(struct gcdl_profile *p, int method);

void
gcdl_fuzz_ingest_profile(struct gcdl_profile *p, int method)
{
	static const enum gcdl_method m[FUZZ_METHODS] = { GCDL_METHOD_ONEBIT_GC, GCDL_METHOD_SGC,
							  GCDL_METHOD_SIGNSGD_MV };

	gcdl_profile_defaults(p);
	p->method = m[method];
	p->job_id = FUZZ_JOB_ID;
	p->workers = 4;
	p->partitions = 4;
	p->redundancy = 2;
	p->dataset = GCDL_DATA_SYNTH_GMM;
	p->train_rows = 64;
	p->test_rows = 16;
	p->synth_features = 16;
	p->synth_classes = 3;
	p->scale_block = 8;
	p->mtu = 128;
	p->momentum = 0.5;
	p->seed = 3;
}

static void
setup(void)
{
	static int done;
	char err[256];

	if (done)
		return;
	done = 1;
	for (int i = 0; i < FUZZ_METHODS; i++) {
		struct gcdl_profile p;

		gcdl_fuzz_ingest_profile(&p, i);
		if (gcdl_job_open(&fe[i].job, &p, 1, err, sizeof(err)) != 0) {
			fprintf(stderr, "fuzz_ingest: %s\n", err);
			abort();
		}
		fe[i].dim = gcdl_engine_dim(fe[i].job.engine);
		fe[i].w0 = malloc(sizeof(float) * fe[i].dim);
		fe[i].m0 = malloc(sizeof(float) * fe[i].dim);
		fe[i].u = malloc(sizeof(float) * fe[i].dim);
		if (fe[i].w0 == NULL || fe[i].m0 == NULL || fe[i].u == NULL)
			abort();
		memcpy(fe[i].w0, gcdl_engine_model(fe[i].job.engine), sizeof(float) * fe[i].dim);
		memcpy(fe[i].m0, gcdl_engine_momentum(fe[i].job.engine), sizeof(float) * fe[i].dim);
		gcdl_engine_frame_limits(fe[i].job.engine, 0, 0, &fe[i].lim);
	}
}

/* The values an accepted frame carries are finite, its scales >= 0. */
static void
check_values(const struct gcdl_frame_hdr *h, const uint8_t *pl)
{
	float v[GCDL_MTU_MAX / 4];
	uint32_t n;

	if (h->type == GCDL_MSG_SIGN)
		return;
	n = h->type == GCDL_MSG_ONEBIT ? gcdl_quant_blocks(h->coord_count, h->scale_block)
				       : h->coord_count;
	if (n > GCDL_MTU_MAX / 4)
		abort();
	gcdl_frame_get_floats(v, pl, n);
	for (uint32_t i = 0; i < n; i++)
		if (!isfinite(v[i]) || (h->type == GCDL_MSG_ONEBIT && v[i] < 0))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gcdl_round_info info;
	struct fuzz_engine *f;
	struct gcdl_engine *e;
	uint64_t accepted = 0;
	size_t off = 1;

	setup();
	if (size < 1)
		return 0;
	f = &fe[data[0] % FUZZ_METHODS];
	e = f->job.engine;
	memcpy(gcdl_engine_model(e), f->w0, sizeof(float) * f->dim);
	memcpy(gcdl_engine_momentum(e), f->m0, sizeof(float) * f->dim);
	if (gcdl_engine_begin_round(e, 0) != 0)
		abort();
	while (off + 2 <= size) {
		uint16_t raw = (uint16_t)(data[off] | data[off + 1] << 8);
		size_t len = raw & 0x7fff;
		struct gcdl_frame_hdr h;
		const uint8_t *pl;
		uint8_t *buf;
		int rc;

		off += 2;
		if (len > size - off)
			len = size - off;
		/* exactly len bytes, so reads past the frame are caught */
		buf = malloc(len ? len : 1);
		if (buf == NULL)
			return 0;
		memcpy(buf, data + off, len);
		off += len;
		if (raw & 0x8000)
			gcdl_frame_seal(buf, len);
		rc = gcdl_frame_decode(buf, len, &f->lim, &h, &pl);
		if (rc < 0 || rc >= GCDL_DROP__COUNT)
			abort();
		if (rc == 0) {
			rc = gcdl_engine_ingest(e, &h, pl);
			if (rc != 0 && rc != -EALREADY && rc != -ESTALE && rc != -EPROTO &&
			    rc != -EINVAL && rc != -EDOM && rc != -ERANGE)
				abort();
			if (rc == 0) {
				accepted++;
				check_values(&h, pl);
				if (gcdl_engine_ingest(e, &h, pl) != -EALREADY)
					abort();
			}
		}
		free(buf);
	}
	if (gcdl_engine_close_round(e, f->u, &info) != 0)
		abort();
	if (info.frames != accepted)
		abort();
	for (uint32_t j = 0; j < f->dim; j++)
		if (!isfinite(f->u[j]) || !isfinite(gcdl_engine_model(e)[j]))
			abort();
	return 0;
}

#ifdef GCDL_FUZZ_MAKE_SEEDS
/*
 * The committed seed corpus (tests/fuzz/corpus-ingest): per method, one
 * complete round (every worker's every chunk, as the engine encodes them)
 * and one single frame. Rebuild with
 *   cc -DGCDL_FUZZ_MAKE_SEEDS -Iinclude tests/fuzz/fuzz_ingest.c \
 *      build/lib/core/libgcdl_core.a -lopenblas -lz -lm -lpthread -o /tmp/mk &&
 *   /tmp/mk tests/fuzz/corpus-ingest
 */
static size_t
put_frame(uint8_t *out, struct gcdl_engine *e, uint32_t k, uint32_t c, const float *v)
{
	uint8_t payload[GCDL_MTU_MAX], frame[GCDL_MTU_MAX + 64];
	struct gcdl_frame_hdr h = { 0 };
	uint32_t count;
	int len = gcdl_engine_encode_chunk(e, k, 0, c, v, payload, sizeof(payload), &count);
	ssize_t flen;

	if (len < 0)
		abort();
	h.type = (uint8_t)gcdl_engine_msg_type(e);
	h.job_id = FUZZ_JOB_ID;
	h.sender = (uint16_t)k;
	h.chunk = c;
	h.first_coord = c * gcdl_engine_chunk_coords(e);
	h.coord_count = count;
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? 8 : 0;
	h.payload_len = (uint16_t)len;
	flen = gcdl_frame_encode(&h, payload, frame, sizeof(frame));
	if (flen < 0)
		abort();
	out[0] = (uint8_t)flen;
	out[1] = (uint8_t)(flen >> 8);
	memcpy(out + 2, frame, (size_t)flen);
	return 2 + (size_t)flen;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];

	if (argc != 2)
		return 2;
	setup();
	for (int m = 0; m < FUZZ_METHODS; m++) {
		struct gcdl_engine *e = fe[m].job.engine;
		uint32_t n = gcdl_engine_layout(e) != NULL ? 4 : 0;
		float *v = malloc(sizeof(float) * fe[m].dim);
		size_t len = 1, one = 0;
		char path[512];
		FILE *f;

		buf[0] = (uint8_t)m;
		for (uint32_t k = 0; k < n; k++) {
			if (gcdl_engine_worker_gradient(e, 0, k, 0, fe[m].w0, v) != 0)
				abort();
			for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++) {
				len += put_frame(buf + len, e, k, c, v);
				if (k == 0 && c == 0)
					one = len;
			}
		}
		snprintf(path, sizeof(path), "%s/round-m%d", argv[1], m);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
			return 1;
		snprintf(path, sizeof(path), "%s/frame-m%d", argv[1], m);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, one, f) != one || fclose(f) != 0)
			return 1;
		if (LLVMFuzzerTestOneInput(buf, len) != 0)
			return 1;
		free(v);
	}
	return 0;
}
#endif
