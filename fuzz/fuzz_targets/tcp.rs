//! Forged segments against a listening and an established TCP socket:
//! nothing may panic, and the invariants of `TcpRig::check` hold (the
//! server reads exactly the stream sent; sequence variables in order;
//! memory bounded). Input: repeated 13-byte steps
//! [kind][a: u32 LE][b: u32 LE][c: u16 LE][d: u16 LE].
#![no_main]

use libfuzzer_sys::fuzz_target;
use vimage::fuzz::tcp::{FLAG_CHOICES, Op, Seq, TcpRig};

fn seq(sel: u8, x: u32) -> Seq {
    match sel % 3 {
        0 => Seq::Next,
        1 => Seq::Off(x as i32),
        _ => Seq::Raw(x),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rig = TcpRig::new();
    for s in data.chunks_exact(13).take(200) {
        let a = u32::from_le_bytes([s[1], s[2], s[3], s[4]]);
        let b = u32::from_le_bytes([s[5], s[6], s[7], s[8]]);
        let c = u16::from_le_bytes([s[9], s[10]]);
        let d = u16::from_le_bytes([s[11], s[12]]);
        let op = match s[0] % 5 {
            0 => Op::Syn { port: c % 4, isn: a },
            1 => Op::Ack,
            2 => Op::Data { len: c, fin: d & 1 == 1 },
            3 => Op::Raw {
                flags: FLAG_CHOICES[(s[0] as usize / 5) % FLAG_CHOICES.len()],
                seq: seq(s[0] / 50, a),
                ack: seq(s[0] / 150, b),
                win: c,
                len: d % 2000,
                good_sum: d % 7 != 0,
            },
            _ => Op::Wait(c % 5000),
        };
        rig.step(&op);
        if let Err(e) = rig.check() {
            panic!("after {op:?}: {e}");
        }
    }
});
