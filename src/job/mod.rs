//! The jobs: what a command runs, as one library call on a validated plan.
//! The CLI turns arguments into a plan, calls the job, and prints what it
//! returns; everything that decides how a run goes lives here.

pub mod bench;
pub mod check;
pub mod embed;
pub mod eval;
pub mod label;
pub mod learn;
pub mod suggest;
