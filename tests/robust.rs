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

/// How many echo requests the router has answered.
fn echoes_answered(rig: &Rig) -> u64 {
    let st = rig.host.exec("jexec r sysctl net.inet6.icmp6.stats").stdout;
    st.split("reflect = ")
        .nth(1)
        .and_then(|x| x.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Extension headers in any number and order (RFC 8200 §4): a chain
    /// the RFC allows (hop-by-hop first, options to skip, routing
    /// headers with no segments left, atomic fragments) is walked to the
    /// echo, which is answered; any other is dropped, with the router
    /// unharmed.
    #[test]
    fn extension_header_chains_of_any_length(
        chain in proptest::collection::vec((0u8..4, 0u8..4, prop_oneof![Just(0u8), any::<u8>()]), 0..48),
    ) {
        let rig = Rig::new();
        let before = echoes_answered(&rig);
        rig.feed(0, &Rig::echo6_through(&chain));
        let allowed = chain.iter().enumerate().all(|(i, &(kind, _, option))| match kind {
            0 => i == 0 && (option == 0 || option >> 6 == 0),
            1 => option == 0 || option >> 6 == 0,
            _ => true,
        });
        let answered = echoes_answered(&rig) - before;
        prop_assert_eq!(answered, allowed as u64, "chain {:?}", chain);
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

#[test]
fn floods_of_ipv6_fragments_and_solicitations_stay_within_the_limits() {
    let rig = Rig::new();
    for i in 0..3000u32 {
        rig.feed(0, &Rig::fragment6(i));
    }
    // Every solicitation from a new neighbour would be an entry.
    for i in 0..3000u16 {
        rig.feed(0, &Rig::solicit(0x100 + i));
    }
    rig.check();
}

#[test]
fn floods_of_router_advertisements_and_packet_too_big_stay_within_the_limits() {
    let rig = Rig::new();
    // Many routers, each with its own prefix (and so an address to make).
    for i in 0..200u16 {
        rig.feed_host(&Rig::router_advert(0x100 + i, 0x100 + i));
    }
    // Path MTUs for ever new destinations.
    for i in 0..500u16 {
        rig.feed_host(&rig.too_big(i));
    }
    let o = rig.host.exec("jexec a netstat -s -p icmp6");
    assert!(o.stdout.contains("\t500 path MTU changes\n"), "{o:?}");
    rig.check();
}

#[test]
fn redirects_are_heard_only_from_the_router_in_use_and_their_routes_are_bounded() {
    let rig = Rig::new();
    let run = |cmd: &str| {
        let o = rig.host.exec(cmd);
        assert!(o.success(), "{cmd}: {o:?}");
        o.stdout
    };
    // a's first hop is 2001:db8::1, not fe80::1: none is taken (RFC 4861 §8.1).
    for i in 0..100u16 {
        rig.feed_host(&rig.redirect(1, i));
    }
    let o = run("jexec a netstat -s -p icmp6");
    assert!(o.contains("\t100 bad redirect messages\n"), "{o}");
    // Through fe80::1 each new destination gets a host route, up to
    // nd6_maxentries of them.
    run("jexec a route -6 change default fe80::1%epair0b");
    for i in 0..300u16 {
        rig.feed_host(&rig.redirect(1, 1000 + i));
    }
    let rt = run("jexec a netstat -rn -f inet6");
    let dynamic = rt.lines().filter(|l| l.contains("UGHD")).count();
    assert_eq!(dynamic, 64, "{rt}");
    run("jexec a route -6 change default 2001:db8::1");
    rig.check();
}

#[test]
fn a_flood_of_arp_requests_cannot_lock_the_router_out_of_its_next_hop() {
    let rig = Rig::new();
    // The router learns every sender that asks for its address.
    for i in 0..300u16 {
        rig.feed(0, &Rig::arp_who_has(i));
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

mod ipv6_views {
    use proptest::prelude::*;
    use vimage::wire::icmpv6;
    use vimage::wire::ipv6::{self, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_ROUTING, Ipv6Repr};

    /// One extension header: its protocol number and, for the options and
    /// routing kinds, its length in 8-byte units beyond the first.
    fn ext() -> impl Strategy<Value = (u8, u8)> {
        (
            prop_oneof![Just(IPPROTO_DSTOPTS), Just(IPPROTO_ROUTING), Just(IPPROTO_FRAGMENT)],
            0u8..4,
        )
    }

    /// A datagram whose chain is `exts` (padded options, fragments that
    /// are first fragments), then `tail` bytes of UDP; and the offset the
    /// upper layer must be found at.
    fn build(exts: &[(u8, u8)], tail: usize) -> (Vec<u8>, usize) {
        let mut body = Vec::new();
        for (i, &(kind, units)) in exts.iter().enumerate() {
            let next = exts.get(i + 1).map_or(17, |e| e.0);
            let len = if kind == IPPROTO_FRAGMENT {
                8
            } else {
                (units as usize + 1) * 8
            };
            let mut h = vec![0u8; len];
            h[0] = next;
            if kind != IPPROTO_FRAGMENT {
                h[1] = units;
                // PadN over the body, so the options are well formed.
                if kind == IPPROTO_DSTOPTS {
                    h[2] = 1;
                    h[3] = (len - 4) as u8;
                }
            }
            body.extend(h);
        }
        let off = 40 + body.len();
        body.extend(vec![0u8; tail]);
        let mut d = vec![0u8; 40];
        Ipv6Repr {
            src: "2001:db8::1".parse().expect("address"),
            dst: "2001:db8::2".parse().expect("address"),
            next_header: exts.first().map_or(17, |e| e.0),
            payload_len: body.len() as u16,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut d);
        d.extend(body);
        (d, off)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// A chain of any length is walked to its upper layer.
        #[test]
        fn any_chain_is_walked_to_the_upper_layer(exts in proptest::collection::vec(ext(), 0..40), tail in 0usize..32) {
            let (d, off) = build(&exts, tail);
            let c = ipv6::ext_walk(&d).expect("a well-formed chain");
            prop_assert_eq!((c.proto, c.off), (17, off));
            prop_assert_eq!(c.frag.is_some(), exts.iter().any(|e| e.0 == IPPROTO_FRAGMENT));
        }

        /// Cut or corrupted anywhere, it is an error or a walk that stays
        /// inside the datagram; never a panic.
        #[test]
        fn cut_or_corrupted_chains_fail_cleanly(
            exts in proptest::collection::vec(ext(), 1..12),
            cut in 0usize..200,
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..6),
        ) {
            let (mut d, _) = build(&exts, 8);
            for (at, b) in flips {
                if let Some(x) = d.get_mut(at) { *x = b; }
            }
            d.truncate(cut.max(1).min(d.len()));
            if let Ok(c) = ipv6::ext_walk(&d) {
                let end = 40 + ipv6::Packet::new_unchecked(&d[..]).payload_len() as usize;
                prop_assert!(c.off <= end && end <= d.len());
            }
        }

        /// Neighbour discovery options of any bytes: parsed or refused.
        #[test]
        fn nd_options_of_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Some(opts) = icmpv6::nd_options(&b) {
                prop_assert!(opts.len() <= b.len() / 8);
            }
            if let Some(p) = icmpv6::Packet::new_checked(&b[..]) {
                let _ = p.nd_options();
            }
        }
    }
}

mod rip {
    use proptest::prelude::*;
    use vimage::fuzz::rip::RipRig;

    /// A RIP message: mostly a well-formed header and entries with
    /// fields drawn to hit every check, sometimes any bytes at all.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let entry = (
            prop_oneof![Just(2u16), Just(0), Just(0xffff), any::<u16>()],
            any::<u16>(),
            prop_oneof![any::<u32>(), (0u32..256).prop_map(|x| 0x0a00_0000 | (x << 8))],
            prop_oneof![
                (0u32..=32).prop_map(|l| if l == 0 { 0 } else { u32::MAX << (32 - l) }),
                any::<u32>()
            ],
            prop_oneof![Just(0u32), any::<u32>()],
            prop_oneof![0u32..=17, any::<u32>()],
        );
        let good = (
            prop_oneof![Just(2u8), Just(1), any::<u8>()],
            prop_oneof![Just(2u8), any::<u8>()],
            proptest::collection::vec(entry, 0..30),
        )
            .prop_map(|(cmd, ver, es)| {
                let mut b = vec![cmd, ver, 0, 0];
                for (afi, tag, addr, mask, nh, metric) in es {
                    for f in [
                        &afi.to_be_bytes()[..],
                        &tag.to_be_bytes(),
                        &addr.to_be_bytes(),
                        &mask.to_be_bytes(),
                        &nh.to_be_bytes(),
                        &metric.to_be_bytes(),
                    ] {
                        b.extend_from_slice(f);
                    }
                }
                b
            });
        prop_oneof![4 => good, 1 => proptest::collection::vec(any::<u8>(), 0..600)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn forged_rip_messages_keep_ripd_within_bounds(
            msgs in proptest::collection::vec((message(), any::<bool>(), 0u16..8000), 1..20)
        ) {
            let mut rig = RipRig::new();
            for (m, group, ms) in &msgs {
                rig.send(m, *group, *ms);
                if let Err(e) = rig.check() {
                    prop_assert!(false, "{e}");
                }
            }
        }
    }
}

mod ripng {
    use proptest::prelude::*;
    use vimage::fuzz::ripng::RipngRig;

    /// A RIPng message: mostly a well-formed header and entries with
    /// fields drawn to hit every check (next hop entries among them),
    /// sometimes any bytes at all.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let prefix = prop_oneof![
            any::<u128>(),
            (0u128..256).prop_map(|x| (0x2001_0db8_u128 << 96) | (x << 80)),
            Just(0xfe80_u128 << 112),
            Just(0xff02_u128 << 112 | 9),
            Just(1),
            Just(0),
        ];
        let rte = (
            prefix,
            any::<u16>(),
            prop_oneof![0u8..=128, any::<u8>()],
            prop_oneof![0u8..=17, Just(0xff), any::<u8>()],
        );
        let good = (
            prop_oneof![Just(2u8), Just(1), any::<u8>()],
            prop_oneof![Just(1u8), any::<u8>()],
            proptest::collection::vec(rte, 0..80),
        )
            .prop_map(|(cmd, ver, rtes)| {
                let mut b = vec![cmd, ver, 0, 0];
                for (prefix, tag, plen, metric) in rtes {
                    b.extend_from_slice(&prefix.to_be_bytes());
                    b.extend_from_slice(&tag.to_be_bytes());
                    b.extend_from_slice(&[plen, metric]);
                }
                b
            });
        prop_oneof![4 => good, 1 => proptest::collection::vec(any::<u8>(), 0..600)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        #[test]
        fn forged_ripng_messages_keep_ripngd_within_bounds(
            msgs in proptest::collection::vec((message(), any::<bool>(), 0u16..8000), 1..16)
        ) {
            let mut rig = RipngRig::new();
            for (m, group, ms) in &msgs {
                rig.send(m, *group, *ms);
                if let Err(e) = rig.check() {
                    prop_assert!(false, "{e}");
                }
            }
        }
    }
}

mod ospf {
    use proptest::prelude::*;
    use vimage::fuzz::ospf::{OspfRig, R};
    use vimage::wire::ospf::{
        DD_I, DD_M, DD_MS, Dd, Hello, LINK_STUB, LINK_TRANSIT, Lsa, LsaHdr, OspfBody, OspfRepr, RouterLink, RouterLsa,
    };

    const N: u32 = 0x0a00_0101;

    /// An LSA: mostly a router LSA of n or a stranger with stub and
    /// transit links anywhere (loopback and multicast too), any
    /// sequence number and age, its checksum right or not.
    fn lsa() -> impl Strategy<Value = Lsa> {
        (
            prop_oneof![Just(N), Just(R), Just(0x0a00_0909), any::<u32>()],
            prop_oneof![Just(0u16), Just(3600), any::<u16>()],
            prop_oneof![Just(0x8000_0001u32 as i32), any::<i32>()],
            proptest::collection::vec(
                (
                    prop_oneof![Just(0x0a09_0000u32), Just(0x7f00_0000), Just(0xe000_0000), any::<u32>()],
                    prop_oneof![Just(0xffff_ff00u32), any::<u32>()],
                    prop_oneof![Just(LINK_STUB), Just(LINK_TRANSIT), any::<u8>()],
                    any::<u16>(),
                ),
                0..6,
            ),
            prop_oneof![4 => Just(false), 1 => Just(true)],
            prop_oneof![Just(1u8), 1u8..=5, any::<u8>()],
        )
            .prop_map(|(adv, age, seq, links, corrupt, ls_type)| {
                let body = RouterLsa {
                    flags: 0,
                    links: links
                        .into_iter()
                        .map(|(id, data, kind, metric)| RouterLink { id, data, kind, metric })
                        .collect(),
                }
                .emit();
                let h = LsaHdr {
                    age,
                    options: 2,
                    ls_type,
                    id: adv,
                    adv,
                    seq,
                    checksum: 0,
                    length: 0,
                };
                let l = Lsa::build(h, &body);
                if corrupt {
                    let mut b = l.bytes.clone();
                    b[16] ^= 0x5a;
                    Lsa { bytes: b }
                } else {
                    l
                }
            })
    }

    /// A packet from n: Hellos that make it a neighbour (or break the
    /// rules), database descriptions in any state, updates, requests
    /// and acks; sometimes any bytes.
    fn packet() -> impl Strategy<Value = Vec<u8>> {
        let hello = (any::<bool>(), 0u8..3, prop_oneof![Just(1u16), any::<u16>()]).prop_map(|(lists_r, prio, hi)| {
            OspfBody::Hello(Hello {
                mask: 0xffff_ff00,
                hello_interval: hi,
                options: 2,
                priority: prio,
                dead_interval: 4,
                dr: 0,
                bdr: 0,
                neighbors: if lists_r { vec![R] } else { vec![] },
            })
        });
        let dd = (
            prop_oneof![Just(DD_I | DD_M | DD_MS), Just(DD_M), Just(0u8), any::<u8>()],
            prop_oneof![Just(1u32), Just(2), any::<u32>()],
            proptest::collection::vec(lsa().prop_map(|l| l.hdr()), 0..4),
        )
            .prop_map(|(flags, seq, headers)| {
                OspfBody::Dd(Dd {
                    mtu: 1500,
                    options: 2,
                    flags,
                    seq,
                    headers,
                })
            });
        let lsu = proptest::collection::vec(lsa(), 0..8).prop_map(OspfBody::Lsu);
        let lsr = proptest::collection::vec(lsa().prop_map(|l| l.hdr().key()), 0..4).prop_map(OspfBody::Lsr);
        let ack = proptest::collection::vec(lsa().prop_map(|l| l.hdr()), 0..4).prop_map(OspfBody::Ack);
        let good = (
            prop_oneof![hello, dd, lsu, lsr, ack],
            prop_oneof![Just(N), any::<u32>()],
        )
            .prop_map(|(body, router_id)| {
                OspfRepr {
                    router_id,
                    area: 0,
                    body,
                }
                .emit()
            });
        prop_oneof![8 => good, 1 => proptest::collection::vec(any::<u8>(), 0..200)]
    }

    /// Six seconds of n's Hellos naming r: past r's wait timer, r the DR
    /// (the higher ID), n its neighbour in ExStart.
    fn befriend(rig: &mut OspfRig) {
        let hello = OspfRepr {
            router_id: N,
            area: 0,
            body: OspfBody::Hello(Hello {
                mask: 0xffff_ff00,
                hello_interval: 1,
                options: 2,
                priority: 1,
                dead_interval: 4,
                dr: 0,
                bdr: 0,
                neighbors: vec![R],
            }),
        }
        .emit();
        for _ in 0..6 {
            rig.send(&hello, true, false, 1000);
        }
    }

    /// The rig reaches ospfd: a Hello naming r makes n its neighbour,
    /// past two-way into the database exchange, and r's DR on the link.
    #[test]
    fn the_forged_neighbour_is_heard() {
        let mut rig = OspfRig::new();
        befriend(&mut rig);
        let nbr = rig.host.exec("jexec r vtysh -c 'show ip ospf neighbor'").stdout;
        assert!(nbr.contains("10.0.1.1          1 ExStart/Backup "), "{nbr}");
        assert!(rig.check().is_ok());
    }

    /// An LSA storm from an adjacent neighbour stops at `max-lsa`: the
    /// rest refused and counted.
    #[test]
    fn an_lsa_storm_stops_at_max_lsa() {
        let mut rig = OspfRig::new();
        let o = rig
            .host
            .exec("jexec r vtysh -c 'conf t' -c 'router ospf' -c 'max-lsa 6'");
        assert!(o.success(), "{o:?}");
        befriend(&mut rig);
        // r is master (the higher ID): answer its first DD as slave, and
        // r is in Exchange, taking updates.
        let dd = rig
            .recv()
            .into_iter()
            .find_map(|p| match p.body {
                OspfBody::Dd(d) if d.flags & DD_I != 0 => Some(d),
                _ => None,
            })
            .expect("r's first DD");
        let reply = OspfRepr {
            router_id: N,
            area: 0,
            body: OspfBody::Dd(Dd {
                mtu: 1500,
                options: 2,
                flags: 0,
                seq: dd.seq,
                headers: vec![],
            }),
        }
        .emit();
        rig.send(&reply, false, false, 10);
        let storm: Vec<Lsa> = (0..40u32)
            .map(|i| {
                let body = RouterLsa {
                    flags: 0,
                    links: vec![RouterLink {
                        id: 0x0a63_0000 | i << 8,
                        data: 0xffff_ff00,
                        kind: LINK_STUB,
                        metric: 1,
                    }],
                }
                .emit();
                let adv = 0x0a63_0000 | i;
                let h = LsaHdr {
                    age: 1,
                    options: 2,
                    ls_type: 1,
                    id: adv,
                    adv,
                    seq: 0x8000_0001u32 as i32,
                    checksum: 0,
                    length: 0,
                };
                Lsa::build(h, &body)
            })
            .collect();
        let lsu = OspfRepr {
            router_id: N,
            area: 0,
            body: OspfBody::Lsu(storm),
        }
        .emit();
        rig.send(&lsu, false, false, 100);
        let o = rig.host.exec("jexec r vtysh -c 'show ip ospf'").stdout;
        let n = rig.host.exec("jexec r vtysh -c 'show ip ospf neighbor'").stdout;
        assert!(
            n.contains(" Exchange/") || n.contains(" Loading/") || n.contains(" Full/"),
            "{n}"
        );
        let line = o.lines().find(|l| l.contains("(max-lsa)")).unwrap_or("");
        let w: Vec<&str> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .collect();
        let (held, refused): (usize, usize) = (w[0].parse().unwrap_or(99), w[2].parse().unwrap_or(0));
        assert!(held <= 6 && refused + held >= 40, "{o}");
        assert!(rig.check().is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn forged_ospf_packets_keep_ospfd_within_bounds(
            msgs in proptest::collection::vec((packet(), any::<bool>(), 0u16..3000), 1..30)
        ) {
            let mut rig = OspfRig::new();
            for (m, group, ms) in &msgs {
                rig.send(m, *group, true, *ms);
                if let Err(e) = rig.check() {
                    prop_assert!(false, "{e}");
                }
            }
        }
    }
}

mod bgp {
    use proptest::prelude::*;
    use vimage::fuzz::bgp::BgpRig;
    use vimage::wire::bgp::{Attrs, Msg, ORIGIN_IGP, Seg, Update, attr, emit_updates, emit_updates6};

    fn attrs() -> Attrs {
        Attrs {
            origin: ORIGIN_IGP,
            as_path: vec![Seg::Seq(vec![65002])],
            next_hop: 0x0a00_0101,
            ..Attrs::default()
        }
    }

    /// An UPDATE for `prefix` with `extra` (flags, type, value) after the
    /// good attributes.
    fn with_attr(prefix: (u32, u8), extra: Option<(u8, u8, &[u8])>) -> Vec<u8> {
        let mut b = Vec::new();
        emit_updates(&attrs(), &[prefix], true, &mut b);
        if let Some((flags, t, v)) = extra {
            let al = u16::from_be_bytes([b[21], b[22]]) as usize;
            let mut x = vec![flags, t, v.len() as u8];
            x.extend_from_slice(v);
            b.splice(23 + al..23 + al, x.iter().copied());
            b[21..23].copy_from_slice(&((al + x.len()) as u16).to_be_bytes());
            let len = b.len() as u16;
            b[16..18].copy_from_slice(&len.to_be_bytes());
        }
        b
    }

    fn table(rig: &BgpRig) -> String {
        rig.host.exec("jexec r vtysh -c 'show bgp ipv4 unicast'").stdout
    }

    #[test]
    fn malformed_updates_are_handled_as_rfc7606_says() {
        let mut rig = BgpRig::new();
        assert!(rig.neighbor().contains("BGP state = Established"), "{}", rig.neighbor());
        // A good route, then the same with a LOCAL_PREF of 3 octets:
        // treat-as-withdraw, the session stays.
        rig.send(&with_attr((0x0a09_0000, 16), None), 50);
        assert!(table(&rig).contains("*> 10.9.0.0/16      10.0.1.1"), "{}", table(&rig));
        rig.send(
            &with_attr(
                (0x0a09_0000, 16),
                Some((attr::TRANSITIVE, attr::LOCAL_PREF, &[0, 0, 1])),
            ),
            50,
        );
        assert!(!table(&rig).contains("10.9.0.0/16"), "{}", table(&rig));
        // A bad AGGREGATOR is discarded; the route stands.
        rig.send(
            &with_attr(
                (0x0a08_0000, 16),
                Some((attr::OPTIONAL | attr::TRANSITIVE, attr::AGGREGATOR, &[1])),
            ),
            50,
        );
        assert!(table(&rig).contains("*> 10.8.0.0/16"), "{}", table(&rig));
        let n = rig.neighbor();
        assert!(n.contains("(RFC 7606): 1; attributes discarded: 1"), "{n}");
        assert!(n.contains("BGP state = Established"), "{n}");
        assert_eq!(
            rig.got.iter().filter(|m| matches!(m, Msg::Notification { .. })).count(),
            0
        );
        // Routes to loopback or from a path with our own AS are not taken.
        let mut b = Vec::new();
        let mut a = attrs();
        a.as_path = vec![Seg::Seq(vec![65002, 65001])];
        emit_updates(&a, &[(0x0a07_0000, 16)], true, &mut b);
        emit_updates(&attrs(), &[(0x7f00_0000, 8)], true, &mut b);
        rig.send(&b, 50);
        let t = table(&rig);
        assert!(!t.contains("10.7.0.0/16") && !t.contains("127.0.0.0/8"), "{t}");
        // An NLRI of /33 cannot be read past: NOTIFICATION 3/10 (Invalid
        // Network Field), the session ends and its routes go.
        let mut bad = with_attr((0x0a06_0000, 16), None);
        let l = bad.len();
        bad[l - 3] = 33;
        rig.send(&bad, 100);
        assert!(
            rig.got
                .iter()
                .any(|m| matches!(m, Msg::Notification { code: 3, sub: 10, .. })),
            "{:?}",
            rig.got
        );
        assert!(!table(&rig).contains("10.8.0.0/16"), "{}", table(&rig));
        assert!(rig.neighbor().contains("Invalid Network Field"), "{}", rig.neighbor());
        rig.check().expect("bounds");
    }

    fn v6(s: &str) -> u128 {
        s.parse::<std::net::Ipv6Addr>().map(u128::from).unwrap_or(0)
    }

    /// IPv6 unicast in MP_REACH_NLRI: a next hop that is multicast or
    /// unspecified is treated as withdraw, and martians are not taken.
    #[test]
    fn ipv6_updates_are_checked_as_ipv4_ones() {
        let mut rig = BgpRig::new();
        let table6 = |rig: &BgpRig| rig.host.exec("jexec r vtysh -c 'show bgp ipv6 unicast'").stdout;
        let with_nh = |nh: u128| Attrs {
            next_hop: 0,
            next_hop6: Some((nh, Some(v6("fe80::1")))),
            ..attrs()
        };
        let mut b = Vec::new();
        emit_updates6(&with_nh(v6("2001:db8::1")), &[(v6("2001:db8:9::"), 48)], true, &mut b);
        rig.send(&b, 50);
        assert!(table6(&rig).contains("2001:db8:9::/48"), "{}", table6(&rig));
        for bad in ["ff02::1", "::"] {
            let mut b = Vec::new();
            emit_updates6(&with_nh(v6(bad)), &[(v6("2001:db8:9::"), 48)], true, &mut b);
            rig.send(&b, 50);
            assert!(!table6(&rig).contains("2001:db8:9::/48"), "{bad}: {}", table6(&rig));
        }
        let mut b = Vec::new();
        let martians = [
            (v6("fe80::"), 64),
            (v6("ff00::"), 8),
            (v6("::1"), 128),
            (v6("::ffff:0:0"), 96),
        ];
        emit_updates6(&with_nh(v6("2001:db8::1")), &martians, true, &mut b);
        rig.send(&b, 50);
        let t = table6(&rig);
        assert!(t.starts_with("No BGP prefixes displayed"), "{t}");
        let n = rig.neighbor();
        assert!(n.contains("(RFC 7606): 2; attributes discarded: 0"), "{n}");
        assert!(
            n.contains(" For address family: IPv6 Unicast\n  0 accepted prefixes"),
            "{n}"
        );
        rig.check().expect("bounds");
    }

    #[test]
    fn maximum_prefix_ends_a_flood() {
        let mut rig = BgpRig::new();
        let prefixes: Vec<(u32, u8)> = (0..2_000u32).map(|i| (0x0b00_0000 | i << 8, 24)).collect();
        let mut b = Vec::new();
        emit_updates(&attrs(), &prefixes, true, &mut b);
        rig.send(&b, 200);
        assert!(
            rig.got
                .iter()
                .any(|m| matches!(m, Msg::Notification { code: 6, sub: 1, .. })),
            "Cease/Maximum Number of Prefixes Reached: {:?} {}",
            rig.got,
            rig.neighbor()
        );
        rig.check().expect("bounds");
        assert!(
            rig.neighbor().contains("Maximum prefixes reached"),
            "{}",
            rig.neighbor()
        );
        // Down until cleared, as FRR: a new session is refused.
        rig.send(&[], 2000);
        let sum = rig.host.exec("jexec r vtysh -c 'show bgp summary'").stdout;
        assert!(sum.contains(" Idle (PfxCt)        0 N/A"), "{sum}");
        rig.host.exec("jexec r vtysh -c 'clear bgp 10.0.1.1'");
        rig.send(&[], 100);
        assert!(rig.neighbor().contains("BGP state = Established"), "{}", rig.neighbor());
    }

    /// Messages from n: mostly UPDATEs with attributes of any type,
    /// flags and length, prefixes of any length, sometimes headers
    /// broken, OPENs and KEEPALIVEs out of place.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let attr = (
            any::<u8>(),
            prop_oneof![1u8..=18, any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..12),
        );
        let prefix = (any::<u32>(), prop_oneof![Just(24u8), 0u8..=33]);
        prop_oneof![
            6 => (proptest::collection::vec(attr, 0..5), proptest::collection::vec(prefix, 0..8), any::<bool>())
                .prop_map(|(extra, nlri, good)| {
                    let mut b = Vec::new();
                    let nlri: Vec<(u32, u8)> = nlri.into_iter().map(|(a, l)| (a, l.min(32))).collect();
                    let u = Update { attrs: good.then(attrs), nlri, ..Update::default() };
                    Msg::Update(u).emit(true, &mut b);
                    for (flags, t, v) in extra {
                        let al = u16::from_be_bytes([b[21], b[22]]) as usize;
                        let mut x = vec![flags & !attr::EXTENDED, t, v.len() as u8];
                        x.extend_from_slice(&v);
                        b.splice(23 + al..23 + al, x.iter().copied());
                        b[21..23].copy_from_slice(&((al + x.len()) as u16).to_be_bytes());
                    }
                    let len = b.len() as u16;
                    b[16..18].copy_from_slice(&len.to_be_bytes());
                    b
                }),
            2 => (proptest::collection::vec((any::<u128>(), 0u8..=128), 0..8), any::<u128>(), any::<bool>())
                .prop_map(|(nlri, nh, ll)| {
                    let a = Attrs { next_hop6: Some((nh, ll.then_some(nh))), ..attrs() };
                    let mut b = Vec::new();
                    emit_updates6(&a, &nlri, true, &mut b);
                    b
                }),
            1 => proptest::collection::vec(any::<u8>(), 0..64),
            1 => Just({ let mut b = Vec::new(); Msg::Keepalive.emit(true, &mut b); b }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn a_hostile_neighbor_keeps_bgpd_within_bounds(msgs in proptest::collection::vec(message(), 1..20)) {
            let mut rig = BgpRig::new();
            for m in &msgs {
                rig.send(m, 20);
            }
            prop_assert!(rig.check().is_ok(), "{:?}", rig.check());
        }
    }
}
