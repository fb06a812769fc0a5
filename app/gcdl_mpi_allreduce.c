/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The peer a user would otherwise pick: an MPI allreduce (sum) of a float32
 * vector of D coordinates among the processes of the MPI job, timed round by
 * round. It is the baseline of a gcdl round (scripts/bench_allreduce.sh): the
 * same vector, summed and given to every process, with no compression, no
 * stragglers and no deadline. Open MPI picks its algorithm; the script asks
 * for the ring (coll_tuned_allreduce_algorithm 4), the bandwidth-optimal one
 * for large vectors: each process sends and receives 2 (N - 1) / N x 4 D
 * bytes per round.
 *
 *   mpirun -np 4 gcdl-mpi-allreduce [--dim D] [--rounds R] [--warmup W]
 *
 * Prints, from rank 0, one line "mpi_allreduce: ..." with the median and the
 * quartiles over the R timed rounds of the round's wall time (barrier, then
 * the allreduce; the slowest rank's time), the CPU time per round of each
 * process (getrusage, user + system, over the timed rounds, mean over the
 * ranks), and the bytes each rank sends per round. Exit status 0, 1 when MPI
 * fails or the sum is wrong, 2 for a bad command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <mpi.h>

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* A positive integer argument (1e7 allowed), or 0. */
static unsigned long
count_arg(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= 1 && v <= 1e9) || v != (double)(unsigned long)v)
		return 0;
	return (unsigned long)v;
}

int
main(int argc, char **argv)
{
	unsigned long dim = 10000000, rounds = 30, warmup = 5;
	int rank, size, bad = 0;
	double *wall, c0 = 0, cpu, cpu_sum = 0;
	float *v;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	for (int i = 1; i < argc; i++) {
		unsigned long *dst = strcmp(argv[i], "--dim") == 0      ? &dim
				     : strcmp(argv[i], "--rounds") == 0 ? &rounds
				     : strcmp(argv[i], "--warmup") == 0 ? &warmup
									: NULL;

		if (dst == NULL || i + 1 >= argc || (*dst = count_arg(argv[++i])) == 0) {
			if (rank == 0)
				fprintf(stderr, "usage: mpirun -np N %s [--dim D] [--rounds R] "
					"[--warmup W] (positive integers; bad: '%s')\n", argv[0],
					argv[i]);
			MPI_Finalize();
			return 2;
		}
	}
	v = malloc(sizeof(float) * dim);
	wall = malloc(sizeof(double) * rounds);
	if (v == NULL || wall == NULL) {
		fprintf(stderr, "gcdl-mpi-allreduce: out of memory for %lu coordinates\n", dim);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (unsigned long r = 0; r < warmup + rounds; r++) {
		double t0, t;

		/* every rank's value of coordinate j: rank + 1, so the sum is known */
		for (unsigned long j = 0; j < dim; j++)
			v[j] = (float)(rank + 1);
		if (r == warmup)
			c0 = cpu_s();
		MPI_Barrier(MPI_COMM_WORLD);
		t0 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, v, (int)dim, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		t = MPI_Wtime() - t0;
		MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		if (r >= warmup)
			wall[r - warmup] = t;
		if (v[0] != (float)size * (size + 1) / 2 || v[dim - 1] != v[0])
			bad = 1;
	}
	/* the refill of v each round is not the allreduce's: it is in the CPU
	 * figure, a memset's worth (about 4D bytes written) */
	cpu = cpu_s() - c0;
	MPI_Reduce(&cpu, &cpu_sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (rank == 0) {
		qsort(wall, rounds, sizeof(double), cmp_double);
		printf("mpi_allreduce: dim %lu ranks %d rounds %lu wall_ms median %.3f q1 %.3f q3 %.3f "
		       "cpu_ms_per_rank %.3f bytes_sent_per_rank %.0f sum %s\n", dim, size, rounds,
		       1e3 * wall[rounds / 2], 1e3 * wall[rounds / 4], 1e3 * wall[3 * rounds / 4],
		       1e3 * cpu_sum / size / rounds,
		       2.0 * (size - 1) / size * 4.0 * (double)dim, bad ? "WRONG" : "ok");
	}
	free(v);
	free(wall);
	MPI_Finalize();
	return bad ? 1 : 0;
}
