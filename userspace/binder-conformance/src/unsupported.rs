//! Checks of the request classes binder-lite does not implement: each sends a request of the
//! class that the C binder refuses, and expects the C binder's answer. (Requests of these
//! classes that the C binder accepts, binder-lite refuses: its documentation lists them.)

use crate::client::{describe_all, first_txn, names, Binder, Commands, Parcel, Ret};
use crate::feature::{NODES_AND_REFS, TRANSACTIONS};
use crate::proto::{self, *};
use crate::transactions::{refused_cmds as refused, Pair};
use crate::{Entry, Record};
use std::thread;

/// `struct binder_fd_object` with descriptor `fd`.
fn fd_object(fd: u32) -> FlatBinderObject {
    FlatBinderObject {
        kind: BINDER_TYPE_FD,
        flags: 0,
        binder: fd.into(),
        cookie: 0,
    }
}

/// A descriptor no process has open.
const BAD_FD: u32 = 100_000;

/// The client calls the server with `request`; the server replies with `reply`. Returns what
/// the server and the client saw.
fn exchange(
    p: &Pair,
    flags: u32,
    request: &Parcel,
    reply: &Parcel,
) -> Result<(Vec<Ret>, Vec<Ret>), String> {
    let (server, client) = (&p.server, &p.client);
    thread::scope(|s| {
        let serving = s.spawn(|| -> Result<Vec<Ret>, String> {
            let mut rets =
                server.wait_for(&Commands::new().enter_looper(), "BR_TRANSACTION", |r| {
                    matches!(r, Ret::Transaction(_))
                })?;
            let t = first_txn(&rets).ok_or("no transaction")?.clone();
            let cmds = Commands::new().free_buffer(t.data.buffer).reply(0, reply);
            rets.extend(server.wait_for(&cmds, "the reply's outcome", |r| {
                matches!(
                    r,
                    Ret::TransactionComplete | Ret::FailedReply | Ret::DeadReply
                )
            })?);
            Ok(rets)
        });
        let c = client.call(p.handle, 1, flags, request);
        let m = serving.join().map_err(|_| "the server panicked")?;
        Ok((m?, c?))
    })
}

fn fd_objects(path: &str, rec: &mut Record) -> Result<(), String> {
    // A node that does not accept descriptors.
    let p = Pair::new(path, 0)?;
    for (what, fd) in [("a descriptor", 0), ("a bad descriptor", BAD_FD)] {
        let o = Parcel::object(fd_object(fd));
        let cmds = Commands::new().transaction(p.handle, 1, TF_ACCEPT_FDS, &o);
        let what = format!("{what} to a node that takes none");
        refused(rec, &p.client, &what, &cmds, libc::EPERM)?;
    }
    // Replies: to a caller that takes none, and a bad descriptor to one that does. The
    // replier's BC_REPLY completes; the caller gets BR_FAILED_REPLY.
    for (what, flags, fd, errno) in [
        (
            "a descriptor to a caller that takes none",
            0,
            0,
            libc::EPERM,
        ),
        ("a bad descriptor", TF_ACCEPT_FDS, BAD_FD, libc::EBADF),
    ] {
        let reply = Parcel::object(fd_object(fd));
        let (m, c) = exchange(&p, flags, &Parcel::default(), &reply)?;
        rec.expect(
            &format!("reply with {what}: replier saw"),
            names(&m),
            vec!["BR_TRANSACTION".into(), "BR_TRANSACTION_COMPLETE".into()],
        )?;
        rec.expect(
            &format!("reply with {what}: caller saw"),
            names(&c),
            vec!["BR_TRANSACTION_COMPLETE".into(), "BR_FAILED_REPLY".into()],
        )?;
        let ee = p.client.extended_error();
        rec.expect("caller's extended error", ee, Ok((BR_FAILED_REPLY, -errno)))?;
    }
    Ok(())
}

fn fd_array_objects(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, FLAT_BINDER_FLAG_ACCEPTS_FDS)?;
    // `struct binder_fd_array_object` without a parent buffer object: num_fds 1, parent 0.
    let mut data = Vec::new();
    data.extend_from_slice(&BINDER_TYPE_FDA.to_ne_bytes());
    data.extend_from_slice(&0u32.to_ne_bytes());
    for v in [1u64, 0, 0] {
        data.extend_from_slice(&v.to_ne_bytes());
    }
    let fda = Parcel {
        data,
        offsets: vec![0],
    };
    let cmds = Commands::new().transaction(p.handle, 1, TF_ACCEPT_FDS, &fda);
    refused(
        rec,
        &p.client,
        "fd array without a parent",
        &cmds,
        libc::EINVAL,
    )?;
    let rets = p.server.idle_read(crate::client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])
}

/// `struct binder_buffer_object` for `len` bytes at `buffer`.
fn ptr_object(buffer: u64, len: u64) -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(&BINDER_TYPE_PTR.to_ne_bytes());
    data.extend_from_slice(&0u32.to_ne_bytes());
    for v in [buffer, len, 0, 0] {
        data.extend_from_slice(&v.to_ne_bytes());
    }
    data
}

