//! A hostile neighbor's bytes on its BGP session against bgpd: nothing
//! may panic, and the bounds of `BgpRig::check` hold (bgpd runs, no more
//! prefixes than `maximum-prefix`, routes only through the neighbor to
//! real destinations). Input: chunks, each [wait][len: u16][len bytes]:
//! the bytes written on the session (opened again if bgpd ended it),
//! then `wait` times 16 ms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::bgp::BgpRig;

fuzz_target!(|data: &[u8]| {
    let mut rig = BgpRig::new();
    let mut rest = data;
    while let [wait, hi, lo, tail @ ..] = rest {
        let n = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        rig.send(&tail[..n], u16::from(*wait) * 16);
        rest = &tail[n..];
    }
    if let Err(e) = rig.check() {
        panic!("{e}");
    }
});
