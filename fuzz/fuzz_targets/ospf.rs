//! Forged OSPF packets against ospfd: nothing may panic, and the bounds
//! of `OspfRig::check` hold (ospfd runs, no more LSAs than sent, routes
//! only through the neighbour to real destinations). Input: packets,
//! each [flags][len: u16][len bytes]: flags bit 0 to 224.0.0.5, bit 1
//! the length and checksum made right, the rest the milliseconds to
//! wait after it (times 16).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::ospf::OspfRig;

fuzz_target!(|data: &[u8]| {
    let mut rig = OspfRig::new();
    let mut rest = data;
    while let [flags, hi, lo, tail @ ..] = rest {
        let n = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        rig.send(&tail[..n], flags & 1 == 1, flags & 2 == 2, u16::from(flags >> 2) * 16);
        rest = &tail[n..];
    }
    if let Err(e) = rig.check() {
        panic!("{e}");
    }
});
