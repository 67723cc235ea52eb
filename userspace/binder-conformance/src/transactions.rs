//! Checks of transactions, nodes and references, and death, on the client library of
//! [`crate::client`]. The binder processes of a check are files of the device opened by this
//! program, which find each other's nodes through a [`Broker`] (the context manager, in a child
//! process); a process that must die is a child process.

use crate::client::broker::{INFO, REFS, SEND_BACK};
use crate::client::{
    self, describe_all, first_txn, names, Binder, Broker, Child, Commands, Parcel, Ret,
};
use crate::feature::{DEATH, NODES_AND_REFS, TRANSACTIONS};
use crate::proto::*;
use crate::{Entry, Record};
use std::thread;

/// The pointer and cookie user space gives the nodes it sends; any values do, if they match.
const NODE_A: (u64, u64) = (0xa000, 0xa0c0);
const NODE_B: (u64, u64) = (0xb000, 0xb0c0);
/// The node of the server of [`Pair`], and of the receiving processes of other checks.
const NODE_S: (u64, u64) = (0x5000, 0x50c0);

/// A broker, a server that has published node S with it, and a client with a handle to S.
pub struct Pair {
    pub broker: Broker,
    pub server: Binder,
    pub client: Binder,
    /// The client's handle of node S.
    pub handle: u32,
}

impl Pair {
    /// Starts the processes; node S has `flags`.
    pub fn new(path: &str, flags: u32) -> Result<Pair, String> {
        let broker = Broker::start(path)?;
        let server = Binder::open(path)?;
        let client = Binder::open(path)?;
        let node = FlatBinderObject {
            flags,
            ..FlatBinderObject::binder(true, NODE_S.0, NODE_S.1)
        };
        let (h, _, _) = broker.publish(&server, node)?;
        let handle = broker.lookup(&client, h)?;
        Ok(Pair {
            broker,
            server,
            client,
            handle,
        })
    }
}

/// A payload of `len` bytes that differs at every position (modulo 251).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// The transactions among `rets`.
fn txns(rets: &[Ret]) -> Vec<&client::Txn> {
    rets.iter()
        .filter_map(|r| match r {
            Ret::Transaction(t) | Ret::Reply(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// Runs `server` and `client` in two threads (two binder threads), returns both outcomes.
fn both<A: Send, B: Send>(
    server: impl FnOnce() -> Result<A, String> + Send,
    client: impl FnOnce() -> Result<B, String> + Send,
) -> Result<(A, B), String> {
    thread::scope(|s| {
        let server = s.spawn(server);
        let c = client();
        let sv = server.join().map_err(|_| "the serving thread panicked")?;
        Ok((sv?, c?))
    })
}

/// Sends `size` bytes from the client to the server, which replies with `size` other bytes;
/// records what both saw.
fn round_trip(rec: &mut Record, p: &Pair, size: usize, flags: u32) -> Result<(), String> {
    let request = Parcel::bytes(&pattern(size, 0x11));
    let one_way = flags & TF_ONE_WAY != 0;
    let (served, rets) = both(
        || {
            p.server.serve_one(|t| {
                if t.bytes != request.data {
                    return Err(format!("{size} bytes: the server got other bytes"));
                }
                Ok(Parcel::bytes(&pattern(size, 0x22)))
            })
        },
        || p.client.call(p.handle, 7, flags, &request),
    )?;
    rec.note(
        &format!("{size} bytes: server saw"),
        describe_all(&served.1),
    );
    rec.expect(
        &format!("{size} bytes: payload arrived"),
        served.0.bytes.len(),
        size,
    )?;
    let expected = if one_way {
        vec!["BR_TRANSACTION_COMPLETE".to_string()]
    } else {
        vec!["BR_TRANSACTION_COMPLETE".to_string(), "BR_REPLY".into()]
    };
    rec.expect(&format!("{size} bytes: client saw"), names(&rets), expected)?;
    if !one_way {
        let reply = first_txn(&rets).ok_or("no reply")?;
        rec.note(&format!("{size} bytes: reply"), reply.describe());
        rec.expect(
            &format!("{size} bytes: reply payload"),
            reply.bytes == pattern(size, 0x22),
            true,
        )?;
    }
    Ok(())
}

fn sync_payload_sizes(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, FLAT_BINDER_FLAG_ACCEPTS_FDS)?;
    let largest = p.server.area_size();
    for size in [0, 1, 3, 4, 8, 100, 4096, 65536, largest] {
        round_trip(rec, &p, size, TF_ACCEPT_FDS)?;
    }
    // One byte more than the area does not fit: the sender gets BR_FAILED_REPLY (ENOSPC).
    let too_big = Parcel::bytes(&pattern(largest + 1, 0x33));
    let rets = p.client.call(p.handle, 7, 0, &too_big)?;
    rec.expect(
        "area + 1 bytes",
        names(&rets),
        vec!["BR_FAILED_REPLY".into()],
    )?;
    let ee = p.client.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::ENOSPC)))?;
    // Nothing reached the server, and it is still served.
    let rets = p.server.idle_read(client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])?;
    round_trip(rec, &p, 16, 0)
}

fn oneway_payload_sizes(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    // One-way transactions may use half of the target's area.
    let largest = p.server.area_size() / 2;
    for size in [0, 1, 8, 4096, largest] {
        round_trip(rec, &p, size, TF_ONE_WAY)?;
    }
    let too_big = Parcel::bytes(&pattern(largest + 1, 0x33));
    let rets = p.client.call(p.handle, 7, TF_ONE_WAY, &too_big)?;
    rec.expect(
        "half the area + 1",
        names(&rets),
        vec!["BR_FAILED_REPLY".into()],
    )?;
    let ee = p.client.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::ENOSPC)))?;
    round_trip(rec, &p, 16, TF_ONE_WAY)
}

fn transaction_errors(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let client = &p.client;
    let empty = Parcel::default();
    // A handle the process does not have.
    for handle in [2, 5, u32::MAX] {
        let rets = client.call(handle, 1, 0, &empty)?;
        rec.expect(
            &format!("to handle {handle}"),
            names(&rets),
            vec!["BR_FAILED_REPLY".into()],
        )?;
        let ee = client.extended_error();
        rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
        let rets = client.call(handle, 1, TF_ONE_WAY, &empty)?;
        rec.expect("one-way", names(&rets), vec!["BR_FAILED_REPLY".into()])?;
        let ee = client.extended_error();
        rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
        // The extended error is read once.
        rec.expect("read again", client.extended_error(), Ok((BR_OK, 0)))?;
    }
    // A reply without a transaction to answer.
    let cmds = Commands::new().reply(0, &empty);
    let rets = client.wait_for(&cmds, "the reply's outcome", |r| r.ends_call(false))?;
    rec.expect(
        "reply to nothing",
        names(&rets),
        vec!["BR_FAILED_REPLY".into()],
    )?;
    let ee = client.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EPROTO)))?;
    // Sizes that overflow.
    let t = TransactionData {
        data_size: u64::MAX - 2,
        ..empty.txn(p.handle, 1, 0)
    };
    let cmds = Commands::new().transaction_data(BC_TRANSACTION, t);
    let rets = client.send(&cmds, false)?;
    rec.expect(
        "data_size near 2^64",
        names(&rets),
        vec!["BR_FAILED_REPLY".into()],
    )?;
    let ee = client.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
    // After all this, a transaction still works, and the server saw none of the above.
    let rets = p.server.idle_read(client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])?;
    round_trip(rec, &p, 8, 0)
}

