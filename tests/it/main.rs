//! The one integration-test binary: the model loads once for all tests.

mod support;
mod embed_ref;
mod spans;
mod label;
mod rows;
mod eval;
mod fetch;
mod package;
mod batch;
mod battery;
mod head;
mod fuzz_regressions;
mod bench;
mod xlmr;
mod e5_ref;
mod cli;
