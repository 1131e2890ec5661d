/* A library test_maps and test_unwind dlopen() into a running child. */
int mapsdl_marker(int x);

__attribute__((noinline)) int mapsdl_marker(int x)
{
	return x + 42;
}

/* Spins until the process is killed: a hot function in code mapped after attach. */
__attribute__((noinline)) void mapsdl_spin(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}
