pub mod console;
pub mod ktap;
