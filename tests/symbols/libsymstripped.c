/* libsymstripped — linked with -s: only .dynsym is left, so hidden_work has
 * no symbol at all and must come out as "libsymstripped.so+0xOFFSET". */
#define KEEP(x) __asm__ volatile("" : "+r"(x))

static __attribute__((noipa)) long hidden_work(long n)
{
	long s = 1;
	for (long i = 0; i < n; i++) {
		s = s * 31 + i;
		KEEP(s);
	}
	return s;
}

__attribute__((noipa)) long stripped_entry(long n)
{
	return hidden_work(n) + 1;
}

void *stripped_hidden_addr(void)
{
	return (void *)hidden_work;
}
