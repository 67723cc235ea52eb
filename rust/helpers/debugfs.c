// SPDX-License-Identifier: GPL-2.0

#include <linux/debugfs.h>

/*
 * Functions with CONFIG_DEBUG_FS (which win in the bindings then), and inline
 * stubs that create nothing without it.
 */

struct dentry *rust_helper_debugfs_create_dir(const char *name,
					      struct dentry *parent)
{
	return debugfs_create_dir(name, parent);
}

struct dentry *
rust_helper_debugfs_create_file(const char *name, umode_t mode,
				struct dentry *parent, void *data,
				const struct file_operations *fops)
{
	return debugfs_create_file(name, mode, parent, data, fops);
}

void rust_helper_debugfs_remove(struct dentry *dentry)
{
	debugfs_remove(dentry);
}
