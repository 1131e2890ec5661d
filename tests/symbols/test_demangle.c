/* test_demangle — demangle() against c++filt (binutils, run as a
 * subprocess) for C++ and Rust names, legacy and v0; plain names stay NULL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "remprof/symbols.h"

/* Real symbols: C++ from g++ 12, Rust from rustc 1.95 (v0, the default) and
 * nightly with -C symbol-mangling-version=legacy. */
static const char *const mangled[] = {
	"_ZN6remsym3geo3VecplERKS1_",
	"_ZNK6remsym3geo4RingIlLi8EE4foldIZNS_10use_lambdaElEUlllE_EElT_",
	"_ZZN6remsym10use_lambdaElENKUlllE_clEll",
	"_ZN6remsym5greetERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEi",
	"_ZNSsC1Ev",
	"_ZN3foo3barIiEEvT_.constprop.0",
	"_ZN1a12closure_user17h8ecf65edc9f80a04E",
	"_ZN1a3geo11Pt$LT$T$GT$3sum17hfd3016463b581c28E",
	"_ZN1a6gen_fn17h309ae16a56f8ef05E",
	"_RINvCs4Q2Qx8jI5j6_1a6gen_fnhEB2_",
	"_RNvMNtCs4Q2Qx8jI5j6_1a3geoINtB2_2PtyE3sumB4_",
	"_RNvXsU_NtNtCsgEmfK2I1SDS_4core3fmt3numhNtB7_5Debug3fmt",
	"_RNvCs4Q2Qx8jI5j6_1a12closure_user",
};

int main(void)
{
	const char *cxxfilt = getenv("CXXFILT") ? getenv("CXXFILT") : "c++filt";
	size_t n = sizeof(mangled) / sizeof(mangled[0]);
	for (size_t i = 0; i < n; i++) {
		char cmd[1024], want[1024];
		snprintf(cmd, sizeof(cmd), "%s '%s'", cxxfilt, mangled[i]);
		FILE *p = popen(cmd, "r");
		CHECK(p && fgets(want, sizeof(want), p));
		CHECK(pclose(p) == 0);
		want[strcspn(want, "\n")] = 0;
		CHECK(strcmp(want, mangled[i]) != 0); /* c++filt did demangle it */
		char *got = demangle(mangled[i]);
		printf("%s\n  -> %s\n", mangled[i], got ? got : "(null)");
		CHECK_EQ_STR(got, want);
		free(got);
	}
	CHECK(demangle("main") == NULL);
	CHECK(demangle("leaf_sum") == NULL);
	CHECK(demangle("_Zgarbage") == NULL);
	CHECK(demangle("") == NULL);
	CHECK(demangle(NULL) == NULL);
	return 0;
}
