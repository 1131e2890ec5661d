/* symbols_pid.c — the test hook: modules as libdwfl reads /proc/PID/maps
 * itself, so that the symbolizer can be tested without the maps module. */
#include <errno.h>
#include "symbols_internal.h"

int symbolizer_open_pid(struct symbolizer **out, pid_t pid)
{
	struct symbolizer *s;
	int err = symbolizer_create(&s, dwfl_linux_proc_find_elf);
	if (err < 0)
		return err;
	dwfl_report_begin(s->dwfl);
	int r = dwfl_linux_proc_report(s->dwfl, pid);
	/* dwfl_linux_proc_report: 0, an errno value, or -1 (libdwfl error) */
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 && r == 0)
		r = -1;
	if (r != 0) {
		symbolizer_close(s);
		return r > 0 ? -r : -EIO;
	}
	*out = s;
	return 0;
}