fn scatter_gather(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let (client, h) = (&p.client, p.handle);
    let payload = [7u8; 16];
    let ptr = Parcel {
        data: ptr_object(payload.as_ptr() as u64, payload.len() as u64),
        offsets: vec![0],
    };
    // A buffer object in a plain transaction: no room for its buffer.
    let cmds = Commands::new().transaction(h, 1, 0, &ptr);
    refused(
        rec,
        client,
        "buffer object in BC_TRANSACTION",
        &cmds,
        libc::EINVAL,
    )?;
    // BC_TRANSACTION_SG with less room than the object's buffer needs.
    let sg = |buffers_size: u64| {
        let mut b = ptr.txn(h, 1, 0).to_bytes();
        b.extend_from_slice(&buffers_size.to_ne_bytes());
        b
    };
    let small = sg(8);
    let cmds = Commands::new().word(BC_TRANSACTION_SG).raw(&small);
    refused(
        rec,
        client,
        "BC_TRANSACTION_SG, buffers_size 8",
        &cmds,
        libc::EINVAL,
    )?;
    // A buffers_size that is not a multiple of 8.
    let odd = sg(20);
    let cmds = Commands::new().word(BC_TRANSACTION_SG).raw(&odd);
    refused(
        rec,
        client,
        "BC_TRANSACTION_SG, buffers_size 20",
        &cmds,
        libc::EINVAL,
    )?;
    // BC_REPLY_SG without a transaction to answer.
    let cmds = Commands::new().word(BC_REPLY_SG).raw(&small);
    refused(
        rec,
        client,
        "BC_REPLY_SG without a transaction",
        &cmds,
        libc::EPROTO,
    )?;
    let rets = p.server.idle_read(crate::client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])
}

fn security_context_request(path: &str, rec: &mut Record) -> Result<(), String> {
    // A node that asks for the sender's security context: the test kernel has no security
    // module to give one, so the C binder refuses transactions to it.
    let p = Pair::new(path, FLAT_BINDER_FLAG_TXN_SECURITY_CTX)?;
    let hello = Parcel::bytes(b"who am I");
    let cmds = Commands::new().transaction(p.handle, 1, 0, &hello);
    refused(rec, &p.client, "transaction", &cmds, libc::EOPNOTSUPP)?;
    let rets = p.server.idle_read(crate::client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])
}

fn freeze_ioctls(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    // A pid that is no binder process of the device.
    let nobody = i32::MAX as u32 - 7;
    let mut info = [nobody, 1, 0u32];
    let r = fd.ioctl(BINDER_FREEZE, &mut info);
    rec.expect(
        "BINDER_FREEZE of no binder process",
        outcome(r),
        "EINVAL".into(),
    )?;
    let mut info = [nobody, 0, 0u32];
    let r = fd.ioctl(BINDER_FREEZE, &mut info);
    rec.expect(
        "BINDER_FREEZE (thaw) of no binder process",
        outcome(r),
        "EINVAL".into(),
    )?;
    let mut status = [nobody, 9, 9u32];
    let r = fd.ioctl(BINDER_GET_FROZEN_INFO, &mut status);
    rec.expect(
        "BINDER_GET_FROZEN_INFO of no binder process",
        outcome(r),
        "EINVAL".into(),
    )
}

fn freeze_notifications(path: &str, rec: &mut Record) -> Result<(), String> {
    let b = Binder::open(path)?;
    // Of a handle the process does not have, and an acknowledgement of nothing: EINVAL, and
    // the command is not consumed.
    let handle_cookie = |cmd: u32| Commands::new().word(cmd).word(3).dword(0xf1);
    for (what, cmds) in [
        (
            "BC_REQUEST_FREEZE_NOTIFICATION",
            handle_cookie(BC_REQUEST_FREEZE_NOTIFICATION),
        ),
        (
            "BC_CLEAR_FREEZE_NOTIFICATION",
            handle_cookie(BC_CLEAR_FREEZE_NOTIFICATION),
        ),
        (
            "BC_FREEZE_NOTIFICATION_DONE",
            Commands::new()
                .word(BC_FREEZE_NOTIFICATION_DONE)
                .dword(0xf1),
        ),
    ] {
        let cmds = Commands::new().enter_looper().raw_from(&cmds);
        let io = b.write_read(&cmds, None);
        rec.expect(what, outcome(io.result), "EINVAL".into())?;
        rec.expect("write_consumed", io.write_consumed, 4)?;
    }
    Ok(())
}

/// The checks, with the binder-lite features they need.
pub const CHECKS: &[Entry] = &[
    ("fd_objects", &[TRANSACTIONS, NODES_AND_REFS], fd_objects),
    (
        "fd_array_objects",
        &[TRANSACTIONS, NODES_AND_REFS],
        fd_array_objects,
    ),
    (
        "scatter_gather",
        &[TRANSACTIONS, NODES_AND_REFS],
        scatter_gather,
    ),
    (
        "security_context_request",
        &[TRANSACTIONS, NODES_AND_REFS],
        security_context_request,
    ),
    ("freeze_ioctls", &[], freeze_ioctls),
    ("freeze_notifications", &[], freeze_notifications),
];