fn context_manager_of_its_own_process(path: &str, rec: &mut Record) -> Result<(), String> {
    let manager = Binder::open(path)?;
    manager.become_manager()?;
    let other = Binder::open(path)?;
    // The C binder refuses calls to the context manager from its own process, also from
    // another file of it.
    for (what, b) in [("the manager", &manager), ("another file", &other)] {
        for flags in [0, TF_ONE_WAY] {
            let rets = b.call(0, 1, flags, &Parcel::default())?;
            rec.expect(
                &format!("{what}, flags {flags:#x}"),
                names(&rets),
                vec!["BR_FAILED_REPLY".into()],
            )?;
            let ee = b.extended_error();
            rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
        }
    }
    Ok(())
}

fn no_context_manager(path: &str, rec: &mut Record) -> Result<(), String> {
    // Wait until the manager of an earlier check is gone, then leave the role empty.
    drop({
        let m = Binder::open(path)?;
        m.become_manager()?;
        m
    });
    let client = Binder::open(path)?;
    for flags in [0, TF_ONE_WAY] {
        // A sync call that reached the manager just before it went away also completes
        // first: only the outcome is compared.
        let rets = client.call(0, 1, flags, &Parcel::bytes(b"hello"))?;
        rec.expect(
            &format!("to handle 0, flags {flags:#x}"),
            rets.last().map(Ret::name),
            Some("BR_DEAD_REPLY".into()),
        )?;
    }
    Ok(())
}

/// A transaction to `handle` of `data` with objects at `offsets`, sent raw.
fn raw_txn(handle: u32, data: &[u8], offsets: &[u64]) -> TransactionData {
    TransactionData {
        target: handle.into(),
        cookie: 0,
        code: 1,
        flags: 0,
        sender_pid: 0,
        sender_euid: 0,
        data_size: data.len() as u64,
        offsets_size: 8 * offsets.len() as u64,
        buffer: data.as_ptr() as u64,
        offsets: offsets.as_ptr() as u64,
    }
}

/// Sends `t` with `cmd` from `client`; expects BR_FAILED_REPLY with `errno` as the extended
/// error.
fn refused(
    rec: &mut Record,
    client: &Binder,
    what: &str,
    cmd: u32,
    t: TransactionData,
    errno: i32,
) -> Result<(), String> {
    let cmds = Commands::new().transaction_data(cmd, t);
    refused_cmds(rec, client, what, &cmds, errno)
}

/// Runs `cmds`, which end in a transaction; expects BR_FAILED_REPLY with `errno` as the
/// extended error.
pub fn refused_cmds(
    rec: &mut Record,
    client: &Binder,
    what: &str,
    cmds: &Commands<'_>,
    errno: i32,
) -> Result<(), String> {
    let rets = client.send(cmds, false)?;
    rec.expect(what, names(&rets), vec!["BR_FAILED_REPLY".into()])?;
    rec.expect(
        &format!("{what}: extended error"),
        client.extended_error(),
        Ok((BR_FAILED_REPLY, -errno)),
    )
}

fn bad_offsets(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let (client, h) = (&p.client, p.handle);
    let mut data = vec![0u8; 64];
    data[8..32].copy_from_slice(&FlatBinderObject::binder(true, NODE_A.0, NODE_A.1).to_bytes());
    data[44..48].copy_from_slice(&BINDER_TYPE_BINDER.to_ne_bytes());
    let (einval, efault) = (libc::EINVAL, libc::EFAULT);
    // Misaligned: objects start at multiples of 4. At the end of the data, or running past
    // it: EINVAL. Beyond the end: the C binder fails to copy the data up to the object first
    // (EFAULT). An object of no known type (zeros at 40): EINVAL.
    for (off, errno) in [
        (9u64, einval),
        (10, einval),
        (11, einval),
        (64, einval),
        (44, einval),
        (40, einval),
        (65, efault),
        (1 << 20, efault),
        (u64::MAX - 3, efault),
    ] {
        let offsets = [off];
        let what = format!("object at offset {off}");
        let t = raw_txn(h, &data, &offsets);
        refused(rec, client, &what, BC_TRANSACTION, t, errno)?;
    }
    // offsets_size that is not a multiple of 8.
    let offsets = [8u64, 0];
    let t = TransactionData {
        offsets_size: 12,
        ..raw_txn(h, &data, &offsets)
    };
    refused(rec, client, "offsets_size 12", BC_TRANSACTION, t, einval)?;
    // Data and offsets that cannot be read.
    let t = TransactionData {
        buffer: 8,
        ..raw_txn(h, &data, &[])
    };
    refused(rec, client, "data at address 8", BC_TRANSACTION, t, efault)?;
    let t = TransactionData {
        offsets: 8,
        ..raw_txn(h, &data, &offsets)
    };
    refused(
        rec,
        client,
        "offsets at address 8",
        BC_TRANSACTION,
        t,
        efault,
    )?;
    // None of it reached the server, and both still work.
    let rets = p.server.idle_read(client::QUIET)?;
    rec.expect("server got", describe_all(&rets), vec![])?;
    round_trip(rec, &p, 8, 0)
}

fn free_buffer_errors(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let (server, client) = (&p.server, &p.client);
    let request = Parcel::bytes(&pattern(40, 1));
    // The server gets a transaction, keeps its buffer, and answers.
    let (txn, rets) = both(
        || {
            let cmds = Commands::new().enter_looper();
            let rets = server.wait_for(&cmds, "BR_TRANSACTION", |r| {
                matches!(r, Ret::Transaction(_))
            })?;
            let t = first_txn(&rets).ok_or("no transaction")?.clone();
            let reply = Parcel::bytes(b"answer");
            let cmds = Commands::new().reply(0, &reply);
            server.wait_for(&cmds, "BR_TRANSACTION_COMPLETE", |r| {
                matches!(r, Ret::TransactionComplete)
            })?;
            Ok(t)
        },
        || client.call_keep(p.handle, 1, 0, &request),
    )?;
    let reply = first_txn(&rets).ok_or("no reply")?.clone();
    let attempt = |rec: &mut Record, b: &Binder, what: &str, address: u64| {
        let io = b.write_read(&Commands::new().free_buffer(address), None);
        rec.expect(what, crate::proto::outcome(io.result), "ok".into())?;
        rec.expect("write_consumed", io.write_consumed, 12)?;
        let rets = b.idle_read(client::QUIET)?;
        rec.expect("then read", describe_all(&rets), vec![])
    };
    // Addresses that are no buffer: nothing happens, nothing is returned.
    attempt(rec, client, "free address 0", 0)?;
    attempt(rec, client, "free inside the reply", reply.data.buffer + 8)?;
    // A buffer of another process.
    attempt(rec, client, "free the server's buffer", txn.data.buffer)?;
    attempt(rec, server, "free the client's buffer", reply.data.buffer)?;
    // Freed twice.
    attempt(rec, client, "free the reply", reply.data.buffer)?;
    attempt(rec, client, "free the reply again", reply.data.buffer)?;
    attempt(rec, server, "free the request", txn.data.buffer)?;
    attempt(rec, server, "free the request again", txn.data.buffer)?;
    // Both areas are whole again: the largest transactions fit.
    round_trip(rec, &p, client.area_size(), 0)
}

