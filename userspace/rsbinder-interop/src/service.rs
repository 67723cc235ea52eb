// SPDX-License-Identifier: GPL-2.0

//! The echo service: registers with the service manager of its device and serves until it is
//! killed.

use crate::{BnEcho, IEcho, IEchoCallback, MAX_THREADS, SERVICE_NAME};
use rsbinder::{hub, BinderResult, Interface, ProcessState, Strong};
use std::io::Write;

/// The service's implementation of the interface.
struct Echo;

impl Interface for Echo {}

impl IEcho for Echo {
    fn echo(&self, data: &[u8]) -> BinderResult<Vec<u8>> {
        Ok(data.to_vec())
    }

    fn echoOneway(
        &self,
        seq: i32,
        data: &[u8],
        callback: &Strong<dyn IEchoCallback>,
    ) -> BinderResult<()> {
        callback.onEcho(seq, data)
    }

    fn callBack(&self, callback: &Strong<dyn IEchoCallback>, data: &[u8]) -> BinderResult<i32> {
        callback.onCall(data)
    }

    fn pid(&self) -> BinderResult<i32> {
        Ok(std::process::id() as i32)
    }
}

/// Serves on `device`; prints `registered` once the service manager has the service. Returns
/// only on failure.
pub fn run(device: &str) -> i32 {
    if let Err(e) = ProcessState::init(device, MAX_THREADS) {
        eprintln!("service: ProcessState::init({device}): {e}");
        return 1;
    }
    ProcessState::start_thread_pool();
    let binder = BnEcho::new_binder(Echo);
    if let Err(e) = hub::add_service(SERVICE_NAME, binder.as_binder()) {
        eprintln!("service: add_service({SERVICE_NAME}): {e:?}");
        return 1;
    }
    println!("registered");
    let _ = std::io::stdout().flush();
    match ProcessState::join_thread_pool() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("service: join_thread_pool: {e:?}");
            1
        }
    }
}
