//! Placeholder so the workspace manifest parses; the simulator benchmark replaces it.
fn main() {}