/// `sender` calls `receiver`'s node (its `handle`) with `parcel`; the receiver runs `on_txn`
/// on it, then frees its buffer and replies. Returns what each saw.
fn register(
    receiver: &Binder,
    sender: &Binder,
    handle: u32,
    parcel: &Parcel,
    on_txn: impl FnOnce(&client::Txn) -> Result<(), String> + Send,
) -> Result<(client::Txn, Vec<Ret>), String> {
    let ((txn, _), rets) = both(
        || {
            receiver.serve_one(|t| {
                on_txn(t)?;
                Ok(Parcel::default())
            })
        },
        || sender.call(handle, 1, 0, parcel),
    )?;
    Ok((txn, rets))
}

fn nodes_become_handles_and_back(path: &str, rec: &mut Record) -> Result<(), String> {
    // The receiver is the server of a pair; the client sends it nodes.
    let p = Pair::new(path, 0)?;
    let (receiver, sender, to_receiver) = (&p.server, &p.client, p.handle);
    let third = Binder::open(path)?;
    let third_to_receiver = p.broker.lookup(&third, 1)?;
    let mut parcel = Parcel::bytes(b"two nodes");
    parcel
        .push_object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1))
        .push_bytes(b"and")
        .push_object(FlatBinderObject::binder(false, NODE_B.0, NODE_B.1));
    // The receiver keeps the references it got: a strong one to A, a weak one to B.
    let (txn, rets) = register(receiver, sender, to_receiver, &parcel, |_| {
        receiver.write(&Commands::new().acquire(1).increfs(2))
    })?;
    rec.note("receiver got", txn.describe());
    let kinds = |t: &client::Txn| -> Vec<(u32, u64)> {
        t.objects().iter().map(|o| (o.kind, o.binder)).collect()
    };
    let handles = vec![(BINDER_TYPE_HANDLE, 1), (BINDER_TYPE_WEAK_HANDLE, 2)];
    rec.expect("handles", kinds(&txn), handles)?;
    let without_reply: Vec<String> = describe_all(&rets)
        .into_iter()
        .filter(|r| !r.starts_with("BR_REPLY"))
        .collect();
    rec.expect(
        "sender saw",
        without_reply,
        vec![
            format!("BR_INCREFS {:#x} {:#x}", NODE_A.0, NODE_A.1),
            format!("BR_ACQUIRE {:#x} {:#x}", NODE_A.0, NODE_A.1),
            format!("BR_INCREFS {:#x} {:#x}", NODE_B.0, NODE_B.1),
            "BR_TRANSACTION_COMPLETE".into(),
        ],
    )?;
    sender.ack_node_work(&rets)?;
    // Back: the receiver calls A with both handles; the sender gets its own nodes.
    let mut back = Parcel::default();
    back.push_object(FlatBinderObject::handle(true, 1))
        .push_object(FlatBinderObject::handle(false, 2));
    let ((got, _), rets) = both(
        || sender.serve_one(|_| Ok(Parcel::bytes(b"thanks"))),
        || receiver.call(1, 2, 0, &back),
    )?;
    rec.note("sender got", got.describe());
    rec.expect("target", (got.data.target, got.data.cookie), NODE_A)?;
    let objects: Vec<(u32, u64, u64)> = got
        .objects()
        .iter()
        .map(|o| (o.kind, o.binder, o.cookie))
        .collect();
    rec.expect(
        "objects",
        objects,
        vec![
            (BINDER_TYPE_BINDER, NODE_A.0, NODE_A.1),
            (BINDER_TYPE_WEAK_BINDER, NODE_B.0, NODE_B.1),
        ],
    )?;
    rec.note("receiver saw", describe_all(&rets));
    // Sideways: the receiver passes both to a third process, which gets handles of its own
    // (after its handle of the receiver).
    let ((_, _), rets) = both(
        || receiver.serve_one(|_| Ok(back.clone())),
        || third.call_keep(third_to_receiver, 3, 0, &Parcel::default()),
    )?;
    let reply = first_txn(&rets).ok_or("no reply")?;
    rec.note("third process got", reply.describe());
    let handles = vec![(BINDER_TYPE_HANDLE, 2), (BINDER_TYPE_WEAK_HANDLE, 3)];
    rec.expect("third process's handles", kinds(reply), handles)?;
    // A weak handle cannot be the target of a transaction.
    let rets = receiver.call(2, 1, 0, &Parcel::default())?;
    let failed = vec!["BR_FAILED_REPLY".to_string()];
    rec.expect("call a weak handle", names(&rets), failed.clone())?;
    let ee = receiver.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
    // A handle object of a handle the sender does not have.
    let bad = Parcel::object(FlatBinderObject::handle(true, 7));
    let rets = third.call(third_to_receiver, 1, 0, &bad)?;
    rec.expect("send handle 7", names(&rets), failed.clone())?;
    let ee = third.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
    // A node with another cookie than it was first sent with.
    let bad = Parcel::object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1 + 1));
    let rets = sender.call(to_receiver, 1, 0, &bad)?;
    rec.expect("wrong cookie", names(&rets), failed)?;
    let ee = sender.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))?;
    // Two objects that overlap (the second one's type is the first one's cookie); the C
    // binder finds that it cannot copy the data between them (EFAULT).
    let cookie = BINDER_TYPE_BINDER.into();
    let mut data = FlatBinderObject::binder(true, 0xc000, cookie).to_bytes();
    data.extend_from_slice(&[0; 24]);
    let offsets = [0u64, 16];
    let t = raw_txn(to_receiver, &data, &offsets);
    refused(
        rec,
        sender,
        "overlapping objects",
        BC_TRANSACTION,
        t,
        libc::EFAULT,
    )?;
    // Objects in the wrong order.
    let mut data = vec![0u8; 8];
    data.extend_from_slice(&FlatBinderObject::binder(true, 0xd000, 0).to_bytes());
    data.extend_from_slice(&FlatBinderObject::binder(true, 0xe000, 0).to_bytes());
    let offsets = [32u64, 8];
    let t = raw_txn(to_receiver, &data, &offsets);
    refused(
        rec,
        sender,
        "objects in reverse order",
        BC_TRANSACTION,
        t,
        libc::EFAULT,
    )?;
    // The nodes the failed transactions made are gone again: no work for the sender, and
    // the receiver's next handle is 3.
    let rets = sender.read(client::QUIET)?;
    rec.expect("then the sender got", describe_all(&rets), vec![])?;
    let node = Parcel::object(FlatBinderObject::binder(true, 0xf000, 0));
    let (txn, rets) = register(receiver, sender, to_receiver, &node, |_| Ok(()))?;
    sender.ack_node_work(&rets)?;
    rec.expect("next handle", kinds(&txn), vec![(BINDER_TYPE_HANDLE, 3)])
}

