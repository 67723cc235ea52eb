// SPDX-License-Identifier: GPL-2.0

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bug.h>

void rust_helper_set_bit(long nr, unsigned long *addr)
{
	set_bit(nr, addr);
}

void rust_helper_clear_bit(long nr, unsigned long *addr)
{
	clear_bit(nr, addr);
}

bool rust_helper_test_and_set_bit(long nr, unsigned long *addr)
{
	return test_and_set_bit(nr, addr);
}

bool rust_helper_test_and_clear_bit(long nr, unsigned long *addr)
{
	return test_and_clear_bit(nr, addr);
}

unsigned long rust_helper_find_next_bit(const unsigned long *addr,
					unsigned long size,
					unsigned long offset)
{
	return find_next_bit(addr, size, offset);
}

unsigned long rust_helper_find_next_zero_bit(const unsigned long *addr,
					     unsigned long size,
					     unsigned long offset)
{
	return find_next_zero_bit(addr, size, offset);
}

void rust_helper_bitmap_warn_invariant(const char *file, size_t len,
				       unsigned int line)
{
	WARN(1, "Rust bitmap invariant broken at %.*s:%u\n", (int)len, file,
	     line);
}
