/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --pcap: a classic libpcap capture file (magic 0xa1b2c3d4, version 2.4,
 * snaplen 65535, linktype 1 = Ethernet) of every frame a node receives and
 * sends. Only the lcore that polls that node writes records (one writer,
 * no lock); stdio buffers them and gcdl_pcap_close() flushes. Record times
 * are the TSC of the burst, converted to wall-clock time against one
 * clock_gettime(CLOCK_REALTIME) reading taken when the file was opened.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "node_internal.h"

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_SNAPLEN 65535u
#define PCAP_LINKTYPE_ETHERNET 1u
#define PCAP_BUFFER (1u << 20)

struct gcdl_pcap {
	FILE *f;
	uint64_t tsc0;     /* TSC when the file was opened */
	uint64_t ns0;      /* CLOCK_REALTIME then, in ns */
	double ns_per_tick;
};

/* pcap headers are in the writer's byte order; the magic tells readers which */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_usec;
	uint32_t incl_len;
	uint32_t orig_len;
};

struct gcdl_pcap *
gcdl_pcap_open(const char *path, char *err, size_t errlen)
{
	struct pcap_file_hdr h = {
		.magic = PCAP_MAGIC, .version_major = 2, .version_minor = 4,
		.thiszone = 0, .sigfigs = 0, .snaplen = PCAP_SNAPLEN,
		.linktype = PCAP_LINKTYPE_ETHERNET,
	};
	struct gcdl_pcap *pc;
	struct timespec ts;
	uint64_t hz = rte_get_tsc_hz();

	if (path == NULL || err == NULL) {
		errno = EINVAL;
		return NULL;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	pc->f = fopen(path, "wb");
	if (pc->f == NULL) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot create the capture file: %s", path, strerror(e));
		free(pc);
		errno = e;
		return NULL;
	}
	setvbuf(pc->f, NULL, _IOFBF, PCAP_BUFFER);
	clock_gettime(CLOCK_REALTIME, &ts);
	pc->tsc0 = rte_rdtsc();
	pc->ns0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	pc->ns_per_tick = hz > 0 ? 1e9 / (double)hz : 0.0;
	if (fwrite(&h, sizeof(h), 1, pc->f) != 1 || fflush(pc->f) != 0) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot write the capture file: %s", path, strerror(e));
		fclose(pc->f);
		free(pc);
		errno = e;
		return NULL;
	}
	return pc;
}

void
gcdl_pcap_write(struct gcdl_pcap *pc, uint64_t tsc, const uint8_t *frame, uint32_t len)
{
	struct pcap_rec_hdr r;
	uint32_t incl = len < PCAP_SNAPLEN ? len : PCAP_SNAPLEN;
	uint64_t ns = pc->ns0;

	if (tsc > pc->tsc0)
		ns += (uint64_t)((double)(tsc - pc->tsc0) * pc->ns_per_tick);
	r.ts_sec = (uint32_t)(ns / 1000000000u);
	r.ts_usec = (uint32_t)(ns % 1000000000u / 1000u);
	r.incl_len = incl;
	r.orig_len = len;
	/* errors stick in the stream; gcdl_pcap_close() reports them */
	fwrite(&r, sizeof(r), 1, pc->f);
	fwrite(frame, 1, incl, pc->f);
}

int
gcdl_pcap_close(struct gcdl_pcap *pc)
{
	int rc = 0;

	if (pc == NULL)
		return 0;
	if (fflush(pc->f) != 0 || ferror(pc->f))
		rc = -EIO;
	if (fclose(pc->f) != 0)
		rc = -EIO;
	free(pc);
	return rc;
}