fn strong_and_weak_counts(path: &str, rec: &mut Record) -> Result<(), String> {
    let broker = Broker::start(path)?;
    let service = Binder::open(path)?;
    // A thread's first call returns at once with its work: make the call below wait.
    service.write(&Commands::new())?;
    let info = |rec: &mut Record, what: &str, expected: &str| -> Result<(), String> {
        let seen = broker.ask(&service, INFO, &[1])?;
        rec.expect(what, seen, expected.to_string())
    };
    let refs = |cmds: &[u32]| broker.ask(&service, REFS, cmds);
    // The broker (the context manager) gets a strong reference to node A, and keeps one.
    // While the service waits for the reply, the node has the broker's reference only.
    let parcel = Parcel::object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1));
    let rets = service.call_keep(0, client::broker::ADD, 0, &parcel)?;
    service.free_replies(&rets)?;
    let reply = first_txn(&rets).ok_or("no reply")?;
    let text = String::from_utf8_lossy(reply.bytes.get(4..).unwrap_or_default()).into_owned();
    rec.expect(
        "while the service waits",
        text,
        r#"counts ["Ok((1, 0))"]"#.into(),
    )?;
    rec.expect(
        "service saw",
        names(&rets),
        vec![
            "BR_INCREFS".into(),
            "BR_ACQUIRE".into(),
            "BR_TRANSACTION_COMPLETE".into(),
            "BR_REPLY".into(),
        ],
    )?;
    // BR_INCREFS and BR_ACQUIRE count until the service acknowledges them.
    info(rec, "after BR_INCREFS and BR_ACQUIRE", "Ok((2, 1))")?;
    service.ack_node_work(&rets)?;
    info(rec, "after the acknowledgements", "Ok((1, 0))")?;
    // More references of the same process do not change the node's counts.
    let r = refs(&[BC_ACQUIRE, 1, BC_INCREFS, 1])?;
    rec.expect("BC_ACQUIRE, BC_INCREFS", r, "ok 16".into())?;
    info(rec, "after BC_ACQUIRE and BC_INCREFS", "Ok((1, 0))")?;
    // The node travels back to its process, in a call nested in the service's request: the
    // buffer holds a strong count of it, the transaction another one.
    let mut during = None;
    let mut serve = |_: &client::Txn| -> Result<Parcel, String> {
        during = Some(broker.ask(&service, INFO, &[1])?);
        Ok(Parcel::default())
    };
    let rets = service.call_serving(
        0,
        SEND_BACK,
        &Parcel::bytes(&1u32.to_ne_bytes()),
        &mut serve,
    )?;
    rec.expect(
        "while the service holds the buffer",
        during,
        Some("Ok((3, 0))".into()),
    )?;
    let got = first_txn(&rets).ok_or("no call back")?;
    rec.note("the call back", got.describe());
    // The request's completion was deferred until the call back came.
    let seen = vec![
        "BR_TRANSACTION_COMPLETE".to_string(),
        "BR_TRANSACTION".into(),
        "BR_TRANSACTION_COMPLETE".into(),
        "BR_REPLY".into(),
    ];
    rec.expect("service saw", names(&rets), seen)?;
    info(rec, "after the buffer is freed", "Ok((1, 0))")?;
    // Releasing the strong references: the service gets BR_RELEASE; the weak one stays.
    let r = refs(&[BC_RELEASE, 1, BC_RELEASE, 1])?;
    rec.expect("BC_RELEASE twice", r, "ok 16".into())?;
    let rets = service.wait_for(&Commands::new(), "BR_RELEASE", |r| {
        matches!(r, Ret::Release(..))
    })?;
    let release = format!("BR_RELEASE {:#x} {:#x}", NODE_A.0, NODE_A.1);
    rec.expect("service saw", describe_all(&rets), vec![release])?;
    info(rec, "weak reference only", r#"Err("EINVAL")"#)?;
    // Releasing the weak one: BR_DECREFS, and the broker's handle 1 is gone.
    let r = refs(&[BC_DECREFS, 1])?;
    rec.expect("BC_DECREFS", r, "ok 8".into())?;
    let rets = service.wait_for(&Commands::new(), "BR_DECREFS", |r| {
        matches!(r, Ret::Decrefs(..))
    })?;
    let decrefs = format!("BR_DECREFS {:#x} {:#x}", NODE_A.0, NODE_A.1);
    rec.expect("service saw", describe_all(&rets), vec![decrefs])?;
    info(rec, "no reference", r#"Err("EINVAL")"#)?;
    // References to handles that do not exist change nothing, and are no error.
    let r = refs(&[BC_ACQUIRE, 1, BC_RELEASE, 3, BC_DECREFS, 1])?;
    rec.expect("of no handle", r, "ok 24".into())?;
    let rets = service.read(client::QUIET)?;
    rec.expect("then the service got", describe_all(&rets), vec![])?;
    // The manager may not take a reference to its own node, nor ask about it.
    rec.expect("BC_INCREFS 0", refs(&[BC_INCREFS, 0])?, "EINVAL 0".into())?;
    rec.expect("BC_ACQUIRE 0", refs(&[BC_ACQUIRE, 0])?, "EINVAL 0".into())?;
    let seen = broker.ask(&service, INFO, &[0])?;
    rec.expect("node info of handle 0", seen, r#"Err("EINVAL")"#.into())
}

fn lowest_free_handle_is_reused(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let (receiver, sender, to_receiver) = (&p.server, &p.client, p.handle);
    // Sends nodes at `ptrs`; the receiver keeps a strong reference to each; returns the
    // handles.
    let send = |rec: &mut Record, ptrs: &[u64]| -> Result<Vec<u64>, String> {
        let mut parcel = Parcel::default();
        for &p in ptrs {
            parcel.push_object(FlatBinderObject::binder(true, p, p + 1));
        }
        let (txn, rets) = register(receiver, sender, to_receiver, &parcel, |t| {
            let mut keep = Commands::new();
            for o in t.objects() {
                keep = keep.acquire(o.binder as u32);
            }
            receiver.write(&keep)
        })?;
        sender.ack_node_work(&rets)?;
        let handles: Vec<u64> = txn.objects().iter().map(|o| o.binder).collect();
        rec.note(&format!("nodes {ptrs:#x?} became"), &handles);
        Ok(handles)
    };
    // Releases the receiver's last strong reference of each of `handles`; the sender learns
    // that the nodes have no references any more.
    let release = |handles: &[u32]| -> Result<(), String> {
        let mut cmds = Commands::new();
        for &h in handles {
            cmds = cmds.release(h);
        }
        receiver.write(&cmds)?;
        let want = 2 * handles.len();
        let mut got = 0;
        while got < want {
            let rets = sender.wait_for(&Commands::new(), "BR_RELEASE/BR_DECREFS", |r| {
                matches!(r, Ret::Release(..) | Ret::Decrefs(..))
            })?;
            got += rets
                .iter()
                .filter(|r| matches!(r, Ret::Release(..) | Ret::Decrefs(..)))
                .count();
        }
        Ok(())
    };
    let handles = send(rec, &[0x10, 0x20, 0x30])?;
    rec.expect("first three", handles, vec![1, 2, 3])?;
    // The same node again: the same handle (now with two strong references).
    let handles = send(rec, &[0x20])?;
    rec.expect("a node sent again", handles, vec![2])?;
    receiver.write(&Commands::new().release(2))?;
    release(&[2])?;
    let handles = send(rec, &[0x40, 0x50])?;
    rec.expect("after releasing 2", handles, vec![2, 4])?;
    release(&[1, 2, 3, 4])?;
    let handles = send(rec, &[0x60, 0x70])?;
    rec.expect("after releasing all", handles, vec![1, 2])
}

fn nested_call_reaches_the_waiting_thread(path: &str, rec: &mut Record) -> Result<(), String> {
    // A calls B with a node of its own; B calls A back before it answers.
    let p = Pair::new(path, 0)?;
    let (b, a, to_b) = (&p.server, &p.client, p.handle);
    let parcel = Parcel::object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1));
    thread::scope(|s| -> Result<(), String> {
        // Another looper thread of A waits for work of its process: the nested call must not
        // reach it.
        let idle = s.spawn(|| a.idle_read(std::time::Duration::from_secs(3)));
        thread::sleep(std::time::Duration::from_millis(500));
        let server = s.spawn(|| {
            b.serve_one(|t| {
                let handle = t.objects().first().ok_or("no object")?.binder as u32;
                let rets = b.call(handle, 2, 0, &Parcel::bytes(b"nested"))?;
                Ok(Parcel::bytes(&[names(&rets).len() as u8]))
            })
        });
        // A's calling thread serves the nested call while it waits for its reply.
        let mut serve = |_: &client::Txn| Ok(Parcel::bytes(b"from the waiting thread"));
        let seen = a.call_serving(to_b, 1, &parcel, &mut serve);
        let served = server.join().map_err(|_| "the server panicked")?;
        let idle = idle.join().map_err(|_| "the idle thread panicked")?;
        let (seen, (b_txn, b_rets), idle) = match (seen, served, idle) {
            (Ok(a), Ok(b), Ok(i)) => (a, b, i),
            (a, b, i) => return Err(format!("A: {a:?}; B: {b:?}; A's other looper: {i:?}")),
        };
        rec.note("A's calling thread saw", describe_all(&seen));
        rec.expect(
            "A's calling thread",
            names(&seen),
            vec![
                "BR_INCREFS".into(),
                "BR_ACQUIRE".into(),
                "BR_TRANSACTION_COMPLETE".into(),
                "BR_TRANSACTION".into(),
                "BR_TRANSACTION_COMPLETE".into(),
                "BR_REPLY".into(),
            ],
        )?;
        rec.expect("A's other looper", describe_all(&idle), vec![])?;
        rec.note("B got", b_txn.describe());
        rec.note("B saw", describe_all(&b_rets));
        let nested = txns(&seen);
        rec.expect(
            "nested call's code and payload",
            nested.first().map(|t| (t.data.code, t.bytes.clone())),
            Some((2, b"nested".to_vec())),
        )
    })
}

