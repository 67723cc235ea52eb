//! What the programs that run inside the test VM share.

pub mod binder;
pub mod fd;
pub mod ktap;
pub mod lite_state;
pub mod uapi;
