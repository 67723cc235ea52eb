// SPDX-License-Identifier: GPL-2.0

#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>

struct pid_namespace *rust_helper_get_pid_ns(struct pid_namespace *ns)
{
	return get_pid_ns(ns);
}

/* A function with CONFIG_PID_NS; the function wins in the bindings then. */
void rust_helper_put_pid_ns(struct pid_namespace *ns)
{
	put_pid_ns(ns);
}

pid_t rust_helper_task_tgid_nr_ns(struct task_struct *task,
				  struct pid_namespace *ns)
{
	return task_tgid_nr_ns(task, ns);
}

/*
 * The active pid namespace of @task with a reference, or NULL once the task
 * has been detached from its pid. RCU keeps the struct pid (and so the
 * namespace it points to) alive between the read and get_pid_ns().
 */
struct pid_namespace *rust_helper_task_get_pid_ns(struct task_struct *task)
{
	struct pid_namespace *ns;

	rcu_read_lock();
	ns = task_active_pid_ns(task);
	if (ns)
		get_pid_ns(ns);
	rcu_read_unlock();
	return ns;
}