fn oneway_calls_arrive_in_order_one_at_a_time(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let (server, client) = (&p.server, &p.client);
    let parcels: Vec<Parcel> = (1..=5u8).map(|i| Parcel::bytes(&[i; 3])).collect();
    let mut cmds = Commands::new();
    for (i, parcel) in parcels.iter().enumerate() {
        cmds = cmds.transaction(p.handle, 10 + i as u32, TF_ONE_WAY, parcel);
    }
    // All five in one write; five completions.
    let is_complete = |r: &Ret| matches!(r, Ret::TransactionComplete);
    let mut rets = client.wait_for(&cmds, "BR_TRANSACTION_COMPLETE", is_complete)?;
    while rets.len() < 5 {
        let more = client.wait_for(&Commands::new(), "BR_TRANSACTION_COMPLETE", is_complete)?;
        rets.extend(more);
    }
    rec.expect(
        "client saw",
        names(&rets),
        vec!["BR_TRANSACTION_COMPLETE".into(); 5],
    )?;
    let is_txn = |r: &Ret| matches!(r, Ret::Transaction(_));
    let mut codes = Vec::new();
    let first = server.wait_for(&Commands::new().enter_looper(), "BR_TRANSACTION", is_txn)?;
    let mut held = first_txn(&first).ok_or("no transaction")?.clone();
    rec.note("first", held.describe());
    codes.push(held.data.code);
    // While the first one's buffer is held, the next is not delivered, to no thread.
    let other = thread::scope(|s| s.spawn(|| server.idle_read(client::QUIET)).join());
    let other = other.map_err(|_| "the other thread panicked")??;
    rec.expect("another thread got", describe_all(&other), vec![])?;
    for _ in 1..5 {
        let cmds = Commands::new().free_buffer(held.data.buffer);
        let rets = server.wait_for(&cmds, "BR_TRANSACTION", is_txn)?;
        rec.expect("one at a time", txns(&rets).len(), 1)?;
        held = first_txn(&rets).ok_or("no transaction")?.clone();
        codes.push(held.data.code);
    }
    server.write(&Commands::new().free_buffer(held.data.buffer))?;
    rec.expect("codes in order", codes, vec![10, 11, 12, 13, 14])
}

fn transactions_to_a_process_without_mapping(path: &str, rec: &mut Record) -> Result<(), String> {
    let broker = Broker::start(path)?;
    let server = Binder::open_unmapped(path)?;
    let client = Binder::open(path)?;
    // The broker gets the server's node, but its reply has nowhere to go.
    let node = FlatBinderObject::binder(true, NODE_S.0, NODE_S.1);
    let rets = server.call(0, client::broker::ADD, 0, &Parcel::object(node))?;
    rec.expect(
        "server saw",
        names(&rets),
        vec![
            "BR_INCREFS".into(),
            "BR_ACQUIRE".into(),
            "BR_TRANSACTION_COMPLETE".into(),
            "BR_DEAD_REPLY".into(),
        ],
    )?;
    let ee = server.extended_error();
    rec.expect(
        "server's extended error",
        ee,
        Ok((BR_DEAD_REPLY, -libc::ESRCH)),
    )?;
    server.ack_node_work(&rets)?;
    let handle = broker.lookup(&client, 1)?;
    for flags in [0, TF_ONE_WAY] {
        let rets = client.call(handle, 1, flags, &Parcel::bytes(b"anyone?"))?;
        let what = format!("call, flags {flags:#x}");
        rec.expect(&what, names(&rets), vec!["BR_DEAD_REPLY".into()])?;
        let ee = client.extended_error();
        rec.expect("extended error", ee, Ok((BR_DEAD_REPLY, -libc::ESRCH)))?;
    }
    Ok(())
}

