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
