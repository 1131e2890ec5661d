/* write_fixture.c — save the profile of fixture.h to argv[1], for the
 * end-to-end test of `remprof report`. */
#include "fixture.h"

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct profile *p = make_known_profile();
	int rc = profile_save(p, argv[1]);
	profile_free(p);
	return rc == 0 ? 0 : 1;
}
