// cxx — hot code behind C++ names a profiler must demangle exactly as
// c++filt does: a member of a class template in a namespace, a lambda inside
// a namespaced function, and an overloaded operator. Each gets about a third
// of the CPU time.
//
// usage: cxx [SECONDS]    (0 or none: until killed)
#include <cstdio>
#include <cstdlib>
#include <ctime>

#define KEEP(x) __asm__ volatile("" : "+r"(x))

namespace ns {

// noipa (not just noinline): no .constprop/.isra clones, whose names c++filt
// prints with a "[clone ...]" suffix.

template <typename T>
class Matrix {
public:
	explicit Matrix(T seed)
	{
		for (int i = 0; i < N * N; i++)
			a_[i] = seed + i;
	}
	// ns::Matrix<double>::multiply(ns::Matrix<double> const&) const
	__attribute__((noipa)) T multiply(const Matrix &o) const
	{
		T sum = 0;
		for (int r = 0; r < 800; r++)
			for (int i = 0; i < N; i++)
				for (int j = 0; j < N; j++) {
					sum += a_[i * N + j] * o.a_[j * N + i];
					KEEP(sum);
				}
		return sum;
	}

private:
	static const int N = 8;
	T a_[N * N];
};

struct Vec3 {
	double x, y, z;
};

// ns::operator+(ns::Vec3 const&, ns::Vec3 const&)
__attribute__((noipa)) Vec3 operator+(const Vec3 &a, const Vec3 &b)
{
	Vec3 r = a;
	for (int i = 0; i < 12500; i++) {
		r.x += b.x;
		r.y += b.y;
		r.z += b.z;
		KEEP(r.x);
		KEEP(r.y);
		KEEP(r.z);
	}
	return r;
}

// ns::run_lambda(int)::{lambda(double)#1}::operator()(double) const
__attribute__((noipa)) double run_lambda(int rounds)
{
	auto step = [rounds](double v) __attribute__((noipa)) {
		for (int i = 0; i < 35000 * rounds; i++) {
			v = v * 1.0000001 + 0.5;
			KEEP(v);
		}
		return v;
	};
	return step(1.0);
}

} // namespace ns

static double now_s()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? std::atof(argv[1]) : 0;
	double deadline = seconds > 0 ? now_s() + seconds : 0;
	ns::Matrix<double> m(1.0), n(2.0);
	ns::Vec3 a{1, 2, 3}, b{0.5, 0.25, 0.125};
	double sink = 0;

	while (deadline == 0 || now_s() < deadline) {
		sink += m.multiply(n);
		a = a + b;
		sink += ns::run_lambda(1);
		KEEP(sink);
	}
	return 0;
}
