// SPDX-License-Identifier: GPL-2.0

//! Generates the Rust code of the echo interfaces from their AIDL files, as rsbinder's users do.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=aidl");
    let generated = rsbinder_aidl::Builder::new()
        .source(PathBuf::from("aidl/interop/IEchoCallback.aidl"))
        .source(PathBuf::from("aidl/interop/IEcho.aidl"))
        .output(PathBuf::from("echo.rs"))
        .generate();
    if let Err(e) = generated {
        eprintln!("rsbinder-aidl: {e:?}");
        std::process::exit(1);
    }
}
