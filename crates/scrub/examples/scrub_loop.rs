//! A fixed number of `scrub_envelope` calls on one envelope file, for instruction counts
//! under callgrind (exact and repeatable on a busy machine, unlike wall-clock time):
//!
//! ```sh
//! cargo build --release -p scrub --example scrub_loop
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.50 \
//!     target/release/examples/scrub_loop FILE 50
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 \
//!     target/release/examples/scrub_loop FILE 0
//! ```
//!
//! (total of the first minus total of the second) / 50 is the cost of one call; the
//! zero-iteration run pays the same start-up (compiling the detectors, reading the file).

// A measuring tool: it prints what it measured.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bytes::Bytes;
use envelope::Envelope;
use scrub::{scrub_envelope, Decision, Policy, PolicyConfig, Upstream};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: scrub_loop FILE ITERATIONS");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("ITERATIONS: a number");
    let body = Bytes::from(std::fs::read(&file).expect("FILE: readable"));
    let env = Envelope::parse(body).expect("FILE: an envelope");
    let policy = Policy::new(PolicyConfig::default()).expect("the default policy builds");
    let mut kept = 0;
    for _ in 0..n {
        let out = scrub_envelope(
            std::hint::black_box(&env),
            &policy,
            Upstream::default(),
            |_, _| Decision::Forward { ids_allowed: false },
        );
        kept += out.envelope.items().len();
    }
    println!("{kept} items kept");
}
