//! Forged RIP messages against ripd: nothing may panic, and the bounds
//! of `RipRig::check` hold (ripd runs, metrics 1 to 16, destinations
//! valid, the table no bigger than what was sent). Input: messages, as
//! `vimage::fuzz::messages` reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::rip::RipRig;

fuzz_target!(|data: &[u8]| {
    let mut rig = RipRig::new();
    for (m, to_group, ms) in vimage::fuzz::messages(data) {
        rig.send(m, to_group, ms);
    }
    if let Err(e) = rig.check() {
        panic!("{e}");
    }
});