/// A transaction to a process whose mapping is gone, with sizes that would be refused if it
/// were there: the C binder looks for the mapping first (`BR_DEAD_REPLY`, `ESRCH`), then at the
/// sizes (`EINVAL`, `ENOSPC`). Found by binder-fuzz (seed 0x4e0f797c981b1921).
fn bad_sizes_to_a_process_whose_mapping_is_gone(
    path: &str,
    rec: &mut Record,
) -> Result<(), String> {
    let broker = Broker::start(path)?;
    let mut server = Binder::open(path)?;
    let node = FlatBinderObject::binder(true, NODE_S.0, NODE_S.1);
    let (published, _, _) = broker.publish(&server, node)?;
    let client = Binder::open(path)?;
    let handle = broker.lookup(&client, published)?;
    let empty = Parcel::default();
    // Sizes that overflow once aligned, and sizes larger than the area (the fuzzer's).
    let sizes = [
        ("data_size near 2^64", u64::MAX - 2, 0, -libc::EINVAL),
        ("offsets_size near 2^64", 0, u64::MAX - 6, -libc::EINVAL),
        ("huge data_size", u64::MAX - 26, 0, -libc::ENOSPC),
        ("2 MiB of data", 2 << 20, 0, -libc::ENOSPC),
    ];
    for mapped in [true, false] {
        if !mapped {
            server.unmap()?;
        }
        for (what, data_size, offsets_size, errno) in sizes {
            let t = TransactionData {
                data_size,
                offsets_size,
                ..empty.txn(handle, 1, 0)
            };
            let cmds = Commands::new().transaction_data(BC_TRANSACTION, t);
            let rets = client.send(&cmds, false)?;
            let (cmd, ee) = if mapped {
                ("BR_FAILED_REPLY", (BR_FAILED_REPLY, errno))
            } else {
                ("BR_DEAD_REPLY", (BR_DEAD_REPLY, -libc::ESRCH))
            };
            let what = format!("{what}, mapped {mapped}");
            rec.expect(&what, names(&rets), vec![cmd.to_string()])?;
            rec.expect("extended error", client.extended_error(), Ok(ee))?;
        }
    }
    // Extra buffers (BC_TRANSACTION_SG) go to the same check first.
    let t = empty.txn(handle, 1, 0);
    let cmds = Commands::new()
        .word(BC_TRANSACTION_SG)
        .raw(&t.to_bytes())
        .dword(64);
    let rets = client.send(&cmds, false)?;
    rec.expect(
        "BC_TRANSACTION_SG, unmapped",
        names(&rets),
        vec!["BR_DEAD_REPLY".into()],
    )?;
    let ee = client.extended_error();
    rec.expect("extended error", ee, Ok((BR_DEAD_REPLY, -libc::ESRCH)))
}

/// While a thread has an error it has not read (a failed transaction's `BR_FAILED_REPLY`), the
/// C binder runs none of its commands: `write_consumed` stays 0. A read that faults while it
/// returns the error takes it off the queue, but the error stays the thread's, and so its
/// writes stay stopped for good. Found by binder-fuzz (seeds 0x31d1f36f2c562e7c,
/// 0x1a21c659012a2df7, 0x2d51281a8544fce3).
fn writes_stop_while_an_error_is_unread(path: &str, rec: &mut Record) -> Result<(), String> {
    let client = Binder::open(path)?;
    let empty = Parcel::default();
    // A handle the process does not have.
    let failing = Commands::new().transaction(0x7fff_0001, 1, TF_ONE_WAY, &empty);
    let looper = Commands::new().enter_looper();
    let consumed = |io: client::Io| (io.result, io.write_consumed);
    let io = client.write_read(&failing, None);
    rec.expect(
        "failed transaction",
        consumed(io),
        (Ok(()), failing.byte_len()),
    )?;
    let io = client.write_read(&looper, None);
    rec.expect("next write", consumed(io), (Ok(()), 0))?;
    let rets = client.read(client::QUIET)?;
    rec.expect("read", names(&rets), vec!["BR_FAILED_REPLY".into()])?;
    let io = client.write_read(&looper, None);
    rec.expect(
        "write after the read",
        consumed(io),
        (Ok(()), looper.byte_len()),
    )?;
    // Again, and the read faults on the error: nothing at 0 + 4 can be written.
    let r = client.write_read_at(&failing, 0, 1024, 4);
    rec.expect(
        "failed transaction, faulting read",
        r,
        (Err(libc::EFAULT), failing.byte_len(), 4),
    )?;
    for what in ["next write", "after a read", "after a read again"] {
        let io = client.write_read(&looper, None);
        rec.expect(what, consumed(io), (Ok(()), 0))?;
        // Nothing is queued: the read waits until interrupted.
        let rets = client.read(client::QUIET)?;
        rec.expect("read", names(&rets), Vec::<String>::new())?;
    }
    let ee = client.extended_error();
    rec.expect("extended error", ee, Ok((BR_FAILED_REPLY, -libc::EINVAL)))
}

/// Serves calls on a looper thread of `server`: answers each with its payload reversed, until
/// a one-way call with code [`STOP`]. Returns how many it answered.
fn serve_until_stop(server: &Binder) -> Result<usize, String> {
    let mut answered = 0;
    let mut cmds = Commands::new().enter_looper();
    let mut reply;
    loop {
        let is_txn = |r: &Ret| matches!(r, Ret::Transaction(_));
        let rets = server.wait_for(&cmds, "BR_TRANSACTION", is_txn)?;
        let t = first_txn(&rets).ok_or("no transaction")?;
        if t.data.code == STOP {
            server.write(&Commands::new().free_buffer(t.data.buffer))?;
            return Ok(answered);
        }
        reply = Parcel::bytes(&t.bytes.iter().rev().copied().collect::<Vec<u8>>());
        let done = |r: &Ret| matches!(r, Ret::TransactionComplete | Ret::FailedReply);
        let answer = Commands::new().free_buffer(t.data.buffer).reply(0, &reply);
        server.wait_for(&answer, "BR_TRANSACTION_COMPLETE", done)?;
        answered += 1;
        cmds = Commands::new();
    }
}

/// The code of the call that ends [`serve_until_stop`].
const STOP: u32 = 99;

fn concurrent_calls(path: &str, rec: &mut Record) -> Result<(), String> {
    const SERVERS: usize = 2;
    const CALLERS: u8 = 3;
    const CALLS: u8 = 10;
    let p = Pair::new(path, 0)?;
    thread::scope(|s| -> Result<(), String> {
        let servers: Vec<_> = (0..SERVERS)
            .map(|_| s.spawn(|| serve_until_stop(&p.server)))
            .collect();
        let callers: Vec<_> = (0..CALLERS)
            .map(|c| {
                let p = &p;
                s.spawn(move || -> Result<usize, String> {
                    let mut matched = 0;
                    for i in 0..CALLS {
                        let payload: Vec<u8> = (0..16 + i).map(|k| k ^ (c << 5) ^ i).collect();
                        let rets = p.client.call(p.handle, 1, 0, &Parcel::bytes(&payload))?;
                        let reply = first_txn(&rets).ok_or("no reply")?;
                        let reversed: Vec<u8> = payload.iter().rev().copied().collect();
                        matched += usize::from(reply.bytes == reversed);
                    }
                    Ok(matched)
                })
            })
            .collect();
        let mut matched = 0;
        for c in callers {
            matched += c.join().map_err(|_| "a caller panicked")??;
        }
        for _ in 0..SERVERS {
            p.client
                .call(p.handle, STOP, TF_ONE_WAY, &Parcel::default())?;
        }
        let mut answered = 0;
        for t in servers {
            answered += t.join().map_err(|_| "a server thread panicked")??;
        }
        let calls = usize::from(CALLERS) * usize::from(CALLS);
        rec.expect("replies that match their calls", matched, calls)?;
        rec.expect("calls answered", answered, calls)
    })
}

