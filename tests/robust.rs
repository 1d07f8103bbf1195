//! Any bytes on any interface are handled or dropped and counted: never a
//! panic, never unbounded memory. (The same target, coverage-guided, is in
//! fuzz/: see docs/FUZZING.md.)

use proptest::prelude::*;
use vimage::fuzz::Rig;

fn frames() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    let raw = proptest::collection::vec(any::<u8>(), 0..1600);
    let mutated = (
        0usize..Rig::TEMPLATES,
        proptest::collection::vec((any::<u16>(), any::<u8>()), 0..8),
        any::<u16>(),
    )
        .prop_map(|(t, flips, cut)| Rig::mutate(t, &flips, cut));
    let frame = prop_oneof![raw, mutated.clone(), mutated];
    proptest::collection::vec((any::<u8>(), frame), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_and_mutated_frames_never_break_a_router(input in frames()) {
        let rig = Rig::new();
        for (port, frame) in &input {
            rig.feed(*port, frame);
        }
        rig.check();
    }
}

#[test]
fn a_flood_of_fragments_stays_within_the_limits() {
    let rig = Rig::new();
    for i in 0..5000u16 {
        rig.feed(0, &Rig::fragment(i));
    }
    rig.check();
}

mod tcp_adversary {
    use proptest::prelude::*;
    use vimage::fuzz::tcp::{FLAG_CHOICES, Op, Seq, TcpRig};

    fn seq() -> impl Strategy<Value = Seq> {
        prop_oneof![
            Just(Seq::Next),
            (-70_000i32..70_000).prop_map(Seq::Off),
            any::<i32>().prop_map(Seq::Off),
            any::<u32>().prop_map(Seq::Raw),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0u16..4, any::<u32>()).prop_map(|(port, isn)| Op::Syn { port, isn }),
            2 => Just(Op::Ack),
            4 => (0u16..3000, any::<bool>()).prop_map(|(len, fin)| Op::Data { len, fin }),
            6 => (0..FLAG_CHOICES.len(), seq(), seq(), any::<u16>(), 0u16..2000, any::<bool>()).prop_map(
                |(f, seq, ack, win, len, good_sum)| Op::Raw {
                    flags: FLAG_CHOICES[f],
                    seq,
                    ack,
                    win,
                    len,
                    good_sum: good_sum || len % 4 != 0,
                }
            ),
            1 => (1u16..5000).prop_map(Op::Wait),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Whatever the peer sends, in whatever state: no panic, sequence
        /// variables in order, memory bounded, and what the server reads
        /// is exactly the stream sent, once and in order.
        #[test]
        fn adversarial_segments_keep_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
            let mut rig = TcpRig::new();
            for op in &ops {
                rig.step(op);
                if let Err(e) = rig.check() {
                    return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
                }
            }
        }
    }

    #[test]
    fn the_rig_plays_a_correct_peer() {
        let mut rig = TcpRig::new();
        rig.step(&Op::Syn {
            port: 1,
            isn: 0xffff_f000,
        });
        rig.step(&Op::Ack);
        for _ in 0..5 {
            rig.step(&Op::Data { len: 1400, fin: false });
        }
        // Old data, a segment beyond the window, a bad checksum: ignored.
        rig.step(&Op::Raw {
            flags: 0x10 | 0x08,
            seq: Seq::Off(-700),
            ack: Seq::Next,
            win: 1000,
            len: 700,
            good_sum: true,
        });
        rig.step(&Op::Raw {
            flags: 0x10,
            seq: Seq::Off(1 << 20),
            ack: Seq::Next,
            win: 1000,
            len: 100,
            good_sum: true,
        });
        rig.step(&Op::Raw {
            flags: 0x10,
            seq: Seq::Off(0),
            ack: Seq::Next,
            win: 1000,
            len: 100,
            good_sum: false,
        });
        rig.step(&Op::Data { len: 1000, fin: true });
        rig.step(&Op::Wait(100));
        assert_eq!(rig.check(), Ok(()));
        assert_eq!(
            rig.bytes_read(),
            8000,
            "the sequence space wrapped and all arrived once"
        );
    }
}
