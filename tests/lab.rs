//! Lab files: the examples run, bad files are refused with where and
//! why, runs repeat byte for byte, generators route end to end, the
//! timeline changes links, and the pictures show what is there.

mod common;

use std::process::Command;

use vimage::lab::{Lab, Options, build, run};
use vimage::{Config, Host};

fn vimage(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .args(args)
        .output()
        .expect("run vimage");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn example(name: &str) -> String {
    format!("{}/examples/labs/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Build and run a lab given as text, in process; the text output.
fn run_text(text: &str) -> (String, bool) {
    let lab = Lab::parse("test.toml", text).expect("a good lab");
    let host = Host::new(Config {
        seed: lab.seed,
        ..Config::default()
    });
    let built = build(&host, &lab).expect("built");
    let (records, ok) = run(&host, &lab, &built, &Options::default());
    (vimage::lab::format(&records), ok)
}

#[test]
fn the_example_labs_run() {
    for (name, want) in [
        ("lan", "2 packets transmitted, 2 packets received"),
        ("chain", " 7  10.0.0.26 (10.0.0.26)"),
        ("bridged", "Connection to server 80 port [tcp/http] succeeded!"),
        ("routed", "iperf Done."),
        ("wireless", "iperf Done."),
        ("dumbbell", "receiver"),
        ("grid", "icmp_seq=0 ttl=5 "),
        ("demo", "4  10.0.0.10 (10.0.0.10)"),
        ("rip", " 5  10.0.0.10  "),
        ("ospf", "O>* 10.0.0.8/30 [110/103] via 10.0.0.14, epair3a"),
        (
            "bgp",
            "*> 10.0.0.8/30      10.0.0.14                              0 65004 65005 65003 ?",
        ),
    ] {
        let (st, out, err) = vimage(&["run", &example(name)]);
        assert_eq!(st, 0, "{name}: {out}\n{err}");
        assert!(out.contains(want), "{name}: {want:?} in\n{out}");
    }
    // The RIP ring routes IPv6 round the lost link too (ripngd).
    let (_, out, _) = vimage(&["run", &example("rip")]);
    assert!(out.contains(" 5  fd00:0:0:2::2  "), "{out}");
    // The dumbbell: both flows got through the shared bottleneck.
    let (_, out, _) = vimage(&["run", &example("dumbbell")]);
    assert_eq!(out.matches(" sender\n").count(), 2, "{out}");
}

#[test]
fn bad_files_say_where_and_what() {
    // A loss in percent is a loss.
    let lab = Lab::parse(
        "t.toml",
        "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\nloss = \"2%\"\n",
    )
    .expect("percent");
    assert_eq!(lab.links[0].emu.0, ["plr", "0.02"]);
    let dir = common::tmpdir("lab-bad");
    for (text, want) in [
        (
            "[[node]]\nname = \"a\"\ncolor = \"red\"\n",
            ":3:1: unknown field `color`",
        ),
        (
            "[[node]]\nname = \"a\"\n[[link]]\nends = [\"a\", \"zz\"]\n",
            ":4:14: no node is called \"zz\"",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"a\"\n",
            ":4:8: node \"a\" is defined twice",
        ),
        (
            "[[event]]\nat = \"later\"\nrun = \"x\"\n",
            ":2:6: expected a duration like \"5ms\"",
        ),
        (
            "[[node]]\nname = \"a\"\nkind = \"toaster\"\n",
            ":3:8: expected kind = \"host\", \"router\" or \"switch\"",
        ),
        (
            "[[node]]\nname = \"a\"\ntap = \"t0\"\n",
            ":3:7: a tap needs clock = \"real\"",
        ),
        (
            "[topology]\nkind = \"grid\"\nsize = 10\n",
            ":3:8: a grid's size is [rows, columns]",
        ),
        (
            "routes = \"isis\"\n",
            ":1:10: expected routes = \"auto\", \"rip\", \"ospf\", \"bgp\" or \"none\"",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\nbw = \"fast\"\n",
            ":7:6:",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\naddrs = [\"10.0.0.1/24\", \"10.0.1.2/24\"]\n",
            ":7:9: the two ends of a link are on one network",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\naddrs = [\"10.0.0.1/24\", \"10.0.0.1/24\"]\n",
            ":7:25: 10.0.0.1 is used twice (first at 7:10)",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\nloss = 2.0\n",
            ":7:8: expected a probability from 0 to 1, or a percentage like \"2%\"",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\ndelay = 5\n",
            ":7:9: expected a duration like \"5ms\" in quotes, not 5",
        ),
        (
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\n[[route]]\nnode = \"a\"\nto = \"default\"\nvia = \"192.168.9.9\"\n",
            ":10:7: 192.168.9.9 is not on a network a is attached to",
        ),
        (
            "[[event]]\nat = \"1s\"\nlink = \"nope\"\ndown = true\n",
            ":3:8: no link is called \"nope\"",
        ),
        (
            "routes = \"auto\"\n[topology]\nkind = \"random\"\nsize = 10000\n",
            ": routes = \"auto\" on this graph would give each of its 10000 nodes a route to most of its 15000 links",
        ),
    ] {
        let f = dir.join("bad.toml");
        std::fs::write(&f, text).expect("write");
        let (st, out, err) = vimage(&["run", f.to_str().expect("path")]);
        assert_eq!((st, out.as_str()), (2, ""), "{text}");
        assert!(
            err.starts_with(&format!("vimage: {}", f.display())) && err.contains(want),
            "{want:?} in {err:?}"
        );
    }
}

#[test]
fn the_same_seed_repeats_output_and_captures() {
    let dir = common::tmpdir("lab-repeat");
    let (d1, d2) = (dir.join("one"), dir.join("two"));
    let lab = example("routed");
    let (s1, o1, _) = vimage(&["run", &lab, "--seed", "7", "--pcap", d1.to_str().expect("p")]);
    let (s2, o2, _) = vimage(&["run", &lab, "--seed", "7", "--pcap", d2.to_str().expect("p")]);
    assert_eq!((s1, s2), (0, 0));
    assert_eq!(o1, o2, "same seed, same output");
    let mut files: Vec<_> = std::fs::read_dir(&d1)
        .expect("pcaps")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "one capture per link end: {files:?}");
    for f in &files {
        let (a, b) = (
            std::fs::read(d1.join(f)).expect("a"),
            std::fs::read(d2.join(f)).expect("b"),
        );
        assert!(a.len() > 1000, "{f:?} holds the traffic");
        assert_eq!(a, b, "{f:?} differs");
    }
    if let Some(bad) = common::tshark_bad_packets(&d1.join("h1-epair0a.pcap")) {
        assert_eq!(bad, "", "malformed packets or bad checksums");
    }
    // Another seed: the lossy link loses other packets.
    let (_, o3, _) = vimage(&["run", &lab, "--seed", "8"]);
    assert_ne!(o1, o3);
    // JSON: one object per command.
    let (_, j, _) = vimage(&["run", &lab, "--json"]);
    let first: serde_json::Value = serde_json::from_str(j.lines().next().expect("a line")).expect("json");
    assert_eq!(first["node"], "h2");
    assert_eq!(first["cmd"], "iperf3 -s &");
}

#[test]
fn generated_topologies_route_end_to_end() {
    // IPv4, and the same shapes dual stack: traceroute6 takes the same hops.
    for (trace, inet6) in [("traceroute", ""), ("traceroute6", "inet6 = true\n")] {
        for (topo, from, to, hops) in [
            ("kind = \"chain\"\nsize = 20", "n0", "n19", 19),
            ("kind = \"star\"\nsize = 12", "n3", "n11", 2),
            ("kind = \"tree\"\nsize = 40\nfanout = 3", "n39", "n1", 4),
            ("kind = \"grid\"\nsize = [6, 7]", "n5_0", "n0_6", 11),
            ("kind = \"random\"\nsize = 40\ndegree = 3", "n0", "n39", 0),
        ] {
            let text = format!(
                "routes = \"auto\"\n{inet6}[topology]\n{topo}\n[[event]]\nat = \"1s\"\nnode = \"{from}\"\nrun = \"{trace} -n -q 1 {to}\"\n"
            );
            let (out, ok) = run_text(&text);
            assert!(ok, "{topo}: {out}");
            let n = out
                .lines()
                .filter(|l| l.starts_with(char::is_whitespace) || l.starts_with(char::is_numeric))
                .count();
            if hops > 0 {
                assert_eq!(n, hops, "{topo}: {out}");
            }
            let last = out.lines().last().unwrap_or("");
            assert!(!last.contains('*'), "{topo}: the last hop answered: {out}");
            assert!(inet6.is_empty() || last.contains(" fd00:"), "{topo}: over IPv6: {out}");
        }
    }
}

#[test]
fn the_timeline_changes_links_removes_jails_moves_interfaces() {
    let text = r#"
routes = "auto"
[[node]]
name = "a"
[[node]]
name = "b"
[[link]]
ends = ["a", "b"]
delay = "10ms"
[[event]]
at = "1s"
node = "a"
run = "ping -c 2 -i 0.2 b"
[[event]]
at = "2s"
link = "a-b"
delay = "50ms"
[[event]]
at = "3s"
node = "a"
run = "ping -c 1 b"
[[event]]
at = "4s"
link = "a-b"
down = true
[[event]]
at = "5s"
node = "a"
run = "! ping -c 1 -t 1 b"
[[event]]
at = "6s"
link = "a-b"
up = true
[[event]]
at = "7s"
node = "a"
run = "ping -c 1 b"
[[event]]
at = "8s"
run = "jail -r b"
[[event]]
at = "8.5s"
run = "ifconfig -l"
[[event]]
at = "9s"
run = "jail -c name=c vnet persist"
[[event]]
at = "9s"
run = "ifconfig epair0b vnet c"
[[event]]
at = "9s"
run = "jexec c ifconfig epair0b inet 10.0.0.2/30 up"
[[event]]
at = "10s"
node = "a"
run = "ping -c 1 10.0.0.2"
"#;
    let (out, ok) = run_text(text);
    assert!(ok, "{out}");
    // The first ping of a pair waits for ARP too; the second is the link's.
    let rtts: Vec<&str> = out.lines().filter(|l| l.contains(" bytes from ")).collect();
    assert_eq!(rtts.len(), 5, "{out}");
    assert!(rtts[1].contains("time=20.0"), "{}", rtts[1]);
    assert!(rtts[2].contains("time=100.0"), "{}", rtts[2]);
    assert!(out.contains("[   2.000 a] pipe epair0a config delay 50ms\n"), "{out}");
    assert!(out.contains("[   4.000 b] ifconfig epair0b down\n"), "{out}");
    assert!(out.contains("[exit status 2, as meant]"), "{out}");
    // Removing b's jail sent its interface home; moved on, it works again.
    assert!(out.contains("[   8.500 host] ifconfig -l\nlo0 epair0b\n"), "{out}");
    assert!(rtts[4].contains("from 10.0.0.2:"), "{}", rtts[4]);
}

#[test]
fn pictures_show_nodes_links_and_addresses() {
    let (st, svg, _) = vimage(&["graph", &example("routed")]);
    assert_eq!(st, 0);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for want in [
        ">h1</text>",
        ">r</text>",
        ">h2</text>",
        "10Mbit/s 10ms 1% loss",
        ">10.0.0.1/30</text>",
        ">epair0a</text>",
        ">epair1b</text>",
    ] {
        assert!(svg.contains(want), "{want} in the SVG");
    }
    let (_, dot, _) = vimage(&["graph", "--dot", &example("routed")]);
    assert!(dot.contains("\"h1\" -- \"r\""), "{dot}");
    assert!(dot.contains("taillabel=\"epair0a\\n10.0.0.1/30\""), "{dot}");
    // The names drawn are the names a run gives.
    let lab = Lab::load(&example("routed")).expect("lab");
    let built = build(&Host::new(Config::default()), &lab).expect("built");
    for (i, (a, b)) in built.ifnames.iter().enumerate() {
        assert_eq!([a.clone(), b.clone()], Lab::ifnames(i));
    }
    // A 10,000-node grid draws too (positions from the shape).
    let (st, big, _) = vimage(&["graph", &example("grid")]);
    assert_eq!(st, 0);
    assert_eq!(big.matches("<circle").count(), 10_000);
}

#[test]
fn a_topology_on_the_command_line_is_a_lab() {
    let (st, out, err) = vimage(&["run", "--topology", "grid:3x4"]);
    assert_eq!(st, 0, "{err}");
    assert_eq!(
        out,
        "# grid:3x4: 12 nodes, 17 links, 75 routes (seed 1, virtual clock)\n"
    );
    let (st, out, _) = vimage(&["graph", "--dot", "--topology", "chain:3"]);
    assert_eq!(st, 0);
    assert!(out.contains("\"n0\" -- \"n1\""), "{out}");
    let (st, _, err) = vimage(&["run", "--topology", "ring:5"]);
    assert_eq!(st, 2);
    assert_eq!(
        err,
        "vimage: --topology ring:5: expected chain:N, star:N, tree:N, grid:ROWSxCOLS or random:N\n"
    );
}

#[test]
fn dual_stack_labs_take_ipv6_in_addrs_and_number_the_rest() {
    let text = "routes = \"auto\"
[[node]]
name = \"a\"
[[node]]
name = \"r\"
kind = \"router\"
[[node]]
name = \"sw\"
kind = \"switch\"
[[node]]
name = \"b\"
[[node]]
name = \"c\"
[[link]]
ends = [\"a\", \"r\"]
addrs = [\"192.168.1.1/24 2001:db8:1::1/64\", \"192.168.1.2/24 2001:db8:1::2/64\"]
[[link]]
ends = [\"r\", \"sw\"]
[[link]]
ends = [\"b\", \"sw\"]
[[link]]
ends = [\"c\", \"sw\"]
addrs = [\"fd00:ffff::63/64\", \"\"]
[[event]]
at = \"1s\"
node = \"a\"
run = \"ping6 -c 1 b\"
[[event]]
at = \"2s\"
node = \"c\"
run = \"ping6 -c 1 2001:db8:1::1\"
[[event]]
at = \"3s\"
node = \"b\"
run = \"ping -c 1 a\"
[[event]]
at = \"4s\"
node = \"r\"
run = \"ifconfig -a inet6\"
";
    let lab = Lab::parse("ds.toml", text).expect("a good lab");
    assert!(lab.inet6, "an IPv6 address in addrs makes the lab dual stack");
    assert_eq!(
        lab.links[1].addr6,
        [Some(("fd00:ffff::1".parse().expect("addr"), 64)), None],
        "a switch's members are numbered in its ULA /64"
    );
    let (out, ok) = run_text(text);
    assert!(ok, "{out}");
    assert!(
        out.contains("PING6(56=40+8+8 bytes) 2001:db8:1::1 --> fd00:ffff::2\n16 bytes from fd00:ffff::2"),
        "{out}"
    );
    assert!(out.contains("16 bytes from 2001:db8:1::1, icmp_seq=0 hlim=63"), "{out}");
    assert!(out.contains("64 bytes from 192.168.1.1: icmp_seq=0 ttl=63"), "{out}");
    // A lab's addresses are planned: none waits for DAD.
    assert!(out.contains("\tinet6 2001:db8:1::2 prefixlen 64\n"), "{out}");
    assert!(!out.contains("tentative"), "{out}");
    for (bad, want) in [
        ("fd00::1/64 fd00::9/64", "one IPv6 address per end"),
        ("fd00::1/129", "expected an IPv6 address/prefix like \"fd00::1/64\""),
        ("ff02::1/64", "expected an IPv6 address/prefix like \"fd00::1/64\""),
    ] {
        let t = format!(
            "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\naddrs = [\"{bad}\", \"fd00::2/64\"]\n"
        );
        let e = Lab::parse("bad.toml", &t).expect_err(bad).to_string();
        assert!(e.contains(want), "{bad}: {e}");
    }
    let e = Lab::parse(
        "bad.toml",
        "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\naddrs = [\"fd00::1/64\", \"fd01::2/64\"]\n",
    )
    .expect_err("two networks")
    .to_string();
    assert!(e.contains("the two ends of a link are on one network"), "{e}");
}

#[test]
fn rip_ospf_and_bgp_labs_route_themselves_and_bad_frr_lines_are_located() {
    // a -- r -- b under `head` (`routes = ...`), and what a runs at `at`.
    let lab = |head: &str, at: &str, runs: &[&str]| {
        let events: String = runs
            .iter()
            .map(|r| format!("[[event]]\nat = \"{at}\"\nnode = \"a\"\nrun = \"{r}\"\n"))
            .collect();
        run_text(&format!(
            "{head}
[[node]]
name = \"a\"
[[node]]
name = \"r\"
kind = \"router\"
[[node]]
name = \"b\"
[[link]]
ends = [\"a\", \"r\"]
[[link]]
ends = [\"r\", \"b\"]
{events}"
        ))
    };
    // OSPF's routers wait a dead interval (40 s) before electing a DR.
    for (routes, at) in [("rip", "10s"), ("ospf", "50s"), ("bgp", "5s")] {
        let (out, ok) = lab(&format!("routes = \"{routes}\""), at, &["ping -c 1 b"]);
        assert!(ok && out.contains("1 packets received"), "{routes}: {out}");
    }
    // Dual stack: ripngd too, and IPv6 reaches across.
    let (out, ok) = lab(
        "routes = \"rip\"\ninet6 = true",
        "10s",
        &["ping6 -c 1 b", "vtysh -c 'show ipv6 route ripng'"],
    );
    assert!(
        ok && out.contains("1 packets received") && out.contains("R>* fd00:0:0:1::/64 [120/2] via fe80::"),
        "{out}"
    );
    // And bgpd carries IPv6 unicast over its IPv4 sessions.
    let (out, ok) = lab(
        "routes = \"bgp\"\ninet6 = true",
        "5s",
        &["ping6 -c 1 b", "vtysh -c 'show ipv6 route bgp'"],
    );
    assert!(
        ok && out.contains("1 packets received") && out.contains("B>* fd00:0:0:1::/64 [20/0] via fe80::"),
        "{out}"
    );
    // A node's `ip route`s: staticd installs them.
    let (out, ok) = run_text(
        "[[node]]\nname = \"a\"\nfrr = \"ip route 10.0.0.4/30 10.0.0.2\"\n\
         [[node]]\nname = \"r\"\nkind = \"router\"\n\
         [[node]]\nname = \"b\"\nfrr = \"ip route 10.0.0.0/30 10.0.0.5\"\n\
         [[link]]\nends = [\"a\", \"r\"]\n[[link]]\nends = [\"r\", \"b\"]\n\
         [[event]]\nat = \"2s\"\nnode = \"a\"\nrun = \"ping -c 1 b\"\n",
    );
    assert!(
        ok && out.contains("staticd -d") && out.contains("1 packets received"),
        "{out}"
    );
    let e =
        Lab::parse("bad.toml", "[[node]]\nname = \"r\"\nfrr = \"router rip\\n bogus\"\n").expect_err("a bad frr line");
    let e = e.to_string();
    assert!(e.starts_with("bad.toml:3:"), "{e}");
    assert!(e.contains("frr line 2: % Unknown command: bogus"), "{e}");
}
