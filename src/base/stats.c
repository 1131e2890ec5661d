/* stats.c — names of the lost-sample reasons, shared by every report. */
#include "remprof/stats.h"

#include <string.h>

static const char *const lost_names[LOST_NREASONS] = {
	[LOST_THREAD_EXITED] = "thread exited",
	[LOST_READ_FAILED] = "read failed",
	[LOST_UNWIND_FAILED] = "unwind failed",
	[LOST_TRIGGER_OVERRUN] = "trigger overrun",
	[LOST_READ_BLOCKED] = "read blocked",
	[LOST_UNWIND_BACKLOG] = "unwind backlog",
};

const char *lost_reason_name(enum lost_reason r)
{
	return (unsigned)r < LOST_NREASONS ? lost_names[r] : "unknown";
}

void sample_stats_init(struct sample_stats *s)
{
	memset(s, 0, sizeof(*s));
	hist_init(&s->stop_ns);
	hist_init(&s->int_to_stop_ns);
	hist_init(&s->copy_ns);
}
