//! A minimal KTAP writer for test programs that run inside the VM.

/// One KTAP document on standard output.
pub struct Ktap {
    number: usize,
    failed: usize,
}

impl Ktap {
    /// Starts a document with a plan of `planned` tests.
    pub fn new(planned: usize) -> Ktap {
        println!("KTAP version 1");
        println!("1..{planned}");
        Ktap {
            number: 0,
            failed: 0,
        }
    }

    /// Reports one test; a failure's reason goes into a diagnostic line.
    pub fn result(&mut self, name: &str, outcome: Result<(), String>) {
        self.number += 1;
        match outcome {
            Ok(()) => println!("ok {} {name}", self.number),
            Err(why) => {
                self.failed += 1;
                println!("# {name}: {why}");
                println!("not ok {} {name}", self.number);
            }
        }
    }

    /// Reports one test as skipped, with the reason.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.number += 1;
        println!("ok {} {name} # SKIP {why}", self.number);
    }

    /// Exit status for the program: 0 when every test passed.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed > 0)
    }
}
