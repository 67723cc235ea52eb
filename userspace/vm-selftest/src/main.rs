//! Userspace checks run by the test VM's `/init`, reported as KTAP.

mod binder;
mod misc;

use vmtest::{fd, ktap};

fn main() {
    let suites: [&[(&str, binder::Test)]; 2] = [binder::TESTS, misc::TESTS];
    let mut ktap = ktap::Ktap::new(suites.iter().map(|s| s.len()).sum());
    for (name, test) in suites.into_iter().flatten() {
        ktap.result(name, test());
    }
    std::process::exit(ktap.exit_code());
}
