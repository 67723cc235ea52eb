//! What the programs that run inside the test VM share.

pub mod fd;
pub mod ktap;