fn a_process_dies_with_work_pending(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    // The child publishes node A, calls the server, and waits for the reply until it is
    // killed; meanwhile one-way calls to node A pile up, which it never reads.
    let path_of_child = path.to_string();
    let mut child = Child::fork(move |_, to_parent| {
        let run = || -> Result<(), String> {
            let b = Binder::open(&path_of_child)?;
            let parcel = Parcel::object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1));
            let rets = b.call(0, client::broker::ADD, 0, &parcel)?;
            b.ack_node_work(&rets)?;
            let rets = b.call_keep(
                0,
                client::broker::GET,
                0,
                &Parcel::bytes(&1u32.to_ne_bytes()),
            )?;
            let object = first_txn(&rets).and_then(|t| t.objects().first().copied());
            let to_server = object.ok_or("GET: no object")?.binder as u32;
            b.write(&Commands::new().acquire(to_server))?;
            b.free_replies(&rets)?;
            to_parent.send(1)?;
            b.call(to_server, 5, 0, &Parcel::bytes(b"hold on"))?;
            Ok(())
        };
        match run() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("child: {e}");
                1
            }
        }
    })?;
    child.from.recv()?;
    let to_child = p.broker.lookup(&p.client, 2)?;
    for i in 0..3u8 {
        let rets = p.client.call(
            to_child,
            20 + u32::from(i),
            TF_ONE_WAY,
            &Parcel::bytes(&[i]),
        )?;
        rec.expect(
            "one-way to the child",
            names(&rets),
            vec!["BR_TRANSACTION_COMPLETE".into()],
        )?;
    }
    // The server holds the child's call; the child dies.
    let is_txn = |r: &Ret| matches!(r, Ret::Transaction(_));
    let rets = p
        .server
        .wait_for(&Commands::new().enter_looper(), "BR_TRANSACTION", is_txn)?;
    let held = first_txn(&rets).ok_or("no transaction")?.clone();
    rec.note("the child's call", held.describe());
    child.kill()?;
    // The answer has nowhere to go: the server's BC_REPLY completes, and that is all.
    let answer = Parcel::bytes(b"too late");
    let cmds = Commands::new()
        .free_buffer(held.data.buffer)
        .reply(0, &answer);
    let done = |r: &Ret| {
        matches!(
            r,
            Ret::TransactionComplete | Ret::FailedReply | Ret::DeadReply
        )
    };
    let rets = p.server.wait_for(&cmds, "the reply's outcome", done)?;
    rec.expect(
        "server's late reply",
        names(&rets),
        vec!["BR_TRANSACTION_COMPLETE".into()],
    )?;
    let rets = p.server.read(client::QUIET)?;
    rec.expect("then the server got", describe_all(&rets), vec![])?;
    // The child's node is dead.
    let rets = p.client.call(to_child, 1, 0, &Parcel::default())?;
    rec.expect(
        "call the dead child",
        names(&rets),
        vec!["BR_DEAD_REPLY".into()],
    )?;
    // The server and the client still talk.
    round_trip(rec, &p, 64, 0)
}

fn spawn_looper_requests_with_transactions(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    let mut max = 1u32;
    let r = p.server.fd_ioctl(BINDER_SET_MAX_THREADS, &mut max);
    rec.expect("BINDER_SET_MAX_THREADS(1)", r, Ok(()))?;
    // A looper thread that takes a call while no other thread of its process waits is asked
    // to start one more (BR_SPAWN_LOOPER in the first word), once.
    let request = Parcel::bytes(b"ping");
    let ((_, first), _) = both(
        || p.server.serve_one(|_| Ok(Parcel::default())),
        || p.client.call(p.handle, 1, 0, &request),
    )?;
    rec.expect(
        "first call",
        names(&first),
        vec!["BR_SPAWN_LOOPER".into(), "BR_TRANSACTION".into()],
    )?;
    let ((_, second), _) = both(
        || p.server.serve_one(|_| Ok(Parcel::default())),
        || p.client.call(p.handle, 1, 0, &request),
    )?;
    rec.expect(
        "while the request is open",
        names(&second),
        vec!["BR_TRANSACTION".into()],
    )?;
    // The new thread registers: the maximum is reached, nobody is asked any more.
    let registered = Commands::new().word(BC_REGISTER_LOOPER);
    let ((_, third), _) = both(
        || {
            p.server.write(&registered)?;
            p.server.serve_one(|_| Ok(Parcel::default()))
        },
        || p.client.call(p.handle, 1, 0, &request),
    )?;
    rec.expect(
        "at the maximum",
        names(&third),
        vec!["BR_TRANSACTION".into()],
    )
}

fn thread_exit_with_a_call_pending(path: &str, rec: &mut Record) -> Result<(), String> {
    let p = Pair::new(path, 0)?;
    // The server's thread takes the call, then leaves (BINDER_THREAD_EXIT) without answering.
    let ((exit, _), rets) = both(
        || {
            let is_txn = |r: &Ret| matches!(r, Ret::Transaction(_));
            let rets =
                p.server
                    .wait_for(&Commands::new().enter_looper(), "BR_TRANSACTION", is_txn)?;
            let t = first_txn(&rets).ok_or("no transaction")?.clone();
            p.server
                .write(&Commands::new().free_buffer(t.data.buffer))?;
            Ok((p.server.fd_ioctl(BINDER_THREAD_EXIT, &mut 0i32), t))
        },
        || {
            p.client
                .call(p.handle, 1, 0, &Parcel::bytes(b"still there?"))
        },
    )?;
    rec.expect("BINDER_THREAD_EXIT", exit, Ok(()))?;
    rec.expect(
        "caller saw",
        names(&rets),
        vec!["BR_TRANSACTION_COMPLETE".into(), "BR_DEAD_REPLY".into()],
    )?;
    // The process lives on: another of its threads answers the next call.
    round_trip(rec, &p, 8, 0)
}

/// A child process that publishes node A with the broker and then waits: it dies (`_exit`)
/// when the parent sends 0, or when a call reaches it after the parent sent 2.
fn service_child(path: &str) -> Result<Child, String> {
    let path = path.to_string();
    Child::fork(move |from_parent, to_parent| {
        let run = || -> Result<(), String> {
            let b = Binder::open(&path)?;
            let parcel = Parcel::object(FlatBinderObject::binder(true, NODE_A.0, NODE_A.1));
            let rets = b.call(0, client::broker::ADD, 0, &parcel)?;
            b.ack_node_work(&rets)?;
            to_parent.send(1)?;
            if from_parent.recv()? == 2 {
                b.wait_for(&Commands::new().enter_looper(), "BR_TRANSACTION", |r| {
                    matches!(r, Ret::Transaction(_))
                })?;
            }
            Ok(())
        };
        match run() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("service child: {e}");
                1
            }
        }
    })
}

/// Starts a broker and a [`service_child`]; `holder` gets a handle of the child's node.
fn child_and_handle(path: &str, holder: &Binder) -> Result<(Broker, Child, u32), String> {
    let broker = Broker::start(path)?;
    let child = service_child(path)?;
    child.from.recv()?;
    let handle = broker.lookup(holder, 1)?;
    Ok((broker, child, handle))
}

