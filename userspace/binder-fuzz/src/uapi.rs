//! The binder UAPI (shared with the other VM programs in `vmtest::binder`) and the names of
//! its words, for the fuzzer's output.

pub use vmtest::binder::*;

/// The name of a `BC_` command word, or its hexadecimal value.
pub fn bc_name(word: u32) -> String {
    let name = match word {
        BC_TRANSACTION => "BC_TRANSACTION",
        BC_REPLY => "BC_REPLY",
        BC_ACQUIRE_RESULT => "BC_ACQUIRE_RESULT",
        BC_FREE_BUFFER => "BC_FREE_BUFFER",
        BC_INCREFS => "BC_INCREFS",
        BC_ACQUIRE => "BC_ACQUIRE",
        BC_RELEASE => "BC_RELEASE",
        BC_DECREFS => "BC_DECREFS",
        BC_INCREFS_DONE => "BC_INCREFS_DONE",
        BC_ACQUIRE_DONE => "BC_ACQUIRE_DONE",
        BC_ATTEMPT_ACQUIRE => "BC_ATTEMPT_ACQUIRE",
        BC_REGISTER_LOOPER => "BC_REGISTER_LOOPER",
        BC_ENTER_LOOPER => "BC_ENTER_LOOPER",
        BC_EXIT_LOOPER => "BC_EXIT_LOOPER",
        BC_REQUEST_DEATH_NOTIFICATION => "BC_REQUEST_DEATH_NOTIFICATION",
        BC_CLEAR_DEATH_NOTIFICATION => "BC_CLEAR_DEATH_NOTIFICATION",
        BC_DEAD_BINDER_DONE => "BC_DEAD_BINDER_DONE",
        BC_TRANSACTION_SG => "BC_TRANSACTION_SG",
        BC_REPLY_SG => "BC_REPLY_SG",
        BC_REQUEST_FREEZE_NOTIFICATION => "BC_REQUEST_FREEZE_NOTIFICATION",
        BC_CLEAR_FREEZE_NOTIFICATION => "BC_CLEAR_FREEZE_NOTIFICATION",
        BC_FREEZE_NOTIFICATION_DONE => "BC_FREEZE_NOTIFICATION_DONE",
        _ => return format!("{word:#x}"),
    };
    name.to_string()
}

/// The name of a `BR_` return word, or its hexadecimal value.
pub fn br_name(word: u32) -> String {
    let name = match word {
        BR_ERROR => "BR_ERROR",
        BR_OK => "BR_OK",
        BR_TRANSACTION_SEC_CTX => "BR_TRANSACTION_SEC_CTX",
        BR_TRANSACTION => "BR_TRANSACTION",
        BR_REPLY => "BR_REPLY",
        BR_DEAD_REPLY => "BR_DEAD_REPLY",
        BR_TRANSACTION_COMPLETE => "BR_TRANSACTION_COMPLETE",
        BR_INCREFS => "BR_INCREFS",
        BR_ACQUIRE => "BR_ACQUIRE",
        BR_RELEASE => "BR_RELEASE",
        BR_DECREFS => "BR_DECREFS",
        BR_NOOP => "BR_NOOP",
        BR_SPAWN_LOOPER => "BR_SPAWN_LOOPER",
        BR_DEAD_BINDER => "BR_DEAD_BINDER",
        BR_CLEAR_DEATH_NOTIFICATION_DONE => "BR_CLEAR_DEATH_NOTIFICATION_DONE",
        BR_FAILED_REPLY => "BR_FAILED_REPLY",
        BR_FROZEN_REPLY => "BR_FROZEN_REPLY",
        BR_ONEWAY_SPAM_SUSPECT => "BR_ONEWAY_SPAM_SUSPECT",
        _ => return format!("{word:#x}"),
    };
    name.to_string()
}

/// The name of an ioctl request, or its hexadecimal value.
pub fn ioctl_name(request: libc::c_ulong) -> String {
    let name = match request {
        BINDER_WRITE_READ => "BINDER_WRITE_READ",
        BINDER_SET_IDLE_TIMEOUT => "BINDER_SET_IDLE_TIMEOUT",
        BINDER_SET_MAX_THREADS => "BINDER_SET_MAX_THREADS",
        BINDER_SET_IDLE_PRIORITY => "BINDER_SET_IDLE_PRIORITY",
        BINDER_SET_CONTEXT_MGR => "BINDER_SET_CONTEXT_MGR",
        BINDER_THREAD_EXIT => "BINDER_THREAD_EXIT",
        BINDER_VERSION => "BINDER_VERSION",
        BINDER_GET_NODE_DEBUG_INFO => "BINDER_GET_NODE_DEBUG_INFO",
        BINDER_GET_NODE_INFO_FOR_REF => "BINDER_GET_NODE_INFO_FOR_REF",
        BINDER_SET_CONTEXT_MGR_EXT => "BINDER_SET_CONTEXT_MGR_EXT",
        BINDER_FREEZE => "BINDER_FREEZE",
        BINDER_GET_FROZEN_INFO => "BINDER_GET_FROZEN_INFO",
        BINDER_ENABLE_ONEWAY_SPAM_DETECTION => "BINDER_ENABLE_ONEWAY_SPAM_DETECTION",
        BINDER_GET_EXTENDED_ERROR => "BINDER_GET_EXTENDED_ERROR",
        _ => return format!("{request:#x}"),
    };
    name.to_string()
}
