//! Connecting to AWS, one way for every command that does (`fix`, `serve`, remote `scan` sources): the
//! account crate's [`AwsTarget`], which the live audit uses too.

pub use trailguard_account::aws::AwsTarget;
