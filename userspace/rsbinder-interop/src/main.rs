// SPDX-License-Identifier: GPL-2.0

//! rsbinder, a binder user space that no one here wrote, on binder-lite and on a C binder
//! device, in one boot.
//!
//! For each device, `rsb_hub` (the service manager of rsbinder-tools) becomes the context
//! manager, an echo service built on rsbinder registers with it, and a client looks the service
//! up and calls it: synchronous and one-way calls with payloads up to 64 KiB, a callback binder
//! that the service calls while the client waits for its reply, and a death recipient that must
//! fire when the service is killed. Each step is one KTAP line per device: `rsb_c_<step>` and
//! `rsb_lite_<step>`.
//!
//! The one binary plays every part but the hub: without arguments it is the test ([`driver`]),
//! which starts `rsb_hub`, then itself as `service DEVICE` and as `client DEVICE LAST_STEP`.

mod client;
mod driver;
mod service;

rsbinder::include_aidl!("echo");
pub use interop::IEcho::{BnEcho, IEcho};
pub use interop::IEchoCallback::{BnEchoCallback, IEchoCallback};

/// The name the echo service registers under.
pub const SERVICE_NAME: &str = "rsbinder.interop.echo";

/// The number of binder threads the service and the client let the driver start.
pub const MAX_THREADS: u32 = 4;

/// The bytes of a payload of `len` bytes, distinct for each `seed`.
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// What the client's callback answers for `data`, and what the client expects of it: its
/// length plus the sum of its bytes.
pub fn checksum(data: &[u8]) -> i32 {
    data.iter()
        .fold(data.len() as i32, |sum, b| sum.wrapping_add(i32::from(*b)))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (None, _, _) => driver::run(),
        (Some("service"), Some(device), None) => service::run(device),
        (Some("client"), Some(device), Some(last)) => client::run(device, last),
        _ => {
            eprintln!("usage: rsbinder-interop [service DEVICE | client DEVICE LAST_STEP]");
            2
        }
    };
    std::process::exit(code);
}