fn death_notifications(path: &str, rec: &mut Record) -> Result<(), String> {
    let holder = Binder::open(path)?;
    let (broker, mut child, h) = child_and_handle(path, &holder)?;
    rec.expect("handle", h, 1)?;
    holder.write(&Commands::new().enter_looper().request_death(h, 0xd1))?;
    // A second request for the same reference is ignored; a clear with another cookie, or for
    // a reference without a notification, an acknowledgement of nothing, too.
    let cmds = Commands::new()
        .request_death(h, 0xd2)
        .clear_death(h, 0xd3)
        .clear_death(7, 0xd1)
        .dead_binder_done(0xd1);
    let io = holder.write_read(&cmds, None);
    let outcome = crate::proto::outcome(io.result);
    rec.expect("ignored requests", outcome, "ok".into())?;
    rec.expect("write_consumed", io.write_consumed, 4 * 12 + 12)?;
    let rets = holder.read(client::QUIET)?;
    rec.expect("nothing yet", describe_all(&rets), vec![])?;
    let counts = broker.ask(&holder, INFO, &[1])?;
    rec.expect("counts before the death", counts, "Ok((2, 0))".into())?;
    child.to.send(0)?;
    rec.expect("child's exit status", child.wait(), Ok(0))?;
    let is_dead = |r: &Ret| matches!(r, Ret::DeadBinder(_));
    let rets = holder.wait_for(&Commands::new(), "BR_DEAD_BINDER", is_dead)?;
    rec.expect(
        "after the death",
        describe_all(&rets),
        vec!["BR_DEAD_BINDER 0xd1".into()],
    )?;
    // As libbinder and rsbinder do: clear, then acknowledge.
    let cleared = |r: &Ret| matches!(r, Ret::ClearDeathDone(_));
    let cmds = Commands::new().clear_death(h, 0xd1).dead_binder_done(0xd1);
    let rets = holder.wait_for(&cmds, "BR_CLEAR_DEATH_NOTIFICATION_DONE", cleared)?;
    let done = vec!["BR_CLEAR_DEATH_NOTIFICATION_DONE 0xd1".to_string()];
    rec.expect("clear, done", describe_all(&rets), done)?;
    // The references to the dead node stay until released; a new request is answered at
    // once.
    let counts = broker.ask(&holder, INFO, &[1])?;
    rec.expect("counts after the death", counts, "Ok((2, 0))".into())?;
    let cmds = Commands::new().request_death(h, 0xd4);
    let rets = holder.wait_for(&cmds, "BR_DEAD_BINDER", is_dead)?;
    let dead = vec!["BR_DEAD_BINDER 0xd4".to_string()];
    rec.expect("request on a dead node", describe_all(&rets), dead)?;
    // Acknowledge, then clear.
    holder.write(&Commands::new().dead_binder_done(0xd4))?;
    let cmds = Commands::new().clear_death(h, 0xd4);
    let rets = holder.wait_for(&cmds, "BR_CLEAR_DEATH_NOTIFICATION_DONE", cleared)?;
    let done = vec!["BR_CLEAR_DEATH_NOTIFICATION_DONE 0xd4".to_string()];
    rec.expect("done, clear", describe_all(&rets), done)?;
    // Calls to the dead node.
    let dead_reply = vec!["BR_DEAD_REPLY".to_string()];
    let rets = holder.call(h, 1, 0, &Parcel::default())?;
    rec.expect("call the dead node", names(&rets), dead_reply.clone())?;
    let rets = holder.call(h, 1, TF_ONE_WAY, &Parcel::default())?;
    rec.expect("one-way to the dead node", names(&rets), dead_reply)?;
    holder.write(&Commands::new().release(h))?;
    let counts = broker.ask(&holder, INFO, &[1])?;
    rec.expect("counts after the release", counts, "Ok((1, 0))".into())?;
    let rets = holder.read(client::QUIET)?;
    rec.expect("then", describe_all(&rets), vec![])
}

fn dead_reply_when_the_server_dies(path: &str, rec: &mut Record) -> Result<(), String> {
    let caller = Binder::open(path)?;
    let (_broker, mut child, h) = child_and_handle(path, &caller)?;
    child.to.send(2)?;
    // The child gets the call and dies without answering.
    let rets = caller.call(h, 1, 0, &Parcel::bytes(b"are you there"))?;
    rec.expect(
        "caller saw",
        names(&rets),
        vec!["BR_TRANSACTION_COMPLETE".into(), "BR_DEAD_REPLY".into()],
    )?;
    rec.expect("child's exit status", child.wait(), Ok(0))?;
    // Now the node is dead: a call fails at once.
    let rets = caller.call(h, 1, 0, &Parcel::default())?;
    rec.expect("call again", names(&rets), vec!["BR_DEAD_REPLY".into()])
}

/// The checks, with the binder-lite features they need.
pub const CHECKS: &[Entry] = &[
    (
        "sync_payload_sizes",
        &[TRANSACTIONS, NODES_AND_REFS],
        sync_payload_sizes,
    ),
    (
        "oneway_payload_sizes",
        &[TRANSACTIONS, NODES_AND_REFS],
        oneway_payload_sizes,
    ),
    (
        "transaction_errors",
        &[TRANSACTIONS, NODES_AND_REFS],
        transaction_errors,
    ),
    ("no_context_manager", &[TRANSACTIONS], no_context_manager),
    (
        "context_manager_of_its_own_process",
        &[TRANSACTIONS],
        context_manager_of_its_own_process,
    ),
    ("bad_offsets", &[TRANSACTIONS, NODES_AND_REFS], bad_offsets),
    (
        "free_buffer_errors",
        &[TRANSACTIONS, NODES_AND_REFS],
        free_buffer_errors,
    ),
    (
        "nodes_become_handles_and_back",
        &[TRANSACTIONS, NODES_AND_REFS],
        nodes_become_handles_and_back,
    ),
    (
        "strong_and_weak_counts",
        &[TRANSACTIONS, NODES_AND_REFS],
        strong_and_weak_counts,
    ),
    (
        "lowest_free_handle_is_reused",
        &[TRANSACTIONS, NODES_AND_REFS],
        lowest_free_handle_is_reused,
    ),
    (
        "nested_call_reaches_the_waiting_thread",
        &[TRANSACTIONS, NODES_AND_REFS],
        nested_call_reaches_the_waiting_thread,
    ),
    (
        "oneway_calls_arrive_in_order_one_at_a_time",
        &[TRANSACTIONS, NODES_AND_REFS],
        oneway_calls_arrive_in_order_one_at_a_time,
    ),
    (
        "spawn_looper_requests_with_transactions",
        &[TRANSACTIONS, NODES_AND_REFS],
        spawn_looper_requests_with_transactions,
    ),
    (
        "thread_exit_with_a_call_pending",
        &[TRANSACTIONS, NODES_AND_REFS],
        thread_exit_with_a_call_pending,
    ),
    (
        "concurrent_calls",
        &[TRANSACTIONS, NODES_AND_REFS],
        concurrent_calls,
    ),
    (
        "a_process_dies_with_work_pending",
        &[TRANSACTIONS, NODES_AND_REFS, DEATH],
        a_process_dies_with_work_pending,
    ),
    (
        "transactions_to_a_process_without_mapping",
        &[TRANSACTIONS, NODES_AND_REFS],
        transactions_to_a_process_without_mapping,
    ),
    (
        "death_notifications",
        &[TRANSACTIONS, NODES_AND_REFS, DEATH],
        death_notifications,
    ),
    (
        "dead_reply_when_the_server_dies",
        &[TRANSACTIONS, NODES_AND_REFS, DEATH],
        dead_reply_when_the_server_dies,
    ),
    (
        "writes_stop_while_an_error_is_unread",
        &[TRANSACTIONS],
        writes_stop_while_an_error_is_unread,
    ),
    (
        "bad_sizes_to_a_process_whose_mapping_is_gone",
        &[TRANSACTIONS, NODES_AND_REFS],
        bad_sizes_to_a_process_whose_mapping_is_gone,
    ),
];
