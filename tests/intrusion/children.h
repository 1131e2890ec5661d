/* children.h — real child workloads for the intrusion tests. */
#ifndef REMPROF_TESTS_INTRUSION_CHILDREN_H
#define REMPROF_TESTS_INTRUSION_CHILDREN_H

#include <stdint.h>
#include <sys/types.h>

/* A child that touches a 16 KiB buffer on its stack, reports its address
 * through *addr, then sleeps until killed. */
pid_t child_sleeper(uint64_t *addr);
/* A child with two threads: one loops mprotect over `mb` MiB of populated
 * memory (write lock held for ms), one loops mmap/touch/munmap. They start
 * after this returns, so they are threads created after the caller's
 * lockwatch_open only if the caller opens before calling child_go(). */
pid_t child_contender(unsigned mb, int *go_fd);
void child_go(int go_fd);
void child_kill(pid_t pid);

#endif
