//! Forged RIP messages against ripd: nothing may panic, and the bounds
//! of `RipRig::check` hold (ripd runs, metrics 1 to 16, destinations
//! valid, the table no bigger than what was sent). Input: messages, each
//! [flags][len: u8][len bytes]: flags bit 0 to the group, the rest the
//! milliseconds to wait after it (times 16).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::rip::RipRig;

fuzz_target!(|data: &[u8]| {
    let mut rig = RipRig::new();
    let mut rest = data;
    while let [flags, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        rig.send(&tail[..n], flags & 1 == 1, u16::from(flags >> 1) * 16);
        rest = &tail[n..];
    }
    if let Err(e) = rig.check() {
        panic!("{e}");
    }
});
