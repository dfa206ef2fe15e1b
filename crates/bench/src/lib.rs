//! drs-bench: what the engine costs where AWS bills or waits. One module per benchmark of
//! issue 6; each returns a [`report::Report`] (a table and JSON). docs/performance.md has the
//! figures and the commands.

pub mod calls;
pub mod coldstart;
pub mod core_cost;
pub mod fanout;
pub mod gap;
pub mod latency;
pub mod report;
pub mod shapes;
pub mod sizes;
pub mod start;
pub mod writes;
