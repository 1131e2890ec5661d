/* demangle.c — C++ (Itanium ABI) and Rust (legacy and v0) names through
 * libiberty, the demangler binutils' c++filt uses. */
#include <stdlib.h>
#include <libiberty/demangle.h>
#include "remprof/symbols.h"

/* c++filt's own flags: DMGL_VERBOSE is what makes it print
 * "std::basic_string<char, std::char_traits<char>, std::allocator<char> >"
 * rather than "std::string", and keep the "::h<hash>" of legacy Rust names
 * and the "[crate-hash]" of v0 ones; names must match c++filt exactly. */
#define CXXFILT_FLAGS (DMGL_PARAMS | DMGL_ANSI | DMGL_VERBOSE)

char *demangle(const char *name)
{
	if (!name || name[0] != '_')
		return NULL; /* both schemes start with "_Z" or "_R"; spare libiberty the rest */
	/* Auto style, as c++filt runs it: Rust first (a legacy Rust name is also
	 * a valid Itanium name), then the Itanium C++ ABI. */
	return cplus_demangle(name, CXXFILT_FLAGS | DMGL_AUTO);
}
