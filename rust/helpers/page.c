// SPDX-License-Identifier: GPL-2.0

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/nodemask.h>

struct page *rust_helper_alloc_pages(gfp_t gfp_mask, unsigned int order)
{
	return alloc_pages(gfp_mask, order);
}

void *rust_helper_kmap_local_page(struct page *page)
{
	return kmap_local_page(page);
}

void rust_helper_kunmap_local(const void *addr)
{
	kunmap_local(addr);
}

struct page *rust_helper_alloc_pages_node(int nid, gfp_t gfp_mask,
					  unsigned int order)
{
	return alloc_pages_node(nid, gfp_mask, order);
}

bool rust_helper_node_online(int nid)
{
	return node_online(nid);
}
