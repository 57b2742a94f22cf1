/*
 * A device model's CPU time, all its threads, counted so that a thread's exit does not take
 * its time away. xensim's dm_cpu_time sums /proc/PID/task/N/schedstat over the threads alive
 * at that moment: a worker thread that exits between two readings (qemu-xen's thread pool and
 * io_uring's io-wq workers leave after seconds idle) makes the second reading smaller than
 * the first. This tracker remembers each thread's latest reading and keeps it after the
 * thread is gone. A thread born and gone between two readings is missed, which the workers'
 * idle timeouts (seconds) rule out for readings taken every run.
 */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_cpu {
    pid_t pid;
    GHashTable *latest; /* tid -> nanoseconds run, as last read */
    uint64_t gone_ns;   /* threads whose tid went or was reused */
};

void bench_cpu_init(struct bench_cpu *c, pid_t pid);
void bench_cpu_free(struct bench_cpu *c);
/* Nanoseconds the process has run so far, all threads, ever (as far as seen); 0 if unknown. */
uint64_t bench_cpu_ns(struct bench_cpu *c);

#endif
