//! Arbitrary frames into a router vnet with several interfaces and
//! forwarding on: nothing may panic, state stays bounded.
//! Input: repeated [port: u8][len: u16 LE][frame: len bytes].
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::Rig;

thread_local! {
    static RIG: Rig = Rig::new();
}

fuzz_target!(|data: &[u8]| {
    RIG.with(|rig| {
        let mut d = data;
        while d.len() >= 3 {
            let port = d[0];
            let len = (u16::from_le_bytes([d[1], d[2]]) as usize).min(d.len() - 3);
            rig.feed(port, &d[3..3 + len]);
            d = &d[3 + len..];
        }
        rig.check();
    });
});
