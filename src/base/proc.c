/* proc.c — reading /proc: thread lists, status fields, names, command lines. */
#include "remprof/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Whole small /proc file into buf (NUL-terminated); length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

int proc_read_status(pid_t pid, pid_t tid, struct proc_status *out)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	memset(out, 0, sizeof(*out));
	for (char *line = buf; line && *line; ) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "Name:\t", 6))
			snprintf(out->comm, sizeof(out->comm), "%s", line + 6);
		else if (!strncmp(line, "State:\t", 7))
			out->state = line[7];
		else if (!strncmp(line, "Tgid:\t", 6))
			out->tgid = atoi(line + 6);
		else if (!strncmp(line, "TracerPid:\t", 11))
			out->tracer_pid = atoi(line + 11);
		line = next;
	}
	/* Kernel threads have no address space: an empty /proc/PID/cmdline is
	 * not proof (a process may clear it), but Kthread: 1 or the PF_KTHREAD
	 * flag in stat is. Since 6.x status has "Kthread:"; fall back to flags. */
	char *k = strstr(buf, "Kthread:\t");
	if (k)
		out->is_kernel_thread = atoi(k + 9) == 1;
	else {
		char stat[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (read_small(path, stat, sizeof(stat)) > 0) {
			char *p = strrchr(stat, ')');
			unsigned long flags = 0;
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
				out->is_kernel_thread = (flags & 0x00200000) != 0; /* PF_KTHREAD */
		}
	}
	return 0;
}

static int compare_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int proc_list_threads(pid_t pid, pid_t **tids)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	size_t n = 0, cap = 16;
	pid_t *v = malloc(cap * sizeof(*v));
	struct dirent *e;
	while (v && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (n == cap) {
			pid_t *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[n++] = atoi(e->d_name);
	}
	closedir(d);
	if (!v)
		return -ENOMEM;
	qsort(v, n, sizeof(*v), compare_pid);
	*tids = v;
	return (int)n;
}

int proc_thread_name(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	ssize_t n = read_small(path, buf, len);
	if (n < 0)
		return (int)n;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

char *proc_cmdline(pid_t pid)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return NULL;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strdup(buf);
}

void proc_kernel_release(char *buf, size_t len)
{
	struct utsname u;
	snprintf(buf, len, "%s", uname(&u) == 0 ? u.release : "unknown");
}

long long proc_cpu_time_ns(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -EINVAL;
	long hz = sysconf(_SC_CLK_TCK);
	return (long long)((ut + st) * (1000000000ull / (unsigned long long)hz));
}
