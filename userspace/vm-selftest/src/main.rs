//! Userspace checks run by the test VM's `/init`, reported as KTAP.

mod binder;
mod ktap;

fn main() {
    let mut ktap = ktap::Ktap::new(binder::TESTS.len());
    for (name, test) in binder::TESTS {
        ktap.result(name, test());
    }
    std::process::exit(ktap.exit_code());
}
