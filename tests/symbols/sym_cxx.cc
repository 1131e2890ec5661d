// sym_cxx — C++ names the symbolizer must print exactly as c++filt does:
// namespaces, class and function templates, a lambda, operator overloads,
// std::string parameters, and an inlined template helper.
//
// Prints "bias=0x..", then waits until EOF on stdin. All functions under
// namespace remsym are out of line (noipa: no clones whose names would carry
// "[clone ...]"), so the test finds each one through nm.
#include <link.h>
#include <cstdio>
#include <string>
#include <unistd.h>

#define KEEP(x) __asm__ volatile("" : "+r"(x))

namespace remsym {
namespace geo {

struct Vec {
	long x, y;
	__attribute__((noipa)) Vec operator+(const Vec &o) const { return Vec{x + o.x, y + o.y}; }
	__attribute__((noipa)) bool operator==(const Vec &o) const { return x == o.x && y == o.y; }
	__attribute__((noipa)) long &operator[](int i) { return i ? y : x; }
};

template <typename T, int N>
class Ring {
public:
	__attribute__((noipa)) void push(T v) { buf_[pos_++ % N] = v; }
	template <typename F>
	__attribute__((noipa)) T fold(F f) const
	{
		T acc{};
		for (int i = 0; i < N; i++)
			acc = f(acc, buf_[i]);
		return acc;
	}

private:
	T buf_[N]{};
	int pos_ = 0;
};

} // namespace geo

template <typename T>
static inline __attribute__((always_inline)) T twice_inl(T v)
{
	T r = v + v;
	KEEP(r);
	return r;
}

template <typename T>
__attribute__((noipa)) T sum_twice(const T *v, int n)
{
	T s{};
	for (int i = 0; i < n; i++)
		s += twice_inl(v[i]);
	return s;
}

__attribute__((noipa)) size_t greet(const std::string &who, int times)
{
	std::string s;
	for (int i = 0; i < times; i++)
		s += who;
	return s.size();
}

__attribute__((noipa)) long use_lambda(long k)
{
	geo::Ring<long, 8> r;
	for (long i = 0; i < 16; i++)
		r.push(i * k);
	return r.fold([k](long a, long b) __attribute__((noipa)) { return a + b * k; });
}

} // namespace remsym

static int main_bias(struct dl_phdr_info *info, size_t, void *data)
{
	*static_cast<ElfW(Addr) *>(data) = info->dlpi_addr;
	return 1;
}

int main()
{
	using namespace remsym;
	geo::Vec a{1, 2}, b{3, 4};
	geo::Vec c = a + b;
	long arr[4] = {1, 2, 3, 4};
	double darr[2] = {0.5, 1.5};
	volatile long sink = c[1] + (a == b) + sum_twice(arr, 4) + (long)sum_twice(darr, 2) +
			     (long)greet("x", 3) + use_lambda(3);
	(void)sink;
	ElfW(Addr) bias = 0;
	dl_iterate_phdr(main_bias, &bias);
	std::printf("bias=%#lx\n", (unsigned long)bias);
	std::fflush(stdout);
	char ch;
	while (read(0, &ch, 1) == 1)
		;
	return 0;
}
