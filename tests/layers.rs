//! The layers' dependencies run one way (docs/ARCHITECTURE.md): wire
//! imports nothing of the stack, the framework (kern, vnet) nothing of the
//! network layers, and no code outside wire works out header lengths by
//! hand.

use std::path::Path;

/// Every .rs file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("a source directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("a source file");
                out.push((p.display().to_string(), text));
            }
        }
    }
    out
}

fn src(sub: &str) -> Vec<(String, String)> {
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(sub))
}

#[test]
fn lower_layers_do_not_name_upper_ones() {
    for (layer, forbidden) in [
        (
            "wire",
            &[
                "crate::kern",
                "crate::vnet",
                "crate::net::",
                "crate::netinet",
                "crate::socket",
            ][..],
        ),
        (
            "kern",
            &["crate::net::", "crate::netinet", "crate::socket", "crate::userland"][..],
        ),
        (
            "vnet",
            &["crate::net::", "crate::netinet", "crate::socket", "crate::userland"][..],
        ),
        ("net", &["crate::socket", "crate::userland"][..]),
        ("netinet", &["crate::socket", "crate::userland"][..]),
        ("netinet6", &["crate::socket", "crate::userland"][..]),
    ] {
        for (file, text) in src(layer) {
            for f in forbidden {
                assert!(!text.contains(f), "{file} names {f}");
            }
        }
    }
}

#[test]
fn the_link_layer_calls_ip_only_to_encapsulate() {
    // gif and gre send through IP, as FreeBSD's if_gif.c calls in_gif_output;
    // nothing else in net/ names netinet.
    for (file, text) in src("net") {
        if !file.ends_with("/if_tunnel.rs") {
            assert!(!text.contains("crate::netinet"), "{file} names netinet");
        }
    }
}

#[test]
fn header_lengths_are_read_only_in_wire() {
    // An IPv4 IHL or TCP data offset worked out by hand.
    let by_hand = ["& 0xf) as usize) * 4", "& 0xf) as usize * 4", ">> 4) as usize) * 4"];
    for (file, text) in src("") {
        if file.contains("/src/wire/") {
            continue;
        }
        for p in by_hand {
            assert!(!text.contains(p), "{file} reads a header length by hand ({p})");
        }
    }
}
